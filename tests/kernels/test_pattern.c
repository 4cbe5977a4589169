/* test_pattern.c — pattern-sparse convolution end to end below the compiler: the pass
 * pattern-group (passes/pattern_group.c), the reference semantics of PatternPad/PatternConv
 * (ir/pattern.c) and the native kernels (codegen/kernels/pattern.h, compiled natively with
 * -O3 -march=native) through their lowering (codegen/lower_pattern.c).
 *
 * Each case builds x -> Conv (random pattern-sparse weights with the prune pass's metadata
 * prune_patterns/prune_ids, bias) [-> Add(residual input)] [-> Relu] -> y, runs the interpreter
 * on it (the reference), then the code-generation passes up to pattern-group (forced sparse,
 * optionally a forced tile) and checks that
 *   1. the Conv became PatternPad + PatternConv,
 *   2. the interpreter on the rewritten graph gives the reference result,
 *   3. every PatternPad / PatternConv run natively (the kernel the lowering names, over the work
 *      items in random chunks, as threads would) gives what the interpreter gives for that node
 *      (PatternPad exactly; PatternConv within 1e-5 of the output's scale: the kernel sums in
 *      float, the interpreter in double).
 * Cases: resnet-like layers, strides 1 and 2, paddings 0..2 and asymmetric, dilation 2, a 5x5
 * kernel, channel counts that are not multiples of 16, plain (< 16 channels) and blocked input,
 * tiny (1x1, 2x3) and wide (5x70) images, batch 2, kernels removed (connectivity), filters with
 * no kernels, every compiled tile, every pattern of a 3x3 kernel with N = 1..9, residual, Relu.
 * Chains where a dense conv consumes the pruned one: filter-reorder must permute the filters
 * and fold the permutation into the consumer, with unchanged results.
 * And: a pruned conv whose weights are not zero outside its patterns stays dense.
 * A standalone Check program: test_pattern [-v].
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/pattern_lookup.h"
#include "codegen/lowering.h"
#include "ir/ir.h"
#include "passes/passes.h"

int cg_lower_pattern_pad(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);
int cg_lower_pattern_conv(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);

static int verbose;
/* native PatternConv calls whose lowering built groups of G kernels sharing their input loads
 * (n_sized[G-1]) / grouped blocks of filters (parsed from the call's note): the tests below check
 * every path of the kernel ran */
static int n_sized[KPAT_GMAX], n_grouped, n_banded;

static uint64_t rng_next(uint64_t *s) { return ir_rand_next(s); }
static float rng_unif(uint64_t *s) { return (float)((double)(rng_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0); }
static int rng_int(uint64_t *s, int lo, int hi) { return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1)); }

typedef struct Case {
    int64_t n, c, h, w, m, kh, kw, s, d;
    int64_t pads[4];   /* top, left, bottom, right */
    int k, nt;         /* patterns and taps per pattern */
    double conn;       /* fraction of kernels removed */
    int empty_filters; /* filters 0, 3, 6, ... have no kernels */
    int residual, relu;
    int tile[3];       /* forced tile or {0,0,0} */
    int dirty;         /* a nonzero weight outside its pattern: must stay dense */
    int chain;         /* a dense 3x3 conv consumes the output: filter-reorder folds into it */
    int og;            /* blocks of 16 filters per work item instead of the pass's choice (as --tune's
                          wide accumulator budget gives), or 0 */
    int shift_copies;  /* rewrite the copies to one per (phase, shift): the layout before 2026-11-27 */
} Case;

static Case layer(int64_t c, int64_t m, int64_t hw, int64_t s)
{
    Case k = {.n = 1, .c = c, .h = hw, .w = hw, .m = m, .kh = 3, .kw = 3, .s = s, .d = 1, .pads = {1, 1, 1, 1},
              .k = 8, .nt = 4};
    return k;
}

