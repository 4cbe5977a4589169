/* test_ops_elementwise.c — unit tests for the elementwise ops: shape inference
 * (shape_elementwise.c) and interpreter kernels (interp_elementwise.c, interp_binary.c).
 * Each test builds a one-node IR graph, runs shape inference and the interpreter and compares
 * against hand-computed values, numpy values (the unary table) or ONNX conformance data
 * (cases named after /usr/share/libonnx-testdata/data/node/<test>).
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */
static Tensor *mk(DType t, int rank, const int64_t *dims, const double *vals)
{
    Tensor *x = tensor_new(t, rank, dims);
    for (int64_t i = 0; i < tensor_numel(x); i++) tensor_set_f64(x, i, vals[i]);
    return x;
}

static Tensor *mk_i(DType t, int rank, const int64_t *dims, const int64_t *vals)
{
    Tensor *x = tensor_new(t, rank, dims);
    for (int64_t i = 0; i < tensor_numel(x); i++) tensor_set_i64(x, i, vals[i]);
    return x;
}

/* A graph with one node `op` named "n0" reading the given tensors as graph inputs. */
static Graph *one_node(OpKind op, int n_in, Tensor **ins, int n_out)
{
    Graph *g = ir_graph_new("t");
    int in[8], out[8];
    for (int k = 0; k < n_in; k++) {
        in[k] = ir_value_add(g, NULL, ins[k]->dtype, ins[k]->rank, ins[k]->dims);
        ir_graph_add_input(g, in[k]);
    }
    for (int k = 0; k < n_out; k++) {
        out[k] = ir_value_add(g, NULL, DT_UNDEF, 0, NULL);
        ir_graph_add_output(g, out[k]);
    }
    ir_node_add(g, op, "n0", n_in, in, n_out, out);
    return g;
}

/* Infer and run; returns 0 and fills outs, or -1 with d set. */
static int run(Graph *g, Tensor **ins, Tensor **outs, Diag *d)
{
    if (ir_infer_shapes(g, d)) return -1;
    return interp_run(g, ins, outs, NULL, d);
}

static void free_all(Graph *g, Tensor **ins, int n_in, Tensor **outs, int n_out)
{
    for (int k = 0; k < n_in; k++) tensor_free(ins[k]);
    for (int k = 0; k < n_out; k++) tensor_free(outs[k]);
    ir_graph_free(g);
}

static void expect_vals(const Tensor *t, const double *e, int64_t n, double tol)
{
    ck_assert_int_eq(tensor_numel(t), n);
    for (int64_t i = 0; i < n; i++) {
        double v = tensor_get_f64(t, i);
        if (isnan(e[i])) {
            ck_assert_msg(isnan(v), "element %lld: expected NaN, got %g", (long long)i, v);
            continue;
        }
        double lim = tol * (1 + fabs(e[i]));
        ck_assert_msg(fabs(v - e[i]) <= lim, "element %lld: expected %.9g, got %.9g", (long long)i, e[i], v);
    }
}

static void expect_ints(const Tensor *t, const int64_t *e, int64_t n)
{
    ck_assert_int_eq(tensor_numel(t), n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(tensor_get_i64(t, i) == e[i], "element %lld: expected %lld, got %lld", (long long)i,
                      (long long)e[i], (long long)tensor_get_i64(t, i));
}

static void expect_shape(const Tensor *t, int rank, const int64_t *dims)
{
    ck_assert_int_eq(t->rank, rank);
    for (int i = 0; i < rank; i++) ck_assert_int_eq(t->dims[i], dims[i]);
}

/* Run a unary op on f32 (or f64) input; compare with expected values. */
static void check_unary(OpKind op, DType t, const double *x, int n, const double *e, double tol)
{
    int64_t dims[1] = {n};
    Tensor *in[1] = {mk(t, 1, dims, x)}, *out[1] = {0};
    Graph *g = one_node(op, 1, in, 1);
    Diag d;
    ck_assert_msg(run(g, in, out, &d) == 0, "%s: %s", ir_op_name(op), d.msg);
    ck_assert_int_eq(out[0]->dtype, t);
    expect_vals(out[0], e, n, tol);
    free_all(g, in, 1, out, 1);
}

/* ---------------------------------------------------------------- unary */
static const double X[7] = {-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5};
static const double POS[5] = {0.25, 0.5, 1.0, 2.0, 10.0};
static const double UNIT[5] = {-0.9, -0.5, 0.0, 0.5, 0.9};
static const double BIG[5] = {1.0, 1.5, 2.0, 5.0, 10.0};

/* Expected values from numpy (float64), default attributes. */
static const struct {
    OpKind op;
    const double *x;
    double e[7];
} unary_cases[] = {
    {OP_RELU, X, {0, 0, 0, 0, 0.5, 1, 2.5}},
    {OP_SIGMOID, X, {0.07585818, 0.268941421, 0.377540669, 0.5, 0.622459331, 0.731058579, 0.92414182}},
    {OP_TANH, X, {-0.986614298, -0.761594156, -0.462117157, 0, 0.462117157, 0.761594156, 0.986614298}},
    {OP_HARD_SWISH, X, {-0.208333333, -0.333333333, -0.208333333, 0, 0.291666667, 0.666666667, 2.29166667}},
    {OP_ELU, X, {-0.917915001, -0.632120559, -0.39346934, 0, 0.5, 1, 2.5}},
    {OP_SELU, X, {-1.61378576, -1.11133074, -0.69175819, 0, 0.525350511, 1.05070102, 2.62675256}}, /* ONNX float defaults */
    {OP_CELU, X, {-0.917915001, -0.632120559, -0.39346934, 0, 0.5, 1, 2.5}},
    {OP_THRESHOLDED_RELU, X, {0, 0, 0, 0, 0, 0, 2.5}},
    {OP_SOFTPLUS, X, {0.0788897343, 0.313261688, 0.474076984, 0.693147181, 0.974076984, 1.31326169, 2.57888973}},
    {OP_SOFTSIGN, X, {-0.714285714, -0.5, -0.333333333, 0, 0.333333333, 0.5, 0.714285714}},
    {OP_MISH, X, {-0.196816204, -0.303401461, -0.220743775, 0, 0.375245211, 0.865098388, 2.4713923}},
    {OP_SHRINK, X, {-2.5, -1, 0, 0, 0, 1, 2.5}},
    {OP_ERF, X, {-0.999593048, -0.842700793, -0.520499878, 0, 0.520499878, 0.842700793, 0.999593048}},
    {OP_EXP, X, {0.0820849986, 0.367879441, 0.60653066, 1, 1.64872127, 2.71828183, 12.182494}},
    {OP_NEG, X, {2.5, 1, 0.5, -0, -0.5, -1, -2.5}},
    {OP_ABS, X, {2.5, 1, 0.5, 0, 0.5, 1, 2.5}},
    {OP_FLOOR, X, {-3, -1, -1, 0, 0, 1, 2}},
    {OP_CEIL, X, {-2, -1, -0, 0, 1, 1, 3}},
    {OP_ROUND, X, {-2, -1, -0, 0, 0, 1, 2}},
    {OP_SIGN, X, {-1, -1, -1, 0, 1, 1, 1}},
    {OP_SIN, X, {-0.598472144, -0.841470985, -0.479425539, 0, 0.479425539, 0.841470985, 0.598472144}},
    {OP_COS, X, {-0.801143616, 0.540302306, 0.877582562, 1, 0.877582562, 0.540302306, -0.801143616}},
    {OP_TAN, X, {0.747022297, -1.55740772, -0.54630249, 0, 0.54630249, 1.55740772, -0.747022297}},
    {OP_ATAN, X, {-1.19028995, -0.785398163, -0.463647609, 0, 0.463647609, 0.785398163, 1.19028995}},
    {OP_SINH, X, {-6.05020448, -1.17520119, -0.521095305, 0, 0.521095305, 1.17520119, 6.05020448}},
    {OP_COSH, X, {6.13228948, 1.54308063, 1.12762597, 1, 1.12762597, 1.54308063, 6.13228948}},
    {OP_ASINH, X, {-1.64723115, -0.881373587, -0.481211825, 0, 0.481211825, 0.881373587, 1.64723115}},
    {OP_LOG, POS, {-1.38629436, -0.693147181, 0, 0.693147181, 2.30258509}},
    {OP_SQRT, POS, {0.5, 0.707106781, 1, 1.41421356, 3.16227766}},
    {OP_RECIPROCAL, POS, {4, 2, 1, 0.5, 0.1}},
    {OP_ASIN, UNIT, {-1.11976951, -0.523598776, 0, 0.523598776, 1.11976951}},
    {OP_ACOS, UNIT, {2.69056584, 2.0943951, 1.57079633, 1.04719755, 0.451026812}},
    {OP_ATANH, UNIT, {-1.47221949, -0.549306144, 0, 0.549306144, 1.47221949}},
    {OP_ACOSH, BIG, {0, 0.96242365, 1.3169579, 2.29243167, 2.99322285}},
};

START_TEST(unary_table_f32_f64)
{
    for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++) {
        int n = unary_cases[c].x == X ? 7 : 5;
        check_unary(unary_cases[c].op, DT_F32, unary_cases[c].x, n, unary_cases[c].e, 2e-6);
        check_unary(unary_cases[c].op, DT_F64, unary_cases[c].x, n, unary_cases[c].e, 2e-8);
    }
}
END_TEST

