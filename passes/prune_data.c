/* prune_data.c — the prune pass's synthetic data: seeded random inputs of each graph input's
 * shape, propagated through the network in LOCKSTEP by the reference interpreter, and the
 * per-layer least-squares statistics G = X X^T and YXt = Y X^T (docs/pruning.md).
 *
 * Two networks are kept per sample: (i) the original one and (ii) the one whose already-visited
 * layers carry their pruned weights. Nodes run in graph order (interp_node), every tensor is
 * freed after its last use, and a value that is still identical in both networks (no pruned
 * layer upstream) is stored once. At a selected Conv, for every sample and output position:
 *   X  = im2col of the conv's input in network (ii) (PRUNE_SOURCE_PRUNED: error correction, the
 *        layer learns to undo the upstream pruning error) or (i) (PRUNE_SOURCE_ORIGINAL), with a
 *        row of ones when the bias is refit;
 *   Y  = the ORIGINAL layer's output without bias, W0 * im2col(input in network (i));
 *   G += X X^T (cblas_dsyrk), YXt += Y X^T (cblas_dgemm), ||Y||^2, all in double.
 * When X is the original network's input, YXt = W0 G and ||Y||^2 = tr(W0 G W0^T) exactly, so
 * only G is accumulated. Then the solve callback prunes the layer, and the layer's outputs for
 * both networks are computed by the same im2col + dgemm (y = W x + b rounded once to f32, the
 * interpreter's Conv semantics up to summation order). Only network (i) is propagated with
 * PRUNE_SOURCE_ORIGINAL. The walk stops after the last selected layer and skips nodes that no
 * selected layer depends on; with a head callback (o->head_fn, pruned-network inputs) it goes on
 * to the classifier Gemm (prune_head_node) and hands it the same kind of statistics, X = its
 * input in network (ii) plus a row of ones, Y = the original logits without the bias.
 *
 * BLAS (OpenBLAS) runs on one thread during the walk (prune_linalg_init, which also picks the
 * CPU's AVX2/AVX-512 kernels) and gets its thread count back afterwards.
 *
 * The inputs: model inversion (prune_data_invert, passes/invert.h: images the ORIGINAL model
 * classifies as class s mod classes, optimised from seeded noise), or gaussian/uniform values
 * from splitmix64 seeded by (seed, sample, input index), or a caller's sample function. Either
 * way the same seed gives the same data, hence the same pruned weights, on every run. A caller's
 * save function (--save-synthetic) sees every input's samples before the walk starts.
 */
#include "passes/prune_pass.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* OpenBLAS (declared here too in case the system cblas.h is another implementation's). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* Bytes of unfolded input per chunk of output positions. */
enum { PRUNE_COL_BYTES = 16 << 20 };

static double prune_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- synthetic inputs */

/* Uniform [0, 1) with 53 random bits. */
static double prune_uniform(uint64_t *s) { return (double)(ir_rand_next(s) >> 11) * 0x1.0p-53; }

void prune_synthetic_fill(Tensor *t, PruneSynthetic kind, uint64_t *state)
{
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n;) {
        if (kind == PRUNE_SYNTH_UNIFORM) {
            /* 24 bits for f32 so that rounding can never give 1.0 */
            double u = t->dtype == DT_F32 ? (double)(ir_rand_next(state) >> 40) * 0x1.0p-24 : prune_uniform(state);
            tensor_set_f64(t, i++, u);
            continue;
        }
        /* Marsaglia's polar method: two N(0,1) values per accepted pair */
        double u, v, s;
        do {
            u = 2.0 * prune_uniform(state) - 1.0;
            v = 2.0 * prune_uniform(state) - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        double f = sqrt(-2.0 * log(s) / s);
        tensor_set_f64(t, i++, u * f);
        if (i < n) tensor_set_f64(t, i++, v * f);
    }
}

uint64_t prune_synthetic_state(uint64_t seed, int s, int k)
{
    uint64_t st = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(s + 1)) ^ (0xD1B54A32D192ED03ull * (uint64_t)(k + 1));
    ir_rand_next(&st);
    return st;
}

