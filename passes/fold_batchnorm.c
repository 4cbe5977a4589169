/* fold_batchnorm.c — pass "fold-batchnorm": folds an inference BatchNormalization into the Conv,
 * ConvTranspose or Gemm that produces its input.
 *
 *   y = (x - mean) * scale / sqrt(var + eps) + B  =  x * s + t,  s = scale / sqrt(var + eps),
 *                                                               t = B - mean * s
 * With x = W * in + b, output channel c: W'[c] = W[c] * s[c], b'[c] = b[c] * s[c] + t[c].
 * The channel is axis 1 of x: Conv's W is [M, C/g, k...] (channel = W row), ConvTranspose's W is
 * [C, M/g, k...] (channel = group * M/g + column), Gemm's output is [M, N] (channel = N, a row of
 * B when transB = 1, a column otherwise; beta is folded into the new C).
 *
 * Conditions: x has no other use and is not a graph output, the producer has no fused
 * activation, its weights (and bias, if any) and all BN parameters are f32/f64 constants.
 * Arithmetic is in double; new constants are added (the old ones may be shared), a bias is
 * created when absent, and the producer takes over the BN's output value so every later name is
 * unchanged.
 *
 * A BN with constant parameters that cannot fold (its input comes from a Concat, a pooling, an
 * activation, ...: DenseNet's pre-activation blocks) becomes y = Mul(x, s) then Add(., t), s and
 * t constants [C, 1, ..] broadcasting over axis 1: two native elementwise ops the layout pass
 * keeps blocked, instead of the interpreter's BatchNormalization. Any other BN is left as it is.
 */
#include "passes/passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_float_const(const Graph *g, int vid)
{
    return pass_value_is_const(g, vid) && dtype_is_float(g->values[vid].dtype);
}

static int new_const_like(Graph *g, int like, const char *suffix, int rank, const int64_t *dims,
                          const double *vals)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", g->values[like].name, suffix);
    return pass_const_add_f64(g, name, g->values[like].dtype, rank, dims, vals);
}

/* Conv / ConvTranspose: returns 0 if folded, 1 if not applicable. */
static int fold_conv(Graph *g, int p, const double *s, const double *t, int64_t C)
{
    Node *n = &g->nodes[p];
    int w = n->n_in > 1 ? n->in[1] : -1, b = n->n_in > 2 ? n->in[2] : -1;
    if (!is_float_const(g, w) || (b >= 0 && !is_float_const(g, b))) return 1;
    Value wv = g->values[w];
    if (wv.rank < 2) return 1;
    int64_t per = shape_numel(wv.rank - 2, wv.dims + 2), numel = ir_value_numel(&wv);
    int64_t group = ir_attr_int(n, "group", 1), out_ch;
    if (n->op == OP_CONV) {
        out_ch = wv.dims[0];
    } else {
        if (group < 1 || wv.dims[0] % group) return 1;
        out_ch = group * wv.dims[1];
    }
    if (out_ch != C || (b >= 0 && ir_value_numel(&g->values[b]) != C)) return 1;

    double *wd = pass_const_f64(g, w);
    for (int64_t i = 0; i < numel; i++) {
        int64_t c;
        if (n->op == OP_CONV) {
            c = i / (numel / wv.dims[0]);
        } else {
            int64_t ci = i / (wv.dims[1] * per), col = (i / per) % wv.dims[1];
            c = (ci / (wv.dims[0] / group)) * wv.dims[1] + col;
        }
        wd[i] *= s[c];
    }
    double *bd = b >= 0 ? pass_const_f64(g, b) : xcalloc((size_t)C, sizeof(double));
    for (int64_t c = 0; c < C; c++) bd[c] = bd[c] * s[c] + t[c];
    int nw = new_const_like(g, w, "_bn", wv.rank, wv.dims, wd);
    int nb = b >= 0 ? new_const_like(g, b, "_bn", 1, &C, bd) : new_const_like(g, w, "_bn_bias", 1, &C, bd);
    free(wd), free(bd);
    int in[3] = {g->nodes[p].in[0], nw, nb};
    ir_node_set_inputs(g, p, 3, in);
    return 0;
}

