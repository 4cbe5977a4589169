/* conv_plan.h — the register-tile choice of the convolution kernels (conv.h, conv_dw.h), in one
 * place for the code that plans a layer (codegen/pack.c) and for any pass that wants to
 * predict or set the schedule (sched_oc_tile / sched_ow_tile) the same way. Header-only C
 * (static inline, integer and double arithmetic only); not part of the kernel bitcode.
 *
 * Dense conv: among the compiled tiles (KCONV_SHAPES) that fit the vector registers and divide
 * the group's output blocks, the cheapest by a cost model fitted to bench/conv_bench on
 * Sapphire Rapids, which simulates the tiles of every work item exactly as conv.h walks them:
 * the tile shape sets the fraction of the FMA peak its fast path reaches (kplan_tile_eff: loads
 * per FMA, FMA latency, register spills); tiles on the gather path (crossing a row, border taps,
 * the partial last tile of an item) cost a little more per tap and waste their unused pixels.
 * A 1x1 stride-1 unpadded conv is walked as one long row (its pixels are contiguous).
 * Depthwise: the tile and whether to compute from a zero-padded copy of the input rows (rows of
 * at most two tiles, where every tile has border taps), by a cost model in cycles: a tile of
 * the copy path or an interior tile of the direct path costs T + 2, a direct tile with border
 * taps 1.5 T + 3, a pointer-path tile (crossing a row, partial) 3 T + 4, a copied vector 1.
 */
#ifndef PPCC_KERNELS_CONV_PLAN_H
#define PPCC_KERNELS_CONV_PLAN_H

#include <stdint.h>

#include "conv_params.h"
#include "kcommon.h"

/* Spatial geometry of a 2-D convolution (leading pads; the trailing ones follow from out). */
typedef struct KConvGeom {
    int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
} KConvGeom;

static inline int64_t kplan_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The geometry conv.h walks: a pointwise conv (1x1, stride 1, no pads) as one row of pixels. */
static inline KConvGeom kplan_conv_geom(const KConvGeom *c)
{
    KConvGeom g = *c;
    if (c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 && c->pw == 0 && c->oh == c->ih &&
        c->ow == c->iw) {
        g.iw = g.ow = c->ih * c->iw;
        g.ih = g.oh = 1;
    }
    return g;
}

/* Output pixels per work item (of the walked geometry) for tiles of t pixels: a row, or enough
 * rows for one tile; a long single row in pieces of about 112 pixels. */
static inline int64_t kplan_conv_pix_per_item(const KConvGeom *g, int t)
{
    if (g->oh == 1) return t * kplan_cdiv(g->ow < 112 ? g->ow : 112, t);
    return g->ow >= t ? g->ow : g->ow * kplan_cdiv(t, g->ow);
}

/* Does a tile of oc x t accumulators (plus oc weights and a broadcast) fit? */
static inline int kplan_tile_fits(int oc, int t, int vector_bits, int vregs)
{
    return (oc * t + oc + 1) * kc_regs_per_v16(vector_bits) <= (vregs > 0 ? vregs : 16);
}

/* Fraction of the FMA peak the fast path of an oc x t tile reaches: more loads per FMA than about
 * 0.65, fewer than 10 accumulators (4-cycle FMA latency on 2 ports) and register spills (the
 * scheduler keeps two broadcasts in flight) each cost. */
static inline double kplan_tile_eff(int oc, int t, int vector_bits, int vregs)
{
    int blocks = kc_vregs16(vector_bits, vregs);
    double acc = oc * t, e = 0.97, lr = (oc + t) / acc;
    if (lr > 0.65) e -= 0.12 * (lr - 0.65);
    if (acc < 10) e *= acc / 10.0;
    if (acc + oc + 2 > blocks - 1) e -= 0.07;
    return e;
}

