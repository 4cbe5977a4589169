/* pattern_group.c — pass "pattern-group": a pattern-pruned convolution becomes PatternPad +
 * PatternConv with compact filter-kernel-weight storage (ops defined in ir/pattern.c; schedule
 * and cost model in codegen/kernels/pattern_plan.h; docs/codegen.md §7).
 *
 * Candidates: Conv nodes carrying the prune pass's metadata (prune_patterns, prune_ids; from the
 * prune pass, or from the weights by pass pattern-detect) whose
 * output is blocked (layout = "NCHW16c", i.e. after the layout pass), group 1, f32, constant
 * weights, and whose weights really are zero outside each kernel's pattern and in removed
 * kernels (otherwise the rewrite would change results: kept dense, the reason recorded).
 * Per layer, dense or sparse: the register tile (pattern_plan.h KPAT_TILES) and input-channel
 * block with the lowest predicted cycles, against the dense kernel's predicted cycles; sparse
 * only when it is predicted faster (PassContext.pattern_mode: 0 auto, 1 always sparse,
 * -1 never; PassContext.pattern_tile forces a tile, for the tests). Layers kept dense get an attribute pattern_dense = "<reason>".
 *
 * The rewrite: x -> PatternPad (zero padding, stride phases; planes sized for the tile walk) ->
 * PatternConv with inputs (planes, w [NK, NT], idx [NK], runs, bias[, residual]) in the order
 * filter, input-channel block, pattern, channel; the Conv's activation and output value are
 * kept. The informational attribute pattern_stats summarises the layer for dumps and --stats:
 * kernels kept, pattern histogram, bytes against dense, tile, loads per FMA with and without
 * the load plan, predicted cycles sparse and dense.
 * --tune (PassContext.pattern_tune with the timing hook pattern_time): the cost model's first
 * six candidates and the dense conv are compiled and timed as single-layer graphs on this
 * machine; the fastest wins (dense only in auto mode), the times are added to pattern_stats and
 * kept in the tuning cache (pattern_tune.c; PassContext.tuning_cache) under a key of CPU,
 * shapes and sparsity signature, so the next compile of the same layer measures nothing.
 * Without --tune the result depends only on the graph and the target: deterministic.
 * Filters are not reordered: every output block of 16 filters is one work item per tile, and
 * work items are ordered tile-major so that each thread's share of a layer spans all filters.
 */
#include "passes/passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/conv_plan.h"
#include "codegen/kernels/pattern_plan.h"
#include "passes/pattern_tune.h"

#define BLK IR_LAYOUT_BLOCK
/* With the item's accumulators: the copies a tile reads for one channel block. 24 KB until the
 * copies became one per phase (2026-11-27), which tripled the channels of a 24 KB block; then
 * 12 KB measured 1-8% faster per layer than 24 KB, 8 KB and 4 KB no faster or slower (resnet18 at
 * connectivity 0 and 0.72, every layer group, cost-model tiles, ab --layers) */
#define SLAB_BYTES 12288
#define SPARSE_CALIB 1.4 /* measured / counted cycles of the pattern kernel (cost_tile) */
/* Accumulators of a work item's blocks of 16 filters, at most: by default, and the wider
 * variant --tune also times (more filters per item make larger groups of kernels that share
 * their input loads, at the price of L1 space; measured on resnet18 at connectivity 0.72, one
 * layer at a time: 10-15% faster on layer2 and layer4, 8-10% slower on layer3's 2x1 tiles). */
#define ACC_GROUP_BYTES 16384
#define ACC_GROUP_BYTES_WIDE KPAT_ACC_BYTES
#define DENSE_EFF 0.9    /* fraction of the FMA peak the dense kernel reaches on big 3x3 layers (resnet18
                            layers timed alone by --tune: 0.88-0.95) */

typedef struct PatLayer {
    int64_t M, C, KH, KW, K, NT, NK;
    ConvGeom geo;
    int64_t maxdy, pw; /* largest row shift of a tap in its phase plane; its width (OW + largest column shift) */
    int64_t hist[KPAT_KMAX];
    KPatTap taps[KPAT_KMAX][KPAT_NTMAX];
    const int64_t *masks;
    const int16_t *ids;
} PatLayer;

typedef struct PatChoice {
    KPatTile tile;
    KPatWalk walk;
    KPatCopies copies;
    int64_t cblock, ncb;
    int og; /* blocks of 16 filters per work item (sched_obs) */
    double cycles, loads_plan, loads_naive;
} PatChoice;