START_TEST(unary_round_half_even_and_nan)
{
    const double x[8] = {0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, NAN, -2.6};
    const double e[8] = {0, 2, 2, -0.0, -2, 2, NAN, -3};
    check_unary(OP_ROUND, DT_F32, x, 8, e, 0);
    const double xr[3] = {NAN, -1, 1};
    const double er[3] = {NAN, 0, 1};
    check_unary(OP_RELU, DT_F32, xr, 3, er, 0);
}
END_TEST

/* Unary op with attributes set by the caller. */
static Tensor *unary_attr(OpKind op, DType t, const double *x, int n, Graph **gp, Tensor **inp)
{
    int64_t dims[1] = {n};
    inp[0] = mk(t, 1, dims, x);
    *gp = one_node(op, 1, inp, 1);
    return inp[0];
}

START_TEST(unary_attributes)
{
    Graph *g;
    Tensor *in[1], *out[1] = {0};
    Diag d;
    /* LeakyRelu default alpha 0.01, then alpha 0.1 */
    unary_attr(OP_LEAKY_RELU, DT_F32, X, 7, &g, in);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e1[7] = {-0.025, -0.01, -0.005, 0, 0.5, 1, 2.5};
    expect_vals(out[0], e1, 7, 1e-6);
    free_all(g, in, 1, out, 1);
    unary_attr(OP_LEAKY_RELU, DT_F32, X, 7, &g, in);
    ir_node_set_float(g, 0, "alpha", 0.1);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e2[7] = {-0.25, -0.1, -0.05, 0, 0.5, 1, 2.5};
    expect_vals(out[0], e2, 7, 1e-6);
    free_all(g, in, 1, out, 1);
    /* HardSigmoid default (0.2, 0.5) and custom */
    unary_attr(OP_HARD_SIGMOID, DT_F32, X, 7, &g, in);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e3[7] = {0, 0.3, 0.4, 0.5, 0.6, 0.7, 1};
    expect_vals(out[0], e3, 7, 1e-6);
    free_all(g, in, 1, out, 1);
    unary_attr(OP_HARD_SIGMOID, DT_F64, X, 7, &g, in);
    ir_node_set_float(g, 0, "alpha", 0.5);
    ir_node_set_float(g, 0, "beta", 0.6);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e4[7] = {0, 0.1, 0.35, 0.6, 0.85, 1, 1};
    expect_vals(out[0], e4, 7, 1e-12);
    free_all(g, in, 1, out, 1);
    /* Elu alpha 2, ThresholdedRelu alpha 0.4, Celu alpha 2 */
    unary_attr(OP_ELU, DT_F64, X, 7, &g, in);
    ir_node_set_float(g, 0, "alpha", 2);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e5[7] = {2 * (exp(-2.5) - 1), 2 * (exp(-1) - 1), 2 * (exp(-0.5) - 1), 0, 0.5, 1, 2.5};
    expect_vals(out[0], e5, 7, 1e-12);
    free_all(g, in, 1, out, 1);
    unary_attr(OP_THRESHOLDED_RELU, DT_F32, X, 7, &g, in);
    ir_node_set_float(g, 0, "alpha", 0.4);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e6[7] = {0, 0, 0, 0, 0.5, 1, 2.5};
    expect_vals(out[0], e6, 7, 0);
    free_all(g, in, 1, out, 1);
    unary_attr(OP_CELU, DT_F64, X, 7, &g, in);
    ir_node_set_float(g, 0, "alpha", 2);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e7[7] = {2 * (exp(-1.25) - 1), 2 * (exp(-0.5) - 1), 2 * (exp(-0.25) - 1), 0, 0.5, 1, 2.5};
    expect_vals(out[0], e7, 7, 1e-12);
    free_all(g, in, 1, out, 1);
    /* Shrink bias 1.5 lambd 1 (test_shrink_soft style) */
    unary_attr(OP_SHRINK, DT_F32, X, 7, &g, in);
    ir_node_set_float(g, 0, "bias", 1.5);
    ir_node_set_float(g, 0, "lambd", 1.0);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e8[7] = {-1, 0, 0, 0, 0, 0, 1};
    expect_vals(out[0], e8, 7, 1e-6);
    free_all(g, in, 1, out, 1);
    /* Selu custom */
    unary_attr(OP_SELU, DT_F64, X, 7, &g, in);
    ir_node_set_float(g, 0, "alpha", 2);
    ir_node_set_float(g, 0, "gamma", 3);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e9[7] = {3 * (2 * exp(-2.5) - 2), 3 * (2 * exp(-1) - 2), 3 * (2 * exp(-0.5) - 2), 0, 1.5, 3, 7.5};
    expect_vals(out[0], e9, 7, 1e-12);
    free_all(g, in, 1, out, 1);
}
END_TEST

START_TEST(unary_clip)
{
    Graph *g;
    Tensor *in[1], *out[1] = {0};
    Diag d;
    const double x[6] = {-3, -1, 0, 1, 3, NAN};
    /* no bounds: identity */
    unary_attr(OP_CLIP, DT_F32, x, 6, &g, in);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    expect_vals(out[0], x, 6, 0);
    free_all(g, in, 1, out, 1);
    /* min only, max only, both */
    unary_attr(OP_CLIP, DT_F32, x, 6, &g, in);
    ir_node_set_float(g, 0, "min", -1.5);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e1[6] = {-1.5, -1, 0, 1, 3, NAN};
    expect_vals(out[0], e1, 6, 0);
    free_all(g, in, 1, out, 1);
    unary_attr(OP_CLIP, DT_F64, x, 6, &g, in);
    ir_node_set_float(g, 0, "max", 0.5);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e2[6] = {-3, -1, 0, 0.5, 0.5, NAN};
    expect_vals(out[0], e2, 6, 0);
    free_all(g, in, 1, out, 1);
    /* min > max: everything becomes max (ONNX) */
    unary_attr(OP_CLIP, DT_F32, x, 5, &g, in);
    ir_node_set_float(g, 0, "min", 2);
    ir_node_set_float(g, 0, "max", 1);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e3[5] = {1, 1, 1, 1, 1};
    expect_vals(out[0], e3, 5, 0);
    free_all(g, in, 1, out, 1);
    /* int8 with min = -1, max 100 (bounds given as ints) */
    const int64_t xi[5] = {-128, -5, 0, 7, 127};
    int64_t dims[1] = {5};
    in[0] = mk_i(DT_I8, 1, dims, xi);
    g = one_node(OP_CLIP, 1, in, 1);
    ir_node_set_int(g, 0, "min", -1);
    ir_node_set_float(g, 0, "max", 100);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    ck_assert_int_eq(out[0]->dtype, DT_I8);
    const int64_t ei[5] = {-1, -1, 0, 7, 100};
    expect_ints(out[0], ei, 5);
    free_all(g, in, 1, out, 1);
    /* u8 with max only */
    const int64_t xu[4] = {0, 5, 200, 255};
    int64_t d4[1] = {4};
    in[0] = mk_i(DT_U8, 1, d4, xu);
    g = one_node(OP_CLIP, 1, in, 1);
    ir_node_set_float(g, 0, "max", 100);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const int64_t eu[4] = {0, 5, 100, 100};
    expect_ints(out[0], eu, 4);
    free_all(g, in, 1, out, 1);
}
END_TEST