static void case_str(const Case *c, char *b, size_t n)
{
    snprintf(b, n,
             "%sN%lld C%lld %lldx%lld M%lld k%lldx%lld s%lld d%lld pads %lld,%lld,%lld,%lld K%d NT%d conn %.2f%s%s%s "
             "tile %d,%d,%d og %d",
             c->chain ? "chain " : "", (long long)c->n, (long long)c->c, (long long)c->h, (long long)c->w, (long long)c->m, (long long)c->kh,
             (long long)c->kw, (long long)c->s, (long long)c->d, (long long)c->pads[0], (long long)c->pads[1],
             (long long)c->pads[2], (long long)c->pads[3], c->k, c->nt, c->conn, c->empty_filters ? " empty" : "",
             c->residual ? " res" : "", c->relu ? " relu" : "", c->tile[0], c->tile[1], c->tile[2], c->og);
}

/* K distinct random masks of NT taps of a kh x kw kernel. */
static void random_masks(uint64_t *rs, int kk, int k, int nt, int64_t *masks)
{
    for (int i = 0; i < k; i++) {
        int64_t m;
        int dup;
        do {
            m = 0;
            while (__builtin_popcountll((unsigned long long)m) < nt) m |= (int64_t)1 << rng_int(rs, 0, kk - 1);
            dup = 0;
            for (int j = 0; j < i; j++) dup |= masks[j] == m;
        } while (dup);
        masks[i] = m;
    }
}

static Graph *build(const Case *c, uint64_t *rs)
{
    const int kk = (int)(c->kh * c->kw);
    Graph *g = ir_graph_new("pattern");
    int64_t xd[4] = {c->n, c->c, c->h, c->w}, wd[4] = {c->m, c->c, c->kh, c->kw}, bd[1] = {c->m};
    int x = ir_value_add(g, "x", DT_F32, 4, xd);
    ir_graph_add_input(g, x);
    int64_t masks[16];
    random_masks(rs, kk, c->k, c->nt, masks);
    float *w = xcalloc((size_t)(c->m * c->c * kk), sizeof(float)), *b = xmalloc((size_t)c->m * sizeof(float));
    int16_t *ids = xmalloc((size_t)(c->m * c->c) * sizeof(int16_t));
    for (int64_t m = 0; m < c->m; m++) {
        b[m] = rng_unif(rs);
        for (int64_t ch = 0; ch < c->c; ch++) {
            int id = rng_int(rs, 0, c->k - 1);
            if ((c->empty_filters && m % 3 == 0) || (double)(rng_next(rs) >> 11) / 9007199254740992.0 < c->conn)
                id = -1;
            ids[m * c->c + ch] = (int16_t)id;
            for (int t = 0; t < kk; t++)
                if (id >= 0 && masks[id] >> t & 1) w[(m * c->c + ch) * kk + t] = rng_unif(rs);
        }
    }
    if (c->dirty) w[kk / 2] = w[kk / 2] == 0 ? 0.5f : w[kk / 2], w[0] += 0.25f, ids[0] = 0;
    int wv = ir_const_add(g, "w", DT_F32, 4, wd, w), bv = ir_const_add(g, "b", DT_F32, 1, bd, b);
    int y = ir_value_add(g, "conv_out", DT_UNDEF, 0, NULL);
    int in[3] = {x, wv, bv};
    int cn = ir_node_add(g, OP_CONV, "conv", 3, in, 1, &y);
    int64_t st[2] = {c->s, c->s}, dl[2] = {c->d, c->d};
    ir_node_set_ints(g, cn, "strides", st, 2);
    ir_node_set_ints(g, cn, "dilations", dl, 2);
    ir_node_set_ints(g, cn, "pads", c->pads, 4);
    ir_node_set_ints(g, cn, "prune_patterns", masks, c->k);
    int64_t idd[2] = {c->m, c->c};
    Tensor *it = tensor_wrap(DT_I16, 2, idd, ids);
    ir_node_set_tensor(g, cn, "prune_ids", it);
    free(it);
    Diag d = {{0}};
    if (ir_infer_node(g, cn, &d)) fprintf(stderr, "build: %s\n", d.msg);
    IR_ASSERT(!d.msg[0]);
    if (c->residual) {
        const Value *yv = &g->values[y];
        int r = ir_value_add(g, "r", DT_F32, yv->rank, yv->dims);
        ir_graph_add_input(g, r);
        int s = ir_value_add(g, "sum", DT_UNDEF, 0, NULL);
        int ain[2] = {y, r};
        int an = ir_node_add(g, OP_ADD, "add", 2, ain, 1, &s);
        IR_ASSERT(!ir_infer_node(g, an, &d));
        y = s;
    }
    if (c->relu) {
        int o = ir_value_add(g, "relu_out", DT_UNDEF, 0, NULL);
        int rn = ir_node_add(g, OP_RELU, "relu", 1, &y, 1, &o);
        IR_ASSERT(!ir_infer_node(g, rn, &d));
        y = o;
    }
    if (c->chain) {
        int64_t w2d[4] = {8, c->m, 3, 3};
        float *w2 = xmalloc((size_t)(8 * c->m * 9) * sizeof(float));
        for (int64_t k = 0; k < 8 * c->m * 9; k++) w2[k] = rng_unif(rs);
        int w2v = ir_const_add(g, "w2", DT_F32, 4, w2d, w2);
        free(w2);
        int o = ir_value_add(g, "conv2_out", DT_UNDEF, 0, NULL);
        int in2[2] = {y, w2v};
        int c2 = ir_node_add(g, OP_CONV, "conv2", 2, in2, 1, &o);
        int64_t p1[4] = {1, 1, 1, 1};
        ir_node_set_ints(g, c2, "pads", p1, 4);
        IR_ASSERT(!ir_infer_node(g, c2, &d));
        y = o;
    }
    ir_graph_add_output(g, y);
    free(w), free(b), free(ids);
    return g;
}

