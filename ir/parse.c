/* parse.c — the text IR parser: a hand-written recursive-descent reader of the format that
 * print.c writes (grammar in docs/ir.md).
 *
 * Input: NUL-terminated text (or a file). Output: a new Graph whose dtypes and shapes come from
 * the text's annotations; nodes whose output types are omitted keep them DT_UNDEF, so callers run
 * ir_infer_shapes and then ir_verify. Errors are one line, "line L:C: expected X, got Y" or
 * "line L:C: <what is wrong>", and leave no graph behind.
 *
 * Robustness: the parser is fuzzed (tests/fuzz/fuzz_parse.c). Every read is bounds-checked
 * (peek() returns 0 at the end), the grammar has no recursion, element counts are checked
 * against shapes only after the elements are read (memory use is bounded by the input length),
 * and every number is range-checked for its destination type.
 *
 * Definitions: a value is defined by `input`, `const` or a node output, exactly once, and only
 * text after its definition may use it. A node's inputs are resolved before its outputs are
 * defined, so `%y = Relu(%y)` is an error (no cycles can be written).
 */
#include "ir.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NUM_TEXT_MAX 80 /* longest number literal accepted */

/* The memory plan of a value (Value.mem_*), "<ws+4096>" in the text. */
typedef struct Placement {
    MemKind kind;
    int index;
    int64_t offset;
} Placement;

typedef struct OutSpec {
    const char *name; /* NULL: absent output "_" */
    size_t pos;       /* where the name starts, for errors */
    DType dtype;      /* DT_UNDEF when no ": type" */
    int rank;
    int64_t dims[IR_MAX_RANK];
    Placement mem;
} OutSpec;

typedef struct Parser {
    const char *src;
    size_t len, pos;
    Graph *g;
    Diag *d;
    int failed;
    /* name -> value id: open addressing, slots hold id+1 (0 = empty) */
    int *slots;
    size_t n_slots, n_used;
    size_t *def_pos; /* per value id: where it was defined (for "first defined at line L") */
    size_t cap_def;
    /* scratch arrays reused by every node */
    OutSpec *outs;
    int cap_outs;
    int *ids;
    int cap_ids;
    /* scratch byte buffer for constant data and attribute lists */
    unsigned char *buf;
    size_t cap_buf;
} Parser;

/* ---------------------------------------------------------------- errors */

static void parse_linecol(const Parser *P, size_t pos, int *line, int *col)
{
    int l = 1;
    size_t start = 0;
    if (pos > P->len) pos = P->len;
    for (size_t i = 0; i < pos; i++)
        if (P->src[i] == '\n') l++, start = i + 1;
    *line = l;
    *col = (int)(pos - start) + 1;
}

static int parse_error_at(Parser *P, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int parse_error_at(Parser *P, size_t pos, const char *fmt, ...)
{
    if (P->failed) return -1;
    P->failed = 1;
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    parse_linecol(P, pos, &line, &col);
    return diag_error(P->d, "line %d:%d: %s", line, col, msg);
}

static int parse_is_bare_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

static int parse_is_ident_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* A short printable description of the text at pos, for "got ...". */
static void parse_describe(const Parser *P, size_t pos, char *out, size_t n)
{
    if (pos >= P->len) {
        snprintf(out, n, "end of input");
        return;
    }
    if (P->src[pos] == '\n' || P->src[pos] == '\r') {
        snprintf(out, n, "end of line");
        return;
    }
    size_t end = pos + 1;
    unsigned char c = (unsigned char)P->src[pos];
    if (c == '%' || c == '@' || parse_is_bare_char(c)) {
        while (end < P->len && end - pos < 24 && parse_is_bare_char((unsigned char)P->src[end])) end++;
    } else if (c == '"') {
        while (end < P->len && end - pos < 24 && P->src[end] != '"' && P->src[end] != '\n') end++;
        if (end < P->len && P->src[end] == '"') end++;
    }
    size_t k = 0;
    if (k + 1 < n) out[k++] = '\'';
    for (size_t i = pos; i < end && k + 6 < n; i++) {
        unsigned char ch = (unsigned char)P->src[i];
        if (ch < 0x20 || ch >= 0x7f)
            k += (size_t)snprintf(out + k, n - k, "\\x%02x", ch);
        else
            out[k++] = (char)ch;
    }
    if (k + 1 < n) out[k++] = '\'';
    out[k < n ? k : n - 1] = 0;
}

static int parse_expected(Parser *P, const char *what)
{
    char got[96];
    parse_describe(P, P->pos, got, sizeof got);
    return parse_error_at(P, P->pos, "expected %s, got %s", what, got);
}

/* ---------------------------------------------------------------- characters */

static int peek(const Parser *P) { return P->pos < P->len ? (unsigned char)P->src[P->pos] : 0; }
static int peek_at(const Parser *P, size_t k)
{
    return P->pos + k < P->len ? (unsigned char)P->src[P->pos + k] : 0;
}

/* Skip blanks, newlines and '#' comments. */
static void skip_ws(Parser *P)
{
    for (;;) {
        int c = peek(P);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            P->pos++;
        } else if (c == '#') {
            while (P->pos < P->len && P->src[P->pos] != '\n') P->pos++;
        } else {
            return;
        }
    }
}