/* Input channels per block: the copies' rows a tile reads for a block get SLAB_BYTES plus what
 * the item's accumulators leave of their budget acc_bytes. With the default budget the two fit
 * in L1 (28 of 48 KB on the machines we measured, the rest for the weights streaming by);
 * the wide budget overcommits L1, which only --tune's measurements can judge. */
static int64_t cblock_for(const PatLayer *L, const KPatTile *t, const KPatCopies *cp, int og, int64_t acc_bytes)
{
    int64_t per_ch = (int64_t)cp->n * 16 * t->u * (t->flat ? 1 : t->r + L->maxdy) * 4;
    int64_t acc = kpat_block_acc_bytes(t) * og;
    int64_t cb = (acc_bytes + SLAB_BYTES - acc) / per_ch;
    if (cb < 4) cb = 4;
    if (cb > L->C) cb = L->C;
    return cb;
}

/* Groups of each pattern that the lowering (codegen/lower_pattern.c) builds when a work item
 * covers og blocks of 16 filters and holds up to gmax sets of accumulators: per (group of
 * blocks, channel, pattern), m kernels make groups of kpat_group_size (gmax at a time);
 * grp[p * KPAT_GMAX + G-1] counts the groups of G kernels of pattern p. */
static void count_groups(const PatLayer *L, int og, int gmax, int64_t *grp)
{
    const int64_t gf = (int64_t)og * BLK;
    memset(grp, 0, KPAT_KMAX * KPAT_GMAX * sizeof(int64_t));
    for (int64_t m0 = 0; m0 < L->M; m0 += gf)
        for (int64_t c = 0; c < L->C; c++) {
            int64_t cnt[KPAT_KMAX] = {0};
            for (int64_t m = m0; m < m0 + gf && m < L->M; m++) {
                int id = L->ids[m * L->C + c];
                if (id >= 0) cnt[id]++;
            }
            for (int64_t p = 0; p < L->K; p++) {
                for (int64_t m = cnt[p]; m > 0;) {
                    const int G = kpat_group_size(m, gmax);
                    grp[p * KPAT_GMAX + G - 1]++;
                    m -= G;
                }
            }
        }
}

/* What the count below misses, by tile shape (fitted to --tune measurements of every compiled
 * tile on resnet18's 16 pruned layers at connectivity 0 and 0.72, Sapphire Rapids: relative to
 * the other tiles of a layer, tall tiles measure slower than counted, short ones faster, flat
 * ones slower; with this factor the cost model's picks are within 7% of the measured best,
 * against 15% without). Flat tiles of outputs at most 8 wide (resnet18's layer4, 7x7), where a
 * rows tile would waste half of every vector and only flat ones are in the running, measured
 * against the dense kernel after the copies became one per phase: 0.62-0.77x its time where the
 * factor 1.2 predicted 1.06-1.14x, so the layers stayed dense without --tune; 1.0 there (resnet18
 * at connectivity 0, cost-model compile: 14% faster; at 0.72 no change). */
static double shape_factor(const PatLayer *L, const KPatTile *t)
{
    if (t->flat) return L->geo.out[1] <= 8 ? 1.0 : 1.2;
    return 1.0 + 0.05 * (double)(t->r - 4);
}

/* Predicted cycles of tile t for one image, PatternPad included; fills c (returns -1 if the tile
 * needs more copies than the kernel handles). Per kernel: its FMAs on two ports, its
 * loads (taps by the load plan, weight broadcasts, the filter's accumulators) on two ports, the
 * accumulator stores on one, plus 2 cycles of loop; a group of G kernels (as many as the
 * registers hold, kpat_gmax) loads the taps once for G filters; per run 12 (its end is
 * mispredicted), one run per group size. */
