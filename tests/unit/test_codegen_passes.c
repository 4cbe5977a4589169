/* test_codegen_passes.c — unit tests of the passes that prepare code generation (layout,
 * fuse-residual, schedule, plan-memory; docs/codegen.md §1-4) and of the interpreter semantics
 * they rely on (Conv's residual input, ops with layout="NCHW16c").
 *
 *   semantics    Conv(x, W, B, r) with a fused Relu is bit-identical to Relu(Add(Conv(x, W, B), r));
 *                blocked Conv/pools equal the plain op between LayoutTransforms, bit for bit,
 *                with zero padded lanes; shape inference rejects malformed blocked ops.
 *   passes       small CNNs (conv chains, residual blocks, concat + pools, graph outputs inside
 *                blocked regions, depthwise and mixed plain/blocked consumers) through
 *                layout, fuse-residual, fuse-activation, schedule, plan-memory: same outputs
 *                as before, same graph output names and types, the expected structure.
 *   schedule     every tile it picks is one the kernels instantiate (KCONV_SHAPES, KDW_SHAPES
 *                of codegen/kernels), dividing the output blocks, within the register budget.
 *   memory plan  plan_memory_verify accepts the plans and rejects broken ones; running a graph
 *                "in the plan" (every value read from and written to its placement in one
 *                workspace and the output buffers, the workspace poisoned with NaNs) gives the
 *                interpreter's outputs bit for bit; the torchvision models (build/models, from
 *                tests/models/export.py; skipped with a note when absent) are planned, verified,
 *                simulated and their peak workspace printed against the sum of their tensors.
 */
#include "test.h"

#include "codegen/kernels/conv.h"
#include "codegen/kernels/conv_dw.h"
#include "frontends/onnx/onnx.h"
#include "passes/passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- graph building */

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define NIN(...) ((int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)))
#define NODE(g, op, name, out, ...) add_node(g, op, name, NIN(__VA_ARGS__), (int[]){__VA_ARGS__}, out)

static unsigned long long cg_rng = 424242;

static int add_node(Graph *g, OpKind op, const char *name, int n_in, const int *in, const char *out)
{
    int y = ir_value_add(g, out, DT_UNDEF, 0, NULL);
    ir_node_add(g, op, name, n_in, in, 1, &y);
    return y;
}

static int last(const Graph *g) { return g->n_nodes - 1; }

static int input(Graph *g, const char *name, int rank, const int64_t *dims)
{
    int v = ir_value_add(g, name, DT_F32, rank, dims);
    ir_graph_add_input(g, v);
    return v;
}

static int weight(Graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = shape_numel(rank, dims);
    float *b = xmalloc((size_t)n * sizeof(float) + 4);
    for (int64_t i = 0; i < n; i++) b[i] = test_randf(&cg_rng, -0.5f, 0.5f);
    int id = ir_const_add(g, name, DT_F32, rank, dims, b);
    free(b);
    return id;
}

/* Conv of x (C channels) to m channels with a k x k kernel; returns the output value. */
static int conv(Graph *g, const char *name, int x, int64_t c, int64_t m, int64_t k, int64_t stride, int64_t group,
                const char *act)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.w", name);
    snprintf(bn, sizeof bn, "%s.b", name);
    int w = weight(g, wn, 4, DIMS(m, c / group, k, k));
    int b = weight(g, bn, 1, DIMS(m));
    int y = NODE(g, OP_CONV, name, name, x, w, b);
    int64_t p = k / 2;
    ir_node_set_ints(g, last(g), "pads", DIMS(p, p, p, p), 4);
    ir_node_set_ints(g, last(g), "strides", DIMS(stride, stride), 2);
    if (group > 1) ir_node_set_int(g, last(g), "group", group);
    if (act) ir_node_set_str(g, last(g), "activation", act);
    return y;
}

static int layout_transform(Graph *g, const char *name, int x, int to_blocked, int64_t channels)
{
    int y = NODE(g, OP_LAYOUT_TRANSFORM, name, name, x);
    ir_node_set_str(g, last(g), "src", to_blocked ? "NCHW" : "NCHW16c");
    ir_node_set_str(g, last(g), "dst", to_blocked ? "NCHW16c" : "NCHW");
    ir_node_set_int(g, last(g), "channels", channels);
    return y;
}

static int count_op(const Graph *g, OpKind op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op;
    return c;
}

static int count_blocked(const Graph *g, OpKind op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op && ir_node_layout(&g->nodes[i], NULL) == 1;
    return c;
}

/* ---------------------------------------------------------------- running */

static void infer_ok(Graph *g)
{
    Diag d;
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "infer: %s", d.msg);
    ck_assert_msg(ir_verify(g, &d) == 0, "verify: %s", d.msg);
}

static Tensor **make_inputs(const Graph *g, uint64_t seed)
{
    Tensor **in = xcalloc((size_t)g->n_inputs + 1, sizeof(Tensor *));
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        in[k] = tensor_new(v->dtype, v->rank, v->dims);
        pass_random_fill(in[k], &seed);
    }
    return in;
}

static Tensor **run(const Graph *g, Tensor **in)
{
    Tensor **out = xcalloc((size_t)g->n_outputs + 1, sizeof(Tensor *));
    Diag d;
    ck_assert_msg(interp_run(g, in, out, NULL, &d) == 0, "interp: %s", d.msg);
    return out;
}

static void free_tensors(Tensor **t, int n)
{
    for (int k = 0; k < n; k++) tensor_free(t[k]);
    free(t);
}

static void assert_same_bits(const Tensor *a, const Tensor *b, const char *what)
{
    ck_assert_msg(a->dtype == b->dtype && a->rank == b->rank, "%s: types differ", what);
    for (int i = 0; i < a->rank; i++) ck_assert_msg(a->dims[i] == b->dims[i], "%s: shapes differ", what);
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < tensor_numel(a); i++)
        ck_assert_msg(memcmp(&x[i], &y[i], sizeof(float)) == 0, "%s[%lld]: %.9g vs %.9g", what, (long long)i,
                      (double)x[i], (double)y[i]);
}

