/* invert.c — model inversion (invert.h): synthesise inputs from the model itself by Adam on the
 * input pixels, with gradients from the batched f32 engine (ir/grad.h GradPlan).
 *
 * Flow: pick the method (classifier head, else BatchNorm statistics, else Gaussian) ->
 * seeded Gaussian images -> for each batch of samples: `steps` Adam steps, each a forward pass
 * per sample, the loss gradient seeded at the logits (cross-entropy to the target class) and/or
 * at the inputs of the BatchNorm nodes (batch statistics vs running statistics), a backward pass,
 * the TV and L2 penalties' gradients added in pixel space, an Adam update and the optional clamp
 * into the input range -> a final forward pass measures self-agreement and the final loss.
 * With a coverage weight, each image also gets the gradient of its coverage term seeded at the
 * input of one 3x3 conv (invert_coverage_term). The conv and channel: drawn per image in the
 * first batch; with greedy coverage, the images of every later batch take the channels the
 * finished images excite least (invert_coverage_pick over their summed relative energies).
 * With resolution < 1 the Adam state lives on the low-resolution parameters: every step first
 * renders the inputs (bilinear upsampling), and the pixel gradient goes back through the
 * upsampling's adjoint.
 * Without a BatchNorm term every sample is independent, so forward and backward of a sample run
 * back to back (its activations stay in cache); with one, the batch's forward passes come first.
 */
#include "passes/invert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CURVE_EVERY = 10 };

/* A BatchNormalization node whose input depends on the synthesised input. */
typedef struct BnTarget {
    int node;
    int xv;               /* value id of the node's input X */
    int64_t n, c, s;      /* X is [n, c, s...] per sample */
    const double *mean;   /* running statistics (copies) */
    const double *var;
    double *bmean, *bvar; /* the current batch's statistics */
} BnTarget;

typedef struct InvertCtx {
    const Graph *g;
    const InvertOptions *o;
    InvertMethod method;
    GradPlan *plan;
    int64_t nx;           /* floats per sample */
    int rank;
    int64_t dims[IR_MAX_RANK];
    int rows;             /* images per sample (classifier rows) */
    int logits, classes;
    int nbn;
    BnTarget *bn;
    double bn_weight;
    float *work;          /* one sample's gradient before the jitter is undone */
    /* parametrisation: np floats per sample; with `scaled`, planes of ph x pw upsampled to H x W */
    int scaled;
    int64_t np, planes, H, W, ph, pw;
    int64_t *y0, *y1, *x0, *x1; /* source rows/columns of each output row/column */
    float *wy, *wx;             /* weight of y1 / x1 */
    float *tmp;                 /* [ph x W] between the two passes */
    float *gp;                  /* one sample's parameter gradient */
    /* coverage: the inputs of the 3x3 convs on the input's path (not the input itself) */
    int ncov;
    int *cov_v;                 /* value ids */
    int64_t *cov_n, *cov_c, *cov_s; /* [n, c, spatial...] per sample */
    int cov_total;              /* channels over all of them */
    double *cov_acc;            /* greedy: per channel, summed relative energy of finished images */
    int *cov_pick;              /* greedy: per sample, its channel (index into cov_acc), -1: drawn */
} InvertCtx;

/* ---------------------------------------------------------------- options */

void invert_options_default(InvertOptions *o)
{
    memset(o, 0, sizeof *o);
    o->method = INVERT_AUTO;
    o->samples = 256;
    o->steps = 300;
    o->batch = 64;
    o->lr = 0.05;
    o->tv_weight = 1.0;
    o->l2_weight = 0.5;
    o->l1_weight = 0;
    o->resolution = 1.0;
    o->bn_weight = 0;
    o->jitter = 2;
    o->coverage = 0;
    o->seed = 1;
    o->range_lo = 0;
    o->range_hi = 1;
}

int invert_options_check(const InvertOptions *o, Diag *d)
{
    if (o->method < INVERT_AUTO || o->method > INVERT_GAUSSIAN)
        return diag_error(d, "inversion: unknown method %d", (int)o->method);
    if (o->samples < 1) return diag_error(d, "inversion: samples must be >= 1 (is %d)", o->samples);
    if (o->steps < 0) return diag_error(d, "inversion: steps must be >= 0 (is %d)", o->steps);
    if (o->batch < 1) return diag_error(d, "inversion: batch must be >= 1 (is %d)", o->batch);
    if (!(o->lr > 0) || !isfinite(o->lr)) return diag_error(d, "inversion: learning rate must be > 0 (is %g)", o->lr);
    const double w[5] = {o->tv_weight, o->l2_weight, o->l1_weight, o->bn_weight, o->coverage};
    const char *wn[5] = {"tv weight", "l2 weight", "l1 weight", "bn weight", "coverage weight"};
    for (int i = 0; i < 5; i++)
        if (!(w[i] >= 0) || !isfinite(w[i])) return diag_error(d, "inversion: %s must be >= 0 (is %g)", wn[i], w[i]);
    if (!(o->resolution > 0 && o->resolution <= 1))
        return diag_error(d, "inversion: resolution must be in (0, 1] (is %g)", o->resolution);
    if (o->has_range && (!isfinite(o->range_lo) || !isfinite(o->range_hi) || !(o->range_lo < o->range_hi)))
        return diag_error(d, "inversion: input range [%g, %g] is empty", o->range_lo, o->range_hi);
    if (o->jitter < 0 || o->jitter > 1000) return diag_error(d, "inversion: jitter must be 0..1000 pixels (is %d)", o->jitter);
    if (o->input_index < 0 || o->output_index < 0) return diag_error(d, "inversion: negative input/output index");
    return 0;
}

