/* print.c — the text IR printer (grammar and examples in docs/ir.md).
 *
 * Input: a Graph. Output: its text form on a FILE, in this order: the graph header, graph
 * inputs (in g->inputs order), the constants that something uses (in value-id order), the nodes
 * (in g->nodes order), the graph outputs (in g->outputs order), the closing brace.
 *
 * Invariant (tested in tests/unit/test_text.c): for a well-formed graph, parsing the text
 * (parse.c) gives a graph that prints to the same bytes, with bit-exact constant data and
 * attributes. That is why numbers print in their shortest round-trip form, NaNs with a payload
 * print their raw bits, and float attributes always carry a '.', an exponent, "inf" or "nan".
 * With IR_PRINT_ELIDE, constants (and tensor attributes) with more than 16 elements print as a
 * one-line summary; such text is for humans only and the parser rejects it.
 */
#include "ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRINT_ELIDE_MIN 16 /* more elements than this are elided under IR_PRINT_ELIDE */
#define PRINT_PER_LINE 16  /* integers per line when constant data wraps (floats: half) */

/* ---------------------------------------------------------------- names and strings */

static int print_is_bare_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

/* A name prints bare when it is non-empty, made of [A-Za-z0-9_.:/-] and does not end in ':'
 * (the parser gives trailing colons back: "%x: f32[2]"). */
static int print_is_bare_name(const char *s)
{
    if (!s || !*s) return 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!print_is_bare_char((unsigned char)s[i])) return 0;
    return s[n - 1] != ':';
}

/* "..." with \" \\ \n \t \r and \xHH for other control bytes; bytes >= 0x80 stay raw (UTF-8). */
static void print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void print_name(FILE *f, const char *s)
{
    if (print_is_bare_name(s))
        fputs(s, f);
    else
        print_quoted(f, s);
}

/* Attribute names are usually identifiers: bare when [A-Za-z_][A-Za-z0-9_]*, quoted otherwise. */
static void print_attr_name(FILE *f, const char *s)
{
    int ok = s && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_');
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (ok)
        fputs(s, f);
    else
        print_quoted(f, s);
}

static void print_value_ref(FILE *f, const Graph *g, int vid)
{
    if (vid < 0) {
        fputc('_', f);
        return;
    }
    fputc('%', f);
    if (vid >= g->n_values) {
        fprintf(f, "\"<bad value id %d>\"", vid);
        return;
    }
    print_name(f, g->values[vid].name);
}

/* ---------------------------------------------------------------- numbers */

/* %g switches to an exponent as soon as the precision is shorter than the integer part
 * ("1e+01" for 10); below 1e16 spell such numbers out instead. More digits than the shortest
 * still read back to the same value, so this keeps the round trip. */
static void print_prefer_fixed(double x, char *buf, size_t n)
{
    const char *e = strchr(buf, 'e');
    if (!e) return;
    int exp10 = atoi(e + 1);
    if (exp10 >= 0 && exp10 < 16) snprintf(buf, n, "%.*g", exp10 + 1, x);
}

/* Make sure a finite float's text cannot be read as an integer: "1" -> "1.0", "-0" -> "-0.0". */
static void print_mark_float(char *buf, size_t n)
{
    if (strpbrk(buf, ".eEn")) return;
    size_t len = strlen(buf);
    if (len + 3 <= n) memcpy(buf + len, ".0", 3);
}

/* ---- fast exact f32 formatting
 * snprintf("%.9g") costs ~0.4 us, so printing the 11M weights of a ResNet-18 the slow way takes
 * half a minute. For the floats that matter (normal, not huge) the digits are computed exactly
 * with 128-bit integers instead: x = M * 2^E, and x * 10^s = num / den with
 *   num = M * 2^max(E,0) * 10^max(s,0),  den = 2^max(-E,0) * 10^max(-s,0),
 * rounded half-to-even like glibc's printf. A p-digit candidate D reads back (strtof rounds to
 * nearest, ties to even) to x iff |D*den - num| is below half the gap to the neighbouring float,
 * which in the same units is A/2 with A = num / M (A/4 below a power of two). The text produced
 * is byte-identical to the snprintf path (tests/unit/test_text.c compares them); out-of-range
 * values (denormals, |x| >= 2^102, ...) take the snprintf path. */
__extension__ typedef unsigned __int128 u128;