static void assert_close(const Tensor *a, const Tensor *ref, double rtol, double atol, const char *what)
{
    ck_assert_int_eq(tensor_numel(a), tensor_numel(ref));
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        double x = tensor_get_f64(a, i), r = tensor_get_f64(ref, i);
        ck_assert_msg(fabs(x - r) <= atol + rtol * fabs(r), "%s[%lld]: %.9g vs reference %.9g", what, (long long)i, x,
                      r);
    }
}

/* Padded lanes (channel >= C) of a blocked f32 tensor [N, CB, S..., 16] are all +0.0. */
static void assert_padded_zero(const Tensor *t, int64_t C, const char *what)
{
    int64_t CB = t->dims[1], S = 1;
    for (int i = 2; i < t->rank - 1; i++) S *= t->dims[i];
    const float *p = t->data;
    for (int64_t n = 0; n < t->dims[0]; n++)
        for (int64_t cb = 0; cb < CB; cb++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t l = 0; l < IR_LAYOUT_BLOCK; l++) {
                    if (cb * IR_LAYOUT_BLOCK + l < C) continue;
                    float v = p[((n * CB + cb) * S + s) * IR_LAYOUT_BLOCK + l];
                    ck_assert_msg(v == 0.0f && !signbit(v), "%s: padded lane %lld of block %lld is %g", what,
                                  (long long)l, (long long)cb, (double)v);
                }
}

/* ---------------------------------------------------------------- interpreter semantics */

START_TEST(conv_residual_matches_add)
{
    const char *acts[] = {NULL, "relu", "leaky_relu", "sigmoid"};
    for (int a = 0; a < 4; a++) {
        Graph *u = ir_graph_new("unfused"), *f = ir_graph_new("fused");
        Graph *gs[2] = {u, f};
        for (int k = 0; k < 2; k++) {
            Graph *g = gs[k];
            cg_rng = 77;
            int x = input(g, "x", 4, DIMS(1, 5, 6, 7));
            int r = input(g, "r", 4, DIMS(1, 7, 3, 4));
            int w = weight(g, "w", 4, DIMS(7, 5, 3, 3)), b = weight(g, "b", 1, DIMS(7));
            int y;
            if (k == 0) {
                int c = NODE(g, OP_CONV, "conv", "c", x, w, b);
                ir_node_set_ints(g, last(g), "pads", DIMS(1, 1, 1, 1), 4);
                ir_node_set_ints(g, last(g), "strides", DIMS(2, 2), 2);
                y = NODE(g, OP_ADD, "add", "s", c, r);
                if (acts[a] && !strcmp(acts[a], "relu")) y = NODE(g, OP_RELU, "act", "y", y);
                if (acts[a] && !strcmp(acts[a], "leaky_relu")) y = NODE(g, OP_LEAKY_RELU, "act", "y", y);
                if (acts[a] && !strcmp(acts[a], "sigmoid")) y = NODE(g, OP_SIGMOID, "act", "y", y);
            } else {
                y = NODE(g, OP_CONV, "conv", "y", x, w, b, r);
                ir_node_set_ints(g, last(g), "pads", DIMS(1, 1, 1, 1), 4);
                ir_node_set_ints(g, last(g), "strides", DIMS(2, 2), 2);
                if (acts[a]) ir_node_set_str(g, last(g), "activation", acts[a]);
            }
            ir_graph_add_output(g, y);
            infer_ok(g);
        }
        Tensor **in = make_inputs(u, 5);
        Tensor **o1 = run(u, in), **o2 = run(f, in);
        assert_same_bits(o2[0], o1[0], acts[a] ? acts[a] : "no activation");
        free_tensors(o1, 1), free_tensors(o2, 1), free_tensors(in, 2);
        ir_graph_free(u), ir_graph_free(f);
    }
}
END_TEST

typedef struct ConvCase {
    int64_t C, M, group, stride;
    int plain_in, residual;
    const char *act;
} ConvCase;

START_TEST(blocked_conv_matches_plain)
{
    static const ConvCase cases[] = {
        {3, 20, 1, 2, 1, 0, "relu"},  {20, 24, 1, 1, 0, 1, NULL},        {32, 32, 32, 1, 0, 1, "clip"},
        {32, 48, 2, 2, 0, 0, "leaky_relu"}, {5, 16, 1, 1, 0, 1, "hard_swish"}, {17, 33, 1, 1, 1, 1, "tanh"},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const ConvCase *c = &cases[ci];
        Graph *gp = ir_graph_new("plain"), *gb = ir_graph_new("blocked");
        int64_t oh = (9 - 1) / c->stride + 1, ow = (7 - 1) / c->stride + 1;
        int yb = -1;
        for (int k = 0; k < 2; k++) {
            Graph *g = k ? gb : gp;
            cg_rng = 1000 + ci;
            int x = input(g, "x", 4, DIMS(2, c->C, 9, 7));
            int r = c->residual ? input(g, "r", 4, DIMS(2, c->M, oh, ow)) : -1;
            int w = weight(g, "w", 4, DIMS(c->M, c->C / c->group, 3, 3)), b = weight(g, "b", 1, DIMS(c->M));
            if (k && !c->plain_in) x = layout_transform(g, "xb", x, 1, c->C);
            if (k && r >= 0) r = layout_transform(g, "rb", r, 1, c->M);
            int y = r >= 0 ? NODE(g, OP_CONV, "conv", "y", x, w, b, r) : NODE(g, OP_CONV, "conv", "y", x, w, b);
            ir_node_set_ints(g, last(g), "pads", DIMS(1, 1, 1, 1), 4);
            ir_node_set_ints(g, last(g), "strides", DIMS(c->stride, c->stride), 2);
            ir_node_set_int(g, last(g), "group", c->group);
            if (c->act) ir_node_set_str(g, last(g), "activation", c->act);
            if (c->act && !strcmp(c->act, "clip")) {
                ir_node_set_float(g, last(g), "activation_alpha", 0.0);
                ir_node_set_float(g, last(g), "activation_beta", 0.25);
            }
            if (k) {
                ir_node_set_str(g, last(g), "layout", "NCHW16c");
                yb = y;
                y = layout_transform(g, "y_plain", y, 0, c->M);
            }
            ir_graph_add_output(g, y);
            if (k) ir_graph_add_output(g, yb);
            infer_ok(g);
        }
        ck_assert_int_eq(gb->values[yb].rank, 5);
        ck_assert_int_eq(gb->values[yb].dims[1], (c->M + 15) / 16);
        Tensor **in = make_inputs(gp, 9 + ci);
        Tensor **o1 = run(gp, in), **o2 = run(gb, in);
        char what[64];
        snprintf(what, sizeof what, "case %zu", ci);
        assert_same_bits(o2[0], o1[0], what);
        assert_padded_zero(o2[1], c->M, what);
        free_tensors(o1, 1), free_tensors(o2, 2), free_tensors(in, gp->n_inputs);
        ir_graph_free(gp), ir_graph_free(gb);
    }
}
END_TEST

