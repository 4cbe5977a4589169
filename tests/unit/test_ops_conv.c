/* test_ops_conv.c — unit tests for Conv, ConvTranspose, Gemm and MatMul: shape inference and the
 * reference kernels (ir/shape_conv.c, interp_conv.c, shape_linalg.c, interp_linalg.c,
 * activation.h). Hand-computed cases, then randomised attribute combinations (1-D/2-D/3-D, groups,
 * depthwise, strides, dilations, asymmetric pads, every auto_pad, output_padding/output_shape,
 * fused activations, f32 and f64) against naive loops written here from the ONNX definitions,
 * and the node errors for inconsistent models.
 */
#include "test.h"
#include "ir/activation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ single-node runner */

typedef struct TAttr {
    const char *name;
    char kind; /* 'i' int, 'f' float, 's' string, 'I' ints */
    int64_t i;
    double f;
    const char *s;
    int n;
    int64_t ints[16];
} TAttr;

/* Build a graph with one node of op over the given inputs (NULL = absent optional input), run
 * shape inference and the interpreter. Returns 0 and the outputs, or -1 with d set. */
static int run_node(OpKind op, int nin, Tensor **ins, int nout, Tensor **outs, const TAttr *at, int nat,
                    Diag *d)
{
    Graph *g = ir_graph_new("t");
    int iv[8], ov[8], ng = 0;
    Tensor *gin[8];
    for (int k = 0; k < nin; k++) {
        iv[k] = -1;
        if (!ins[k]) continue;
        iv[k] = ir_value_add(g, NULL, ins[k]->dtype, ins[k]->rank, ins[k]->dims);
        ir_graph_add_input(g, iv[k]);
        gin[ng++] = ins[k];
    }
    for (int k = 0; k < nout; k++) {
        ov[k] = ir_value_add(g, NULL, DT_UNDEF, 0, NULL);
        ir_graph_add_output(g, ov[k]);
        outs[k] = NULL;
    }
    int nd = ir_node_add(g, op, "n0", nin, iv, nout, ov);
    for (int k = 0; k < nat; k++) {
        const TAttr *a = &at[k];
        if (a->kind == 'i') ir_node_set_int(g, nd, a->name, a->i);
        if (a->kind == 'f') ir_node_set_float(g, nd, a->name, a->f);
        if (a->kind == 's') ir_node_set_str(g, nd, a->name, a->s);
        if (a->kind == 'I') ir_node_set_ints(g, nd, a->name, a->ints, a->n);
    }
    int rc = ir_infer_shapes(g, d);
    if (!rc) rc = interp_run(g, gin, outs, NULL, d);
    ir_graph_free(g);
    return rc;
}

static TAttr attr_ints(const char *name, int n, const int64_t *v)
{
    TAttr a = {.name = name, .kind = 'I', .n = n};
    for (int i = 0; i < n; i++) a.ints[i] = v[i];
    return a;
}

static Tensor *tensor_from(DType t, int rank, const int64_t *dims, const double *v)
{
    Tensor *x = tensor_new(t, rank, dims);
    for (int64_t i = 0; v && i < tensor_numel(x); i++) tensor_set_f64(x, i, v[i]);
    return x;
}

static Tensor *tensor_rand(DType t, int rank, const int64_t *dims, unsigned long long *rs)
{
    Tensor *x = tensor_new(t, rank, dims);
    for (int64_t i = 0; i < tensor_numel(x); i++) tensor_set_f64(x, i, test_randf(rs, -1, 1));
    return x;
}

static int irand(unsigned long long *rs, int lo, int hi) /* inclusive */
{
    int v = lo + (int)test_randf(rs, 0, (float)(hi - lo + 1));
    return v > hi ? hi : v;
}

/* Compare shape and values; tolerance relative to the magnitude of the reference. */
static void expect_close(const Tensor *got, const Tensor *want, double tol, const char *what)
{
    ck_assert_msg(got != NULL, "%s: no output", what);
    char a[128], b[128];
    int same = got->rank == want->rank;
    for (int i = 0; same && i < got->rank; i++) same = got->dims[i] == want->dims[i];
    ck_assert_msg(same, "%s: shape %s, expected %s", what, shape_str(got->rank, got->dims, a, sizeof a),
                  shape_str(want->rank, want->dims, b, sizeof b));
    ck_assert_int_eq(got->dtype, want->dtype);
    for (int64_t i = 0; i < tensor_numel(want); i++) {
        double x = tensor_get_f64(got, i), y = tensor_get_f64(want, i);
        ck_assert_msg(fabs(x - y) <= tol * (1 + fabs(y)), "%s: element %lld is %.9g, expected %.9g", what,
                      (long long)i, x, y);
    }
}

/* ------------------------------------------------------------------ naive references */

/* Spatial geometry as the ONNX Conv definition states it (independent of ir_conv_geometry). */
typedef struct RefGeom {
    int ns;
    int64_t in[6], k[6], s[6], dl[6], pb[6], pe[6], out[6];
} RefGeom;

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Conv output dims for auto_pad mode (0 NOTSET, 1 VALID, 2 SAME_UPPER, 3 SAME_LOWER). */
static void ref_conv_geom(RefGeom *r, int mode)
{
    for (int a = 0; a < r->ns; a++) {
        int64_t dk = (r->k[a] - 1) * r->dl[a] + 1;
        if (mode == 1) r->pb[a] = r->pe[a] = 0;
        if (mode >= 2) {
            r->out[a] = ceil_div(r->in[a], r->s[a]);
            int64_t total = (r->out[a] - 1) * r->s[a] + dk - r->in[a];
            if (total < 0) total = 0;
            r->pb[a] = mode == 2 ? total / 2 : total - total / 2;
            r->pe[a] = total - r->pb[a];
        } else {
            r->out[a] = (r->in[a] + r->pb[a] + r->pe[a] - dk) / r->s[a] + 1;
        }
    }
}

