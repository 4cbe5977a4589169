/* test_grad.c — unit tests of the backward pass (ir/grad*.c).
 *
 * Finite-difference checks: each case builds a small f64 graph (one node, or a short chain)
 * whose operands are all graph inputs, fills them with seeded random values, takes a random
 * linear functional L = sum w_i y_i of output 0 as the loss and compares grad_input's gradient
 * with respect to every floating-point input against central differences (h = 1e-6, double
 * throughout), |analytic - numeric| <= 1e-6 * (1 + |numeric|). Cases cover every op and
 * attribute variant the backward supports (strides, pads, dilations, groups, auto_pad, fused
 * activations, residual, broadcasting shapes, ceil_mode and count_include_pad pools, Pad modes,
 * blocked layouts).
 * The batched f32 engine (GradPlan) is checked against grad_input on f32 graphs (forward values
 * and input gradients, relative 1e-4), including every Conv geometry of its fast path and the
 * generic per-node fallback. Error cases: an op without a gradient on the path names node and
 * op; one off the path is not an error; constants and integer branches get no gradient.
 */
#include "test.h"

#include "ir/grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define RANK(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

/* ---------------------------------------------------------------- graph building */

typedef struct Case {
    Graph *g;
    DType dt;
    double lo[16], hi[16]; /* per graph input: random range */
} Case;

static Case case_new(DType dt)
{
    Case c = {.g = ir_graph_new("grad"), .dt = dt};
    return c;
}

/* Add a graph input with random values in [lo, hi). Returns its value id. */
static int case_input(Case *c, const char *name, int rank, const int64_t *dims, double lo, double hi)
{
    int v = ir_value_add(c->g, name, c->dt, rank, dims);
    c->lo[c->g->n_inputs] = lo;
    c->hi[c->g->n_inputs] = hi;
    ir_graph_add_input(c->g, v);
    return v;
}

/* Add node op reading in[0..n_in-1] with n_out fresh outputs; returns the node index. */
static int case_node(Case *c, OpKind op, const char *name, int n_in, const int *in, int n_out)
{
    int out[4];
    for (int k = 0; k < n_out; k++) out[k] = ir_value_add(c->g, NULL, DT_UNDEF, 0, NULL);
    return ir_node_add(c->g, op, name, n_in, in, n_out, out);
}

static int out_of(Case *c, int node, int k) { return c->g->nodes[node].out[k]; }

static void set_ints(Case *c, int node, const char *name, int n, const int64_t *v)
{
    ir_node_set_ints(c->g, node, name, v, n);
}

/* ---------------------------------------------------------------- finite differences */

typedef struct LinLoss {
    const double *w;
    int64_t n;
} LinLoss;

static int lin_loss(void *ctx, const Tensor *y, Tensor *dy, double *loss, Diag *d)
{
    const LinLoss *l = ctx;
    if (tensor_numel(y) != l->n) return diag_error(d, "loss: %lld elements, expected %lld",
                                                   (long long)tensor_numel(y), (long long)l->n);
    double s = 0;
    for (int64_t i = 0; i < l->n; i++) {
        s += l->w[i] * tensor_get_f64(y, i);
        tensor_set_f64(dy, i, l->w[i]);
    }
    *loss = s;
    return 0;
}

static double run_loss(const Graph *g, Tensor **inputs, const LinLoss *l)
{
    Tensor *outs[8] = {0};
    Diag d = {{0}};
    int rc = interp_run(g, inputs, outs, NULL, &d);
    ck_assert_msg(rc == 0, "interp: %s", d.msg);
    double s = 0;
    for (int64_t i = 0; i < l->n; i++) s += l->w[i] * tensor_get_f64(outs[0], i);
    for (int k = 0; k < g->n_outputs; k++) tensor_free(outs[k]);
    return s;
}

static Tensor **case_inputs(Case *c, unsigned long long *seed)
{
    Graph *g = c->g;
    Tensor **in = xcalloc((size_t)g->n_inputs + 1, sizeof(Tensor *));
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        in[k] = tensor_new(v->dtype, v->rank, v->dims);
        for (int64_t i = 0; i < tensor_numel(in[k]); i++)
            tensor_set_f64(in[k], i, test_randf(seed, (float)c->lo[k], (float)c->hi[k]));
    }
    return in;
}

static void free_inputs(Tensor **in, int n)
{
    for (int k = 0; k < n; k++) tensor_free(in[k]);
    free(in);
}

