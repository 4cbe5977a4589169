/* conv.h — the dense blocked convolution kernel (direct convolution on NCHW16c activations,
 * docs/codegen.md), one instance per register tile and input class.
 *
 *   input  x: blocked [N, ICB, IH, IW, 16], or plain [N, IC, IH, IW] (first layers, few channels)
 *   weights: packed by codegen/pack.c, per output-channel tile og (oc_tile blocks):
 *            [og][icb][kh][kw][ici][oc_tile][16]   (ici = 16 lanes for blocked input, 1 for plain;
 *            icb runs over the group's input blocks, or its channels for plain input)
 *   bias   : [OCB * 16], zero in padded lanes
 *   residual (optional, same layout as y) and output y: blocked [N, OCB, OH, OW, 16]
 *   y = act(conv(x, w) + bias + residual); padded output lanes get act(0) (zero weights/bias),
 *   then 0 where act(0) != 0 (KConvParams.keep_lanes: the padded-lane rule, docs/codegen.md §1).
 *
 * Register tile: OC output-channel blocks x T output pixels = OC*T vector accumulators. For every
 * input channel: OC weight vectors are loaded, each of the T input scalars is broadcast and
 * multiplied into the OC accumulators of its pixel (FMA). The input-channel loop of a block
 * (ICI = 16) is unrolled. Pixels are the item's output pixels in row-major order, T at a time:
 *   - a tile inside one output row whose taps all fall inside the input row ("interior") reads
 *     the input at compile-time offsets j*PS from one pointer (PS = 16*stride blocked, stride
 *     plain): the fast path;
 *   - tiles crossing a row, tiles at the borders (padding) and the last, partial tile of an item
 *     first gather, per tap and input block, their T input pixels into a small buffer (zeros
 *     where the tap falls into the padding, and past the item's end) and run the same code on
 *     it: the gather path. Instances with PS = 0 (strides other than 1, 2) use the gather path
 *     everywhere.
 *   - plain input with kernels at least 5 wide, in items of one output row (p->scr_w > 0): the
 *     item first copies its input rows with their zero padding onto the stack, and every tile,
 *     the last, partial one included, runs the fast path on the copy (kconv_item_rows).
 * Loop order per item: input-block chunks (icb_chunk blocks; the planner makes it all of them
 * unless the weights are very large) outside, tiles inside; partial sums go through y between
 * chunks. Inside a tile: taps, then input blocks (the gather path's pixel offsets are computed
 * once per tap). The first chunk starts from bias + residual (so a residual may share y's buffer),
 * the last applies the activation. The fast path walks the taps backwards on every other tile of
 * an item (`rev`), so the weights the last tile read last, still in L1, are the first the next
 * reads (a tile that reads more weights than L1 holds would otherwise miss on all of them: the
 * 37 KB of resnet18's 7x7 stem on a 32 KB L1, 0.94x the time; no change on the other layers).
 *
 * Work item = (image n, output-channel tile og, pixel group pg of pix_per_item pixels), pg
 * fastest so consecutive items (one thread's range) reuse the tile's weights.
 * Buffers: 0 = x, 1 = packed weights, 2 = bias, 3 = residual or NULL, 4 = y.
 *
 * Instances (KCONV_SHAPES x KCONV_CLASSES): k_conv_<class>_<OC>x<T>_range here, exported as
 * kx_conv_<class>_<OC>x<T>_range by conv.c; the lowering (codegen/lower_conv.c) picks one by
 * name. Classes: b1/b2 blocked stride 1/2, bg blocked any stride (gather path), p1/p2/pg the
 * same for plain input.
 */
#ifndef PPCC_KERNELS_CONV_H
#define PPCC_KERNELS_CONV_H

#include "kcommon.h"
#include "conv_params.h"

KC_INLINE int64_t k_conv_work(const KConvParams *p) { return p->n_work; }