static int cost_tile(const PatLayer *L, const KPatTile *t, int vregs16, int64_t acc_bytes, PatChoice *c)
{
    c->tile = *t;
    c->walk = kpat_walk(t, L->geo.out[0], L->geo.out[1], L->pw, L->maxdy);
    c->copies.n = 0;
    for (int64_t p = 0; p < L->K; p++)
        for (int64_t i = 0; i < L->NT; i++)
            if (kpat_copy_of(&c->copies, &L->taps[p][i]) < 0) return -1;
    c->og = (int)(acc_bytes / kpat_block_acc_bytes(t));
    if (c->og > KPAT_OGMAX) c->og = KPAT_OGMAX;
    if (c->og > (L->M + BLK - 1) / BLK) c->og = (int)((L->M + BLK - 1) / BLK);
    if (c->og < 1) c->og = 1;
    c->cblock = cblock_for(L, t, &c->copies, c->og, acc_bytes);
    c->ncb = (L->C + c->cblock - 1) / c->cblock;
    const int ru = t->r * t->u;
    const int gmax = kpat_gmax(ru, vregs16);
    int64_t grp[KPAT_KMAX * KPAT_GMAX];
    count_groups(L, c->og, gmax, grp);
    double per_tile = 0, fmas = 0, loads = 0;
    for (int64_t p = 0; p < L->K; p++) {
        const int ld = kpat_loads(L->taps[p], (int)L->NT, t, c->walk.cw, L->pw);
        for (int G = 1; G <= gmax; G++) { /* a group of G kernels shares its input loads */
            const double n = (double)grp[p * KPAT_GMAX + G - 1];
            const double f = (double)(G * L->NT * ru) / 2.0, l = (double)(ld + G * (L->NT + ru)) / 2.0,
                         st = (double)(G * ru), cyc = f > l ? f : l;
            per_tile += n * ((cyc > st ? cyc : st) + 1.0 + G);
            fmas += n * (double)(G * L->NT * ru);
            loads += n * (double)(ld + G * L->NT);
        }
    }
    int64_t mb = (L->M + BLK - 1) / BLK;
    per_tile += (double)(mb * c->ncb * L->K) * 12.0 * (gmax > 1 ? 1.5 : 1.0); /* runs */
    per_tile += (double)(mb * ru * BLK) * 2.0;      /* epilogue */
    /* calibration against --tune measurements on Sapphire Rapids (resnet18 layers, connectivity
     * 0 and 0.72): the kernel takes about SPARSE_CALIB times the cycles counted above; the
     * PatternPad writes the copies at about 8 bytes per cycle */
    double copies_bytes = (double)L->C * (double)c->copies.n * (double)(c->walk.ch * c->walk.cw) * 4.0;
    c->cycles = per_tile * (double)c->walk.tiles * SPARSE_CALIB * shape_factor(L, t) + copies_bytes / 8.0;
    c->loads_plan = fmas > 0 ? loads / fmas : 0;
    c->loads_naive = (double)(L->NT * ru + L->NT + ru) / (double)(L->NT * ru);
    return 0;
}

/* Insert c into a[0..*n), kept sorted by predicted cycles, cheapest first. */
static void insert_by_cycles(PatChoice *a, int *n, const PatChoice *c)
{
    int k = (*n)++;
    while (k > 0 && a[k - 1].cycles > c->cycles) a[k] = a[k - 1], k--;
    a[k] = *c;
}