/* Skip blanks; if the next character is c, consume it and return 1. */
static int accept(Parser *P, int c)
{
    skip_ws(P);
    if (peek(P) != c) return 0;
    P->pos++;
    return 1;
}

static int expect(Parser *P, int c)
{
    if (accept(P, c)) return 0;
    char what[8];
    snprintf(what, sizeof what, "'%c'", c);
    return parse_expected(P, what);
}

/* Length of the identifier [A-Za-z_][A-Za-z0-9_]* at the current position (after blanks). */
static size_t word_len(Parser *P)
{
    skip_ws(P);
    int c = peek(P);
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) return 0;
    size_t n = 1;
    while (parse_is_ident_char(peek_at(P, n))) n++;
    return n;
}

/* Is the identifier at the current position exactly kw? (does not consume) */
static int word_is(Parser *P, const char *kw)
{
    size_t n = word_len(P);
    return n && n == strlen(kw) && !memcmp(P->src + P->pos, kw, n);
}

/* ---------------------------------------------------------------- scratch buffers */

static void *buf_reserve(Parser *P, size_t n)
{
    if (n > P->cap_buf) {
        size_t c = P->cap_buf ? P->cap_buf : 256;
        while (c < n) c *= 2;
        P->buf = xrealloc(P->buf, c);
        P->cap_buf = c;
    }
    return P->buf;
}

static OutSpec *outs_reserve(Parser *P, int n)
{
    if (n > P->cap_outs) {
        int c = P->cap_outs ? P->cap_outs : 8;
        while (c < n) c *= 2;
        P->outs = xrealloc(P->outs, (size_t)c * sizeof(OutSpec));
        P->cap_outs = c;
    }
    return P->outs;
}

static int *ids_reserve(Parser *P, int n)
{
    if (n > P->cap_ids) {
        int c = P->cap_ids ? P->cap_ids : 8;
        while (c < n) c *= 2;
        P->ids = xrealloc(P->ids, (size_t)c * sizeof(int));
        P->cap_ids = c;
    }
    return P->ids;
}

/* ---------------------------------------------------------------- symbol table */

static uint32_t sym_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int sym_find(const Parser *P, const char *name)
{
    if (!P->n_slots) return -1;
    size_t mask = P->n_slots - 1;
    for (size_t i = sym_hash(name) & mask;; i = (i + 1) & mask) {
        int s = P->slots[i];
        if (!s) return -1;
        if (!strcmp(P->g->values[s - 1].name, name)) return s - 1;
    }
}

static void sym_insert_slot(int *slots, size_t n_slots, const char *name, int id)
{
    size_t mask = n_slots - 1;
    size_t i = sym_hash(name) & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = id + 1;
}

static void sym_insert(Parser *P, int id, size_t pos)
{
    if (2 * (P->n_used + 1) > P->n_slots) {
        size_t n = P->n_slots ? 2 * P->n_slots : 64;
        int *s = xcalloc(n, sizeof(int));
        for (size_t i = 0; i < P->n_slots; i++)
            if (P->slots[i]) sym_insert_slot(s, n, P->g->values[P->slots[i] - 1].name, P->slots[i] - 1);
        free(P->slots);
        P->slots = s;
        P->n_slots = n;
    }
    sym_insert_slot(P->slots, P->n_slots, P->g->values[id].name, id);
    P->n_used++;
    if ((size_t)id >= P->cap_def) {
        size_t c = P->cap_def ? P->cap_def : 64;
        while (c <= (size_t)id) c *= 2;
        P->def_pos = xrealloc(P->def_pos, c * sizeof(size_t));
        P->cap_def = c;
    }
    P->def_pos[id] = pos;
}

/* Error unless `name` is still free. */
static int sym_check_new(Parser *P, const char *name, size_t pos)
{
    if (!*name) return parse_error_at(P, pos, "empty value name");
    int id = sym_find(P, name);
    if (id < 0) return 0;
    int line, col;
    parse_linecol(P, P->def_pos[id], &line, &col);
    return parse_error_at(P, pos, "value '%%%s' is defined twice (first definition at line %d:%d)", name, line,
                          col);
}

/* ---------------------------------------------------------------- strings and names */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "..." with escapes \" \\ \n \t \r \xHH; result in the graph arena. */
static int parse_string(Parser *P, char **out)
{
    skip_ws(P);
    if (peek(P) != '"') return parse_expected(P, "a string");
    size_t start = P->pos++;
    /* first pass: find the end and check escapes; the decoded text is never longer */
    size_t n = 0;
    char *s = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t i = start + 1, k = 0;
        for (;;) {
            if (i >= P->len) return parse_error_at(P, start, "unterminated string");
            unsigned char c = (unsigned char)P->src[i];
            if (c == '"') break;
            if (c == '\n') return parse_error_at(P, start, "unterminated string (newline inside a string)");
            if (c == '\\') {
                int e = i + 1 < P->len ? (unsigned char)P->src[i + 1] : 0;
                int ch;
                size_t adv = 2;
                switch (e) {
                case '"': ch = '"'; break;
                case '\\': ch = '\\'; break;
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case 'x': {
                    int h1 = i + 2 < P->len ? hexval((unsigned char)P->src[i + 2]) : -1;
                    int h2 = i + 3 < P->len ? hexval((unsigned char)P->src[i + 3]) : -1;
                    if (h1 < 0 || h2 < 0) return parse_error_at(P, i, "bad escape: expected \\xHH with two hex digits");
                    ch = h1 * 16 + h2;
                    if (!ch) return parse_error_at(P, i, "NUL character (\\x00) in a string");
                    adv = 4;
                    break;
                }
                default: return parse_error_at(P, i, "unknown escape in string (use \\\" \\\\ \\n \\t \\r \\xHH)");
                }
                if (pass) s[k] = (char)ch;
                k++;
                i += adv;
            } else {
                if (pass) s[k] = (char)c;
                k++;
                i++;
            }
        }
        if (!pass) {
            n = k;
            s = arena_alloc(P->g->arena, n + 1);
        } else {
            s[k] = 0;
            P->pos = i + 1;
        }
    }
    *out = s;
    return 0;
}