START_TEST(blocked_pools_match_plain)
{
    for (int pk = 0; pk < 5; pk++) {
        Graph *gp = ir_graph_new("plain"), *gb = ir_graph_new("blocked");
        int yb = -1;
        for (int k = 0; k < 2; k++) {
            Graph *g = k ? gb : gp;
            int x = input(g, "x", 4, DIMS(1, 20, 9, 8));
            if (k) x = layout_transform(g, "xb", x, 1, 20);
            OpKind op = pk < 2 ? OP_MAX_POOL : pk < 3 ? OP_AVERAGE_POOL : pk < 4 ? OP_GLOBAL_AVERAGE_POOL : OP_GLOBAL_MAX_POOL;
            int y = NODE(g, op, "pool", "y", x);
            if (pk < 3) {
                ir_node_set_ints(g, last(g), "kernel_shape", DIMS(3, 3), 2);
                ir_node_set_ints(g, last(g), "strides", DIMS(2, 2), 2);
                ir_node_set_ints(g, last(g), "pads", DIMS(1, 1, 1, 1), 4);
            }
            if (pk == 1) ir_node_set_int(g, last(g), "ceil_mode", 1);
            if (pk == 2) ir_node_set_int(g, last(g), "count_include_pad", 1);
            if (k) {
                ir_node_set_str(g, last(g), "layout", "NCHW16c");
                yb = y;
                y = layout_transform(g, "y_plain", y, 0, 20);
            }
            ir_graph_add_output(g, y);
            if (k) ir_graph_add_output(g, yb);
            infer_ok(g);
        }
        ck_assert_int_eq(gb->values[yb].rank, 5);
        Tensor **in = make_inputs(gp, 31 + pk);
        Tensor **o1 = run(gp, in), **o2 = run(gb, in);
        assert_same_bits(o2[0], o1[0], ir_op_name(gb->nodes[1].op));
        assert_padded_zero(o2[1], 20, ir_op_name(gb->nodes[1].op));
        free_tensors(o1, 1), free_tensors(o2, 2), free_tensors(in, 1);
        ir_graph_free(gp), ir_graph_free(gb);
    }
}
END_TEST

/* Shape inference of g must fail with `want` in the message. */
static void expect_infer_error(Graph *g, const char *want)
{
    Diag d;
    ck_assert_msg(ir_infer_shapes(g, &d) != 0, "expected an error containing '%s'", want);
    ck_assert_msg(strstr(d.msg, want) != NULL, "error '%s' lacks '%s'", d.msg, want);
    ir_graph_free(g);
}

START_TEST(blocked_shape_errors)
{
    /* sigmoid(0) = 0.5 would land in the 12 padded lanes of 20 output channels: the kernels
     * zero them (keep_lanes, tests/kernels/test_conv.c), so a blocked Conv with any activation
     * is valid, dense or depthwise, 20 or 16 channels */
    Graph *g = ir_graph_new("t");
    int x = input(g, "x", 5, DIMS(1, 2, 4, 4, 16));
    conv(g, "c", x, 20, 20, 3, 1, 20, "sigmoid");
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    Diag d1;
    ck_assert_msg(ir_infer_shapes(g, &d1) == 0, "depthwise sigmoid with 20 channels: %s", d1.msg);
    ir_graph_free(g);
    g = ir_graph_new("t");
    x = input(g, "x", 4, DIMS(1, 3, 4, 4));
    conv(g, "c", x, 3, 20, 3, 1, 1, "sigmoid");
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    ck_assert_msg(ir_infer_shapes(g, &d1) == 0, "sigmoid with 20 channels, dense: %s", d1.msg);
    ir_graph_free(g);
    g = ir_graph_new("t");
    x = input(g, "x", 4, DIMS(1, 3, 4, 4));
    conv(g, "c", x, 3, 16, 3, 1, 1, "sigmoid");
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    Diag d0;
    ck_assert_msg(ir_infer_shapes(g, &d0) == 0, "sigmoid with 16 channels: %s", d0.msg);
    ir_graph_free(g);

    g = ir_graph_new("t");
    x = input(g, "x", 4, DIMS(1, 3, 4, 4));
    conv(g, "c", x, 3, 16, 3, 1, 1, NULL);
    ir_node_set_str(g, last(g), "layout", "NHWC");
    expect_infer_error(g, "attribute layout must be");

    g = ir_graph_new("t");
    x = input(g, "x", 5, DIMS(1, 1, 4, 4, 16)); /* 20 channels need 2 blocks */
    conv(g, "c", x, 20, 16, 3, 1, 1, NULL);
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    expect_infer_error(g, "is not NCHW16c with 20 channels");

    g = ir_graph_new("t");
    x = input(g, "x", 4, DIMS(1, 3, 4, 4));
    int r = input(g, "r", 4, DIMS(1, 16, 4, 4)); /* blocked conv: residual must be blocked too */
    int w = weight(g, "w", 4, DIMS(16, 3, 1, 1));
    NODE(g, OP_CONV, "c", "y", x, w, -1, r);
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    expect_infer_error(g, "residual is f32[1x16x4x4] but the output is f32[1x1x4x4x16]");

    g = ir_graph_new("t");
    x = input(g, "x", 4, DIMS(1, 3, 4, 4));
    r = input(g, "r", 4, DIMS(1, 16, 4, 3));
    w = weight(g, "w", 4, DIMS(16, 3, 1, 1));
    NODE(g, OP_CONV, "c", "y", x, w, -1, r);
    expect_infer_error(g, "residual is");

    g = ir_graph_new("t");
    x = input(g, "x", 5, DIMS(1, 2, 4, 4, 16));
    int y = ir_value_add(g, "y", DT_UNDEF, 0, NULL), idx = ir_value_add(g, "i", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_MAX_POOL, "pool", 1, &x, 2, (int[]){y, idx});
    ir_node_set_ints(g, last(g), "kernel_shape", DIMS(2, 2), 2);
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    expect_infer_error(g, "Indices");

    g = ir_graph_new("t");
    x = input(g, "x", 5, DIMS(1, 2, 4, 4, 16));
    NODE(g, OP_GLOBAL_LP_POOL, "pool", "y", x);
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    expect_infer_error(g, "not supported for GlobalLpPool");

    g = ir_graph_new("t");
    x = input(g, "x", 4, DIMS(1, 2, 4, 4)); /* last dim is not 16 */
    NODE(g, OP_GLOBAL_AVERAGE_POOL, "pool", "y", x);
    ir_node_set_str(g, last(g), "layout", "NCHW16c");
    expect_infer_error(g, "is not NCHW16c");
}
END_TEST