START_TEST(unary_integer_ops)
{
    int64_t dims[1] = {5};
    const int64_t x[5] = {-128, -3, 0, 4, 127};
    const struct {
        OpKind op;
        DType t;
        int64_t e[5];
    } cases[] = {
        {OP_RELU, DT_I8, {0, 0, 0, 4, 127}},
        {OP_ABS, DT_I8, {-128, 3, 0, 4, 127}}, /* |-128| wraps in int8, as numpy */
        {OP_NEG, DT_I8, {-128, 3, 0, -4, -127}},
        {OP_SIGN, DT_I8, {-1, -1, 0, 1, 1}},
        {OP_ABS, DT_I64, {128, 3, 0, 4, 127}},
        {OP_NEG, DT_I32, {128, 3, 0, -4, -127}},
        {OP_IDENTITY, DT_I64, {-128, -3, 0, 4, 127}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Tensor *in[1] = {mk_i(cases[c].t, 1, dims, x)}, *out[1] = {0};
        Graph *g = one_node(cases[c].op, 1, in, 1);
        Diag d;
        ck_assert_msg(run(g, in, out, &d) == 0, "%s", d.msg);
        ck_assert_int_eq(out[0]->dtype, cases[c].t);
        expect_ints(out[0], cases[c].e, 5);
        free_all(g, in, 1, out, 1);
    }
    /* INT64_MIN negation wraps instead of being undefined */
    const int64_t xm[2] = {INT64_MIN, INT64_MAX};
    int64_t d2[1] = {2};
    Tensor *in[1] = {mk_i(DT_I64, 1, d2, xm)}, *out[1] = {0};
    Graph *g = one_node(OP_NEG, 1, in, 1);
    Diag d;
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const int64_t em[2] = {INT64_MIN, -INT64_MAX};
    expect_ints(out[0], em, 2);
    free_all(g, in, 1, out, 1);
}
END_TEST

START_TEST(unary_not_identity_bool)
{
    int64_t dims[2] = {2, 2};
    const int64_t x[4] = {1, 0, 0, 1};
    Tensor *in[1] = {mk_i(DT_BOOL, 2, dims, x)}, *out[1] = {0};
    Graph *g = one_node(OP_NOT, 1, in, 1);
    Diag d;
    ck_assert_int_eq(run(g, in, out, &d), 0);
    ck_assert_int_eq(out[0]->dtype, DT_BOOL);
    expect_shape(out[0], 2, dims);
    const int64_t e[4] = {0, 1, 1, 0};
    expect_ints(out[0], e, 4);
    free_all(g, in, 1, out, 1);
    /* Identity keeps any dtype */
    in[0] = mk_i(DT_BOOL, 2, dims, x);
    g = one_node(OP_IDENTITY, 1, in, 1);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    expect_ints(out[0], x, 4);
    free_all(g, in, 1, out, 1);
}
END_TEST

START_TEST(unary_dtype_errors)
{
    int64_t dims[1] = {2};
    const double x[2] = {1, 2};
    const struct {
        OpKind op;
        DType t;
    } bad[] = {{OP_SIGMOID, DT_I32}, {OP_NOT, DT_F32}, {OP_EXP, DT_BOOL}, {OP_RELU, DT_BOOL},
               {OP_IS_NAN, DT_I32}, {OP_DROPOUT, DT_I64}, {OP_LOG, DT_U8}};
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        Tensor *in[1] = {mk(bad[c].t, 1, dims, x)}, *out[1] = {0};
        Graph *g = one_node(bad[c].op, 1, in, 1);
        Diag d = {{0}};
        ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
        ck_assert_msg(strstr(d.msg, "n0") && strstr(d.msg, ir_op_name(bad[c].op)), "message: %s", d.msg);
        free_all(g, in, 1, out, 0);
    }
}
END_TEST

START_TEST(dropout_and_mask)
{
    int64_t dims[2] = {2, 3};
    const double x[6] = {1, -2, 3, -4, 5, -6};
    Tensor *in[1] = {mk(DT_F32, 2, dims, x)}, *out[2] = {0};
    Graph *g = one_node(OP_DROPOUT, 1, in, 2);
    ir_node_set_float(g, 0, "ratio", 0.5); /* ignored in inference */
    Diag d;
    ck_assert_int_eq(run(g, in, out, &d), 0);
    expect_vals(out[0], x, 6, 0);
    ck_assert_int_eq(out[1]->dtype, DT_BOOL);
    expect_shape(out[1], 2, dims);
    const int64_t ones[6] = {1, 1, 1, 1, 1, 1};
    expect_ints(out[1], ones, 6);
    free_all(g, in, 1, out, 2);
}
END_TEST