/* max |a - b| over n floats, and max |b| */
static double max_err(const float *a, const float *b, int64_t n, double *scale)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - (double)b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    *scale = s;
    return e;
}

/* Run node i natively (the lowering's kernel, random chunks) on the interpreter's input tensors
 * and compare with the interpreter's outputs `want`. Returns failures. */
static int native_node(const Graph *g, int i, Tensor **vals, const Tensor *want, uint64_t *rs, const char *desc)
{
    const Node *n = &g->nodes[i];
    CgTarget tg = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1};
    CgKernelCall call;
    Diag d = {{0}};
    int rc = n->op == OP_PATTERN_PAD ? cg_lower_pattern_pad(g, n, &tg, &call, &d) : cg_lower_pattern_conv(g, n, &tg, &call, &d);
    if (rc != 1) {
        fprintf(stderr, "FAIL %s: %s not lowered (%d: %s)\n", desc, n->name, rc, d.msg);
        return 1;
    }
    if (n->op == OP_PATTERN_CONV) {
        const char *q = strrchr(call.note, ',');
        while (q && q > call.note && q[-1] != ',') q--; /* ", B blocks/item, groups of 4/3/2/1 kernels a/b/c/d" */
        int og = 0;
        long long gs[4] = {0};
        if (q && sscanf(q, " %d blocks/item, groups of 4/3/2/1 kernels %lld/%lld/%lld/%lld", &og, &gs[3], &gs[2],
                        &gs[1], &gs[0]) == 5) {
            n_grouped += og > 1;
            for (int G = 0; G < KPAT_GMAX; G++) n_sized[G] += gs[G] > 0;
        }
    }
    KPatRangeFn fn = kpat_find_range(call.range_fn);
    if (!fn) {
        fprintf(stderr, "FAIL %s: no kernel %s\n", desc, call.range_fn);
        cg_call_free(&call);
        return 1;
    }
    Tensor *out = tensor_new(want->dtype, want->rank, want->dims);
    /* garbage in the output: the kernel must write every element */
    for (int64_t k = 0; k < ir_value_numel(&g->values[n->out[0]]); k++) ((float *)out->data)[k] = 1e30f;
    void *bufs[CG_MAX_BUFS];
    for (int b = 0; b < call.n_bufs; b++) {
        const CgBuf *cb = &call.bufs[b];
        if (cb->kind == CG_BUF_NONE) bufs[b] = NULL;
        else if (cb->kind == CG_BUF_BLOB) bufs[b] = call.blobs[cb->blob];
        else bufs[b] = cb->value == n->out[0] ? out->data : vals[cb->value]->data;
    }
    for (int64_t b0 = 0; b0 < call.n_work;) {
        int64_t e = b0 + rng_int(rs, 1, 7);
        if (e > call.n_work) e = call.n_work;
        fn(call.params, bufs, b0, e);
        b0 = e;
    }
    double scale, err = max_err(out->data, want->data, ir_value_numel(&g->values[n->out[0]]), &scale);
    double tol = n->op == OP_PATTERN_PAD ? 0 : 1e-5 * fmax(scale, 1.0);
    int fail = !(err <= tol);
    if (fail || verbose)
        fprintf(stderr, "%s %s: %s native %s: max err %.3g (tol %.3g) [%s]\n", fail ? "FAIL" : "ok  ", desc,
                ir_op_name(n->op), call.range_fn, err, tol, call.note);
    tensor_free(out);
    cg_call_free(&call);
    return fail;
}