/* ---------------------------------------------------------------- plan simulation */

/* Address of value v in the plan's buffers. */
static char *sim_addr(const Graph *g, int v, char *ws, Tensor **in, char **outs)
{
    const Value *val = &g->values[v];
    switch (val->mem_kind) {
    case MEM_WORKSPACE: return ws + val->mem_offset;
    case MEM_INPUT: return (char *)in[val->mem_index]->data + val->mem_offset;
    case MEM_OUTPUT: return outs[val->mem_index] + val->mem_offset;
    case MEM_CONST: return (char *)g->values[val->mem_index].data + val->mem_offset;
    default: ck_abort_msg("value '%s' has no placement", val->name); return NULL;
    }
}

/* Run g "in its memory plan": each node's inputs are read from their placements and its
 * outputs written to theirs; the workspace and output buffers start as NaN. The graph outputs
 * are then read from their placements (as codegen copies outputs that are not in their own
 * buffer) and compared bit for bit with a plain interpreter run. */
static void simulate_plan(const Graph *g, uint64_t seed)
{
    Tensor **in = make_inputs(g, seed);
    Tensor **ref = run(g, in);
    size_t wsn = (size_t)g->workspace_size;
    char *ws = xmalloc(wsn + 64);
    memset(ws, 0xff, wsn + 64);
    char **outs = xcalloc((size_t)g->n_outputs + 1, sizeof(char *));
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *o = &g->values[g->outputs[k]];
        size_t nb = (size_t)ir_value_numel(o) * dtype_size(o->dtype);
        outs[k] = xmalloc(nb + 1);
        memset(outs[k], 0xff, nb + 1);
    }
    Diag d;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        Tensor *ti[64] = {0}, *to[64] = {0};
        ck_assert(n->n_in <= 64 && n->n_out <= 64);
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            const Value *v = &g->values[n->in[k]];
            ti[k] = tensor_new(v->dtype, v->rank, v->dims);
            memcpy(ti[k]->data, sim_addr(g, n->in[k], ws, in, outs), tensor_nbytes(ti[k]));
        }
        ck_assert_msg(interp_node(g, i, ti, to, &d) == 0, "node %s: %s", n->name, d.msg);
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            memcpy(sim_addr(g, n->out[k], ws, in, outs), to[k]->data, tensor_nbytes(to[k]));
            tensor_free(to[k]);
        }
        for (int k = 0; k < n->n_in; k++) tensor_free(ti[k]);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *o = &g->values[g->outputs[k]];
        Tensor *t = tensor_new(o->dtype, o->rank, o->dims);
        memcpy(t->data, sim_addr(g, g->outputs[k], ws, in, outs), tensor_nbytes(t));
        char what[256];
        snprintf(what, sizeof what, "%s: output %s run in its memory plan", g->name, o->name);
        assert_same_bits(t, ref[k], what);
        tensor_free(t);
    }
    for (int k = 0; k < g->n_outputs; k++) free(outs[k]);
    free(outs), free(ws);
    free_tensors(ref, g->n_outputs), free_tensors(in, g->n_inputs);
}

static int64_t value_bytes(const Value *v) { return ir_value_numel(v) * (int64_t)dtype_size(v->dtype); }

/* Plan invariants any good plan has, beyond plan_memory_verify. */
static void check_plan_shape(const Graph *g)
{
    Diag d;
    ck_assert_msg(plan_memory_verify(g, &d) == 0, "%s: plan: %s", g->name, d.msg);
    ck_assert_int_eq(g->workspace_size % 64, 0);
    int64_t sum = 0;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        if (val->producer >= 0) sum += value_bytes(val);
        if (val->producer >= 0) ck_assert_msg(val->mem_kind != MEM_NONE, "%s unplanned", val->name);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *o = &g->values[g->outputs[k]];
        int first = 1;
        for (int j = 0; j < k; j++) first &= g->outputs[j] != g->outputs[k];
        if (o->producer >= 0 && first) {
            ck_assert_msg(o->mem_kind == MEM_OUTPUT && o->mem_index == k && o->mem_offset == 0,
                          "graph output %s is not written into its buffer", o->name);
        }
    }
    ck_assert_msg(g->workspace_size <= sum, "%s: workspace %lld > sum of tensors %lld", g->name,
                  (long long)g->workspace_size, (long long)sum);
}