const char *invert_method_name(InvertMethod m)
{
    switch (m) {
    case INVERT_CLASSIFIER: return "classifier";
    case INVERT_BN_STATS: return "bn_stats";
    case INVERT_GAUSSIAN: return "gaussian";
    default: return "auto";
    }
}

/* ---------------------------------------------------------------- detection */

int invert_find_classifier(const Graph *g, int output_index, int *logits_vid, int *classes, char *why, size_t n)
{
    if (output_index < 0 || output_index >= g->n_outputs) {
        snprintf(why, n, "the model has no output %d", output_index);
        return 0;
    }
    int y = g->outputs[output_index], p = g->values[y].producer;
    if (p < 0) {
        snprintf(why, n, "output '%s' is not computed by a node", g->values[y].name);
        return 0;
    }
    const Node *nd = &g->nodes[p];
    if (nd->op == OP_SOFTMAX || nd->op == OP_LOG_SOFTMAX) {
        const Value *v = &g->values[nd->in[0]];
        int64_t axis = ir_attr_int(nd, "axis", -1);
        if (v->rank != 2 || (axis != -1 && axis != 1)) {
            snprintf(why, n, "the final %s '%s' is not over the classes of a [N, classes] tensor", ir_op_name(nd->op),
                     nd->name);
            return 0;
        }
        y = nd->in[0];
        p = g->values[y].producer;
        if (p < 0) {
            snprintf(why, n, "the input of %s '%s' is not computed by a node", ir_op_name(nd->op), nd->name);
            return 0;
        }
        nd = &g->nodes[p];
    }
    const Value *v = &g->values[y];
    if (nd->op != OP_GEMM && nd->op != OP_MATMUL) {
        snprintf(why, n, "the last op %s '%s' is not a classifier (Gemm or MatMul)", ir_op_name(nd->op), nd->name);
        return 0;
    }
    if (ir_attr_str(nd, "activation", NULL)) {
        snprintf(why, n, "the last %s '%s' has a fused activation", ir_op_name(nd->op), nd->name);
        return 0;
    }
    if (v->dtype != DT_F32 || v->rank != 2 || v->dims[1] < 2) {
        char s[64];
        snprintf(why, n, "the last %s '%s' gives %s[%s], not f32 [N, classes >= 2]", ir_op_name(nd->op), nd->name,
                 dtype_name(v->dtype), shape_str(v->rank, v->dims, s, sizeof s));
        return 0;
    }
    *logits_vid = y;
    *classes = (int)v->dims[1];
    snprintf(why, n, "%s '%s' gives %d classes", ir_op_name(nd->op), nd->name, *classes);
    return 1;
}

/* BatchNormalization nodes on the input's path with constant running statistics. */
static int invert_find_bn(InvertCtx *c, int xv)
{
    const Graph *g = c->g;
    char *active = xcalloc((size_t)g->n_values + 1, 1);
    grad_active_values(g, xv, active);
    int cap = 0;
    for (int i = 0; i < g->n_nodes; i++) cap += g->nodes[i].op == OP_BATCH_NORM;
    c->bn = xcalloc((size_t)cap + 1, sizeof(BnTarget));
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op != OP_BATCH_NORM || n->n_in < 5) continue;
        const Value *x = &g->values[n->in[0]], *m = &g->values[n->in[3]], *v = &g->values[n->in[4]];
        if (!active[n->in[0]] || x->dtype != DT_F32 || x->rank < 2) continue;
        if (m->kind != VAL_CONST || v->kind != VAL_CONST || ir_value_numel(m) != x->dims[1] ||
            ir_value_numel(v) != x->dims[1])
            continue;
        BnTarget *b = &c->bn[c->nbn++];
        b->node = i;
        b->xv = n->in[0];
        b->n = x->dims[0], b->c = x->dims[1], b->s = shape_numel(x->rank - 2, x->dims + 2);
        double *mv = xmalloc((size_t)(4 * b->c) * sizeof(double) + 1);
        Tensor mt = ir_value_tensor(g, n->in[3]), vt = ir_value_tensor(g, n->in[4]);
        for (int64_t k = 0; k < b->c; k++) mv[k] = tensor_get_f64(&mt, k), mv[b->c + k] = tensor_get_f64(&vt, k);
        b->mean = mv, b->var = mv + b->c, b->bmean = mv + 2 * b->c, b->bvar = mv + 3 * b->c;
    }
    free(active);
    return c->nbn;
}

/* Coverage targets: the input of every 3x3 Conv on the input's path that is not the graph input
 * itself (the values whose statistics the prune pass fits), f32 of rank 4. */