START_TEST(isnan_isinf)
{
    int64_t dims[1] = {6};
    const double x[6] = {-1.2, NAN, INFINITY, 2.8, -INFINITY, INFINITY}; /* test_isinf input */
    const struct {
        OpKind op;
        int neg, pos;
        int64_t e[6];
    } cases[] = {
        {OP_IS_NAN, -1, -1, {0, 1, 0, 0, 0, 0}},
        {OP_IS_INF, -1, -1, {0, 0, 1, 0, 1, 1}},
        {OP_IS_INF, 1, 0, {0, 0, 0, 0, 1, 0}},
        {OP_IS_INF, 0, 1, {0, 0, 1, 0, 0, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int f64 = 0; f64 < 2; f64++) {
            Tensor *in[1] = {mk(f64 ? DT_F64 : DT_F32, 1, dims, x)}, *out[1] = {0};
            Graph *g = one_node(cases[c].op, 1, in, 1);
            if (cases[c].neg >= 0) ir_node_set_int(g, 0, "detect_negative", cases[c].neg);
            if (cases[c].pos >= 0) ir_node_set_int(g, 0, "detect_positive", cases[c].pos);
            Diag d;
            ck_assert_int_eq(run(g, in, out, &d), 0);
            ck_assert_int_eq(out[0]->dtype, DT_BOOL);
            expect_ints(out[0], cases[c].e, 6);
            free_all(g, in, 1, out, 1);
        }
}
END_TEST

/* ---------------------------------------------------------------- cast */
static Tensor *cast_run(Tensor *x, DType to, Diag *d)
{
    Tensor *in[1] = {x}, *out[1] = {0};
    Graph *g = one_node(OP_CAST, 1, in, 1);
    ir_node_set_int(g, 0, "to", dtype_to_onnx(to));
    int rc = run(g, in, out, d);
    ir_graph_free(g);
    tensor_free(x);
    return rc ? NULL : out[0];
}

START_TEST(cast_float_to_int_and_bool)
{
    int64_t dims[1] = {7};
    const double x[7] = {-1.7, 2.9, 0.0, -0.0, NAN, 300.0, -129.5};
    Diag d;
    Tensor *y = cast_run(mk(DT_F32, 1, dims, x), DT_I32, &d);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->dtype, DT_I32);
    const int64_t e_i32[7] = {-1, 2, 0, 0, 0, 300, -129};
    expect_ints(y, e_i32, 7);
    tensor_free(y);
    y = cast_run(mk(DT_F64, 1, dims, x), DT_I64, &d);
    expect_ints(y, e_i32, 7);
    tensor_free(y);
    y = cast_run(mk(DT_F32, 1, dims, x), DT_I8, &d); /* 300 -> 44, -129 -> 127 (wrap, as numpy on x86) */
    const int64_t e_i8[7] = {-1, 2, 0, 0, 0, 44, 127};
    expect_ints(y, e_i8, 7);
    tensor_free(y);
    y = cast_run(mk(DT_F32, 1, dims, x), DT_U8, &d);
    const int64_t e_u8[7] = {255, 2, 0, 0, 0, 44, 127};
    expect_ints(y, e_u8, 7);
    tensor_free(y);
    y = cast_run(mk(DT_F32, 1, dims, x), DT_BOOL, &d); /* nonzero; NaN is true */
    ck_assert_int_eq(y->dtype, DT_BOOL);
    const int64_t e_b[7] = {1, 1, 0, 0, 1, 1, 1};
    expect_ints(y, e_b, 7);
    tensor_free(y);
    y = cast_run(mk(DT_F32, 1, dims, x), DT_F64, &d);
    const double e_f[7] = {(float)-1.7, (float)2.9, 0, 0, NAN, 300, -129.5};
    expect_vals(y, e_f, 7, 0);
    tensor_free(y);
    /* f64 -> u64 for a value above INT64_MAX */
    const double big[2] = {1.5e19, 3.0};
    int64_t d2[1] = {2};
    y = cast_run(mk(DT_F64, 1, d2, big), DT_U64, &d);
    ck_assert_uint_eq(((uint64_t *)y->data)[0], 15000000000000000000ull);
    ck_assert_uint_eq(((uint64_t *)y->data)[1], 3);
    tensor_free(y);
}
END_TEST

START_TEST(cast_int_bool_paths)
{
    int64_t dims[1] = {5};
    const int64_t x[5] = {-1, 0, 1, 255, 70000};
    Diag d;
    Tensor *y = cast_run(mk_i(DT_I64, 1, dims, x), DT_F32, &d);
    ck_assert_int_eq(y->dtype, DT_F32);
    const double e_f[5] = {-1, 0, 1, 255, 70000};
    expect_vals(y, e_f, 5, 0);
    tensor_free(y);
    y = cast_run(mk_i(DT_I32, 1, dims, x), DT_I8, &d);
    const int64_t e_i8[5] = {-1, 0, 1, -1, 112};
    expect_ints(y, e_i8, 5);
    tensor_free(y);
    y = cast_run(mk_i(DT_I32, 1, dims, x), DT_U16, &d);
    const int64_t e_u16[5] = {65535, 0, 1, 255, 4464};
    expect_ints(y, e_u16, 5);
    tensor_free(y);
    y = cast_run(mk_i(DT_I64, 1, dims, x), DT_BOOL, &d);
    const int64_t e_b[5] = {1, 0, 1, 1, 1};
    expect_ints(y, e_b, 5);
    tensor_free(y);
    const int64_t bx[3] = {1, 0, 1};
    int64_t d3[1] = {3};
    y = cast_run(mk_i(DT_BOOL, 1, d3, bx), DT_F64, &d);
    const double e_bf[3] = {1, 0, 1};
    expect_vals(y, e_bf, 3, 0);
    tensor_free(y);
    /* u64 above INT64_MAX -> f64 and u8 -> i64 */
    Tensor *u = tensor_new(DT_U64, 1, d3);
    ((uint64_t *)u->data)[0] = 18446744073709551615ull;
    ((uint64_t *)u->data)[1] = 1ull << 63;
    ((uint64_t *)u->data)[2] = 7;
    y = cast_run(u, DT_F64, &d);
    const double e_u[3] = {18446744073709551615.0, 9223372036854775808.0, 7};
    expect_vals(y, e_u, 3, 0);
    tensor_free(y);
    /* same dtype: copy */
    y = cast_run(mk_i(DT_I64, 1, dims, x), DT_I64, &d);
    expect_ints(y, x, 5);
    tensor_free(y);
}
END_TEST

START_TEST(cast_errors)
{
    int64_t dims[1] = {1};
    const double x[1] = {1};
    Tensor *in[1] = {mk(DT_F32, 1, dims, x)};
    Graph *g = one_node(OP_CAST, 1, in, 1);
    ir_node_set_int(g, 0, "to", 10); /* float16: not an IR dtype */
    Diag d;
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "n0"));
    ir_graph_free(g);
    g = one_node(OP_CAST, 1, in, 1); /* no `to` */
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "to"));
    ir_graph_free(g);
    tensor_free(in[0]);
}
END_TEST

/* ---------------------------------------------------------------- binary */
/* Run binary op a (ra, da) op b (rb, db) on dtype t; returns the output (caller frees). */
static Tensor *bin_run(OpKind op, Tensor *a, Tensor *b, Diag *d, Graph **keep)
{
    Tensor *in[2] = {a, b}, *out[1] = {0};
    Graph *g = one_node(op, 2, in, 1);
    int rc = run(g, in, out, d);
    if (keep)
        *keep = g;
    else
        ir_graph_free(g);
    tensor_free(a);
    tensor_free(b);
    return rc ? NULL : out[0];
}