/* 10^k for 0 <= k <= 38 (no mutable tables: the printer may run on several threads). */
static u128 print_pow10(int k)
{
    static const uint64_t t[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
                                   10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
                                   100000000000ull, 1000000000000ull, 10000000000000ull,
                                   100000000000000ull, 1000000000000000ull, 10000000000000000ull,
                                   100000000000000000ull, 1000000000000000000ull,
                                   10000000000000000000ull};
    return k < 20 ? (u128)t[k] : (u128)t[19] * t[k - 19];
}

/* Correctly rounded p significant digits of x = M * 2^E: *D (10^(p-1) <= D < 10^p) and decimal
 * exponent *X (x ~ D * 10^(X-p+1)); *rt = whether that decimal reads back to x.
 * Returns 0 when x is outside the 128-bit range (caller falls back to snprintf). */
static int print_f32_digits(uint32_t M, int E, int p, int xest, uint64_t *D, int *X, int *rt)
{
    for (int tries = 0; tries < 4; tries++) {
        int s = p - 1 - xest;
        int e2p = E > 0 ? E : 0, e2n = E < 0 ? -E : 0, s10p = s > 0 ? s : 0, s10n = s < 0 ? -s : 0;
        if (s10p > 38 || s10n > 38) return 0;
        /* bit length of 10^k is floor(k * log2(10)) + 1 */
        if (24 + e2p + (s10p * 217706 >> 16) + 1 > 126 || e2n + (s10n * 217706 >> 16) + 1 > 124) return 0;
        u128 A = print_pow10(s10p) << e2p;
        u128 num = (u128)M * A, den = print_pow10(s10n) << e2n;
        /* |x| < 10^p (the common case) needs no 10^k divisor: den is a power of two */
        u128 q = s10n ? num / den : num >> e2n, r = s10n ? num % den : num & (den - 1);
        if (q >= print_pow10(p)) { /* estimate too low */
            xest++;
            continue;
        }
        if (2 * r > den || (2 * r == den && (q & 1))) q++;
        if (q < print_pow10(p - 1)) { /* estimate too high */
            xest--;
            continue;
        }
        /* does q * 10^-s read back to x? */
        u128 qd = s10n ? q * den : q << e2n;
        int below = qd < num;
        u128 diff = below ? num - qd : qd - num;
        int k = (below && M == 0x800000u && E > -149) ? 4 : 2; /* half gap below a power of two */
        *rt = k * diff < A || (k * diff == A && !(M & 1));
        if (q == print_pow10(p)) { /* rounding carried into a new digit */
            q = print_pow10(p - 1);
            xest++;
        }
        *D = (uint64_t)q;
        *X = xest;
        return 1;
    }
    return 0;
}

/* Format p digits D with decimal exponent X the way "%.{p}g" does. */
static void print_g_style(int neg, uint64_t D, int p, int X, char *buf, size_t n)
{
    char ds[24];
    for (int i = p - 1; i >= 0; i--, D /= 10) ds[i] = (char)('0' + D % 10);
    int nd = p;
    while (nd > 1 && ds[nd - 1] == '0') nd--;
    size_t k = 0;
    char out[64];
    if (neg) out[k++] = '-';
    if (X < -4 || X >= p) {
        out[k++] = ds[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++) out[k++] = ds[i];
        }
        int ax = X < 0 ? -X : X;
        out[k++] = 'e';
        out[k++] = X < 0 ? '-' : '+';
        if (ax >= 100) out[k++] = (char)('0' + ax / 100);
        out[k++] = (char)('0' + ax / 10 % 10);
        out[k++] = (char)('0' + ax % 10);
    } else if (X >= 0) {
        for (int i = 0; i <= X; i++) out[k++] = i < nd ? ds[i] : '0';
        if (nd > X + 1) {
            out[k++] = '.';
            for (int i = X + 1; i < nd; i++) out[k++] = ds[i];
        }
    } else {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -X - 1; i++) out[k++] = '0';
        for (int i = 0; i < nd; i++) out[k++] = ds[i];
    }
    out[k] = 0;
    if (k < n) memcpy(buf, out, k + 1);
}