/* Why node i cannot become a PatternConv (NULL: it can); fills L. */
static const char *examine(const Graph *g, int i, PatLayer *L)
{
    const Node *n = &g->nodes[i];
    memset(L, 0, sizeof *L);
    const Tensor *ids = ir_attr_tensor(n, "prune_ids");
    int cnt = 0;
    L->masks = ir_attr_ints(n, "prune_patterns", &cnt);
    L->K = cnt;
    if (!ids || !L->masks) return "no pattern metadata";
    const char *layout = ir_attr_str(n, "layout", NULL);
    if (!layout || strcmp(layout, "NCHW16c")) return "not in the blocked layout";
    if (ir_attr_int(n, "group", 1) != 1) return "grouped";
    if (n->n_in < 2 || !pass_value_is_const(g, n->in[1])) return "weights not constant";
    const Value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
    if (x->dtype != DT_F32 || w->dtype != DT_F32 || y->dtype != DT_F32 || w->rank != 4) return "not f32 2-D";
    if (n->n_in > 2 && n->in[2] >= 0 && (!pass_value_is_const(g, n->in[2]) || g->values[n->in[2]].dtype != DT_F32))
        return "bias not constant";
    L->M = w->dims[0], L->C = w->dims[1], L->KH = w->dims[2], L->KW = w->dims[3];
    if (L->K < 1 || L->K > KPAT_KMAX) return "more patterns than the kernel handles (16)";
    if (L->KH * L->KW > 30) return "kernel too large";
    if (ids->dtype != DT_I16 || ids->rank != 2 || ids->dims[0] != L->M || ids->dims[1] != L->C)
        return "prune_ids does not match the weights";
    int blocked = x->rank == 5;
    int64_t xdims[4] = {x->dims[0], L->C, x->dims[2], x->dims[3]};
    if (blocked ? x->dims[1] != (L->C + BLK - 1) / BLK : x->rank != 4 || x->dims[1] != L->C)
        return "input shape";
    Diag d = {{0}};
    if (ir_conv_geometry(n, 4, xdims, w->dims, &L->geo, &d) || L->geo.nsp != 2) return "not a 2-D conv";
    L->NT = -1;
    for (int64_t p = 0; p < L->K; p++) {
        if (L->masks[p] <= 0 || L->masks[p] >= ((int64_t)1 << (L->KH * L->KW))) return "bad pattern mask";
        if (__builtin_popcountll((unsigned long long)L->masks[p]) > KPAT_NTMAX) return "pattern with more than 9 taps";
        int nt = kpat_taps(L->masks[p], L->KH, L->KW, L->geo.stride[0], L->geo.stride[1], L->geo.dilation[0],
                           L->geo.dilation[1], L->taps[p]);
        if (L->NT >= 0 && nt != L->NT) return "patterns of different sizes";
        L->NT = nt;
    }
    L->ids = ids->data;
    const float *wd = w->data;
    const int64_t kk = L->KH * L->KW;
    for (int64_t m = 0; m < L->M; m++)
        for (int64_t c = 0; c < L->C; c++) {
            int id = L->ids[m * L->C + c];
            if (id < -1 || id >= L->K) return "pattern id out of range";
            int64_t mask = id < 0 ? 0 : L->masks[id];
            for (int64_t t = 0; t < kk; t++)
                if (!(mask >> t & 1) && wd[(m * L->C + c) * kk + t] != 0.0f) return "weights outside the patterns";
            if (id >= 0) L->hist[id]++, L->NK++;
        }
    L->maxdy = (L->KH - 1) * L->geo.dilation[0] / L->geo.stride[0];
    L->pw = L->geo.out[1] + (L->KW - 1) * L->geo.dilation[1] / L->geo.stride[1];
    return NULL;
}