/* Plain input (ici = 1): its fast path's channel loop is not unrolled as a block's 16 lanes are,
 * so each step of oc x t FMAs carries the loop and address updates, about KPLAN_PLAIN_STEP
 * cycles, which favours more pixels per step; but plain tiles wider than KPLAN_PLAIN_TMAX
 * measured slower (2x12 1.27x the time of 2x7 on inception_v3's first conv, 2x14 1.33x on
 * mobilenet_v2's) or no faster (1x28 against 1x14 on mobilenet_v3_small's). With both, measured
 * on Cascade Lake (build/bench/ab --layers, the tile before against the tile after): 4x4 -> 4x6
 * 0.85x the time on vgg16's first conv, 0.95x and 0.94x on the 7x7 stems of resnet18 and
 * resnet50, 0.96x on squeezenet1_1's; 3x7 -> 3x8 0.93x on convnext_tiny's; 2x7 -> 2x8 0.96x on
 * inception_v3's, 1.01x on mobilenet_v2's; 1x14 -> 1x8 0.85x on mobilenet_v3_small's. */
#define KPLAN_PLAIN_STEP 3.0
#define KPLAN_PLAIN_TMAX 8

/* Cycles per input channel of one image for one output-channel tile (walked geometry g). */
static inline double kplan_conv_cost(const KConvGeom *g, int oc, int t, int has_fast, int plain, int vector_bits,
                                     int vregs)
{
    int64_t npix = g->oh * g->ow, ppi = kplan_conv_pix_per_item(g, t);
    double c_fast = (oc * t / 2.0 + (plain ? KPLAN_PLAIN_STEP : 0.0)) / kplan_tile_eff(oc, t, vector_bits, vregs);
    /* the gather path copies the tile's input per tap: T vectors per 16 lanes of a block, but T
     * scalars (about a store each) per channel of plain input */
    double c_ptr = plain ? c_fast + t : c_fast * (1 + 0.015 * t);
    double total = 0;
    for (int64_t p0 = 0; p0 < npix; p0 += ppi) {
        int64_t p1 = p0 + ppi < npix ? p0 + ppi : npix;
        for (int64_t t0 = p0; t0 < p1; t0 += t) {
            int64_t nv = p1 - t0 < t ? p1 - t0 : t, ow0 = t0 % g->ow;
            if (has_fast && nv == t && ow0 + t <= g->ow) {
                int64_t iwb = ow0 * g->sw - g->pw, nb = 0;
                for (int64_t kw = 0; kw < g->kw; kw++) {
                    int64_t iw0 = iwb + kw * g->dw;
                    nb += iw0 < 0 || iw0 + (t - 1) * g->sw >= g->iw;
                }
                total += ((double)(g->kw - nb) * c_fast + (double)nb * c_ptr) / (double)g->kw;
            } else {
                total += c_ptr;
            }
        }
    }
    return total;
}

/* Dense conv tile for the logical geometry c with ocb_g output blocks and icg input channels
 * (padded to the block size for blocked input) per group: sets *oc, *t and returns 1, or 0 if
 * no compiled tile fits. A requested tile (req_oc, req_t) wins when it is a compiled one that
 * fits and divides ocb_g. Tiles whose weights exceed 768 KB cost 10% more (measured: with the
 * input they no longer stay in a 2 MB L2). */
static inline int kplan_conv_tile(const KConvGeom *c, int64_t ocb_g, int64_t icg, int plain, int vector_bits,
                                  int vregs, int req_oc, int req_t, int *oc, int *t)
{
    static const int shapes[][2] = {
#define KPLAN_SHAPE(OC, T, ...) {OC, T},
        KCONV_SHAPES(KPLAN_SHAPE, )
#undef KPLAN_SHAPE
    };
    const KConvGeom g = kplan_conv_geom(c);
    const int has_fast = g.sw == 1 || g.sw == 2;
    int found = 0;
    double best = 0;
    for (int k = 0; k < (int)(sizeof shapes / sizeof shapes[0]); k++) {
        int o = shapes[k][0], tt = shapes[k][1];
        if (ocb_g % o || !kplan_tile_fits(o, tt, vector_bits, vregs)) continue;
        if (plain && tt > KPLAN_PLAIN_TMAX) continue;
        double cost = kplan_conv_cost(&g, o, tt, has_fast, plain, vector_bits, vregs) / o;
        if ((double)o * 16 * (double)icg * (double)(c->kh * c->kw) * 4 > 768.0 * 1024) cost *= 1.1;
        if (o == req_oc && tt == req_t) cost = -1;
        if (!found || cost < best - 1e-9) found = 1, best = cost, *oc = o, *t = tt;
    }
    return found;
}