void prune_synthetic_sample(const PruneOptions *o, uint64_t seed, int s, int k, Tensor *t)
{
    uint64_t st = prune_synthetic_state(seed, s, k);
    PruneSynthetic kind = o->synthetic == PRUNE_SYNTH_UNIFORM ? PRUNE_SYNTH_UNIFORM : PRUNE_SYNTH_GAUSSIAN;
    prune_synthetic_fill(t, kind, &st);
    if (!o->has_range) return;
    double lo = o->range_lo, hi = o->range_hi, mid = 0.5 * (lo + hi), q = 0.25 * (hi - lo);
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = tensor_get_f64(t, i);
        v = kind == PRUNE_SYNTH_UNIFORM ? lo + (hi - lo) * v : mid + q * v;
        tensor_set_f64(t, i, v < lo ? lo : v > hi ? hi : v);
    }
}

/* ---------------------------------------------------------------- model inversion */

double prune_invert_flops(const Graph *g)
{
    if (g->n_inputs != 1) return 0;
    char *active = xcalloc((size_t)g->n_values + 1, 1);
    grad_active_values(g, g->inputs[0], active);
    double f = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || n->n_in < 2 || n->n_out < 1 || n->out[0] < 0 || n->in[0] < 0 || !active[n->out[0]]) continue;
        const Value *a = &g->values[n->in[0]], *b = &g->values[n->in[1]], *y = &g->values[n->out[0]];
        double ny = (double)ir_value_numel(y);
        if (n->op == OP_CONV && b->rank >= 3) {
            f += 2.0 * ny * (double)shape_numel(b->rank - 1, b->dims + 1); /* IC/group * kernel per output */
        } else if (n->op == OP_GEMM && a->rank == 2) {
            f += 2.0 * ny * (double)(ir_attr_int(n, "transA", 0) ? a->dims[0] : a->dims[1]);
        } else if (n->op == OP_MATMUL && a->rank >= 1) {
            f += 2.0 * ny * (double)a->dims[a->rank - 1];
        }
    }
    free(active);
    return 2.0 * f; /* the forward pass and the backward pass to the input */
}

int prune_data_invert(const Graph *g, const PruneOptions *o, uint64_t seed, Tensor ***images, PruneResult *res,
                      Diag *d)
{
    *images = NULL;
    InvertOptions io;
    invert_options_default(&io);
    io.samples = o->samples ? o->samples : PRUNE_SAMPLES_INVERTED;
    io.steps = o->inv_steps;
    io.lr = o->inv_lr;
    io.tv_weight = o->inv_tv;
    io.l2_weight = o->inv_l2;
    io.l1_weight = o->inv_l1;
    io.resolution = o->inv_resolution;
    io.jitter = o->inv_jitter;
    io.coverage = o->inv_coverage;
    io.coverage_greedy = o->inv_coverage_greedy;
    io.seed = seed;
    io.has_range = o->has_range;
    io.range_lo = o->range_lo;
    io.range_hi = o->range_hi;
    res->synthetic = PRUNE_SYNTH_INVERTED;
    double flops = prune_invert_flops(g) * (double)io.samples * (double)(o->inv_steps + 1);
    if (!o->synthetic_strict && flops > PRUNE_INVERT_BUDGET) {
        res->synthetic = PRUNE_SYNTH_GAUSSIAN;
        snprintf(res->fallback, sizeof res->fallback,
                 "model inversion would cost %.0f TFLOP (%d samples x %d steps), over the default's budget of %.0f "
                 "TFLOP: gaussian synthetic data instead (--synthetic=inverted forces inversion)",
                 flops * 1e-12, io.samples, o->inv_steps, PRUNE_INVERT_BUDGET * 1e-12);
        if (o->notes) fprintf(o->notes, "prune: note: %s\n", res->fallback);
        return 0;
    }
    if (invert_synthesize(g, &io, images, &res->inversion, d)) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d->msg);
        if (o->synthetic_strict) return diag_error(d, "--synthetic=inverted: %s", msg);
        *images = NULL;
        invert_stats_free(&res->inversion);
        memset(&res->inversion, 0, sizeof res->inversion);
        res->synthetic = PRUNE_SYNTH_GAUSSIAN;
        snprintf(res->fallback, sizeof res->fallback,
                 "model inversion is not possible (%.200s): gaussian synthetic data instead", msg);
        if (o->notes) fprintf(o->notes, "prune: note: %s\n", res->fallback);
        return 0;
    }
    res->inverted = 1;
    if (res->inversion.method != INVERT_CLASSIFIER) {
        snprintf(res->fallback, sizeof res->fallback, "model inversion fell back to %s: %s",
                 res->inversion.method == INVERT_BN_STATS ? "matching BatchNorm statistics" : "Gaussian inputs",
                 res->inversion.note);
        if (o->notes) fprintf(o->notes, "prune: note: %s\n", res->fallback);
    }
    return 0;
}

