/* prune_pass.c — pass "prune": data-free ADMM pattern pruning of 3x3 convolutions (issue #4;
 * method, defaults and measurements in docs/pruning.md). Options come from ctx->prune
 * (PruneOptions, prune_pass.h; defaults when NULL), the seed from ctx->seed.
 *
 *  1. Selection: every Conv that qualifies (prune_conv_eligible: 2-D 3x3 kernel, group 1, f32,
 *     a constant weight used by no other node, constant or no bias, no fused activation,
 *     residual or layout) except, by default, a conv reading a graph input of <= 3 channels
 *     (the image stem: few weights, most sensitive); --prune-first or --prune-layers=all
 *     include it, --prune-layers=NAME,... picks Convs by node or weight name.
 *  2. Pattern library, data-free: the K most frequent top-N magnitude masks over all kernels of
 *     the selected layers (prune_pattern_count / prune_pattern_library); one library per model.
 *  3. Synthetic data (prune_data.c), by default model inversion on the still unpruned graph
 *     (prune_data_invert: images the model itself classifies confidently; falls back to
 *     BatchNorm statistics or Gaussian inputs and says so), else --synthetic=gaussian|uniform.
 *     Per layer, in graph order: G and YXt from the synthetic data (prune_data.c), then
 *     prune_admm_layer (ADMM + hard prune + masked least-squares refit), or with
 *     --admm-iters 0 the magnitude projection prune_project (+ prune_refit unless --no-refit;
 *     --admm-iters 0 --no-refit needs no data at all and skips the synthetic propagation).
 *     With inverted data the walk then refits the classifier head (solve_head: ridge regression
 *     of the final Gemm's B and C towards the original weights, to the original logits on the
 *     pruned network's features; --classifier-ridge, --no-classifier-refit).
 *  4. Write-back: the pruned weights (and the refit bias, when the bias is the conv's own
 *     constant: X has a row of ones, the bias column is unconstrained) become NEW constants that
 *     keep the original value names (the old constants are renamed "<name>.dense"), so the names
 *     still match the ONNX initializers for --save-pruned. Weights outside a kernel's pattern
 *     and in removed kernels are exactly +0.0f.
 *  5. Metadata: attributes prune_patterns (ints: the K 9-bit masks, bit kh*3+kw) and prune_ids
 *     (i16 tensor [OC, IC]: pattern index, -1 = kernel removed) on each pruned Conv.
 * The result (library, per-layer statistics, replaced constants) goes to o->result when set and
 * is printed to o->stats (--stats).
 */
#include "passes/prune_pass.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double prune_pass_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- selection */

static int is_f32_const(const Graph *g, int vid) { return pass_value_is_const(g, vid) && g->values[vid].dtype == DT_F32; }