/* The fast path of print_shortest_f32; 0 if x is out of its range. */
static int print_shortest_f32_fast(float x, char *buf, size_t n)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    int neg = b >> 31, ef = (int)(b >> 23 & 0xff);
    if (ef == 0 || ef == 0xff) return 0; /* zero, denormal, inf, nan */
    uint32_t M = (b & 0x7fffffu) | 0x800000u;
    int E = ef - 150;
    int xest = (int)floor(log10(fabs((double)x))); /* may be off by one; corrected below */
    uint64_t D = 0, best_D = 0;
    int X = 0, rt = 0, best_p = 0, best_X = 0;
    for (int p = 9; p >= 1; p--) {
        if (!print_f32_digits(M, E, p, xest, &D, &X, &rt)) return 0;
        if (!rt) break;
        best_D = D, best_p = p, best_X = X;
    }
    if (!best_p) return 0; /* 9 digits always read back; be safe */
    if (best_X >= best_p && best_X < 16) { /* print_prefer_fixed: spell out below 1e16 */
        if (!print_f32_digits(M, E, best_X + 1, best_X, &D, &X, &rt)) return 0;
        best_D = D, best_p = best_X + 1, best_X = X;
    }
    print_g_style(neg, best_D, best_p, best_X, buf, n);
    return 1;
}

/* Shortest "%.Pg" that reads back (strtof) to the same float. Round-tripping is monotone in P
 * (the P+1 digit grid contains the P digit grid), so search down from 9, the sure precision,
 * and stop at the first failure. Most floats take the exact integer fast path above. */
static void print_shortest_f32(float x, char *buf, size_t n)
{
    if (print_shortest_f32_fast(x, buf, n)) return;
    char tmp[48];
    snprintf(buf, n, "%.9g", (double)x);
    for (int p = 8; p >= 1; p--) {
        snprintf(tmp, sizeof tmp, "%.*g", p, (double)x);
        if (strtof(tmp, NULL) != x) break;
        snprintf(buf, n, "%s", tmp);
    }
    print_prefer_fixed((double)x, buf, n);
}

static int print_shortest_f64(double x, char *buf, size_t n)
{
    char tmp[48];
    int best = 17;
    snprintf(buf, n, "%.17g", x);
    for (int p = 16; p >= 1; p--) {
        snprintf(tmp, sizeof tmp, "%.*g", p, x);
        if (strtod(tmp, NULL) != x) break;
        snprintf(buf, n, "%s", tmp);
        best = p;
    }
    print_prefer_fixed(x, buf, n);
    return best;
}

/* NaN spelling shared by f32 and f64: "nan"/"-nan" for the default quiet NaN, otherwise the raw
 * bit pattern "nan(0x7fc00001)" so payloads survive a round trip. */
static void print_nan(char *buf, size_t n, uint64_t bits, uint64_t canon, uint64_t sign, int hexdigits)
{
    if (bits == canon)
        snprintf(buf, n, "nan");
    else if (bits == (canon | sign))
        snprintf(buf, n, "-nan");
    else
        snprintf(buf, n, "nan(0x%0*" PRIx64 ")", hexdigits, bits);
}

static void print_fmt_f32(float x, char *buf, size_t n)
{
    if (isnan(x)) {
        uint32_t b;
        memcpy(&b, &x, 4);
        print_nan(buf, n, b, 0x7fc00000u, 0x80000000u, 8);
    } else if (isinf(x)) {
        snprintf(buf, n, x < 0 ? "-inf" : "inf");
    } else {
        print_shortest_f32(x, buf, n);
        print_mark_float(buf, n);
    }
}

static void print_fmt_f64(double x, char *buf, size_t n)
{
    if (isnan(x)) {
        uint64_t b;
        memcpy(&b, &x, 8);
        print_nan(buf, n, b, 0x7ff8000000000000ull, 0x8000000000000000ull, 16);
    } else if (isinf(x)) {
        snprintf(buf, n, x < 0 ? "-inf" : "inf");
    } else {
        print_shortest_f64(x, buf, n);
        print_mark_float(buf, n);
    }
}

/* Float attributes are doubles that usually hold an ONNX float32. When the exact double needs
 * more than 9 digits but is a float32 value, print the float's shortest form with an 'f' suffix
 * ("alpha=0.01f" rather than "alpha=0.0099999997764825821"); the parser rounds it back. */
static void print_fmt_attr_float(double x, char *buf, size_t n)
{
    if (isnan(x) || isinf(x)) {
        print_fmt_f64(x, buf, n);
        return;
    }
    int digits = print_shortest_f64(x, buf, n);
    if (digits > 9 && (double)(float)x == x) {
        print_shortest_f32((float)x, buf, n - 1);
        print_mark_float(buf, n - 1);
        strcat(buf, "f");
        return;
    }
    print_mark_float(buf, n);
}