static int invert_find_cover(InvertCtx *c, int xv)
{
    const Graph *g = c->g;
    char *active = xcalloc((size_t)g->n_values + 1, 1);
    grad_active_values(g, xv, active);
    c->cov_v = xmalloc((size_t)g->n_nodes * sizeof(int) + 1);
    c->cov_n = xmalloc((size_t)(3 * g->n_nodes) * sizeof(int64_t) + 1);
    c->cov_c = c->cov_n + g->n_nodes, c->cov_s = c->cov_c + g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op != OP_CONV || n->n_in < 2 || n->in[0] == xv || !active[n->in[0]]) continue;
        const Value *w = &g->values[n->in[1]], *x = &g->values[n->in[0]];
        if (w->rank != 4 || w->dims[2] != 3 || w->dims[3] != 3 || x->dtype != DT_F32 || x->rank != 4) continue;
        int k = c->ncov++;
        c->cov_v[k] = n->in[0];
        c->cov_n[k] = x->dims[0], c->cov_c[k] = x->dims[1], c->cov_s[k] = x->dims[2] * x->dims[3];
        c->cov_total += (int)x->dims[1];
    }
    free(active);
    return c->ncov;
}

/* Sum of squares of a[0 .. S-1], in double: a channel's energy (times S). */
static double invert_sumsq(const float *a, int64_t S)
{
    double e = 0;
    for (int64_t q = 0; q < S; q++) e += (double)a[q] * a[q];
    return e;
}

double invert_coverage_term(const float *a, int64_t C, int64_t S, int64_t k, double w, float *grad)
{
    double ek = 0, E = 0;
    for (int64_t ch = 0; ch < C; ch++) {
        double e = invert_sumsq(a + ch * S, S) / (double)S;
        E += e / (double)C;
        if (ch == k) ek = e;
    }
    if (!(E > 0) || k < 0 || k >= C) return 0;
    double r = ek / E, f = -w / (r + INVERT_COVERAGE_EPS);
    /* dr/da[ch][q] = ((ch == k) - r/C) * 2 a[ch][q] / (S E) */
    if (grad)
        for (int64_t ch = 0; ch < C; ch++) {
            double g = f * ((ch == k) - r / (double)C) * 2.0 / ((double)S * E);
            for (int64_t q = 0; q < S; q++) grad[ch * S + q] += (float)(g * a[ch * S + q]);
        }
    return -w * log(r + INVERT_COVERAGE_EPS);
}

typedef struct CoverKey {
    double acc;
    int q;
} CoverKey;

static int cover_key_cmp(const void *a, const void *b)
{
    const CoverKey *x = a, *y = b;
    return x->acc < y->acc ? -1 : x->acc > y->acc ? 1 : x->q - y->q;
}

void invert_coverage_pick(const double *acc, int total, int n, int *pick)
{
    if (total < 1) return;
    CoverKey *key = xmalloc((size_t)total * sizeof(CoverKey));
    for (int q = 0; q < total; q++) key[q].acc = acc[q], key[q].q = q;
    qsort(key, (size_t)total, sizeof(CoverKey), cover_key_cmp);
    for (int j = 0; j < n; j++) pick[j] = key[j % total].q;
    free(key);
}

/* ---------------------------------------------------------------- random numbers */