/* Output rows per item of the dw kernel's zero-padded copy for tiles of t, at least n_items_min
 * items if possible (0: the copy does not fit, or stride not 1/2). *scr_w: its columns. */
static inline int64_t kplan_dw_scratch_rows(const KConvGeom *c, int64_t n_items, int t, int64_t n_items_min,
                                            int64_t *scr_w)
{
    if (c->sw != 1 && c->sw != 2) return 0;
    *scr_w = (kplan_cdiv(c->ow, t) * t - 1) * c->sw + (c->kw - 1) * c->dw + 1;
    int64_t best = 0;
    for (int64_t r = 1; r <= c->oh; r++) {
        int64_t rows = (r - 1) * c->sh + (c->kh - 1) * c->dh + 1;
        if (rows * *scr_w * 16 > KDW_SCRATCH_FLOATS) break;
        if (r > 1 && n_items * kplan_cdiv(c->oh, r) < n_items_min) break;
        best = r;
    }
    return best;
}

/* Depthwise tile for geometry c with n_items = images x channel blocks: returns T; *scr_rows > 0
 * selects the zero-padded copy path with *scr_rows output rows per item and *scr_w columns. A
 * requested T (req_t) wins when compiled. */
static inline int kplan_dw_tile(const KConvGeom *c, int64_t n_items, int req_t, int64_t *scr_rows, int64_t *scr_w)
{
    static const int tiles[] = {
#define KPLAN_DWT(T, ...) T,
        KDW_SHAPES(KPLAN_DWT, )
#undef KPLAN_DWT
    };
    const int ps_fast = c->sw == 1 || c->sw == 2;
    int best = -1;
    double best_cost = 0;
    *scr_rows = *scr_w = 0;
    for (int k = 0; k < (int)(sizeof tiles / sizeof tiles[0]); k++) {
        int t = tiles[k];
        int64_t ppi = c->ow >= t ? c->ow : c->ow * kplan_cdiv(t, c->ow), npix = c->oh * c->ow;
        double cost = 0;
        for (int64_t p0 = 0; p0 < npix; p0 += ppi) {
            int64_t p1 = p0 + ppi < npix ? p0 + ppi : npix;
            for (int64_t t0 = p0; t0 < p1; t0 += t) {
                int64_t nv = p1 - t0 < t ? p1 - t0 : t, ow0 = t0 % c->ow, iwb = ow0 * c->sw - c->pw;
                int fast = ps_fast && nv == t && ow0 + t <= c->ow;
                int interior = iwb >= 0 && iwb + (c->kw - 1) * c->dw + (t - 1) * c->sw < c->iw;
                cost += !fast ? 3.0 * t + 4.0 : interior ? t + 2.0 : 1.5 * t + 3.0;
            }
        }
        /* the copy pays off when a row has at most two tiles, all with border taps (measured:
         * on wider rows the direct path's interior tiles win) */
        int64_t w = 0, rows = kplan_cdiv(c->ow, t) <= 2 ? kplan_dw_scratch_rows(c, n_items, t, 8, &w) : 0;
        if (rows > 0) {
            int64_t in_rows = (rows - 1) * c->sh + (c->kh - 1) * c->dh + 1;
            double copy = (double)kplan_cdiv(c->oh, rows) * (double)(in_rows * w);
            cost = (double)(c->oh * kplan_cdiv(c->ow, t)) * (t + 2.0) + copy;
        }
        if (t == req_t) cost = -1;
        if (best < 0 || cost < best_cost) best = t, best_cost = cost, *scr_rows = rows, *scr_w = rows ? w : 0;
    }
    return best;
}

/* ---------------------------------------------------------------- Winograd F(2x2,3x3), F(4x4,3x3) (conv_wino.h) */
/* Does the Winograd kernel apply: blocked input, one group, 3x3, stride 1, dilation 1, and a
 * register tile of 6 tiles x 1 block fits (AVX-512: 4 blocks)? */
static inline int kplan_wino_ok(const KConvGeom *c, int64_t group, int blocked, int vector_bits, int vregs)
{
    return blocked && group == 1 && c->kh == 3 && c->kw == 3 && c->sh == 1 && c->sw == 1 && c->dh == 1 &&
           c->dw == 1 && kplan_tile_fits(1, KWINO_TT, vector_bits, vregs);
}