/* Bufs of a lowered call: blobs, values from vals, the output `out`. */
static void call_bufs(const CgKernelCall *call, const Node *n, Tensor **vals, void *out, void **bufs)
{
    for (int b = 0; b < call->n_bufs; b++) {
        const CgBuf *cb = &call->bufs[b];
        if (cb->kind == CG_BUF_NONE) bufs[b] = NULL;
        else if (cb->kind == CG_BUF_BLOB) bufs[b] = call->blobs[cb->blob];
        else bufs[b] = cb->value == n->out[0] ? out : vals[cb->value]->data;
    }
}

/* The PatternPad (node i) and its PatternConv (i + 1) lowered banded (a band budget of `kb`
 * KiB, codegen/lower_pattern.c) and run as codegen/native.c runs them, band by band, pad then
 * conv: the conv's output against the interpreter's (want). Returns 1 on failure, 0 when the
 * lowering did not band (nothing to test) or the output matches. */
static int native_pair(const Graph *g, int i, Tensor **vals, const Tensor *want, int64_t kb, const char *desc)
{
    const Node *pn = &g->nodes[i], *cn = &g->nodes[i + 1];
    CgTarget tg = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1, .band_bytes = kb * 1024};
    CgKernelCall pc, cc;
    Diag d = {{0}};
    if (cg_lower_pattern_pad(g, pn, &tg, &pc, &d) != 1) return fprintf(stderr, "FAIL %s: banded pad not lowered\n", desc), 1;
    if (cg_lower_pattern_conv(g, cn, &tg, &cc, &d) != 1) {
        cg_call_free(&pc);
        return fprintf(stderr, "FAIL %s: banded conv not lowered\n", desc), 1;
    }
    int fail = pc.n_bands != cc.n_bands;
    if (fail) fprintf(stderr, "FAIL %s: pad has %d bands, conv %d\n", desc, pc.n_bands, cc.n_bands);
    if (!fail && pc.n_bands > 0) {
        n_banded++;
        const Value *cv = &g->values[pn->out[0]];
        float *copies = xcalloc((size_t)ir_value_numel(cv), sizeof(float));
        Tensor *out = tensor_new(want->dtype, want->rank, want->dims);
        for (int64_t k = 0; k < ir_value_numel(&g->values[cn->out[0]]); k++) ((float *)out->data)[k] = 1e30f;
        void *pb[CG_MAX_BUFS], *cbf[CG_MAX_BUFS];
        call_bufs(&pc, pn, vals, copies, pb);
        call_bufs(&cc, cn, vals, out->data, cbf);
        cbf[0] = copies; /* the conv reads the band the pad just wrote */
        KPatRangeFn pf = kpat_find_range(pc.range_fn), cf = kpat_find_range(cc.range_fn);
        for (int k = 0; k < pc.n_bands; k++) {
            pf(pc.params, pb, pc.band_lo[k], pc.band_hi[k]);
            cf(cc.params, cbf, cc.band_lo[k], cc.band_hi[k]);
        }
        double scale, err = max_err(out->data, want->data, ir_value_numel(&g->values[cn->out[0]]), &scale);
        fail = !(err <= 1e-5 * fmax(scale, 1.0));
        if (fail || verbose)
            fprintf(stderr, "%s %s: banded pad + conv (%d bands, %lld KiB): max err %.3g [%s]\n", fail ? "FAIL" : "ok  ",
                    desc, pc.n_bands, (long long)kb, err, cc.note);
        tensor_free(out);
        free(copies);
    }
    cg_call_free(&pc);
    cg_call_free(&cc);
    return fail;
}