int prune_conv_eligible(const Graph *g, int node)
{
    static const char *const allowed[] = {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"};
    const Node *n = &g->nodes[node];
    if (n->dead || n->op != OP_CONV || n->n_in < 2 || n->n_in > 3 || n->n_out != 1 || n->out[0] < 0) return 0;
    for (int k = 0; k < n->n_attr; k++) {
        int ok = 0;
        for (size_t j = 0; j < sizeof allowed / sizeof allowed[0] && !ok; j++) ok = !strcmp(n->attrs[k].name, allowed[j]);
        if (!ok) return 0;
    }
    if (ir_attr_int(n, "group", 1) != 1) return 0;
    int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
    if (x < 0 || g->values[x].kind == VAL_CONST || !is_f32_const(g, w) || !pass_value_single_use(g, w)) return 0;
    const Value *xv = &g->values[x], *wv = &g->values[w], *yv = &g->values[n->out[0]];
    if (xv->dtype != DT_F32 || xv->rank != 4 || yv->dtype != DT_F32 || yv->rank != 4) return 0;
    if (wv->rank != 4 || wv->dims[2] != 3 || wv->dims[3] != 3 || wv->dims[0] < 1 || wv->dims[1] < 1) return 0;
    if (xv->dims[1] != wv->dims[1] || yv->dims[1] != wv->dims[0]) return 0;
    if (b >= 0 && (!is_f32_const(g, b) || ir_value_numel(&g->values[b]) != wv->dims[0])) return 0;
    return 1;
}

int prune_conv_bias_refit(const Graph *g, int node)
{
    const Node *n = &g->nodes[node];
    int b = n->n_in > 2 ? n->in[2] : -1;
    return b >= 0 && pass_value_single_use(g, b);
}

/* A conv reading a graph input of at most 3 channels (an image stem). */
static int is_stem_conv(const Graph *g, int node)
{
    const Value *x = &g->values[g->nodes[node].in[0]];
    return x->kind == VAL_INPUT && x->rank >= 2 && x->dims[1] <= 3;
}

static int select_layers(const Graph *g, const PruneOptions *o, char *sel, Diag *d)
{
    if (!o->layers || !strcmp(o->layers, "all")) {
        int all = o->layers != NULL || o->prune_first;
        for (int i = 0; i < g->n_nodes; i++) sel[i] = prune_conv_eligible(g, i) && (all || !is_stem_conv(g, i));
        return 0;
    }
    char *list = xstrdup(o->layers), *save = NULL;
    int rc = 0, items = 0;
    for (char *item = strtok_r(list, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        int found = 0, ok = 0;
        items++;
        for (int i = 0; i < g->n_nodes; i++) {
            const Node *n = &g->nodes[i];
            if (n->dead || n->op != OP_CONV) continue;
            int w = n->n_in > 1 ? n->in[1] : -1;
            if (strcmp(n->name, item) && (w < 0 || strcmp(g->values[w].name, item))) continue;
            found = 1;
            if (prune_conv_eligible(g, i)) {
                sel[i] = 1;
                ok = 1;
            }
        }
        if (!found)
            rc = diag_error(d, "--prune-layers: no Conv node or Conv weight is named '%s'", item);
        else if (!ok)
            rc = diag_error(d, "--prune-layers: Conv '%s' cannot be pruned (it needs a 2-D 3x3 kernel, group 1, f32, "
                               "its own constant weight and no fused activation)", item);
    }
    if (!rc && !items) rc = diag_error(d, "--prune-layers: '%s' names no Conv", o->layers);
    free(list);
    return rc;
}

/* ---------------------------------------------------------------- per-layer solve */

typedef struct PruneCtx {
    const PruneOptions *o;
    PatternLib lib;
    AdmmOptions admm;
    PruneResult *res;
} PruneCtx;

/* The conv's weights as W0 [OC x n] (bias column 0 when n > IC*9). */
static double *conv_w0(const Graph *g, int node, int64_t n)
{
    const Value *wv = &g->values[g->nodes[node].in[1]];
    int64_t oc = wv->dims[0], n9 = wv->dims[1] * 9;
    double *W0 = xcalloc((size_t)(oc * n) + 1, sizeof(double));
    for (int64_t o = 0; o < oc; o++)
        for (int64_t c = 0; c < n9; c++) W0[o * n + c] = (double)((const float *)wv->data)[o * n9 + c];
    return W0;
}

/* Give value vid's name to a new f32 constant holding data; the old value is renamed. */
static int replace_const(PruneCtx *c, Graph *g, int node, int k, const float *data)
{
    int old = g->nodes[node].in[k];
    char *name = xstrdup(g->values[old].name);
    ir_value_rename_suffix(g, old, ".dense");
    int rank = g->values[old].rank;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, g->values[old].dims, sizeof dims);
    int nv = ir_const_add(g, name, DT_F32, rank, dims, data);
    int *in = xmalloc((size_t)g->nodes[node].n_in * sizeof(int));
    memcpy(in, g->nodes[node].in, (size_t)g->nodes[node].n_in * sizeof(int));
    in[k] = nv;
    ir_node_set_inputs(g, node, g->nodes[node].n_in, in);
    free(in);
    PruneResult *r = c->res;
    r->changed = xrealloc(r->changed, (size_t)(r->n_changed + 1) * sizeof *r->changed);
    Tensor t = ir_value_tensor(g, nv);
    r->changed[r->n_changed].name = name;
    r->changed[r->n_changed].t = tensor_clone(&t);
    r->n_changed++;
    return nv;
}

/* Write W (pattern-constrained by ids) back into the node and record the layer. */
static void write_back(PruneCtx *c, Graph *g, int node, const double *W, int64_t n, int bias_col, const int16_t *ids,
                       const AdmmStats *st, int has_data, double data_seconds)
{
    const Value *wv = &g->values[g->nodes[node].in[1]];
    int64_t oc = wv->dims[0], ic = wv->dims[1];
    float *wf = xcalloc((size_t)(oc * ic * 9) + 1, sizeof(float));
    PruneLayerStats L;
    memset(&L, 0, sizeof L);
    L.node = xstrdup(g->nodes[node].name);
    L.weight = xstrdup(wv->name);
    L.oc = oc, L.ic = ic, L.total = oc * ic;
    for (int64_t o = 0; o < oc; o++)
        for (int64_t ch = 0; ch < ic; ch++) {
            int id = ids[o * ic + ch];
            if (id < 0) continue;
            L.kept++;
            L.hist[id]++;
            for (int t = 0; t < 9; t++)
                if ((c->lib.mask[id] >> t) & 1) wf[(o * ic + ch) * 9 + t] = (float)W[o * n + ch * 9 + t];
        }
    replace_const(c, g, node, 1, wf);
    free(wf);
    if (bias_col) {
        const Value *bv = &g->values[g->nodes[node].in[2]];
        float *bf = xmalloc((size_t)oc * sizeof(float) + 4);
        for (int64_t o = 0; o < oc; o++) bf[o] = (float)((double)((const float *)bv->data)[o] + W[o * n + ic * 9]);
        replace_const(c, g, node, 2, bf);
        free(bf);
    }
    int64_t masks[PRUNE_MAX_PATTERNS];
    for (int p = 0; p < c->lib.k; p++) masks[p] = c->lib.mask[p];
    ir_node_set_ints(g, node, "prune_patterns", masks, c->lib.k);
    int64_t idims[2] = {oc, ic};
    Tensor it;
    memset(&it, 0, sizeof it);
    it.dtype = DT_I16;
    it.rank = 2;
    memcpy(it.dims, idims, sizeof idims);
    it.data = (void *)ids;
    ir_node_set_tensor(g, node, "prune_ids", &it);

    L.has_data = has_data;
    L.bias_refit = bias_col;
    L.admm = *st;
    L.data_seconds = data_seconds;
    PruneResult *r = c->res;
    r->layers = xrealloc(r->layers, (size_t)(r->n_layers + 1) * sizeof *r->layers);
    r->layers[r->n_layers++] = L;
}

static double rel_err(const double *G, const double *YXt, double yy, const double *W, int64_t oc, int64_t n)
{
    if (!(yy > 0)) return 0.0;
    double e = prune_sq_error(G, YXt, yy, W, oc, n);
    return sqrt(e > 0 ? e / yy : 0.0);
}

/* PruneSolveFn: one layer with synthetic data. */
static int solve_layer(void *vctx, Graph *g, int node, const PruneLayerData *ld, Diag *d)
{
    PruneCtx *c = vctx;
    const PruneOptions *o = c->o;
    int64_t oc = ld->oc, ic = ld->ic, n = ld->n;
    double *W = xcalloc((size_t)(oc * n) + 1, sizeof(double));
    int16_t *ids = xcalloc((size_t)(oc * ic) + 1, sizeof(int16_t));
    AdmmStats st;
    memset(&st, 0, sizeof st);
    int rc = 0;
    if (c->admm.iters > 0) {
        rc = prune_admm_layer(ld->G, ld->YXt, ld->yy, ld->W0, oc, ic, n, &c->lib, o->connectivity, &c->admm, o->refit,
                              W, ids, &st, d);
    } else {
        double t0 = prune_pass_now();
        prune_project(ld->W0, oc, ic, n, &c->lib, o->connectivity, W, ids);
        st.err_dense = rel_err(ld->G, ld->YXt, ld->yy, ld->W0, oc, n);
        st.err_projected = rel_err(ld->G, ld->YXt, ld->yy, W, oc, n);
        if (o->refit) rc = prune_refit(ld->G, ld->YXt, oc, ic, n, &c->lib, ids, W, d);
        st.err_refit = o->refit ? rel_err(ld->G, ld->YXt, ld->yy, W, oc, n) : st.err_projected;
        st.seconds = prune_pass_now() - t0;
    }
    if (rc) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d->msg);
        diag_error(d, "prune: layer '%s': %s", g->nodes[node].name, msg);
    } else {
        write_back(c, g, node, W, n, ld->bias_col, ids, &st, 1, ld->seconds);
    }
    free(W), free(ids);
    return rc;
}