/* Output blocks per work item: the most of 4, 2, 1 whose register tile fits. */
static inline int kplan_wino_ogb(int vector_bits, int vregs)
{
    return kplan_tile_fits(4, KWINO_TT, vector_bits, vregs) ? 4
           : kplan_tile_fits(2, KWINO_TT, vector_bits, vregs) ? 2 : 1;
}

/* Whether an output group's transformed weights (nx x icb*16 x ogb vectors, nx = 16 or 36
 * transform positions) are large enough for the instances that prefetch them (KWINO_UPF_BYTES,
 * kx_wino_*_pf and kx_wino_*_f4pf). */
static inline int kplan_wino_prefetch(int64_t icb, int ogb, int wm)
{
    return (double)(wm + 2) * (wm + 2) * (double)icb * 16 * ogb * 64 > KWINO_UPF_BYTES;
}

/* The output tile's side, 4 (F(4x4,3x3), the _f4 instances) or 2 (F(2x2,3x3)): F(4x4) does 36
 * products per 4x4 tile where F(2x2) does 64 (4 tiles of 16), but its transformed weights U are
 * 36 x C x 64 floats per output group against 16 x C x 64, streamed once per work item, and its
 * tiles cover up to 3 rows and columns past the image. So F(4x4) (where allowed: allow_f4) up to
 * 128 input channels, where the image has at least 16 of its tiles (an item amortises U over enough
 * tiles) and its products are at most 0.8 of F(2x2)'s. Measured on Cascade Lake (kernel alone,
 * min of runs, ms, F(2x2) -> F(4x4)): 64 channels at 56x56 0.90 -> 0.63, 128 at 28x28
 * 0.92 -> 0.72, 64 -> 128 at 112x112 7.8 -> 5.8, 256 at 14x14 1.01 -> 0.93, 128 -> 256 at
 * 14x14 0.49 -> 0.46; 256 -> 512 at 7x7 (4 tiles) 0.85 -> 1.21. In whole models U comes from L3:
 * F(4x4) on resnet18's 256-channel layers took 1.05x the time of F(2x2) there (`build/bench/ab`). */
static inline int kplan_wino_wm(const KConvGeom *c, int64_t icb, int allow_f4)
{
    const int64_t t4 = kplan_cdiv(c->oh, 4) * kplan_cdiv(c->ow, 4), t2 = kplan_cdiv(c->oh, 2) * kplan_cdiv(c->ow, 2);
    return allow_f4 && icb <= 8 && t4 >= 16 && 36 * t4 * 5 <= 16 * t2 * 4 ? 4 : 2;
}

/* Tiles per work item and input blocks per pass for ntiles tiles of side wm, icb input blocks
 * and ogb: as many tiles as the stack scratch of M holds (KWINO_MFLOATS: tiles x ogb x (NX + 1)
 * x 16 floats, NX = (wm + 2)^2 transform positions) and V holds for 4 blocks, spread evenly over
 * the items (F(2x2) below 256 channels: at most 16 tiles); then as many blocks as V holds
 * (NX x (tiles x blocks x 16 + KWINO_VPAD) floats), with prefetched weights at most
 * KWINO_UPF_SLICE_BYTES of them per transform position. Fewer passes save the round trips of
 * M through L2 between them (measured on Cascade Lake, kernel alone, min of 6 runs, against the
 * previous cap of 4 blocks, 2 at 49 tiles: 128 channels at 28x28 8 blocks 0.97x the time, 256
 * at 14x14 4 blocks 0.93x). F(4x4) at 64 channels, 56x56: 12-20 tiles per item within 4%. */
static inline void kplan_wino_blocking(int64_t ntiles, int64_t icb, int ogb, int wm, int64_t *tb, int64_t *chunk)
{
    const int64_t nx = (int64_t)(wm + 2) * (wm + 2);
    const int64_t vrow = KWINO_VFLOATS / nx - KWINO_VPAD; /* floats of one xi's rows */
    int64_t tmax = KWINO_MFLOATS / ((nx + 1) * 16 * ogb);
    if (tmax > vrow / 64) tmax = vrow / 64; /* at least 4 blocks per pass */
    if (wm == 2 && icb < 16 && tmax > 64 / ogb) tmax = 64 / ogb;
    const int64_t n_tb = kplan_cdiv(ntiles, tmax);
    *tb = kplan_cdiv(ntiles, n_tb);
    *chunk = vrow / (16 * *tb);
    if (kplan_wino_prefetch(icb, ogb, wm) && *chunk > KWINO_UPF_SLICE_BYTES / (16 * ogb * 64))
        *chunk = KWINO_UPF_SLICE_BYTES / (16 * ogb * 64);
    if (*chunk > icb) *chunk = icb;
}