/* A name after '%' or '@' (or the graph's): bare [A-Za-z0-9_.:/-]+ minus trailing ':', or quoted. */
static int parse_name(Parser *P, char **out, const char *what)
{
    if (peek(P) == '"') return parse_string(P, out);
    size_t n = 0;
    while (parse_is_bare_char(peek_at(P, n))) n++;
    while (n && P->src[P->pos + n - 1] == ':') n--; /* "%x: f32[2]": the colon is not the name's */
    if (!n) return parse_expected(P, what);
    char *s = arena_alloc(P->g->arena, n + 1);
    memcpy(s, P->src + P->pos, n);
    P->pos += n;
    *out = s;
    return 0;
}

/* '%' name; *pos receives where the '%' is. */
static int parse_value_name(Parser *P, char **out, size_t *pos)
{
    skip_ws(P);
    *pos = P->pos;
    if (peek(P) != '%') return parse_expected(P, "a value ('%name')");
    P->pos++;
    return parse_name(P, out, "a value name after '%'");
}

/* A value use: "%name" (must be defined) or "_" (absent, -1) when allow_absent. */
static int parse_value_use(Parser *P, int *id, int allow_absent)
{
    skip_ws(P);
    if (allow_absent && peek(P) == '_' && !parse_is_bare_char(peek_at(P, 1))) {
        P->pos++;
        *id = -1;
        return 0;
    }
    if (peek(P) != '%') return parse_expected(P, allow_absent ? "a value ('%name') or '_'" : "a value ('%name')");
    char *name;
    size_t pos;
    if (parse_value_name(P, &name, &pos)) return -1;
    *id = sym_find(P, name);
    if (*id < 0) return parse_error_at(P, pos, "use of undefined value '%%%s'", name);
    return 0;
}

/* ---------------------------------------------------------------- numbers */

typedef struct NumTok {
    size_t pos;
    int neg;
    int special;    /* 0 finite literal, 1 inf, 2 nan */
    int has_bits;   /* nan(0x...) */
    uint64_t bits;
    int is_float;   /* has '.', exponent or 'f' suffix (or is inf/nan) */
    int f_suffix;
    int int_ovf;    /* integer literal does not fit in 64 bits */
    uint64_t mag;   /* integer literal magnitude */
    char text[NUM_TEXT_MAX + 1]; /* the literal without the 'f' suffix, for strtod/strtof */
} NumTok;

static int digits_at(const Parser *P, size_t i)
{
    size_t n = 0;
    while (i + n < P->len && P->src[i + n] >= '0' && P->src[i + n] <= '9') n++;
    return (int)n;
}

/* [+-]? ( inf | nan [ "(0x" HEX+ ")" ] | DIGITS [ "." DIGITS* ] [ (e|E) [+-]? DIGITS ] [ "f" ] ) */
static int parse_number(Parser *P, NumTok *t, const char *what)
{
    skip_ws(P);
    memset(t, 0, sizeof *t);
    size_t i = P->pos;
    t->pos = i;
    if (i < P->len && (P->src[i] == '-' || P->src[i] == '+')) t->neg = P->src[i++] == '-';
    size_t body = i;
    if (P->len - i >= 3 && !memcmp(P->src + i, "inf", 3)) {
        t->special = 1, t->is_float = 1;
        i += 3;
    } else if (P->len - i >= 3 && !memcmp(P->src + i, "nan", 3)) {
        t->special = 2, t->is_float = 1;
        i += 3;
        if (i < P->len && P->src[i] == '(') {
            if (i + 2 >= P->len || P->src[i + 1] != '0' || P->src[i + 2] != 'x')
                return parse_error_at(P, i, "expected 'nan(0xHEX)' with the NaN's bit pattern");
            i += 3;
            int nd = 0;
            for (; i < P->len && hexval((unsigned char)P->src[i]) >= 0; i++, nd++) {
                if (nd >= 16) return parse_error_at(P, t->pos, "NaN bit pattern longer than 64 bits");
                t->bits = t->bits << 4 | (uint64_t)hexval((unsigned char)P->src[i]);
            }
            if (!nd || i >= P->len || P->src[i] != ')')
                return parse_error_at(P, i, "expected 'nan(0xHEX)' with the NaN's bit pattern");
            i++;
            t->has_bits = 1;
            if (t->neg || body != t->pos)
                return parse_error_at(P, t->pos, "a NaN bit pattern carries its own sign: write nan(0x...) without '+'/'-'");
        }
    } else {
        int nd = digits_at(P, i);
        if (!nd) return parse_expected(P, what);
        for (int k = 0; k < nd; k++) {
            unsigned dig = (unsigned)(P->src[i + k] - '0');
            if (t->mag > (UINT64_MAX - dig) / 10) t->int_ovf = 1;
            t->mag = t->mag * 10 + dig;
        }
        i += (size_t)nd;
        if (i < P->len && P->src[i] == '.') {
            t->is_float = 1;
            i++;
            i += (size_t)digits_at(P, i);
        }
        if (i < P->len && (P->src[i] == 'e' || P->src[i] == 'E')) {
            size_t j = i + 1;
            if (j < P->len && (P->src[j] == '+' || P->src[j] == '-')) j++;
            int ne = digits_at(P, j);
            if (!ne) return parse_error_at(P, i, "malformed number: exponent without digits");
            t->is_float = 1;
            i = j + (size_t)ne;
        }
    }
    size_t end = i;
    if (!t->special && i < P->len && P->src[i] == 'f') {
        t->f_suffix = 1, t->is_float = 1;
        i++;
    }
    if (i < P->len && parse_is_ident_char((unsigned char)P->src[i]))
        return parse_error_at(P, t->pos, "malformed number");
    if (end - t->pos > NUM_TEXT_MAX) return parse_error_at(P, t->pos, "number literal too long");
    memcpy(t->text, P->src + t->pos, end - t->pos);
    t->text[end - t->pos] = 0;
    P->pos = i;
    return 0;
}