/* One element of typed data as text. */
static void print_fmt_elem(DType t, const void *data, int64_t i, char *buf, size_t n)
{
    switch (t) {
    case DT_F32: print_fmt_f32(((const float *)data)[i], buf, n); break;
    case DT_F64: print_fmt_f64(((const double *)data)[i], buf, n); break;
    case DT_BOOL: snprintf(buf, n, ((const uint8_t *)data)[i] ? "true" : "false"); break;
    case DT_U64: snprintf(buf, n, "%" PRIu64, ((const uint64_t *)data)[i]); break;
    default: snprintf(buf, n, "%" PRId64, elem_get_i64(t, data, i)); break;
    }
}

/* ---------------------------------------------------------------- types and data */

static void print_type(FILE *f, DType t, int rank, const int64_t *dims)
{
    fprintf(f, "%s[", dtype_name(t));
    for (int i = 0; i < rank && i < IR_MAX_RANK; i++) fprintf(f, i ? ",%" PRId64 : "%" PRId64, dims[i]);
    fputc(']', f);
}

/* numel of a shape, or -1 when a dim is negative, the rank is bad or the count overflows. */
static int64_t print_numel(int rank, const int64_t *dims)
{
    if (rank < 0 || rank > IR_MAX_RANK) return -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] && n > INT64_MAX / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

/* <N values, min A, max B, fnv1a HHHHHHHH> — a summary for dumps; NaNs are left out of min/max. */
static void print_summary(FILE *f, DType t, const void *data, int64_t numel)
{
    uint32_t h = 2166136261u;
    size_t nb = (size_t)numel * dtype_size(t);
    for (size_t i = 0; i < nb; i++) h = (h ^ ((const unsigned char *)data)[i]) * 16777619u;
    double lo = NAN, hi = NAN;
    for (int64_t i = 0; i < numel; i++) {
        double v = elem_get_f64(t, data, i);
        if (isnan(v)) continue;
        if (isnan(lo) || v < lo) lo = v;
        if (isnan(hi) || v > hi) hi = v;
    }
    fprintf(f, "<%" PRId64 " values, min %.4g, max %.4g, fnv1a %08x>", numel, lo, hi, h);
}

/* "[a, b, c]"; more than PRINT_PER_LINE elements wrap onto indented lines. */
static void print_data(FILE *f, DType t, const void *data, int64_t numel, unsigned flags, const char *indent)
{
    if (!data || dtype_size(t) == 0) {
        fputs("<no data>", f);
        return;
    }
    if ((flags & IR_PRINT_ELIDE) && numel > PRINT_ELIDE_MIN) {
        print_summary(f, t, data, numel);
        return;
    }
    /* one fwrite per line: stdio per element is a third of the time of a large dump */
    char line[PRINT_PER_LINE * 48 + 64];
    size_t k = 0;
    int wrap = numel > PRINT_PER_LINE;
    int per_line = dtype_is_float(t) ? PRINT_PER_LINE / 2 : PRINT_PER_LINE;
    fputc('[', f);
    for (int64_t i = 0; i < numel; i++) {
        if (wrap && i % per_line == 0) {
            if (i) line[k++] = ',';
            fwrite(line, 1, k, f);
            fprintf(f, "\n%s    ", indent);
            k = 0;
        } else if (i) {
            line[k++] = ',';
            line[k++] = ' ';
        }
        print_fmt_elem(t, data, i, line + k, 48);
        k += strlen(line + k);
    }
    fwrite(line, 1, k, f);
    if (wrap) fprintf(f, "\n%s", indent);
    fputc(']', f);
}

/* ---------------------------------------------------------------- attributes */

static void print_attr_value(FILE *f, const Attr *a, unsigned flags)
{
    char buf[64];
    switch (a->kind) {
    case ATTR_INT: fprintf(f, "%" PRId64, a->i); break;
    case ATTR_FLOAT:
        print_fmt_attr_float(a->f, buf, sizeof buf);
        fputs(buf, f);
        break;
    case ATTR_STRING: print_quoted(f, a->s); break;
    case ATTR_INTS:
        fputc('[', f);
        for (int k = 0; k < a->n && a->ints; k++) fprintf(f, k ? ",%" PRId64 : "%" PRId64, a->ints[k]);
        fputc(']', f);
        break;
    case ATTR_FLOATS:
        /* "[]" alone means an empty int list, so an empty float list says what it is */
        fputs(a->n == 0 ? "floats[" : "[", f);
        for (int k = 0; k < a->n && a->floats; k++) {
            print_fmt_attr_float(a->floats[k], buf, sizeof buf);
            fprintf(f, k ? ", %s" : "%s", buf);
        }
        fputc(']', f);
        break;
    case ATTR_TENSOR: {
        const Tensor *t = a->t;
        int64_t numel = t ? print_numel(t->rank, t->dims) : -1;
        if (numel < 0) {
            fputs("<bad tensor>", f);
            break;
        }
        print_type(f, t->dtype, t->rank, t->dims);
        fputc(' ', f);
        print_data(f, t->dtype, t->data, numel, flags, "  ");
        break;
    }
    default: fprintf(f, "<bad attribute kind %d>", (int)a->kind); break;
    }
}