START_TEST(binary_same_shape_f32)
{
    int64_t dims[2] = {2, 3};
    const double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {6, -5, 4, -3, 2, -1};
    const struct {
        OpKind op;
        double e[6];
    } cases[] = {
        {OP_ADD, {7, -3, 7, 1, 7, 5}},
        {OP_SUB, {-5, 7, -1, 7, 3, 7}},
        {OP_MUL, {6, -10, 12, -12, 10, -6}},
        {OP_DIV, {1.0 / 6, -0.4, 0.75, -4.0 / 3, 2.5, -6}},
        {OP_MAX, {6, 2, 4, 4, 5, 6}},
        {OP_MIN, {1, -5, 3, -3, 2, -1}},
        {OP_SUM, {7, -3, 7, 1, 7, 5}},
        {OP_MEAN, {3.5, -1.5, 3.5, 0.5, 3.5, 2.5}},
        {OP_POW, {1, 1.0 / 32, 81, 1.0 / 64, 25, 1.0 / 6}},
        {OP_PRELU, {1, 2, 3, 4, 5, 6}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int f64 = 0; f64 < 2; f64++) {
            DType t = f64 ? DT_F64 : DT_F32;
            Diag d;
            Tensor *y = bin_run(cases[c].op, mk(t, 2, dims, a), mk(t, 2, dims, b), &d, NULL);
            ck_assert_msg(y != NULL, "%s: %s", ir_op_name(cases[c].op), d.msg);
            ck_assert_int_eq(y->dtype, t);
            expect_shape(y, 2, dims);
            expect_vals(y, cases[c].e, 6, f64 ? 1e-15 : 1e-7);
            tensor_free(y);
        }
}
END_TEST

START_TEST(binary_broadcast_shapes)
{
    Diag d;
    /* scalar on either side */
    int64_t d3[1] = {3};
    const double a[3] = {1, 2, 3}, s[1] = {10};
    Tensor *y = bin_run(OP_SUB, mk(DT_F32, 1, d3, a), mk(DT_F32, 0, NULL, s), &d, NULL);
    const double e1[3] = {-9, -8, -7};
    expect_shape(y, 1, d3);
    expect_vals(y, e1, 3, 0);
    tensor_free(y);
    y = bin_run(OP_SUB, mk(DT_F32, 0, NULL, s), mk(DT_F32, 1, d3, a), &d, NULL);
    const double e2[3] = {9, 8, 7};
    expect_vals(y, e2, 3, 0);
    tensor_free(y);
    /* row: [2,3] + [3] */
    int64_t d23[2] = {2, 3};
    const double m[6] = {1, 2, 3, 4, 5, 6};
    y = bin_run(OP_ADD, mk(DT_F32, 2, d23, m), mk(DT_F32, 1, d3, a), &d, NULL);
    const double e3[6] = {2, 4, 6, 5, 7, 9};
    expect_shape(y, 2, d23);
    expect_vals(y, e3, 6, 0);
    tensor_free(y);
    /* column: [2,3] * [2,1] */
    int64_t d21[2] = {2, 1};
    const double c[2] = {10, 100};
    y = bin_run(OP_MUL, mk(DT_F64, 2, d23, m), mk(DT_F64, 2, d21, c), &d, NULL);
    const double e4[6] = {10, 20, 30, 400, 500, 600};
    expect_vals(y, e4, 6, 0);
    tensor_free(y);
    /* outer: [2,1] - [1,3] -> [2,3] */
    int64_t d13[2] = {1, 3};
    y = bin_run(OP_SUB, mk(DT_F32, 2, d21, c), mk(DT_F32, 2, d13, a), &d, NULL);
    const double e5[6] = {9, 8, 7, 99, 98, 97};
    expect_shape(y, 2, d23);
    expect_vals(y, e5, 6, 0);
    tensor_free(y);
    /* rank mismatch: [2,1,3] + [2,1] -> [2,2,3] */
    int64_t d213[3] = {2, 1, 3}, d223[3] = {2, 2, 3};
    y = bin_run(OP_ADD, mk(DT_F32, 3, d213, m), mk(DT_F32, 2, d21, c), &d, NULL);
    const double e6[12] = {11, 12, 13, 101, 102, 103, 14, 15, 16, 104, 105, 106};
    expect_shape(y, 3, d223);
    expect_vals(y, e6, 12, 0);
    tensor_free(y);
    /* channel broadcast [1,2,2,2] + [2,1,1] */
    int64_t d1222[4] = {1, 2, 2, 2}, d211[3] = {2, 1, 1};
    const double v8[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    y = bin_run(OP_ADD, mk(DT_F32, 4, d1222, v8), mk(DT_F32, 3, d211, c), &d, NULL);
    const double e7[8] = {10, 11, 12, 13, 104, 105, 106, 107};
    expect_shape(y, 4, d1222);
    expect_vals(y, e7, 8, 0);
    tensor_free(y);
    /* empty dimension broadcast: [0,3] + [3] */
    int64_t d03[2] = {0, 3};
    y = bin_run(OP_ADD, mk(DT_F32, 2, d03, a), mk(DT_F32, 1, d3, a), &d, NULL);
    ck_assert_ptr_nonnull(y);
    expect_shape(y, 2, d03);
    tensor_free(y);
}
END_TEST

/* Large random tensors through the fast paths, against a naive broadcast loop. */
START_TEST(binary_fast_paths_match_naive)
{
    unsigned long long seed = 42;
    int64_t da[4] = {2, 8, 5, 7};
    int64_t shapes[][4] = {{2, 8, 5, 7}, {1, 8, 1, 1}, {1, 1, 1, 7}, {2, 1, 5, 1}, {1, 1, 1, 1}};
    OpKind ops[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAX, OP_MIN, OP_PRELU};
    int64_t n = shape_numel(4, da);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
            for (int swap = 0; swap < 2; swap++) {
                if (swap && ops[oi] == OP_PRELU) continue;
                Tensor *a = tensor_new(DT_F32, 4, da), *b = tensor_new(DT_F32, 4, shapes[si]);
                for (int64_t i = 0; i < n; i++) ((float *)a->data)[i] = test_randf(&seed, -2, 2);
                for (int64_t i = 0; i < tensor_numel(b); i++) ((float *)b->data)[i] = test_randf(&seed, 0.5f, 2);
                Tensor *ac = tensor_clone(a), *bc = tensor_clone(b);
                Diag d;
                Tensor *y = swap ? bin_run(ops[oi], b, a, &d, NULL) : bin_run(ops[oi], a, b, &d, NULL);
                ck_assert_msg(y != NULL, "%s", d.msg);
                expect_shape(y, 4, da);
                int64_t idx[4];
                for (int64_t i = 0; i < n; i++) {
                    int64_t r = i;
                    for (int k = 3; k >= 0; k--) idx[k] = r % da[k], r /= da[k];
                    int64_t bi = 0;
                    for (int k = 0; k < 4; k++) bi = bi * shapes[si][k] + (shapes[si][k] == 1 ? 0 : idx[k]);
                    float x = ((float *)ac->data)[i], z = ((float *)bc->data)[bi];
                    if (swap) {
                        float t = x;
                        x = z, z = t;
                    }
                    float e;
                    switch (ops[oi]) {
                    case OP_ADD: e = x + z; break;
                    case OP_SUB: e = x - z; break;
                    case OP_MUL: e = x * z; break;
                    case OP_DIV: e = x / z; break;
                    case OP_MAX: e = x > z ? x : z; break;
                    case OP_MIN: e = x < z ? x : z; break;
                    default: e = x < 0 ? x * z : x; break;
                    }
                    ck_assert_msg(((float *)y->data)[i] == e, "%s shape %zu elem %lld", ir_op_name(ops[oi]), si,
                                  (long long)i);
                }
                tensor_free(y);
                tensor_free(ac);
                tensor_free(bc);
            }
}
END_TEST

START_TEST(binary_integer_semantics)
{
    Diag d;
    int64_t d6[1] = {6};
    const int64_t a[6] = {7, -7, 7, -7, 5, INT64_MIN}, b[6] = {2, 2, -2, -2, 0, -1};
    Tensor *y = bin_run(OP_DIV, mk_i(DT_I64, 1, d6, a), mk_i(DT_I64, 1, d6, b), &d, NULL);
    const int64_t e_div[6] = {3, -3, -3, 3, 0, INT64_MIN}; /* trunc; /0 -> 0; MIN/-1 wraps */
    expect_ints(y, e_div, 6);
    tensor_free(y);
    y = bin_run(OP_MOD, mk_i(DT_I64, 1, d6, a), mk_i(DT_I64, 1, d6, b), &d, NULL);
    const int64_t e_mod[6] = {1, 1, -1, -1, 0, 0}; /* sign of divisor */
    expect_ints(y, e_mod, 6);
    tensor_free(y);
    Graph *g;
    Tensor *in[2] = {mk_i(DT_I32, 1, d6, a), mk_i(DT_I32, 1, d6, b)}, *out[1] = {0};
    g = one_node(OP_MOD, 2, in, 1);
    ir_node_set_int(g, 0, "fmod", 1);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const int64_t e_fmod[6] = {1, -1, 1, -1, 0, 0}; /* sign of dividend */
    expect_ints(out[0], e_fmod, 6);
    free_all(g, in, 2, out, 1);
    /* int8 wrap-around */
    int64_t d3[1] = {3};
    const int64_t p[3] = {100, -100, 127}, q[3] = {100, -100, 2};
    y = bin_run(OP_ADD, mk_i(DT_I8, 1, d3, p), mk_i(DT_I8, 1, d3, q), &d, NULL);
    const int64_t e_add[3] = {-56, 56, -127};
    expect_ints(y, e_add, 3);
    tensor_free(y);
    y = bin_run(OP_MUL, mk_i(DT_I16, 1, d3, p), mk_i(DT_I16, 1, d3, q), &d, NULL);
    const int64_t e_mul[3] = {10000, 10000, 254};
    expect_ints(y, e_mul, 3);
    tensor_free(y);
    /* integer Pow, Max/Min, PRelu on i32 */
    const int64_t pb[3] = {2, -3, 5}, pe[3] = {10, 3, 0};
    y = bin_run(OP_POW, mk_i(DT_I32, 1, d3, pb), mk_i(DT_I32, 1, d3, pe), &d, NULL);
    const int64_t e_pow[3] = {1024, -27, 1};
    expect_ints(y, e_pow, 3);
    tensor_free(y);
    y = bin_run(OP_MAX, mk_i(DT_I32, 1, d3, pb), mk_i(DT_I32, 1, d3, pe), &d, NULL);
    const int64_t e_max[3] = {10, 3, 5};
    expect_ints(y, e_max, 3);
    tensor_free(y);
    y = bin_run(OP_PRELU, mk_i(DT_I32, 1, d3, pb), mk_i(DT_I32, 1, d3, pe), &d, NULL);
    const int64_t e_prelu[3] = {2, -9, 5};
    expect_ints(y, e_prelu, 3);
    tensor_free(y);
    /* unsigned: u64 compare above INT64_MAX, subtraction wraps */
    Tensor *ua = tensor_new(DT_U64, 1, d3), *ub = tensor_new(DT_U64, 1, d3);
    uint64_t uav[3] = {1ull << 63, 5, 0}, ubv[3] = {1, 7, 1};
    memcpy(ua->data, uav, sizeof uav);
    memcpy(ub->data, ubv, sizeof ubv);
    y = bin_run(OP_MAX, tensor_clone(ua), tensor_clone(ub), &d, NULL);
    ck_assert_uint_eq(((uint64_t *)y->data)[0], 1ull << 63);
    ck_assert_uint_eq(((uint64_t *)y->data)[1], 7);
    tensor_free(y);
    y = bin_run(OP_SUB, ua, ub, &d, NULL);
    ck_assert_uint_eq(((uint64_t *)y->data)[2], UINT64_MAX);
    ck_assert_uint_eq(((uint64_t *)y->data)[0], (1ull << 63) - 1);
    tensor_free(y);
    /* u8 Div/Mod by zero give 0 instead of trapping */
    const int64_t u1[3] = {200, 7, 9}, u2[3] = {0, 2, 4};
    y = bin_run(OP_DIV, mk_i(DT_U8, 1, d3, u1), mk_i(DT_U8, 1, d3, u2), &d, NULL);
    const int64_t e_ud[3] = {0, 3, 2};
    expect_ints(y, e_ud, 3);
    tensor_free(y);
    y = bin_run(OP_MOD, mk_i(DT_U8, 1, d3, u1), mk_i(DT_U8, 1, d3, u2), &d, NULL);
    const int64_t e_um[3] = {0, 1, 1};
    expect_ints(y, e_um, 3);
    tensor_free(y);
}
END_TEST

START_TEST(binary_float_mod_and_pow)
{
    Diag d;
    /* ONNX test_mod_mixed_sign_float32 (fmod=1) */
    int64_t d6[1] = {6};
    const double x[6] = {-4.300000190734863, 7.199999809265137, 5.0, 4.300000190734863, -7.199999809265137, 8.0};
    const double yv[6] = {2.0999999046325684, -3.4000000953674316, 8.0, -2.0999999046325684, 3.4000000953674316, 5.0};
    const double e_fmod[6] = {-0.10000038146972656, 0.39999961853027344, 5.0, 0.10000038146972656,
                              -0.39999961853027344, 3.0};
    Tensor *in[2] = {mk(DT_F32, 1, d6, x), mk(DT_F32, 1, d6, yv)}, *out[1] = {0};
    Graph *g = one_node(OP_MOD, 2, in, 1);
    ir_node_set_int(g, 0, "fmod", 1);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    expect_vals(out[0], e_fmod, 6, 1e-6);
    free_all(g, in, 2, out, 1);
    /* fmod=0 on floats: numpy.mod (sign of divisor) */
    const double a[4] = {-4, 7, 4, -7}, b[4] = {3, -3, -3, 3};
    int64_t d4[1] = {4};
    Tensor *y = bin_run(OP_MOD, mk(DT_F64, 1, d4, a), mk(DT_F64, 1, d4, b), &d, NULL);
    const double e_mod[4] = {2, -2, -2, 2};
    expect_vals(y, e_mod, 4, 0);
    tensor_free(y);
    /* ONNX test_pow_types_int64_float32: int64 base, f32 exponent -> int64 */
    int64_t d3[1] = {3};
    const int64_t pb[3] = {1, 2, 3};
    const double pe[3] = {4, 5, 6};
    y = bin_run(OP_POW, mk_i(DT_I64, 1, d3, pb), mk(DT_F32, 1, d3, pe), &d, NULL);
    ck_assert_int_eq(y->dtype, DT_I64);
    const int64_t e_pow[3] = {1, 32, 729};
    expect_ints(y, e_pow, 3);
    tensor_free(y);
    /* f32 base, i64 exponent -> f32; scalar exponent broadcast */
    const double fb[3] = {1.5, -2, 4};
    const int64_t two[1] = {2};
    y = bin_run(OP_POW, mk(DT_F32, 1, d3, fb), mk_i(DT_I64, 0, NULL, two), &d, NULL);
    ck_assert_int_eq(y->dtype, DT_F32);
    const double e_sq[3] = {2.25, 4, 16};
    expect_vals(y, e_sq, 3, 0);
    tensor_free(y);
    /* Max/Min propagate NaN */
    const double n1[3] = {NAN, 1, 2}, n2[3] = {0, NAN, 1};
    y = bin_run(OP_MAX, mk(DT_F32, 1, d3, n1), mk(DT_F32, 1, d3, n2), &d, NULL);
    const double e_nan[3] = {NAN, NAN, 2};
    expect_vals(y, e_nan, 3, 0);
    tensor_free(y);
}
END_TEST

START_TEST(binary_prelu_broadcast_conformance)
{
    /* ONNX test_prelu_broadcast, first 10 elements of X [3,4,5] (rest zero), slope [5] */
    int64_t dx[3] = {3, 4, 5}, ds[1] = {5};
    double x[60] = {1.764052391052246,   0.40015721321105957,  0.978738009929657,  2.2408931255340576,
                    1.8675580024719238,  -0.9772778749465942,  0.9500884413719177, -0.15135720372200012,
                    -0.10321885347366333, 0.4105985164642334};
    const double s[5] = {-0.6724604368209839, -0.35955315828323364, -0.8131462931632996, -1.7262825965881348,
                         0.17742614448070526};
    Diag d;
    Tensor *y = bin_run(OP_PRELU, mk(DT_F32, 3, dx, x), mk(DT_F32, 1, ds, s), &d, NULL);
    ck_assert_ptr_nonnull(y);
    const double e[10] = {1.764052391052246,  0.40015721321105957, 0.978738009929657,   2.2408931255340576,
                          1.8675580024719238, 0.6571807265281677,  0.9500884413719177,  0.12307555228471756,
                          0.17818491160869598, 0.4105985164642334};
    for (int i = 0; i < 10; i++) ck_assert_double_eq_tol(tensor_get_f64(y, i), e[i], 1e-6);
    tensor_free(y);
    /* slope that broadcasts to more than X is an error (unidirectional) */
    int64_t d2[2] = {2, 5};
    double z[10] = {0};
    y = bin_run(OP_PRELU, mk(DT_F32, 1, ds, s), mk(DT_F32, 2, d2, z), &d, NULL);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(d.msg, "n0"));
}
END_TEST

START_TEST(binary_logical_and_bitshift)
{
    Diag d;
    int64_t d22[2] = {2, 2}, d2[1] = {2};
    const int64_t a[4] = {1, 1, 0, 0}, b[2] = {1, 0};
    const struct {
        OpKind op;
        int64_t e[4];
    } cases[] = {{OP_AND, {1, 0, 0, 0}}, {OP_OR, {1, 1, 1, 0}}, {OP_XOR, {0, 1, 1, 0}}};
    for (size_t c = 0; c < 3; c++) {
        Tensor *y = bin_run(cases[c].op, mk_i(DT_BOOL, 2, d22, a), mk_i(DT_BOOL, 1, d2, b), &d, NULL);
        ck_assert_msg(y != NULL, "%s", d.msg);
        ck_assert_int_eq(y->dtype, DT_BOOL);
        expect_ints(y, cases[c].e, 4);
        tensor_free(y);
    }
    /* ONNX test_bitshift_left_uint8 / right: x [16,4,1] y [1,2,3] */
    int64_t d3[1] = {3};
    const int64_t x[3] = {16, 4, 1}, s[3] = {1, 2, 3};
    for (int right = 0; right < 2; right++) {
        Tensor *in[2] = {mk_i(DT_U8, 1, d3, x), mk_i(DT_U8, 1, d3, s)}, *out[1] = {0};
        Graph *g = one_node(OP_BIT_SHIFT, 2, in, 1);
        ir_node_set_str(g, 0, "direction", right ? "RIGHT" : "LEFT");
        ck_assert_int_eq(run(g, in, out, &d), 0);
        const int64_t el[3] = {32, 16, 8}, er[3] = {8, 1, 0};
        expect_ints(out[0], right ? er : el, 3);
        free_all(g, in, 2, out, 1);
    }
    /* u8 shifted past its width gives 0 */
    const int64_t big[3] = {255, 255, 255}, sh[3] = {8, 7, 200};
    Tensor *in[2] = {mk_i(DT_U8, 1, d3, big), mk_i(DT_U8, 1, d3, sh)}, *out[1] = {0};
    Graph *g = one_node(OP_BIT_SHIFT, 2, in, 1);
    ir_node_set_str(g, 0, "direction", "LEFT");
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const int64_t eb[3] = {0, 128, 0};
    expect_ints(out[0], eb, 3);
    free_all(g, in, 2, out, 1);
    /* errors: And on f32, BitShift on i32, BitShift without direction */
    const double f[2] = {1, 0};
    ck_assert_ptr_null(bin_run(OP_AND, mk(DT_F32, 1, d2, f), mk(DT_F32, 1, d2, f), &d, NULL));
    ck_assert_ptr_null(bin_run(OP_BIT_SHIFT, mk(DT_I32, 1, d2, f), mk(DT_I32, 1, d2, f), &d, NULL));
    ck_assert_ptr_null(bin_run(OP_BIT_SHIFT, mk(DT_U32, 1, d2, f), mk(DT_U32, 1, d2, f), &d, NULL));
    ck_assert_ptr_nonnull(strstr(d.msg, "direction"));
}
END_TEST

START_TEST(variadic_max_min_sum_mean)
{
    /* ONNX test_max_example / test_min_example / test_sum_example / test_mean_example inputs */
    int64_t d3[1] = {3};
    const double a[3] = {3, 2, 1}, b[3] = {1, 4, 4}, c[3] = {2, 5, 0};
    const struct {
        OpKind op;
        double e[3];
    } cases[] = {{OP_MAX, {3, 5, 4}}, {OP_MIN, {1, 2, 0}}, {OP_SUM, {6, 11, 5}}, {OP_MEAN, {2, 11.0 / 3, 5.0 / 3}}};
    for (size_t k = 0; k < 4; k++) {
        Tensor *in[3] = {mk(DT_F32, 1, d3, a), mk(DT_F32, 1, d3, b), mk(DT_F32, 1, d3, c)}, *out[1] = {0};
        Graph *g = one_node(cases[k].op, 3, in, 1);
        Diag d;
        ck_assert_msg(run(g, in, out, &d) == 0, "%s", d.msg);
        expect_vals(out[0], cases[k].e, 3, 1e-6);
        free_all(g, in, 3, out, 1);
        /* one input: a copy */
        Tensor *in1[1] = {mk(DT_F32, 1, d3, a)}, *out1[1] = {0};
        g = one_node(cases[k].op, 1, in1, 1);
        ck_assert_int_eq(run(g, in1, out1, &d), 0);
        expect_vals(out1[0], a, 3, 0);
        free_all(g, in1, 1, out1, 1);
    }
    /* broadcasting across three inputs: [2,1] , [3], scalar -> [2,3] */
    int64_t d21[2] = {2, 1}, d23[2] = {2, 3};
    const double col[2] = {10, 20}, row[3] = {1, 15, 30}, sc[1] = {12};
    Tensor *in[3] = {mk(DT_F64, 2, d21, col), mk(DT_F64, 1, d3, row), mk(DT_F64, 0, NULL, sc)}, *out[1] = {0};
    Graph *g = one_node(OP_MAX, 3, in, 1);
    Diag d;
    ck_assert_int_eq(run(g, in, out, &d), 0);
    expect_shape(out[0], 2, d23);
    const double e[6] = {12, 15, 30, 20, 20, 30};
    expect_vals(out[0], e, 6, 0);
    free_all(g, in, 3, out, 1);
    /* integer variadic Max/Min (test_max_int32 style) */
    const int64_t i1[3] = {1, 2, 3}, i2[3] = {3, 2, 1};
    Tensor *ii[2] = {mk_i(DT_U16, 1, d3, i1), mk_i(DT_U16, 1, d3, i2)}, *io[1] = {0};
    g = one_node(OP_MIN, 2, ii, 1);
    ck_assert_int_eq(run(g, ii, io, &d), 0);
    const int64_t emin[3] = {1, 2, 1};
    expect_ints(io[0], emin, 3);
    free_all(g, ii, 2, io, 1);
}
END_TEST

START_TEST(binary_errors)
{
    Diag d = {{0}};
    int64_t d23[2] = {2, 3}, d4[1] = {4}, d3[1] = {3};
    double z[6] = {0};
    /* incompatible broadcast: error names the node and both shapes */
    Tensor *y = bin_run(OP_ADD, mk(DT_F32, 2, d23, z), mk(DT_F32, 1, d4, z), &d, NULL);
    ck_assert_ptr_null(y);
    ck_assert_msg(strstr(d.msg, "'n0'") && strstr(d.msg, "Add") && strstr(d.msg, "2x3") && strstr(d.msg, "4"),
                  "message: %s", d.msg);
    /* dtype mismatch */
    y = bin_run(OP_MUL, mk(DT_F32, 1, d3, z), mk(DT_F64, 1, d3, z), &d, NULL);
    ck_assert_ptr_null(y);
    ck_assert_msg(strstr(d.msg, "n0") && strstr(d.msg, "f64"), "message: %s", d.msg);
    /* Mean on integers, Add on bool */
    y = bin_run(OP_MEAN, mk(DT_I32, 1, d3, z), mk(DT_I32, 1, d3, z), &d, NULL);
    ck_assert_ptr_null(y);
    y = bin_run(OP_ADD, mk(DT_BOOL, 1, d3, z), mk(DT_BOOL, 1, d3, z), &d, NULL);
    ck_assert_ptr_null(y);
    /* variadic incompatible third input */
    Tensor *in[3] = {mk(DT_F32, 1, d3, z), mk(DT_F32, 1, d3, z), mk(DT_F32, 1, d4, z)};
    Graph *g = one_node(OP_SUM, 3, in, 1);
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "broadcast"));
    free_all(g, in, 3, NULL, 0);
    /* kernel called directly with tensors that do not match the inferred output: error, no crash */
    Tensor *a = mk(DT_F32, 1, d3, z), *b = mk(DT_F32, 1, d3, z);
    Tensor *ins[2] = {a, b}, *outs[1] = {0};
    g = one_node(OP_ADD, 2, ins, 1);
    ck_assert_int_eq(ir_infer_shapes(g, &d), 0);
    Tensor *wrong = mk(DT_F32, 1, d4, z);
    ins[1] = wrong;
    ck_assert_int_eq(interp_node(g, 0, ins, outs, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "n0"));
    ck_assert_ptr_null(outs[0]);
    tensor_free(wrong);
    free_all(g, ins, 1, NULL, 0);
    tensor_free(b);
}
END_TEST