/* Is the text at the current position the start of a number? */
static int at_number(Parser *P)
{
    skip_ws(P);
    int c = peek(P), i = 0;
    if (c == '-' || c == '+') c = peek_at(P, ++i);
    if (c >= '0' && c <= '9') return 1;
    size_t rest = P->len - P->pos - (size_t)i;
    return rest >= 3 && (!memcmp(P->src + P->pos + i, "inf", 3) || !memcmp(P->src + P->pos + i, "nan", 3)) &&
           !parse_is_ident_char(peek_at(P, (size_t)i + 3));
}

static int num_to_f64(Parser *P, const NumTok *t, double *out)
{
    if (t->special == 1) {
        *out = t->neg ? -INFINITY : INFINITY;
    } else if (t->special == 2) {
        uint64_t b = t->has_bits ? t->bits : (0x7ff8000000000000ull | (t->neg ? 0x8000000000000000ull : 0));
        if ((b & 0x7ff0000000000000ull) != 0x7ff0000000000000ull || !(b & 0x000fffffffffffffull))
            return parse_error_at(P, t->pos, "nan(0x%" PRIx64 ") is not a NaN bit pattern of f64", b);
        memcpy(out, &b, 8);
    } else if (t->f_suffix) {
        float f = strtof(t->text, NULL);
        if (isinf(f)) return parse_error_at(P, t->pos, "number %sf is out of range for f32", t->text);
        *out = (double)f;
    } else {
        *out = strtod(t->text, NULL);
        if (isinf(*out)) return parse_error_at(P, t->pos, "number %s is out of range for f64", t->text);
    }
    return 0;
}

static int num_to_f32(Parser *P, const NumTok *t, float *out)
{
    if (t->special == 1) {
        *out = t->neg ? -INFINITY : INFINITY;
    } else if (t->special == 2) {
        uint64_t b = t->has_bits ? t->bits : (0x7fc00000u | (t->neg ? 0x80000000u : 0));
        if (b > 0xffffffffu || (b & 0x7f800000u) != 0x7f800000u || !(b & 0x007fffffu))
            return parse_error_at(P, t->pos, "nan(0x%" PRIx64 ") is not a NaN bit pattern of f32", b);
        uint32_t b32 = (uint32_t)b;
        memcpy(out, &b32, 4);
    } else {
        if (t->f_suffix) return parse_error_at(P, t->pos, "the 'f' suffix is only for float attributes");
        *out = strtof(t->text, NULL);
        if (isinf(*out)) return parse_error_at(P, t->pos, "number %s is out of range for f32", t->text);
    }
    return 0;
}

/* An integer literal as int64 (for attributes and dims). */
static int num_to_i64(Parser *P, const NumTok *t, int64_t *out)
{
    if (t->is_float) return parse_error_at(P, t->pos, "expected an integer, got '%s%s'", t->text, t->f_suffix ? "f" : "");
    if (t->int_ovf || t->mag > (uint64_t)INT64_MAX + (t->neg ? 1u : 0u))
        return parse_error_at(P, t->pos, "integer %s does not fit in 64 bits", t->text);
    *out = t->neg ? (int64_t)(0 - t->mag) : (int64_t)t->mag;
    return 0;
}