static int conv_is_chain(const Node *n) { return n->name && !strcmp(n->name, "conv2"); }

/* The copies ppcc made before 2026-11-27 (and a hand-written .ir may hold): one per (phase,
 * column shift dx) in rows mode, one per (phase, dy, dx) in flat mode, so every tap read its own
 * copy at an aligned offset. The IR and the kernel take any copies that cover the taps (a tap
 * reads the nearest copy before its shift), so the pad and conv nodes pattern-group made (one
 * copy per phase) are given those copies instead: every shift up to the largest. */
static void shift_copies(Graph *g, int pat)
{
    const Node *cn = &g->nodes[pat];
    int cnt = 0, kcnt = 0, dcnt = 0, scnt = 0;
    const int64_t *cp = ir_attr_ints(cn, "copies", &cnt), *ks = ir_attr_ints(cn, "kernel_shape", &kcnt);
    const int64_t *dl = ir_attr_ints(cn, "dilations", &dcnt), *st = ir_attr_ints(cn, "strides", &scnt);
    IR_ASSERT(cp && ks && dl && st && kcnt == 2 && dcnt == 2 && scnt == 2);
    const int flat = ir_attr_int(cn, "flat", 0) != 0;
    const int64_t maxdy = flat ? (ks[0] - 1) * dl[0] / st[0] : 0, maxdx = (ks[1] - 1) * dl[1] / st[1];
    int64_t nw[3 * KPAT_CMAX];
    int n = 0;
    for (int i = 0; i < cnt / 3; i++)
        for (int64_t dy = 0; dy <= maxdy; dy++)
            for (int64_t dx = 0; dx <= maxdx && n < KPAT_CMAX; dx++)
                nw[3 * n] = cp[3 * i], nw[3 * n + 1] = cp[3 * i + 1] + dy, nw[3 * n + 2] = cp[3 * i + 2] + dx, n++;
    Diag d = {{0}};
    ir_node_set_ints(g, pat - 1, "copies", nw, 3 * n);
    ir_node_set_ints(g, pat, "copies", nw, 3 * n);
    IR_ASSERT(!ir_infer_node(g, pat - 1, &d) && !ir_infer_node(g, pat, &d));
}