/* ---------------------------------------------------------------- im2col for 3x3 convs */

/* Rows (c, kh, kw) -> c*9 + kh*3 + kw of the unfolded input of one image x [IC, H, W] for output
 * positions [p0, p0+pc) (row-major over OH x OW); row IC*9 is all ones when `ones`. */
static void prune_im2col(const float *x, int64_t IC, const ConvGeom *geo, int64_t p0, int64_t pc, int ones,
                         double *col)
{
    int64_t H = geo->in[0], W = geo->in[1], OW = geo->out[1];
    int64_t sh = geo->stride[0], sw = geo->stride[1], dh = geo->dilation[0], dw = geo->dilation[1];
    int64_t ph = geo->pad_begin[0], pw = geo->pad_begin[1];
    for (int64_t c = 0; c < IC; c++)
        for (int64_t kh = 0; kh < 3; kh++)
            for (int64_t kw = 0; kw < 3; kw++) {
                double *dst = col + (c * 9 + kh * 3 + kw) * pc;
                int64_t oh = p0 / OW, ow = p0 % OW;
                for (int64_t p = 0; p < pc;) {
                    int64_t seg = OW - ow < pc - p ? OW - ow : pc - p;
                    int64_t ih = oh * sh + kh * dh - ph;
                    if (ih < 0 || ih >= H) {
                        memset(dst + p, 0, (size_t)seg * sizeof(double));
                    } else {
                        const float *xr = x + (c * H + ih) * W;
                        for (int64_t j = 0; j < seg; j++) {
                            int64_t iw = (ow + j) * sw + kw * dw - pw;
                            dst[p + j] = iw >= 0 && iw < W ? (double)xr[iw] : 0.0;
                        }
                    }
                    p += seg;
                    ow = 0;
                    oh++;
                }
            }
    if (ones)
        for (int64_t p = 0; p < pc; p++) col[IC * 9 * pc + p] = 1.0;
}

/* Output positions per chunk for n unfolded rows. */
static int64_t prune_chunk(int64_t n, int64_t total)
{
    int64_t pc = (int64_t)PRUNE_COL_BYTES / (8 * (n > 0 ? n : 1));
    if (pc < 64) pc = 64;
    return pc < total ? pc : total;
}

/* y = conv(x, W) + b for a 3x3 conv: W [OC x IC*9] in double, bias f32 (or NULL), y f32. */
static void prune_conv_forward(const Tensor *x, const double *W, const float *bias, int64_t OC, const ConvGeom *geo,
                               Tensor *y)
{
    int64_t IC = x->dims[1], n9 = IC * 9, ohw = geo->out[0] * geo->out[1], ihw = geo->in[0] * geo->in[1];
    int64_t pc = prune_chunk(n9, ohw);
    double *col = xmalloc((size_t)(n9 * pc) * sizeof(double) + 8);
    double *acc = xmalloc((size_t)(OC * pc) * sizeof(double) + 8);
    for (int64_t img = 0; img < x->dims[0]; img++) {
        const float *xi = (const float *)x->data + img * IC * ihw;
        float *yi = (float *)y->data + img * OC * ohw;
        for (int64_t p0 = 0; p0 < ohw; p0 += pc) {
            int64_t m = ohw - p0 < pc ? ohw - p0 : pc;
            prune_im2col(xi, IC, geo, p0, m, 0, col);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC, (int)m, (int)n9, 1.0, W, (int)n9, col,
                        (int)m, 0.0, acc, (int)m);
            for (int64_t o = 0; o < OC; o++) {
                double b = bias ? (double)bias[o] : 0.0;
                for (int64_t j = 0; j < m; j++) yi[o * ohw + p0 + j] = (float)(acc[o * m + j] + b);
            }
        }
    }
    free(col), free(acc);
}

/* ---------------------------------------------------------------- the walk */