/* Store element `i` of typed data from a number token, range-checked for the dtype. */
static int num_store(Parser *P, const NumTok *t, DType dt, void *data, int64_t i)
{
    switch (dt) {
    case DT_F32: return num_to_f32(P, t, &((float *)data)[i]);
    case DT_F64:
        if (t->f_suffix) return parse_error_at(P, t->pos, "the 'f' suffix is only for float attributes");
        return num_to_f64(P, t, &((double *)data)[i]);
    case DT_BOOL:
        if (t->is_float || t->neg || t->mag > 1) return parse_error_at(P, t->pos, "expected true, false, 0 or 1 for bool");
        ((uint8_t *)data)[i] = (uint8_t)t->mag;
        return 0;
    case DT_U64:
        if (t->is_float) return parse_error_at(P, t->pos, "expected an integer for u64, got '%s'", t->text);
        if (t->int_ovf || (t->neg && t->mag)) return parse_error_at(P, t->pos, "%s is out of range for u64", t->text);
        ((uint64_t *)data)[i] = t->mag;
        return 0;
    default: break;
    }
    int64_t lo, hi;
    switch (dt) {
    case DT_U8: lo = 0, hi = UINT8_MAX; break;
    case DT_I8: lo = INT8_MIN, hi = INT8_MAX; break;
    case DT_U16: lo = 0, hi = UINT16_MAX; break;
    case DT_I16: lo = INT16_MIN, hi = INT16_MAX; break;
    case DT_I32: lo = INT32_MIN, hi = INT32_MAX; break;
    case DT_U32: lo = 0, hi = UINT32_MAX; break;
    case DT_I64: lo = INT64_MIN, hi = INT64_MAX; break;
    default: return parse_error_at(P, t->pos, "constant of type %s cannot hold data", dtype_name(dt));
    }
    if (t->is_float) return parse_error_at(P, t->pos, "expected an integer for %s, got '%s'", dtype_name(dt), t->text);
    int64_t v;
    if (t->int_ovf || t->mag > (uint64_t)INT64_MAX + (t->neg ? 1u : 0u) || num_to_i64(P, t, &v) || v < lo || v > hi)
        return parse_error_at(P, t->pos, "%s is out of range for %s", t->text, dtype_name(dt));
    elem_set_i64(dt, data, i, v);
    return 0;
}

/* ---------------------------------------------------------------- types and data */

/* dtype "[" [ dim { "," dim } ] "]" with dims >= 0 and a numel whose byte size fits in int64. */
static int parse_type(Parser *P, DType *dt, int *rank, int64_t *dims)
{
    size_t n = word_len(P);
    size_t pos = P->pos;
    if (!n) return parse_expected(P, "a type such as f32[1,3]");
    char name[16];
    if (n >= sizeof name) return parse_error_at(P, pos, "unknown dtype '%.*s'", (int)(n > 40 ? 40 : n), P->src + pos);
    memcpy(name, P->src + pos, n);
    name[n] = 0;
    *dt = dtype_from_name(name);
    if (*dt == DT_UNDEF) return parse_error_at(P, pos, "unknown dtype '%s' (f32, f64, i8..i64, u8..u64, bool)", name);
    P->pos += n;
    if (peek(P) != '[') return parse_expected(P, "'[' after the dtype (a shape such as f32[1,3]; f32[] is a scalar)");
    P->pos++;
    *rank = 0;
    if (accept(P, ']')) return 0;
    int64_t numel = 1;
    for (;;) {
        NumTok t;
        if (parse_number(P, &t, "a dimension")) return -1;
        if (t.is_float || t.neg) return parse_error_at(P, t.pos, "dimension must be a non-negative integer, got '%s'", t.text);
        if (*rank == IR_MAX_RANK) return parse_error_at(P, t.pos, "rank exceeds IR_MAX_RANK (%d)", IR_MAX_RANK);
        if (t.int_ovf || t.mag > (uint64_t)INT64_MAX) return parse_error_at(P, t.pos, "dimension %s is too large", t.text);
        int64_t dim = (int64_t)t.mag;
        if (dim && numel > (INT64_MAX / 8) / dim)
            return parse_error_at(P, t.pos, "shape has too many elements (overflow)");
        numel *= dim;
        dims[(*rank)++] = dim;
        if (accept(P, ']')) return 0;
        if (!accept(P, ',')) return parse_expected(P, "',' or ']' in the shape");
    }
}

/* "[" elem { "," elem } "]" of exactly `numel` elements of dtype dt, into P->buf. */
static int parse_data(Parser *P, DType dt, int64_t numel, const char *whose)
{
    skip_ws(P);
    if (peek(P) == '<')
        return parse_error_at(P, P->pos, "elided constant data cannot be parsed; use --emit=ir for a full dump");
    size_t lb = P->pos;
    if (expect(P, '[')) return -1;
    size_t esz = dtype_size(dt);
    int64_t count = 0;
    if (!accept(P, ']')) {
        for (;;) {
            skip_ws(P);
            if (count == numel)
                return parse_error_at(P, P->pos, "too many elements in %s: its shape has %" PRId64, whose, numel);
            void *data = buf_reserve(P, (size_t)(count + 1) * esz);
            if (dt == DT_BOOL && (word_is(P, "true") || word_is(P, "false"))) {
                ((uint8_t *)data)[count] = peek(P) == 't';
                P->pos += peek(P) == 't' ? 4 : 5;
            } else {
                NumTok t;
                if (parse_number(P, &t, dt == DT_BOOL ? "true or false" : "a number")) return -1;
                if (num_store(P, &t, dt, data, count)) return -1;
            }
            count++;
            if (accept(P, ']')) break;
            if (!accept(P, ',')) return parse_expected(P, "',' or ']' in the list");
        }
    }
    if (count != numel)
        return parse_error_at(P, lb, "%s has %" PRId64 " elements, its shape needs %" PRId64, whose, count, numel);
    buf_reserve(P, 1);
    return 0;
}