static void rewrite(Graph *g, int i, const PatLayer *L, const PatChoice *ch, const char *stats)
{
    Node *n = &g->nodes[i];
    int64_t masks[KPAT_KMAX]; /* L->masks points into the attribute that goes away */
    memcpy(masks, L->masks, (size_t)L->K * sizeof(int64_t));
    const int64_t kk = L->KH * L->KW, ncb = ch->ncb;
    const float *wd = g->values[n->in[1]].data;
    float *cw = xmalloc((size_t)(L->NK * L->NT + 1) * sizeof(float));
    int32_t *idx = xmalloc((size_t)(L->NK + 1) * sizeof(int32_t));
    const int64_t mb = (L->M + BLK - 1) / BLK, nruns = mb * ncb * L->K;
    int32_t *runs = xmalloc((size_t)(nruns + 1) * sizeof(int32_t));
    int64_t nk = 0;
    for (int64_t ob = 0; ob < mb; ob++)
        for (int64_t cb = 0; cb < ncb; cb++)
            for (int64_t p = 0; p < L->K; p++) {
                runs[(ob * ncb + cb) * L->K + p] = (int32_t)nk;
                int64_t c1 = (cb + 1) * ch->cblock < L->C ? (cb + 1) * ch->cblock : L->C;
                for (int64_t c = cb * ch->cblock; c < c1; c++)
                    for (int64_t f = 0; f < BLK && ob * BLK + f < L->M; f++) {
                        const int64_t m = ob * BLK + f;
                        if (L->ids[m * L->C + c] != p) continue;
                        int t = 0;
                        for (int64_t bit = 0; bit < kk; bit++)
                            if (L->masks[p] >> bit & 1) cw[nk * L->NT + t++] = wd[(m * L->C + c) * kk + bit];
                        idx[nk++] = (int32_t)(c * BLK + f);
                    }
            }
    runs[nruns] = (int32_t)nk;

    char name[300];
    const char *base = n->name ? n->name : "conv";
    int64_t wdims[2] = {L->NK, L->NT}, idims[1] = {L->NK}, rdims[1] = {nruns + 1}, bdims[1] = {L->M};
    snprintf(name, sizeof name, "%s_pw", base);
    int vw = ir_const_add(g, name, DT_F32, 2, wdims, cw);
    snprintf(name, sizeof name, "%s_pidx", base);
    int vi = ir_const_add(g, name, DT_I32, 1, idims, idx);
    snprintf(name, sizeof name, "%s_pruns", base);
    int vr = ir_const_add(g, name, DT_I32, 1, rdims, runs);
    int vb;
    n = &g->nodes[i];
    if (n->n_in > 2 && n->in[2] >= 0) {
        vb = n->in[2];
    } else {
        float *z = xcalloc((size_t)L->M, sizeof(float));
        snprintf(name, sizeof name, "%s_pbias", base);
        vb = ir_const_add(g, name, DT_F32, 1, bdims, z);
        free(z);
    }
    free(cw), free(idx), free(runs);

    /* PatternPad */
    n = &g->nodes[i];
    const Value *x = &g->values[n->in[0]];
    const int xin = n->in[0], res = n->n_in > 3 ? n->in[3] : -1, xblocked = x->rank == 5;
    int64_t cdims[5] = {x->dims[0], L->C, ch->copies.n, ch->walk.ch, ch->walk.cw};
    x = NULL; /* adding values and nodes below may move g->values */
    snprintf(name, sizeof name, "%s_copies", base);
    int vp = ir_value_add(g, name, DT_F32, 5, cdims);
    snprintf(name, sizeof name, "%s_pad", base);
    int pn = ir_node_add(g, OP_PATTERN_PAD, name, 1, &xin, 1, &vp);
    ir_node_set_int(g, pn, "channels", L->C);
    if (xblocked) ir_node_set_str(g, pn, "layout", "NCHW16c");
    int64_t st[2] = {L->geo.stride[0], L->geo.stride[1]}, pads[2] = {L->geo.pad_begin[0], L->geo.pad_begin[1]};
    int64_t plane[2] = {L->geo.out[0] + L->maxdy, L->pw}, copy[2] = {ch->walk.ch, ch->walk.cw};
    int64_t keys[3 * KPAT_CMAX];
    for (int k = 0; k < ch->copies.n; k++)
        for (int j = 0; j < 3; j++) keys[3 * k + j] = ch->copies.key[k][j];
    ir_node_set_ints(g, pn, "strides", st, 2);
    ir_node_set_ints(g, pn, "pads", pads, 2);
    ir_node_set_ints(g, pn, "plane", plane, 2);
    ir_node_set_int(g, pn, "flat", ch->tile.flat);
    ir_node_set_ints(g, pn, "copies", keys, 3 * ch->copies.n);
    ir_node_set_ints(g, pn, "copy", copy, 2);

    /* the Conv becomes the PatternConv */
    int in[6] = {vp, vw, vi, vr, vb, res};
    ir_node_set_inputs(g, i, res >= 0 ? 6 : 5, in);
    n = &g->nodes[i];
    n->op = OP_PATTERN_CONV;
    int64_t ks[2] = {L->KH, L->KW}, dl[2] = {L->geo.dilation[0], L->geo.dilation[1]};
    int64_t out[3] = {L->M, L->geo.out[0], L->geo.out[1]};
    static const char *const drop[] = {"pads", "auto_pad", "group", "prune_ids", "sched_oc_tile", "sched_ow_tile"};
    for (size_t k = 0; k < sizeof drop / sizeof drop[0]; k++) ir_node_remove_attr(g, i, drop[k]);
    ir_node_remove_attr(g, i, "prune_patterns");
    ir_node_set_ints(g, i, "patterns", masks, (int)L->K);
    ir_node_set_ints(g, i, "kernel_shape", ks, 2);
    ir_node_set_ints(g, i, "strides", st, 2);
    ir_node_set_ints(g, i, "dilations", dl, 2);
    ir_node_set_ints(g, i, "out", out, 3);
    ir_node_set_int(g, i, "channels", L->C);
    ir_node_set_int(g, i, "cblock", ch->cblock);
    ir_node_set_int(g, i, "flat", ch->tile.flat);
    ir_node_set_ints(g, i, "copies", keys, 3 * ch->copies.n);
    ir_node_set_int(g, i, "plane_w", L->pw);
    ir_node_set_int(g, i, "sched_flat", ch->tile.flat);
    ir_node_set_int(g, i, "sched_obs", ch->og);
    ir_node_set_int(g, i, "sched_rows", ch->tile.r);
    ir_node_set_int(g, i, "sched_vecs", ch->tile.u);
    ir_node_set_str(g, i, "pattern_stats", stats);
}