/* Returns the number of failures of one case. */
static int run_case(const Case *c, uint64_t seed)
{
    char desc[300];
    case_str(c, desc, sizeof desc);
    uint64_t rs = seed;
    Graph *g = build(c, &rs);
    Diag d = {{0}};
    Tensor *ins[2] = {NULL, NULL}, *ref[1] = {NULL}, *got[1] = {NULL};
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        ins[k] = tensor_new(DT_F32, v->rank, v->dims);
        for (int64_t i = 0; i < ir_value_numel(v); i++) ((float *)ins[k]->data)[i] = rng_unif(&rs);
    }
    int fails = 0;
    IR_ASSERT(!interp_run(g, ins, ref, NULL, &d));

    Graph *g2 = ir_graph_clone(g);
    PassContext ctx;
    pass_context_init(&ctx);
    ctx.pattern_mode = 1;
    memcpy(ctx.pattern_tile, c->tile, sizeof ctx.pattern_tile);
    if (pass_pipeline_run(g2,
                          "infer-shapes,fuse-activation,layout,fuse-residual,fuse-activation,filter-reorder,"
                          "pattern-group,dce",
                          &ctx, &d)) {
        fprintf(stderr, "FAIL %s: passes: %s\n", desc, d.msg);
        fails++;
        goto done;
    }
    int npat = 0, conv = -1, pat = -1;
    for (int i = 0; i < g2->n_nodes; i++) {
        if (g2->nodes[i].op == OP_PATTERN_CONV) npat++, pat = i;
        if (g2->nodes[i].op == OP_CONV && !conv_is_chain(&g2->nodes[i])) conv = i;
    }
    if (c->chain && pat >= 0 && !strstr(ir_attr_str(&g2->nodes[pat], "filter_order", ""), "reordered, absorbed by conv2")) {
        fprintf(stderr, "FAIL %s: filters not reordered into conv2 (%s)\n", desc,
                ir_attr_str(&g2->nodes[pat], "filter_order", "-"));
        fails++;
    }
    if (c->dirty) {
        const char *why = conv >= 0 ? ir_attr_str(&g2->nodes[conv], "pattern_dense", "") : "";
        if (npat || !strstr(why, "outside the patterns")) {
            fprintf(stderr, "FAIL %s: a conv with weights outside its patterns must stay dense (%s)\n", desc, why);
            fails++;
        }
        goto done;
    }
    if (npat != 1) {
        fprintf(stderr, "FAIL %s: expected one PatternConv, got %d (%s)\n", desc, npat,
                conv >= 0 ? ir_attr_str(&g2->nodes[conv], "pattern_dense", "?") : "-");
        fails++;
        goto done;
    }
    if (c->og) ir_node_set_int(g2, pat, "sched_obs", c->og);
    if (c->shift_copies) shift_copies(g2, pat);
    if (interp_run(g2, ins, got, NULL, &d)) {
        fprintf(stderr, "FAIL %s: interpreter on the rewritten graph: %s\n", desc, d.msg);
        fails++;
        goto done;
    }
    double scale, err = max_err(got[0]->data, ref[0]->data, ir_value_numel(&g->values[g->outputs[0]]), &scale);
    if (!(err <= 1e-5 * fmax(scale, 1.0))) {
        fprintf(stderr, "FAIL %s: rewritten graph differs from the dense conv: max err %.3g (scale %.3g)\n", desc, err,
                scale);
        fails++;
    }
    /* node by node: the pattern nodes natively against the interpreter */
    Tensor **vals = xcalloc((size_t)g2->n_values, sizeof(Tensor *));
    for (int k = 0; k < g2->n_inputs; k++) vals[g2->inputs[k]] = tensor_clone(ins[k]);
    for (int v = 0; v < g2->n_values; v++)
        if (g2->values[v].kind == VAL_CONST && g2->values[v].data)
            vals[v] = tensor_wrap(g2->values[v].dtype, g2->values[v].rank, g2->values[v].dims, g2->values[v].data);
    for (int i = 0; i < g2->n_nodes && !fails; i++) {
        const Node *n = &g2->nodes[i];
        Tensor *in[8] = {0}, *out[4] = {0};
        for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? vals[n->in[k]] : NULL;
        if (interp_node(g2, i, in, out, &d)) {
            fprintf(stderr, "FAIL %s: interp_node %s: %s\n", desc, n->name, d.msg);
            fails++;
            break;
        }
        if (n->op == OP_PATTERN_PAD || n->op == OP_PATTERN_CONV) fails += native_node(g2, i, vals, out[0], &rs, desc);
        if (n->op == OP_PATTERN_CONV && i > 0 && g2->nodes[i - 1].op == OP_PATTERN_PAD) /* smallest bands */
            fails += native_pair(g2, i - 1, vals, out[0], 1, desc);
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) vals[n->out[k]] = out[k];
    }
    for (int v = 0; v < g2->n_values; v++) tensor_free(vals[v]);
    free(vals);
done:
    if (verbose && !fails) fprintf(stderr, "ok   %s\n", desc);
    for (int k = 0; k < 2; k++) tensor_free(ins[k]);
    tensor_free(ref[0]);
    tensor_free(got[0]);
    ir_graph_free(g);
    ir_graph_free(g2);
    return fails;
}