/* Row-major offset of coordinates c within dims (ns axes). */
static int64_t ref_offset(int ns, const int64_t *dims, const int64_t *c)
{
    int64_t o = 0;
    for (int a = 0; a < ns; a++) o = o * dims[a] + c[a];
    return o;
}

/* Coordinates of flat index i within dims. */
static void ref_coords(int ns, const int64_t *dims, int64_t i, int64_t *c)
{
    for (int a = ns - 1; a >= 0; a--) c[a] = i % dims[a], i /= dims[a];
}

/* y[n][m][o] = b[m] + sum_{c, t} x[n][g*cg + c][o*s + t*d - pb] * w[m][c][t] (zero outside). */
static Tensor *ref_conv(const Tensor *x, const Tensor *w, const Tensor *b, int64_t group, const RefGeom *r)
{
    int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], cg = C / group, mg = M / group;
    int64_t yd[8] = {N, M};
    for (int a = 0; a < r->ns; a++) yd[2 + a] = r->out[a];
    Tensor *y = tensor_new(x->dtype, r->ns + 2, yd);
    int64_t inpl = shape_numel(r->ns, r->in), outpl = shape_numel(r->ns, r->out),
            kpl = shape_numel(r->ns, r->k);
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < outpl; o++) {
                int64_t oc[6], tc[6], ic[6];
                ref_coords(r->ns, r->out, o, oc);
                double acc = b ? tensor_get_f64(b, m) : 0;
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t t = 0; t < kpl; t++) {
                        ref_coords(r->ns, r->k, t, tc);
                        int inside = 1;
                        for (int a = 0; a < r->ns; a++) {
                            ic[a] = oc[a] * r->s[a] + tc[a] * r->dl[a] - r->pb[a];
                            inside &= ic[a] >= 0 && ic[a] < r->in[a];
                        }
                        if (!inside) continue;
                        acc += tensor_get_f64(x, ((n * C + (m / mg) * cg + c) * inpl) +
                                                     ref_offset(r->ns, r->in, ic)) *
                               tensor_get_f64(w, (m * cg + c) * kpl + t);
                    }
                tensor_set_f64(y, (n * M + m) * outpl + o, acc);
            }
    return y;
}

/* ConvTranspose: y[n][g*mg + m][i*s + t*d - pb] += x[n][g*cg + c][i] * w[g*cg + c][m][t]. */
static Tensor *ref_conv_transpose(const Tensor *x, const Tensor *w, const Tensor *b, int64_t group,
                                  const RefGeom *r)
{
    int64_t N = x->dims[0], C = x->dims[1], cg = C / group, mg = w->dims[1], M = mg * group;
    int64_t yd[8] = {N, M};
    for (int a = 0; a < r->ns; a++) yd[2 + a] = r->out[a];
    int64_t inpl = shape_numel(r->ns, r->in), outpl = shape_numel(r->ns, r->out),
            kpl = shape_numel(r->ns, r->k);
    double *acc = calloc((size_t)(N * M * outpl), sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < inpl; i++)
                for (int64_t m = 0; m < mg; m++)
                    for (int64_t t = 0; t < kpl; t++) {
                        int64_t ic[6], tc[6], oc[6];
                        ref_coords(r->ns, r->in, i, ic);
                        ref_coords(r->ns, r->k, t, tc);
                        int inside = 1;
                        for (int a = 0; a < r->ns; a++) {
                            oc[a] = ic[a] * r->s[a] + tc[a] * r->dl[a] - r->pb[a];
                            inside &= oc[a] >= 0 && oc[a] < r->out[a];
                        }
                        if (!inside) continue;
                        int64_t mo = (c / cg) * mg + m;
                        acc[(n * M + mo) * outpl + ref_offset(r->ns, r->out, oc)] +=
                            tensor_get_f64(x, (n * C + c) * inpl + i) *
                            tensor_get_f64(w, (c * mg + m) * kpl + t);
                    }
    Tensor *y = tensor_new(x->dtype, r->ns + 2, yd);
    for (int64_t i = 0; i < N * M * outpl; i++)
        tensor_set_f64(y, i, acc[i] + (b ? tensor_get_f64(b, (i / outpl) % M) : 0));
    free(acc);
    return y;
}

static const char *const auto_pads[4] = {"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"};

/* ------------------------------------------------------------------ Conv: hand cases */

START_TEST(conv_hand_2x2)
{
    int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 1, 2, 2};
    double xv[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, wv[4] = {1, 1, 1, 1};
    Tensor *in[2] = {tensor_from(DT_F32, 4, xd, xv), tensor_from(DT_F32, 4, wd, wv)}, *y;
    Diag d;
    ck_assert_int_eq(run_node(OP_CONV, 2, in, 1, &y, NULL, 0, &d), 0);
    int64_t yd[4] = {1, 1, 2, 2};
    double yv[4] = {8, 12, 20, 24};
    Tensor *want = tensor_from(DT_F32, 4, yd, yv);
    expect_close(y, want, 0, "2x2 window sums");
    tensor_free(want), tensor_free(y), tensor_free(in[0]), tensor_free(in[1]);
}
END_TEST