/* The tuning-cache key of node i: CPU, shapes, attributes that change the code, and a hash of
 * the sparsity structure (pattern masks and every kernel's id). */
static void tune_key(const Graph *g, int i, const PatLayer *L, const PassContext *ctx, char *key, size_t n)
{
    const Node *nd = &g->nodes[i];
    /* patterns by canonical rank (pass_pattern_rank), the ones the layer uses: the same key
     * whether the library came from the prune pass or from pattern-detect on saved weights */
    uint64_t h = 1469598103934665603ull;
    int rank[KPAT_KMAX];
    int64_t by_rank[KPAT_KMAX];
    const int used = pass_pattern_rank_ids(L->masks, (int)L->K, L->ids, L->M * L->C, rank);
    for (int64_t p = 0; p < L->K; p++) by_rank[rank[p]] = L->masks[p];
    for (int p = 0; p < used; p++) h = (h ^ (uint64_t)by_rank[p]) * 1099511628211ull;
    for (int64_t k = 0; k < L->M * L->C; k++)
        h = (h ^ (uint64_t)(uint16_t)(L->ids[k] >= 0 ? rank[L->ids[k]] : -1)) * 1099511628211ull;
    const Value *x = &g->values[nd->in[0]];
    char cpu[64];
    snprintf(cpu, sizeof cpu, "%s", ctx->target_cpu ? ctx->target_cpu : "host");
    for (char *c = cpu; *c; c++)
        if (*c == ' ' || *c == ';') *c = '_';
    snprintf(key, n,
             "kv=%d;cpu=%s;x=%lldx%lldx%lldx%lld%s;m=%lld;k=%lldx%lld;s=%lldx%lld;d=%lldx%lld;p=%lld,%lld,%lld,%lld;"
             "res=%d;act=%s;v=%d;nk=%lld;band=%lld;wino=%d;sig=%016llx",
             KPAT_KERNEL_VERSION, cpu, (long long)x->dims[0], (long long)L->C, (long long)L->geo.in[0], (long long)L->geo.in[1],
             x->rank == 5 ? "b" : "", (long long)L->M, (long long)L->KH, (long long)L->KW,
             (long long)L->geo.stride[0], (long long)L->geo.stride[1], (long long)L->geo.dilation[0],
             (long long)L->geo.dilation[1], (long long)L->geo.pad_begin[0], (long long)L->geo.pad_begin[1],
             (long long)L->geo.pad_end[0], (long long)L->geo.pad_end[1], nd->n_in > 3 && nd->in[3] >= 0,
             ir_attr_str(nd, "activation", "none"), ctx->target_vector_bits, (long long)L->NK,
             (long long)ctx->pattern_band_bytes, ctx->no_winograd, (unsigned long long)h);
}

/* --tune times the cost model's TUNE_CANDIDATES best tiles with the default accumulator budget
 * and its TUNE_WIDE best with the wide one (where that gives a tile more filters per item). */
#define TUNE_CANDIDATES 6
#define TUNE_WIDE 3

/* --tune for node i: index of the chosen candidate (of nc, at most TUNE_CANDIDATES + TUNE_WIDE),
 * -1 for dense, -2 on error (d set). The times come from the cache when the key is there, else
 * from the timing hook (then cached). */