/* Accumulator tile in memory between the phases of a tile: [OC][T][16]. */
#define KCONV_ACCMAX (KCONV_OCMAX * KCONV_TMAX)

KC_INLINE void kconv_acc_load(kc_v16 acc[KCONV_OCMAX][KCONV_TMAX], const float *m, const int OC, const int T)
{
    KC_UNROLL
    for (int o = 0; o < OC; o++)
        KC_UNROLL
        for (int j = 0; j < T; j++) acc[o][j] = kc_load(m + (o * T + j) * KC_VL);
}

KC_INLINE void kconv_acc_store(kc_v16 acc[KCONV_OCMAX][KCONV_TMAX], float *m, const int OC, const int T)
{
    KC_UNROLL
    for (int o = 0; o < OC; o++)
        KC_UNROLL
        for (int j = 0; j < T; j++) kc_store(m + (o * T + j) * KC_VL, acc[o][j]);
}

/* The activations without a short inline form, applied in place to n stored vectors. */
static __attribute__((noinline, unused)) void kconv_act_inplace(float *y, int64_t n, int act, float alpha,
                                                               float beta)
{
    for (int64_t k = 0; k < n; k++) kc_store(y + k * KC_VL, kc_act(act, kc_load(y + k * KC_VL), alpha, beta));
}

/* Store a full tile of accumulators to y (block stride y_blk) with the activation. */
KC_INLINE void kconv_store_regs(const KConvParams *p, kc_v16 acc[KCONV_OCMAX][KCONV_TMAX], float *yt, const int OC,
                                const int T)
{
    const int act = p->act;
    const kc_v16 zero = kc_splat(0.0f);
    if (act == KC_ACT_RELU) {
        KC_UNROLL
        for (int o = 0; o < OC; o++)
            KC_UNROLL
            for (int j = 0; j < T; j++) kc_store(yt + o * p->y_blk + j * KC_VL, kc_sel(acc[o][j] < zero, zero, acc[o][j]));
    } else if (act == KC_ACT_CLIP) {
        const kc_v16 lo = kc_splat(p->alpha), hi = kc_splat(p->beta);
        KC_UNROLL
        for (int o = 0; o < OC; o++)
            KC_UNROLL
            for (int j = 0; j < T; j++) {
                kc_v16 v = kc_sel(acc[o][j] < lo, lo, acc[o][j]);
                kc_store(yt + o * p->y_blk + j * KC_VL, kc_sel(v > hi, hi, v));
            }
    } else {
        KC_UNROLL
        for (int o = 0; o < OC; o++)
            KC_UNROLL
            for (int j = 0; j < T; j++) kc_store(yt + o * p->y_blk + j * KC_VL, acc[o][j]);
        if (act != KC_ACT_NONE)
            for (int o = 0; o < OC; o++) kconv_act_inplace(yt + o * p->y_blk, T, act, p->alpha, p->beta);
    }
}

/* Fast path of one tile inside an output row (input row base ihb, column base iwb of pixel 0):
 * every tap whose input row is valid and whose T input columns are all inside the row, over
 * input blocks [c0, c1). acc[o][j] += w[i][o] * x[j*PS + i]. The accumulators come from and go
 * back to accm, or, given yt (a tile needing no other pass), start from bias bt (+ residual rt)
 * and end as the activated output at yt. rev: taps in reverse order. */
