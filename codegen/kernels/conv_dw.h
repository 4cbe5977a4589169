/* conv_dw.h — depthwise convolution (group == C == OC, one filter per channel) on NCHW16c
 * activations (docs/codegen.md), vectorised over the 16 channels of a block.
 *
 *   input  x: blocked [N, CB, IH, IW, 16]
 *   weights: packed by codegen/pack.c as [CB][KH][KW][16] (zero in padded lanes)
 *   bias   : [CB * 16]
 *   residual (optional, same layout as y) and output y: blocked [N, CB, OH, OW, 16]
 *   y = act(dwconv(x, w) + bias + residual)
 *
 * Register tile: T output pixels of one channel block (T vector accumulators). Per kernel tap
 * one weight vector is loaded and each pixel's input vector multiplied into its accumulator.
 * Stride 1/2 (scr_rows > 0, the planner's choice when it fits 24 KB): the item's input rows are
 * first copied with their zero padding into a stack buffer, so all tiles read it at
 * compile-time offsets without border cases. Otherwise (direct path):
 * as in conv.h, a tile inside one output row whose tap falls inside the input row reads the
 * input at compile-time offsets j*PS (PS = 16*stride) from one pointer; border taps, tiles
 * crossing rows and the partial last tile of an item go through one pointer per pixel (the zero
 * vector kc_zero16 in the padding); border taps of a tile inside a row skip the pixels that
 * fall into the padding. Instances: k_dwconv_<class>_<T>_range, classes s1, s2 (stride 1, 2),
 * s1k3, s2k3 (the same for kernel width 3 without column dilation: the taps unroll and share
 * input loads) and sg (any stride, pointer path only), exported as kx_dwconv_... by conv.c.
 *
 * Work item = (image n, channel block cb, pixel group pg of pix_per_item pixels).
 * Buffers: 0 = x, 1 = packed weights, 2 = bias, 3 = residual or NULL, 4 = y.
 */
#ifndef PPCC_KERNELS_CONV_DW_H
#define PPCC_KERNELS_CONV_DW_H

#include "kcommon.h"
#include "conv_params.h"

#define KDW_KWMAX 16 /* widest kernel of the row fast path (wider ones take the pointer path) */

KC_INLINE int64_t k_dwconv_work(const KDwParams *p) { return p->n_work; }

/* Store the tile's nv valid pixels with the activation. */
KC_INLINE void kdw_store(const KDwParams *p, const kc_v16 *acc, float *yt, int nv, const int T)
{
    const int act = p->act;
    if (act == KC_ACT_NONE || act == KC_ACT_RELU || act == KC_ACT_CLIP) {
        const kc_v16 lo = kc_splat(act == KC_ACT_CLIP ? p->alpha : 0.0f);
        const kc_v16 hi = kc_splat(act == KC_ACT_CLIP ? p->beta : 0.0f);
        KC_UNROLL
        for (int j = 0; j < T; j++) {
            kc_v16 v = acc[j];
            if (act != KC_ACT_NONE) v = kc_sel(v < lo, lo, v);
            if (act == KC_ACT_CLIP) v = kc_sel(v > hi, hi, v);
            if (j < nv) kc_store(yt + j * KC_VL, v);
        }
    } else {
        KC_UNROLL
        for (int j = 0; j < T; j++)
            if (j < nv) kc_store(yt + j * KC_VL, acc[j]);
        for (int j = 0; j < nv; j++)
            kc_store(yt + j * KC_VL, kc_act(act, kc_load(yt + j * KC_VL), p->alpha, p->beta));
    }
}

/* One tile of T pixels starting at t0 (nv of them valid) of block xb -> yt. KW != 0: the
 * kernel width is KW and the column dilation 1 (compile time, so the tap loop unrolls and
 * input vectors shared by neighbouring taps are loaded once). */