/* N(0, 1) by the polar method (deterministic everywhere). */
static double inv_gauss(uint64_t *s)
{
    for (;;) {
        double u = (double)(ir_rand_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
        double v = (double)(ir_rand_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
        double q = u * u + v * v;
        if (q > 0 && q < 1) return u * sqrt(-2.0 * log(q) / q);
    }
}

/* ---------------------------------------------------------------- losses */

/* Total variation (mean squared neighbour difference over the last two axes), L2 (mean square)
 * and L1 (mean absolute value) of one sample; their weighted gradients are added to gx. Returns
 * the weighted sum. */
static double invert_penalties(const InvertCtx *c, const float *x, float *gx)
{
    const InvertOptions *o = c->o;
    int64_t W = c->rank >= 1 ? c->dims[c->rank - 1] : 1, H = c->rank >= 2 ? c->dims[c->rank - 2] : 1;
    int64_t planes = c->nx / (H * W > 0 ? H * W : 1);
    double inv = 1.0 / (double)c->nx, tv = 0, l2 = 0, l1 = 0;
    if (o->tv_weight > 0) {
        float k = (float)(2.0 * o->tv_weight * inv);
        for (int64_t p = 0; p < planes; p++) {
            const float *xp = x + p * H * W;
            float *gp = gx + p * H * W;
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    int64_t a = i * W + j;
                    if (j + 1 < W) {
                        float dd = xp[a + 1] - xp[a];
                        tv += (double)dd * dd;
                        gp[a + 1] += k * dd, gp[a] -= k * dd;
                    }
                    if (i + 1 < H) {
                        float dd = xp[a + W] - xp[a];
                        tv += (double)dd * dd;
                        gp[a + W] += k * dd, gp[a] -= k * dd;
                    }
                }
        }
    }
    if (o->l2_weight > 0) {
        float k = (float)(2.0 * o->l2_weight * inv);
        for (int64_t i = 0; i < c->nx; i++) {
            l2 += (double)x[i] * x[i];
            gx[i] += k * x[i];
        }
    }
    if (o->l1_weight > 0) {
        float k = (float)(o->l1_weight * inv);
        for (int64_t i = 0; i < c->nx; i++) {
            l1 += fabs((double)x[i]);
            gx[i] += x[i] > 0 ? k : x[i] < 0 ? -k : 0.0f;
        }
    }
    return o->tv_weight * tv * inv + o->l2_weight * l2 * inv + o->l1_weight * l1 * inv;
}

/* ---------------------------------------------------------------- low-resolution parameters */

/* Source indices and weights of bilinear upsampling from n to N samples with half-pixel
 * centres: out[i] = (1 - w) in[i0] + w in[i1], src = (i + 0.5) n / N - 0.5 clamped at 0. */
static void invert_axis(int64_t n, int64_t N, int64_t *i0, int64_t *i1, float *w)
{
    for (int64_t i = 0; i < N; i++) {
        double src = ((double)i + 0.5) * (double)n / (double)N - 0.5;
        if (src < 0) src = 0;
        int64_t a = (int64_t)src;
        if (a > n - 1) a = n - 1;
        i0[i] = a;
        i1[i] = a + 1 < n ? a + 1 : a;
        w[i] = (float)(src - (double)a);
    }
}

/* Set up the parametrisation for resolution r (scaled only when it changes the plane size). */
static void invert_param_init(InvertCtx *c, double r)
{
    c->np = c->nx;
    if (c->rank < 2 || r >= 1) return;
    c->H = c->dims[c->rank - 2], c->W = c->dims[c->rank - 1];
    if (c->H < 1 || c->W < 1) return;
    c->planes = c->nx / (c->H * c->W);
    c->ph = (int64_t)floor(r * (double)c->H + 0.5), c->pw = (int64_t)floor(r * (double)c->W + 0.5);
    if (c->ph < 1) c->ph = 1;
    if (c->pw < 1) c->pw = 1;
    if (c->ph == c->H && c->pw == c->W) return;
    c->scaled = 1;
    c->np = c->planes * c->ph * c->pw;
    c->y0 = xmalloc((size_t)(2 * c->H + 2 * c->W) * sizeof(int64_t) + 1);
    c->y1 = c->y0 + c->H, c->x0 = c->y1 + c->H, c->x1 = c->x0 + c->W;
    c->wy = xmalloc((size_t)(c->H + c->W) * sizeof(float) + 1);
    c->wx = c->wy + c->H;
    invert_axis(c->ph, c->H, c->y0, c->y1, c->wy);
    invert_axis(c->pw, c->W, c->x0, c->x1, c->wx);
    c->tmp = xmalloc((size_t)(c->ph * c->W) * sizeof(float) + 1);
    c->gp = xmalloc((size_t)c->np * sizeof(float) + 1);
}

static void invert_param_free(InvertCtx *c)
{
    free(c->y0), free(c->wy), free(c->tmp), free(c->gp);
}

/* x (nx floats) = the input the parameters p (np floats) stand for. */
static void invert_render(InvertCtx *c, const float *p, float *x)
{
    if (!c->scaled) {
        if (x != p) memcpy(x, p, (size_t)c->nx * sizeof(float));
        return;
    }
    for (int64_t q = 0; q < c->planes; q++) {
        const float *pp = p + q * c->ph * c->pw;
        float *xp = x + q * c->H * c->W;
        for (int64_t i = 0; i < c->ph; i++)
            for (int64_t j = 0; j < c->W; j++) {
                const float *row = pp + i * c->pw;
                c->tmp[i * c->W + j] = (1 - c->wx[j]) * row[c->x0[j]] + c->wx[j] * row[c->x1[j]];
            }
        for (int64_t i = 0; i < c->H; i++) {
            const float *a = c->tmp + c->y0[i] * c->W, *b = c->tmp + c->y1[i] * c->W;
            for (int64_t j = 0; j < c->W; j++) xp[i * c->W + j] = (1 - c->wy[i]) * a[j] + c->wy[i] * b[j];
        }
    }
    if (c->o->has_range) {
        float lo = (float)c->o->range_lo, hi = (float)c->o->range_hi;
        for (int64_t i = 0; i < c->nx; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    }
}

/* c->gp = the gradient with respect to the parameters, from the input gradient gx and the
 * rendered input x: zero where the clamp into the range is active, then the adjoint of the
 * upsampling. gx is overwritten. */
static void invert_render_adjoint(InvertCtx *c, const float *x, float *gx)
{
    if (c->o->has_range) {
        float lo = (float)c->o->range_lo, hi = (float)c->o->range_hi;
        for (int64_t i = 0; i < c->nx; i++)
            if (!(x[i] > lo && x[i] < hi)) gx[i] = 0;
    }
    memset(c->gp, 0, (size_t)c->np * sizeof(float));
    for (int64_t q = 0; q < c->planes; q++) {
        const float *gq = gx + q * c->H * c->W;
        float *gpq = c->gp + q * c->ph * c->pw;
        memset(c->tmp, 0, (size_t)(c->ph * c->W) * sizeof(float));
        for (int64_t i = 0; i < c->H; i++) {
            float *a = c->tmp + c->y0[i] * c->W, *b = c->tmp + c->y1[i] * c->W;
            for (int64_t j = 0; j < c->W; j++) {
                a[j] += (1 - c->wy[i]) * gq[i * c->W + j];
                b[j] += c->wy[i] * gq[i * c->W + j];
            }
        }
        for (int64_t i = 0; i < c->ph; i++)
            for (int64_t j = 0; j < c->W; j++) {
                float g = c->tmp[i * c->W + j];
                gpq[i * c->pw + c->x0[j]] += (1 - c->wx[j]) * g;
                gpq[i * c->pw + c->x1[j]] += c->wx[j] * g;
            }
    }
}

/* Cross-entropy of each logits row against class (first + row) mod classes, averaged over the
 * rows; dL/dlogits added to seed (may be NULL). *agree counts rows whose argmax is the target. */
static double invert_ce(const InvertCtx *c, const float *z, int64_t first, float *seed, int *agree)
{
    double loss = 0;
    int K = c->classes;
    for (int r = 0; r < c->rows; r++) {
        const float *zr = z + (int64_t)r * K;
        int t = (int)((first + r) % K), arg = 0;
        double mx = zr[0], s = 0;
        for (int k = 1; k < K; k++)
            if (zr[k] > mx) mx = zr[k], arg = k;
        for (int k = 0; k < K; k++) s += exp((double)zr[k] - mx);
        loss += log(s) + mx - zr[t];
        if (agree && arg == t) ++*agree;
        if (seed)
            for (int k = 0; k < K; k++)
                seed[(int64_t)r * K + k] += (float)((exp((double)zr[k] - mx) / s - (k == t)) / c->rows);
    }
    return loss / c->rows;
}

/* Batch statistics of every BN target over slots [0, nb); returns the weighted term. */
static double invert_bn_stats(InvertCtx *c, int nb)
{
    double term = 0;
    for (int l = 0; l < c->nbn; l++) {
        BnTarget *b = &c->bn[l];
        double cnt = (double)nb * (double)b->n * (double)b->s;
        for (int64_t ch = 0; ch < b->c; ch++) {
            double s = 0, q = 0;
            for (int j = 0; j < nb; j++) {
                const float *x = grad_plan_value(c->plan, j, b->xv);
                for (int64_t im = 0; im < b->n; im++) {
                    const float *xp = x + (im * b->c + ch) * b->s;
                    for (int64_t k = 0; k < b->s; k++) s += xp[k];
                }
            }
            double m = s / cnt;
            for (int j = 0; j < nb; j++) {
                const float *x = grad_plan_value(c->plan, j, b->xv);
                for (int64_t im = 0; im < b->n; im++) {
                    const float *xp = x + (im * b->c + ch) * b->s;
                    for (int64_t k = 0; k < b->s; k++) q += (xp[k] - m) * (xp[k] - m);
                }
            }
            b->bmean[ch] = m;
            b->bvar[ch] = q / cnt;
            double dm = m - b->mean[ch], dv = b->bvar[ch] - b->var[ch];
            term += (dm * dm + dv * dv) / (double)b->c;
        }
    }
    return c->bn_weight * term;
}

/* Seed the BN term's gradient for the sample in slot j (batch of nb). */
static void invert_bn_seed(InvertCtx *c, int j, int nb)
{
    for (int l = 0; l < c->nbn; l++) {
        BnTarget *b = &c->bn[l];
        double cnt = (double)nb * (double)b->n * (double)b->s;
        const float *x = grad_plan_value(c->plan, j, b->xv);
        float *gs = grad_plan_seed(c->plan, b->xv);
        for (int64_t im = 0; im < b->n; im++)
            for (int64_t ch = 0; ch < b->c; ch++) {
                double m = b->bmean[ch], k = c->bn_weight * 2.0 / ((double)b->c * cnt);
                double dm = m - b->mean[ch], dv = b->bvar[ch] - b->var[ch];
                int64_t off = (im * b->c + ch) * b->s;
                for (int64_t s = 0; s < b->s; s++) gs[off + s] += (float)(k * (dm + 2.0 * dv * (x[off + s] - m)));
            }
    }
}

/* dst = src cyclically shifted by (dy, dx) along the last two axes (dst[i][j] = src[i-dy][j-dx]). */
static void invert_roll(const InvertCtx *c, const float *src, float *dst, int dy, int dx)
{
    int64_t W = c->rank >= 1 ? c->dims[c->rank - 1] : 1, H = c->rank >= 2 ? c->dims[c->rank - 2] : 1;
    int64_t planes = c->nx / (H * W > 0 ? H * W : 1);
    int64_t sy = ((dy % H) + H) % H, sx = ((dx % W) + W) % W;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < H; i++) {
            const float *sr = src + p * H * W + ((i - sy + H) % H) * W;
            float *dr = dst + p * H * W + i * W;
            memcpy(dr + sx, sr, (size_t)(W - sx) * sizeof(float));
            memcpy(dr, sr + W - sx, (size_t)sx * sizeof(float));
        }
}

/* The jitter of sample gs at step t: a shift in [-jitter, jitter]^2 from its own random stream
 * (independent of the batch size); none at step 0, so its loss and agreement are those of the
 * initial images. */
static void invert_shift(const InvertCtx *c, int64_t gs, int t, int *dy, int *dx)
{
    *dy = *dx = 0;
    int J = c->o->jitter;
    if (J <= 0 || t == 0) return;
    uint64_t s = c->o->seed ^ (0xA0761D6478BD642Full * (uint64_t)(gs + 1)) ^ (0xE7037ED1A0B428DBull * (uint64_t)(t + 1));
    *dy = (int)(ir_rand_next(&s) % (uint64_t)(2 * J + 1)) - J;
    *dx = (int)(ir_rand_next(&s) % (uint64_t)(2 * J + 1)) - J;
}

/* ---------------------------------------------------------------- the optimisation */

/* The coverage term of the sample in slot j (global index gs): for each of its images, one conv
 * input and one channel drawn from the sample's own random stream; gradients seeded. */
static double invert_cover(InvertCtx *c, int j, int64_t gs)
{
    uint64_t s = c->o->seed ^ (0x2545F4914F6CDD1Dull * (uint64_t)(gs + 1));
    ir_rand_next(&s);
    int l = (int)(ir_rand_next(&s) % (uint64_t)c->ncov);
    int64_t k = (int64_t)(ir_rand_next(&s) % (uint64_t)c->cov_c[l]);
    if (c->cov_pick && c->cov_pick[gs] >= 0) { /* greedy: channel q of all coverage values */
        int q = c->cov_pick[gs];
        for (l = 0; q >= c->cov_c[l]; l++) q -= (int)c->cov_c[l];
        k = q;
    }
    int64_t C = c->cov_c[l], S = c->cov_s[l], per = C * S;
    const float *a = grad_plan_value(c->plan, j, c->cov_v[l]);
    float *g = grad_plan_seed(c->plan, c->cov_v[l]);
    double L = 0;
    for (int64_t im = 0; im < c->cov_n[l]; im++)
        L += invert_coverage_term(a + im * per, C, S, k, c->o->coverage, g + im * per) / (double)c->cov_n[l];
    return L;
}

/* Greedy coverage: add the relative channel energies (e_c / mean e) of the sample in slot j
 * (after its forward pass) to cov_acc. */
static void invert_cover_acc(InvertCtx *c, int j)
{
    double *acc = c->cov_acc, *e = xmalloc((size_t)c->cov_total * sizeof(double)); /* C <= cov_total */
    for (int l = 0; l < c->ncov; l++) {
        int64_t C = c->cov_c[l], S = c->cov_s[l];
        const float *a = grad_plan_value(c->plan, j, c->cov_v[l]);
        for (int64_t im = 0; im < c->cov_n[l]; im++, a += C * S) {
            double E = 0;
            for (int64_t ch = 0; ch < C; ch++) {
                e[ch] = invert_sumsq(a + ch * S, S);
                E += e[ch] / (double)C;
            }
            for (int64_t ch = 0; ch < C && E > 0; ch++) acc[ch] += e[ch] / E;
        }
        acc += C;
    }
    free(e);
}

/* Loss and gradient of the sample in slot j (global sample index gs) after its forward pass on
 * its input shifted by (dy, dx): the backward gradient is shifted back into gx (dL/dx), then the
 * penalties of the unshifted x are added. */
static int invert_sample_grad(InvertCtx *c, int j, int64_t gs, int nb, const float *x, int dy, int dx, float *gx,
                              double *loss, int *agree, Diag *d)
{
    double L = 0;
    grad_plan_zero(c->plan);
    if (c->method == INVERT_CLASSIFIER) {
        const float *z = grad_plan_value(c->plan, j, c->logits);
        L += invert_ce(c, z, gs * c->rows, grad_plan_seed(c->plan, c->logits), agree);
    }
    if (c->nbn && c->bn_weight > 0) invert_bn_seed(c, j, nb);
    if (c->ncov) L += invert_cover(c, j, gs);
    float *gr = dy || dx ? c->work : gx;
    if (grad_plan_backward(c->plan, j, gr, d)) return -1;
    if (gr != gx) invert_roll(c, gr, gx, -dy, -dx);
    L += invert_penalties(c, x, gx);
    *loss = L;
    return 0;
}

/* One Adam step on n parameters x (gradient gx), then the clamp into the range (for pixels;
 * low-resolution parameters are free: their rendering is clamped). */
static void invert_adam(const InvertCtx *c, int64_t n, float *x, const float *gx, float *m, float *v, int t)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1.0 / (1.0 - pow(b1, t)), c2 = 1.0 / (1.0 - pow(b2, t));
    float lr = (float)c->o->lr;
    for (int64_t i = 0; i < n; i++) {
        float g = gx[i];
        m[i] = (float)(b1 * m[i] + (1 - b1) * g);
        v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g * g);
        x[i] -= lr * (float)((m[i] * c1) / (sqrt(v[i] * c2) + eps));
    }
    if (c->o->has_range && !c->scaled) {
        float lo = (float)c->o->range_lo, hi = (float)c->o->range_hi;
        for (int64_t i = 0; i < n; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    }
}