/* ONNX's basic_conv_with_padding: 5x5 ramp, 3x3 ones, pads 1. */
START_TEST(conv_hand_padding_bias_relu)
{
    int64_t xd[4] = {1, 1, 5, 5}, wd[4] = {1, 1, 3, 3}, bd[1] = {1};
    double xv[25], wv[9], bv[1] = {-60};
    for (int i = 0; i < 25; i++) xv[i] = i;
    for (int i = 0; i < 9; i++) wv[i] = 1;
    Tensor *in[3] = {tensor_from(DT_F32, 4, xd, xv), tensor_from(DT_F32, 4, wd, wv),
                     tensor_from(DT_F32, 1, bd, bv)};
    TAttr at[2] = {attr_ints("pads", 4, (int64_t[]){1, 1, 1, 1}),
                   {.name = "activation", .kind = 's', .s = "relu"}};
    Tensor *y;
    Diag d;
    ck_assert_int_eq(run_node(OP_CONV, 3, in, 1, &y, at, 2, &d), 0);
    double full[25] = {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                       117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
    for (int i = 0; i < 25; i++) full[i] = full[i] - 60 > 0 ? full[i] - 60 : 0;
    int64_t yd[4] = {1, 1, 5, 5};
    Tensor *want = tensor_from(DT_F32, 4, yd, full);
    expect_close(y, want, 0, "padded conv + bias + relu");
    tensor_free(want), tensor_free(y);
    for (int i = 0; i < 3; i++) tensor_free(in[i]);
}
END_TEST

/* ------------------------------------------------------------------ Conv: randomised */

/* One random Conv case in ns spatial dims; mode = auto_pad index. */
static void conv_random_case(unsigned long long *rs, int ns, DType dt, int mode, int with_act, int it)
{
    RefGeom r = {.ns = ns};
    int64_t group = irand(rs, 1, 3), cg = irand(rs, 1, 3), mg = irand(rs, 1, 3), N = irand(rs, 1, 2);
    for (;;) {
        int ok = 1;
        for (int a = 0; a < ns; a++) {
            r.in[a] = irand(rs, 1, ns == 3 ? 6 : 9);
            r.k[a] = irand(rs, 1, 3);
            r.s[a] = irand(rs, 1, 3);
            r.dl[a] = irand(rs, 1, 2);
            r.pb[a] = irand(rs, 0, 2);
            r.pe[a] = irand(rs, 0, 2);
            int64_t dk = (r.k[a] - 1) * r.dl[a] + 1;
            if (mode == 0) ok &= r.in[a] + r.pb[a] + r.pe[a] >= dk;
            if (mode == 1) ok &= r.in[a] >= dk;
        }
        if (ok) break;
    }
    ref_conv_geom(&r, mode);
    int64_t xd[8] = {N, group * cg}, wd[8] = {group * mg, cg}, bd[1] = {group * mg};
    for (int a = 0; a < ns; a++) xd[2 + a] = r.in[a], wd[2 + a] = r.k[a];
    Tensor *in[3] = {tensor_rand(dt, ns + 2, xd, rs), tensor_rand(dt, ns + 2, wd, rs),
                     irand(rs, 0, 1) ? tensor_rand(dt, 1, bd, rs) : NULL};
    TAttr at[8];
    int nat = 0;
    at[nat++] = (TAttr){.name = "group", .kind = 'i', .i = group};
    at[nat++] = attr_ints("strides", ns, r.s);
    at[nat++] = attr_ints("dilations", ns, r.dl);
    if (mode == 0) {
        int64_t pads[12];
        for (int a = 0; a < ns; a++) pads[a] = r.pb[a], pads[ns + a] = r.pe[a];
        at[nat++] = attr_ints("pads", 2 * ns, pads);
    } else {
        at[nat++] = (TAttr){.name = "auto_pad", .kind = 's', .s = auto_pads[mode]};
    }
    if (irand(rs, 0, 1)) at[nat++] = attr_ints("kernel_shape", ns, r.k);
    Activation act = {ACT_NONE, 0, 0};
    if (with_act) {
        act.kind = (ActKind)irand(rs, ACT_RELU, ACT_COUNT - 1);
        act.alpha = act.kind == ACT_CLIP ? -0.3 : 0.25;
        act.beta = act.kind == ACT_CLIP ? 0.4 : 0.45;
        at[nat++] = (TAttr){.name = "activation", .kind = 's', .s = activation_name(act.kind)};
        at[nat++] = (TAttr){.name = "activation_alpha", .kind = 'f', .f = act.alpha};
        at[nat++] = (TAttr){.name = "activation_beta", .kind = 'f', .f = act.beta};
    }
    Tensor *y;
    Diag d;
    int rc = run_node(OP_CONV, 3, in, 1, &y, at, nat, &d);
    ck_assert_msg(rc == 0, "case %d: %s", it, d.msg);
    Tensor *want = ref_conv(in[0], in[1], in[2], group, &r);
    for (int64_t i = 0; i < tensor_numel(want); i++) {
        double v = tensor_get_f64(want, i);
        if (dt == DT_F32) v = (float)v;
        tensor_set_f64(want, i, activation_apply(&act, v));
    }
    char what[64];
    snprintf(what, sizeof what, "conv case %d (%dD %s %s)", it, ns, dtype_name(dt), auto_pads[mode]);
    expect_close(y, want, dt == DT_F32 ? 2e-6 : 1e-12, what);
    tensor_free(want), tensor_free(y);
    for (int i = 0; i < 3; i++) tensor_free(in[i]);
}

START_TEST(conv_random_vs_naive)
{
    unsigned long long rs = 0x9E3779B97F4A7C15ull;
    for (int it = 0; it < 240; it++)
        conv_random_case(&rs, 1 + it % 3, it % 5 == 4 ? DT_F64 : DT_F32, (it / 3) % 4, it % 7 == 3, it);
}
END_TEST

/* Large enough for several im2col chunks and GEMM row/column tails; plus the pointwise and
 * depthwise paths. */
START_TEST(conv_paths_vs_naive)
{
    unsigned long long rs = 42;
    struct {
        int64_t c, m, group, hw, k, s, p;
    } cases[] = {
        {64, 6, 1, 40, 3, 1, 1}, /* im2col, chunked, row tail */
        {24, 9, 1, 23, 1, 1, 0}, /* pointwise */
        {8, 8, 8, 17, 3, 2, 1},  /* depthwise */
        {6, 12, 6, 15, 5, 1, 2}, /* depthwise, multiplier 2 */
        {1, 5, 1, 19, 3, 1, 0},  /* one input channel */
        {12, 8, 4, 11, 3, 1, 1}, /* grouped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RefGeom r = {.ns = 2};
        for (int a = 0; a < 2; a++) {
            r.in[a] = cases[i].hw + a, r.k[a] = cases[i].k, r.s[a] = cases[i].s, r.dl[a] = 1;
            r.pb[a] = r.pe[a] = cases[i].p;
        }
        ref_conv_geom(&r, 0);
        int64_t xd[4] = {1, cases[i].c, r.in[0], r.in[1]};
        int64_t wd[4] = {cases[i].m, cases[i].c / cases[i].group, r.k[0], r.k[1]}, bd[1] = {cases[i].m};
        Tensor *in[3] = {tensor_rand(DT_F32, 4, xd, &rs), tensor_rand(DT_F32, 4, wd, &rs),
                         tensor_rand(DT_F32, 1, bd, &rs)};
        int64_t pads[4] = {cases[i].p, cases[i].p, cases[i].p, cases[i].p};
        int64_t st[2] = {cases[i].s, cases[i].s};
        TAttr at[3] = {{.name = "group", .kind = 'i', .i = cases[i].group},
                       attr_ints("pads", 4, pads),
                       attr_ints("strides", 2, st)};
        Tensor *y;
        Diag d;
        ck_assert_msg(run_node(OP_CONV, 3, in, 1, &y, at, 3, &d) == 0, "%s", d.msg);
        Tensor *want = ref_conv(in[0], in[1], in[2], cases[i].group, &r);
        expect_close(y, want, 2e-6, "conv path");
        tensor_free(want), tensor_free(y);
        for (int k = 0; k < 3; k++) tensor_free(in[k]);
    }
}
END_TEST

/* f32 results equal the float64 computation rounded once (double accumulation). */
START_TEST(conv_accuracy_vs_f64)
{
    unsigned long long rs = 7;
    int64_t xd[4] = {1, 128, 9, 9}, wd[4] = {16, 128, 3, 3};
    Tensor *x = tensor_rand(DT_F32, 4, xd, &rs), *w = tensor_rand(DT_F32, 4, wd, &rs);
    Tensor *in[2] = {x, w}, *y;
    Diag d;
    TAttr at[1] = {attr_ints("pads", 4, (int64_t[]){1, 1, 1, 1})};
    ck_assert_int_eq(run_node(OP_CONV, 2, in, 1, &y, at, 1, &d), 0);
    RefGeom r = {.ns = 2, .in = {9, 9}, .k = {3, 3}, .s = {1, 1}, .dl = {1, 1}, .pb = {1, 1}, .pe = {1, 1}};
    ref_conv_geom(&r, 0);
    Tensor *want = ref_conv(x, w, NULL, 1, &r); /* accumulates in double */
    for (int64_t i = 0; i < tensor_numel(want); i++) {
        double a = tensor_get_f64(y, i), b = tensor_get_f64(want, i);
        ck_assert_msg(fabs(a - b) <= 6.0e-8 * fabs(b) + 1e-12, "element %lld: %.9g vs %.17g", (long long)i, a,
                      b);
    }
    tensor_free(want), tensor_free(y), tensor_free(x), tensor_free(w);
}
END_TEST

/* ------------------------------------------------------------------ ConvTranspose */

START_TEST(conv_transpose_hand)
{
    /* ONNX's convtranspose test: 3x3 ramp, W 1x2x3x3 ones -> 2 channels of 5x5 */
    int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 2, 3, 3};
    double xv[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, wv[18];
    for (int i = 0; i < 18; i++) wv[i] = 1;
    Tensor *in[2] = {tensor_from(DT_F32, 4, xd, xv), tensor_from(DT_F32, 4, wd, wv)}, *y;
    Diag d;
    ck_assert_int_eq(run_node(OP_CONV_TRANSPOSE, 2, in, 1, &y, NULL, 0, &d), 0);
    double plane[25] = {0,  1,  3, 3,  2,  3,  8,  15, 12, 7,  9,  21, 36,
                        27, 15, 9, 20, 33, 24, 13, 6,  13, 21, 15, 8};
    double yv[50];
    for (int i = 0; i < 50; i++) yv[i] = plane[i % 25];
    int64_t yd[4] = {1, 2, 5, 5};
    Tensor *want = tensor_from(DT_F32, 4, yd, yv);
    expect_close(y, want, 0, "convtranspose");
    tensor_free(want), tensor_free(y), tensor_free(in[0]), tensor_free(in[1]);
}
END_TEST

/* Random ConvTranspose; variant 0 pads, 1 output_shape, 2 SAME_UPPER, 3 SAME_LOWER. */
static void convt_random_case(unsigned long long *rs, int ns, DType dt, int variant, int it)
{
    RefGeom r = {.ns = ns};
    int64_t group = irand(rs, 1, 2), cg = irand(rs, 1, 3), mg = irand(rs, 1, 3), N = irand(rs, 1, 2);
    int64_t opad[6], oshape[6];
    for (int a = 0; a < ns; a++) {
        r.in[a] = irand(rs, 1, ns == 3 ? 4 : 6);
        r.k[a] = irand(rs, 1, 3);
        r.s[a] = irand(rs, 1, 3);
        r.dl[a] = irand(rs, 1, 2);
        opad[a] = irand(rs, 0, (int)r.s[a] - 1);
        int64_t dk = (r.k[a] - 1) * r.dl[a] + 1, full = r.s[a] * (r.in[a] - 1) + opad[a] + dk;
        if (variant == 0) {
            r.pb[a] = irand(rs, 0, 2);
            r.pe[a] = irand(rs, 0, 2);
            while (r.pb[a] + r.pe[a] >= full) r.pb[a] = r.pe[a] = 0;
            r.out[a] = full - r.pb[a] - r.pe[a];
        } else {
            /* output_shape (possibly larger than full) or SAME: out = in * stride */
            r.out[a] = oshape[a] = variant == 1 ? full + irand(rs, -2, 2) : r.in[a] * r.s[a];
            if (r.out[a] < 1) r.out[a] = oshape[a] = 1;
            int64_t total = full - r.out[a];
            int64_t half = (int64_t)floor(total / 2.0);
            r.pb[a] = variant == 2 ? half : total - half;
            r.pe[a] = total - r.pb[a];
        }
    }
    int64_t xd[8] = {N, group * cg}, wd[8] = {group * cg, mg}, bd[1] = {group * mg};
    for (int a = 0; a < ns; a++) xd[2 + a] = r.in[a], wd[2 + a] = r.k[a];
    Tensor *in[3] = {tensor_rand(dt, ns + 2, xd, rs), tensor_rand(dt, ns + 2, wd, rs),
                     irand(rs, 0, 1) ? tensor_rand(dt, 1, bd, rs) : NULL};
    TAttr at[8];
    int nat = 0;
    at[nat++] = (TAttr){.name = "group", .kind = 'i', .i = group};
    at[nat++] = attr_ints("strides", ns, r.s);
    at[nat++] = attr_ints("dilations", ns, r.dl);
    at[nat++] = attr_ints("output_padding", ns, opad);
    if (variant == 0) {
        int64_t pads[12];
        for (int a = 0; a < ns; a++) pads[a] = r.pb[a], pads[ns + a] = r.pe[a];
        at[nat++] = attr_ints("pads", 2 * ns, pads);
    } else if (variant == 1) {
        at[nat++] = attr_ints("output_shape", ns, oshape);
    } else {
        at[nat++] = (TAttr){.name = "auto_pad", .kind = 's', .s = auto_pads[variant]};
    }
    Tensor *y;
    Diag d;
    int rc = run_node(OP_CONV_TRANSPOSE, 3, in, 1, &y, at, nat, &d);
    ck_assert_msg(rc == 0, "case %d: %s", it, d.msg);
    Tensor *want = ref_conv_transpose(in[0], in[1], in[2], group, &r);
    char what[64];
    snprintf(what, sizeof what, "convtranspose case %d (%dD variant %d)", it, ns, variant);
    expect_close(y, want, dt == DT_F32 ? 2e-6 : 1e-12, what);
    tensor_free(want), tensor_free(y);
    for (int i = 0; i < 3; i++) tensor_free(in[i]);
}

START_TEST(conv_transpose_random_vs_naive)
{
    unsigned long long rs = 12345;
    for (int it = 0; it < 160; it++)
        convt_random_case(&rs, 1 + it % 3, it % 4 == 3 ? DT_F64 : DT_F32, (it / 3) % 4, it);
}
END_TEST

/* ------------------------------------------------------------------ Conv errors */

/* Run a Conv-like node whose shape inference must fail with a message containing `needle`. */
static void expect_node_error(OpKind op, int nin, Tensor **in, const TAttr *at, int nat, const char *needle)
{
    Tensor *y[2];
    Diag d = {{0}};
    int rc = run_node(op, nin, in, 1, y, at, nat, &d);
    ck_assert_msg(rc == -1, "expected an error containing '%s'", needle);
    ck_assert_msg(strstr(d.msg, needle) != NULL, "message '%s' lacks '%s'", d.msg, needle);
    ck_assert_msg(strstr(d.msg, "n0") != NULL, "message '%s' does not name the node", d.msg);
}

START_TEST(conv_errors)
{
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 2, 3, 3}, w3[4] = {6, 3, 3, 3}, bd[1] = {5}, w1d[3] = {6, 4, 3};
    Tensor *x = tensor_new(DT_F32, 4, xd), *w = tensor_new(DT_F32, 4, wd), *wbad = tensor_new(DT_F32, 4, w3);
    Tensor *b = tensor_new(DT_F32, 1, bd), *wr = tensor_new(DT_F32, 3, w1d);
    Tensor *xi = tensor_new(DT_I32, 4, xd), *wi = tensor_new(DT_I32, 4, wd);
    TAttr g2 = {.name = "group", .kind = 'i', .i = 2}, g4 = {.name = "group", .kind = 'i', .i = 4};
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, NULL, 0, "channels");   /* 4 != 2*1 */
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, wbad}, &g2, 1, "channels"); /* 4 != 3*2 */
    Tensor *w61 = tensor_new(DT_F32, 4, (int64_t[]){6, 1, 3, 3});
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w61}, &g4, 1, "not divisible by group");
    tensor_free(w61);
    expect_node_error(OP_CONV, 3, (Tensor *[]){x, w, b}, &g2, 1, "bias");
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, wr}, &g2, 1, "rank");
    expect_node_error(OP_CONV, 2, (Tensor *[]){xi, wi}, &g2, 1, "dtype");
    TAttr big[2] = {g2, attr_ints("dilations", 2, (int64_t[]){3, 1})}; /* extent 7 > 5 */
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, big, 2, "larger than the padded input");
    TAttr ks[2] = {g2, attr_ints("kernel_shape", 2, (int64_t[]){2, 3})};
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, ks, 2, "kernel_shape");
    TAttr pads[2] = {g2, attr_ints("pads", 2, (int64_t[]){1, 1})};
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, pads, 2, "pads");
    TAttr ap[2] = {g2, {.name = "auto_pad", .kind = 's', .s = "SAME"}};
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, ap, 2, "auto_pad");
    TAttr st[2] = {g2, attr_ints("strides", 2, (int64_t[]){0, 1})};
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, st, 2, "strides");
    TAttr act[2] = {g2, {.name = "activation", .kind = 's', .s = "swish"}};
    expect_node_error(OP_CONV, 2, (Tensor *[]){x, w}, act, 2, "activation");
    /* ConvTranspose: W's first dim must equal X's channels */
    expect_node_error(OP_CONV_TRANSPOSE, 2, (Tensor *[]){x, w}, NULL, 0, "channels");
    TAttr os[1] = {attr_ints("output_shape", 3, (int64_t[]){1, 2, 3})};
    Tensor *wt = tensor_new(DT_F32, 4, (int64_t[]){4, 2, 3, 3});
    expect_node_error(OP_CONV_TRANSPOSE, 2, (Tensor *[]){x, wt}, os, 1, "output_shape");
    TAttr tp[1] = {attr_ints("pads", 4, (int64_t[]){7, 7, 0, 0})};
    expect_node_error(OP_CONV_TRANSPOSE, 2, (Tensor *[]){x, wt}, tp, 1, "pads");
    tensor_free(x), tensor_free(w), tensor_free(wbad), tensor_free(b), tensor_free(wr), tensor_free(xi);
    tensor_free(wi), tensor_free(wt);
}
END_TEST