/* ---------------------------------------------------------------- pass pipelines */

static const char codegen_passes[] = "layout,fuse-residual,fuse-activation,schedule,plan-memory";

/* Run the code-generation passes (verify_each: ir_verify and plan_memory_verify after each),
 * then check outputs against the graph before, and run the plan. */
static void codegen_check(Graph *g)
{
    infer_ok(g);
    Graph *ref = ir_graph_clone(g);
    PassContext ctx;
    pass_context_init(&ctx);
    ctx.verify_each = 1;
    Diag d;
    ck_assert_msg(pass_pipeline_run(g, codegen_passes, &ctx, &d) == 0, "%s: passes: %s", g->name, d.msg);
    ck_assert_msg(ir_verify(g, &d) == 0, "%s: verify: %s", g->name, d.msg);
    ck_assert_int_eq(ref->n_outputs, g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *a = &ref->values[ref->outputs[k]], *b = &g->values[g->outputs[k]];
        ck_assert_str_eq(a->name, b->name);
        ck_assert_int_eq(a->rank, b->rank);
        ck_assert_int_eq(a->dtype, b->dtype);
        ck_assert(!memcmp(a->dims, b->dims, (size_t)a->rank * sizeof(int64_t)));
    }
    Tensor **in = make_inputs(ref, 17);
    Tensor **o1 = run(ref, in), **o2 = run(g, in);
    for (int k = 0; k < g->n_outputs; k++) assert_close(o2[k], o1[k], 1e-5, 1e-6, g->values[g->outputs[k]].name);
    free_tensors(o1, ref->n_outputs), free_tensors(o2, g->n_outputs), free_tensors(in, ref->n_inputs);
    ir_graph_free(ref);
    check_plan_shape(g);
    simulate_plan(g, 23);
}

/* 3 -> 20 -> 24 -> 8 channels: plain first-layer input, padded lanes, blocked Relu. */
static Graph *g_chain(void)
{
    Graph *g = ir_graph_new("chain");
    int x = input(g, "x", 4, DIMS(1, 3, 9, 9));
    int c = conv(g, "c1", x, 3, 20, 3, 2, 1, "relu");
    c = conv(g, "c2", c, 20, 24, 3, 1, 1, NULL);
    c = NODE(g, OP_RELU, "relu", "r2", c);
    c = conv(g, "c3", c, 24, 8, 1, 1, 1, NULL);
    ir_graph_add_output(g, c);
    return g;
}

/* Two ResNet blocks (identity and downsampling), then GAP, Flatten, Gemm. */
static Graph *g_resnet(void)
{
    Graph *g = ir_graph_new("resnet");
    int x = input(g, "x", 4, DIMS(1, 16, 8, 8));
    int a = conv(g, "b1c1", x, 16, 16, 3, 1, 1, "relu");
    a = conv(g, "b1c2", a, 16, 16, 3, 1, 1, NULL);
    a = NODE(g, OP_ADD, "b1add", "b1add", a, x);
    a = NODE(g, OP_RELU, "b1relu", "b1out", a);
    int b = conv(g, "b2c1", a, 16, 32, 3, 2, 1, "relu");
    b = conv(g, "b2c2", b, 32, 32, 3, 1, 1, NULL);
    int ds = conv(g, "b2down", a, 16, 32, 1, 2, 1, NULL);
    b = NODE(g, OP_ADD, "b2add", "b2add", b, ds);
    b = NODE(g, OP_RELU, "b2relu", "b2out", b);
    int p = NODE(g, OP_GLOBAL_AVERAGE_POOL, "gap", "gap", b);
    int f = NODE(g, OP_FLATTEN, "flat", "flat", p);
    ir_node_set_int(g, last(g), "axis", 1);
    int w = weight(g, "fc.w", 2, DIMS(10, 32)), bias = weight(g, "fc.b", 1, DIMS(10));
    int y = NODE(g, OP_GEMM, "fc", "y", f, w, bias);
    ir_node_set_int(g, last(g), "transB", 1);
    ir_graph_add_output(g, y);
    return g;
}

/* SqueezeNet fire modules: Concat of blocked tensors, MaxPool with ceil_mode, AveragePool. */
static Graph *g_fire(void)
{
    Graph *g = ir_graph_new("fire");
    int x = input(g, "x", 4, DIMS(1, 3, 15, 15));
    int c = conv(g, "stem", x, 3, 32, 3, 2, 1, "relu");
    int p = NODE(g, OP_MAX_POOL, "pool1", "pool1", c);
    ir_node_set_ints(g, last(g), "kernel_shape", DIMS(3, 3), 2);
    ir_node_set_ints(g, last(g), "strides", DIMS(2, 2), 2);
    ir_node_set_int(g, last(g), "ceil_mode", 1);
    for (int f = 0; f < 2; f++) {
        char n1[32], n2[32], n3[32], n4[32];
        snprintf(n1, sizeof n1, "f%d.squeeze", f);
        snprintf(n2, sizeof n2, "f%d.e1", f);
        snprintf(n3, sizeof n3, "f%d.e3", f);
        snprintf(n4, sizeof n4, "f%d.cat", f);
        int s = conv(g, n1, p, 32, 16, 1, 1, 1, "relu");
        int e1 = conv(g, n2, s, 16, 16, 1, 1, 1, "relu");
        int e3 = conv(g, n3, s, 16, 16, 3, 1, 1, "relu");
        p = NODE(g, OP_CONCAT, n4, n4, e1, e3);
        ir_node_set_int(g, last(g), "axis", 1);
    }
    int a = NODE(g, OP_AVERAGE_POOL, "avg", "avg", p);
    ir_node_set_ints(g, last(g), "kernel_shape", DIMS(2, 2), 2);
    int cl = conv(g, "classifier", a, 32, 10, 1, 1, 1, "relu");
    int gp = NODE(g, OP_GLOBAL_AVERAGE_POOL, "gap", "gap", cl);
    int y = NODE(g, OP_FLATTEN, "flat", "y", gp);
    ir_graph_add_output(g, y);
    return g;
}