/* ---------------------------------------------------------------- nodes and graphs */

/* Memory plan of a value (plan-memory pass): " <ws+4096>", " <in0+0>", " <out1+64>"; nothing
 * before planning. The buffer index is printed for graph input/output buffers, or when set. */
static void print_placement(FILE *f, const Value *v)
{
    static const char *const kinds[] = {"none", "ws", "in", "out", "const"};
    if (v->mem_kind == MEM_NONE && !v->mem_index && !v->mem_offset) return;
    int k = (int)v->mem_kind;
    fprintf(f, " <%s", k >= 0 && k <= MEM_CONST ? kinds[k] : "?");
    if (k == MEM_INPUT || k == MEM_OUTPUT || v->mem_index) fprintf(f, "%d", v->mem_index);
    fprintf(f, "+%" PRId64 ">", v->mem_offset);
}

/* Declaration of a value: "%y: f32[1,8]", "%y" when untyped, "_" when absent, plus placement. */
static void print_out(FILE *f, const Graph *g, int vid)
{
    print_value_ref(f, g, vid);
    if (vid < 0 || vid >= g->n_values) return;
    const Value *v = &g->values[vid];
    if (v->dtype != DT_UNDEF) {
        fputs(": ", f);
        print_type(f, v->dtype, v->rank, v->dims);
    }
    print_placement(f, v);
}

static void print_node_line(const Graph *g, const Node *n, FILE *f, unsigned flags)
{
    for (int k = 0; k < n->n_out; k++) {
        if (k) fputs(", ", f);
        print_out(f, g, n->out[k]);
    }
    if (n->n_out > 0) fputs(" = ", f);
    fputs(ir_op_name(n->op), f);
    fputc('(', f);
    for (int k = 0; k < n->n_in; k++) {
        if (k) fputs(", ", f);
        print_value_ref(f, g, n->in[k]);
    }
    fputc(')', f);
    if (n->n_attr > 0) {
        fputs(" {", f);
        for (int k = 0; k < n->n_attr; k++) {
            const Attr *a = &n->attrs[k];
            if (k) fputs(", ", f);
            print_attr_name(f, a->name);
            fputc('=', f);
            print_attr_value(f, a, flags);
        }
        fputc('}', f);
    }
    if (n->name && *n->name) {
        fputs(" @", f);
        print_name(f, n->name);
    }
    fputc('\n', f);
}

/* One node as in the listing, without the indentation, ending in a newline. */
void ir_print_node(const Graph *g, const Node *n, FILE *f) { print_node_line(g, n, f, 0); }

void ir_print(const Graph *g, FILE *f, unsigned flags)
{
    fputs("graph ", f);
    print_quoted(f, g->name ? g->name : "");
    if (g->workspace_size) fprintf(f, " workspace=%" PRId64, g->workspace_size);
    fputs(" {\n", f);

    for (int k = 0; k < g->n_inputs; k++) {
        fputs("  input ", f);
        print_out(f, g, g->inputs[k]);
        fputc('\n', f);
    }

    /* constants nobody uses are garbage left behind by passes (value ids are stable): skip them */
    char *used = xcalloc((size_t)g->n_values + 1, 1);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v >= 0 && v < g->n_values) used[v] = 1;
        }
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] >= 0 && g->outputs[k] < g->n_values) used[g->outputs[k]] = 1;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        if (val->kind != VAL_CONST || !used[v]) continue;
        fputs("  const ", f);
        print_out(f, g, v);
        if (val->dtype == DT_UNDEF) fputs(": undef[]", f);
        fputs(" = ", f);
        int64_t numel = print_numel(val->rank, val->dims);
        if (numel < 0)
            fputs("<bad shape>", f);
        else
            print_data(f, val->dtype, val->data, numel, flags, "  ");
        fputc('\n', f);
    }
    free(used);

    for (int i = 0; i < g->n_nodes; i++) {
        fputs("  ", f);
        print_node_line(g, &g->nodes[i], f, flags);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        fputs("  output ", f);
        print_value_ref(f, g, g->outputs[k]);
        fputc('\n', f);
    }
    fputs("}\n", f);
}