typedef struct Walk {
    Graph *g;
    const PruneOptions *o;
    int S;          /* samples */
    int two;        /* propagate network (ii) too */
    int nv;
    Tensor **vo;    /* [S * nv]: network (i) */
    Tensor **vp;    /* [S * nv]: network (ii), where it differs from (i) */
    char *same;     /* [nv]: the value is the same in both networks */
    int *last_use;  /* [nv]: last executed node reading the value, -1 if none */
} Walk;

static Tensor **slot(Walk *w, int net, int s, int v) { return &(net ? w->vp : w->vo)[(size_t)s * w->nv + v]; }

/* Input tensor of network `net` for value v (constants are wrapped: *wrapped set). */
static Tensor *walk_get(Walk *w, int net, int s, int v, int *wrapped)
{
    *wrapped = 0;
    if (v < 0) return NULL;
    const Value *val = &w->g->values[v];
    if (val->kind == VAL_CONST) {
        *wrapped = 1;
        return tensor_wrap(val->dtype, val->rank, val->dims, val->data);
    }
    if (net && !w->same[v]) return *slot(w, 1, s, v);
    return *slot(w, 0, s, v);
}

static void walk_free_value(Walk *w, int v)
{
    for (int s = 0; s < w->S; s++) {
        tensor_free(*slot(w, 0, s, v));
        *slot(w, 0, s, v) = NULL;
        if (w->two) {
            tensor_free(*slot(w, 1, s, v));
            *slot(w, 1, s, v) = NULL;
        }
    }
}

/* Free the inputs of node i whose last use it is, and outputs nobody reads. */
static void walk_release(Walk *w, int i)
{
    const Node *n = &w->g->nodes[i];
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v >= 0 && w->g->values[v].kind != VAL_CONST && w->last_use[v] == i) walk_free_value(w, v);
    }
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v >= 0 && w->last_use[v] <= i) walk_free_value(w, v);
    }
}

/* An unselected node: the interpreter, once per sample and network (once when no input differs). */
static int walk_node(Walk *w, int i, Diag *d)
{
    const Node *n = &w->g->nodes[i];
    int diff = 0;
    for (int k = 0; w->two && k < n->n_in; k++) {
        int v = n->in[k];
        if (v >= 0 && w->g->values[v].kind != VAL_CONST && !w->same[v]) diff = 1;
    }
    Tensor **in = xcalloc((size_t)n->n_in + 1, sizeof(Tensor *));
    Tensor **out = xcalloc((size_t)n->n_out + 1, sizeof(Tensor *));
    int *wrapped = xcalloc((size_t)n->n_in + 1, sizeof(int));
    int rc = 0;
    for (int s = 0; s < w->S && !rc; s++)
        for (int net = 0; net <= diff && !rc; net++) {
            for (int k = 0; k < n->n_in; k++) in[k] = walk_get(w, net, s, n->in[k], &wrapped[k]);
            rc = interp_node(w->g, i, in, out, d);
            for (int k = 0; k < n->n_in; k++)
                if (wrapped[k]) {
                    in[k]->owns = 0;
                    tensor_free(in[k]);
                }
            if (rc) break;
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) *slot(w, net, s, n->out[k]) = out[k];
        }
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) w->same[n->out[k]] = !diff;
    free(in), free(out), free(wrapped);
    return rc;
}

