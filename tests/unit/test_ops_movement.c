/* test_ops_movement.c — unit tests of shape inference and reference kernels of the data-movement
 * and shape ops (shape_movement.c, interp_movement.c, shape_gather.c, interp_gather.c): small
 * hand-computed cases incl. negative axes, every Pad mode, Slice with negative steps and
 * INT64_MIN/MAX ends, Reshape 0/-1/allowzero, Split with and without `split`, TopK ties, and the
 * errors shape inference must report (never crash) for bad attributes.
 */
#include "test.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* A graph holding one node of op with graph inputs shaped like ins[] (ins[k] NULL: the input is
 * absent) and nout untyped outputs. The node is node 0. */
static Graph *one_op(OpKind op, int nin, Tensor *const *ins, int nout)
{
    Graph *g = ir_graph_new("t");
    int in[8], out[8];
    for (int k = 0; k < nin; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "x%d", k);
        in[k] = ir_value_add(g, nm, ins[k]->dtype, ins[k]->rank, ins[k]->dims);
        ir_graph_add_input(g, in[k]);
    }
    for (int k = 0; k < nout; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "y%d", k);
        out[k] = ir_value_add(g, nm, DT_UNDEF, 0, NULL);
    }
    ir_node_add(g, op, "n", nin, in, nout, out);
    for (int k = 0; k < nout; k++) ir_graph_add_output(g, out[k]);
    return g;
}

/* Infer shapes and run; outs[] receives new tensors. Returns 0 or -1 with d set. */
static int run(Graph *g, Tensor *const *ins, Tensor **outs, Diag *d)
{
    if (ir_infer_shapes(g, d)) return -1;
    return interp_run(g, ins, outs, NULL, d);
}

/* Infer shapes only, expecting an error containing `want`. */
static void expect_infer_error(Graph *g, const char *want)
{
    Diag d = {{0}};
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_msg(strstr(d.msg, want) != NULL, "error '%s' lacks '%s'", d.msg, want);
}

static Tensor *tens(DType t, int rank, const int64_t *dims, const double *v)
{
    Tensor *x = tensor_new(t, rank, dims);
    for (int64_t i = 0; i < tensor_numel(x); i++) tensor_set_f64(x, i, v ? v[i] : (double)i);
    return x;
}

/* An i64 tensor from int64 values (exact). */
static Tensor *tens_i64(int rank, const int64_t *dims, const int64_t *v)
{
    Tensor *x = tensor_new(DT_I64, rank, dims);
    memcpy(x->data, v, tensor_nbytes(x));
    return x;
}

/* Assert t has dtype dt, shape dims and (if v) values v (exact, as doubles). */
static void check(const Tensor *t, DType dt, int rank, const int64_t *dims, const double *v)
{
    char a[128], b[128];
    ck_assert_msg(t != NULL, "no output");
    ck_assert_msg(t->dtype == dt, "dtype %s, want %s", dtype_name(t->dtype), dtype_name(dt));
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->dims[i] == dims[i];
    ck_assert_msg(same, "shape %s, want %s", shape_str(t->rank, t->dims, a, sizeof a),
                  shape_str(rank, dims, b, sizeof b));
    for (int64_t i = 0; v && i < tensor_numel(t); i++)
        ck_assert_msg(tensor_get_f64(t, i) == v[i], "element %lld = %g, want %g", (long long)i,
                      tensor_get_f64(t, i), v[i]);
}

/* Output k's inferred shape as text. */
static const char *out_shape(Graph *g, int k, char *buf)
{
    const Value *v = &g->values[g->outputs[k]];
    return shape_str(v->rank, v->dims, buf, 128);
}

/* Run a one-input one-output op on x and check the result. */
static void run1(Graph *g, Tensor *x, DType dt, int rank, const int64_t *dims, const double *want)
{
    Diag d = {{0}};
    Tensor *y = NULL;
    ck_assert_msg(run(g, &x, &y, &d) == 0, "%s", d.msg);
    check(y, dt, rank, dims, want);
    tensor_free(y);
}

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const double[]){__VA_ARGS__})

/* ---------------------------------------------------------------- Flatten, Reshape, (Un)Squeeze */

START_TEST(test_flatten)
{
    Tensor *x = tens(DT_F32, 3, D(2, 3, 4), NULL);
    struct {
        int64_t axis, d0, d1;
    } cases[] = {{1, 2, 12}, {-1, 6, 4}, {0, 1, 24}, {3, 24, 1}, {-3, 1, 24}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        Graph *g = one_op(OP_FLATTEN, 1, &x, 1);
        ir_node_set_int(g, 0, "axis", cases[c].axis);
        Diag d = {{0}};
        Tensor *y = NULL;
        ck_assert_msg(run(g, &x, &y, &d) == 0, "%s", d.msg);
        check(y, DT_F32, 2, D(cases[c].d0, cases[c].d1), NULL);
        ck_assert_int_eq(memcmp(y->data, x->data, tensor_nbytes(x)), 0);
        tensor_free(y);
        ir_graph_free(g);
    }
    Graph *g = one_op(OP_FLATTEN, 1, &x, 1);
    ir_node_set_int(g, 0, "axis", 4);
    expect_infer_error(g, "axis 4 out of range");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

START_TEST(test_reshape)
{
    Tensor *x = tens(DT_I32, 3, D(2, 3, 4), NULL);
    char buf[128];
    struct {
        int n;
        int64_t shape[4];
        const char *want;
    } ok[] = {{2, {0, -1}, "2x12"},
              {3, {4, 0, -1}, "4x3x2"},
              {1, {-1}, "24"},
              {4, {2, 1, 12, 1}, "2x1x12x1"},
              {3, {0, 0, 4}, "2x3x4"}};
    for (size_t c = 0; c < sizeof ok / sizeof *ok; c++) {
        Graph *g = one_op(OP_RESHAPE, 1, &x, 1);
        ir_node_set_ints(g, 0, "shape", ok[c].shape, ok[c].n);
        Diag d = {{0}};
        Tensor *y = NULL;
        ck_assert_msg(run(g, &x, &y, &d) == 0, "%s", d.msg);
        ck_assert_str_eq(out_shape(g, 0, buf), ok[c].want);
        ck_assert_int_eq(memcmp(y->data, x->data, tensor_nbytes(x)), 0);
        tensor_free(y);
        ir_graph_free(g);
    }
    struct {
        int n;
        int64_t shape[4];
        int allowzero;
        const char *err;
    } bad[] = {{2, {5, 5}, 0, "cannot reshape"},
               {2, {-1, -1}, 0, "more than one -1"},
               {2, {-2, 12}, 0, "invalid"},
               {2, {7, -1}, 0, "cannot reshape 24"},
               {4, {0, 0, 0, 0}, 0, "input has rank 3"},
               {2, {0, -1}, 1, "both 0 and -1"},
               {2, {INT64_C(1) << 40, INT64_C(1) << 40}, 0, "too many elements"}};
    for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
        Graph *g = one_op(OP_RESHAPE, 1, &x, 1);
        ir_node_set_ints(g, 0, "shape", bad[c].shape, bad[c].n);
        ir_node_set_int(g, 0, "allowzero", bad[c].allowzero);
        expect_infer_error(g, bad[c].err);
        ir_graph_free(g);
    }
    Graph *g = one_op(OP_RESHAPE, 1, &x, 1);
    expect_infer_error(g, "missing attribute 'shape'");
    ir_graph_free(g);
    tensor_free(x);

    /* allowzero: a 0 in shape is a real 0-sized dim */
    Tensor *e = tens(DT_F32, 2, D(0, 3), NULL);
    g = one_op(OP_RESHAPE, 1, &e, 1);
    ir_node_set_ints(g, 0, "shape", D(3, 0), 2);
    ir_node_set_int(g, 0, "allowzero", 1);
    run1(g, e, DT_F32, 2, D(3, 0), NULL);
    ir_graph_free(g);
    /* without allowzero the 0 copies the input dim: [0, 3] -> [0, 3] */
    g = one_op(OP_RESHAPE, 1, &e, 1);
    ir_node_set_ints(g, 0, "shape", D(0, 3), 2);
    run1(g, e, DT_F32, 2, D(0, 3), NULL);
    ir_graph_free(g);
    g = one_op(OP_RESHAPE, 1, &e, 1);
    ir_node_set_ints(g, 0, "shape", D(0, -1), 2);
    expect_infer_error(g, "product 0");
    ir_graph_free(g);
    tensor_free(e);
}
END_TEST