START_TEST(test_layers)
{
    Case cs[20];
    int n = 0;
    cs[n++] = layer(64, 64, 14, 1);
    cs[n++] = layer(32, 48, 9, 2);
    cs[n++] = layer(16, 16, 28, 1);
    cs[n++] = layer(24, 40, 7, 1);
    cs[n] = layer(5, 20, 11, 1), cs[n].conn = 0.3, n++;          /* plain input, odd channels */
    cs[n] = layer(40, 33, 6, 2), cs[n].pads[2] = 0, n++;         /* asymmetric pads */
    cs[n] = layer(20, 17, 10, 1), cs[n].d = 2, cs[n].pads[0] = cs[n].pads[1] = cs[n].pads[2] = cs[n].pads[3] = 2, n++;
    cs[n] = layer(18, 16, 9, 1), cs[n].kh = cs[n].kw = 5, cs[n].pads[0] = 2, cs[n].pads[1] = 0, n++; /* 5x5 */
    cs[n] = layer(16, 32, 1, 1), n++;                             /* 1x1 image */
    cs[n] = layer(17, 16, 2, 1), cs[n].w = 3, cs[n].pads[2] = 0, n++;
    cs[n] = layer(16, 20, 5, 1), cs[n].w = 70, n++;               /* wide */
    cs[n] = layer(32, 32, 8, 1), cs[n].n = 2, cs[n].residual = cs[n].relu = 1, n++;
    cs[n] = layer(32, 48, 12, 1), cs[n].conn = 0.72, cs[n].empty_filters = 1, cs[n].relu = 1, n++;
    cs[n] = layer(24, 16, 6, 2), cs[n].conn = 0.9, cs[n].residual = 1, n++;
    cs[n] = layer(16, 16, 7, 1), cs[n].pads[0] = cs[n].pads[1] = cs[n].pads[2] = cs[n].pads[3] = 0, n++;
    cs[n] = layer(24, 40, 9, 1), cs[n].conn = 0.5, cs[n].relu = cs[n].chain = 1, n++; /* reordered filters */
    cs[n] = layer(16, 20, 8, 2), cs[n].conn = 0.3, cs[n].chain = 1, cs[n].n = 2, n++;
    int fails = 0;
    for (int i = 0; i < n; i++) fails += run_case(&cs[i], 1000 + (uint64_t)i);
    ck_assert_int_eq(fails, 0);
}
END_TEST

START_TEST(test_every_tile)
{
    int fails = 0;
    for (int t = 0; t < KPAT_NTILES; t++) {
        Case c = layer(20, 24, 11, 1 + t % 2);
        c.w = 13 + t;
        c.conn = 0.25;
        c.residual = t % 3 == 0;
        c.tile[0] = kpat_tiles[t].flat, c.tile[1] = kpat_tiles[t].r, c.tile[2] = kpat_tiles[t].u;
        fails += run_case(&c, 2000 + (uint64_t)t);
    }
    ck_assert_int_eq(fails, 0);
}
END_TEST

/* Work items of many filters: 8 blocks of 16 (the default for 2-vector tiles; --tune's wide
 * budget for larger ones, up to KPAT_ACC_BYTES of accumulators), with a partial last group. */
START_TEST(test_wide_items)
{
    int fails = 0;
    Case c = layer(24, 160, 9, 1); /* 10 blocks: groups of 8 and 2 */
    c.conn = 0.5, c.relu = 1;
    c.tile[0] = 0, c.tile[1] = 2, c.tile[2] = 1;
    fails += run_case(&c, 5000);
    c.tile[1] = 2, c.tile[2] = 2, c.og = 8; /* 32 KB of accumulators */
    fails += run_case(&c, 5001);
    Case f = layer(20, 136, 7, 2); /* flat, stride 2, odd channels, 9 blocks */
    f.residual = 1;
    f.tile[0] = 1, f.tile[1] = 1, f.tile[2] = 2, f.og = 8;
    fails += run_case(&f, 5002);
    ck_assert_int_eq(fails, 0);
}
END_TEST

/* ppcc makes one copy per phase and reads the shifts at unaligned offsets; the earlier layout,
 * a copy per (phase, shift), must still mean the same and run natively. */