/* [ "<" kind [ index ] "+" offset ">" ] with kind none|ws|in|out|const; absent: no plan. */
static int parse_placement(Parser *P, Placement *m)
{
    static const char *const kinds[] = {"none", "ws", "in", "out", "const"};
    memset(m, 0, sizeof *m);
    if (!accept(P, '<')) return 0;
    size_t pos = P->pos, n = 0;
    while (n < 8 && peek_at(P, n) >= 'a' && peek_at(P, n) <= 'z') n++;
    int k = 0;
    while (k <= MEM_CONST && !(strlen(kinds[k]) == n && !memcmp(P->src + pos, kinds[k], n))) k++;
    if (k > MEM_CONST) return parse_expected(P, "a memory placement (<ws+OFFSET>, <inN+OFFSET>, <outN+OFFSET>, <const+OFFSET>)");
    P->pos += n;
    m->kind = (MemKind)k;
    NumTok t;
    if (peek(P) >= '0' && peek(P) <= '9') {
        if (parse_number(P, &t, "a buffer index")) return -1;
        if (t.is_float || t.int_ovf || t.mag > INT_MAX) return parse_error_at(P, t.pos, "bad buffer index '%s'", t.text);
        m->index = (int)t.mag;
    }
    if (peek(P) != '+') return parse_expected(P, "'+' and a byte offset in the memory placement");
    P->pos++;
    if (parse_number(P, &t, "a byte offset")) return -1;
    if (t.is_float || t.neg || t.int_ovf || t.mag > (uint64_t)INT64_MAX)
        return parse_error_at(P, t.pos, "bad byte offset '%s'", t.text);
    m->offset = (int64_t)t.mag;
    return expect(P, '>');
}

static void parse_place(Graph *g, int vid, const Placement *m)
{
    g->values[vid].mem_kind = m->kind;
    g->values[vid].mem_index = m->index;
    g->values[vid].mem_offset = m->offset;
}

/* ---------------------------------------------------------------- attributes */

static int parse_attr_name(Parser *P, char **out)
{
    skip_ws(P);
    if (peek(P) == '"') return parse_string(P, out);
    size_t n = word_len(P);
    if (!n) return parse_expected(P, "an attribute name");
    char *s = arena_alloc(P->g->arena, n + 1);
    memcpy(s, P->src + P->pos, n);
    P->pos += n;
    *out = s;
    return 0;
}

/* [ "ints" | "floats" ] "[" [ num { "," num } ] "]": floats if forced or any element is a float. */
static int parse_attr_list(Parser *P, int node, const char *name, int force)
{
    /* force: 0 infer, 1 ints, 2 floats */
    if (expect(P, '[')) return -1;
    int n = 0, any_float = 0;
    size_t first_int_bad = SIZE_MAX;
    /* elements go to P->buf as pairs (int64, double) */
    size_t pair = sizeof(int64_t) + sizeof(double);
    if (!accept(P, ']')) {
        for (;;) {
            if (n == INT_MAX / 2) return parse_error_at(P, P->pos, "attribute list too long");
            NumTok t;
            if (parse_number(P, &t, "a number")) return -1;
            unsigned char *b = (unsigned char *)buf_reserve(P, (size_t)(n + 1) * pair) + (size_t)n * pair;
            int64_t iv = 0;
            double dv;
            if (t.is_float) {
                any_float = 1;
                if (force == 1) return parse_error_at(P, t.pos, "expected an integer in ints list, got '%s'", t.text);
            } else if (t.int_ovf || t.mag > (uint64_t)INT64_MAX + (t.neg ? 1u : 0u)) {
                if (first_int_bad == SIZE_MAX) first_int_bad = t.pos;
            } else {
                iv = t.neg ? (int64_t)(0 - t.mag) : (int64_t)t.mag;
            }
            if (num_to_f64(P, &t, &dv)) return -1;
            memcpy(b, &iv, sizeof iv);
            memcpy(b + sizeof iv, &dv, sizeof dv);
            n++;
            if (accept(P, ']')) break;
            if (!accept(P, ',')) return parse_expected(P, "',' or ']' in the list");
        }
    }
    int floats = force == 2 || (force == 0 && any_float);
    if (floats) {
        double *v = xmalloc((size_t)n * sizeof(double) + 1);
        for (int k = 0; k < n; k++) memcpy(&v[k], P->buf + (size_t)k * pair + sizeof(int64_t), sizeof(double));
        ir_node_set_floats(P->g, node, name, v, n);
        free(v);
    } else {
        if (first_int_bad != SIZE_MAX) return parse_error_at(P, first_int_bad, "integer does not fit in 64 bits");
        int64_t *v = xmalloc((size_t)n * sizeof(int64_t) + 1);
        for (int k = 0; k < n; k++) memcpy(&v[k], P->buf + (size_t)k * pair, sizeof(int64_t));
        ir_node_set_ints(P->g, node, name, v, n);
        free(v);
    }
    return 0;
}