KC_INLINE void kconv_fast_body(const KConvParams *p, float *accm, const float *xg, const float *wg, int32_t c0,
                               int32_t c1, int32_t ihb, int32_t iwb, const float *bt, const float *rt, float *yt,
                               int rev, const int OC, const int T, const int ICI, const int PS)
{
    kc_v16 acc[KCONV_OCMAX][KCONV_TMAX];
    if (yt) {
        /* the whole tile in one call: start from bias + residual, end with the output */
        KC_UNROLL
        for (int o = 0; o < OC; o++)
            KC_UNROLL
            for (int j = 0; j < T; j++)
                acc[o][j] = rt ? kc_load(bt + o * KC_VL) + kc_load(rt + o * p->y_blk + j * KC_VL) : kc_load(bt + o * KC_VL);
    } else {
        kconv_acc_load(acc, accm, OC, T);
    }
    const int64_t taps = (int64_t)p->kh * p->kw, wtap = (int64_t)ICI * OC * KC_VL;
    for (int32_t qh = 0; qh < p->kh; qh++) {
        const int32_t kh = rev ? p->kh - 1 - qh : qh;
        const int32_t ih = ihb + kh * p->dh;
        if (ih < 0 || ih >= p->ih) continue;
        for (int32_t qw = 0; qw < p->kw; qw++) {
            const int32_t kw = rev ? p->kw - 1 - qw : qw;
            const int32_t iw0 = iwb + kw * p->dw;
            if (iw0 < 0 || iw0 + (T - 1) * p->sw >= p->iw) continue;
            const float *xb = xg + c0 * p->x_blk + ih * p->x_row + iw0 * p->x_pix;
            const float *wp = wg + (c0 * taps + kh * p->kw + kw) * wtap;
            for (int32_t c = c0; c < c1; c++, xb += p->x_blk, wp += taps * wtap) {
                KC_UNROLL
                for (int i = 0; i < ICI; i++) {
                    kc_v16 wv[KCONV_OCMAX];
                    KC_UNROLL
                    for (int o = 0; o < OC; o++) wv[o] = kc_load(wp + (i * OC + o) * KC_VL);
                    KC_UNROLL
                    for (int j = 0; j < T; j++) {
                        kc_v16 xv = kc_splat(xb[j * PS + i]);
                        KC_UNROLL
                        for (int o = 0; o < OC; o++) acc[o][j] += wv[o] * xv;
                    }
                }
            }
        }
    }
    if (yt)
        kconv_store_regs(p, acc, yt, OC, T);
    else
        kconv_acc_store(acc, accm, OC, T);
}

/* Gather path of one tile: pixel j's tap (0, 0) reads input row hb[j], column wb[j]. Taps that
 * no pixel reads are skipped; with skip_full, so are taps every pixel reads (the fast path did
 * them). Per tap and input block the T pixels are copied into a small buffer (zeros where the
 * tap falls into the padding) that the fast path's code then reads. */
KC_INLINE void kconv_ptr_body(const KConvParams *p, float *accm, const float *xg, const float *wg, int32_t c0,
                              int32_t c1, const int32_t *hb, const int32_t *wb, int skip_full,
                              const int OC, const int T, const int ICI)
{
    kc_v16 acc[KCONV_OCMAX][KCONV_TMAX];
    float buf[KCONV_TMAX * KC_VL] __attribute__((aligned(64)));
    kconv_acc_load(acc, accm, OC, T);
    const int64_t taps = (int64_t)p->kh * p->kw, wtap = (int64_t)ICI * OC * KC_VL;
    for (int32_t kh = 0; kh < p->kh; kh++)
        for (int32_t kw = 0; kw < p->kw; kw++) {
            int64_t off[KCONV_TMAX];
            int nvalid = 0;
            for (int j = 0; j < T; j++) {
                int32_t ih = hb[j] + kh * p->dh, iw = wb[j] + kw * p->dw;
                int ok = ih >= 0 && ih < p->ih && iw >= 0 && iw < p->iw;
                off[j] = ok ? ih * p->x_row + iw * p->x_pix : -1;
                nvalid += ok;
            }
            if (nvalid == 0 || (skip_full && nvalid == T)) continue;
            const float *wp = wg + (c0 * taps + kh * p->kw + kw) * wtap;
            for (int32_t c = c0; c < c1; c++, wp += taps * wtap) {
                /* gather the tile's input pixels (zeros in the padding) into buf, then the
                 * fast path's tap on buf: the same register allocation, no pointer per pixel */
                const float *xc = xg + c * p->x_blk;
                KC_BARRIER(); /* keep the gather out of the FMA stream (register pressure) */
                if (ICI == KC_VL) {
                    KC_UNROLL
                    for (int j = 0; j < T; j++)
                        kc_store(buf + j * KC_VL, kc_load(off[j] >= 0 ? xc + off[j] : kc_zero16));
                } else {
                    KC_UNROLL
                    for (int j = 0; j < T; j++) buf[j * ICI] = off[j] >= 0 ? xc[off[j]] : 0.0f;
                }
                KC_BARRIER_ON(buf); /* read buf back: no broadcasts straight from the pixels */
                KC_UNROLL
                for (int i = 0; i < ICI; i++) {
                    kc_v16 wv[KCONV_OCMAX];
                    KC_UNROLL
                    for (int o = 0; o < OC; o++) wv[o] = kc_load(wp + (i * OC + o) * KC_VL);
                    KC_UNROLL
                    for (int j = 0; j < T; j++) {
                        kc_v16 xv = kc_splat(buf[j * ICI + i]);
                        KC_UNROLL
                        for (int o = 0; o < OC; o++) acc[o][j] += wv[o] * xv;
                    }
                }
            }
        }
    kconv_acc_store(acc, accm, OC, T);
}