/* A selected Conv: accumulate, solve, propagate. */
static int walk_layer(Walk *w, int i, PruneSolveFn solve, void *solve_ctx, Diag *d)
{
    Graph *g = w->g;
    double t0 = prune_now();
    const Node *n = &g->nodes[i];
    int x = n->in[0], wid = n->in[1], bid = n->n_in > 2 ? n->in[2] : -1, y = n->out[0];
    const Value *xv = &g->values[x], *wv = &g->values[wid];
    int64_t OC = wv->dims[0], IC = wv->dims[1], n9 = IC * 9;
    int bias_col = prune_conv_bias_refit(g, i);
    int64_t nn = n9 + bias_col;
    ConvGeom geo;
    if (ir_conv_geometry(n, xv->rank, xv->dims, wv->dims, &geo, d)) return -1;
    int64_t ohw = geo.out[0] * geo.out[1], ihw = geo.in[0] * geo.in[1];

    double *W0 = xcalloc((size_t)(OC * nn) + 1, sizeof(double));
    const float *wd = (const float *)wv->data;
    for (int64_t o = 0; o < OC; o++)
        for (int64_t c = 0; c < n9; c++) W0[o * nn + c] = (double)wd[o * n9 + c];
    const float *b0 = bid >= 0 ? (const float *)g->values[bid].data : NULL;
    double *G = xcalloc((size_t)(nn * nn) + 1, sizeof(double));
    double *YXt = xcalloc((size_t)(OC * nn) + 1, sizeof(double));
    double yy = 0.0;
    int direct = w->two && !w->same[x]; /* X from network (ii), which differs from (i) */
    int64_t pc = prune_chunk(nn, ohw);
    double *colO = xmalloc((size_t)(nn * pc) * sizeof(double) + 8);
    double *colP = direct ? xmalloc((size_t)(nn * pc) * sizeof(double) + 8) : NULL;
    double *Y = xmalloc((size_t)(OC * pc) * sizeof(double) + 8);
    const Value *yv = &g->values[y];
    for (int s = 0; s < w->S; s++) {
        const Tensor *xo = *slot(w, 0, s, x), *xp = direct ? *slot(w, 1, s, x) : NULL;
        Tensor *yo = tensor_new(yv->dtype, yv->rank, yv->dims);
        for (int64_t img = 0; img < xv->dims[0]; img++) {
            const float *xoi = (const float *)xo->data + img * IC * ihw;
            float *yoi = (float *)yo->data + img * OC * ohw;
            for (int64_t p0 = 0; p0 < ohw; p0 += pc) {
                int64_t m = ohw - p0 < pc ? ohw - p0 : pc;
                prune_im2col(xoi, IC, &geo, p0, m, bias_col, colO);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC, (int)m, (int)n9, 1.0, W0, (int)nn,
                            colO, (int)m, 0.0, Y, (int)m);
                for (int64_t o = 0; o < OC; o++) {
                    double b = b0 ? (double)b0[o] : 0.0;
                    for (int64_t j = 0; j < m; j++) yoi[o * ohw + p0 + j] = (float)(Y[o * m + j] + b);
                }
                const double *X = colO;
                if (direct) {
                    prune_im2col((const float *)xp->data + img * IC * ihw, IC, &geo, p0, m, bias_col, colP);
                    X = colP;
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)OC, (int)nn, (int)m, 1.0, Y, (int)m, X,
                                (int)m, 1.0, YXt, (int)nn);
                    for (int64_t k = 0; k < OC * m; k++) yy += Y[k] * Y[k];
                }
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)nn, (int)m, 1.0, X, (int)m, 1.0, G, (int)nn);
            }
        }
        *slot(w, 0, s, y) = yo;
    }
    free(colO), free(colP), free(Y);
    for (int64_t r = 0; r < nn; r++)
        for (int64_t c = 0; c < r; c++) G[r * nn + c] = G[c * nn + r];
    if (!direct) { /* X is the original input: Y X^T = W0 X X^T */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC, (int)nn, (int)nn, 1.0, W0, (int)nn, G, (int)nn,
                    0.0, YXt, (int)nn);
        for (int64_t k = 0; k < OC * nn; k++) yy += W0[k] * YXt[k];
    }
    PruneLayerData ld = {OC, IC, nn, bias_col, G, YXt, yy, W0, prune_now() - t0};
    int rc = solve(solve_ctx, g, i, &ld, d);
    free(G), free(YXt), free(W0);
    if (rc) return -1;

    /* network (ii) continues with the pruned weights (the solve put them into the node; it may
     * have grown g->values, so no Value pointer from above is used below) */
    w->same[y] = !w->two;
    if (!w->two) return 0;
    n = &g->nodes[i];
    yv = &g->values[y];
    const float *wn = (const float *)g->values[n->in[1]].data;
    const float *bn = n->n_in > 2 && n->in[2] >= 0 ? (const float *)g->values[n->in[2]].data : NULL;
    double *Wn = xmalloc((size_t)(OC * n9) * sizeof(double) + 8);
    for (int64_t k = 0; k < OC * n9; k++) Wn[k] = (double)wn[k];
    for (int s = 0; s < w->S; s++) {
        int wrapped;
        const Tensor *xp = walk_get(w, 1, s, x, &wrapped);
        Tensor *yp = tensor_new(yv->dtype, yv->rank, yv->dims);
        prune_conv_forward(xp, Wn, bn, OC, &geo, yp);
        *slot(w, 1, s, y) = yp;
    }
    free(Wn);
    return 0;
}

