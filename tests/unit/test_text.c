/* test_text.c — the text IR printer and parser (ir/print.c, ir/parse.c).
 *
 * Round trips: for hand-built graphs covering every dtype, special floats (NaN payloads, inf,
 * -0.0, denormals), every attribute kind, quoted names, absent inputs/outputs and multi-output
 * nodes, checks print(parse(print(g))) == print(g) byte for byte and parse(print(g)) is
 * structurally equal to g (compared by names, with bit-exact data). Also: golden text for a
 * small graph, ir_print_node, IR_PRINT_ELIDE, omitted output types, parse_file, and a table
 * of malformed inputs that must give one-line "line L:C: ..." errors.
 */
#include "test.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* The printed text (caller frees). Goes through a temporary file rather than open_memstream,
 * whose pointer-to-local confuses GCC's -Wdangling-pointer once this is inlined. */
static char *print_str(const Graph *g, unsigned flags)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ir_print(g, f, flags);
    long len = ftell(f);
    char *buf = malloc((size_t)len + 1);
    rewind(f);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), len);
    buf[len] = 0;
    fclose(f);
    return buf;
}

static char *print_node_str(const Graph *g, int node)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print_node(g, &g->nodes[node], f);
    fclose(f);
    return buf;
}

static int streq0(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* Two values (of two graphs) are equal: name, kind, dtype, shape, constant bytes. */
static int value_equal(const Graph *a, int va, const Graph *b, int vb, char *why, size_t n)
{
    if (va < 0 || vb < 0) {
        if (va != vb) snprintf(why, n, "absent vs present value");
        return va == vb;
    }
    const Value *x = &a->values[va], *y = &b->values[vb];
    if (strcmp(x->name, y->name)) return snprintf(why, n, "name '%s' vs '%s'", x->name, y->name), 0;
    if (x->kind != y->kind) return snprintf(why, n, "%s: kind", x->name), 0;
    if (x->mem_kind != y->mem_kind || x->mem_index != y->mem_index || x->mem_offset != y->mem_offset)
        return snprintf(why, n, "%s: memory placement", x->name), 0;
    if (x->dtype != y->dtype) return snprintf(why, n, "%s: dtype", x->name), 0;
    if (x->dtype == DT_UNDEF) return 1; /* dims of an untyped value are not printed */
    if (x->rank != y->rank || memcmp(x->dims, y->dims, (size_t)x->rank * sizeof(int64_t)))
        return snprintf(why, n, "%s: shape", x->name), 0;
    if (x->kind == VAL_CONST) {
        size_t nb = (size_t)ir_value_numel(x) * dtype_size(x->dtype);
        if (memcmp(x->data, y->data, nb)) return snprintf(why, n, "%s: data", x->name), 0;
    }
    return 1;
}

static int attr_equal(const Attr *x, const Attr *y, char *why, size_t n)
{
    if (strcmp(x->name, y->name) || x->kind != y->kind) return snprintf(why, n, "attr %s name/kind", x->name), 0;
    int ok = 1;
    switch (x->kind) {
    case ATTR_INT: ok = x->i == y->i; break;
    case ATTR_FLOAT: ok = !memcmp(&x->f, &y->f, sizeof(double)); break;
    case ATTR_STRING: ok = !strcmp(x->s, y->s); break;
    case ATTR_INTS: ok = x->n == y->n && (!x->n || !memcmp(x->ints, y->ints, (size_t)x->n * 8)); break;
    case ATTR_FLOATS: ok = x->n == y->n && (!x->n || !memcmp(x->floats, y->floats, (size_t)x->n * 8)); break;
    case ATTR_TENSOR:
        ok = x->t->dtype == y->t->dtype && x->t->rank == y->t->rank &&
             !memcmp(x->t->dims, y->t->dims, (size_t)x->t->rank * 8) &&
             !memcmp(x->t->data, y->t->data, tensor_nbytes(x->t));
        break;
    }
    if (!ok) snprintf(why, n, "attr %s value", x->name);
    return ok;
}

/* Structural equality over everything the text carries: graph name, inputs, outputs, nodes
 * (op, name, inputs, outputs, attributes in order), and every referenced value. */
static int graph_equal(const Graph *a, const Graph *b, char *why, size_t n)
{
    if (strcmp(a->name, b->name)) return snprintf(why, n, "graph name"), 0;
    if (a->workspace_size != b->workspace_size) return snprintf(why, n, "workspace size"), 0;
    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs || a->n_nodes != b->n_nodes)
        return snprintf(why, n, "counts %d/%d %d/%d %d/%d", a->n_inputs, b->n_inputs, a->n_outputs, b->n_outputs,
                        a->n_nodes, b->n_nodes),
               0;
    for (int k = 0; k < a->n_inputs; k++)
        if (!value_equal(a, a->inputs[k], b, b->inputs[k], why, n)) return 0;
    for (int k = 0; k < a->n_outputs; k++)
        if (!value_equal(a, a->outputs[k], b, b->outputs[k], why, n)) return 0;
    for (int i = 0; i < a->n_nodes; i++) {
        const Node *x = &a->nodes[i], *y = &b->nodes[i];
        if (x->op != y->op || !streq0(x->name, y->name) || x->n_in != y->n_in || x->n_out != y->n_out ||
            x->n_attr != y->n_attr)
            return snprintf(why, n, "node %d header", i), 0;
        for (int k = 0; k < x->n_in; k++)
            if (!value_equal(a, x->in[k], b, y->in[k], why, n)) return 0;
        for (int k = 0; k < x->n_out; k++)
            if (!value_equal(a, x->out[k], b, y->out[k], why, n)) return 0;
        for (int k = 0; k < x->n_attr; k++)
            if (!attr_equal(&x->attrs[k], &y->attrs[k], why, n)) return 0;
    }
    return 1;
}