static int tune_layer(Graph *g, int i, const PatLayer *L, const PatChoice *cand, int nc, PassContext *ctx, int mode,
                      double *ms_sparse, double *ms_dense, Diag *d)
{
    if (!ctx->tune_cache && !(ctx->tune_cache = pat_cache_load(ctx->tuning_cache, d))) return -2;
    char key[PAT_TUNE_KEY], choice[32];
    tune_key(g, i, L, ctx, key, sizeof key);
    if (pat_cache_get(ctx->tune_cache, key, choice, sizeof choice, ms_sparse, ms_dense)) {
        int f, r, u, og;
        if (!strcmp(choice, "dense") && mode <= 0) return -1;
        if (sscanf(choice, "%d,%d,%d,%d", &f, &r, &u, &og) == 4)
            for (int c = 0; c < nc; c++)
                if (cand[c].tile.flat == f && cand[c].tile.r == r && cand[c].tile.u == u && cand[c].og == og) return c;
        /* a cached choice this compile cannot use: measure again */
    }
    /* the candidates and the dense layer, timed together (interleaved: compiler/tune.c);
     * L (examined on g) describes each copy too: same node, same weights */
    Graph *s[TUNE_CANDIDATES + TUNE_WIDE + 1];
    double ms[TUNE_CANDIDATES + TUNE_WIDE + 1];
    int bad = 0;
    for (int c = 0; c <= nc; c++) {
        s[c] = pat_isolate(g, i);
        if (c < nc) rewrite(s[c], 0, L, &cand[c], "");
        bad = bad || ir_graph_toposort(s[c], d);
    }
    bad = bad || ctx->pattern_time(ctx->pattern_time_ctx, (const Graph *const *)s, nc + 1, ms, d);
    for (int c = 0; c <= nc; c++) ir_graph_free(s[c]);
    if (bad) return -2;
    int pick = 0;
    for (int c = 1; c < nc; c++)
        if (ms[c] < ms[pick]) pick = c;
    *ms_sparse = ms[pick], *ms_dense = ms[nc];
    snprintf(choice, sizeof choice, "%d,%d,%d,%d", cand[pick].tile.flat, cand[pick].tile.r, cand[pick].tile.u,
             cand[pick].og);
    if (mode == 0 && *ms_dense <= *ms_sparse) snprintf(choice, sizeof choice, "dense");
    pat_cache_put(ctx->tune_cache, key, choice, *ms_sparse, *ms_dense);
    return !strcmp(choice, "dense") ? -1 : pick;
}