/* Write the tile's nv valid pixels from accm to y; `last`: with the activation. */
KC_INLINE void kconv_store(const KConvParams *p, const float *accm, float *yt, int nv, int last, const int OC,
                           const int T)
{
    const int act = last ? p->act : KC_ACT_NONE;
    const kc_v16 zero = kc_splat(0.0f);
    const kc_v16 lo = kc_splat(act == KC_ACT_CLIP ? p->alpha : 0.0f);
    const kc_v16 hi = kc_splat(act == KC_ACT_CLIP ? p->beta : 0.0f);
    const kc_v16 sl = kc_splat(act == KC_ACT_LEAKY_RELU ? p->alpha : 0.0f);
    for (int o = 0; o < OC; o++) {
        float *yo = yt + o * p->y_blk;
        const float *ao = accm + o * T * KC_VL;
        for (int j = 0; j < nv; j++) {
            kc_v16 v = kc_load(ao + j * KC_VL);
            if (act == KC_ACT_RELU)
                v = kc_sel(v < zero, zero, v);
            else if (act == KC_ACT_CLIP)
                v = kc_sel(v > hi, hi, kc_sel(v < lo, lo, v));
            else if (act == KC_ACT_LEAKY_RELU)
                v = kc_sel(v < zero, v * sl, v);
            kc_store(yo + j * KC_VL, v);
        }
        if (act > KC_ACT_CLIP) kconv_act_inplace(yo, nv, act, p->alpha, p->beta);
    }
}

/* Pixel table of one tile for the gather path: pixel j's tap (0, 0) reads input row hb[j],
 * column wb[j]; pixels past the item's end get row -2^30 (no tap valid). */
KC_INLINE void kconv_tile_coords(const KConvParams *p, int64_t t0, int nv, const int T, int32_t *hb,
                                 int32_t *wb)
{
    int32_t oh = (int32_t)(t0 / p->ow), ow = (int32_t)(t0 - (int64_t)oh * p->ow);
    for (int j = 0; j < T; j++) {
        hb[j] = j < nv ? oh * p->sh - p->ph : -(1 << 30);
        wb[j] = ow * p->sw - p->pw;
        if (++ow == p->ow) ow = 0, oh++;
    }
}

typedef void (*KConvFastFn)(const KConvParams *, float *, const float *, const float *, int32_t, int32_t,
                            int32_t, int32_t, const float *, const float *, float *, int);
typedef void (*KConvPtrFn)(const KConvParams *, float *, const float *, const float *, int32_t, int32_t,
                           const int32_t *, const int32_t *, int);

/* Start a tile's accumulators in accm ([OC][T][16]) for its nv valid pixels: from the partial
 * sums in y (yp, a later input-block chunk), else from the bias bt (+ the residual rt); pixels
 * past nv start from 0 (partial sums) or the bias. */