/* ------------------------------------------------------------------ Gemm */

/* Y = alpha * op(A) op(B) + beta * C, C broadcast from (cm, cn). */
static Tensor *ref_gemm(const Tensor *A, const Tensor *B, const Tensor *C, int ta, int tb, double alpha,
                        double beta)
{
    int64_t M = ta ? A->dims[1] : A->dims[0], K = ta ? A->dims[0] : A->dims[1],
            N = tb ? B->dims[0] : B->dims[1];
    int64_t yd[2] = {M, N};
    Tensor *y = tensor_new(A->dtype, 2, yd);
    int64_t cm = C && C->rank == 2 ? C->dims[0] : 1, cn = C && C->rank >= 1 ? C->dims[C->rank - 1] : 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += tensor_get_f64(A, ta ? k * M + i : i * K + k) *
                     tensor_get_f64(B, tb ? j * K + k : k * N + j);
            double c = C ? tensor_get_f64(C, (cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)) : 0;
            tensor_set_f64(y, i * N + j, alpha * s + beta * c);
        }
    return y;
}

START_TEST(gemm_random_vs_naive)
{
    unsigned long long rs = 99;
    for (int it = 0; it < 96; it++) {
        int ta = it & 1, tb = (it >> 1) & 1, cform = (it >> 2) % 8;
        DType dt = it % 5 == 0 ? DT_F64 : DT_F32;
        int64_t M = irand(&rs, 1, 9), K = irand(&rs, 1, 300), N = irand(&rs, 1, 21);
        if (it % 11 == 0) M = 1, N = 37;  /* vector-matrix, as after Flatten */
        if (it % 13 == 1) M = 45, N = 19; /* many rows: transB copies B instead of dot products */
        int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N};
        /* C forms: none, scalar, [1], [N], [M,1], [1,N], [M,N], [1,1] */
        int64_t cdims[8][2] = {{0}, {0}, {1}, {N}, {M, 1}, {1, N}, {M, N}, {1, 1}};
        int crank[8] = {-1, 0, 1, 1, 2, 2, 2, 2};
        Tensor *A = tensor_rand(dt, 2, ad, &rs), *B = tensor_rand(dt, 2, bd, &rs);
        Tensor *C = crank[cform] >= 0 ? tensor_rand(dt, crank[cform], cdims[cform], &rs) : NULL;
        double alpha = it % 3 ? 1.0 : 0.75, beta = it % 4 == 1 ? 0.0 : it % 4 == 2 ? -2.0 : 1.0;
        TAttr at[4] = {{.name = "transA", .kind = 'i', .i = ta},
                       {.name = "transB", .kind = 'i', .i = tb},
                       {.name = "alpha", .kind = 'f', .f = alpha},
                       {.name = "beta", .kind = 'f', .f = beta}};
        Tensor *in[3] = {A, B, C}, *y;
        Diag d;
        ck_assert_msg(run_node(OP_GEMM, 3, in, 1, &y, at, 4, &d) == 0, "gemm case %d: %s", it, d.msg);
        Tensor *want = ref_gemm(A, B, C, ta, tb, alpha, beta);
        expect_close(y, want, dt == DT_F32 ? 2e-6 : 1e-12, "gemm");
        tensor_free(y), tensor_free(want), tensor_free(A), tensor_free(B), tensor_free(C);
    }
}
END_TEST