/* ---------------------------------------------------------------- compare, where */
START_TEST(compare_ops)
{
    Diag d;
    int64_t d4[1] = {4}, d1[1] = {1};
    const double a[4] = {1, 2, 3, NAN}, b[1] = {2};
    const struct {
        OpKind op;
        int64_t e[4];
    } cases[] = {{OP_EQUAL, {0, 1, 0, 0}},
                 {OP_LESS, {1, 0, 0, 0}},
                 {OP_GREATER, {0, 0, 1, 0}},
                 {OP_LESS_OR_EQUAL, {1, 1, 0, 0}},
                 {OP_GREATER_OR_EQUAL, {0, 1, 1, 0}}};
    for (size_t c = 0; c < 5; c++)
        for (int f64 = 0; f64 < 2; f64++) {
            DType t = f64 ? DT_F64 : DT_F32;
            Tensor *y = bin_run(cases[c].op, mk(t, 1, d4, a), mk(t, 1, d1, b), &d, NULL);
            ck_assert_msg(y != NULL, "%s", d.msg);
            ck_assert_int_eq(y->dtype, DT_BOOL);
            expect_ints(y, cases[c].e, 4);
            tensor_free(y);
        }
    /* i64 with broadcasting [2,1] vs [3] */
    int64_t d21[2] = {2, 1}, d3[1] = {3}, d23[2] = {2, 3};
    const int64_t ia[2] = {-5, 5}, ib[3] = {-5, 0, 5};
    Tensor *y = bin_run(OP_LESS, mk_i(DT_I64, 2, d21, ia), mk_i(DT_I64, 1, d3, ib), &d, NULL);
    expect_shape(y, 2, d23);
    const int64_t e[6] = {0, 1, 1, 0, 0, 0};
    expect_ints(y, e, 6);
    tensor_free(y);
    /* u64 above INT64_MAX compares unsigned */
    Tensor *ua = tensor_new(DT_U64, 1, d1), *ub = tensor_new(DT_U64, 1, d1);
    ((uint64_t *)ua->data)[0] = 1ull << 63;
    ((uint64_t *)ub->data)[0] = 1;
    y = bin_run(OP_GREATER, ua, ub, &d, NULL);
    ck_assert_int_eq(((uint8_t *)y->data)[0], 1);
    tensor_free(y);
    /* bool Equal; Less on bool is an error */
    const int64_t ba[2] = {1, 0}, bb[2] = {1, 1};
    int64_t d2[1] = {2};
    y = bin_run(OP_EQUAL, mk_i(DT_BOOL, 1, d2, ba), mk_i(DT_BOOL, 1, d2, bb), &d, NULL);
    const int64_t eb[2] = {1, 0};
    expect_ints(y, eb, 2);
    tensor_free(y);
    ck_assert_ptr_null(bin_run(OP_LESS, mk_i(DT_BOOL, 1, d2, ba), mk_i(DT_BOOL, 1, d2, bb), &d, NULL));
    /* mismatched dtypes and shapes */
    ck_assert_ptr_null(bin_run(OP_EQUAL, mk_i(DT_I32, 1, d2, ba), mk_i(DT_I64, 1, d2, bb), &d, NULL));
    ck_assert_ptr_nonnull(strstr(d.msg, "n0"));
    ck_assert_ptr_null(bin_run(OP_EQUAL, mk_i(DT_I32, 1, d2, ba), mk_i(DT_I32, 1, d3, ib), &d, NULL));
    ck_assert_ptr_nonnull(strstr(d.msg, "broadcast"));
}
END_TEST