/* print -> parse -> compare -> print again; fails the test with a reason. */
static void check_round_trip(const Graph *g)
{
    char *t1 = print_str(g, 0);
    Diag d = {{0}};
    Graph *h = ir_parse(t1, &d);
    ck_assert_msg(h != NULL, "parse of printed graph failed: %s\n%.2000s", d.msg, t1);
    char why[256] = "";
    ck_assert_msg(graph_equal(g, h, why, sizeof why), "round trip changed the graph: %s\n%.2000s", why, t1);
    char *t2 = print_str(h, 0);
    ck_assert_msg(!strcmp(t1, t2), "print(parse(print(g))) != print(g):\n%.2000s\n----\n%.2000s", t1, t2);
    free(t1);
    free(t2);
    ir_graph_free(h);
}

static float f32_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static double f64_bits(uint64_t b)
{
    double f;
    memcpy(&f, &b, 8);
    return f;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Add const c and an Identity node reading it, whose output is a graph output. */
static void add_const_through(Graph *g, const char *name, DType t, int rank, const int64_t *dims, const void *data)
{
    int c = ir_const_add(g, name, t, rank, dims, data);
    char on[128];
    snprintf(on, sizeof on, "%s.out", name);
    int o = ir_value_add(g, on, t, rank, dims);
    ir_node_add(g, OP_IDENTITY, "", 1, &c, 1, &o);
    ir_graph_add_output(g, o);
}

/* ---------------------------------------------------------------- round trips */

START_TEST(test_roundtrip_dtypes)
{
    Graph *g = ir_graph_new("dtypes");
    float f32[] = {INFINITY, -INFINITY, f32_bits(0x7fc00000), f32_bits(0xffc00000), f32_bits(0x7fc00001),
                   f32_bits(0xff800001), f32_bits(0x7f800001), 0.0f, -0.0f, 1.0f, -1.5f, 0.1f, 1.0f / 3.0f,
                   FLT_MAX, -FLT_MAX, FLT_MIN, f32_bits(1), 16777216.0f, 1e-10f, 123456792.0f};
    int64_t d20[] = {20};
    add_const_through(g, "f32", DT_F32, 1, d20, f32);
    double f64[] = {0.0, -0.0, 0.1, 1.0 / 3.0, DBL_MAX, DBL_MIN, f64_bits(1), 1e300, -1e-300, INFINITY,
                    -INFINITY, f64_bits(0x7ff8000000000000ull), f64_bits(0xfff8000000000000ull),
                    f64_bits(0x7ff0000000000001ull), 9007199254740993.0, 2.5};
    int64_t d16[] = {4, 4};
    add_const_through(g, "f64", DT_F64, 2, d16, f64);
    uint8_t u8[] = {0, 1, 127, 128, 255};
    int8_t i8[] = {-128, -1, 0, 1, 127};
    uint16_t u16[] = {0, 1, 32768, 65535, 7};
    int16_t i16[] = {-32768, -1, 0, 1, 32767};
    int32_t i32[] = {INT32_MIN, -1, 0, 1, INT32_MAX};
    uint32_t u32[] = {0, 1, 2147483648u, UINT32_MAX, 9};
    int64_t i64[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    uint64_t u64[] = {0, 1, 9223372036854775808ull, UINT64_MAX, 10};
    uint8_t bl[] = {0, 1, 1, 0, 1};
    int64_t d5[] = {5};
    add_const_through(g, "u8", DT_U8, 1, d5, u8);
    add_const_through(g, "i8", DT_I8, 1, d5, i8);
    add_const_through(g, "u16", DT_U16, 1, d5, u16);
    add_const_through(g, "i16", DT_I16, 1, d5, i16);
    add_const_through(g, "i32", DT_I32, 1, d5, i32);
    add_const_through(g, "u32", DT_U32, 1, d5, u32);
    add_const_through(g, "i64", DT_I64, 1, d5, i64);
    add_const_through(g, "u64", DT_U64, 1, d5, u64);
    add_const_through(g, "bool", DT_BOOL, 1, d5, bl);
    /* scalars, empty tensors, rank 8 */
    float s = 2.5f;
    add_const_through(g, "scalar", DT_F32, 0, NULL, &s);
    int64_t d0[] = {3, 0, 2};
    add_const_through(g, "empty", DT_I64, 3, d0, NULL);
    int64_t d8[] = {1, 2, 1, 1, 1, 1, 1, 2};
    float r8[] = {1, 2, 3, 4};
    add_const_through(g, "rank8", DT_F32, 8, d8, r8);
    /* an input of every dtype */
    for (int t = 1; t < DT_COUNT; t++) {
        char nm[32];
        snprintf(nm, sizeof nm, "in_%s", dtype_name((DType)t));
        int64_t dims[] = {2, t};
        ir_graph_add_input(g, ir_value_add(g, nm, (DType)t, 2, dims));
    }
    check_round_trip(g);

    /* the text spells the special values as documented */
    char *t = print_str(g, 0);
    ck_assert_ptr_nonnull(strstr(t, "-0.0, 1.0, -1.5, 0.1, 0.33333334,"));
    ck_assert_ptr_nonnull(strstr(t, "inf, -inf, nan, -nan, nan(0x7fc00001), nan(0xff800001), nan(0x7f800001)"));
    ck_assert_ptr_nonnull(strstr(t, "nan(0x7ff0000000000001)"));
    ck_assert_ptr_nonnull(strstr(t, "[-9223372036854775808, -1, 0, 1, 9223372036854775807]"));
    ck_assert_ptr_nonnull(strstr(t, "[0, 1, 9223372036854775808, 18446744073709551615, 10]"));
    ck_assert_ptr_nonnull(strstr(t, "const %bool: bool[5] = [false, true, true, false, true]"));
    ck_assert_ptr_nonnull(strstr(t, "const %scalar: f32[] = [2.5]"));
    ck_assert_ptr_nonnull(strstr(t, "const %empty: i64[3,0,2] = []"));
    ck_assert_ptr_nonnull(strstr(t, "input %in_u64: u64[2,11]"));
    free(t);
    ir_graph_free(g);
}
END_TEST

/* Random bit patterns (every class of float, NaN payloads included) survive bit-exactly. */
START_TEST(test_roundtrip_random_bits)
{
    Graph *g = ir_graph_new("bits");
    uint64_t s = 42;
    enum { N = 4000 };
    uint32_t *a = malloc(N * 4);
    uint64_t *b = malloc(N * 8);
    for (int i = 0; i < N; i++) {
        a[i] = (uint32_t)rng_next(&s);
        b[i] = rng_next(&s);
    }
    /* plus typical weights: uniform in [-1, 1) */
    for (int i = 0; i < N / 4; i++) {
        float w = test_randf((unsigned long long *)&s, -1.0f, 1.0f);
        memcpy(&a[i], &w, 4);
    }
    int64_t d[] = {N};
    add_const_through(g, "a", DT_F32, 1, d, a);
    add_const_through(g, "b", DT_F64, 1, d, b);
    check_round_trip(g);
    free(a);
    free(b);
    ir_graph_free(g);
}
END_TEST

/* The documented f32 spelling, computed the slow way with snprintf: the shortest "%.Pg" that
 * strtof reads back, numbers below 1e16 spelled out instead of "1e+01", and a ".0" when the
 * text would look like an integer. ir/print.c computes it with integer arithmetic. */
static void ref_format_f32(float x, char *buf, size_t n)
{
    char tmp[64];
    if (isnan(x) || isinf(x)) {
        snprintf(buf, n, "special");
        return;
    }
    snprintf(buf, n, "%.9g", (double)x);
    for (int p = 8; p >= 1; p--) {
        snprintf(tmp, sizeof tmp, "%.*g", p, (double)x);
        if (strtof(tmp, NULL) != x) break;
        snprintf(buf, n, "%s", tmp);
    }
    const char *e = strchr(buf, 'e');
    if (e && atoi(e + 1) >= 0 && atoi(e + 1) < 16) snprintf(buf, n, "%.*g", atoi(e + 1) + 1, (double)x);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
}

START_TEST(test_print_f32_format)
{
    enum { N = 200000 };
    float *v = malloc(N * sizeof(float));
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        uint64_t r = rng_next(&s);
        uint32_t b = (uint32_t)r;
        switch (i % 7) {
        case 5: v[i] = (float)(int64_t)((r >> 20) % (1ull << 34)); break; /* big integers */
        case 6: v[i] = (float)ldexp((double)((1u << 23) + (r >> 41)), 30 + (int)(r % 10)); break; /* ties */
        case 0: memcpy(&v[i], &b, 4); break;                                                    /* any bits */
        case 1: v[i] = (float)((r >> 11) * (1.0 / 9007199254740992.0)) * 0.2f - 0.1f; break; /* weights */
        case 2: v[i] = (float)((int64_t)(r % 2000001) - 1000000) / (float)(1u << (r >> 60)); break;
        case 3: v[i] = (float)pow(10.0, (double)((int)(r % 90) - 45)); break;                 /* near 10^k */
        default: v[i] = (float)ldexp(1.0, (int)(r % 250) - 140); break;                        /* powers of 2 */
        }
        if (isnan(v[i]) || isinf(v[i])) v[i] = 1.5f;
    }
    /* a decimal exactly halfway between two floats reads back as the even one */
    v[0] = (float)ldexp(14648438.0, 30); /* "1.572864e+16" is a tie that rounds to it */
    v[1] = (float)ldexp(14648437.0, 30); /* ... and not to its odd neighbour */
    Graph *g = ir_graph_new("fmt");
    add_const_through(g, "v", DT_F32, 1, (const int64_t[]){N}, v);
    char *t = print_str(g, 0);
    char *p = strstr(t, "= [");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(strstr(p, "1.572864e+16, 1.5728639e+16,"));
    p += 3;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        while (*p == ' ' || *p == '\n' || *p == ',') p++;
        size_t len = strcspn(p, ",\n]");
        char want[64];
        ref_format_f32(v[i], want, sizeof want);
        if (len != strlen(want) || strncmp(p, want, len)) {
            if (bad++ < 5) fprintf(stderr, "f32 %a: printed '%.*s', want '%s'\n", (double)v[i], (int)len, p, want);
        }
        p += len;
    }
    ck_assert_int_eq(bad, 0);
    free(t);
    free(v);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_roundtrip_attrs)
{
    Graph *g = ir_graph_new("attrs");
    int64_t dims[] = {2, 3};
    int x = ir_value_add(g, "x", DT_F32, 2, dims);
    ir_graph_add_input(g, x);
    int y = ir_value_add(g, "y", DT_F32, 2, dims);
    int n = ir_node_add(g, OP_IDENTITY, "all_attrs", 1, &x, 1, &y);
    ir_node_set_int(g, n, "zero", 0);
    ir_node_set_int(g, n, "neg", -1);
    ir_node_set_int(g, n, "min", INT64_MIN);
    ir_node_set_int(g, n, "max", INT64_MAX);
    ir_node_set_float(g, n, "half", 0.5);
    ir_node_set_float(g, n, "one", 1.0);
    ir_node_set_float(g, n, "f32", (double)0.01f);
    ir_node_set_float(g, n, "f64", 0.1);
    ir_node_set_float(g, n, "negzero", -0.0);
    ir_node_set_float(g, n, "big", 1e300);
    ir_node_set_float(g, n, "tiny", f64_bits(1));
    ir_node_set_float(g, n, "pinf", INFINITY);
    ir_node_set_float(g, n, "ninf", -INFINITY);
    ir_node_set_float(g, n, "qnan", f64_bits(0x7ff8000000000000ull));
    ir_node_set_float(g, n, "payload", f64_bits(0x7ff8000000000123ull));
    ir_node_set_float(g, n, "f32big", (double)3e38f);
    ir_node_set_str(g, n, "plain", "NOTSET");
    ir_node_set_str(g, n, "empty", "");
    ir_node_set_str(g, n, "escapes", "q\"b\\n\nt\tr\rc\x01\x7f utf8 \xc3\xa9");
    ir_node_set_ints(g, n, "ints", (const int64_t[]){1, -2, INT64_MIN, INT64_MAX}, 4);
    ir_node_set_ints(g, n, "noints", NULL, 0);
    ir_node_set_floats(g, n, "floats", (const double[]){1.0, -0.0, 0.25, (double)0.2f, INFINITY, NAN}, 6);
    ir_node_set_floats(g, n, "nofloats", NULL, 0);
    ir_node_set_floats(g, n, "intlike", (const double[]){1.0, 2.0}, 2);
    float tv = 0.0f;
    Tensor *t1 = tensor_wrap(DT_F32, 1, (const int64_t[]){1}, &tv);
    ir_node_set_tensor(g, n, "value", t1);
    tensor_free(t1);
    int64_t iv[] = {3, -4};
    Tensor *t2 = tensor_wrap(DT_I64, 1, (const int64_t[]){2}, iv);
    ir_node_set_tensor(g, n, "values", t2);
    tensor_free(t2);
    uint8_t bv = 1;
    Tensor *t3 = tensor_wrap(DT_BOOL, 0, NULL, &bv);
    ir_node_set_tensor(g, n, "scalar_bool", t3);
    tensor_free(t3);
    Tensor *t4 = tensor_wrap(DT_F64, 2, (const int64_t[]){0, 5}, NULL);
    ir_node_set_tensor(g, n, "empty_t", t4);
    tensor_free(t4);
    float big[20];
    for (int i = 0; i < 20; i++) big[i] = (float)i * 0.5f;
    Tensor *t5 = tensor_wrap(DT_F32, 2, (const int64_t[]){4, 5}, big);
    ir_node_set_tensor(g, n, "big_t", t5);
    tensor_free(t5);
    ir_node_set_int(g, n, "with space", 7);
    ir_graph_add_output(g, y);
    check_round_trip(g);

    char *t = print_node_str(g, n);
    ck_assert_ptr_nonnull(strstr(t, "zero=0, neg=-1, min=-9223372036854775808, max=9223372036854775807"));
    ck_assert_ptr_nonnull(strstr(t, "half=0.5, one=1.0, f32=0.01f, f64=0.1, negzero=-0.0, big=1e+300"));
    ck_assert_ptr_nonnull(strstr(t, "pinf=inf, ninf=-inf, qnan=nan, payload=nan(0x7ff8000000000123)"));
    ck_assert_ptr_nonnull(strstr(t, "plain=\"NOTSET\", empty=\"\", escapes=\"q\\\"b\\\\n\\nt\\tr\\rc\\x01\\x7f utf8 \xc3\xa9\""));
    ck_assert_ptr_nonnull(strstr(t, "ints=[1,-2,-9223372036854775808,9223372036854775807], noints=[]"));
    ck_assert_ptr_nonnull(strstr(t, "floats=[1.0, -0.0, 0.25, 0.2f, inf, nan], nofloats=floats[], intlike=[1.0, 2.0]"));
    ck_assert_ptr_nonnull(strstr(t, "value=f32[1] [0.0], values=i64[2] [3, -4], scalar_bool=bool[] [true], empty_t=f64[0,5] []"));
    ck_assert_ptr_nonnull(strstr(t, "\"with space\"=7} @all_attrs\n"));
    free(t);

    /* the parsed kinds are the printed kinds */
    char *text = print_str(g, 0);
    Diag d = {{0}};
    Graph *h = ir_parse(text, &d);
    ck_assert_ptr_nonnull(h);
    const Node *m = &h->nodes[0];
    ck_assert_int_eq(ir_attr_find(m, "one")->kind, ATTR_FLOAT);
    ck_assert_int_eq(ir_attr_find(m, "zero")->kind, ATTR_INT);
    ck_assert_int_eq(ir_attr_find(m, "noints")->kind, ATTR_INTS);
    ck_assert_int_eq(ir_attr_find(m, "nofloats")->kind, ATTR_FLOATS);
    ck_assert_int_eq(ir_attr_find(m, "intlike")->kind, ATTR_FLOATS);
    ck_assert(ir_attr_float(m, "f32", 0) == (double)0.01f);
    ck_assert(ir_attr_float(m, "f64", 0) == 0.1);
    ir_graph_free(h);
    free(text);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_roundtrip_names)
{
    const char *names[] = {"onnx::Conv_12", "/layer1/0/conv1/Conv_output_0", "has space", "trailing:", "a::b:",
                           "q\"uote\\back", "new\nline", "_", "%pct", "0", "-", "x.y:z/w-1", "\xc3\xa9t\xc3\xa9",
                           "tab\there", "#hash", "{brace}"};
    int nn = (int)(sizeof names / sizeof *names);
    Graph *g = ir_graph_new("quoted \"graph\" name");
    int64_t dims[] = {1};
    int x = ir_value_add(g, names[0], DT_F32, 1, dims);
    ir_graph_add_input(g, x);
    const char *node_names[] = {"Conv_0", "", "/layer1/Relu", "with space", "@at", "é"};
    for (int i = 1; i < nn; i++) {
        int y = ir_value_add(g, names[i], DT_F32, 1, dims);
        ir_node_add(g, OP_RELU, node_names[i % 6], 1, &x, 1, &y);
        x = y;
    }
    ir_graph_add_output(g, x);
    check_round_trip(g);
    char *t = print_str(g, 0);
    ck_assert_ptr_nonnull(strstr(t, "graph \"quoted \\\"graph\\\" name\" {\n  input %onnx::Conv_12: f32[1]\n"));
    ck_assert_ptr_nonnull(strstr(t, "  %/layer1/0/conv1/Conv_output_0: f32[1] = Relu(%onnx::Conv_12)\n"));
    ck_assert_ptr_nonnull(strstr(t, "  %\"has space\": f32[1] = Relu(%/layer1/0/conv1/Conv_output_0) @/layer1/Relu\n"));
    ck_assert_ptr_nonnull(strstr(t, "  %\"trailing:\": f32[1] = Relu(%\"has space\") @\"with space\"\n"));
    ck_assert_ptr_nonnull(strstr(t, "  %\"a::b:\": f32[1] = Relu(%\"trailing:\") @\"@at\"\n"));
    ck_assert_ptr_nonnull(strstr(t, "%\"new\\nline\": f32[1]"));
    ck_assert_ptr_nonnull(strstr(t, "%x.y:z/w-1: f32[1]"));
    ck_assert_ptr_nonnull(strstr(t, "%_: f32[1]"));
    free(t);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_roundtrip_absent_and_multi)
{
    Graph *g = ir_graph_new("multi");
    int a = ir_value_add(g, "a", DT_F32, 2, (const int64_t[]){2, 4});
    ir_graph_add_input(g, a);
    int w = ir_const_add(g, "w", DT_F32, 2, (const int64_t[]){4, 3}, (const float[12]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    int y = ir_value_add(g, "y", DT_F32, 2, (const int64_t[]){2, 3});
    ir_node_add(g, OP_GEMM, "gemm", 3, (const int[]){a, w, -1}, 1, &y);
    int s0 = ir_value_add(g, "s0", DT_F32, 2, (const int64_t[]){2, 1});
    int s1 = ir_value_add(g, "s1", DT_F32, 2, (const int64_t[]){2, 2});
    int s2 = ir_value_add(g, "s2", DT_UNDEF, 0, NULL); /* untyped output */
    int sp = ir_node_add(g, OP_SPLIT, "split", 1, &a, 3, (const int[]){s0, s1, s2});
    ir_node_set_ints(g, sp, "split", (const int64_t[]){1, 2, 1}, 3);
    ir_node_set_int(g, sp, "axis", 1);
    int dy = ir_value_add(g, "dy", DT_F32, 2, (const int64_t[]){2, 3});
    ir_node_add(g, OP_DROPOUT, "", 1, &y, 2, (const int[]){dy, -1});
    int tv = ir_value_add(g, "tv", DT_F32, 2, (const int64_t[]){2, 1});
    int ti = ir_value_add(g, "ti", DT_I64, 2, (const int64_t[]){2, 1});
    int tk = ir_node_add(g, OP_TOPK, "topk", 1, &dy, 2, (const int[]){tv, ti});
    ir_node_set_int(g, tk, "k", 1);
    int c = ir_value_add(g, "c", DT_F32, 2, (const int64_t[]){2, 3});
    int cs = ir_node_add(g, OP_CONSTANT_OF_SHAPE, "cos", 0, NULL, 1, &c);
    ir_node_set_ints(g, cs, "shape", (const int64_t[]){2, 3}, 2);
    /* a node with no outputs at all, and one whose outputs are all absent */
    ir_node_add(g, OP_RELU, "noout", 1, &a, 0, NULL);
    ir_node_add(g, OP_DROPOUT, "allabsent", 1, &a, 2, (const int[]){-1, -1});
    ir_graph_add_output(g, tv);
    ir_graph_add_output(g, ti);
    ir_graph_add_output(g, s0);
    ir_graph_add_output(g, a); /* an input as an output, twice */
    ir_graph_add_output(g, a);
    ir_graph_add_output(g, w); /* a constant as an output */
    /* an unused constant is garbage: not printed */
    ir_const_add(g, "unused", DT_F32, 0, NULL, (const float[]){1});
    char *t = print_str(g, 0);
    const char *want =
        "graph \"multi\" {\n"
        "  input %a: f32[2,4]\n"
        "  const %w: f32[4,3] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]\n"
        "  %y: f32[2,3] = Gemm(%a, %w, _) @gemm\n"
        "  %s0: f32[2,1], %s1: f32[2,2], %s2 = Split(%a) {split=[1,2,1], axis=1} @split\n"
        "  %dy: f32[2,3], _ = Dropout(%y)\n"
        "  %tv: f32[2,1], %ti: i64[2,1] = TopK(%dy) {k=1} @topk\n"
        "  %c: f32[2,3] = ConstantOfShape() {shape=[2,3]} @cos\n"
        "  Relu(%a) @noout\n"
        "  _, _ = Dropout(%a) @allabsent\n"
        "  output %tv\n"
        "  output %ti\n"
        "  output %s0\n"
        "  output %a\n"
        "  output %a\n"
        "  output %w\n"
        "}\n";
    ck_assert_str_eq(t, want);
    free(t);
    check_round_trip(g);
    ir_graph_free(g);
}
END_TEST

/* The memory plan (Value.mem_*, Graph.workspace_size) survives the text. */
START_TEST(test_roundtrip_memory_plan)
{
    Graph *g = ir_graph_new("planned");
    int64_t d[] = {1, 16};
    int x = ir_value_add(g, "x", DT_F32, 2, d);
    ir_graph_add_input(g, x);
    int c = ir_const_add(g, "c", DT_F32, 2, d, (const float[16]){0});
    int y = ir_value_add(g, "y", DT_F32, 2, d);
    int z = ir_value_add(g, "z", DT_UNDEF, 0, NULL);
    int w = ir_value_add(g, "w", DT_F32, 2, d);
    ir_node_add(g, OP_ADD, "", 2, (const int[]){x, c}, 1, &y);
    ir_node_add(g, OP_RELU, "", 1, &y, 1, &z);
    ir_node_add(g, OP_RELU, "", 1, &y, 1, &w);
    ir_graph_add_output(g, w);
    g->values[x].mem_kind = MEM_INPUT;
    g->values[c].mem_kind = MEM_CONST, g->values[c].mem_offset = 128;
    g->values[y].mem_kind = MEM_WORKSPACE, g->values[y].mem_offset = 4096;
    g->values[z].mem_kind = MEM_WORKSPACE, g->values[z].mem_index = 2;
    g->values[w].mem_kind = MEM_OUTPUT, g->values[w].mem_offset = 64;
    g->workspace_size = 8064;
    char *t = print_str(g, 0);
    const char *want = "graph \"planned\" workspace=8064 {\n"
                       "  input %x: f32[1,16] <in0+0>\n"
                       "  const %c: f32[1,16] <const+128> = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]\n"
                       "  %y: f32[1,16] <ws+4096> = Add(%x, %c)\n"
                       "  %z <ws2+0> = Relu(%y)\n"
                       "  %w: f32[1,16] <out0+64> = Relu(%y)\n"
                       "  output %w\n"
                       "}\n";
    ck_assert_str_eq(t, want);
    free(t);
    check_round_trip(g);
    ir_graph_free(g);
}
END_TEST

/* Large constants wrap 16 per line; the wrapped text still round-trips. */
START_TEST(test_print_wrap)
{
    Graph *g = ir_graph_new("wrap");
    int32_t v[17];
    for (int i = 0; i < 17; i++) v[i] = i;
    add_const_through(g, "w", DT_I32, 1, (const int64_t[]){17}, v);
    char *t = print_str(g, 0);
    ck_assert_ptr_nonnull(strstr(t, "  const %w: i32[17] = [\n      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,\n      16\n  ]\n"));
    free(t);
    check_round_trip(g);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- elision, print_node */

START_TEST(test_print_elide)
{
    Graph *g = ir_graph_new("elide");
    float w[18], small[16];
    for (int i = 0; i < 18; i++) w[i] = (float)i - 4.0f;
    w[3] = NAN;
    for (int i = 0; i < 16; i++) small[i] = 1.0f;
    add_const_through(g, "w", DT_F32, 2, (const int64_t[]){2, 9}, w);
    add_const_through(g, "small", DT_F32, 1, (const int64_t[]){16}, small);
    char *t = print_str(g, IR_PRINT_ELIDE);
    ck_assert_ptr_nonnull(strstr(t, "const %w: f32[2,9] = <18 values, min -4, max 13, fnv1a "));
    ck_assert_ptr_nonnull(strstr(t, "const %small: f32[16] = [1.0, 1.0,"));
    Diag d = {{0}};
    ck_assert_ptr_null(ir_parse(t, &d));
    ck_assert_msg(strstr(d.msg, "elided constant data cannot be parsed; use --emit=ir for a full dump") != NULL, "%s", d.msg);
    ck_assert_msg(!strncmp(d.msg, "line 2:", 7), "%s", d.msg);
    free(t);
    /* without the flag: full data */
    t = print_str(g, 0);
    ck_assert_ptr_null(strstr(t, "values, min"));
    free(t);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_print_node)
{
    Graph *g = ir_graph_new("n");
    int x = ir_value_add(g, "x", DT_F32, 2, (const int64_t[]){1, 4});
    int w = ir_value_add(g, "w", DT_F32, 2, (const int64_t[]){8, 4});
    int y = ir_value_add(g, "y", DT_F32, 2, (const int64_t[]){1, 8});
    int n = ir_node_add(g, OP_GEMM, "gemm 0", 3, (const int[]){x, w, -1}, 1, &y);
    ir_node_set_float(g, n, "alpha", 0.5);
    ir_node_set_int(g, n, "transB", 1);
    char *t = print_node_str(g, n);
    ck_assert_str_eq(t, "%y: f32[1,8] = Gemm(%x, %w, _) {alpha=0.5, transB=1} @\"gemm 0\"\n");
    free(t);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- parsing hand-written text */

START_TEST(test_parse_compact)
{
    const char *text =
        "# a comment line\n"
        "graph main {   # bare graph name\n"
        "  input %x: f32[1,3]\n"
        "  const %b: f32[3] = [1, 2.5, -3e-1]   # ints accepted in float data\n"
        "  const %flags: bool[3] = [true, 0, 1]\n"
        "  %y = Add(%x, %b)\n"
        "  %z, %m = Dropout(%y) { }\n"
        "  %s: f32[1,3] = Relu(%z){alpha=1.5f,k=-2,l=ints[],fl=floats[1,2],v=i32[2][7,-8]}@\"r\"\n"
        "  output %s\n"
        "}\n"
        "# trailing comment";
    Diag d = {{0}};
    Graph *g = ir_parse(text, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert_str_eq(g->name, "main");
    ck_assert_int_eq(g->n_nodes, 3);
    int y = ir_value_find(g, "y");
    ck_assert_int_eq(g->values[y].dtype, DT_UNDEF);
    ck_assert_int_eq(g->values[y].producer, 0);
    int b = ir_value_find(g, "b");
    ck_assert_int_eq(g->values[b].kind, VAL_CONST);
    ck_assert(((float *)g->values[b].data)[0] == 1.0f && ((float *)g->values[b].data)[2] == -0.3f);
    int fl = ir_value_find(g, "flags");
    ck_assert_int_eq(((uint8_t *)g->values[fl].data)[0] + 2 * ((uint8_t *)g->values[fl].data)[2], 3);
    const Node *r = &g->nodes[2];
    ck_assert_str_eq(r->name, "r");
    ck_assert(ir_attr_float(r, "alpha", 0) == 1.5);
    ck_assert_int_eq(ir_attr_int(r, "k", 0), -2);
    int cnt;
    ck_assert_ptr_nonnull(ir_attr_ints(r, "l", &cnt));
    ck_assert_int_eq(cnt, 0);
    const double *fv = ir_attr_floats(r, "fl", &cnt);
    ck_assert(cnt == 2 && fv[1] == 2.0);
    const Tensor *tv = ir_attr_tensor(r, "v");
    ck_assert(tv && tv->dtype == DT_I32 && tv->rank == 1 && ((int32_t *)tv->data)[1] == -8);
    ck_assert_int_eq(g->n_inputs, 1);
    ck_assert_int_eq(g->n_outputs, 1);
    ck_assert_int_eq(g->outputs[0], ir_value_find(g, "s"));
    ir_graph_free(g);
}
END_TEST

START_TEST(test_parse_file)
{
    char path[] = "/tmp/ppcc_test_text_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("graph \"g\" {\n  input %x: f32[2]\n  %y: f32[2] = Relu(%x)\n  output %y\n}\n", f);
    fclose(f);
    Diag d = {{0}};
    Graph *g = ir_parse_file(path, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert_int_eq(g->n_nodes, 1);
    ir_graph_free(g);
    /* a NUL byte in the file is an error, not a silent truncation */
    f = fopen(path, "wb");
    fwrite("graph \"g\" {\n}\n\0junk", 1, 19, f);
    fclose(f);
    ck_assert_ptr_null(ir_parse_file(path, &d));
    ck_assert_ptr_nonnull(strstr(d.msg, "NUL byte"));
    remove(path);
    ck_assert_ptr_null(ir_parse_file(path, &d));
    ck_assert_ptr_nonnull(strstr(d.msg, "cannot open"));
}
END_TEST

/* ---------------------------------------------------------------- parse errors */

static const struct {
    const char *text;
    const char *pos;  /* "line L:C:" expected prefix */
    const char *what; /* substring of the message */
} bad_inputs[] = {
    {"", "line 1:1:", "expected 'graph', got end of input"},
    {"grap \"g\" {}", "line 1:1:", "expected 'graph'"},
    {"graph \"g\" {", "line 1:12:", "got end of input"},
    {"graph \"g\" {}\n}", "line 2:1:", "expected end of input"},
    {"graph \"g {}", "line 1:7:", "unterminated string"},
    {"graph \"g\" {\n  input %x: f33[1]\n}", "line 2:13:", "unknown dtype 'f33'"},
    {"graph \"g\" {\n  input %x: f32[1,2,3,4,5,6,7,8,9]\n}", "line 2:33:", "rank exceeds IR_MAX_RANK"},
    {"graph \"g\" {\n  input %x: f32[-1]\n}", "line 2:17:", "non-negative"},
    {"graph \"g\" {\n  input %x: f32[99999999999999999999]\n}", "line 2:17:", "too large"},
    {"graph \"g\" {\n  input %x: f32[4294967296,4294967296]\n}", "line 2:28:", "too many elements"},
    {"graph \"g\" {\n  input %x: f32[1.5]\n}", "line 2:17:", "non-negative integer"},
    {"graph \"g\" {\n  input %x: f32[1]\n  input %x: f32[1]\n}", "line 3:9:", "defined twice (first definition at line 2:9)"},
    {"graph \"g\" {\n  %y = Relu(%x)\n}", "line 2:13:", "use of undefined value '%x'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%y)\n}", "line 3:13:", "undefined value '%y'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Frob(%x)\n}", "line 3:8:", "unknown op 'Frob'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y, %y = Split(%x)\n}", "line 3:7:", "defined twice by one node"},
    {"graph \"g\" {\n  const %c: f32[2] = [1.0]\n}", "line 2:22:", "has 1 elements, its shape needs 2"},
    {"graph \"g\" {\n  const %c: f32[1] = [1.0, 2.0]\n}", "line 2:28:", "too many elements"},
    {"graph \"g\" {\n  const %c: u8[1] = [256]\n}", "line 2:22:", "out of range for u8"},
    {"graph \"g\" {\n  const %c: i32[1] = [1.5]\n}", "line 2:23:", "expected an integer"},
    {"graph \"g\" {\n  const %c: f32[1] = [1e39]\n}", "line 2:23:", "out of range for f32"},
    {"graph \"g\" {\n  const %c: f32[1] = [nan(0x7ff8000000000000)]\n}", "line 2:23:", "not a NaN bit pattern of f32"},
    {"graph \"g\" {\n  const %c: f32[1] = [abc]\n}", "line 2:23:", "expected a number, got 'abc'"},
    {"graph \"g\" {\n  const %c: f32[1] = <1 values>\n}", "line 2:22:", "elided constant data"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=1, a=2}\n}", "line 3:23:", "duplicate attribute 'a'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=}\n}", "line 3:20:", "expected an attribute value"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=ints[1.5]}\n}", "line 3:25:", "expected an integer in ints list"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=9223372036854775808}\n}", "line 3:20:", "does not fit in 64 bits"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=\"\\q\"}\n}", "line 3:21:", "unknown escape"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=\"\\x00\"}\n}", "line 3:21:", "NUL character"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x {a=1}\n}", "line 3:16:", "expected ',' or ')' in the input list"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) @\n}", "line 3:18:", "expected a node name after '@', got end of line"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y Relu(%x)\n}", "line 3:6:", "expected ',' or '=' after a node output"},
    {"graph \"g\" {\n  input %\"\": f32[1]\n}", "line 2:9:", "empty value name"},
    {"graph \"g\" {\n  input % x: f32[1]\n}", "line 2:10:", "expected a value name after '%'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  output %nope\n}", "line 3:10:", "undefined value '%nope'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=1.5.5}\n}", "line 3:23:", "expected ',' or '}' after an attribute, got '.5'"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=12abc}\n}", "line 3:20:", "malformed number"},
    {"graph \"g\" {\n  input %x: f32[1]\n  %y = Relu(%x) {a=-nan(0x7ff8000000000001)}\n}", "line 3:20:", "carries its own sign"},
    {"graph \"g\" {\n  $\n}", "line 2:3:", "expected a statement"},
    {"graph \"g\" {\n  const %c: bool[1] = [2]\n}", "line 2:24:", "true, false, 0 or 1"},
    {"graph \"g\" {\n  const %c: u64[1] = [-1]\n}", "line 2:23:", "out of range for u64"},
    {"graph \"g\" {\n  input %x: f32 [1]\n}", "line 2:16:", "expected '[' after the dtype"},
    {"graph \"g\" {\n  input %x: f32[1] <heap+0>\n}", "line 2:21:", "expected a memory placement"},
    {"graph \"g\" {\n  input %x: f32[1] <in0>\n}", "line 2:24:", "expected '+' and a byte offset"},
    {"graph \"g\" {\n  input %x: f32[1] <ws+-8>\n}", "line 2:24:", "bad byte offset '-8'"},
    {"graph \"g\" workspace=1.5 {\n}", "line 1:21:", "bad workspace size '1.5'"},
};