START_TEST(gemm_hand_activation_int)
{
    int64_t ad[2] = {2, 3}, bd[2] = {3, 2}, cd[1] = {2};
    double av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {1, -1, 0, 1, -1, 0.5}, cv[2] = {0.5, -10};
    /* A*B = [[1*1+2*0+3*-1, -1+2+1.5], [4-6, -4+5+3]] = [[-2, 2.5], [-2, 4]] */
    Tensor *in[3] = {tensor_from(DT_F32, 2, ad, av), tensor_from(DT_F32, 2, bd, bv),
                     tensor_from(DT_F32, 1, cd, cv)};
    TAttr at[2] = {{.name = "activation", .kind = 's', .s = "leaky_relu"},
                   {.name = "activation_alpha", .kind = 'f', .f = 0.5}};
    Tensor *y;
    Diag d;
    ck_assert_int_eq(run_node(OP_GEMM, 3, in, 1, &y, at, 2, &d), 0);
    int64_t yd[2] = {2, 2};
    double yv[4] = {-0.75, -3.75, -0.75, -3};
    Tensor *want = tensor_from(DT_F32, 2, yd, yv);
    expect_close(y, want, 0, "gemm + leaky_relu");
    tensor_free(y), tensor_free(want);
    for (int i = 0; i < 3; i++) tensor_free(in[i]);

    /* integer Gemm: exact, alpha 2, beta 3 */
    double bi[6] = {1, -1, 0, 1, -1, 2}, ci[2] = {1, -10};
    Tensor *ii[3] = {tensor_from(DT_I32, 2, ad, av), tensor_from(DT_I32, 2, bd, bi),
                     tensor_from(DT_I32, 1, cd, ci)};
    TAttr ab[2] = {{.name = "alpha", .kind = 'f', .f = 2}, {.name = "beta", .kind = 'f', .f = 3}};
    ck_assert_int_eq(run_node(OP_GEMM, 3, ii, 1, &y, ab, 2, &d), 0);
    double yi[4] = {2 * -2 + 3, 2 * 7 - 30, 2 * -2 + 3, 2 * 13 - 30};
    want = tensor_from(DT_I32, 2, yd, yi);
    expect_close(y, want, 0, "integer gemm");
    tensor_free(y), tensor_free(want);
    for (int i = 0; i < 3; i++) tensor_free(ii[i]);
}
END_TEST