START_TEST(test_squeeze_unsqueeze)
{
    Tensor *x = tens(DT_U8, 4, D(1, 3, 1, 2), NULL);
    char buf[128];
    Graph *g = one_op(OP_SQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(-2), 1);
    run1(g, x, DT_U8, 3, D(1, 3, 2), V(0, 1, 2, 3, 4, 5));
    ir_graph_free(g);
    g = one_op(OP_SQUEEZE, 1, &x, 1); /* no axes: every size-1 dim */
    run1(g, x, DT_U8, 2, D(3, 2), V(0, 1, 2, 3, 4, 5));
    ir_graph_free(g);
    g = one_op(OP_SQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(1), 1);
    expect_infer_error(g, "cannot squeeze axis 1 of size 3");
    ir_graph_free(g);
    g = one_op(OP_SQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(0, -4), 2);
    expect_infer_error(g, "repeated");
    ir_graph_free(g);
    g = one_op(OP_SQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(4), 1);
    expect_infer_error(g, "out of range");
    ir_graph_free(g);
    tensor_free(x);

    x = tens(DT_I64, 2, D(3, 4), NULL);
    g = one_op(OP_UNSQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(0, -1), 2);
    run1(g, x, DT_I64, 4, D(1, 3, 4, 1), NULL);
    ck_assert_str_eq(out_shape(g, 0, buf), "1x3x4x1");
    ir_graph_free(g);
    g = one_op(OP_UNSQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(3, 1), 2); /* unsorted */
    ir_infer_shapes(g, NULL);
    ck_assert_str_eq(out_shape(g, 0, buf), "3x1x4x1");
    ir_graph_free(g);
    g = one_op(OP_UNSQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(3), 1);
    expect_infer_error(g, "axis 3 out of range for rank 3");
    ir_graph_free(g);
    g = one_op(OP_UNSQUEEZE, 1, &x, 1);
    ir_node_set_ints(g, 0, "axes", D(0, 1, 2, 3, 4, 5, 6), 7);
    expect_infer_error(g, "exceeds the maximum");
    ir_graph_free(g);
    g = one_op(OP_UNSQUEEZE, 1, &x, 1);
    expect_infer_error(g, "missing attribute 'axes'");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

/* ---------------------------------------------------------------- Transpose, Concat, Split */

START_TEST(test_transpose)
{
    Tensor *x = tens(DT_F32, 2, D(2, 3), NULL);
    Graph *g = one_op(OP_TRANSPOSE, 1, &x, 1);
    run1(g, x, DT_F32, 2, D(3, 2), V(0, 3, 1, 4, 2, 5));
    ir_graph_free(g);
    tensor_free(x);

    /* 3-D with perm [1, 2, 0], in u16 and i64: y[b][c][a] = x[a][b][c] = 12a + 4b + c */
    DType types[] = {DT_U16, DT_I64};
    for (int t = 0; t < 2; t++) {
        x = tens(types[t], 3, D(2, 3, 4), NULL);
        g = one_op(OP_TRANSPOSE, 1, &x, 1);
        ir_node_set_ints(g, 0, "perm", D(1, 2, 0), 3);
        Diag d = {{0}};
        Tensor *y = NULL;
        ck_assert_msg(run(g, &x, &y, &d) == 0, "%s", d.msg);
        check(y, types[t], 3, D(3, 4, 2), NULL);
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                for (int a = 0; a < 2; a++)
                    ck_assert_int_eq(tensor_get_i64(y, (b * 4 + c) * 2 + a), 12 * a + 4 * b + c);
        tensor_free(y);
        ir_graph_free(g);
        tensor_free(x);
    }
    x = tens(DT_BOOL, 2, D(2, 3), V(1, 0, 0, 0, 1, 1));
    g = one_op(OP_TRANSPOSE, 1, &x, 1);
    ir_node_set_ints(g, 0, "perm", D(1, 0), 2);
    run1(g, x, DT_BOOL, 2, D(3, 2), V(1, 0, 0, 1, 0, 1));
    ir_graph_free(g);
    g = one_op(OP_TRANSPOSE, 1, &x, 1);
    ir_node_set_ints(g, 0, "perm", D(1, 1), 2);
    expect_infer_error(g, "not a permutation");
    ir_graph_free(g);
    g = one_op(OP_TRANSPOSE, 1, &x, 1);
    ir_node_set_ints(g, 0, "perm", D(0, 1, 2), 3);
    expect_infer_error(g, "perm has 3 entries");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

START_TEST(test_concat)
{
    Tensor *in[3] = {tens(DT_I32, 2, D(2, 2), V(1, 2, 3, 4)), tens(DT_I32, 2, D(2, 1), V(5, 6)),
                     tens(DT_I32, 2, D(2, 0), NULL)};
    Graph *g = one_op(OP_CONCAT, 3, in, 1);
    ir_node_set_int(g, 0, "axis", -1);
    Diag d = {{0}};
    Tensor *y = NULL;
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_I32, 2, D(2, 3), V(1, 2, 5, 3, 4, 6));
    tensor_free(y);
    ir_graph_free(g);

    Tensor *in0[2] = {in[0], tens(DT_I32, 2, D(1, 2), V(7, 8))};
    g = one_op(OP_CONCAT, 2, in0, 1);
    ir_node_set_int(g, 0, "axis", 0);
    ck_assert_msg(run(g, in0, &y, &d) == 0, "%s", d.msg);
    check(y, DT_I32, 2, D(3, 2), V(1, 2, 3, 4, 7, 8));
    tensor_free(y);
    ir_graph_free(g);

    g = one_op(OP_CONCAT, 2, in, 1); /* 2x2 and 2x1 along axis 0 */
    ir_node_set_int(g, 0, "axis", 0);
    expect_infer_error(g, "input 1 has dim 1 = 1");
    ir_graph_free(g);
    g = one_op(OP_CONCAT, 2, in, 1);
    expect_infer_error(g, "missing attribute 'axis'");
    ir_graph_free(g);
    g = one_op(OP_CONCAT, 2, in, 1);
    ir_node_set_int(g, 0, "axis", 2);
    expect_infer_error(g, "out of range");
    ir_graph_free(g);
    Tensor *mixed[2] = {in[0], tens(DT_F32, 2, D(2, 2), NULL)};
    g = one_op(OP_CONCAT, 2, mixed, 1);
    ir_node_set_int(g, 0, "axis", 0);
    expect_infer_error(g, "dtype f32");
    ir_graph_free(g);
    for (int k = 0; k < 3; k++) tensor_free(in[k]);
    tensor_free(in0[1]);
    tensor_free(mixed[1]);
}
END_TEST

START_TEST(test_split)
{
    Tensor *x = tens(DT_F32, 1, D(6), V(1, 2, 3, 4, 5, 6));
    Graph *g = one_op(OP_SPLIT, 1, &x, 3);
    Diag d = {{0}};
    Tensor *y[3] = {0};
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    check(y[0], DT_F32, 1, D(2), V(1, 2));
    check(y[1], DT_F32, 1, D(2), V(3, 4));
    check(y[2], DT_F32, 1, D(2), V(5, 6));
    for (int k = 0; k < 3; k++) tensor_free(y[k]), y[k] = NULL;
    ir_graph_free(g);

    g = one_op(OP_SPLIT, 1, &x, 2);
    ir_node_set_ints(g, 0, "split", D(2, 4), 2);
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    check(y[0], DT_F32, 1, D(2), V(1, 2));
    check(y[1], DT_F32, 1, D(4), V(3, 4, 5, 6));
    for (int k = 0; k < 2; k++) tensor_free(y[k]), y[k] = NULL;
    ir_graph_free(g);

    /* zero-size part */
    g = one_op(OP_SPLIT, 1, &x, 3);
    ir_node_set_ints(g, 0, "split", D(0, 6, 0), 3);
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    check(y[0], DT_F32, 1, D(0), NULL);
    check(y[1], DT_F32, 1, D(6), V(1, 2, 3, 4, 5, 6));
    for (int k = 0; k < 3; k++) tensor_free(y[k]), y[k] = NULL;
    ir_graph_free(g);
    tensor_free(x);

    /* uneven default (opset 18): 7 -> 3, 3, 1 */
    x = tens(DT_I64, 1, D(7), NULL);
    g = one_op(OP_SPLIT, 1, &x, 3);
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    check(y[0], DT_I64, 1, D(3), V(0, 1, 2));
    check(y[1], DT_I64, 1, D(3), V(3, 4, 5));
    check(y[2], DT_I64, 1, D(1), V(6));
    for (int k = 0; k < 3; k++) tensor_free(y[k]), y[k] = NULL;
    ir_graph_free(g);
    tensor_free(x);

    /* 2-D along axis -1 */
    x = tens(DT_F32, 2, D(2, 4), NULL);
    g = one_op(OP_SPLIT, 1, &x, 2);
    ir_node_set_int(g, 0, "axis", -1);
    ir_node_set_ints(g, 0, "split", D(1, 3), 2);
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    check(y[0], DT_F32, 2, D(2, 1), V(0, 4));
    check(y[1], DT_F32, 2, D(2, 3), V(1, 2, 3, 5, 6, 7));
    for (int k = 0; k < 2; k++) tensor_free(y[k]), y[k] = NULL;
    ir_graph_free(g);

    g = one_op(OP_SPLIT, 1, &x, 2);
    ir_node_set_int(g, 0, "axis", 1);
    ir_node_set_ints(g, 0, "split", D(1, 2), 2);
    expect_infer_error(g, "split sums");
    ir_graph_free(g);
    g = one_op(OP_SPLIT, 1, &x, 2);
    ir_node_set_ints(g, 0, "split", D(2), 1);
    expect_infer_error(g, "split has 1 entries for 2 outputs");
    ir_graph_free(g);
    g = one_op(OP_SPLIT, 1, &x, 2);
    ir_node_set_ints(g, 0, "split", D(-1, 3), 2);
    expect_infer_error(g, "invalid");
    ir_graph_free(g);
    g = one_op(OP_SPLIT, 1, &x, 2);
    ir_node_set_int(g, 0, "axis", -3);
    expect_infer_error(g, "out of range");
    ir_graph_free(g);
    tensor_free(x);
    x = tens(DT_F32, 1, D(5), NULL); /* ceil(5/4) = 2: 2+2+2 > 5 */
    g = one_op(OP_SPLIT, 1, &x, 4);
    expect_infer_error(g, "cannot be split into 4 parts");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

/* ---------------------------------------------------------------- Slice */

/* Slice 0..9 (1-D) with one start/end/step; compare to want (n values). */
static void slice1(int64_t start, int64_t end, int64_t step, int n, const double *want)
{
    Tensor *x = tens(DT_I64, 1, D(10), NULL);
    Graph *g = one_op(OP_SLICE, 1, &x, 1);
    ir_node_set_ints(g, 0, "starts", &start, 1);
    ir_node_set_ints(g, 0, "ends", &end, 1);
    ir_node_set_ints(g, 0, "steps", &step, 1);
    run1(g, x, DT_I64, 1, D(n), want);
    ir_graph_free(g);
    tensor_free(x);
}

START_TEST(test_slice)
{
    slice1(-3, INT64_MAX, 1, 3, V(7, 8, 9));
    slice1(2, 5, 1, 3, V(2, 3, 4));
    slice1(-1, INT64_MIN, -1, 10, V(9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    slice1(8, 1, -2, 4, V(8, 6, 4, 2));
    slice1(100, -100, -3, 4, V(9, 6, 3, 0)); /* start clamps to 9 */
    slice1(-100, 100, 4, 3, V(0, 4, 8));
    slice1(5, 5, 1, 0, NULL);
    slice1(3, 7, -1, 0, NULL);
    slice1(5, INT64_MIN, INT64_MIN, 1, V(5)); /* -step is not representable */
    slice1(0, INT64_MAX, INT64_MAX, 1, V(0));

    /* 2-D, axes reversed and negative: rows 1.., columns reversed */
    Tensor *x = tens(DT_F32, 2, D(3, 4), NULL);
    Graph *g = one_op(OP_SLICE, 1, &x, 1);
    ir_node_set_ints(g, 0, "starts", D(-1, 1), 2);
    ir_node_set_ints(g, 0, "ends", D(INT64_MIN, 1000), 2);
    ir_node_set_ints(g, 0, "axes", D(-1, 0), 2);
    ir_node_set_ints(g, 0, "steps", D(-2, 1), 2);
    run1(g, x, DT_F32, 2, D(2, 2), V(7, 5, 11, 9));
    ir_graph_free(g);
    /* default axes and steps */
    g = one_op(OP_SLICE, 1, &x, 1);
    ir_node_set_ints(g, 0, "starts", D(0, 1), 2);
    ir_node_set_ints(g, 0, "ends", D(2, 3), 2);
    run1(g, x, DT_F32, 2, D(2, 2), V(1, 2, 5, 6));
    ir_graph_free(g);

    struct {
        int64_t axes[2], steps[2];
        int na;
        const char *err;
    } bad[] = {{{0, 0}, {1, 1}, 2, "repeated"},
               {{0, 2}, {1, 1}, 2, "out of range"},
               {{0, 1}, {1, 0}, 2, "step 1 is 0"},
               {{0, 1}, {1, 1}, 1, "axes has 1 entries"}};
    for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
        g = one_op(OP_SLICE, 1, &x, 1);
        ir_node_set_ints(g, 0, "starts", D(0, 0), 2);
        ir_node_set_ints(g, 0, "ends", D(1, 1), 2);
        ir_node_set_ints(g, 0, "axes", bad[c].axes, bad[c].na);
        ir_node_set_ints(g, 0, "steps", bad[c].steps, 2);
        expect_infer_error(g, bad[c].err);
        ir_graph_free(g);
    }
    g = one_op(OP_SLICE, 1, &x, 1);
    ir_node_set_ints(g, 0, "starts", D(0), 1);
    expect_infer_error(g, "missing attribute");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

/* ---------------------------------------------------------------- Pad */

static void pad1(const char *mode, int64_t b, int64_t e, int64_t n, const double *x, int ny,
                 const double *want)
{
    Tensor *t = tens(DT_F32, 1, D(n), x);
    Graph *g = one_op(OP_PAD, 1, &t, 1);
    ir_node_set_ints(g, 0, "pads", D(b, e), 2);
    ir_node_set_str(g, 0, "mode", mode);
    ir_node_set_float(g, 0, "value", 9.0);
    run1(g, t, DT_F32, 1, D(ny), want);
    ir_graph_free(g);
    tensor_free(t);
}

START_TEST(test_pad)
{
    const double *x = V(1, 2, 3);
    pad1("constant", 2, 2, 3, x, 7, V(9, 9, 1, 2, 3, 9, 9));
    pad1("reflect", 2, 2, 3, x, 7, V(3, 2, 1, 2, 3, 2, 1));
    pad1("edge", 2, 2, 3, x, 7, V(1, 1, 1, 2, 3, 3, 3));
    pad1("wrap", 2, 2, 3, x, 7, V(2, 3, 1, 2, 3, 1, 2));
    /* pads larger than the axis (numpy semantics) */
    pad1("reflect", 5, 0, 3, x, 8, V(2, 1, 2, 3, 2, 1, 2, 3));
    pad1("wrap", 4, 1, 3, x, 8, V(3, 1, 2, 3, 1, 2, 3, 1));
    pad1("reflect", 2, 1, 1, V(4), 4, V(4, 4, 4, 4));
    /* negative pads crop (first), then the rest pads the cropped axis */
    const double *x4 = V(1, 2, 3, 4);
    pad1("constant", -1, -1, 4, x4, 2, V(2, 3));
    pad1("reflect", -1, 2, 4, x4, 5, V(2, 3, 4, 3, 2));
    pad1("edge", 1, -3, 4, x4, 2, V(1, 1));
    pad1("wrap", -2, 3, 4, x4, 5, V(3, 4, 3, 4, 3));
    pad1("constant", -4, 1, 4, x4, 1, V(9));

    /* 2-D constant pad in i32, value rounded to the dtype */
    Tensor *t = tens(DT_I32, 2, D(2, 2), V(1, 2, 3, 4));
    Graph *g = one_op(OP_PAD, 1, &t, 1);
    ir_node_set_ints(g, 0, "pads", D(1, 0, 0, 1), 4);
    ir_node_set_float(g, 0, "value", -7.0);
    run1(g, t, DT_I32, 2, D(3, 3), V(-7, -7, -7, 1, 2, -7, 3, 4, -7));
    ir_graph_free(g);
    /* 2-D reflect */
    g = one_op(OP_PAD, 1, &t, 1);
    ir_node_set_ints(g, 0, "pads", D(1, 1, 0, 0), 4);
    ir_node_set_str(g, 0, "mode", "reflect");
    run1(g, t, DT_I32, 2, D(3, 3), V(4, 3, 4, 2, 1, 2, 4, 3, 4));
    ir_graph_free(g);

    struct {
        int64_t pads[4];
        const char *mode;
        const char *err;
    } bad[] = {{{0, 0, 0, 0}, "mirror", "unknown mode"},
               {{-3, 0, 0, 0}, "constant", "crop more"},
               {{-2, 0, 1, 0}, "edge", "no elements"},
               {{0, 0, 0, 0}, NULL, "pads has 2 entries"}};
    for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
        g = one_op(OP_PAD, 1, &t, 1);
        ir_node_set_ints(g, 0, "pads", bad[c].pads, bad[c].mode ? 4 : 2);
        if (bad[c].mode) ir_node_set_str(g, 0, "mode", bad[c].mode);
        expect_infer_error(g, bad[c].err);
        ir_graph_free(g);
    }
    tensor_free(t);
}
END_TEST

/* ---------------------------------------------------------------- Shape, Size, ConstantOfShape */

START_TEST(test_shape_size)
{
    Tensor *x = tens(DT_F32, 4, D(2, 3, 5, 7), NULL);
    struct {
        int has_s, has_e;
        int64_t s, e;
        int n;
        double want[4];
    } cases[] = {{0, 0, 0, 0, 4, {2, 3, 5, 7}}, {1, 1, 1, -1, 2, {3, 5}},
                 {1, 0, -1, 0, 1, {7}},         {1, 1, -10, 10, 4, {2, 3, 5, 7}},
                 {1, 1, 3, 1, 0, {0}},          {0, 1, 0, 2, 2, {2, 3}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        Graph *g = one_op(OP_SHAPE, 1, &x, 1);
        if (cases[c].has_s) ir_node_set_int(g, 0, "start", cases[c].s);
        if (cases[c].has_e) ir_node_set_int(g, 0, "end", cases[c].e);
        run1(g, x, DT_I64, 1, D(cases[c].n), cases[c].want);
        ir_graph_free(g);
    }
    Graph *g = one_op(OP_SIZE, 1, &x, 1);
    run1(g, x, DT_I64, 0, NULL, V(210));
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

START_TEST(test_constant_of_shape)
{
    Graph *g = one_op(OP_CONSTANT_OF_SHAPE, 0, NULL, 1);
    ir_node_set_ints(g, 0, "shape", D(2, 3), 2);
    int32_t five = 5;
    Tensor *v = tensor_wrap(DT_I32, 1, D(1), &five);
    ir_node_set_tensor(g, 0, "value", v);
    tensor_free(v);
    run1(g, NULL, DT_I32, 2, D(2, 3), V(5, 5, 5, 5, 5, 5));
    ir_graph_free(g);

    g = one_op(OP_CONSTANT_OF_SHAPE, 0, NULL, 1);
    ir_node_set_ints(g, 0, "shape", D(3), 1);
    run1(g, NULL, DT_F32, 1, D(3), V(0, 0, 0));
    ir_graph_free(g);
    g = one_op(OP_CONSTANT_OF_SHAPE, 0, NULL, 1);
    ir_node_set_ints(g, 0, "shape", NULL, 0);
    run1(g, NULL, DT_F32, 0, NULL, V(0));
    ir_graph_free(g);

    g = one_op(OP_CONSTANT_OF_SHAPE, 0, NULL, 1);
    ir_node_set_ints(g, 0, "shape", D(2, -1), 2);
    expect_infer_error(g, "negative");
    ir_graph_free(g);
    g = one_op(OP_CONSTANT_OF_SHAPE, 0, NULL, 1);
    ir_node_set_ints(g, 0, "shape", D(INT64_C(1) << 30, INT64_C(1) << 30, INT64_C(1) << 30), 3);
    expect_infer_error(g, "too many elements");
    ir_graph_free(g);
    g = one_op(OP_CONSTANT_OF_SHAPE, 0, NULL, 1);
    ir_node_set_ints(g, 0, "shape", D(2), 1);
    float two[2] = {1, 2};
    v = tensor_wrap(DT_F32, 1, D(2), two);
    ir_node_set_tensor(g, 0, "value", v);
    tensor_free(v);
    expect_infer_error(g, "one element");
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- Expand, Tile, Range */

START_TEST(test_expand_tile)
{
    Tensor *x = tens(DT_I16, 2, D(3, 1), V(1, 2, 3));
    Graph *g = one_op(OP_EXPAND, 1, &x, 1);
    ir_node_set_ints(g, 0, "shape", D(2, 1, 2), 3);
    run1(g, x, DT_I16, 3, D(2, 3, 2), V(1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3));
    ir_graph_free(g);
    g = one_op(OP_EXPAND, 1, &x, 1); /* shape smaller than input: input dims win */
    ir_node_set_ints(g, 0, "shape", D(1), 1);
    run1(g, x, DT_I16, 2, D(3, 1), V(1, 2, 3));
    ir_graph_free(g);
    g = one_op(OP_EXPAND, 1, &x, 1);
    ir_node_set_ints(g, 0, "shape", D(2, 2), 2);
    expect_infer_error(g, "cannot broadcast 3x1 to 2x2");
    ir_graph_free(g);
    g = one_op(OP_EXPAND, 1, &x, 1);
    ir_node_set_ints(g, 0, "shape", D(-1, 1), 2);
    expect_infer_error(g, "negative");
    ir_graph_free(g);

    g = one_op(OP_TILE, 1, &x, 1);
    ir_node_set_ints(g, 0, "repeats", D(2, 2), 2);
    run1(g, x, DT_I16, 2, D(6, 2), V(1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3));
    ir_graph_free(g);
    g = one_op(OP_TILE, 1, &x, 1);
    ir_node_set_ints(g, 0, "repeats", D(0, 3), 2);
    run1(g, x, DT_I16, 2, D(0, 3), NULL);
    ir_graph_free(g);
    g = one_op(OP_TILE, 1, &x, 1);
    ir_node_set_ints(g, 0, "repeats", D(INT64_MAX / 2, 4), 2);
    expect_infer_error(g, "too large");
    ir_graph_free(g);
    g = one_op(OP_TILE, 1, &x, 1);
    ir_node_set_ints(g, 0, "repeats", D(1, -1), 2);
    expect_infer_error(g, "negative");
    ir_graph_free(g);
    g = one_op(OP_TILE, 1, &x, 1);
    ir_node_set_ints(g, 0, "repeats", D(2), 1);
    expect_infer_error(g, "repeats has 1 entries");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

static Graph *range_graph(double start, double limit, double delta, int to)
{
    Graph *g = one_op(OP_RANGE, 0, NULL, 1);
    ir_node_set_float(g, 0, "start", start);
    ir_node_set_float(g, 0, "limit", limit);
    ir_node_set_float(g, 0, "delta", delta);
    ir_node_set_int(g, 0, "to", to);
    return g;
}

START_TEST(test_range)
{
    Graph *g = range_graph(1, 5, 2, 1);
    run1(g, NULL, DT_F32, 1, D(2), V(1, 3));
    ir_graph_free(g);
    g = range_graph(10, 4, -3, 6);
    run1(g, NULL, DT_I32, 1, D(2), V(10, 7));
    ir_graph_free(g);
    g = range_graph(0, 1, 0.25, 11);
    run1(g, NULL, DT_F64, 1, D(4), V(0, 0.25, 0.5, 0.75));
    ir_graph_free(g);
    g = range_graph(5, 1, 1, 7);
    run1(g, NULL, DT_I64, 1, D(0), NULL);
    ir_graph_free(g);
    g = range_graph(0, 1, 0, 1);
    expect_infer_error(g, "delta is 0");
    ir_graph_free(g);
    g = range_graph(0, 1e30, 1e-30, 1);
    expect_infer_error(g, "too many elements");
    ir_graph_free(g);
    g = range_graph(0.5, 3, 1, 7);
    expect_infer_error(g, "integral");
    ir_graph_free(g);
    g = range_graph(0, 3, 1, 9);
    expect_infer_error(g, "not a numeric dtype");
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- DepthToSpace, SpaceToDepth */

START_TEST(test_depth_space)
{
    /* 1x8x1x1, blocksize 2: DCR out[c][i][j] = in[(2i + j) * 2 + c]; CRD in[4c + 2i + j] */
    Tensor *x = tens(DT_F32, 4, D(1, 8, 1, 1), NULL);
    Graph *g = one_op(OP_DEPTH_TO_SPACE, 1, &x, 1);
    ir_node_set_int(g, 0, "blocksize", 2);
    run1(g, x, DT_F32, 4, D(1, 2, 2, 2), V(0, 2, 4, 6, 1, 3, 5, 7));
    ir_graph_free(g);
    g = one_op(OP_DEPTH_TO_SPACE, 1, &x, 1);
    ir_node_set_int(g, 0, "blocksize", 2);
    ir_node_set_str(g, 0, "mode", "CRD");
    run1(g, x, DT_F32, 4, D(1, 2, 2, 2), V(0, 1, 2, 3, 4, 5, 6, 7));
    ir_graph_free(g);
    g = one_op(OP_DEPTH_TO_SPACE, 1, &x, 1);
    ir_node_set_int(g, 0, "blocksize", 3);
    expect_infer_error(g, "not divisible");
    ir_graph_free(g);
    g = one_op(OP_DEPTH_TO_SPACE, 1, &x, 1);
    ir_node_set_int(g, 0, "blocksize", 2);
    ir_node_set_str(g, 0, "mode", "XYZ");
    expect_infer_error(g, "unknown mode");
    ir_graph_free(g);
    tensor_free(x);

    /* 1x1x2x4 (values 0..7), blocksize 2: out channel (2i + j) holds in[2h + i][2w + j] */
    x = tens(DT_I64, 4, D(1, 1, 2, 4), NULL);
    g = one_op(OP_SPACE_TO_DEPTH, 1, &x, 1);
    ir_node_set_int(g, 0, "blocksize", 2);
    run1(g, x, DT_I64, 4, D(1, 4, 1, 2), V(0, 2, 1, 3, 4, 6, 5, 7));
    ir_graph_free(g);
    g = one_op(OP_SPACE_TO_DEPTH, 1, &x, 1);
    ir_node_set_int(g, 0, "blocksize", 3);
    expect_infer_error(g, "not divisible by blocksize 3");
    ir_graph_free(g);
    g = one_op(OP_SPACE_TO_DEPTH, 1, &x, 1);
    expect_infer_error(g, "blocksize must be positive");
    ir_graph_free(g);
    tensor_free(x);

    /* SpaceToDepth then DepthToSpace (DCR) is the identity */
    x = tens(DT_U8, 4, D(2, 3, 4, 6), NULL);
    Graph *g1 = one_op(OP_SPACE_TO_DEPTH, 1, &x, 1);
    ir_node_set_int(g1, 0, "blocksize", 2);
    Diag d = {{0}};
    Tensor *mid = NULL, *back = NULL;
    ck_assert_msg(run(g1, &x, &mid, &d) == 0, "%s", d.msg);
    Graph *g2 = one_op(OP_DEPTH_TO_SPACE, 1, &mid, 1);
    ir_node_set_int(g2, 0, "blocksize", 2);
    ck_assert_msg(run(g2, &mid, &back, &d) == 0, "%s", d.msg);
    check(back, DT_U8, 4, x->dims, NULL);
    ck_assert_int_eq(memcmp(back->data, x->data, tensor_nbytes(x)), 0);
    tensor_free(mid);
    tensor_free(back);
    ir_graph_free(g1);
    ir_graph_free(g2);
    tensor_free(x);
}
END_TEST

/* ---------------------------------------------------------------- Gather, GatherElements */

START_TEST(test_gather)
{
    Tensor *in[2] = {tens(DT_F32, 2, D(3, 2), V(1, 2, 3, 4, 5, 6)),
                     tens(DT_I32, 2, D(2, 2), V(0, -1, 1, 2))};
    Graph *g = one_op(OP_GATHER, 2, in, 1);
    Diag d = {{0}};
    Tensor *y = NULL;
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_F32, 3, D(2, 2, 2), V(1, 2, 5, 6, 3, 4, 5, 6));
    tensor_free(y);
    ir_graph_free(g);
    tensor_free(in[1]);

    in[1] = tens_i64(1, D(3), (const int64_t[]){1, -2, 0});
    g = one_op(OP_GATHER, 2, in, 1);
    ir_node_set_int(g, 0, "axis", -1);
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_F32, 2, D(3, 3), V(2, 1, 1, 4, 3, 3, 6, 5, 5));
    tensor_free(y);
    ir_graph_free(g);
    tensor_free(in[1]);

    in[1] = tens_i64(0, NULL, (const int64_t[]){2}); /* scalar index drops the axis */
    g = one_op(OP_GATHER, 2, in, 1);
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_F32, 1, D(2), V(5, 6));
    tensor_free(y);
    ir_graph_free(g);
    tensor_free(in[1]);

    in[1] = tens(DT_I32, 1, D(1), V(3)); /* out of range at run time */
    g = one_op(OP_GATHER, 2, in, 1);
    ck_assert_int_eq(run(g, in, &y, &d), -1);
    ck_assert_msg(strstr(d.msg, "index 3 out of range") != NULL, "%s", d.msg);
    ir_graph_free(g);
    g = one_op(OP_GATHER, 2, in, 1);
    ir_node_set_int(g, 0, "axis", 2);
    expect_infer_error(g, "axis 2 out of range");
    ir_graph_free(g);
    tensor_free(in[1]);

    in[1] = tens(DT_F32, 1, D(1), V(0));
    g = one_op(OP_GATHER, 2, in, 1);
    expect_infer_error(g, "must be integers");
    ir_graph_free(g);
    tensor_free(in[1]);

    /* constant indices are range-checked by shape inference */
    g = one_op(OP_GATHER, 1, in, 1);
    int64_t bad = -4;
    int c = ir_const_add(g, "idx", DT_I64, 1, D(1), &bad);
    int ins2[2] = {g->inputs[0], c};
    ir_node_set_inputs(g, 0, 2, ins2);
    expect_infer_error(g, "index -4 out of range");
    ir_graph_free(g);
    tensor_free(in[0]);

    /* bool data: bytes move unchanged */
    in[0] = tens(DT_BOOL, 1, D(3), V(1, 0, 1));
    in[1] = tens_i64(1, D(2), (const int64_t[]){1, 2});
    g = one_op(OP_GATHER, 2, in, 1);
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_BOOL, 1, D(2), V(0, 1));
    tensor_free(y);
    ir_graph_free(g);
    tensor_free(in[0]);
    tensor_free(in[1]);
}
END_TEST

START_TEST(test_gather_elements)
{
    Tensor *in[2] = {tens(DT_I32, 2, D(2, 2), V(1, 2, 3, 4)),
                     tens_i64(2, D(2, 2), (const int64_t[]){0, 0, 1, 0})};
    Graph *g = one_op(OP_GATHER_ELEMENTS, 2, in, 1);
    ir_node_set_int(g, 0, "axis", 1);
    Diag d = {{0}};
    Tensor *y = NULL;
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_I32, 2, D(2, 2), V(1, 1, 4, 3));
    tensor_free(y);
    ir_graph_free(g);
    tensor_free(in[1]);

    /* axis 0, negative indices, indices smaller than data along the other axis */
    in[1] = tens(DT_I32, 2, D(3, 1), V(-1, 0, -2));
    g = one_op(OP_GATHER_ELEMENTS, 2, in, 1);
    ck_assert_msg(run(g, in, &y, &d) == 0, "%s", d.msg);
    check(y, DT_I32, 2, D(3, 1), V(3, 1, 1));
    tensor_free(y);
    ir_graph_free(g);
    tensor_free(in[1]);

    in[1] = tens(DT_I32, 2, D(1, 3), V(0, 0, 0));
    g = one_op(OP_GATHER_ELEMENTS, 2, in, 1);
    expect_infer_error(g, "exceeds data dim");
    ir_graph_free(g);
    tensor_free(in[1]);
    in[1] = tens(DT_I32, 2, D(1, 1), V(2));
    g = one_op(OP_GATHER_ELEMENTS, 2, in, 1);
    ck_assert_int_eq(run(g, in, &y, &d), -1);
    ck_assert_msg(strstr(d.msg, "out of range") != NULL, "%s", d.msg);
    ir_graph_free(g);
    tensor_free(in[1]);
    in[1] = tens(DT_I32, 1, D(1), V(0));
    g = one_op(OP_GATHER_ELEMENTS, 2, in, 1);
    expect_infer_error(g, "rank 1");
    ir_graph_free(g);
    tensor_free(in[1]);
    tensor_free(in[0]);
}
END_TEST

/* ---------------------------------------------------------------- TopK, OneHot, EyeLike */

/* TopK of x along axis; check values (as doubles) and indices. */
static void topk_case(Tensor *x, int64_t k, int64_t axis, int largest, int rank,
                      const int64_t *dims, const double *vals, const int64_t *idx)
{
    Graph *g = one_op(OP_TOPK, 1, &x, 2);
    ir_node_set_int(g, 0, "k", k);
    ir_node_set_int(g, 0, "axis", axis);
    ir_node_set_int(g, 0, "largest", largest);
    Diag d = {{0}};
    Tensor *y[2] = {0};
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    check(y[0], x->dtype, rank, dims, vals);
    check(y[1], DT_I64, rank, dims, NULL);
    for (int64_t i = 0; i < tensor_numel(y[1]); i++)
        ck_assert_int_eq(((int64_t *)y[1]->data)[i], idx[i]);
    tensor_free(y[0]);
    tensor_free(y[1]);
    ir_graph_free(g);
}

START_TEST(test_topk)
{
    Tensor *x = tens(DT_F32, 1, D(6), V(1, 3, 3, 2, 5, 3));
    topk_case(x, 3, -1, 1, 1, D(3), V(5, 3, 3), (const int64_t[]){4, 1, 2}); /* ties: lower index */
    topk_case(x, 4, 0, 0, 1, D(4), V(1, 2, 3, 3), (const int64_t[]){0, 3, 1, 2});
    topk_case(x, 0, 0, 1, 1, D(0), NULL, NULL);
    tensor_free(x);

    /* 2-D along axis 0 (columns), smallest */
    x = tens(DT_I32, 2, D(3, 2), V(4, 1, 2, 1, 4, 0));
    topk_case(x, 2, 0, 0, 2, D(2, 2), V(2, 0, 4, 1), (const int64_t[]){1, 2, 0, 0});
    topk_case(x, 1, -2, 1, 2, D(1, 2), V(4, 1), (const int64_t[]){0, 0});
    tensor_free(x);

    /* i64 values that differ below double precision */
    int64_t big[3] = {(INT64_C(1) << 60) + 1, (INT64_C(1) << 60) + 3, (INT64_C(1) << 60) + 2};
    x = tens_i64(1, D(3), big);
    Graph *g = one_op(OP_TOPK, 1, &x, 2);
    ir_node_set_int(g, 0, "k", 3);
    Diag d = {{0}};
    Tensor *y[2] = {0};
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(((int64_t *)y[1]->data)[0], 1);
    ck_assert_int_eq(((int64_t *)y[1]->data)[1], 2);
    ck_assert_int_eq(((int64_t *)y[1]->data)[2], 0);
    ck_assert(((int64_t *)y[0]->data)[0] == big[1]);
    tensor_free(y[0]);
    tensor_free(y[1]);
    ir_graph_free(g);
    tensor_free(x);

    /* NaN ranks as the largest */
    x = tens(DT_F64, 1, D(3), V(1, NAN, 2));
    topk_case(x, 1, 0, 0, 1, D(1), V(1), (const int64_t[]){0});
    g = one_op(OP_TOPK, 1, &x, 2);
    ir_node_set_int(g, 0, "k", 2);
    ck_assert_msg(run(g, &x, y, &d) == 0, "%s", d.msg);
    ck_assert(isnan(tensor_get_f64(y[0], 0)));
    ck_assert_int_eq(((int64_t *)y[1]->data)[0], 1);
    ck_assert_int_eq(((int64_t *)y[1]->data)[1], 2);
    tensor_free(y[0]);
    tensor_free(y[1]);
    ir_graph_free(g);

    g = one_op(OP_TOPK, 1, &x, 2);
    ir_node_set_int(g, 0, "k", 4);
    expect_infer_error(g, "k = 4 out of range");
    ir_graph_free(g);
    g = one_op(OP_TOPK, 1, &x, 2);
    expect_infer_error(g, "missing attribute 'k'");
    ir_graph_free(g);
    g = one_op(OP_TOPK, 1, &x, 2);
    ir_node_set_int(g, 0, "k", 1);
    ir_node_set_int(g, 0, "axis", 1);
    expect_infer_error(g, "out of range");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

START_TEST(test_one_hot)
{
    Tensor *ix = tens_i64(1, D(4), (const int64_t[]){0, -1, 5, 1});
    float offon[2] = {-1, 7};
    Tensor *vals = tensor_wrap(DT_F32, 1, D(2), offon);
    Graph *g = one_op(OP_ONE_HOT, 1, &ix, 1);
    ir_node_set_int(g, 0, "depth", 3);
    ir_node_set_tensor(g, 0, "values", vals);
    run1(g, ix, DT_F32, 2, D(4, 3), V(7, -1, -1, -1, -1, 7, -1, -1, -1, -1, 7, -1));
    ir_graph_free(g);
    g = one_op(OP_ONE_HOT, 1, &ix, 1);
    ir_node_set_int(g, 0, "depth", 3);
    ir_node_set_int(g, 0, "axis", 0);
    ir_node_set_tensor(g, 0, "values", vals);
    run1(g, ix, DT_F32, 2, D(3, 4), V(7, -1, -1, -1, -1, -1, -1, 7, -1, 7, -1, -1));
    ir_graph_free(g);
    g = one_op(OP_ONE_HOT, 1, &ix, 1);
    ir_node_set_int(g, 0, "depth", 0);
    ir_node_set_tensor(g, 0, "values", vals);
    expect_infer_error(g, "depth must be positive");
    ir_graph_free(g);
    g = one_op(OP_ONE_HOT, 1, &ix, 1);
    ir_node_set_int(g, 0, "depth", 3);
    ir_node_set_int(g, 0, "axis", 2);
    ir_node_set_tensor(g, 0, "values", vals);
    expect_infer_error(g, "axis 2 out of range");
    ir_graph_free(g);
    g = one_op(OP_ONE_HOT, 1, &ix, 1);
    ir_node_set_int(g, 0, "depth", 3);
    expect_infer_error(g, "missing attribute 'values'");
    ir_graph_free(g);
    tensor_free(vals);
    tensor_free(ix);

    /* float indices truncate; output dtype from values (i32) */
    ix = tens(DT_F32, 1, D(2), V(1.9, -0.5));
    int32_t iv[2] = {0, 1};
    vals = tensor_wrap(DT_I32, 1, D(2), iv);
    g = one_op(OP_ONE_HOT, 1, &ix, 1);
    ir_node_set_int(g, 0, "depth", 2);
    ir_node_set_tensor(g, 0, "values", vals);
    run1(g, ix, DT_I32, 2, D(2, 2), V(0, 1, 1, 0));
    ir_graph_free(g);
    tensor_free(vals);
    tensor_free(ix);
}
END_TEST

START_TEST(test_eye_like)
{
    Tensor *x = tens(DT_F32, 2, D(3, 4), NULL);
    Graph *g = one_op(OP_EYE_LIKE, 1, &x, 1);
    ir_node_set_int(g, 0, "k", 1);
    ir_node_set_int(g, 0, "dtype", 6);
    run1(g, x, DT_I32, 2, D(3, 4), V(0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1));
    ir_graph_free(g);
    g = one_op(OP_EYE_LIKE, 1, &x, 1);
    ir_node_set_int(g, 0, "k", -2);
    run1(g, x, DT_F32, 2, D(3, 4), V(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0));
    ir_graph_free(g);
    g = one_op(OP_EYE_LIKE, 1, &x, 1);
    ir_node_set_int(g, 0, "k", INT64_MIN);
    run1(g, x, DT_F32, 2, D(3, 4), V(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    ir_graph_free(g);
    g = one_op(OP_EYE_LIKE, 1, &x, 1);
    ir_node_set_int(g, 0, "dtype", 8); /* string */
    expect_infer_error(g, "not a supported dtype");
    ir_graph_free(g);
    tensor_free(x);
    x = tens(DT_F32, 1, D(3), NULL);
    g = one_op(OP_EYE_LIKE, 1, &x, 1);
    expect_infer_error(g, "must be 2-D");
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

TEST_SUITE(ops_movement)
{
    Suite *s = suite_create("ops_movement");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, test_flatten);
    tcase_add_test(tc, test_reshape);
    tcase_add_test(tc, test_squeeze_unsqueeze);
    tcase_add_test(tc, test_transpose);
    tcase_add_test(tc, test_concat);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_slice);
    tcase_add_test(tc, test_pad);
    tcase_add_test(tc, test_shape_size);
    tcase_add_test(tc, test_constant_of_shape);
    tcase_add_test(tc, test_expand_tile);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_depth_space);
    suite_add_tcase(s, tc);
    TCase *ti = tcase_create("index");
    tcase_add_test(ti, test_gather);
    tcase_add_test(ti, test_gather_elements);
    tcase_add_test(ti, test_topk);
    tcase_add_test(ti, test_one_hot);
    tcase_add_test(ti, test_eye_like);
    suite_add_tcase(s, ti);
    return s;
}