/* Graph outputs inside the blocked region (one of them also read later, one read by a plain op
 * and by blocked ones), and plain consumers (Sigmoid, Softmax) between blocked ops. */
static Graph *g_outputs_inside(void)
{
    Graph *g = ir_graph_new("outputs_inside");
    int x = input(g, "x", 4, DIMS(1, 4, 6, 6));
    int c = conv(g, "c1", x, 4, 24, 3, 1, 1, NULL);
    int r = NODE(g, OP_RELU, "relu", "r", c);
    int d = conv(g, "c2", r, 24, 24, 1, 1, 1, NULL);
    int s = NODE(g, OP_SIGMOID, "sig", "s", r);
    int e = NODE(g, OP_ADD, "add", "e", d, r);
    int y = conv(g, "c3", e, 24, 5, 3, 1, 1, "relu");
    int sm = NODE(g, OP_SOFTMAX, "softmax", "sm", s);
    ir_node_set_int(g, last(g), "axis", 1);
    int z = conv(g, "c4", sm, 24, 16, 1, 1, 1, NULL);
    ir_graph_add_output(g, r);
    ir_graph_add_output(g, y);
    ir_graph_add_output(g, z);
    ir_graph_add_output(g, r);
    return g;
}

/* MobileNet-v2 style: 1x1 expand, depthwise, 1x1 project with residual; Clip(0, 6); a Mul. */
static Graph *g_mobile(void)
{
    Graph *g = ir_graph_new("mobile");
    int x = input(g, "x", 4, DIMS(1, 16, 7, 7));
    int e = conv(g, "expand", x, 16, 48, 1, 1, 1, NULL);
    e = NODE(g, OP_CLIP, "clip", "clip", e);
    ir_node_set_float(g, last(g), "min", 0.0);
    ir_node_set_float(g, last(g), "max", 6.0);
    int dw = conv(g, "dw", e, 48, 48, 3, 1, 48, "clip");
    ir_node_set_float(g, last(g), "activation_alpha", 0.0);
    ir_node_set_float(g, last(g), "activation_beta", 6.0);
    int m = NODE(g, OP_MUL, "gate", "gate", dw, e);
    int pr = conv(g, "project", m, 48, 16, 1, 1, 1, NULL);
    int y = NODE(g, OP_ADD, "res", "y", pr, x);
    ir_graph_add_output(g, y);
    return g;
}

START_TEST(codegen_passes_small_cnns)
{
    Graph *(*builders[])(void) = {g_chain, g_resnet, g_fire, g_outputs_inside, g_mobile};
    for (size_t i = 0; i < sizeof builders / sizeof builders[0]; i++) {
        Graph *g = builders[i]();
        int convs = count_op(g, OP_CONV);
        codegen_check(g);
        const char *name = g->name;
        ck_assert_msg(count_blocked(g, OP_CONV) == count_op(g, OP_CONV), "%s: not every Conv is blocked", name);
        if (!strcmp(name, "chain")) {
            ck_assert_int_eq(count_op(g, OP_LAYOUT_TRANSFORM), 1); /* only before the output */
            ck_assert_int_eq(count_op(g, OP_RELU), 0);            /* fused */
        }
        if (!strcmp(name, "resnet")) {
            /* both Adds became residuals; x is blocked once, GAP's result unblocked once */
            ck_assert_int_eq(count_op(g, OP_ADD), 0);
            ck_assert_int_eq(count_op(g, OP_RELU), 0);
            ck_assert_int_eq(count_op(g, OP_LAYOUT_TRANSFORM), 2);
            ck_assert_int_eq(convs, count_op(g, OP_CONV));
            int res = 0;
            for (int n = 0; n < g->n_nodes; n++) res += g->nodes[n].op == OP_CONV && g->nodes[n].n_in == 4;
            ck_assert_int_eq(res, 2);
        }
        if (!strcmp(name, "fire")) {
            ck_assert_int_eq(count_op(g, OP_LAYOUT_TRANSFORM), 1);
            ck_assert_int_eq(count_blocked(g, OP_MAX_POOL), 1);
            ck_assert_int_eq(count_blocked(g, OP_AVERAGE_POOL), 1);
            ck_assert_int_eq(count_blocked(g, OP_GLOBAL_AVERAGE_POOL), 1);
            /* the concats are in place: each input sits at its slice of the output */
            for (int n = 0; n < g->n_nodes; n++) {
                const Node *c = &g->nodes[n];
                if (c->op != OP_CONCAT) continue;
                const Value *o = &g->values[c->out[0]], *a = &g->values[c->in[0]], *b = &g->values[c->in[1]];
                ck_assert_int_eq(o->rank, 5);
                ck_assert_int_eq(a->mem_offset, o->mem_offset);
                ck_assert_int_eq(b->mem_offset, o->mem_offset + value_bytes(a));
            }
        }
        if (!strcmp(name, "mobile")) {
            ck_assert_int_eq(count_op(g, OP_CLIP), 0); /* fused into the expand Conv again */
            ck_assert_int_eq(count_op(g, OP_MUL), 1);
            ck_assert_int_eq(g->nodes[0].op, OP_LAYOUT_TRANSFORM); /* x (16 channels) to NCHW16c */
        }
        ir_graph_free(g);
    }
}
END_TEST