START_TEST(gemm_errors)
{
    Tensor *a = tensor_new(DT_F32, 2, (int64_t[]){3, 4}), *b = tensor_new(DT_F32, 2, (int64_t[]){5, 6});
    Tensor *b2 = tensor_new(DT_F32, 2, (int64_t[]){4, 6}), *c = tensor_new(DT_F32, 1, (int64_t[]){4});
    Tensor *a3 = tensor_new(DT_F32, 3, (int64_t[]){1, 3, 4}), *bi = tensor_new(DT_I64, 2, (int64_t[]){4, 6});
    expect_node_error(OP_GEMM, 2, (Tensor *[]){a, b}, NULL, 0, "inner dimensions");
    expect_node_error(OP_GEMM, 3, (Tensor *[]){a, b2, c}, NULL, 0, "broadcast");
    expect_node_error(OP_GEMM, 2, (Tensor *[]){a3, b2}, NULL, 0, "2-D");
    expect_node_error(OP_GEMM, 2, (Tensor *[]){a, bi}, NULL, 0, "B is i64");
    TAttr tb = {.name = "transB", .kind = 'i', .i = 1};
    expect_node_error(OP_GEMM, 2, (Tensor *[]){a, b2}, &tb, 1, "inner dimensions");
    tensor_free(a), tensor_free(b), tensor_free(b2), tensor_free(c), tensor_free(a3), tensor_free(bi);
}
END_TEST