/* Infer shapes, then compare analytic and numeric gradients for every float input. */
static void case_check(Case *c, const char *label, unsigned long long seed)
{
    Graph *g = c->g;
    Diag d = {{0}};
    int rc = ir_infer_shapes(g, &d);
    ck_assert_msg(rc == 0, "%s: shapes: %s", label, d.msg);
    ir_graph_add_output(g, g->nodes[g->n_nodes - 1].out[0]);
    Tensor **in = case_inputs(c, &seed);
    const Value *yv = &g->values[g->outputs[0]];
    LinLoss l = {.n = ir_value_numel(yv)};
    double *w = xmalloc((size_t)l.n * sizeof(double) + 1);
    for (int64_t i = 0; i < l.n; i++) w[i] = test_randf(&seed, -1, 1);
    l.w = w;
    for (int k = 0; k < g->n_inputs; k++) {
        if (!dtype_is_float(in[k]->dtype)) continue;
        Tensor *gx = NULL;
        double L = 0;
        rc = grad_input(g, in, k, 0, lin_loss, &l, &L, &gx, &d);
        ck_assert_msg(rc == 0, "%s: grad_input(%d): %s", label, k, d.msg);
        ck_assert_msg(fabs(L - run_loss(g, in, &l)) <= 1e-12 * (1 + fabs(L)), "%s: loss differs", label);
        int64_t n = tensor_numel(in[k]);
        const double h = c->dt == DT_F64 ? 1e-6 : 1e-2;
        const double tol = c->dt == DT_F64 ? 1e-6 : 2e-2;
        for (int64_t i = 0; i < n; i++) {
            double x0 = tensor_get_f64(in[k], i);
            tensor_set_f64(in[k], i, x0 + h);
            double lp = run_loss(g, in, &l);
            tensor_set_f64(in[k], i, x0 - h);
            double lm = run_loss(g, in, &l);
            tensor_set_f64(in[k], i, x0);
            double num = (lp - lm) / (2 * h), an = tensor_get_f64(gx, i);
            ck_assert_msg(fabs(an - num) <= tol * (1 + fabs(num)),
                          "%s: input %d ('%s') element %lld: analytic %.10g numeric %.10g", label, k,
                          g->values[g->inputs[k]].name, (long long)i, an, num);
        }
        tensor_free(gx);
    }
    free(w);
    free_inputs(in, g->n_inputs);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- unary and binary */

static void unary_case(OpKind op, const char *label, double lo, double hi, const char *fa, double va,
                       const char *fb, double vb)
{
    Case c = case_new(DT_F64);
    int x = case_input(&c, "x", 3, DIMS(2, 3, 5), lo, hi);
    int nd = case_node(&c, op, "u", 1, &x, 1);
    if (fa) ir_node_set_float(c.g, nd, fa, va);
    if (fb) ir_node_set_float(c.g, nd, fb, vb);
    case_check(&c, label, 1000 + (unsigned long long)op);
}

START_TEST(test_grad_unary)
{
    unary_case(OP_RELU, "Relu", -2, 2, NULL, 0, NULL, 0);
    unary_case(OP_LEAKY_RELU, "LeakyRelu default", -2, 2, NULL, 0, NULL, 0);
    unary_case(OP_LEAKY_RELU, "LeakyRelu alpha", -2, 2, "alpha", 0.3, NULL, 0);
    unary_case(OP_CLIP, "Clip", -2, 2, "min", -0.5, "max", 0.7);
    unary_case(OP_CLIP, "Clip min only", -2, 2, "min", -0.25, NULL, 0);
    unary_case(OP_CLIP, "Clip max only", -2, 2, "max", 0.25, NULL, 0);
    unary_case(OP_SIGMOID, "Sigmoid", -6, 6, NULL, 0, NULL, 0);
    unary_case(OP_TANH, "Tanh", -3, 3, NULL, 0, NULL, 0);
    unary_case(OP_HARD_SIGMOID, "HardSigmoid", -5, 5, NULL, 0, NULL, 0);
    unary_case(OP_HARD_SIGMOID, "HardSigmoid alpha beta", -5, 5, "alpha", 0.3, "beta", 0.4);
    unary_case(OP_HARD_SWISH, "HardSwish", -5, 5, NULL, 0, NULL, 0);
    unary_case(OP_IDENTITY, "Identity", -2, 2, NULL, 0, NULL, 0);
    unary_case(OP_DROPOUT, "Dropout", -2, 2, NULL, 0, NULL, 0);
    /* Dropout with its mask output */
    Case c = case_new(DT_F64);
    int x = case_input(&c, "x", 2, DIMS(3, 4), -1, 1);
    case_node(&c, OP_DROPOUT, "drop", 1, &x, 2);
    case_check(&c, "Dropout mask", 77);
}
END_TEST

static void binary_case(OpKind op, const char *label, int ra, const int64_t *da, int rb, const int64_t *db)
{
    Case c = case_new(DT_F64);
    int a = case_input(&c, "a", ra, da, -1, 1);
    int b = op == OP_DIV ? case_input(&c, "b", rb, db, 0.5, 2) : case_input(&c, "b", rb, db, -1, 1);
    case_node(&c, op, "bin", 2, (int[]){a, b}, 1);
    case_check(&c, label, 2000 + (unsigned long long)op * 7 + (unsigned long long)(ra * 3 + rb));
}

START_TEST(test_grad_binary)
{
    OpKind ops[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV};
    const char *names[] = {"Add", "Sub", "Mul", "Div"};
    for (int i = 0; i < 4; i++) {
        char l[64];
        snprintf(l, sizeof l, "%s same", names[i]);
        binary_case(ops[i], l, 3, DIMS(2, 3, 4), 3, DIMS(2, 3, 4));
        snprintf(l, sizeof l, "%s [2,3,4] x [3,1]", names[i]);
        binary_case(ops[i], l, 3, DIMS(2, 3, 4), 2, DIMS(3, 1));
        snprintf(l, sizeof l, "%s [2,1,4] x [1,3,1]", names[i]);
        binary_case(ops[i], l, 3, DIMS(2, 1, 4), 3, DIMS(1, 3, 1));
        snprintf(l, sizeof l, "%s [4] x [2,3,4]", names[i]);
        binary_case(ops[i], l, 1, DIMS(4), 3, DIMS(2, 3, 4));
        snprintf(l, sizeof l, "%s scalar", names[i]);
        binary_case(ops[i], l, 3, DIMS(2, 3, 4), 0, NULL);
        snprintf(l, sizeof l, "%s per-channel [1,3,2,2] x [3,1,1]", names[i]);
        binary_case(ops[i], l, 4, DIMS(1, 3, 2, 2), 3, DIMS(3, 1, 1));
    }
    /* the same value on both sides: contributions add up */
    Case c = case_new(DT_F64);
    int x = case_input(&c, "x", 2, DIMS(3, 4), -1, 1);
    case_node(&c, OP_MUL, "sq", 2, (int[]){x, x}, 1);
    case_check(&c, "Mul(x, x)", 5);
}
END_TEST

/* ---------------------------------------------------------------- conv */

typedef struct ConvSpec {
    const char *label;
    int nsp;
    int64_t n, c, m, in[3], k[3];
    int64_t group;
    int64_t strides[3], dil[3], pads[6];
    const char *auto_pad;
    int bias, residual;
    const char *act;
    double alpha, beta;
    int set_alpha, set_beta;
} ConvSpec;

static void conv_case(const ConvSpec *s, DType dt, unsigned long long seed)
{
    Case c = case_new(dt);
    int64_t xd[5] = {s->n, s->c}, wd[5] = {s->m, s->c / s->group};
    for (int a = 0; a < s->nsp; a++) xd[2 + a] = s->in[a], wd[2 + a] = s->k[a];
    int x = case_input(&c, "x", 2 + s->nsp, xd, -1, 1);
    int w = case_input(&c, "w", 2 + s->nsp, wd, -1, 1);
    int in[4] = {x, w, -1, -1}, nin = 2;
    if (s->bias || s->residual) in[nin++] = s->bias ? case_input(&c, "b", 1, DIMS(s->m), -1, 1) : -1;
    int nd;
    if (s->residual) {
        /* the residual has the output's shape: infer it from a bias-free twin first */
        Graph *t = ir_graph_new("shape");
        int tx = ir_value_add(t, "x", dt, 2 + s->nsp, xd), tw = ir_value_add(t, "w", dt, 2 + s->nsp, wd);
        int ty = ir_value_add(t, "y", DT_UNDEF, 0, NULL);
        int tn = ir_node_add(t, OP_CONV, "c", 2, (int[]){tx, tw}, 1, &ty);
        ir_node_set_int(t, tn, "group", s->group);
        ir_node_set_ints(t, tn, "strides", s->strides, s->nsp);
        ir_node_set_ints(t, tn, "dilations", s->dil, s->nsp);
        if (s->auto_pad)
            ir_node_set_str(t, tn, "auto_pad", s->auto_pad);
        else
            ir_node_set_ints(t, tn, "pads", s->pads, 2 * s->nsp);
        Diag d = {{0}};
        ck_assert_msg(ir_infer_shapes(t, &d) == 0, "%s", d.msg);
        in[3] = case_input(&c, "res", t->values[ty].rank, t->values[ty].dims, -1, 1);
        nin = 4;
        ir_graph_free(t);
    }
    nd = case_node(&c, OP_CONV, "conv", nin, in, 1);
    ir_node_set_int(c.g, nd, "group", s->group);
    set_ints(&c, nd, "strides", s->nsp, s->strides);
    set_ints(&c, nd, "dilations", s->nsp, s->dil);
    if (s->auto_pad)
        ir_node_set_str(c.g, nd, "auto_pad", s->auto_pad);
    else
        set_ints(&c, nd, "pads", 2 * s->nsp, s->pads);
    if (s->act) {
        ir_node_set_str(c.g, nd, "activation", s->act);
        if (s->set_alpha) ir_node_set_float(c.g, nd, "activation_alpha", s->alpha);
        if (s->set_beta) ir_node_set_float(c.g, nd, "activation_beta", s->beta);
    }
    case_check(&c, s->label, seed);
}

static const ConvSpec conv_specs[] = {
    {"conv 3x3 pad 1", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv 2 images no bias", 2, 2, 2, 2, {4, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 0, NULL, 0, 0, 0, 0},
    {"conv stride 2 asym pads", 2, 1, 2, 3, {6, 7}, {3, 3}, 1, {2, 2}, {1, 1}, {0, 1, 1, 0}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv stride (1,3)", 2, 1, 2, 2, {5, 8}, {2, 3}, 1, {1, 3}, {1, 1}, {1, 0, 0, 2}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv dilation 2", 2, 1, 2, 2, {7, 7}, {3, 3}, 1, {1, 1}, {2, 2}, {2, 2, 2, 2}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv dilation (2,1) stride 2", 2, 1, 2, 2, {8, 6}, {3, 2}, 1, {2, 2}, {2, 1}, {1, 0, 2, 1}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv groups 2", 2, 1, 4, 6, {5, 5}, {3, 3}, 2, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv depthwise", 2, 1, 3, 6, {5, 5}, {3, 3}, 3, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv pointwise", 2, 1, 3, 4, {4, 4}, {1, 1}, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv big pads", 2, 1, 1, 2, {3, 3}, {2, 2}, 1, {1, 1}, {1, 1}, {3, 2, 2, 3}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv SAME_UPPER stride 2", 2, 1, 2, 2, {5, 6}, {3, 3}, 1, {2, 2}, {1, 1}, {0}, "SAME_UPPER", 1, 0, NULL, 0, 0, 0, 0},
    {"conv SAME_LOWER", 2, 1, 2, 2, {5, 5}, {2, 2}, 1, {1, 1}, {1, 1}, {0}, "SAME_LOWER", 1, 0, NULL, 0, 0, 0, 0},
    {"conv VALID", 2, 1, 2, 2, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {0}, "VALID", 0, 0, NULL, 0, 0, 0, 0},
    {"conv 1-D", 1, 2, 2, 3, {9}, {3}, 1, {2}, {1}, {1, 1}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv 3-D", 3, 1, 2, 2, {4, 4, 3}, {2, 3, 2}, 1, {1, 1, 1}, {1, 1, 1}, {1, 0, 1, 0, 1, 0}, NULL, 1, 0, NULL, 0, 0, 0, 0},
    {"conv relu", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "relu", 0, 0, 0, 0},
    {"conv leaky_relu", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "leaky_relu", 0.2, 0, 1, 0},
    {"conv clip", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "clip", -0.5, 0.6, 1, 1},
    {"conv sigmoid", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "sigmoid", 0, 0, 0, 0},
    {"conv tanh", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "tanh", 0, 0, 0, 0},
    {"conv hard_sigmoid", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "hard_sigmoid", 0, 0, 0, 0},
    {"conv hard_swish", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "hard_swish", 0, 0, 0, 0},
    {"conv residual", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 1, NULL, 0, 0, 0, 0},
    {"conv residual no bias relu", 2, 1, 2, 3, {5, 5}, {3, 3}, 1, {2, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 0, 1, "relu", 0, 0, 0, 0},
    {"conv residual groups leaky", 2, 2, 4, 4, {4, 4}, {3, 3}, 2, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 1, "leaky_relu", 0, 0, 0, 0},
};

START_TEST(test_grad_conv)
{
    for (size_t i = 0; i < sizeof conv_specs / sizeof conv_specs[0]; i++)
        conv_case(&conv_specs[i], DT_F64, 3000 + i);
}
END_TEST

/* ---------------------------------------------------------------- Gemm, MatMul */

static void gemm_case(const char *label, int ta, int tb, double alpha, double beta, int crank,
                      const int64_t *cd, const char *act)
{
    const int64_t M = 3, K = 4, N = 5;
    Case c = case_new(DT_F64);
    int a = case_input(&c, "A", 2, ta ? DIMS(K, M) : DIMS(M, K), -1, 1);
    int b = case_input(&c, "B", 2, tb ? DIMS(N, K) : DIMS(K, N), -1, 1);
    int in[3] = {a, b, -1}, nin = 2;
    if (crank >= 0) in[nin++] = case_input(&c, "C", crank, cd, -1, 1);
    int nd = case_node(&c, OP_GEMM, "gemm", nin, in, 1);
    ir_node_set_int(c.g, nd, "transA", ta);
    ir_node_set_int(c.g, nd, "transB", tb);
    ir_node_set_float(c.g, nd, "alpha", alpha);
    ir_node_set_float(c.g, nd, "beta", beta);
    if (act) ir_node_set_str(c.g, nd, "activation", act);
    case_check(&c, label, 4000 + (unsigned long long)(ta * 2 + tb) * 13 + (unsigned long long)(crank + 1));
}

static void matmul_case(const char *label, int ra, const int64_t *da, int rb, const int64_t *db)
{
    Case c = case_new(DT_F64);
    int a = case_input(&c, "A", ra, da, -1, 1), b = case_input(&c, "B", rb, db, -1, 1);
    case_node(&c, OP_MATMUL, "mm", 2, (int[]){a, b}, 1);
    case_check(&c, label, 5000 + (unsigned long long)(ra * 5 + rb));
}

START_TEST(test_grad_linalg)
{
    gemm_case("Gemm plain, C [N]", 0, 0, 1, 1, 1, DIMS(5), NULL);
    gemm_case("Gemm transA, C [M,N]", 1, 0, 0.7, 1.3, 2, DIMS(3, 5), NULL);
    gemm_case("Gemm transB, C [M,1]", 0, 1, 1.5, -0.5, 2, DIMS(3, 1), NULL);
    gemm_case("Gemm transA transB, C scalar", 1, 1, -0.8, 2.0, 0, NULL, NULL);
    gemm_case("Gemm no C", 0, 1, 1, 1, -1, NULL, NULL);
    gemm_case("Gemm C [1,N] tanh", 0, 0, 1, 1, 2, DIMS(1, 5), "tanh");
    gemm_case("Gemm relu", 1, 0, 1.1, 0.9, 1, DIMS(5), "relu");
    gemm_case("Gemm hard_swish", 0, 1, 2.0, 1, 1, DIMS(1), "hard_swish");
    matmul_case("MatMul 2-D", 2, DIMS(3, 4), 2, DIMS(4, 5));
    matmul_case("MatMul batch broadcast", 4, DIMS(2, 1, 3, 4), 3, DIMS(3, 4, 2));
    matmul_case("MatMul 1-D A", 1, DIMS(4), 3, DIMS(2, 4, 3));
    matmul_case("MatMul 1-D B", 3, DIMS(2, 3, 4), 1, DIMS(4));
    matmul_case("MatMul 1-D both", 1, DIMS(5), 1, DIMS(5));
    matmul_case("MatMul B broadcast", 3, DIMS(3, 2, 4), 2, DIMS(4, 3));
}
END_TEST

/* ---------------------------------------------------------------- pools */

typedef struct PoolSpec {
    const char *label;
    OpKind op;
    int nsp;
    int64_t in[3], k[3], strides[3], dil[3], pads[6];
    int ceil_mode, include_pad, indices;
    const char *auto_pad;
} PoolSpec;

static const PoolSpec pool_specs[] = {
    {"MaxPool 2x2", OP_MAX_POOL, 2, {6, 6}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0, 0, 0, NULL},
    {"MaxPool 3x3 s2 p1", OP_MAX_POOL, 2, {7, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 0, 0, NULL},
    {"MaxPool ceil_mode", OP_MAX_POOL, 2, {6, 7}, {3, 2}, {2, 2}, {1, 1}, {1, 0, 0, 1}, 1, 0, 0, NULL},
    {"MaxPool dilation 2", OP_MAX_POOL, 2, {7, 7}, {2, 2}, {1, 1}, {2, 2}, {0, 0, 0, 0}, 0, 0, 0, NULL},
    {"MaxPool overlapping + Indices", OP_MAX_POOL, 2, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 0, 0, 1, NULL},
    {"MaxPool 1-D", OP_MAX_POOL, 1, {9}, {3}, {2}, {1}, {1, 1}, 1, 0, 0, NULL},
    {"MaxPool SAME_UPPER", OP_MAX_POOL, 2, {5, 5}, {2, 2}, {2, 2}, {1, 1}, {0}, 0, 0, 0, "SAME_UPPER"},
    {"AveragePool 2x2", OP_AVERAGE_POOL, 2, {6, 6}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0, 0, 0, NULL},
    {"AveragePool pads exclude", OP_AVERAGE_POOL, 2, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 0, 0, NULL},
    {"AveragePool pads include", OP_AVERAGE_POOL, 2, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 1, 0, NULL},
    {"AveragePool ceil include", OP_AVERAGE_POOL, 2, {6, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 0, 1}, 1, 1, 0, NULL},
    {"AveragePool ceil exclude", OP_AVERAGE_POOL, 2, {6, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 0, 1}, 1, 0, 0, NULL},
    {"AveragePool dilation", OP_AVERAGE_POOL, 2, {7, 7}, {2, 2}, {1, 2}, {2, 2}, {1, 1, 0, 0}, 0, 1, 0, NULL},
    {"AveragePool 3-D", OP_AVERAGE_POOL, 3, {4, 4, 4}, {2, 2, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0, 0, 0, 1}, 0, 0, 0, NULL},
};

START_TEST(test_grad_pool)
{
    for (size_t i = 0; i < sizeof pool_specs / sizeof pool_specs[0]; i++) {
        const PoolSpec *s = &pool_specs[i];
        Case c = case_new(DT_F64);
        int64_t xd[5] = {2, 3};
        for (int a = 0; a < s->nsp; a++) xd[2 + a] = s->in[a];
        int x = case_input(&c, "x", 2 + s->nsp, xd, -1, 1);
        int nd = case_node(&c, s->op, "pool", 1, &x, s->indices ? 2 : 1);
        set_ints(&c, nd, "kernel_shape", s->nsp, s->k);
        set_ints(&c, nd, "strides", s->nsp, s->strides);
        set_ints(&c, nd, "dilations", s->nsp, s->dil);
        if (s->auto_pad)
            ir_node_set_str(c.g, nd, "auto_pad", s->auto_pad);
        else
            set_ints(&c, nd, "pads", 2 * s->nsp, s->pads);
        ir_node_set_int(c.g, nd, "ceil_mode", s->ceil_mode);
        if (s->op == OP_AVERAGE_POOL) ir_node_set_int(c.g, nd, "count_include_pad", s->include_pad);
        case_check(&c, s->label, 6000 + i);
    }
    OpKind gops[] = {OP_GLOBAL_AVERAGE_POOL, OP_GLOBAL_MAX_POOL};
    for (int i = 0; i < 2; i++) {
        Case c = case_new(DT_F64);
        int x = case_input(&c, "x", 4, DIMS(2, 3, 4, 5), -1, 1);
        case_node(&c, gops[i], "gp", 1, &x, 1);
        case_check(&c, ir_op_name(gops[i]), 6100 + (unsigned long long)i);
    }
}
END_TEST

/* ---------------------------------------------------------------- normalisation, softmax */

START_TEST(test_grad_norm)
{
    Case c = case_new(DT_F64);
    int x = case_input(&c, "x", 4, DIMS(2, 3, 3, 4), -1, 1);
    int sc = case_input(&c, "scale", 1, DIMS(3), 0.5, 1.5), b = case_input(&c, "B", 1, DIMS(3), -1, 1);
    int mean = case_input(&c, "mean", 1, DIMS(3), -0.5, 0.5), var = case_input(&c, "var", 1, DIMS(3), 0.5, 1.5);
    int nd = case_node(&c, OP_BATCH_NORM, "bn", 5, (int[]){x, sc, b, mean, var}, 1);
    ir_node_set_float(c.g, nd, "epsilon", 1e-3);
    case_check(&c, "BatchNormalization", 7000);

    int64_t axes[] = {1, -1, 0, 2};
    for (int i = 0; i < 4; i++)
        for (int lg = 0; lg < 2; lg++) {
            Case s = case_new(DT_F64);
            int xs = case_input(&s, "x", 3, DIMS(2, 5, 3), -3, 3);
            int ns = case_node(&s, lg ? OP_LOG_SOFTMAX : OP_SOFTMAX, "sm", 1, &xs, 1);
            ir_node_set_int(s.g, ns, "axis", axes[i]);
            char l[64];
            snprintf(l, sizeof l, "%s axis %lld", lg ? "LogSoftmax" : "Softmax", (long long)axes[i]);
            case_check(&s, l, 7100 + (unsigned long long)(i * 2 + lg));
        }
}
END_TEST

/* ---------------------------------------------------------------- data movement */

START_TEST(test_grad_movement)
{
    {
        Case c = case_new(DT_F64);
        int a = case_input(&c, "a", 3, DIMS(2, 2, 3), -1, 1), b = case_input(&c, "b", 3, DIMS(2, 3, 3), -1, 1);
        int e = case_input(&c, "e", 3, DIMS(2, 1, 3), -1, 1);
        int nd = case_node(&c, OP_CONCAT, "cat", 3, (int[]){a, b, e}, 1);
        ir_node_set_int(c.g, nd, "axis", 1);
        case_check(&c, "Concat axis 1", 8000);
    }
    {
        Case c = case_new(DT_F64);
        int a = case_input(&c, "a", 2, DIMS(2, 3), -1, 1), b = case_input(&c, "b", 2, DIMS(1, 3), -1, 1);
        int nd = case_node(&c, OP_CONCAT, "cat", 3, (int[]){a, b, a}, 1);
        ir_node_set_int(c.g, nd, "axis", -2);
        case_check(&c, "Concat axis -2, input twice", 8001);
    }
    {
        Case c = case_new(DT_F64);
        int x = case_input(&c, "x", 4, DIMS(2, 3, 2, 2), -1, 1);
        int nd = case_node(&c, OP_FLATTEN, "fl", 1, &x, 1);
        ir_node_set_int(c.g, nd, "axis", 2);
        int y = out_of(&c, nd, 0);
        int r = case_node(&c, OP_RESHAPE, "rs", 1, &y, 1);
        set_ints(&c, r, "shape", 3, DIMS(4, -1, 3));
        int z = out_of(&c, r, 0);
        int u = case_node(&c, OP_UNSQUEEZE, "us", 1, &z, 1);
        set_ints(&c, u, "axes", 2, DIMS(0, 3));
        int v = out_of(&c, u, 0);
        int s = case_node(&c, OP_SQUEEZE, "sq", 1, &v, 1);
        set_ints(&c, s, "axes", 1, DIMS(0));
        case_check(&c, "Flatten Reshape Unsqueeze Squeeze", 8002);
    }
    {
        Case c = case_new(DT_F64);
        int x = case_input(&c, "x", 4, DIMS(2, 3, 4, 5), -1, 1);
        int nd = case_node(&c, OP_TRANSPOSE, "tr", 1, &x, 1);
        set_ints(&c, nd, "perm", 4, DIMS(0, 2, 3, 1));
        case_check(&c, "Transpose perm", 8003);
        Case d2 = case_new(DT_F64);
        int x2 = case_input(&d2, "x", 3, DIMS(2, 3, 4), -1, 1);
        case_node(&d2, OP_TRANSPOSE, "tr", 1, &x2, 1);
        case_check(&d2, "Transpose default", 8004);
    }
    const char *modes[] = {"constant", "edge", "reflect", "wrap"};
    for (int i = 0; i < 4; i++) {
        Case c = case_new(DT_F64);
        int x = case_input(&c, "x", 3, DIMS(2, 4, 5), -1, 1);
        int nd = case_node(&c, OP_PAD, "pad", 1, &x, 1);
        set_ints(&c, nd, "pads", 6, i == 0 ? DIMS(0, 2, -1, 1, -1, 3) : DIMS(0, 2, 3, 1, 0, 2));
        ir_node_set_str(c.g, nd, "mode", modes[i]);
        ir_node_set_float(c.g, nd, "value", 0.5);
        char l[64];
        snprintf(l, sizeof l, "Pad %s", modes[i]);
        case_check(&c, l, 8010 + (unsigned long long)i);
    }
}
END_TEST

/* Blocked layout: plain -> NCHW16c -> blocked Conv -> blocked MaxPool -> plain. */
START_TEST(test_grad_layout)
{
    Case c = case_new(DT_F64);
    int x = case_input(&c, "x", 4, DIMS(1, 18, 4, 4), -1, 1);
    int w = case_input(&c, "w", 4, DIMS(20, 18, 3, 3), -0.3, 0.3);
    int b = case_input(&c, "b", 1, DIMS(20), -1, 1);
    int t1 = case_node(&c, OP_LAYOUT_TRANSFORM, "to16", 1, &x, 1);
    ir_node_set_str(c.g, t1, "src", "NCHW");
    ir_node_set_str(c.g, t1, "dst", "NCHW16c");
    int xb = out_of(&c, t1, 0);
    int cv = case_node(&c, OP_CONV, "conv", 3, (int[]){xb, w, b}, 1);
    set_ints(&c, cv, "pads", 4, DIMS(1, 1, 1, 1));
    ir_node_set_str(c.g, cv, "layout", "NCHW16c");
    ir_node_set_str(c.g, cv, "activation", "relu");
    int yb = out_of(&c, cv, 0);
    int mp = case_node(&c, OP_MAX_POOL, "pool", 1, &yb, 1);
    set_ints(&c, mp, "kernel_shape", 2, DIMS(2, 2));
    set_ints(&c, mp, "strides", 2, DIMS(2, 2));
    ir_node_set_str(c.g, mp, "layout", "NCHW16c");
    int pb = out_of(&c, mp, 0);
    int t2 = case_node(&c, OP_LAYOUT_TRANSFORM, "to_plain", 1, &pb, 1);
    ir_node_set_str(c.g, t2, "src", "NCHW16c");
    ir_node_set_str(c.g, t2, "dst", "NCHW");
    ir_node_set_int(c.g, t2, "channels", 20);
    case_check(&c, "blocked Conv + MaxPool", 9000);
}
END_TEST

/* ---------------------------------------------------------------- whole graphs and errors */

/* Conv -> Relu -> MaxPool -> Flatten -> Gemm -> Softmax with constant weights, BatchNorm. */
static Graph *small_cnn(DType dt, unsigned long long seed, int with_softmax)
{
    Graph *g = ir_graph_new("cnn");
    int x = ir_value_add(g, "x", dt, 4, DIMS(1, 2, 6, 6));
    ir_graph_add_input(g, x);
    size_t es = dtype_size(dt);
    char *buf = xmalloc(4096 * es);
    int64_t wdims[4] = {4, 2, 3, 3};
    for (int i = 0; i < 72; i++) elem_set_f64(dt, buf, i, test_randf(&seed, -0.5, 0.5));
    int w = ir_const_add(g, "w", dt, 4, wdims, buf);
    for (int i = 0; i < 4; i++) elem_set_f64(dt, buf, i, test_randf(&seed, -0.1, 0.1));
    int b = ir_const_add(g, "b", dt, 1, DIMS(4), buf);
    int bnp[4];
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 4; i++) elem_set_f64(dt, buf, i, k == 3 ? test_randf(&seed, 0.5, 1.5) : test_randf(&seed, -0.5, 0.5));
        bnp[k] = ir_const_add(g, NULL, dt, 1, DIMS(4), buf);
    }
    int c1 = ir_value_add(g, "c1", DT_UNDEF, 0, NULL);
    int n0 = ir_node_add(g, OP_CONV, "conv", 3, (int[]){x, w, b}, 1, &c1);
    ir_node_set_ints(g, n0, "pads", DIMS(1, 1, 1, 1), 4);
    int bn = ir_value_add(g, "bn", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_BATCH_NORM, "bn", 5, (int[]){c1, bnp[0], bnp[1], bnp[2], bnp[3]}, 1, &bn);
    int r1 = ir_value_add(g, "r1", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_RELU, "relu", 1, &bn, 1, &r1);
    int p1 = ir_value_add(g, "p1", DT_UNDEF, 0, NULL);
    int n3 = ir_node_add(g, OP_MAX_POOL, "pool", 1, &r1, 1, &p1);
    ir_node_set_ints(g, n3, "kernel_shape", DIMS(2, 2), 2);
    ir_node_set_ints(g, n3, "strides", DIMS(2, 2), 2);
    int f1 = ir_value_add(g, "f1", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_FLATTEN, "flat", 1, &p1, 1, &f1);
    for (int i = 0; i < 360; i++) elem_set_f64(dt, buf, i, test_randf(&seed, -0.3, 0.3));
    int fw = ir_const_add(g, "fw", dt, 2, DIMS(10, 36), buf);
    for (int i = 0; i < 10; i++) elem_set_f64(dt, buf, i, test_randf(&seed, -0.1, 0.1));
    int fb = ir_const_add(g, "fb", dt, 1, DIMS(10), buf);
    int lg = ir_value_add(g, "logits", DT_UNDEF, 0, NULL);
    int n5 = ir_node_add(g, OP_GEMM, "fc", 3, (int[]){f1, fw, fb}, 1, &lg);
    ir_node_set_int(g, n5, "transB", 1);
    int y = lg;
    if (with_softmax) {
        y = ir_value_add(g, "prob", DT_UNDEF, 0, NULL);
        ir_node_add(g, OP_SOFTMAX, "softmax", 1, &lg, 1, &y);
    }
    ir_graph_add_output(g, y);
    free(buf);
    Diag d = {{0}};
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    return g;
}

START_TEST(test_grad_graph)
{
    Graph *g = small_cnn(DT_F64, 11, 1);
    unsigned long long seed = 99;
    Tensor *x = tensor_new(DT_F64, 4, DIMS(1, 2, 6, 6));
    for (int64_t i = 0; i < 72; i++) tensor_set_f64(x, i, test_randf(&seed, 0, 1));
    double w[10];
    for (int i = 0; i < 10; i++) w[i] = test_randf(&seed, -1, 1);
    LinLoss l = {w, 10};
    Tensor *gx = NULL;
    Diag d = {{0}};
    ck_assert_msg(grad_input(g, &x, 0, 0, lin_loss, &l, NULL, &gx, &d) == 0, "%s", d.msg);
    double maxabs = 0;
    for (int64_t i = 0; i < 72; i++) {
        double x0 = tensor_get_f64(x, i);
        tensor_set_f64(x, i, x0 + 1e-6);
        double lp = run_loss(g, &x, &l);
        tensor_set_f64(x, i, x0 - 1e-6);
        double lm = run_loss(g, &x, &l);
        tensor_set_f64(x, i, x0);
        double num = (lp - lm) / 2e-6, an = tensor_get_f64(gx, i);
        ck_assert_msg(fabs(an - num) <= 1e-6 * (1 + fabs(num)), "element %lld: %.10g vs %.10g", (long long)i, an, num);
        if (fabs(an) > maxabs) maxabs = fabs(an);
    }
    ck_assert_msg(maxabs > 1e-4, "gradient is (almost) zero everywhere");
    tensor_free(gx);
    tensor_free(x);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_grad_errors)
{
    /* Exp on the path: error names node and op */
    Graph *g = ir_graph_new("e");
    int x = ir_value_add(g, "x", DT_F64, 2, DIMS(2, 3)), o = ir_value_add(g, "x2", DT_F64, 2, DIMS(2, 3));
    ir_graph_add_input(g, x);
    ir_graph_add_input(g, o);
    int e = ir_value_add(g, "e", DT_UNDEF, 0, NULL), y = ir_value_add(g, "y", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_EXP, "my_exp", 1, &x, 1, &e);
    ir_node_add(g, OP_ADD, "add", 2, (int[]){e, o}, 1, &y);
    ir_graph_add_output(g, y);
    Diag d = {{0}};
    ck_assert(ir_infer_shapes(g, &d) == 0);
    Tensor *in[2] = {tensor_new(DT_F64, 2, DIMS(2, 3)), tensor_new(DT_F64, 2, DIMS(2, 3))};
    double w[6] = {1, 2, 3, 4, 5, 6};
    LinLoss l = {w, 6};
    Tensor *gx = NULL;
    ck_assert(grad_input(g, in, 0, 0, lin_loss, &l, NULL, &gx, &d) == -1);
    ck_assert_msg(strstr(d.msg, "no gradient for op Exp at node 'my_exp'") != NULL, "%s", d.msg);
    ck_assert(gx == NULL);
    /* ... but with respect to the other input the Exp is off the path */
    ck_assert_msg(grad_input(g, in, 1, 0, lin_loss, &l, NULL, &gx, &d) == 0, "%s", d.msg);
    for (int i = 0; i < 6; i++) ck_assert(tensor_get_f64(gx, i) == w[i]);
    tensor_free(gx);
    /* bad indices */
    ck_assert(grad_input(g, in, 2, 0, lin_loss, &l, NULL, &gx, &d) == -1);
    ck_assert(strstr(d.msg, "input index 2") != NULL);
    ck_assert(grad_input(g, in, 0, 1, lin_loss, &l, NULL, &gx, &d) == -1);
    ck_assert(strstr(d.msg, "output index 1") != NULL);
    /* a wrongly shaped input */
    Tensor *bad = tensor_new(DT_F64, 2, DIMS(3, 2)), *in2[2] = {bad, in[1]};
    ck_assert(grad_input(g, in2, 1, 0, lin_loss, &l, NULL, &gx, &d) == -1);
    ck_assert_msg(strstr(d.msg, "input 'x'") != NULL, "%s", d.msg);
    tensor_free(bad);
    tensor_free(in[0]);
    tensor_free(in[1]);
    ir_graph_free(g);

    /* an integer branch (Shape) and constants take no gradient; the loss does not depend on
     * the input through them, so the gradient is exactly that of the float path */
    g = ir_graph_new("i");
    x = ir_value_add(g, "x", DT_F32, 2, DIMS(3, 2));
    ir_graph_add_input(g, x);
    int sh = ir_value_add(g, "sh", DT_UNDEF, 0, NULL), cst = ir_value_add(g, "c", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_SHAPE, "shape", 1, &x, 1, &sh);
    int cf = ir_value_add(g, "cf", DT_UNDEF, 0, NULL);
    int nc = ir_node_add(g, OP_CAST, "cast", 1, &sh, 1, &cf);
    ir_node_set_int(g, nc, "to", 1);
    int k3 = ir_const_add(g, "k", DT_F32, 1, DIMS(2), (float[]){1, 2});
    ir_node_add(g, OP_MUL, "scale", 2, (int[]){x, k3}, 1, &cst);
    int s1 = ir_value_add(g, "s1", DT_UNDEF, 0, NULL), y2 = ir_value_add(g, "y", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_SUM, "sum_shape", 1, &cf, 1, &s1);
    ir_node_add(g, OP_ADD, "add", 2, (int[]){cst, s1}, 1, &y2);
    ir_graph_add_output(g, y2);
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    Tensor *xi = tensor_new(DT_F32, 2, DIMS(3, 2));
    ck_assert_msg(grad_input(g, &xi, 0, 0, lin_loss, &l, NULL, &gx, &d) == 0, "%s", d.msg);
    for (int i = 0; i < 6; i++) ck_assert_msg(tensor_get_f64(gx, i) == w[i] * (i % 2 + 1), "element %d", i);
    tensor_free(gx);
    tensor_free(xi);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- the batched engine */

/* grad_input of L = sum w y on f32 graph g (input 0, output 0) vs GradPlan over 3 samples. */
static void plan_check_q(Graph *g, const char *label, unsigned long long seed, double lo, double hi, double quant);
static void plan_check(Graph *g, const char *label, unsigned long long seed, double lo, double hi)
{
    plan_check_q(g, label, seed, lo, hi, 0);
}

/* quant > 0: inputs rounded to multiples of quant (ties for the max rules) */
static void plan_check_q(Graph *g, const char *label, unsigned long long seed, double lo, double hi, double quant)
{
    Diag d = {{0}};
    const Value *xv = &g->values[g->inputs[0]], *yv = &g->values[g->outputs[0]];
    int64_t nx = ir_value_numel(xv), ny = ir_value_numel(yv);
    int target = g->outputs[0];
    GradPlan *p = grad_plan_new(g, NULL, 0, &target, 1, 3, &d);
    ck_assert_msg(p != NULL, "%s: plan: %s", label, d.msg);
    ck_assert(grad_plan_numel(p, g->inputs[0]) == nx);
    float *xs = xmalloc((size_t)(3 * nx) * sizeof(float));
    for (int64_t i = 0; i < 3 * nx; i++) {
        xs[i] = test_randf(&seed, (float)lo, (float)hi);
        if (quant > 0) xs[i] = (float)(quant * round(xs[i] / quant));
    }
    for (int s = 0; s < 3; s++) ck_assert_msg(grad_plan_forward(p, s, xs + s * nx, &d) == 0, "%s: %s", label, d.msg);
    double *w = xmalloc((size_t)ny * sizeof(double));
    float *gx = xmalloc((size_t)nx * sizeof(float));
    for (int s = 2; s >= 0; s--) { /* backward in another order than forward: slots are independent */
        for (int64_t i = 0; i < ny; i++) w[i] = test_randf(&seed, -1, 1);
        Tensor *x = tensor_wrap(DT_F32, xv->rank, xv->dims, xs + s * nx), *ref = NULL, *yref[4] = {0};
        ck_assert(interp_run(g, &x, yref, NULL, &d) == 0);
        const float *y = grad_plan_value(p, s, target);
        ck_assert(y != NULL);
        double ymax = 1e-3;
        for (int64_t i = 0; i < ny; i++) ymax = fmax(ymax, fabs(tensor_get_f64(yref[0], i)));
        for (int64_t i = 0; i < ny; i++)
            ck_assert_msg(fabs(y[i] - tensor_get_f64(yref[0], i)) <= 1e-4 * ymax,
                          "%s: sample %d output %lld: %g vs %g", label, s, (long long)i, y[i],
                          tensor_get_f64(yref[0], i));
        LinLoss l = {w, ny};
        ck_assert_msg(grad_input(g, &x, 0, 0, lin_loss, &l, NULL, &ref, &d) == 0, "%s: %s", label, d.msg);
        grad_plan_zero(p);
        float *seedbuf = grad_plan_seed(p, target);
        ck_assert(seedbuf != NULL);
        for (int64_t i = 0; i < ny; i++) seedbuf[i] += (float)w[i];
        ck_assert_msg(grad_plan_backward(p, s, gx, &d) == 0, "%s: %s", label, d.msg);
        double gmax = 1e-3;
        for (int64_t i = 0; i < nx; i++) gmax = fmax(gmax, fabs(tensor_get_f64(ref, i)));
        for (int64_t i = 0; i < nx; i++)
            ck_assert_msg(fabs(gx[i] - tensor_get_f64(ref, i)) <= 1e-4 * gmax,
                          "%s: sample %d gx[%lld] = %g, reference %g", label, s, (long long)i, gx[i],
                          tensor_get_f64(ref, i));
        tensor_free(ref);
        tensor_free(yref[0]);
        x->owns = 0;
        tensor_free(x);
    }
    free(w), free(gx), free(xs);
    grad_plan_free(p);
}

/* One f32 Conv with constant weights (the fast path), optionally a second one consuming it. */
static void plan_conv_case(const ConvSpec *s, unsigned long long seed)
{
    Graph *g = ir_graph_new("pc");
    int64_t xd[5] = {s->n, s->c}, wd[5] = {s->m, s->c / s->group};
    for (int a = 0; a < s->nsp; a++) xd[2 + a] = s->in[a], wd[2 + a] = s->k[a];
    int x = ir_value_add(g, "x", DT_F32, 2 + s->nsp, xd);
    ir_graph_add_input(g, x);
    int64_t wn = shape_numel(2 + s->nsp, wd);
    float *wb = xmalloc((size_t)(wn + s->m) * sizeof(float));
    for (int64_t i = 0; i < wn + s->m; i++) wb[i] = test_randf(&seed, -0.5, 0.5);
    int w = ir_const_add(g, "w", DT_F32, 2 + s->nsp, wd, wb);
    int b = ir_const_add(g, "b", DT_F32, 1, DIMS(s->m), wb + wn);
    free(wb);
    int y = ir_value_add(g, "y", DT_UNDEF, 0, NULL);
    int in[4] = {x, w, s->bias ? b : -1, -1};
    int nd = ir_node_add(g, OP_CONV, "conv", s->bias ? 3 : 2, in, 1, &y);
    ir_node_set_int(g, nd, "group", s->group);
    ir_node_set_ints(g, nd, "strides", s->strides, s->nsp);
    ir_node_set_ints(g, nd, "dilations", s->dil, s->nsp);
    if (s->auto_pad)
        ir_node_set_str(g, nd, "auto_pad", s->auto_pad);
    else
        ir_node_set_ints(g, nd, "pads", s->pads, 2 * s->nsp);
    if (s->act) {
        ir_node_set_str(g, nd, "activation", s->act);
        if (s->set_alpha) ir_node_set_float(g, nd, "activation_alpha", s->alpha);
        if (s->set_beta) ir_node_set_float(g, nd, "activation_beta", s->beta);
    }
    int out = y;
    if (s->residual) {
        /* residual from the input path: y2 = conv2(y) + y with a 3x3 same conv */
        Diag d = {{0}};
        ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
        const Value *yv = &g->values[y];
        int64_t w2d[4] = {yv->dims[1], yv->dims[1], 3, 3};
        int64_t n2 = shape_numel(4, w2d);
        float *w2 = xmalloc((size_t)n2 * sizeof(float));
        for (int64_t i = 0; i < n2; i++) w2[i] = test_randf(&seed, -0.3, 0.3);
        int wv2 = ir_const_add(g, "w2", DT_F32, 4, w2d, w2);
        free(w2);
        out = ir_value_add(g, "y2", DT_UNDEF, 0, NULL);
        int n2d = ir_node_add(g, OP_CONV, "conv_res", 4, (int[]){y, wv2, -1, y}, 1, &out);
        ir_node_set_ints(g, n2d, "pads", DIMS(1, 1, 1, 1), 4);
        ir_node_set_str(g, n2d, "activation", "relu");
    }
    ir_graph_add_output(g, out);
    Diag d = {{0}};
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s: %s", s->label, d.msg);
    plan_check(g, s->label, seed + 1, -1, 1);
    ir_graph_free(g);
}

START_TEST(test_grad_plan_conv)
{
    /* every SIMD level this CPU has (portable C, AVX2, AVX-512), then the default again */
    int best = grad_conv_isa(-1);
    for (int isa = 0; isa <= best; isa++) {
        ck_assert_int_eq(grad_conv_isa(isa), isa);
        for (size_t i = 0; i < sizeof conv_specs / sizeof conv_specs[0]; i++)
            plan_conv_case(&conv_specs[i], 10000 + i);
    }
    ck_assert_int_eq(grad_conv_isa(99), best);
    /* wide and deep enough to use every channel block and several position tiles */
    const ConvSpec big[] = {
        {"plan conv 16->21 28x28", 2, 1, 16, 21, {28, 28}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "relu", 0, 0, 0, 0},
        {"plan conv 5->19 5x3 stride 2", 2, 1, 5, 19, {17, 23}, {5, 3}, 1, {2, 2}, {1, 2}, {2, 1, 2, 1}, NULL, 1, 0, NULL, 0, 0, 0, 0},
        {"plan conv 1->16 first layer", 2, 1, 1, 16, {28, 28}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "relu", 0, 0, 0, 0},
        {"plan conv groups 4 residual", 2, 1, 8, 12, {9, 9}, {3, 3}, 4, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 1, NULL, 0, 0, 0, 0},
        {"plan conv 2 images", 2, 2, 3, 5, {7, 7}, {3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, NULL, 1, 0, "sigmoid", 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) plan_conv_case(&big[i], 11000 + i);
}
END_TEST

START_TEST(test_grad_plan_graph)
{
    /* the small CNN in f32 (Conv, BatchNorm, Relu, MaxPool, Flatten, Gemm, Softmax) */
    Graph *g = small_cnn(DT_F32, 21, 1);
    plan_check(g, "small cnn softmax", 5, 0, 1);
    ir_graph_free(g);
    g = small_cnn(DT_F32, 22, 0);
    plan_check(g, "small cnn logits", 6, 0, 1);
    ir_graph_free(g);

    /* pools, activations, broadcasting binaries, copies and generic nodes in one chain */
    g = ir_graph_new("chain");
    int x = ir_value_add(g, "x", DT_F32, 4, DIMS(1, 3, 9, 8));
    ir_graph_add_input(g, x);
    unsigned long long seed = 4;
    float sc[3], sh[24];
    for (int i = 0; i < 3; i++) sc[i] = test_randf(&seed, 0.5, 1.5);
    for (int i = 0; i < 24; i++) sh[i] = test_randf(&seed, -0.5, 0.5);
    int scv = ir_const_add(g, "sc", DT_F32, 3, DIMS(3, 1, 1), sc);
    int shv = ir_const_add(g, "sh", DT_F32, 1, DIMS(8), sh);
    int v = x;
#define CH(op, nm, ...)                                                                    \
    do {                                                                                   \
        int o_ = ir_value_add(g, nm, DT_UNDEF, 0, NULL);                                   \
        int in_[] = {__VA_ARGS__};                                                         \
        ir_node_add(g, op, nm, (int)(sizeof in_ / sizeof in_[0]), in_, 1, &o_);            \
        v = o_;                                                                            \
    } while (0)
    CH(OP_MUL, "mul", scv, v);
    CH(OP_SUB, "sub", v, shv);
    int a1 = v;
    CH(OP_LEAKY_RELU, "leaky", v);
    CH(OP_ADD, "add_same", v, a1);
    CH(OP_MAX_POOL, "maxpool", v);
    ir_node_set_ints(g, g->n_nodes - 1, "kernel_shape", DIMS(3, 3), 2);
    ir_node_set_ints(g, g->n_nodes - 1, "strides", DIMS(2, 2), 2);
    ir_node_set_ints(g, g->n_nodes - 1, "pads", DIMS(1, 1, 1, 1), 4);
    ir_node_set_int(g, g->n_nodes - 1, "ceil_mode", 1);
    int mp = v;
    CH(OP_AVERAGE_POOL, "avgpool", v);
    ir_node_set_ints(g, g->n_nodes - 1, "kernel_shape", DIMS(2, 3), 2);
    ir_node_set_ints(g, g->n_nodes - 1, "pads", DIMS(1, 1, 0, 1), 4);
    ir_node_set_int(g, g->n_nodes - 1, "count_include_pad", 1);
    CH(OP_HARD_SWISH, "hswish", v);
    CH(OP_TANH, "tanh", v);
    int ap = v;
    CH(OP_CLIP, "clip", mp);
    ir_node_set_float(g, g->n_nodes - 1, "min", -0.2);
    ir_node_set_float(g, g->n_nodes - 1, "max", 0.9);
    CH(OP_SIGMOID, "sig", v);
    CH(OP_HARD_SIGMOID, "hsig", v);
    CH(OP_GLOBAL_MAX_POOL, "gmp", v);
    int gm = v;
    CH(OP_GLOBAL_AVERAGE_POOL, "gap", ap);
    CH(OP_CONCAT, "cat", v, gm);
    ir_node_set_int(g, g->n_nodes - 1, "axis", 1);
    CH(OP_TRANSPOSE, "tr", v);
    ir_node_set_ints(g, g->n_nodes - 1, "perm", DIMS(0, 2, 1, 3), 4);
    CH(OP_PAD, "pad", v);
    ir_node_set_ints(g, g->n_nodes - 1, "pads", DIMS(0, 0, 0, 1, 0, 0, 0, 1), 8);
    CH(OP_RESHAPE, "rs", v);
    ir_node_set_ints(g, g->n_nodes - 1, "shape", DIMS(1, -1), 2);
    CH(OP_IDENTITY, "id", v);
    CH(OP_LOG_SOFTMAX, "lsm", v);
    int lsm = v;
    CH(OP_CLIP, "clip_const", v); /* min > max: the constant max, no gradient */
    ir_node_set_float(g, g->n_nodes - 1, "min", 1.0);
    ir_node_set_float(g, g->n_nodes - 1, "max", -1.0);
    CH(OP_ADD, "add_clip", lsm, v);
#undef CH
    ir_graph_add_output(g, v);
    Diag d = {{0}};
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    plan_check(g, "chain", 8, -2, 2);
    GradPlan *p = grad_plan_new(g, NULL, 0, &v, 1, 1, &d);
    GradPlanInfo info;
    grad_plan_info(p, &info);
    ck_assert_int_eq(info.n_nodes, g->n_nodes);
    ck_assert_msg(info.n_fast >= 13 && info.n_generic >= 2, "fast %d generic %d", info.n_fast, info.n_generic);
    grad_plan_free(p);

    /* 2x2 stride-2 max pools (the vector path), with ceil_mode's partial windows and ties */
    for (int cm = 0; cm < 2; cm++) {
        Graph *h = ir_graph_new("pool2");
        int hx = ir_value_add(h, "x", DT_F32, 4, cm ? DIMS(1, 3, 9, 11) : DIMS(1, 2, 8, 12));
        ir_graph_add_input(h, hx);
        int hy = ir_value_add(h, "y", DT_UNDEF, 0, NULL), hz = ir_value_add(h, "z", DT_UNDEF, 0, NULL);
        int hn = ir_node_add(h, OP_MAX_POOL, "mp", 1, &hx, 1, &hy);
        ir_node_set_ints(h, hn, "kernel_shape", DIMS(2, 2), 2);
        ir_node_set_ints(h, hn, "strides", DIMS(2, 2), 2);
        ir_node_set_int(h, hn, "ceil_mode", cm);
        ir_node_add(h, OP_GLOBAL_MAX_POOL, "gmp", 1, &hy, 1, &hz);
        ir_graph_add_output(h, hy);
        ck_assert_msg(ir_infer_shapes(h, &d) == 0, "%s", d.msg);
        plan_check_q(h, cm ? "maxpool 2x2 ceil_mode ties" : "maxpool 2x2 ties", 30 + (unsigned long long)cm, -1, 1, 0.5);
        ir_graph_free(h);
    }

    /* errors: a target that does not depend on the input; an op without gradient on the path */
    int c0 = ir_const_add(g, "c0", DT_F32, 1, DIMS(1), (float[]){1});
    ck_assert(grad_plan_new(g, NULL, 0, &c0, 1, 1, &d) == NULL);
    ck_assert_msg(strstr(d.msg, "does not depend on") != NULL, "%s", d.msg);
    ir_graph_free(g);

    g = ir_graph_new("exp");
    x = ir_value_add(g, "x", DT_F32, 2, DIMS(1, 4));
    ir_graph_add_input(g, x);
    int e = ir_value_add(g, "e", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_EXP, "the_exp", 1, &x, 1, &e);
    ir_graph_add_output(g, e);
    ck_assert(ir_infer_shapes(g, &d) == 0);
    ck_assert(grad_plan_new(g, NULL, 0, &e, 1, 1, &d) == NULL);
    ck_assert_msg(strstr(d.msg, "no gradient for op Exp at node 'the_exp'") != NULL, "%s", d.msg);
    ir_graph_free(g);
}
END_TEST

TEST_SUITE(grad)
{
    Suite *s = suite_create("grad");
    TCase *t = tcase_create("finite_differences");
    tcase_add_test(t, test_grad_unary);
    tcase_add_test(t, test_grad_binary);
    tcase_add_test(t, test_grad_conv);
    tcase_add_test(t, test_grad_linalg);
    tcase_add_test(t, test_grad_pool);
    tcase_add_test(t, test_grad_norm);
    tcase_add_test(t, test_grad_movement);
    tcase_add_test(t, test_grad_layout);
    tcase_add_test(t, test_grad_graph);
    tcase_add_test(t, test_grad_errors);
    tcase_set_timeout(t, 120);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("plan");
    tcase_add_test(p, test_grad_plan_conv);
    tcase_add_test(p, test_grad_plan_graph);
    tcase_set_timeout(p, 120);
    suite_add_tcase(s, p);
    return s;
}