START_TEST(layout_runs_once)
{
    Graph *g = g_chain();
    infer_ok(g);
    PassContext ctx;
    pass_context_init(&ctx);
    Diag d;
    ck_assert_int_eq(pass_layout(g, &ctx, &d), 0);
    int n = g->n_nodes, nv = g->n_values;
    ck_assert_int_eq(pass_layout(g, &ctx, &d), 0);
    ck_assert_int_eq(g->n_nodes, n);
    ck_assert_int_eq(g->n_values, nv);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- schedule */

static int in_dense_menu(int o, int t)
{
#define CG_TILE_EQ(OC, T, ...) if (o == OC && t == T) return 1;
    KCONV_SHAPES(CG_TILE_EQ)
#undef CG_TILE_EQ
    return 0;
}

static int in_dw_menu(int t)
{
#define CG_DW_EQ(T, ...) if (t == T) return 1;
    KDW_SHAPES(CG_DW_EQ)
#undef CG_DW_EQ
    return 0;
}

START_TEST(schedule_tiles_exist)
{
    static const int64_t chans[] = {16, 24, 32, 48, 64, 96, 160, 256, 512};
    static const int64_t sizes[] = {7, 13, 14, 28, 55, 56, 112};
    for (int target = 0; target < 2; target++)
        for (size_t ci = 0; ci < 9; ci++)
            for (size_t si = 0; si < 7; si++)
                for (int kind = 0; kind < 3; kind++) {
                    int64_t c = chans[ci], s = sizes[si];
                    Graph *g = ir_graph_new("s");
                    int x = input(g, "x", 4, DIMS(1, 32, s, s));
                    int k = kind == 1 ? 1 : 3;
                    int a = conv(g, "a", x, 32, c, k, (si & 1) + 1, 1, NULL);
                    int y = kind == 2 ? conv(g, "dw", a, c, c, 3, 1, c, "relu") : a;
                    ir_graph_add_output(g, y);
                    infer_ok(g);
                    PassContext ctx;
                    pass_context_init(&ctx);
                    if (target) ctx.target_vector_bits = 256, ctx.target_vregs = 16;
                    Diag d;
                    ck_assert_int_eq(pass_layout(g, &ctx, &d), 0);
                    ck_assert_int_eq(pass_schedule(g, &ctx, &d), 0);
                    for (int i = 0; i < g->n_nodes; i++) {
                        const Node *n = &g->nodes[i];
                        if (n->op != OP_CONV) continue;
                        int o = (int)ir_attr_int(n, "sched_oc_tile", -1), t = (int)ir_attr_int(n, "sched_ow_tile", -1);
                        int dw = ir_attr_int(n, "group", 1) > 1;
                        ck_assert_msg(dw ? o == 1 && in_dw_menu(t) : in_dense_menu(o, t),
                                      "C=%lld S=%lld kind %d: tile %dx%d is not a kernel instance", (long long)c,
                                      (long long)s, kind, o, t);
                        ck_assert_int_eq(((c + 15) / 16) % o, 0);
                        /* the register budget of the target (the 1x4 tile is the fallback) */
                        int V = target ? 2 : 1, regs = target ? 16 : 32;
                        if (!dw && !(o == 1 && t == 4)) ck_assert_int_le(o * t * V + o * V + 1, regs);
                        if (dw && t != 4) ck_assert_int_le(t * V + 2 * V, regs);
                    }
                    ir_graph_free(g);
                }
}
END_TEST

/* ---------------------------------------------------------------- memory plan */

/* Find two workspace values with overlapping lifetimes and different bytes; -1 if none. */
static int find_overlapping_pair(const Graph *g, int *pa, int *pb)
{
    int *def = xmalloc(((size_t)g->n_values + 1) * sizeof(int)), *lst = xmalloc(((size_t)g->n_values + 1) * sizeof(int));
    for (int v = 0; v < g->n_values; v++) def[v] = -1, lst[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) def[g->nodes[i].out[k]] = lst[g->nodes[i].out[k]] = i;
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) lst[g->nodes[i].in[k]] = i;
    }
    int found = -1;
    for (int a = 0; a < g->n_values && found < 0; a++)
        for (int b = 0; b < g->n_values && found < 0; b++) {
            const Value *va = &g->values[a], *vb = &g->values[b];
            if (a == b || va->mem_kind != MEM_WORKSPACE || vb->mem_kind != MEM_WORKSPACE || def[a] < 0 || def[b] < 0)
                continue;
            /* b defined while a is still needed afterwards, by a non-elementwise node */
            if (def[b] > def[a] && def[b] < lst[a] && value_bytes(vb) <= value_bytes(va) &&
                va->mem_offset != vb->mem_offset)
                *pa = a, *pb = b, found = 0;
        }
    free(def), free(lst);
    return found;
}

START_TEST(plan_verify_rejects_broken_plans)
{
    Graph *g = g_resnet();
    codegen_check(g);
    Diag d;
    int a, b;
    ck_assert_int_eq(find_overlapping_pair(g, &a, &b), 0);
    int64_t keep = g->values[b].mem_offset;
    g->values[b].mem_offset = g->values[a].mem_offset; /* b over a while a is live */
    ck_assert_int_ne(plan_memory_verify(g, &d), 0);
    ck_assert_msg(strstr(d.msg, "overlap") != NULL, "%s", d.msg);
    g->values[b].mem_offset = keep;
    ck_assert_int_eq(plan_memory_verify(g, &d), 0);

    /* a node output in the graph input's buffer */
    int conv_out = g->nodes[1].out[0];
    MemKind mk = g->values[conv_out].mem_kind;
    g->values[conv_out].mem_kind = MEM_INPUT;
    g->values[conv_out].mem_index = 0;
    g->values[conv_out].mem_offset = 0;
    ck_assert_int_ne(plan_memory_verify(g, &d), 0);
    ck_assert_msg(strstr(d.msg, "read-only") != NULL, "%s", d.msg);
    g->values[conv_out].mem_kind = mk;

    /* past the end of the workspace, and misaligned */
    g->values[conv_out].mem_kind = MEM_WORKSPACE;
    g->values[conv_out].mem_offset = g->workspace_size;
    ck_assert_int_ne(plan_memory_verify(g, &d), 0);
    g->values[conv_out].mem_offset = 4;
    ck_assert_int_ne(plan_memory_verify(g, &d), 0);
    ir_graph_free(g);
}
END_TEST