/* ------------------------------------------------------------------ MatMul */

/* numpy matmul of A and B into a tensor of the expected shape (computed here). */
static Tensor *ref_matmul(const Tensor *A, const Tensor *B)
{
    int ra = A->rank, rb = B->rank;
    int64_t M = ra >= 2 ? A->dims[ra - 2] : 1, K = A->dims[ra - 1], N = rb >= 2 ? B->dims[rb - 1] : 1;
    int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0, nb = nba > nbb ? nba : nbb;
    int64_t bdims[8], yd[8];
    int r = 0;
    for (int i = 0; i < nb; i++) {
        int64_t da = i - (nb - nba) >= 0 ? A->dims[i - (nb - nba)] : 1;
        int64_t db = i - (nb - nbb) >= 0 ? B->dims[i - (nb - nbb)] : 1;
        bdims[i] = da > db ? da : db;
        yd[r++] = bdims[i];
    }
    if (ra >= 2) yd[r++] = M;
    if (rb >= 2) yd[r++] = N;
    Tensor *y = tensor_new(A->dtype, r, yd);
    int64_t nbt = shape_numel(nb, bdims);
    for (int64_t bi = 0; bi < nbt; bi++) {
        int64_t c[8], oa = 0, ob = 0;
        ref_coords(nb, bdims, bi, c);
        for (int i = 0; i < nb; i++) {
            int ia = i - (nb - nba), ib = i - (nb - nbb);
            if (ia >= 0) oa = oa * A->dims[ia] + (A->dims[ia] == 1 ? 0 : c[i]);
            if (ib >= 0) ob = ob * B->dims[ib] + (B->dims[ib] == 1 ? 0 : c[i]);
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s +=
                        tensor_get_f64(A, oa * M * K + i * K + k) * tensor_get_f64(B, ob * K * N + k * N + j);
                tensor_set_f64(y, bi * M * N + i * N + j, s);
            }
    }
    return y;
}