/* Optimise samples [s0, s0 + nb) (ps: their parameters, np floats each; the pixels themselves
 * unless scaled). curve[k] accumulates loss sums. */
static int invert_batch(InvertCtx *c, float *ps, int64_t s0, int nb, double *curve, int *init_agree, Diag *d)
{
    const InvertOptions *o = c->o;
    int steps = o->steps, two_phase = c->nbn && c->bn_weight > 0;
    int64_t nx = c->nx, np = c->np;
    float *m = xcalloc((size_t)(nb * np) + 1, sizeof(float));
    float *v = xcalloc((size_t)(nb * np) + 1, sizeof(float));
    float *xs = c->scaled ? xmalloc((size_t)(nb * nx) * sizeof(float) + 1) : ps; /* the inputs */
    float *xr = xmalloc((size_t)(nb * nx) * sizeof(float) + 1); /* shifted inputs */
    float *gx = xmalloc((size_t)nx * sizeof(float) + 1);
    int *sh = xcalloc((size_t)(2 * nb) + 1, sizeof(int));
    int rc = -1;
    for (int t = 0; t < steps; t++) {
        double lsum = 0;
        for (int j = 0; j < nb; j++) {
            if (c->scaled) invert_render(c, ps + j * np, xs + j * nx);
            invert_shift(c, s0 + j, t, &sh[2 * j], &sh[2 * j + 1]);
            if (sh[2 * j] || sh[2 * j + 1]) invert_roll(c, xs + j * nx, xr + j * nx, sh[2 * j], sh[2 * j + 1]);
        }
        if (two_phase) {
            for (int j = 0; j < nb; j++) {
                const float *in = sh[2 * j] || sh[2 * j + 1] ? xr + j * nx : xs + j * nx;
                if (grad_plan_forward(c->plan, j, in, d)) goto out;
            }
            lsum += invert_bn_stats(c, nb);
        }
        for (int j = 0; j < nb; j++) {
            float *x = xs + j * nx;
            const float *in = sh[2 * j] || sh[2 * j + 1] ? xr + j * nx : x;
            int slot = two_phase ? j : 0; /* independent samples share one slot */
            double L;
            if (!two_phase && grad_plan_forward(c->plan, slot, in, d)) goto out;
            if (invert_sample_grad(c, slot, s0 + j, nb, x, sh[2 * j], sh[2 * j + 1], gx, &L,
                                   t == 0 ? init_agree : NULL, d))
                goto out;
            lsum += L;
            if (c->scaled) {
                invert_render_adjoint(c, x, gx);
                invert_adam(c, np, ps + j * np, c->gp, m + j * np, v + j * np, t + 1);
            } else {
                invert_adam(c, nx, x, gx, m + j * nx, v + j * nx, t + 1);
            }
        }
        if (t % CURVE_EVERY == 0) curve[t / CURVE_EVERY] += lsum;
    }
    rc = 0;
out:
    free(m), free(v), free(xr), free(gx), free(sh);
    if (xs != ps) free(xs);
    return rc;
}

