/* lower_pattern.c — lowering functions (codegen/lowering.h) of the pattern-sparse convolution
 * ops PatternPad and PatternConv (ir/pattern.c) to the kernels of codegen/kernels/pattern.h.
 *
 * PatternConv: f32, blocked (NCHW16c) output, at most KPAT_KMAX patterns of at most KPAT_NTMAX
 * taps, the tile named by the schedule attributes sched_flat/sched_rows/sched_vecs must be a
 * compiled one (pattern_plan.h KPAT_TILES) and its walk must stay inside the planes. The tap
 * offsets of every pattern go into the parameter struct (constants of the specialised layer);
 * The IR's tables (w, idx, runs per block of 16 filters) are re-encoded for the kernel: per group
 * of sched_obs blocks, channel block and pattern, the kernels sorted by channel, the kernels of
 * one channel in groups of up to kpat_gmax (as many sets of accumulators as the target's
 * registers hold for the tile), one record per group (channel and accumulator byte offsets,
 * weights); the bias is copied into a blob padded to whole blocks. Anything else returns 0 (the interpreter's kernel).
 */
#pragma GCC diagnostic ignored "-Wpsabi"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/pattern.h"
#include "codegen/lowering.h"
#include "ir/activation.h"
#include "ir/pattern.h"

int cg_lower_pattern_conv(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);

/* The PatternPad parameters of node n without banding; 0 if the kernel does not take it. */
static int pad_params(const Graph *g, const Node *n, KPadParams *p)
{
    if (n->op != OP_PATTERN_PAD) return 0;
    const Value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
    if (x->dtype != DT_F32 || y->rank != 5 || y->dims[2] > KPAT_CMAX) return 0;
    int c1 = 0, c2 = 0, c3 = 0, c4 = 0;
    const int64_t *st = ir_attr_ints(n, "strides", &c1), *pads = ir_attr_ints(n, "pads", &c2);
    const int64_t *plane = ir_attr_ints(n, "plane", &c3), *copies = ir_attr_ints(n, "copies", &c4);
    if (!st || !pads || !plane || !copies || c1 != 2 || c2 != 2 || c3 != 2 || c4 != 3 * y->dims[2]) return 0;
    const char *layout = ir_attr_str(n, "layout", NULL);
    memset(p, 0, sizeof *p);
    p->blocked = layout && !strcmp(layout, "NCHW16c");
    p->flat = ir_attr_int(n, "flat", 0) != 0;
    p->c = (int32_t)y->dims[1], p->cb = (int32_t)((y->dims[1] + KC_VL - 1) / KC_VL);
    p->h = (int32_t)x->dims[2], p->w = (int32_t)x->dims[3];
    p->sh = (int32_t)st[0], p->sw = (int32_t)st[1], p->pt = (int32_t)pads[0], p->pl = (int32_t)pads[1];
    p->ph = (int32_t)plane[0], p->pw = (int32_t)plane[1];
    p->nc = (int32_t)y->dims[2], p->ch = (int32_t)y->dims[3], p->cw = (int32_t)y->dims[4];
    for (int s = 0; s < p->nc; s++)
        for (int j = 0; j < 3; j++) p->copies[s][j] = (int32_t)copies[3 * s + j];
    return 1;
}

/* Banding: when a layer's copies are more than BAND_MIN_FACTOR times the L2 budget
 * t->band_bytes, the PatternPad (node ci-1) and its PatternConv (node ci, the copies' only
 * reader) run band by band — pad the copy rows of band_tr tile rows (plus the rows those tiles
 * read below them) into a buffer of chb rows per copy, run the band's tiles, next band
 * (codegen/native.c) — so the copies are written and read while in cache instead of streaming
 * through DRAM. Each band costs two thread-pool barriers, so there are at most BAND_MAX bands
 * per image (measured on vgg16 at connectivity 0.72, one / two threads against no banding:
 * up to 64 bands of 1 MB 0.905 / 1.087, at most 8 bands 0.929 / 0.998; banding resnet18's
 * 2.9 MB layer1 copies gained 1% at one thread and lost 7% at two). Rows mode only. Returns
 * the tile rows per band (0: not banded). */