START_TEST(matmul_shapes_vs_naive)
{
    unsigned long long rs = 5;
    struct {
        int ra;
        int64_t a[5];
        int rb;
        int64_t b[5];
    } cases[] = {
        {2, {3, 4}, 2, {4, 5}},
        {1, {4}, 2, {4, 5}},
        {2, {3, 4}, 1, {4}},
        {1, {7}, 1, {7}},
        {3, {2, 3, 4}, 2, {4, 5}},
        {2, {3, 4}, 3, {2, 4, 5}},
        {4, {2, 1, 3, 4}, 3, {5, 4, 2}},
        {3, {1, 3, 4}, 3, {6, 4, 2}},
        {1, {4}, 3, {2, 4, 3}},
        {3, {2, 3, 9}, 1, {9}},
        {2, {13, 260}, 2, {260, 17}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 0; t < 3; t++) {
            DType dt = t == 0 ? DT_F32 : t == 1 ? DT_F64 : DT_I64;
            Tensor *A = tensor_rand(dt, cases[i].ra, cases[i].a, &rs),
                   *B = tensor_rand(dt, cases[i].rb, cases[i].b, &rs);
            if (dt == DT_I64)
                for (int64_t k = 0; k < tensor_numel(A); k++) tensor_set_i64(A, k, irand(&rs, -5, 5));
            if (dt == DT_I64)
                for (int64_t k = 0; k < tensor_numel(B); k++) tensor_set_i64(B, k, irand(&rs, -5, 5));
            Tensor *in[2] = {A, B}, *y;
            Diag d;
            ck_assert_msg(run_node(OP_MATMUL, 2, in, 1, &y, NULL, 0, &d) == 0, "matmul case %zu: %s", i,
                          d.msg);
            Tensor *want = ref_matmul(A, B);
            expect_close(y, want, dt == DT_F32 ? 2e-6 : dt == DT_F64 ? 1e-12 : 0, "matmul");
            tensor_free(y), tensor_free(want), tensor_free(A), tensor_free(B);
        }
}
END_TEST

START_TEST(matmul_errors)
{
    Tensor *a = tensor_new(DT_F32, 2, (int64_t[]){3, 4}), *b = tensor_new(DT_F32, 2, (int64_t[]){5, 6});
    Tensor *a3 = tensor_new(DT_F32, 3, (int64_t[]){2, 3, 4}),
           *b3 = tensor_new(DT_F32, 3, (int64_t[]){3, 4, 6});
    Tensor *bd = tensor_new(DT_F64, 2, (int64_t[]){4, 6});
    expect_node_error(OP_MATMUL, 2, (Tensor *[]){a, b}, NULL, 0, "inner dimensions");
    expect_node_error(OP_MATMUL, 2, (Tensor *[]){a3, b3}, NULL, 0, "broadcast");
    expect_node_error(OP_MATMUL, 2, (Tensor *[]){a, bd}, NULL, 0, "B is f64");
    tensor_free(a), tensor_free(b), tensor_free(a3), tensor_free(b3), tensor_free(bd);
}
END_TEST

/* interp_gemm_f32 on odd sizes with leading dimensions wider than the matrices. */
START_TEST(gemm_kernel_strided)
{
    unsigned long long rs = 77;
    int64_t M = 7, N = 269, K = 300, lda = 311, ldb = 281, ldc = 275;
    float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * ldb);
    double *C = malloc(sizeof(double) * M * ldc);
    for (int64_t i = 0; i < M * lda; i++) A[i] = test_randf(&rs, -1, 1);
    for (int64_t i = 0; i < K * ldb; i++) B[i] = test_randf(&rs, -1, 1);
    for (int64_t i = 0; i < M * ldc; i++) C[i] = 0.5;
    interp_gemm_f32(M, N, K, A, lda, B, ldb, C, ldc);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            double s = 0.5;
            for (int64_t k = 0; j < N && k < K; k++) s += (double)A[i * lda + k] * B[k * ldb + j];
            ck_assert_msg(fabs(C[i * ldc + j] - s) <= 1e-12, "C[%lld][%lld]", (long long)i, (long long)j);
        }
    free(A), free(B), free(C);
}
END_TEST

TEST_SUITE(ops_conv)
{
    Suite *s = suite_create("ops_conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv_hand_2x2);
    tcase_add_test(tc, conv_hand_padding_bias_relu);
    tcase_add_test(tc, conv_random_vs_naive);
    tcase_add_test(tc, conv_paths_vs_naive);
    tcase_add_test(tc, conv_accuracy_vs_f64);
    tcase_add_test(tc, conv_transpose_hand);
    tcase_add_test(tc, conv_transpose_random_vs_naive);
    tcase_add_test(tc, conv_errors);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("linalg");
    tcase_set_timeout(tl, 60);
    tcase_add_test(tl, gemm_random_vs_naive);
    tcase_add_test(tl, gemm_hand_activation_int);
    tcase_add_test(tl, gemm_errors);
    tcase_add_test(tl, matmul_shapes_vs_naive);
    tcase_add_test(tl, matmul_errors);
    tcase_add_test(tl, gemm_kernel_strided);
    suite_add_tcase(s, tl);
    return s;
}