/* PruneSolveFn for the classifier head (ld->ic == 0; W0 [N x K(+1)], the bias column 0):
 * ridge regression towards the original weights, W = (YXt + eps W0)(G + eps I)^-1 with
 * eps = head_ridge * trace(G)/n; B (and C) are replaced. */
static int solve_head(void *vctx, Graph *g, int node, const PruneLayerData *ld, Diag *d)
{
    PruneCtx *c = vctx;
    int64_t N = ld->oc, n = ld->n, K = n - ld->bias_col;
    double tr = 0;
    for (int64_t k = 0; k < n; k++) tr += ld->G[k * n + k];
    double eps = c->o->head_ridge * (tr > 0 ? tr / (double)n : 1.0);
    if (!(eps > 0)) eps = 1e-12;
    double *W = xcalloc((size_t)(N * n) + 1, sizeof(double));
    int rc = prune_admm_w_update(ld->G, ld->YXt, ld->W0, eps, N, n, W, d);
    if (!rc) {
        c->res->head_err_dense = rel_err(ld->G, ld->YXt, ld->yy, ld->W0, N, n);
        c->res->head_err_refit = rel_err(ld->G, ld->YXt, ld->yy, W, N, n);
        c->res->head_seconds = ld->seconds;
        free(c->res->head_node);
        c->res->head_node = xstrdup(g->nodes[node].name);
        c->res->head_n = N, c->res->head_k = K;
        const Node *nd = &g->nodes[node];
        int tb = ir_attr_int(nd, "transB", 0) != 0;
        float *bf = xmalloc((size_t)(N * K) * sizeof(float) + 4);
        for (int64_t o = 0; o < N; o++)
            for (int64_t k = 0; k < K; k++) bf[tb ? o * K + k : k * N + o] = (float)W[o * n + k];
        replace_const(c, g, node, 1, bf);
        free(bf);
        if (ld->bias_col) {
            const Value *cv = &g->values[g->nodes[node].in[2]];
            float *cf = xmalloc((size_t)N * sizeof(float) + 4);
            for (int64_t o = 0; o < N; o++) cf[o] = (float)((double)((const float *)cv->data)[o] + W[o * n + K]);
            replace_const(c, g, node, 2, cf);
            free(cf);
        }
    } else {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d->msg);
        diag_error(d, "prune: classifier refit '%s': %s", g->nodes[node].name, msg);
    }
    free(W);
    return rc;
}