/* ---------------------------------------------------------------- the classifier head */

int prune_head_node(const Graph *g)
{
    int logits, classes;
    char why[200];
    if (!invert_find_classifier(g, 0, &logits, &classes, why, sizeof why)) return -1;
    int p = g->values[logits].producer;
    const Node *n = &g->nodes[p];
    if (n->op != OP_GEMM || n->n_in < 2 || n->n_out != 1 || ir_attr_int(n, "transA", 0) != 0) return -1;
    if (ir_attr_float(n, "alpha", 1.0) != 1.0 || ir_attr_float(n, "beta", 1.0) != 1.0) return -1;
    const Value *a = &g->values[n->in[0]], *b = &g->values[n->in[1]];
    if (a->kind == VAL_CONST || a->dtype != DT_F32 || a->rank != 2) return -1;
    if (b->kind != VAL_CONST || b->dtype != DT_F32 || b->rank != 2 || !pass_value_single_use(g, n->in[1])) return -1;
    int64_t N = g->values[logits].dims[1], K = a->dims[1];
    int tb = ir_attr_int(n, "transB", 0) != 0;
    if (b->dims[tb ? 0 : 1] != N || b->dims[tb ? 1 : 0] != K) return -1;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const Value *c = &g->values[n->in[2]];
        if (c->kind != VAL_CONST || c->dtype != DT_F32 || ir_value_numel(c) != N || !pass_value_single_use(g, n->in[2]))
            return -1;
    }
    return p;
}

/* The head Gemm y = A B(^T) + C after the last pruned layer: X = [A of network (ii); 1] per row,
 * Y = A of network (i) times the original B (without C); the callback refits B and C. Nothing
 * after the head is needed. */
static int walk_head(Walk *w, int i, PruneSolveFn solve, void *solve_ctx, Diag *d)
{
    Graph *g = w->g;
    double t0 = prune_now();
    const Node *n = &g->nodes[i];
    int a = n->in[0];
    const Value *av = &g->values[a], *bv = &g->values[n->in[1]];
    int tb = ir_attr_int(n, "transB", 0) != 0;
    int hc = n->n_in > 2 && n->in[2] >= 0; /* the bias C is refit too */
    int64_t M = av->dims[0], K = av->dims[1], N = tb ? bv->dims[0] : bv->dims[1], nn = K + hc;
    double *W0 = xcalloc((size_t)(N * nn) + 1, sizeof(double));
    const float *bd = (const float *)bv->data;
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < K; k++) W0[o * nn + k] = (double)(tb ? bd[o * K + k] : bd[k * N + o]);
    double *G = xcalloc((size_t)(nn * nn) + 1, sizeof(double));
    double *YXt = xcalloc((size_t)(N * nn) + 1, sizeof(double));
    double *x = xmalloc((size_t)nn * sizeof(double) + 8), *xo = xmalloc((size_t)nn * sizeof(double) + 8);
    double *y = xmalloc((size_t)N * sizeof(double) + 8), yy = 0;
    for (int s = 0; s < w->S; s++) {
        int wr;
        const Tensor *to = walk_get(w, 0, s, a, &wr), *tp = walk_get(w, 1, s, a, &wr);
        for (int64_t m = 0; m < M; m++) {
            for (int64_t k = 0; k < K; k++) {
                xo[k] = (double)((const float *)to->data)[m * K + k];
                x[k] = (double)((const float *)tp->data)[m * K + k];
            }
            if (hc) x[K] = 1.0, xo[K] = 0.0;
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)nn, 1.0, W0, (int)nn, xo, 1, 0.0, y, 1);
            cblas_dsyr(CblasRowMajor, CblasUpper, (int)nn, 1.0, x, 1, G, (int)nn);
            cblas_dger(CblasRowMajor, (int)N, (int)nn, 1.0, y, 1, x, 1, YXt, (int)nn);
            for (int64_t o = 0; o < N; o++) yy += y[o] * y[o];
        }
    }
    for (int64_t r = 0; r < nn; r++)
        for (int64_t c = 0; c < r; c++) G[r * nn + c] = G[c * nn + r];
    PruneLayerData ld = {N, 0, nn, hc, G, YXt, yy, W0, prune_now() - t0};
    int rc = solve(solve_ctx, g, i, &ld, d);
    free(G), free(YXt), free(W0), free(x), free(xo), free(y);
    return rc;
}