/* Index of C's element broadcast to position (m, n) of an [M, N] output. */
static int64_t bcast_index(const Value *c, int64_t m, int64_t n)
{
    if (c->rank == 0) return 0;
    if (c->rank == 1) return c->dims[0] == 1 ? 0 : n;
    return (c->dims[0] == 1 ? 0 : m) * c->dims[1] + (c->dims[1] == 1 ? 0 : n);
}

static int fold_gemm(Graph *g, int p, const double *s, const double *t, int64_t N)
{
    Node *n = &g->nodes[p];
    int bw = n->in[1], cb = n->n_in > 2 ? n->in[2] : -1;
    if (!is_float_const(g, bw) || (cb >= 0 && !is_float_const(g, cb))) return 1;
    Value bv = g->values[bw];
    int transb = ir_attr_int(n, "transB", 0) != 0;
    if (bv.rank != 2 || bv.dims[transb ? 0 : 1] != N) return 1;
    Value cv;
    memset(&cv, 0, sizeof cv);
    if (cb >= 0) {
        cv = g->values[cb];
        if (cv.rank > 2) return 1;
    }
    int64_t M = g->values[n->out[0]].dims[0];
    double beta = ir_attr_float(n, "beta", 1.0);

    double *bd = pass_const_f64(g, bw);
    for (int64_t i = 0; i < bv.dims[0]; i++)
        for (int64_t j = 0; j < bv.dims[1]; j++) bd[i * bv.dims[1] + j] *= s[transb ? i : j];
    /* The new bias depends on the row only if C does. */
    int per_row = cb >= 0 && cv.rank == 2 && cv.dims[0] != 1;
    int64_t rows = per_row ? M : 1;
    double *cd = cb >= 0 ? pass_const_f64(g, cb) : NULL;
    double *nc = xmalloc((size_t)(rows * N + 1) * sizeof(double));
    for (int64_t m = 0; m < rows; m++)
        for (int64_t j = 0; j < N; j++) {
            double c0 = cd ? beta * cd[bcast_index(&cv, m, j)] : 0.0;
            nc[m * N + j] = c0 * s[j] + t[j];
        }
    int nb = new_const_like(g, bw, "_bn", 2, bv.dims, bd);
    int64_t cdims[2] = {M, N};
    int ncv = per_row ? new_const_like(g, cb, "_bn", 2, cdims, nc)
                      : new_const_like(g, cb >= 0 ? cb : bw, cb >= 0 ? "_bn" : "_bn_bias", 1, &N, nc);
    free(bd), free(cd), free(nc);
    int in[3] = {g->nodes[p].in[0], nb, ncv};
    ir_node_set_inputs(g, p, 3, in);
    ir_node_remove_attr(g, p, "beta");
    return 0;
}

/* Scale, B, mean and var are float constants of C elements each. */
static int bn_params_ok(const Graph *g, const Node *b, int64_t C)
{
    for (int k = 1; k < 5; k++)
        if (!is_float_const(g, b->in[k]) || ir_value_numel(&g->values[b->in[k]]) != C) return 0;
    return 1;
}

/* The BN as y = x * s + t per channel (s, t malloc'ed, C each). */
static void bn_affine(const Graph *g, const Node *b, int64_t C, double **s_out, double **t_out)
{
    double eps = ir_attr_float(b, "epsilon", 1e-5);
    double *sc = pass_const_f64(g, b->in[1]), *bias = pass_const_f64(g, b->in[2]);
    double *mean = pass_const_f64(g, b->in[3]), *var = pass_const_f64(g, b->in[4]);
    double *s = xmalloc((size_t)(C + 1) * sizeof(double)), *t = xmalloc((size_t)(C + 1) * sizeof(double));
    for (int64_t c = 0; c < C; c++) {
        s[c] = sc[c] / sqrt(var[c] + eps);
        t[c] = bias[c] - mean[c] * s[c];
    }
    free(sc), free(bias), free(mean), free(var);
    *s_out = s, *t_out = t;
}