KC_INLINE void kdw_tile(const KDwParams *p, const float *xb, const float *wb, kc_v16 b, const float *rt,
                        float *yt, int64_t t0, int nv, const int T, const int PS, const int KW)
{
    const int32_t kwn = KW ? KW : p->kw, dw = KW ? 1 : p->dw;
    kc_v16 acc[KDW_TMAX];
    KC_UNROLL
    for (int j = 0; j < T; j++) acc[j] = rt && j < nv ? b + kc_load(rt + j * KC_VL) : b;
    const int32_t oh0 = (int32_t)(t0 / p->ow), ow0 = (int32_t)(t0 - (int64_t)oh0 * p->ow);
    if (PS != 0 && nv == T && ow0 + T <= p->ow && kwn <= KDW_KWMAX) {
        /* inside one output row: tap kw reads inside the input row for pixels jlo <= j < jhi */
        const int32_t sw = PS / KC_VL, ihb = oh0 * p->sh - p->ph, iwb = ow0 * sw - p->pw;
        int32_t jlo[KDW_KWMAX], jhi[KDW_KWMAX];
        int interior = 1;
        for (int32_t kw = 0; kw < kwn; kw++) {
            const int32_t iw0 = iwb + kw * dw;
            int32_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw, hi = iw0 >= p->iw ? 0 : (p->iw - 1 - iw0) / sw + 1;
            jhi[kw] = hi > T ? T : hi;
            jlo[kw] = lo > jhi[kw] ? jhi[kw] : lo;
            interior &= jlo[kw] == 0 && jhi[kw] == T;
        }
        for (int32_t kh = 0; kh < p->kh; kh++) {
            const int32_t ih = ihb + kh * p->dh;
            if (ih < 0 || ih >= p->ih) continue;
            const float *xr = xb + (int64_t)ih * p->iw * KC_VL;
            const float *wr = wb + kh * kwn * KC_VL;
            if (interior) {
                const float *xp = xr + (int64_t)iwb * KC_VL;
                if (KW) {
                    KC_UNROLL
                    for (int32_t kw = 0; kw < KW; kw++) {
                        const kc_v16 w = kc_load(wr + kw * KC_VL);
                        KC_UNROLL
                        for (int j = 0; j < T; j++) acc[j] += kc_load(xp + (kw * KC_VL + j * PS)) * w;
                    }
                } else {
                    for (int32_t kw = 0; kw < kwn; kw++) {
                        const kc_v16 w = kc_load(wr + kw * KC_VL);
                        KC_UNROLL
                        for (int j = 0; j < T; j++) acc[j] += kc_load(xp + (kw * dw * KC_VL + j * PS)) * w;
                    }
                }
                continue;
            }
            for (int32_t kw = 0; kw < kwn; kw++) {
                const int32_t lo = jlo[kw], hi = jhi[kw];
                const kc_v16 w = kc_load(wr + kw * KC_VL);
                const int64_t xo = (int64_t)(iwb + kw * dw) * KC_VL; /* pixel 0's column (maybe outside) */
                if (lo == 0 && hi == T) {
                    KC_UNROLL
                    for (int j = 0; j < T; j++) acc[j] += kc_load(xr + (xo + j * PS)) * w;
                } else {
                    KC_UNROLL
                    for (int j = 0; j < T; j++)
                        if (j >= lo && j < hi) acc[j] += kc_load(xr + (xo + j * PS)) * w;
                }
            }
        }
    } else {
        int32_t hb[KDW_TMAX], wbase[KDW_TMAX];
        int32_t oh = oh0, ow = ow0;
        for (int j = 0; j < T; j++) {
            hb[j] = j < nv ? oh * p->sh - p->ph : -(1 << 30);
            wbase[j] = ow * p->sw - p->pw;
            if (++ow == p->ow) ow = 0, oh++;
        }
        for (int32_t kh = 0; kh < p->kh; kh++)
            for (int32_t kw = 0; kw < kwn; kw++) {
                const kc_v16 w = kc_load(wb + (kh * kwn + kw) * KC_VL);
                KC_UNROLL
                for (int j = 0; j < T; j++) {
                    int32_t ih = hb[j] + kh * p->dh, iw = wbase[j] + kw * dw;
                    const float *xp = ih >= 0 && ih < p->ih && iw >= 0 && iw < p->iw
                                          ? xb + ((int64_t)ih * p->iw + iw) * KC_VL
                                          : kc_zero16;
                    acc[j] += kc_load(xp) * w;
                }
            }
    }
    kdw_store(p, acc, yt, nv, T);
}

/* One item from a zero-padded copy of its input rows: output rows [r0, r1) of block xb. The
 * copy holds input rows r0*SH - PH ... and columns -PW ... (scr_w of them, enough for full tiles
 * past the row's end), so every tap of every tile reads inside it: no border cases at all. */