int prune_data_run(Graph *g, const char *selected, const PruneOptions *o, uint64_t seed, PruneSolveFn solve,
                   void *solve_ctx, double *forward_seconds, Diag *d)
{
    *forward_seconds = 0.0;
    int last = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (selected[i]) last = i;
    if (last < 0) return 0;
    /* the classifier head is refit after the last pruned layer (pruned-network inputs only) */
    int head = o->head_fn && o->source == PRUNE_SOURCE_PRUNED ? prune_head_node(g) : -1;
    if (head >= 0 && head > last) last = head;
    else head = -1;

    Walk w;
    memset(&w, 0, sizeof w);
    w.g = g;
    w.o = o;
    w.S = o->samples ? o->samples : PRUNE_SAMPLES_NOISE;
    w.two = o->source == PRUNE_SOURCE_PRUNED;
    w.nv = g->n_values;
    /* nodes a selected layer depends on (backwards from the last one) */
    char *needed = xcalloc((size_t)g->n_nodes + 1, 1), *vneeded = xcalloc((size_t)w.nv + 1, 1);
    for (int i = last; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        int need = selected[i] != 0 || i == head;
        for (int k = 0; k < n->n_out && !need; k++) need = n->out[k] >= 0 && vneeded[n->out[k]];
        if (!need) continue;
        needed[i] = 1;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) vneeded[n->in[k]] = 1;
    }
    w.last_use = xmalloc(((size_t)w.nv + 1) * sizeof(int));
    for (int v = 0; v < w.nv; v++) w.last_use[v] = -1;
    for (int i = 0; i <= last; i++)
        for (int k = 0; needed[i] && k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) w.last_use[g->nodes[i].in[k]] = i;
    w.same = xcalloc((size_t)w.nv + 1, 1);
    w.vo = xcalloc((size_t)w.S * (size_t)w.nv + 1, sizeof(Tensor *));
    w.vp = w.two ? xcalloc((size_t)w.S * (size_t)w.nv + 1, sizeof(Tensor *)) : NULL;

    int rc = 0;
    for (int k = 0; k < g->n_inputs && !rc; k++) {
        int v = g->inputs[k];
        const Value *val = &g->values[v];
        if (!vneeded[v]) continue;
        if (!dtype_is_float(val->dtype)) {
            rc = diag_error(d, "prune: graph input '%s' has dtype %s; synthetic data is generated for float inputs only",
                            val->name, dtype_name(val->dtype));
            break;
        }
        w.same[v] = 1;
        for (int s = 0; s < w.S && !rc; s++) {
            Tensor *t = tensor_new(val->dtype, val->rank, val->dims);
            if (o->sample_fn)
                rc = o->sample_fn(o->sample_ctx, g, s, k, t, d);
            else
                prune_synthetic_sample(o, seed, s, k, t);
            *slot(&w, 0, s, v) = t;
        }
        if (!rc && o->save_fn) {
            Tensor **all = xcalloc((size_t)w.S + 1, sizeof(Tensor *));
            for (int s = 0; s < w.S; s++) all[s] = *slot(&w, 0, s, v);
            rc = o->save_fn(o->save_ctx, g, k, all, w.S, d);
            free(all);
        }
    }

    int threads = openblas_get_num_threads();
    prune_linalg_init(); /* one thread, and AVX2/AVX-512 kernels (prune.h) */
    for (int i = 0; i <= last && !rc; i++) {
        if (!needed[i]) continue;
        if (i == head) {
            rc = walk_head(&w, i, o->head_fn, o->head_ctx, d);
        } else if (selected[i]) {
            rc = walk_layer(&w, i, solve, solve_ctx, d);
        } else {
            double t0 = prune_now();
            rc = walk_node(&w, i, d);
            *forward_seconds += prune_now() - t0;
        }
        if (!rc) walk_release(&w, i);
    }
    openblas_set_num_threads(threads);

    for (int v = 0; v < w.nv; v++) walk_free_value(&w, v);
    free(needed), free(vneeded), free(w.last_use), free(w.same), free(w.vo), free(w.vp);
    return rc;
}