/* Predicted cycles of one image: the products (per tile, input and output channel 16 for
 * F(2x2), 36 for F(4x4)) at a fraction of the FMA peak that falls with the input channels (the
 * transformed weights of an item's output group, NX x C x 64 floats, are streamed once per item:
 * from L2 up to 128 channels, beyond from L3). Fitted to bench measurements on Cascade Lake
 * (docs/codegen.md §5): F(2x2) 0.67-0.69 of the peak at 64 channels, 0.62-0.65 at 128, 0.49-0.53
 * at 256, 0.35-0.48 at 512; F(4x4) about 0.8 of that (kernel alone: 64 channels at 56x56 0.61
 * against 0.76). */
static inline double kplan_wino_cycles(const KConvGeom *c, int64_t ic, int64_t oc, int allow_f4)
{
    const int wm = kplan_wino_wm(c, kplan_cdiv(ic, 16), allow_f4);
    const double tiles = (double)(kplan_cdiv(c->oh, wm) * kplan_cdiv(c->ow, wm));
    const double c16 = (double)(kplan_cdiv(ic, 16) * 16), m16 = (double)(kplan_cdiv(oc, 16) * 16);
    double eff = 0.72 - 0.0006 * c16;
    if (eff < 0.3) eff = 0.3;
    if (wm == 4) eff *= 0.8;
    return tiles * (wm + 2) * (wm + 2) * c16 * m16 / 32.0 / eff;
}

/* ---------------------------------------------------------------- sparse Winograd F(4x4,3x3) (conv_swino.h) */
/* A conv the dense Winograd kernel takes goes to the sparse one when it has at most
 * KSW_MAXC input channels and at most KSW_DENSITY_MAX of its kernels (filter x input channel)
 * have a non-zero weight. Past 128 channels (channel chunks, M's round trips through L2, the
 * input transform once per output group) it measured slower than the pattern kernel on every
 * layer of vgg16 at connectivity 0.72 (1.08x at 256 channels on 56x56, 1.3x at 512 on 28x28 and
 * 14x14), at up to 128 channels faster (0.87x and 0.89x on 224x224 and 112x112; single-layer
 * models, build/bench/ab, session 24). */
#define KSW_MAXC 128
#define KSW_DENSITY_MAX 0.4

/* 1 if a conv the dense Winograd kernel takes, with ic input channels, oc filters and nk kernels
 * that have a non-zero weight, goes to the sparse one (the rule above; codegen/pack.c plans it,
 * passes/pattern_group.c predicts it). */
static inline int kplan_swino_ok(int64_t ic, int64_t oc, int64_t nk)
{
    return ic <= KSW_MAXC && (double)nk <= KSW_DENSITY_MAX * (double)(oc * ic);
}

/* Predicted cycles of the sparse Winograd kernel on nk kept kernels, in the units of
 * kplan_wino_cycles and pattern_plan.h's: the products (36 FMAs per kept kernel and vector of 16
 * tiles) at 0.34 of the FMA peak and 300 cycles per tile and block of 16 input or output channels
 * (the transforms, their transposes and the stores), fitted on vgg16's and resnet18's layers of
 * up to 128 channels at connectivity 0.72 (Cascade Lake, session 24: measured against the
 * pattern kernel 0.89-1.37x the time, predicted 1.07-1.22x; within 10% on four of six layers). */
static inline double kplan_swino_cycles(const KConvGeom *c, int64_t ic, int64_t oc, int64_t nk)
{
    const int64_t tiles = kplan_cdiv(c->oh, 4) * kplan_cdiv(c->ow, 4);
    const double fmas = 36.0 * (double)nk * (double)kplan_cdiv(tiles, 16);
    return fmas / 2.0 / 0.34 + 300.0 * (double)tiles * (double)(kplan_cdiv(ic, 16) + kplan_cdiv(oc, 16));
}

#endif