KC_INLINE void kconv_acc_begin(const KConvParams *p, float *accm, const float *bt, const float *rt, const float *yp,
                               int nv, const int OC, const int T)
{
    for (int o = 0; o < OC; o++) {
        const kc_v16 b = kc_load(bt + o * KC_VL);
        for (int j = 0; j < T; j++) {
            kc_v16 v = kc_splat(0.0f);
            if (yp)
                v = j < nv ? kc_load(yp + o * p->y_blk + j * KC_VL) : v;
            else
                v = rt && j < nv ? b + kc_load(rt + o * p->y_blk + j * KC_VL) : b;
            kc_store(accm + (o * T + j) * KC_VL, v);
        }
    }
}

/* One work item of plain input (ICI = 1, fast path) with a row copy (p->scr_w > 0): the
 * item is output row oh0, all channels in one pass. The input rows its taps read that exist are
 * copied with the zero padding around them (columns: pw zeros, the row, zeros up to scr_w, which
 * covers the last tile's T pixels) into a stack buffer, so every tile takes the fast path: no
 * border taps to gather, and the last, partial tile computes T pixels and stores its nv. Rows
 * outside the input are not copied; the fast path skips their taps as it does without the copy. */
KC_INLINE void kconv_item_rows(const KConvParams *p, const float *xg, const float *wg, const float *bias,
                               const float *rb, float *yb, int64_t ocb0, int64_t pix0, int64_t pix1,
                               KConvFastFn fast, const int OC, const int T)
{
    float buf[KCONV_SCRATCH_FLOATS] __attribute__((aligned(64)));
    float accm[KCONV_ACCMAX * KC_VL] __attribute__((aligned(64)));
    const int32_t oh0 = (int32_t)(pix0 / p->ow), ih0 = oh0 * p->sh - p->ph;
    const int32_t rows = (p->kh - 1) * p->dh + 1, W = p->scr_w;
    int32_t r0 = ih0 < 0 ? -ih0 : 0, r1 = ih0 + rows > p->ih ? p->ih - ih0 : rows; /* copied rows [r0, r1) */
    if (r1 < r0) r1 = r0;
    const int32_t nr = r1 - r0;
    const int32_t lo = p->pw < W ? p->pw : W, hi = p->pw + p->iw < W ? p->pw + p->iw : W; /* the row's columns */
    for (int32_t c = 0; c < p->icb_g; c++)
        for (int32_t r = 0; r < nr; r++) {
            const float *src = xg + c * p->x_blk + (int64_t)(ih0 + r0 + r) * p->x_row;
            float *dst = buf + (c * nr + r) * W;
            for (int32_t j = 0; j < lo; j++) dst[j] = 0.0f;
            for (int32_t j = lo; j < hi; j++) dst[j] = src[j - p->pw];
            for (int32_t j = hi; j < W; j++) dst[j] = 0.0f;
        }
    KConvParams q = *p; /* the copy's geometry: row ih0 + r0 is its row 0, column -pw its column 0 */
    q.x_blk = (int64_t)nr * W, q.x_row = W, q.x_pix = 1, q.ih = nr, q.iw = W;
    for (int64_t t0 = pix0; t0 < pix1; t0 += T) {
        const int nv = pix1 - t0 < T ? (int)(pix1 - t0) : T;
        const int32_t iwb = (int32_t)(t0 - pix0) * p->sw;
        const int rev = ((t0 - pix0) / T) & 1; /* every other tile's taps backwards */
        float *yt = yb + t0 * KC_VL;
        const float *rt = rb ? rb + t0 * KC_VL : 0;
        if (nv == T) {
            fast(&q, accm, buf, wg, 0, p->icb_g, -r0, iwb, bias + ocb0 * KC_VL, rt, yt, rev);
            continue;
        }
        kconv_acc_begin(p, accm, bias + ocb0 * KC_VL, rt, 0, nv, OC, T);
        fast(&q, accm, buf, wg, 0, p->icb_g, -r0, iwb, 0, 0, 0, rev);
        kconv_store(p, accm, yt, nv, 1, OC, T);
    }
}