#define BAND_MIN_FACTOR 4
#define BAND_MAX 8
static int32_t band_rows(const Graph *g, int ci, const KPatTile *tile, const KPatWalk *walk, int64_t n_img, int64_t c,
                         int64_t ncopy, const CgTarget *t)
{
    if (t->band_bytes <= 0 || tile->flat || ci < 1) return 0;
    const Node *conv = &g->nodes[ci], *pad = &g->nodes[ci - 1];
    KPadParams pp;
    if (pad->dead || pad->out[0] != conv->in[0] || !pad_params(g, pad, &pp)) return 0; /* the pad must be native too */
    if (ir_value_use_count(g, conv->in[0]) != 1) return 0; /* the conv is the copies' only reader */
    const int64_t tiles_r = walk->tiles / walk->tiles_c, fixed = walk->ch - tiles_r * tile->r;
    const int64_t row_bytes = c * ncopy * walk->cw * 4;
    if (walk->ch * row_bytes <= BAND_MIN_FACTOR * t->band_bytes) return 0; /* in L2 or L3 anyway */
    int64_t tr = (t->band_bytes / row_bytes - fixed) / tile->r;
    if (tr < 1) tr = 1;
    if ((tiles_r + tr - 1) / tr > BAND_MAX) tr = (tiles_r + BAND_MAX - 1) / BAND_MAX;
    if (n_img * ((tiles_r + tr - 1) / tr) > CG_MAX_BANDS) {
        if (CG_MAX_BANDS / n_img < 2) return 0;
        tr = (tiles_r + CG_MAX_BANDS / n_img - 1) / (CG_MAX_BANDS / n_img);
    }
    return tr < tiles_r ? (int32_t)tr : 0;
}

int cg_lower_pattern_pad(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    (void)d;
    KPadParams p;
    if (!pad_params(g, n, &p)) return 0;
    const Value *y = &g->values[n->out[0]];
    const int64_t nch = p.blocked ? p.cb : p.c;
    p.n_work = y->dims[0] * nch;
    /* banded with the PatternConv after it when that conv's lowering bands (it decides) */
    const int ni = (int)(n - g->nodes);
    if (t->band_bytes > 0 && !p.flat && ni + 1 < g->n_nodes && g->nodes[ni + 1].op == OP_PATTERN_CONV) {
        CgKernelCall *cc = xmalloc(sizeof *cc);
        Diag dd;
        cg_call_init(cc, NULL);
        if (cg_lower_pattern_conv(g, &g->nodes[ni + 1], t, cc, &dd) == 1 && cc->n_bands > 0) {
            /* the conv's band layout: band_tr tile rows of R rows per band, chan_stride = nc*chb*cw */
            const KPatParams *cp = (const KPatParams *)cc->params;
            const int32_t R = (int32_t)ir_attr_int(&g->nodes[ni + 1], "sched_rows", 1);
            p.nrb = (int32_t)(cc->n_bands / y->dims[0]);
            p.step = cp->band_tr * R;
            p.chb = (int32_t)(cp->chan_stride / ((int64_t)p.nc * p.cw));
            p.n_work = y->dims[0] * p.nrb * nch;
        }
        cg_call_free(cc);
        free(cc);
    }
    cg_call_init(call, "k_pattern_pad");
    if (p.nrb) { /* band k of image n: items (n, b, channel block) */
        call->n_bands = (int)(y->dims[0] * p.nrb);
        for (int k = 0; k < call->n_bands; k++) call->band_lo[k] = k * nch, call->band_hi[k] = (k + 1) * nch;
    }
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, n->in[0]);
    cg_call_value(call, n->out[0]);
    call->n_work = p.n_work;
    call->grain = 1;
    int nl = snprintf(call->note, sizeof call->note, "pattern pad C=%d %dx%d -> %d %s copies %dx%d", p.c, p.h, p.w,
                      p.nc, p.flat ? "flat" : "row", p.ch, p.cw);
    if (p.nrb && nl > 0 && (size_t)nl < sizeof call->note)
        snprintf(call->note + nl, sizeof call->note - (size_t)nl, ", %d bands of %d rows", p.nrb,
                 p.chb);
    return 1;
}