int pass_pattern_group(Graph *g, PassContext *ctx, Diag *d)
{
    const int mode = ctx ? ctx->pattern_mode : 0;
    const int vbits = ctx && ctx->target_vector_bits ? ctx->target_vector_bits : 512;
    const int vregs = ctx && ctx->target_vregs ? ctx->target_vregs : 32;
    int changed = 0;
    const int n0 = g->n_nodes;
    for (int i = 0; i < n0; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_CONV || !ir_attr_tensor(n, "prune_ids")) continue;
        PatLayer L;
        const char *why = examine(g, i, &L);
        if (!why && mode < 0) why = "dense by option";
        if (why) {
            ir_node_set_str(g, i, "pattern_dense", why);
            continue;
        }
        /* the compiled tiles that fit, cheapest predicted first (or the forced one), with the
         * default accumulator budget (cand) and, for --tune only, where it changes the tile's
         * filters per item, the wide one (wide) */
        const int tuning = ctx && ctx->pattern_tune && ctx->pattern_time && !ctx->pattern_tile[2];
        PatChoice cand[KPAT_NTILES], wide[KPAT_NTILES];
        int nc = 0, nw = 0;
        for (int t = 0; t < KPAT_NTILES; t++) {
            if (!kpat_tile_fits(&kpat_tiles[t], vbits, vregs)) continue;
            if (ctx && ctx->pattern_tile[2] &&
                (ctx->pattern_tile[0] != kpat_tiles[t].flat || ctx->pattern_tile[1] != kpat_tiles[t].r ||
                 ctx->pattern_tile[2] != kpat_tiles[t].u))
                continue;
            PatChoice c, cw;
            if (cost_tile(&L, &kpat_tiles[t], kc_vregs16(vbits, vregs), ACC_GROUP_BYTES, &c)) continue;
            insert_by_cycles(cand, &nc, &c);
            if (tuning && !cost_tile(&L, &kpat_tiles[t], kc_vregs16(vbits, vregs), ACC_GROUP_BYTES_WIDE, &cw) &&
                cw.og != c.og)
                insert_by_cycles(wide, &nw, &cw);
        }
        if (nc == 0) {
            ir_node_set_str(g, i, "pattern_dense", "no compiled tile fits");
            continue;
        }
        PatChoice best = cand[0];
        const int64_t N = g->values[n->in[0]].dims[0];
        double dense = (double)(L.geo.out[0] * L.geo.out[1] * L.M * L.C * L.KH * L.KW) / 16.0 / 2.0 / DENSE_EFF;
        /* the dense conv of such a layer runs the Winograd kernel (codegen/pack.c) */
        const KConvGeom kg = {L.geo.in[0], L.geo.in[1], L.geo.out[0], L.geo.out[1], L.KH, L.KW, L.geo.stride[0],
                              L.geo.stride[1], L.geo.dilation[0], L.geo.dilation[1], L.geo.pad_begin[0],
                              L.geo.pad_begin[1]};
        const int wino = !(ctx && ctx->no_winograd == 1) && kplan_wino_ok(&kg, 1, g->values[n->in[0]].rank == 5, vbits, vregs);
        if (wino) dense = kplan_wino_cycles(&kg, L.C, L.M, !(ctx && ctx->no_winograd == 2));
        /* ... its sparse variant where few kernels are kept (codegen/pack.c plan_swino) */
        const int swino = wino && !(ctx && ctx->no_winograd) && kplan_swino_ok(L.C, L.M, L.NK);
        if (swino) dense = kplan_swino_cycles(&kg, L.C, L.M, L.NK);
        double sparse = best.cycles;
        char hist[200] = "";
        size_t hl = 0;
        for (int64_t p = 0; p < L.K && hl + 24 < sizeof hist; p++)
            hl += (size_t)snprintf(hist + hl, sizeof hist - hl, "%s%lld", p ? "," : "", (long long)L.hist[p]);
        int64_t dense_bytes = L.M * L.C * L.KH * L.KW * 4;
        int64_t bytes = L.NK * (L.NT + 1) * 4 + (((L.M + BLK - 1) / BLK) * best.ncb * L.K + 1) * 4;
        char stats[768];
        snprintf(stats, sizeof stats,
                 "filters %lld, kernels kept %lld of %lld (%.1f%%), MACs %lld of %lld, patterns [%s], %lld bytes vs %lld dense "
                 "(%.2fx), tile %s %dx%d, cblock %lld, loads/FMA %.2f planned vs %.2f naive, predicted "
                 "%.2f Mcycles vs %.2f dense%s",
                 (long long)L.M, (long long)L.NK, (long long)(L.M * L.C), 100.0 * (double)L.NK / (double)(L.M * L.C),
                 (long long)(N * L.NK * L.NT * L.geo.out[0] * L.geo.out[1]),
                 (long long)(N * L.M * L.C * L.KH * L.KW * L.geo.out[0] * L.geo.out[1]), hist, (long long)bytes, (long long)dense_bytes, (double)dense_bytes / (double)(bytes ? bytes : 1),
                 best.tile.flat ? "flat" : "rows", best.tile.r, best.tile.u, (long long)best.cblock, best.loads_plan,
                 best.loads_naive, sparse * (double)N / 1e6, dense * (double)N / 1e6,
                 swino ? " (sparse winograd)" : wino ? " (winograd)" : "");
        if (ir_attr_int(&g->nodes[i], "pattern_detected", 0)) {
            size_t sl = strlen(stats);
            snprintf(stats + sl, sizeof stats - sl, "; patterns detected from the weights (pass pattern-detect)");
        }
        int use_sparse = mode > 0 || sparse < dense;
        if (tuning) {
            /* --tune: the measured best of the cost model's first candidates and dense */
            double ms_sparse = 0, ms_dense = 0;
            PatChoice tc[TUNE_CANDIDATES + TUNE_WIDE];
            int nt = 0;
            for (int c = 0; c < nc && c < TUNE_CANDIDATES; c++) tc[nt++] = cand[c];
            for (int c = 0; c < nw && c < TUNE_WIDE; c++) tc[nt++] = wide[c];
            int pick = tune_layer(g, i, &L, tc, nt, ctx, mode, &ms_sparse, &ms_dense, d);
            if (pick == -2) return -1;
            if (pick >= 0) best = tc[pick];
            use_sparse = pick >= 0;
            size_t sl = strlen(stats);
            snprintf(stats + sl, sizeof stats - sl,
                     "; measured %.3f ms sparse (tile %s %dx%d, %d blocks/item) vs %.3f ms dense", ms_sparse,
                     best.tile.flat ? "flat" : "rows", best.tile.r, best.tile.u, best.og, ms_dense);
        }
        if (!use_sparse) {
            char why2[900];
            snprintf(why2, sizeof why2, "predicted slower than dense (%s)", stats);
            ir_node_set_str(g, i, "pattern_dense", why2);
            continue;
        }
        rewrite(g, i, &L, &best, stats);
        changed++;
    }
    if (changed && ir_graph_toposort(g, d)) return -1;
    if (ctx && ctx->tune_cache) { /* --tune: write what was measured, then forget it */
        int rc = pat_cache_save(ctx->tune_cache, d);
        pat_cache_free(ctx->tune_cache);
        ctx->tune_cache = NULL;
        if (rc) return -1;
    }
    return 0;
}