START_TEST(where_op)
{
    Diag d;
    /* ONNX test_where_example */
    int64_t d22[2] = {2, 2};
    const int64_t c[4] = {1, 0, 1, 1};
    const double x[4] = {1, 2, 3, 4}, y[4] = {9, 8, 7, 6};
    Tensor *in[3] = {mk_i(DT_BOOL, 2, d22, c), mk(DT_F32, 2, d22, x), mk(DT_F32, 2, d22, y)}, *out[1] = {0};
    Graph *g = one_node(OP_WHERE, 3, in, 1);
    ck_assert_int_eq(run(g, in, out, &d), 0);
    const double e[4] = {1, 8, 3, 4};
    expect_vals(out[0], e, 4, 0);
    free_all(g, in, 3, out, 1);
    /* broadcasting: cond [2,1], x [1,3] i64, y scalar */
    int64_t d21[2] = {2, 1}, d13[2] = {1, 3}, d23[2] = {2, 3};
    const int64_t cc[2] = {1, 0}, xx[3] = {1, 2, 3}, yy[1] = {-1};
    Tensor *in2[3] = {mk_i(DT_BOOL, 2, d21, cc), mk_i(DT_I64, 2, d13, xx), mk_i(DT_I64, 0, NULL, yy)};
    g = one_node(OP_WHERE, 3, in2, 1);
    ck_assert_int_eq(run(g, in2, out, &d), 0);
    ck_assert_int_eq(out[0]->dtype, DT_I64);
    expect_shape(out[0], 2, d23);
    const int64_t e2[6] = {1, 2, 3, -1, -1, -1};
    expect_ints(out[0], e2, 6);
    free_all(g, in2, 3, out, 1);
    /* u8 and f64 element sizes */
    const int64_t u[2] = {7, 9};
    int64_t d2[1] = {2};
    Tensor *in3[3] = {mk_i(DT_BOOL, 1, d2, cc), mk_i(DT_U8, 1, d2, u), mk_i(DT_U8, 0, NULL, yy)};
    g = one_node(OP_WHERE, 3, in3, 1);
    ck_assert_int_eq(run(g, in3, out, &d), 0);
    const int64_t e3[2] = {7, 255};
    expect_ints(out[0], e3, 2);
    free_all(g, in3, 3, out, 1);
    /* errors: non-bool condition; X/Y dtype mismatch */
    Tensor *in4[3] = {mk(DT_F32, 2, d22, x), mk(DT_F32, 2, d22, x), mk(DT_F32, 2, d22, y)};
    g = one_node(OP_WHERE, 3, in4, 1);
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "bool"));
    free_all(g, in4, 3, NULL, 0);
    Tensor *in5[3] = {mk_i(DT_BOOL, 2, d22, c), mk(DT_F32, 2, d22, x), mk(DT_F64, 2, d22, y)};
    g = one_node(OP_WHERE, 3, in5, 1);
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "n0"));
    free_all(g, in5, 3, NULL, 0);
}
END_TEST