/* The tiles of one item, input-block chunk by chunk: the fast path where a tile lies inside an
 * output row, the gather path for its border taps and for the other tiles. */
KC_INLINE void kconv_item_tiles(const KConvParams *p, const float *xg, const float *wg, const float *bias,
                                const float *rb, float *yb, int64_t ocb0, int64_t pix0, int64_t pix1,
                                KConvFastFn fast, KConvPtrFn ptr, const int OC, const int T, const int PS)
{
    float accm[KCONV_ACCMAX * KC_VL] __attribute__((aligned(64)));
    for (int32_t c0 = 0; c0 < p->icb_g; c0 += p->icb_chunk) {
        const int32_t c1 = c0 + p->icb_chunk < p->icb_g ? c0 + p->icb_chunk : p->icb_g;
        for (int64_t t0 = pix0; t0 < pix1; t0 += T) {
            const int nv = pix1 - t0 < T ? (int)(pix1 - t0) : T;
            float *yt = yb + t0 * KC_VL;
            const int32_t oh0 = (int32_t)(t0 / p->ow), ow0 = (int32_t)(t0 - (int64_t)oh0 * p->ow);
            const int32_t ihb = oh0 * p->sh - p->ph, iwb = ow0 * p->sw - p->pw;
            const int in_row = PS != 0 && nv == T && ow0 + T <= p->ow;
            const int border = iwb < 0 || iwb + (p->kw - 1) * p->dw + (T - 1) * p->sw >= p->iw;
            const int rev = ((t0 - pix0) / T) & 1; /* every other tile's taps backwards */
            if (in_row && !border && c0 == 0 && c1 == p->icb_g) {
                /* the common case: one call computes the tile from bias to output */
                fast(p, accm, xg, wg, c0, c1, ihb, iwb, bias + ocb0 * KC_VL, rb ? rb + t0 * KC_VL : 0, yt, rev);
                continue;
            }
            kconv_acc_begin(p, accm, bias + ocb0 * KC_VL, rb ? rb + t0 * KC_VL : 0, c0 > 0 ? yt : 0, nv, OC, T);
            int32_t hb[KCONV_TMAX], wb[KCONV_TMAX];
            kconv_tile_coords(p, t0, nv, T, hb, wb);
            if (in_row) {
                /* inside one output row: fast path, then the border taps if there are any */
                fast(p, accm, xg, wg, c0, c1, ihb, iwb, 0, 0, 0, rev);
                if (border) ptr(p, accm, xg, wg, c0, c1, hb, wb, 1);
            } else {
                ptr(p, accm, xg, wg, c0, c1, hb, wb, 0);
            }
            kconv_store(p, accm, yt, nv, c1 == p->icb_g, OC, T);
        }
    }
}

/* One work item: image n, output-channel tile og, output pixels [pix0, pix1). */
KC_INLINE void kconv_item(const KConvParams *p, const float *x, const float *w, const float *bias,
                          const float *res, float *y, int64_t n, int64_t og, int64_t pix0, int64_t pix1,
                          KConvFastFn fast, KConvPtrFn ptr, const int OC, const int T, const int PS)
{
    const int64_t ocb0 = og * OC, grp = ocb0 / p->ocb_g;
    const float *xg = x + n * p->x_img + grp * p->icb_g * p->x_blk;
    const float *wg = w + og * p->w_og;
    float *yb = y + n * p->y_img + ocb0 * p->y_blk;
    const float *rb = p->has_res ? res + n * p->y_img + ocb0 * p->y_blk : 0;
    if (PS != 0 && PS < KC_VL && p->scr_w > 0) /* plain input (PS = its stride) with a row copy */
        kconv_item_rows(p, xg, wg, bias, rb, yb, ocb0, pix0, pix1, fast, OC, T);
    else
        kconv_item_tiles(p, xg, wg, bias, rb, yb, ocb0, pix0, pix1, fast, ptr, OC, T, PS);
    /* an activation with act(0) != 0 wrote it into the last block's padded lanes: zero them */
    if (p->keep_lanes && (ocb0 + OC) * p->y_blk == p->y_img) {
        float *yl = yb + (OC - 1) * p->y_blk;
        for (int64_t t = pix0; t < pix1; t++)
            for (int l = p->keep_lanes; l < KC_VL; l++) yl[t * KC_VL + l] = 0.0f;
    }
}