KC_INLINE void kdw_item_scratch(const KDwParams *p, const float *xb, const float *wb, kc_v16 b, const float *rb,
                                float *yb, int32_t r0, int32_t r1, const int T, const int PS, const int KW)
{
    float buf[KDW_SCRATCH_FLOATS] __attribute__((aligned(64)));
    const int32_t kwn = KW ? KW : p->kw, dw = KW ? 1 : p->dw, sw = PS / KC_VL, ws = p->scr_w;
    const int32_t rows = (r1 - r0 - 1) * p->sh + (p->kh - 1) * p->dh + 1, ih0 = r0 * p->sh - p->ph;
    const kc_v16 zero = kc_splat(0.0f);
    for (int32_t r = 0; r < rows; r++) {
        float *d = buf + (int64_t)r * ws * KC_VL;
        const int32_t ih = ih0 + r;
        int32_t c = 0;
        if (ih >= 0 && ih < p->ih) {
            const float *s = xb + (int64_t)ih * p->iw * KC_VL;
            for (; c < ws && c < p->pw; c++) kc_store(d + c * KC_VL, zero);
            for (; c < ws && c - p->pw < p->iw; c++) kc_store(d + c * KC_VL, kc_load(s + (int64_t)(c - p->pw) * KC_VL));
        }
        for (; c < ws; c++) kc_store(d + c * KC_VL, zero);
    }
    for (int32_t r = r0; r < r1; r++) {
        const float *xr = buf + (int64_t)(r - r0) * p->sh * ws * KC_VL;
        for (int32_t t0 = 0; t0 < p->ow; t0 += T) {
            const int nv = p->ow - t0 < T ? p->ow - t0 : T;
            const int64_t o = ((int64_t)r * p->ow + t0) * KC_VL;
            kc_v16 acc[KDW_TMAX];
            KC_UNROLL
            for (int j = 0; j < T; j++) acc[j] = rb && j < nv ? b + kc_load(rb + o + j * KC_VL) : b;
            const float *xt = xr + (int64_t)t0 * sw * KC_VL;
            for (int32_t kh = 0; kh < p->kh; kh++) {
                const float *xk = xt + (int64_t)kh * p->dh * ws * KC_VL;
                const float *wr = wb + kh * kwn * KC_VL;
                if (KW) {
                    KC_UNROLL
                    for (int32_t kw = 0; kw < KW; kw++) {
                        const kc_v16 w = kc_load(wr + kw * KC_VL);
                        KC_UNROLL
                        for (int j = 0; j < T; j++) acc[j] += kc_load(xk + (kw * KC_VL + j * PS)) * w;
                    }
                } else {
                    for (int32_t kw = 0; kw < kwn; kw++) {
                        const kc_v16 w = kc_load(wr + kw * KC_VL);
                        KC_UNROLL
                        for (int j = 0; j < T; j++) acc[j] += kc_load(xk + (kw * dw * KC_VL + j * PS)) * w;
                    }
                }
            }
            kdw_store(p, acc, yb + o, nv, T);
        }
    }
}

KC_INLINE void kdw_range(const void *params, void *const *bufs, int64_t begin, int64_t end, const int T,
                         const int PS, const int KW)
{
    const KDwParams *p = params;
    const float *x = bufs[0], *w = bufs[1], *bias = bufs[2], *res = bufs[3];
    float *y = bufs[4];
    const int64_t npix = (int64_t)p->oh * p->ow;
    for (int64_t it = begin; it < end; it++) {
        int64_t pg = it % p->n_pg, rest = it / p->n_pg;
        int64_t cb = rest % p->n_cb, n = rest / p->n_cb;
        int64_t pix0 = pg * p->pix_per_item;
        int64_t pix1 = pix0 + p->pix_per_item < npix ? pix0 + p->pix_per_item : npix;
        const float *xb = x + n * p->x_img + cb * p->x_blk;
        const float *wb = w + cb * p->kh * p->kw * KC_VL;
        const kc_v16 b = kc_load(bias + cb * KC_VL);
        float *yb = y + n * p->y_img + cb * p->y_blk;
        const float *rb = p->has_res ? res + n * p->y_img + cb * p->y_blk : 0;
        if (PS != 0 && p->scr_rows > 0) {
            kdw_item_scratch(p, xb, wb, b, rb, yb, (int32_t)(pix0 / p->ow), (int32_t)(pix1 / p->ow), T, PS, KW);
        } else {
            for (int64_t t0 = pix0; t0 < pix1; t0 += T) {
                const int nv = pix1 - t0 < T ? (int)(pix1 - t0) : T;
                kdw_tile(p, xb, wb, b, rb ? rb + t0 * KC_VL : 0, yb + t0 * KC_VL, t0, nv, T, PS, KW);
            }
        }
        /* an activation with act(0) != 0 wrote it into the last block's padded lanes: zero them */
        if (p->keep_lanes && cb == p->n_cb - 1)
            for (int64_t t = pix0; t < pix1; t++)
                for (int l = p->keep_lanes; l < KC_VL; l++) yb[t * KC_VL + l] = 0.0f;
    }
}

#define KDW_RANGE_DEFINE(T, CLS, PS, KW)                                                                 \
    KC_INLINE void k_dwconv_##CLS##_##T##_range(const void *params, void *const *bufs, int64_t begin,   \
                                                int64_t end)                                            \
    {                                                                                                    \
        kdw_range(params, bufs, begin, end, T, PS, KW);                                                  \
    }
#define KDW_RANGE_CLASS(CLS, PS, KW) KDW_SHAPES(KDW_RANGE_DEFINE, CLS, PS, KW)
KDW_CLASSES(KDW_RANGE_CLASS)

/* The exported wrappers (conv.c). */
#define KDW_DECLARE(T, CLS, PS, KW) \
    void kx_dwconv_##CLS##_##T##_range(const void *params, void *const *bufs, int64_t begin, int64_t end);
#define KDW_DECLARE_CLASS(CLS, PS, KW) KDW_SHAPES(KDW_DECLARE, CLS, PS, KW)
KDW_CLASSES(KDW_DECLARE_CLASS)

#endif