/* ---------------------------------------------------------------- a small multi-node graph */
START_TEST(graph_relu_add_chain)
{
    /* y = Relu(x) + Clip(x, max=1) on [1,2,2,2] with a per-channel constant bias */
    Graph *g = ir_graph_new("chain");
    int64_t dx[4] = {1, 2, 2, 2}, db[3] = {2, 1, 1};
    int x = ir_value_add(g, "x", DT_F32, 4, dx);
    ir_graph_add_input(g, x);
    float bias[2] = {0.5f, -0.5f};
    int b = ir_const_add(g, "b", DT_F32, 3, db, bias);
    int r = ir_value_add(g, "r", DT_UNDEF, 0, NULL), c = ir_value_add(g, "c", DT_UNDEF, 0, NULL);
    int s = ir_value_add(g, "s", DT_UNDEF, 0, NULL), y = ir_value_add(g, "y", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_RELU, "relu", 1, &x, 1, &r);
    int ci = ir_node_add(g, OP_CLIP, "clip", 1, &x, 1, &c);
    ir_node_set_float(g, ci, "max", 1.0);
    int rc_in[2] = {r, c};
    ir_node_add(g, OP_ADD, "add", 2, rc_in, 1, &s);
    int sb[2] = {s, b};
    ir_node_add(g, OP_ADD, "bias", 2, sb, 1, &y);
    ir_graph_add_output(g, y);
    Diag d;
    ck_assert_int_eq(ir_infer_shapes(g, &d), 0);
    const double xv[8] = {-2, -1, 0, 1, 2, 3, -0.5, 0.5};
    Tensor *in[1] = {mk(DT_F32, 4, dx, xv)}, *out[1] = {0};
    ck_assert_int_eq(interp_run(g, in, out, NULL, &d), 0);
    const double e[8] = {-1.5, -0.5, 0.5, 2.5, 2.5, 3.5, -1.0, 0.5};
    expect_shape(out[0], 4, dx);
    expect_vals(out[0], e, 8, 1e-7);
    free_all(g, in, 1, out, 1);
}
END_TEST

TEST_SUITE(ops_elementwise)
{
    Suite *s = suite_create("ops_elementwise");
    TCase *tc = tcase_create("unary");
    tcase_add_test(tc, unary_table_f32_f64);
    tcase_add_test(tc, unary_round_half_even_and_nan);
    tcase_add_test(tc, unary_attributes);
    tcase_add_test(tc, unary_clip);
    tcase_add_test(tc, unary_integer_ops);
    tcase_add_test(tc, unary_not_identity_bool);
    tcase_add_test(tc, unary_dtype_errors);
    tcase_add_test(tc, dropout_and_mask);
    tcase_add_test(tc, isnan_isinf);
    suite_add_tcase(s, tc);
    tc = tcase_create("cast");
    tcase_add_test(tc, cast_float_to_int_and_bool);
    tcase_add_test(tc, cast_int_bool_paths);
    tcase_add_test(tc, cast_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("binary");
    tcase_add_test(tc, binary_same_shape_f32);
    tcase_add_test(tc, binary_broadcast_shapes);
    tcase_add_test(tc, binary_fast_paths_match_naive);
    tcase_add_test(tc, binary_integer_semantics);
    tcase_add_test(tc, binary_float_mod_and_pow);
    tcase_add_test(tc, binary_prelu_broadcast_conformance);
    tcase_add_test(tc, binary_logical_and_bitshift);
    tcase_add_test(tc, variadic_max_min_sum_mean);
    tcase_add_test(tc, binary_errors);
    tcase_add_test(tc, compare_ops);
    tcase_add_test(tc, where_op);
    tcase_add_test(tc, graph_relu_add_chain);
    suite_add_tcase(s, tc);
    return s;
}