/* Work items [begin, end) of one instance. */
KC_INLINE void kconv_range(const void *params, void *const *bufs, int64_t begin, int64_t end, KConvFastFn fast,
                           KConvPtrFn ptr, const int OC, const int T, const int PS)
{
    const KConvParams *p = params;
    const float *x = bufs[0], *w = bufs[1], *bias = bufs[2], *res = bufs[3];
    float *y = bufs[4];
    const int64_t npix = (int64_t)p->oh * p->ow;
    for (int64_t it = begin; it < end; it++) {
        int64_t pg = it % p->n_pg, rest = it / p->n_pg;
        int64_t og = rest % p->n_og, n = rest / p->n_og;
        int64_t pix0 = pg * p->pix_per_item;
        int64_t pix1 = pix0 + p->pix_per_item < npix ? pix0 + p->pix_per_item : npix;
        kconv_item(p, x, w, bias, res, y, n, og, pix0, pix1, fast, ptr, OC, T, PS);
    }
}

#define KCONV_RANGE_DEFINE(OC, T, CLS, ICI, PS)                                                   \
    static __attribute__((noinline, unused)) void kconv_fast_##CLS##_##OC##x##T(                  \
        const KConvParams *p, float *accm, const float *xg, const float *wg, int32_t c0,          \
        int32_t c1, int32_t ihb, int32_t iwb, const float *bt, const float *rt, float *yt, int rev) \
    {                                                                                             \
        kconv_fast_body(p, accm, xg, wg, c0, c1, ihb, iwb, bt, rt, yt, rev, OC, T, ICI, PS);      \
    }                                                                                             \
    static __attribute__((noinline, unused)) void kconv_ptr_##CLS##_##OC##x##T(                   \
        const KConvParams *p, float *accm, const float *xg, const float *wg, int32_t c0,          \
        int32_t c1, const int32_t *hb, const int32_t *wb, int skip_full)                          \
    {                                                                                             \
        kconv_ptr_body(p, accm, xg, wg, c0, c1, hb, wb, skip_full, OC, T, ICI);                   \
    }                                                                                             \
    KC_INLINE void k_conv_##CLS##_##OC##x##T##_range(const void *params, void *const *bufs,      \
                                                     int64_t begin, int64_t end)                 \
    {                                                                                             \
        kconv_range(params, bufs, begin, end, kconv_fast_##CLS##_##OC##x##T,                      \
                    kconv_ptr_##CLS##_##OC##x##T, OC, T, PS);                                     \
    }
#define KCONV_RANGE_CLASS(CLS, ICI, PS) KCONV_SHAPES(KCONV_RANGE_DEFINE, CLS, ICI, PS)
KCONV_CLASSES(KCONV_RANGE_CLASS)

/* The exported wrappers (conv.c). */
#define KCONV_DECLARE(OC, T, CLS, ICI, PS) \
    void kx_conv_##CLS##_##OC##x##T##_range(const void *params, void *const *bufs, int64_t begin, int64_t end);
#define KCONV_DECLARE_CLASS(CLS, ICI, PS) KCONV_SHAPES(KCONV_DECLARE, CLS, ICI, PS)
KCONV_CLASSES(KCONV_DECLARE_CLASS)

#endif