START_TEST(test_shifted_copies)
{
    int fails = 0;
    Case a = layer(20, 24, 12, 1);
    a.conn = 0.3, a.relu = 1, a.shift_copies = 1;
    a.tile[0] = 0, a.tile[1] = 2, a.tile[2] = 1;
    fails += run_case(&a, 6000);
    Case b = layer(33, 40, 15, 2); /* stride 2: 4 phases x 2 shifts */
    b.residual = 1, b.shift_copies = 1;
    b.tile[0] = 0, b.tile[1] = 3, b.tile[2] = 2;
    fails += run_case(&b, 6001);
    Case e = layer(16, 16, 20, 1); /* dilation 2: shifts 0, 2, 4 */
    e.d = 2, e.pads[0] = e.pads[1] = e.pads[2] = e.pads[3] = 2, e.shift_copies = 1;
    e.tile[0] = 0, e.tile[1] = 2, e.tile[2] = 2;
    fails += run_case(&e, 6002);
    Case f = layer(24, 20, 7, 1); /* flat: a copy per tap, 9 */
    f.conn = 0.4, f.shift_copies = 1;
    f.tile[0] = 1, f.tile[1] = 1, f.tile[2] = 4;
    fails += run_case(&f, 6003);
    ck_assert_int_eq(fails, 0);
}
END_TEST

START_TEST(test_every_pattern_size)
{
    int fails = 0;
    for (int nt = 1; nt <= 9; nt++) {
        Case c = layer(16, 16, 6, nt % 2 ? 1 : 2);
        c.nt = nt;
        /* all masks of nt taps when there are few, else 16 of them */
        static const int choose9[10] = {1, 9, 36, 84, 126, 126, 84, 36, 9, 1};
        c.k = choose9[nt] < 16 ? choose9[nt] : 16;
        fails += run_case(&c, 3000 + (uint64_t)nt);
    }
    ck_assert_int_eq(fails, 0);
}
END_TEST

START_TEST(test_random)
{
    uint64_t rs = 77;
    int fails = 0;
    for (int i = 0; i < 40; i++) {
        Case c = layer(rng_int(&rs, 1, 48), rng_int(&rs, 1, 40), rng_int(&rs, 1, 20), rng_int(&rs, 1, 2));
        c.w = rng_int(&rs, 1, 24);
        for (int k = 0; k < 4; k++) c.pads[k] = rng_int(&rs, 0, 2);
        c.d = rng_int(&rs, 1, 4) == 4 ? 2 : 1;
        if (c.h + c.pads[0] + c.pads[2] < 2 * c.d + 1) c.h = 2 * c.d + 1;
        if (c.w + c.pads[1] + c.pads[3] < 2 * c.d + 1) c.w = 2 * c.d + 1;
        c.n = rng_int(&rs, 1, 2);
        c.k = rng_int(&rs, 1, 12);
        c.conn = rng_int(&rs, 0, 3) * 0.25;
        c.residual = rng_int(&rs, 0, 1);
        c.relu = rng_int(&rs, 0, 1);
        fails += run_case(&c, 4000 + (uint64_t)i);
    }
    ck_assert_int_eq(fails, 0);
    ck_assert_msg(n_sized[0] > 0 && n_sized[1] > 0 && n_sized[2] > 0 && n_sized[3] > 0 && n_grouped > 0,
                  "layers with groups of 1/2/3/4 kernels %d/%d/%d/%d, grouped blocks %d: every kernel path must run",
                  n_sized[0], n_sized[1], n_sized[2], n_sized[3], n_grouped);
    ck_assert_msg(n_banded > 0, "no banded pad + conv pair ran");
}
END_TEST

START_TEST(test_dirty_weights_stay_dense)
{
    Case c = layer(16, 16, 8, 1);
    c.dirty = 1;
    ck_assert_int_eq(run_case(&c, 5000), 0);
}
END_TEST

int main(int argc, char **argv)
{
    verbose = argc > 1 && !strcmp(argv[1], "-v");
    Suite *s = suite_create("pattern");
    TCase *tc = tcase_create("pattern");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_layers);
    tcase_add_test(tc, test_every_tile);
    tcase_add_test(tc, test_wide_items);
    tcase_add_test(tc, test_shifted_copies);
    tcase_add_test(tc, test_every_pattern_size);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_dirty_weights_stay_dense);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