/* Final pass over a batch (ps: parameters): loss (into *lsum) and self-agreement (into *agree). */
static int invert_final(InvertCtx *c, const float *ps, int64_t s0, int nb, double *lsum, int *agree, Diag *d)
{
    float *gx = xmalloc((size_t)c->nx * sizeof(float) + 1);
    float *xs = xmalloc((size_t)(nb * c->nx) * sizeof(float) + 1);
    int rc = -1, two_phase = c->nbn && c->bn_weight > 0;
    for (int j = 0; j < nb; j++) invert_render(c, ps + j * c->np, xs + j * c->nx);
    if (two_phase) {
        for (int j = 0; j < nb; j++)
            if (grad_plan_forward(c->plan, j, xs + j * c->nx, d)) goto out;
        *lsum += invert_bn_stats(c, nb);
    }
    for (int j = 0; j < nb; j++) {
        int slot = two_phase ? j : 0;
        double L;
        if (!two_phase && grad_plan_forward(c->plan, slot, xs + j * c->nx, d)) goto out;
        if (c->cov_acc) invert_cover_acc(c, slot);
        if (invert_sample_grad(c, slot, s0 + j, nb, xs + j * c->nx, 0, 0, gx, &L, agree, d)) goto out;
        *lsum += L;
    }
    rc = 0;
out:
    free(gx), free(xs);
    return rc;
}