/* attr-value = INT | FLOAT | STRING | list | tensor (dtype[dims] data) */
static int parse_attr_value(Parser *P, int node, const char *name)
{
    skip_ws(P);
    int c = peek(P);
    if (c == '"') {
        char *s;
        if (parse_string(P, &s)) return -1;
        ir_node_set_str(P->g, node, name, s);
        return 0;
    }
    if (c == '[') return parse_attr_list(P, node, name, 0);
    if (word_is(P, "ints") || word_is(P, "floats")) {
        int force = peek(P) == 'i' ? 1 : 2;
        P->pos += force == 1 ? 4 : 6;
        return parse_attr_list(P, node, name, force);
    }
    if (at_number(P)) {
        NumTok t;
        if (parse_number(P, &t, "a number")) return -1;
        if (t.is_float) {
            double v;
            if (num_to_f64(P, &t, &v)) return -1;
            ir_node_set_float(P->g, node, name, v);
        } else {
            int64_t v;
            if (num_to_i64(P, &t, &v)) return -1;
            ir_node_set_int(P->g, node, name, v);
        }
        return 0;
    }
    size_t n = word_len(P);
    char word[16] = "";
    if (n && n < sizeof word) memcpy(word, P->src + P->pos, n);
    if (n && n < sizeof word && dtype_from_name(word) != DT_UNDEF) {
        /* a tensor: dtype[dims] [data] */
        Tensor t;
        memset(&t, 0, sizeof t);
        if (parse_type(P, &t.dtype, &t.rank, t.dims)) return -1;
        if (parse_data(P, t.dtype, shape_numel(t.rank, t.dims), "tensor attribute")) return -1;
        t.data = P->buf;
        ir_node_set_tensor(P->g, node, name, &t);
        return 0;
    }
    return parse_expected(P, "an attribute value (integer, float, \"string\", [list] or tensor such as f32[1] [0.0])");
}

/* "{" [ attr { "," attr } ] "}" */
static int parse_attrs(Parser *P, int node)
{
    if (accept(P, '}')) return 0;
    for (;;) {
        skip_ws(P);
        size_t pos = P->pos;
        char *name;
        if (parse_attr_name(P, &name)) return -1;
        if (ir_attr_find(&P->g->nodes[node], name)) return parse_error_at(P, pos, "duplicate attribute '%s'", name);
        if (expect(P, '=')) return -1;
        if (parse_attr_value(P, node, name)) return -1;
        if (accept(P, '}')) return 0;
        if (!accept(P, ',')) return parse_expected(P, "',' or '}' after an attribute");
    }
}

/* ---------------------------------------------------------------- statements */

/* "input" %name [ ":" type ] */
static int parse_input(Parser *P)
{
    char *name;
    size_t pos;
    if (parse_value_name(P, &name, &pos) || sym_check_new(P, name, pos)) return -1;
    DType dt = DT_UNDEF;
    int rank = 0;
    int64_t dims[IR_MAX_RANK] = {0};
    Placement m;
    if ((accept(P, ':') && parse_type(P, &dt, &rank, dims)) || parse_placement(P, &m)) return -1;
    int id = ir_value_add(P->g, name, dt, rank, dims);
    sym_insert(P, id, pos);
    ir_graph_add_input(P->g, id);
    parse_place(P->g, id, &m);
    return 0;
}

/* "const" %name ":" type "=" data */
static int parse_const(Parser *P)
{
    char *name;
    size_t pos;
    if (parse_value_name(P, &name, &pos) || sym_check_new(P, name, pos)) return -1;
    DType dt;
    int rank;
    int64_t dims[IR_MAX_RANK] = {0};
    Placement m;
    if (expect(P, ':') || parse_type(P, &dt, &rank, dims) || parse_placement(P, &m) || expect(P, '=')) return -1;
    char whose[64];
    snprintf(whose, sizeof whose, "constant '%%%.40s'", name);
    if (parse_data(P, dt, shape_numel(rank, dims), whose)) return -1;
    int id = ir_const_add(P->g, name, dt, rank, dims, P->buf);
    sym_insert(P, id, pos);
    parse_place(P->g, id, &m);
    return 0;
}

/* "output" %name */
static int parse_output(Parser *P)
{
    int id;
    if (parse_value_use(P, &id, 0)) return -1;
    ir_graph_add_output(P->g, id);
    return 0;
}