int cg_lower_pattern_conv(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if (n->op != OP_PATTERN_CONV) return 0;
    PatGeom geo;
    if (ir_pattern_geom(g, n, &geo, d)) return -1;
    if (!geo.blocked || geo.k > KPAT_KMAX || geo.nt > KPAT_NTMAX) return 0;
    for (int i = 1; i <= 4; i++)
        if (g->values[n->in[i]].kind != VAL_CONST || !g->values[n->in[i]].data) return 0;
    KPatTile tile = {(int)ir_attr_int(n, "sched_flat", 1), (int)ir_attr_int(n, "sched_rows", 1),
                     (int)ir_attr_int(n, "sched_vecs", 4)};
    /* the call keeps the name's pointer: static strings, one per compiled tile */
    static const char *const names[] = {
#define KPAT_NAME(F, R, U) "k_pattern_conv_" #F "_" #R "_" #U,
        KPAT_TILES(KPAT_NAME)
#undef KPAT_NAME
    };
    const int ti = kpat_tile_index(tile.flat, tile.r, tile.u);
    if (ti < 0) return 0;
    const char *fn = names[ti];
    if (tile.flat != geo.flat) return 0;
    int64_t maxdy = (geo.kh - 1) * geo.dh / geo.sh;
    KPatWalk walk = kpat_walk(&tile, geo.oh, geo.ow, geo.pw, maxdy);
    if (walk.ch != geo.ch || walk.cw != geo.cw) return 0; /* copies not made for this tile walk */
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;

    KPatParams p;
    memset(&p, 0, sizeof p);
    p.tiles = walk.tiles, p.tiles_c = walk.tiles_c;
    /* banded: the copies buffer holds one band of chb rows per copy, reused by every band and
     * image (band_rows above) */
    const int ci = (int)(n - g->nodes);
    p.band_tr = band_rows(g, ci, &tile, &walk, geo.n, geo.c, geo.ncopy, t);
    const int64_t tiles_r = walk.tiles / walk.tiles_c;
    const int64_t chb = p.band_tr ? geo.ch - (tiles_r - p.band_tr) * tile.r : geo.ch;
    p.chan_stride = geo.ncopy * chb * geo.cw;
    p.img_stride = p.band_tr ? 0 : geo.c * p.chan_stride;
    p.m = (int32_t)geo.m, p.mb = (int32_t)((geo.m + KC_VL - 1) / KC_VL);
    p.oh = (int32_t)geo.oh, p.ow = (int32_t)geo.ow, p.pw = (int32_t)geo.pw, p.cw = (int32_t)geo.cw;
    p.ncb = (int32_t)geo.ncb, p.k = (int32_t)geo.k, p.nt = (int32_t)geo.nt;
    p.y_img = (int64_t)p.mb * geo.oh * geo.ow * KC_VL;
    p.act = (int32_t)act.kind, p.alpha = (float)act.alpha, p.beta = (float)act.beta;
    for (int64_t q = 0; q < geo.k; q++) {
        int t = 0;
        for (int64_t bit = 0; bit < geo.kh * geo.kw; bit++) {
            if (!(geo.masks[q] >> bit & 1)) continue;
            int64_t tap[3];
            if (ir_pattern_tap(&geo, bit, tap)) return 0;
            p.off[q][t++] = (int32_t)(tap[0] * chb * geo.cw + tap[1] * geo.cw + tap[2]);
        }
    }
    p.og = (int32_t)ir_attr_int(n, "sched_obs", 1);
    if (p.og < 1 || p.og > KPAT_OGMAX || p.og * kpat_block_acc_bytes(&tile) > KPAT_ACC_BYTES) return 0;
    const int64_t nog = (p.mb + p.og - 1) / p.og;
    p.n_work = geo.n * walk.tiles * nog;
    /* the kernel trusts the tables: check them (a hand-written .ir could hold anything) */
    const int32_t *idx = g->values[n->in[2]].data, *runs = g->values[n->in[3]].data;
    const float *w = g->values[n->in[1]].data;
    const int64_t nruns = (int64_t)p.mb * p.ncb * p.k;
    if (runs[0] != 0 || runs[nruns] != geo.nk) return node_error(d, n, "runs do not cover the kernels");
    for (int64_t r = 0; r < nruns; r++) {
        if (runs[r + 1] < runs[r]) return node_error(d, n, "runs are not increasing");
        const int64_t ob = r / ((int64_t)p.ncb * p.k);
        for (int32_t k = runs[r]; k < runs[r + 1]; k++) {
            const int64_t c = idx[k] >> 4, m = ob * KC_VL + (idx[k] & 15);
            if (idx[k] < 0 || c >= geo.c || m >= geo.m)
                return node_error(d, n, "kernel %d: channel or filter out of range", (int)k);
        }
    }
    /* the records hold channel offsets in bytes as 32-bit words */
    if (p.chan_stride % KC_VL || (double)geo.c * (double)p.chan_stride * 4.0 >= 2147483648.0) return 0;

    /* Re-encode per (group of og blocks, channel block, pattern): the kernels of the group's
     * blocks sorted by channel; the kernels of one channel (for different filters) go in groups
     * of up to gmax (kpat_group_size), the most the tile's registers hold (kpat_gmax), which share
     * their input loads; a record per group (kpat_rec_words: channel byte offset, accumulator
     * byte offsets, weights) in the table of its size G, runs[b][G-1] where block b's groups of
     * size G start. */
    const int gmax = kpat_gmax(tile.r * tile.u, kc_vregs16(t->vector_bits, t->vregs));
    const int64_t nb = nog * p.ncb * p.k, nt = geo.nt, slot_bytes = (int64_t)tile.r * tile.u * KC_VL * 4;
    int32_t *run = xcalloc((size_t)(nb + 1) * KPAT_GMAX, sizeof(int32_t)), *tab[KPAT_GMAX];
    int64_t cnt[KPAT_GMAX] = {0};
    for (int G = 1; G <= KPAT_GMAX; G++) /* at most nk / G groups of G */
        tab[G - 1] = xcalloc((size_t)((geo.nk / G + 16) * kpat_rec_words(G, nt)), sizeof(int32_t));
    int64_t *ent = xmalloc(((size_t)p.og * KC_VL * (size_t)geo.c + 1) * sizeof(int64_t)); /* (c, slot, k) keys */
    for (int64_t gi = 0; gi < nog; gi++)
        for (int64_t cb = 0; cb < p.ncb; cb++)
            for (int64_t q = 0; q < p.k; q++) {
                const int64_t b = (gi * p.ncb + cb) * p.k + q;
                for (int G = 1; G <= KPAT_GMAX; G++) run[b * KPAT_GMAX + G - 1] = (int32_t)cnt[G - 1];
                int64_t ne = 0;
                for (int64_t ob = gi * p.og; ob < gi * p.og + p.og && ob < p.mb; ob++) {
                    const int64_t r = (ob * p.ncb + cb) * p.k + q;
                    for (int32_t k = runs[r]; k < runs[r + 1]; k++) {
                        const int64_t slot = (ob - gi * p.og) * KC_VL + (idx[k] & 15);
                        ent[ne++] = ((int64_t)(idx[k] >> 4) << 40) | (slot << 32) | k; /* sorts by channel, slot */
                    }
                }
                for (int64_t i = 1; i < ne; i++) /* insertion sort: runs are short */
                    for (int64_t j = i; j > 0 && ent[j] < ent[j - 1]; j--) {
                        int64_t tmp = ent[j];
                        ent[j] = ent[j - 1], ent[j - 1] = tmp;
                    }
                for (int64_t i = 0; i < ne;) {
                    const int64_t c = ent[i] >> 40;
                    int64_t rem = 1; /* kernels of channel c left, counted up to gmax + 1 */
                    while (rem <= gmax && i + rem < ne && ent[i + rem] >> 40 == c) rem++;
                    const int G = kpat_group_size(rem, gmax);
                    const int64_t words = kpat_rec_words(G, nt);
                    int32_t *e = tab[G - 1] + cnt[G - 1]++ * words;
                    e[0] = (int32_t)(c * p.chan_stride * 4);
                    for (int j = 0; j < G; j++) {
                        e[1 + j] = (int32_t)(((ent[i + j] >> 32) & 255) * slot_bytes);
                        memcpy(e + 1 + G + j * nt, w + (ent[i + j] & 0xffffffff) * nt, (size_t)nt * sizeof(float));
                    }
                    i += G;
                }
            }
    for (int G = 1; G <= KPAT_GMAX; G++) run[nb * KPAT_GMAX + G - 1] = (int32_t)cnt[G - 1];
    free(ent);

    float *bias = NULL;
    if (posix_memalign((void **)&bias, 64, (size_t)p.mb * KC_VL * sizeof(float))) bias = NULL;
    IR_ASSERT(bias != NULL);
    memset(bias, 0, (size_t)p.mb * KC_VL * sizeof(float));
    memcpy(bias, g->values[n->in[4]].data, (size_t)geo.m * sizeof(float));

    cg_call_init(call, fn);
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, n->in[0]);
    cg_call_blob(call, bias, (size_t)p.mb * KC_VL * sizeof(float), 64);
    if (n->n_in > 5 && n->in[5] >= 0)
        cg_call_value(call, n->in[5]);
    else
        cg_call_none(call);
    cg_call_value(call, n->out[0]);
    cg_call_blob(call, run, (size_t)(nb + 1) * KPAT_GMAX * sizeof(int32_t), 64);
    for (int G = 1; G <= KPAT_GMAX; G++)
        cg_call_blob(call, tab[G - 1], (size_t)((cnt[G - 1] + 1) * kpat_rec_words(G, nt)) * sizeof(int32_t), 64);
    call->n_work = p.n_work;
    call->grain = 1;
    if (p.band_tr) { /* band b of image i: the items of tile rows [b*band_tr, (b+1)*band_tr) */
        const int64_t nb = (tiles_r + p.band_tr - 1) / p.band_tr, per_row = walk.tiles_c * nog;
        call->n_bands = (int)(geo.n * nb);
        for (int64_t i = 0; i < geo.n; i++)
            for (int64_t b = 0; b < nb; b++) {
                const int64_t r1 = (b + 1) * p.band_tr < tiles_r ? (b + 1) * p.band_tr : tiles_r;
                call->band_lo[i * nb + b] = i * walk.tiles * nog + b * p.band_tr * per_row;
                call->band_hi[i * nb + b] = i * walk.tiles * nog + r1 * per_row;
            }
    }
    snprintf(call->note, sizeof call->note,
             "pattern conv %lldx%lld K=%lld NT=%lld NK=%lld tile %s %dx%d cblock %lld, %d blocks/item, "
             "groups of 4/3/2/1 kernels %lld/%lld/%lld/%lld",
             (long long)geo.m, (long long)geo.c, (long long)geo.k, (long long)geo.nt, (long long)geo.nk,
             tile.flat ? "flat" : "rows", tile.r, tile.u, (long long)geo.cblock, (int)p.og, (long long)cnt[3],
             (long long)cnt[2], (long long)cnt[1], (long long)cnt[0]);
    return 1;
}