static double inv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void invert_images_free(Tensor **images, int n)
{
    if (!images) return;
    for (int i = 0; i < n; i++) tensor_free(images[i]);
    free(images);
}

void invert_stats_free(InvertStats *s)
{
    if (!s) return;
    free(s->curve);
    s->curve = NULL;
    s->n_curve = 0;
}

int invert_synthesize(const Graph *g, const InvertOptions *opt, Tensor ***images, InvertStats *stats, Diag *d)
{
    double t0 = inv_now();
    *images = NULL;
    InvertStats local;
    InvertStats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    st->self_agreement = st->init_agreement = -1;
    st->curve_every = CURVE_EVERY;
    if (invert_options_check(opt, d)) return -1;
    if (opt->input_index >= g->n_inputs)
        return diag_error(d, "inversion: input index %d out of range (the model has %d inputs)", opt->input_index,
                          g->n_inputs);
    if (g->n_inputs != 1)
        return diag_error(d, "inversion: the model has %d inputs; model inversion needs exactly one", g->n_inputs);
    int xv = g->inputs[opt->input_index];
    const Value *xval = &g->values[xv];
    if (xval->dtype != DT_F32)
        return diag_error(d, "inversion: input '%s' is %s; model inversion needs f32", xval->name,
                          dtype_name(xval->dtype));

    InvertCtx c = {.g = g, .o = opt, .logits = -1, .rows = 1};
    int rc = -1;
    float *xs = NULL;
    c.nx = ir_value_numel(xval);
    c.rank = xval->rank;
    memcpy(c.dims, xval->dims, sizeof c.dims);
    char why[200];
    int is_cls = invert_find_classifier(g, opt->output_index, &c.logits, &c.classes, why, sizeof why);
    if (is_cls) {
        /* one row of scores per input, or one per image of a batched input [N, ...] */
        int64_t r = g->values[c.logits].dims[0];
        if (r != 1 && (xval->rank < 2 || xval->dims[0] != r)) {
            snprintf(why, sizeof why, "the scores have %lld rows for an input of %lld", (long long)r,
                     (long long)(xval->rank ? xval->dims[0] : 1));
            is_cls = 0;
        }
        c.rows = (int)r;
    }
    int nbn = invert_find_bn(&c, xv);
    InvertMethod m = opt->method;
    if (m == INVERT_AUTO) m = is_cls ? INVERT_CLASSIFIER : nbn ? INVERT_BN_STATS : INVERT_GAUSSIAN;
    if (m == INVERT_CLASSIFIER && !is_cls) {
        diag_error(d, "inversion: no classifier head: %s", why);
        goto fail_early;
    }
    if (m == INVERT_BN_STATS && !nbn) {
        diag_error(d, "inversion: no BatchNormalization node on the input's path to match");
        goto fail_early;
    }
    c.method = m;
    c.bn_weight = m == INVERT_BN_STATS ? 1.0 : m == INVERT_CLASSIFIER ? opt->bn_weight : 0;
    if (c.bn_weight == 0) c.nbn = 0;
    st->method = m;
    st->classes = m == INVERT_CLASSIFIER ? c.classes : 0;
    st->bn_nodes = c.nbn;
    if (m == INVERT_CLASSIFIER)
        snprintf(st->note, sizeof st->note, "classifier: %s%s", why, c.nbn ? ", plus BatchNorm statistics" : "");
    else if (m == INVERT_BN_STATS)
        snprintf(st->note, sizeof st->note, "BatchNorm statistics of %d node%s (%s)", c.nbn, c.nbn == 1 ? "" : "s",
                 is_cls ? "forced" : why);
    else
        snprintf(st->note, sizeof st->note, "Gaussian inputs (%s%s)", is_cls || nbn ? "forced; " : "",
                 is_cls ? why : nbn ? "BatchNorm present" : why);

    /* initial images (their parameters: the pixels, or the low-resolution planes) */
    int S = opt->samples;
    invert_param_init(&c, opt->resolution);
    xs = xmalloc((size_t)(S * c.np) * sizeof(float) + 1);
    double mu = opt->has_range ? 0.5 * (opt->range_lo + opt->range_hi) : 0.0;
    double sigma = opt->has_range ? 0.25 * (opt->range_hi - opt->range_lo) : 1.0;
    uint64_t rng = opt->seed ^ 0x1D8E4E27C47D124Full;
    for (int64_t i = 0; i < S * c.np; i++) {
        double val = mu + sigma * inv_gauss(&rng);
        if (opt->has_range && !c.scaled) /* low-resolution parameters are free (their rendering is clamped) */
            val = val < opt->range_lo ? opt->range_lo : val > opt->range_hi ? opt->range_hi : val;
        xs[i] = (float)val;
    }

    if (m != INVERT_GAUSSIAN) {
        if (m == INVERT_CLASSIFIER && opt->coverage > 0) invert_find_cover(&c, xv);
        st->cover_values = c.ncov;
        int nt = 0, *targets = xmalloc((size_t)(c.nbn + c.ncov + 1) * sizeof(int));
        if (m == INVERT_CLASSIFIER) targets[nt++] = c.logits;
        for (int l = 0; l < c.nbn; l++) targets[nt++] = c.bn[l].xv;
        for (int l = 0; l < c.ncov; l++) targets[nt++] = c.cov_v[l];
        if (c.ncov && opt->coverage_greedy) {
            c.cov_acc = xcalloc((size_t)c.cov_total, sizeof(double));
            c.cov_pick = xmalloc((size_t)S * sizeof(int));
            for (int i = 0; i < S; i++) c.cov_pick[i] = -1;
        }
        int batch = opt->batch < S ? opt->batch : S;
        /* without a batch statistic every sample runs forward and backward back to back in one
         * slot; with one, a batch's forward passes must all be kept */
        c.plan = grad_plan_new(g, NULL, opt->input_index, targets, nt, c.nbn && c.bn_weight > 0 ? batch : 1, d);
        c.work = xmalloc((size_t)c.nx * sizeof(float) + 1);
        free(targets);
        if (!c.plan) goto out;
        grad_plan_info(c.plan, &st->plan);
        int ncurve = (opt->steps + CURVE_EVERY - 1) / CURVE_EVERY + 1;
        st->curve = xcalloc((size_t)ncurve, sizeof(double));
        st->n_curve = ncurve;
        int agree0 = 0, agree = 0;
        for (int64_t s0 = 0; s0 < S; s0 += batch) {
            int nb = S - s0 < batch ? (int)(S - s0) : batch;
            if (c.cov_acc && s0 > 0) invert_coverage_pick(c.cov_acc, c.cov_total, nb, c.cov_pick + s0);
            if (invert_batch(&c, xs + s0 * c.np, s0, nb, st->curve, &agree0, d)) goto out;
            if (invert_final(&c, xs + s0 * c.np, s0, nb, &st->curve[ncurve - 1], &agree, d)) goto out;
        }
        for (int k = 0; k < ncurve; k++) st->curve[k] /= S;
        if (m == INVERT_CLASSIFIER) {
            double total = (double)S * c.rows;
            st->self_agreement = agree / total;
            st->init_agreement = opt->steps > 0 ? agree0 / total : st->self_agreement;
        }
    }
    Tensor **imgs = xcalloc((size_t)S, sizeof(Tensor *));
    for (int s = 0; s < S; s++) {
        imgs[s] = tensor_new(DT_F32, c.rank, c.dims);
        invert_render(&c, xs + s * c.np, (float *)imgs[s]->data);
    }
    *images = imgs;
    rc = 0;
out:
    free(xs);
    invert_param_free(&c);
    free(c.work);
    free(c.cov_v), free(c.cov_n), free(c.cov_acc), free(c.cov_pick);
    grad_plan_free(c.plan);
fail_early:
    for (int l = 0; l < nbn; l++) free((void *)c.bn[l].mean);
    free(c.bn);
    st->seconds = inv_now() - t0;
    if (rc) invert_stats_free(st);
    if (!stats) invert_stats_free(&local);
    return rc;
}