START_TEST(test_parse_errors)
{
    int n = (int)(sizeof bad_inputs / sizeof *bad_inputs), bad = 0;
    for (int i = 0; i < n; i++) {
        Diag d = {{0}};
        Graph *g = ir_parse(bad_inputs[i].text, &d);
        ck_assert_msg(g == NULL, "case %d parsed but should not:\n%s", i, bad_inputs[i].text);
        ck_assert_msg(!strchr(d.msg, '\n'), "case %d: message is not one line", i);
        if (strncmp(d.msg, bad_inputs[i].pos, strlen(bad_inputs[i].pos)) || !strstr(d.msg, bad_inputs[i].what)) {
            fprintf(stderr, "parse error case %d: want '%s ... %s', got '%s'\n", i, bad_inputs[i].pos,
                    bad_inputs[i].what, d.msg);
            bad++;
        }
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* Every prefix of a valid text is either valid or a clean error (never a crash or leak). */
START_TEST(test_parse_truncations)
{
    Graph *g = ir_graph_new("trunc");
    int64_t dims[] = {2};
    int x = ir_value_add(g, "x y", DT_F32, 1, dims);
    ir_graph_add_input(g, x);
    int c = ir_const_add(g, "c", DT_F32, 1, dims, (const float[]){NAN, -0.0f});
    int y = ir_value_add(g, "y", DT_F32, 1, dims);
    int n = ir_node_add(g, OP_ADD, "add", 2, (const int[]){x, c}, 1, &y);
    ir_node_set_floats(g, n, "f", (const double[]){0.1}, 1);
    ir_node_set_str(g, n, "s", "a\"b");
    ir_graph_add_output(g, y);
    char *t = print_str(g, 0);
    size_t len = strlen(t);
    int ok = 0;
    for (size_t k = 0; k < len; k++) {
        char *p = strndup(t, k);
        Diag d = {{0}};
        Graph *h = ir_parse(p, &d);
        if (h) ok++;
        else ck_assert_msg(!strncmp(d.msg, "line ", 5), "prefix %zu: '%s'", k, d.msg);
        ir_graph_free(h);
        free(p);
    }
    ck_assert_int_eq(ok, 1); /* only the text without its final newline is complete */
    free(t);
    ir_graph_free(g);
}
END_TEST

TEST_SUITE(text)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_roundtrip_dtypes);
    tcase_add_test(tc, test_roundtrip_random_bits);
    tcase_add_test(tc, test_print_f32_format);
    tcase_add_test(tc, test_roundtrip_attrs);
    tcase_add_test(tc, test_roundtrip_names);
    tcase_add_test(tc, test_roundtrip_absent_and_multi);
    tcase_add_test(tc, test_roundtrip_memory_plan);
    tcase_add_test(tc, test_print_wrap);
    tcase_add_test(tc, test_print_elide);
    tcase_add_test(tc, test_print_node);
    tcase_add_test(tc, test_parse_compact);
    tcase_add_test(tc, test_parse_file);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_parse_truncations);
    suite_add_tcase(s, tc);
    return s;
}