/* A BN left after folding, with constant parameters: node bn becomes Mul(x, s) into a new value
 * and an Add(., t) appended after it writes y. Returns the Add's index, or -1 (left as it is). */
static int to_affine(Graph *g, int bn)
{
    Node *b = &g->nodes[bn];
    int x = b->in[0], y = b->out[0];
    if (x < 0 || y < 0 || ir_attr_int(b, "training_mode", 0)) return -1;
    for (int k = 1; k < b->n_out; k++)
        if (b->out[k] >= 0) return -1;
    const Value *xv = &g->values[x];
    if (xv->rank < 2 || !dtype_is_float(xv->dtype) || g->values[y].dtype != xv->dtype) return -1;
    const int64_t C = xv->dims[1];
    if (!bn_params_ok(g, b, C)) return -1;
    double *s, *t;
    bn_affine(g, b, C, &s, &t);
    int64_t dims[IR_MAX_RANK];
    dims[0] = C;
    for (int k = 1; k < xv->rank - 1; k++) dims[k] = 1;
    const int rank = xv->rank - 1, sv = new_const_like(g, b->in[1], "_bn_scale", rank, dims, s),
              tv = new_const_like(g, b->in[2], "_bn_shift", rank, dims, t);
    free(s), free(t);
    char name[256];
    snprintf(name, sizeof name, "%s_scaled", g->values[y].name);
    const int m = ir_value_add(g, name, g->values[y].dtype, g->values[y].rank, g->values[y].dims);
    int in[2] = {x, sv};
    g->nodes[bn].op = OP_MUL;
    ir_node_set_inputs(g, bn, 2, in);
    g->nodes[bn].n_out = 1;
    pass_node_take_output(g, bn, 0, m);
    g->nodes[bn].n_attr = 0; /* epsilon, momentum: not Mul's */
    snprintf(name, sizeof name, "%s_shift", g->nodes[bn].name);
    in[0] = m, in[1] = tv;
    return ir_node_add(g, OP_ADD, name, 2, in, 1, &y);
}

static int try_fold(Graph *g, int bn)
{
    Node *b = &g->nodes[bn];
    int x = b->in[0], y = b->out[0];
    if (x < 0 || y < 0) return 0;
    int p = g->values[x].producer;
    if (p < 0 || g->nodes[p].dead || g->nodes[p].out[0] != x) return 0;
    OpKind op = g->nodes[p].op;
    if (op != OP_CONV && op != OP_CONV_TRANSPOSE && op != OP_GEMM) return 0;
    if (ir_attr_find(&g->nodes[p], "activation") || !pass_value_single_use(g, x)) return 0;
    const Value *xv = &g->values[x];
    if (xv->rank < 2 || (op == OP_GEMM && xv->rank != 2) || !dtype_is_float(xv->dtype)) return 0;
    int64_t C = xv->dims[1];
    if (!bn_params_ok(g, b, C)) return 0;

    double *s, *t;
    bn_affine(g, b, C, &s, &t);
    int rc = op == OP_GEMM ? fold_gemm(g, p, s, t, C) : fold_conv(g, p, s, t, C);
    free(s), free(t);
    if (rc) return 0;
    pass_node_take_output(g, p, 0, y);
    g->nodes[bn].dead = 1;
    return 1;
}

int pass_fold_batchnorm(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    int folded = 0, added = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == OP_BATCH_NORM && g->nodes[i].n_in == 5)
            folded += try_fold(g, i);
    const int n0 = g->n_nodes;
    int *after = xmalloc((size_t)(n0 + 1) * sizeof(int));
    for (int i = 0; i < n0; i++) {
        after[i] = -1;
        if (!g->nodes[i].dead && g->nodes[i].op == OP_BATCH_NORM && g->nodes[i].n_in == 5)
            added += (after[i] = to_affine(g, i)) >= 0;
    }
    if (added)
        pass_place_new_nodes(g, n0, NULL, after);
    else if (folded)
        ir_graph_compact(g);
    free(after);
    return 0;
}