/* A Conv output over its own (dying) input X is not in place: the verifier must say so. */
START_TEST(plan_verify_conv_input_not_inplace)
{
    Graph *g = ir_graph_new("conv_inplace");
    int x = input(g, "x", 4, DIMS(1, 16, 5, 5));
    int a = NODE(g, OP_RELU, "relu", "a", x);
    int c = conv(g, "c", a, 16, 16, 3, 1, 1, NULL);
    int y = NODE(g, OP_NEG, "neg", "y", c);
    ir_graph_add_output(g, y);
    infer_ok(g);
    PassContext ctx;
    pass_context_init(&ctx);
    Diag d;
    ck_assert_int_eq(pass_plan_memory(g, &ctx, &d), 0);
    ck_assert_int_eq(plan_memory_verify(g, &d), 0);
    /* y (Neg) runs in place over c in the output buffer; a (Relu of the input) is in the workspace */
    ck_assert_int_eq(g->values[y].mem_kind, MEM_OUTPUT);
    ck_assert_int_eq(g->values[c].mem_kind, MEM_OUTPUT);
    ck_assert_int_eq(g->values[a].mem_kind, MEM_WORKSPACE);
    /* put a into the output buffer too, where the Conv writes c while reading a */
    g->values[a].mem_kind = MEM_OUTPUT;
    g->values[a].mem_index = 0;
    g->values[a].mem_offset = 0;
    ck_assert_int_ne(plan_memory_verify(g, &d), 0);
    ir_graph_free(g);
}
END_TEST

/* Variadic Sum folds its inputs into the output one by one: writing over its third input
 * would clobber it before it is read. */
START_TEST(plan_variadic_not_over_third_input)
{
    Graph *g = ir_graph_new("variadic");
    int x = input(g, "x", 2, DIMS(4, 16));
    int a = NODE(g, OP_RELU, "relu", "a", x);
    int b = NODE(g, OP_NEG, "neg", "b", x);
    int c = NODE(g, OP_EXP, "exp", "c", x);
    int s = NODE(g, OP_SUM, "sum", "s", a, b, c);
    int m = NODE(g, OP_MUL, "mul", "m", a, b);
    int y = NODE(g, OP_ADD, "add", "y", m, s);
    ir_graph_add_output(g, y);
    infer_ok(g);
    PassContext ctx;
    pass_context_init(&ctx);
    ctx.verify_each = 1;
    Diag d;
    ck_assert_msg(pass_plan_memory(g, &ctx, &d) == 0, "%s", d.msg);
    ck_assert_int_ne(g->values[s].mem_offset, g->values[c].mem_offset);
    simulate_plan(g, 5);
    g->values[s].mem_kind = g->values[c].mem_kind;
    g->values[s].mem_offset = g->values[c].mem_offset;
    ck_assert_int_ne(plan_memory_verify(g, &d), 0);
    ir_graph_free(g);
}
END_TEST

START_TEST(plan_residual_inplace)
{
    Graph *g = g_resnet();
    codegen_check(g);
    /* each residual Conv writes over its dying residual */
    int n_inplace = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op != OP_CONV || n->n_in < 4) continue;
        const Value *r = &g->values[n->in[3]], *y = &g->values[n->out[0]];
        n_inplace += r->mem_kind == y->mem_kind && r->mem_offset == y->mem_offset;
    }
    ck_assert_int_ge(n_inplace, 1);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- torchvision models */

static void model_plan(const char *model, int want_transforms)
{
    const char *dir = getenv("PPCC_MODELS_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir ? dir : "build/models", model);
    if (access(path, R_OK)) {
        printf("test_codegen_passes: %s missing, %s skipped (make it with /usr/bin/python3 tests/models/export.py "
               "build/models)\n",
               path, model);
        return;
    }
    Diag d;
    Graph *g = onnx_import_file(path, NULL, &d);
    ck_assert_msg(g != NULL, "%s: %s", path, d.msg);
    PassContext ctx;
    pass_context_init(&ctx);
    ctx.verify_each = 1;
    ck_assert_msg(pass_pipeline_run(g, pass_codegen_pipeline(), &ctx, &d) == 0, "%s: %s", model, d.msg);
    ck_assert_int_eq(count_blocked(g, OP_CONV), count_op(g, OP_CONV));
    ck_assert_int_eq(count_op(g, OP_LAYOUT_TRANSFORM), want_transforms);
    check_plan_shape(g);
    printf("%s: ", model);
    pass_plan_memory_stats(g, stdout);
    fflush(stdout);
    simulate_plan(g, 3);
    ir_graph_free(g);
}

START_TEST(plan_resnet18) { model_plan("resnet18", 1); }
END_TEST
START_TEST(plan_mobilenet_v2) { model_plan("mobilenet_v2", 1); }
END_TEST
START_TEST(plan_squeezenet1_1) { model_plan("squeezenet1_1", 1); }
END_TEST

TEST_SUITE(codegen_passes)
{
    Suite *s = suite_create("codegen_passes");
    TCase *t = tcase_create("semantics");
    tcase_add_test(t, conv_residual_matches_add);
    tcase_add_test(t, blocked_conv_matches_plain);
    tcase_add_test(t, blocked_pools_match_plain);
    tcase_add_test(t, blocked_shape_errors);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("passes");
    tcase_add_test(p, codegen_passes_small_cnns);
    tcase_add_test(p, layout_runs_once);
    tcase_add_test(p, schedule_tiles_exist);
    tcase_add_test(p, plan_verify_rejects_broken_plans);
    tcase_add_test(p, plan_verify_conv_input_not_inplace);
    tcase_add_test(p, plan_residual_inplace);
    tcase_add_test(p, plan_variadic_not_over_third_input);
    tcase_set_timeout(p, 120);
    suite_add_tcase(s, p);
    TCase *m = tcase_create("models");
    tcase_add_test(m, plan_resnet18);
    tcase_add_test(m, plan_mobilenet_v2);
    tcase_add_test(m, plan_squeezenet1_1);
    tcase_set_timeout(m, 600);
    suite_add_tcase(s, m);
    return s;
}