/* --admm-iters 0 --no-refit: magnitude projection of every selected layer, no data. */
static void project_only(PruneCtx *c, Graph *g, const char *sel)
{
    for (int i = 0; i < g->n_nodes; i++) {
        if (!sel[i]) continue;
        const Value *wv = &g->values[g->nodes[i].in[1]];
        int64_t oc = wv->dims[0], ic = wv->dims[1], n = ic * 9;
        double *W0 = conv_w0(g, i, n), *W = xcalloc((size_t)(oc * n) + 1, sizeof(double));
        int16_t *ids = xcalloc((size_t)(oc * ic) + 1, sizeof(int16_t));
        double t0 = prune_pass_now();
        prune_project(W0, oc, ic, n, &c->lib, c->o->connectivity, W, ids);
        AdmmStats st;
        memset(&st, 0, sizeof st);
        st.seconds = prune_pass_now() - t0;
        write_back(c, g, i, W, n, 0, ids, &st, 0, 0.0);
        free(W0), free(W), free(ids);
    }
}

/* ---------------------------------------------------------------- the pass */

/* PruneSampleFn over the inverted images (ctx: Tensor *[samples]; the model has one input). */
static int inverted_sample(void *ctx, const Graph *g, int sample, int input, Tensor *t, Diag *d)
{
    Tensor *const *images = ctx;
    const Tensor *src = images[sample];
    if (input != 0 || t->dtype != DT_F32 || tensor_numel(t) != tensor_numel(src))
        return diag_error(d, "prune: internal error: inverted image %d does not fit input %d", sample, input);
    memcpy(t->data, src->data, tensor_nbytes(src));
    return 0;
}