/* [ out { "," out } "=" ] Op "(" [ arg { "," arg } ] ")" [ "{" attrs "}" ] [ "@" name ] */
static int parse_node(Parser *P, int has_outs)
{
    int n_out = 0;
    if (has_outs) {
        for (;;) {
            if (n_out == INT_MAX / 2) return parse_error_at(P, P->pos, "too many outputs");
            OutSpec *o = &outs_reserve(P, n_out + 1)[n_out];
            memset(o, 0, sizeof *o);
            skip_ws(P);
            o->pos = P->pos;
            if (peek(P) == '_' && !parse_is_bare_char(peek_at(P, 1))) {
                P->pos++;
            } else {
                char *name;
                if (parse_value_name(P, &name, &o->pos) || sym_check_new(P, name, o->pos)) return -1;
                o->name = name;
                for (int k = 0; k < n_out; k++)
                    if (P->outs[k].name && !strcmp(P->outs[k].name, name))
                        return parse_error_at(P, o->pos, "value '%%%s' is defined twice by one node", name);
                if (accept(P, ':') && parse_type(P, &o->dtype, &o->rank, o->dims)) return -1;
                if (parse_placement(P, &o->mem)) return -1;
            }
            n_out++;
            if (accept(P, '=')) break;
            if (!accept(P, ',')) return parse_expected(P, "',' or '=' after a node output");
        }
    }
    size_t n = word_len(P);
    size_t op_pos = P->pos;
    if (!n) return parse_expected(P, "an op name");
    char opname[64];
    if (n >= sizeof opname) return parse_error_at(P, op_pos, "unknown op '%.40s...'", P->src + op_pos);
    memcpy(opname, P->src + op_pos, n);
    opname[n] = 0;
    int op = ir_op_from_name(opname);
    if (op < 0) return parse_error_at(P, op_pos, "unknown op '%s'", opname);
    P->pos += n;

    /* inputs, resolved before the outputs exist */
    if (expect(P, '(')) return -1;
    int n_in = 0;
    if (!accept(P, ')')) {
        for (;;) {
            if (n_in == INT_MAX / 2) return parse_error_at(P, P->pos, "too many inputs");
            int id;
            if (parse_value_use(P, &id, 1)) return -1;
            ids_reserve(P, n_in + 1)[n_in] = id;
            n_in++;
            if (accept(P, ')')) break;
            if (!accept(P, ',')) return parse_expected(P, "',' or ')' in the input list");
        }
    }
    int *in = xmalloc((size_t)n_in * sizeof(int) + 1);
    if (n_in) memcpy(in, P->ids, (size_t)n_in * sizeof(int));
    int *out = ids_reserve(P, n_out + 1);
    for (int k = 0; k < n_out; k++) {
        const OutSpec *o = &P->outs[k];
        if (!o->name) {
            out[k] = -1;
            continue;
        }
        out[k] = ir_value_add(P->g, o->name, o->dtype, o->rank, o->dims);
        sym_insert(P, out[k], o->pos);
        parse_place(P->g, out[k], &o->mem);
    }
    int node = ir_node_add(P->g, (OpKind)op, "", n_in, in, n_out, out);
    free(in);

    if (accept(P, '{') && parse_attrs(P, node)) return -1;
    if (accept(P, '@')) {
        char *name;
        if (parse_name(P, &name, "a node name after '@'")) return -1;
        P->g->nodes[node].name = name;
    }
    return 0;
}

static int parse_statement(Parser *P)
{
    skip_ws(P);
    int c = peek(P);
    if (word_is(P, "input")) {
        P->pos += 5;
        return parse_input(P);
    }
    if (word_is(P, "const")) {
        P->pos += 5;
        return parse_const(P);
    }
    if (word_is(P, "output")) {
        P->pos += 6;
        return parse_output(P);
    }
    if (c == '%' || (c == '_' && !parse_is_bare_char(peek_at(P, 1)))) return parse_node(P, 1);
    if (word_len(P)) return parse_node(P, 0);
    return parse_expected(P, "a statement (input, const, output, a node) or '}'");
}

/* file = "graph" name [ "workspace" "=" integer ] "{" { statement } "}" */
static int parse_graph(Parser *P)
{
    if (!word_is(P, "graph")) return parse_expected(P, "'graph'");
    P->pos += 5;
    char *name;
    skip_ws(P);
    if (parse_name(P, &name, "a graph name")) return -1;
    P->g->name = name;
    if (word_is(P, "workspace")) { /* memory plan: workspace bytes */
        P->pos += 9;
        NumTok t;
        if (expect(P, '=') || parse_number(P, &t, "the workspace size in bytes")) return -1;
        if (t.is_float || t.neg || t.int_ovf || t.mag > (uint64_t)INT64_MAX)
            return parse_error_at(P, t.pos, "bad workspace size '%s'", t.text);
        P->g->workspace_size = (int64_t)t.mag;
    }
    if (expect(P, '{')) return -1;
    while (!accept(P, '}'))
        if (parse_statement(P)) return -1;
    skip_ws(P);
    if (P->pos < P->len) return parse_expected(P, "end of input after the graph's '}'");
    return 0;
}

Graph *ir_parse(const char *text, Diag *d)
{
    Parser P;
    memset(&P, 0, sizeof P);
    P.src = text ? text : "";
    P.len = strlen(P.src);
    P.d = d;
    P.g = ir_graph_new("main");
    int rc = parse_graph(&P);
    free(P.slots);
    free(P.def_pos);
    free(P.outs);
    free(P.ids);
    free(P.buf);
    if (rc) {
        ir_graph_free(P.g);
        return NULL;
    }
    return P.g;
}

Graph *ir_parse_file(const char *path, Diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return diag_error(d, "cannot open '%s': %s", path, strerror(errno)), NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        if (!got) break;
        len += got;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return diag_error(d, "cannot read '%s'", path), NULL;
    }
    buf[len] = 0;
    if (strlen(buf) != len) {
        free(buf);
        return diag_error(d, "'%s' contains a NUL byte (not a text IR file?)", path), NULL;
    }
    Graph *g = ir_parse(buf, d);
    free(buf);
    return g;
}