int pass_prune(Graph *g, PassContext *ctx, Diag *d)
{
    double t0 = prune_pass_now();
    PruneOptions dflt;
    const PruneOptions *o = ctx ? ctx->prune : NULL;
    if (!o) {
        prune_options_default(&dflt);
        o = &dflt;
    }
    if (prune_options_check(o, d)) return -1;
    PruneResult res;
    memset(&res, 0, sizeof res);
    PruneCtx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.res = &res;
    c.admm.iters = res.admm_iters = o->admm_iters;
    c.admm.rho = o->admm_rho;
    c.admm.rho_growth = 1.0; /* fixed rho: as accurate as a growing one on the example, and the
                                W-update's Cholesky factor is computed once per layer */
    c.admm.rho_every = 0;
    c.admm.tol = 1e-4;

    char *sel = xcalloc((size_t)g->n_nodes + 1, 1);
    int rc = select_layers(g, o, sel, d);
    if (!rc) {
        PatternCounts pc;
        prune_pattern_counts_init(&pc, o->pattern_size);
        for (int i = 0; i < g->n_nodes; i++)
            if (sel[i]) {
                const Value *wv = &g->values[g->nodes[i].in[1]];
                prune_pattern_count(&pc, (const float *)wv->data, wv->dims[0] * wv->dims[1]);
            }
        prune_pattern_library(&pc, o->patterns, &c.lib);
        res.lib = c.lib;
        int any = 0;
        for (int i = 0; i < g->n_nodes && !any; i++) any = sel[i];
        if (o->admm_iters == 0 && !o->refit) {
            project_only(&c, g, sel);
        } else if (any) {
            uint64_t seed = ctx ? ctx->seed : 1;
            PruneOptions lo = *o;
            Tensor **images = NULL;
            int invert = o->synthetic == PRUNE_SYNTH_INVERTED && !o->sample_fn, n_images = 0;
            if (!lo.samples) lo.samples = invert ? PRUNE_SAMPLES_INVERTED : PRUNE_SAMPLES_NOISE;
            res.synthetic = o->synthetic;
            if (invert) {
                rc = prune_data_invert(g, &lo, seed, &images, &res, d); /* before any layer changes */
                if (images) {
                    n_images = lo.samples;
                    lo.sample_fn = inverted_sample;
                    lo.sample_ctx = images;
                } else if (!o->samples) {
                    lo.samples = PRUNE_SAMPLES_NOISE; /* fell back to gaussian */
                }
                lo.synthetic = res.synthetic;
            }
            res.samples = lo.samples;
            if (images) c.admm.iters = res.admm_iters = o->admm_iters_inverted;
            if (o->head_ridge >= 0 && (images || o->sample_fn)) { /* on inverted or caller-supplied
                                                   images only: white noise says nothing about the
                                                   features the head sees on real inputs */
                lo.head_fn = solve_head;
                lo.head_ctx = &c;
            }
            if (!rc) rc = prune_data_run(g, sel, &lo, seed, solve_layer, &c, &res.forward_seconds, d);
            invert_images_free(images, n_images);
        }
    }
    free(sel);
    res.seconds = prune_pass_now() - t0;
    if (!rc && o->stats) prune_result_print(&res, o, o->stats);
    if (!rc && o->result) {
        prune_result_clear(o->result);
        *o->result = res;
    } else {
        prune_result_clear(&res);
    }
    return rc;
}
