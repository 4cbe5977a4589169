/* conv_swino.h — sparse Winograd F(4x4,3x3): the Winograd convolution of conv_wino.h for 3x3
 * stride-1 convolutions whose filters have many all-zero kernels (connectivity-pruned layers;
 * docs/codegen.md §5). Removing a kernel g (filter m, input channel c) zeroes U = G g G^T at all
 * 36 transform positions, so the products skip it. A pattern kernel's taps do not survive the
 * transform (U is dense), so per kept kernel the products cost 36 multiply-adds per 16 outputs,
 * where the pattern kernel (pattern.h) does 4 per output, 64.
 *
 * Vectors run along the tiles here, not along the channels: a vector of V holds one transform
 * position of one input channel for 16 tiles, a vector of M one position of one filter for 16
 * tiles. A kept kernel is TV x XB FMAs, its U scalars broadcast against the V vectors at its
 * channel's offset, and a filter's accumulators stay in registers over all its kernels of a
 * channel chunk. Every load is aligned.
 *
 *   input  x: blocked [N, ICB, IH, IW, 16]; bias [OCB * 16]; residual and y: blocked
 *   weights (one blob of 4-byte words, sections at KSWinoParams' *_at; codegen/pack.c):
 *     cnt [n_og][n_ch][mg]  kept kernels per (output group, channel chunk, filter)
 *     ks  [n_og * n_ch + 1] first kernel of each (group, chunk) (prefix sums of cnt)
 *     idx [nk]              byte offset of the kernel's channel in V's rows (c_local * TV * 64)
 *     u   [nk * 36]         per (group, chunk), from ks * 36: [pass of XB positions][kernel][XB]
 *
 * Work item = (image n, output group og of mg filters, block tb of TV x 16 tiles), tb fastest.
 * Per channel chunk: the input transform of the item's tiles (kwino_in_tile, vectors along the
 * channels, 16 tiles at a time) and a 16x16 transpose per position into V [xi][c][TV][16]; then
 * per pass of XB positions and per filter the products over the filter's kernels of the chunk
 * into M [m][xi][TV][16] (on the stack). Then per block of 16 filters and vector of tiles the
 * output transform (vectors along the tiles), a 16x16 transpose per output pixel into 16 filters
 * of a blocked pixel, + bias (+ residual), activation.
 */
#ifndef PPCC_KERNELS_CONV_SWINO_H
#define PPCC_KERNELS_CONV_SWINO_H

#include "kcommon.h"
#include "conv_params.h"
#include "conv_wino.h"

/* In-register transpose of 16 vectors of 16 (t[i][j] -> t[j][i]), unrolled by hand: the layout
 * kernels' km_transpose16 (misc_common.h, the same 64 shuffles in loops) took 1.07x and 1.12x
 * the time of this kernel on vgg16's features.7 and features.2 (build/bench/ab, session 24). */
KC_INLINE void ksw_transpose16(kc_v16 *t)
{
    kc_v16 u[16];
    KC_UNROLL
    for (int i = 0; i < 16; i += 2) {
        u[i] = __builtin_shufflevector(t[i], t[i + 1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    }
    KC_UNROLL
    for (int i = 0; i < 16; i += 4)
        KC_UNROLL
        for (int j = 0; j < 2; j++) {
            t[i + j] = __builtin_shufflevector(u[i + j], u[i + j + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28,
                                               29);
            t[i + j + 2] = __builtin_shufflevector(u[i + j], u[i + j + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14,
                                                   15, 30, 31);
        }
    KC_UNROLL
    for (int i = 0; i < 16; i += 8)
        KC_UNROLL
        for (int j = 0; j < 4; j++) {
            u[i + j] = __builtin_shufflevector(t[i + j], t[i + j + 4], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25,
                                               26, 27);
            u[i + j + 4] = __builtin_shufflevector(t[i + j], t[i + j + 4], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28,
                                                   29, 30, 31);
        }
    KC_UNROLL
    for (int j = 0; j < 8; j++) {
        t[j] = __builtin_shufflevector(u[j], u[j + 8], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        t[j + 8] = __builtin_shufflevector(u[j], u[j + 8], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
}

/* The input transform of the item's tiles [t0, t0 + nt) for the chunk's nb blocks from block c0,
 * into V: vs[xi * KSW_VXS + (c * TV + v) * 16 + lane] = position xi of channel c (of the chunk)
 * for tile t0 + v * 16 + lane (tiles past nt: zeros). sc: 36 x 16 x 16 floats of scratch. */
KC_INLINE void ksw_input(const KSWinoParams *p, const float *xn, int64_t t0, int64_t nt, int32_t c0, int32_t nb,
                         float *vs, float *sc, const int TV)
{
    const KWinoParams *g = &p->g;
    for (int32_t b = 0; b < nb; b++) {
        const float *xb = xn + (int64_t)(c0 + b) * g->ih * g->iw * KC_VL;
        int32_t ti = (int32_t)(t0 / g->tw), tj = (int32_t)(t0 - (int64_t)ti * g->tw);
        for (int v = 0; v < TV; v++) {
            for (int l = 0; l < KC_VL; l++) {
                if (v * KC_VL + l < nt) {
                    kwino_in_tile(g, xb, ti, tj, sc + l * KC_VL, KC_VL * KC_VL, 4);
                    if (++tj == g->tw) tj = 0, ti++;
                } else {
                    KC_UNROLL
                    for (int x = 0; x < 36; x++) kc_store(sc + (x * KC_VL + l) * KC_VL, kc_splat(0.0f));
                }
            }
            for (int x = 0; x < 36; x++) {
                kc_v16 r[16];
                KC_UNROLL
                for (int l = 0; l < KC_VL; l++) r[l] = kc_load(sc + (x * KC_VL + l) * KC_VL);
                ksw_transpose16(r);
                float *d = vs + (int64_t)x * KSW_VXS + ((int64_t)b * KC_VL * TV + v) * KC_VL;
                KC_UNROLL
                for (int l = 0; l < KC_VL; l++) kc_store(d + (int64_t)l * TV * KC_VL, r[l]);
            }
        }
    }
}

/* The products of one chunk: for each pass of XB positions and each of the item's mg filters,
 * acc (+)= u * V over the filter's kernels. */
KC_INLINE void ksw_gemm(const KSWinoParams *p, const int32_t *cnt, const int32_t *idx, const float *u, int32_t nkc,
                        const float *vs, float *mb, int first, const int TV, const int XB)
{
    for (int x0 = 0; x0 < 36; x0 += XB) {
        const char *vx = (const char *)(vs + (int64_t)x0 * KSW_VXS);
        const float *up = u + (int64_t)x0 * nkc;
        const int32_t *ip = idx;
        for (int32_t m = 0; m < p->mg; m++) {
            float *mm = mb + (int64_t)m * KSW_MST + (int64_t)x0 * TV * KC_VL;
            kc_v16 acc[KSW_XB][KSW_TV];
            KC_UNROLL
            for (int x = 0; x < XB; x++)
                KC_UNROLL
                for (int t = 0; t < TV; t++)
                    acc[x][t] = first ? kc_splat(0.0f) : kc_load(mm + (x * TV + t) * KC_VL);
            const int32_t n = cnt[m];
            for (int32_t k = 0; k < n; k++) {
                const float *vc = (const float *)(vx + ip[k]);
                KC_UNROLL
                for (int x = 0; x < XB; x++) {
                    const kc_v16 s = kc_splat(up[k * XB + x]);
                    KC_UNROLL
                    for (int t = 0; t < TV; t++) acc[x][t] += s * kc_load(vc + x * KSW_VXS + t * KC_VL);
                }
            }
            ip += n;
            up += (int64_t)n * XB;
            KC_UNROLL
            for (int x = 0; x < XB; x++)
                KC_UNROLL
                for (int t = 0; t < TV; t++) kc_store(mm + (x * TV + t) * KC_VL, acc[x][t]);
        }
    }
}

/* Output transform of the item: per block of 16 filters and vector of 16 tiles. */
KC_INLINE void ksw_output(const KSWinoParams *p, const float *mb, const float *bias, const float *res, float *y,
                          int64_t n, int64_t og, int64_t t0, int64_t nt, const int TV, const int ACT)
{
    const KWinoParams *g = &p->g;
    const int64_t yblk = (int64_t)g->oh * g->ow * KC_VL;
    float st[16 * 16 * 16] __attribute__((aligned(64))); /* [pixel][filter][tile] */
    for (int32_t o = 0; o < p->mg / KC_VL; o++) {
        const int64_t ob = og * (p->mg / KC_VL) + o;
        if (ob >= g->ocb) break;
        const kc_v16 bv = kc_load(bias + ob * KC_VL);
        float *yb = y + n * g->y_img + ob * yblk;
        const float *rb = res ? res + n * g->y_img + ob * yblk : NULL;
        for (int v = 0; v < TV && v * KC_VL < nt; v++) {
            for (int l = 0; l < KC_VL; l++) {
                const float *m = mb + (int64_t)(o * KC_VL + l) * KSW_MST + v * KC_VL;
                kc_v16 mv[36], yv[16];
                KC_UNROLL
                for (int x = 0; x < 36; x++) mv[x] = kc_load(m + x * TV * KC_VL);
                kwino4_out(mv, yv);
                KC_UNROLL
                for (int q = 0; q < 16; q++) kc_store(st + (q * KC_VL + l) * KC_VL, yv[q]);
            }
            const int64_t tv0 = t0 + v * KC_VL;
            const int ntv = nt - v * KC_VL < KC_VL ? (int)(nt - v * KC_VL) : KC_VL;
            for (int q = 0; q < 16; q++) {
                kc_v16 r[16];
                KC_UNROLL
                for (int l = 0; l < KC_VL; l++) r[l] = kc_load(st + (q * KC_VL + l) * KC_VL);
                ksw_transpose16(r);
                const int i = q / 4, j = q % 4;
                int32_t ti = (int32_t)(tv0 / g->tw), tj = (int32_t)(tv0 - (int64_t)ti * g->tw);
                for (int l = 0; l < ntv; l++) {
                    const int32_t oh = 4 * ti + i, ow = 4 * tj + j;
                    if (++tj == g->tw) tj = 0, ti++;
                    if (oh >= g->oh || ow >= g->ow) continue;
                    const int64_t yo = ((int64_t)oh * g->ow + ow) * KC_VL;
                    kwino_store(g, yb + yo, rb ? rb + yo : NULL, r[l] + bv, ACT);
                }
            }
        }
    }
}

KC_INLINE void kswino_item(const KSWinoParams *p, void *const *bufs, int64_t it, const int TV, const int XB)
{
    const KWinoParams *g = &p->g;
    const float *x = bufs[0], *bias = bufs[2], *res = bufs[3];
    const int32_t *wi = bufs[1];
    const float *wf = bufs[1];
    float *y = bufs[4];
    const int64_t per_img = g->n_og * g->n_tb;
    const int64_t n = it / per_img, rem = it - n * per_img, og = rem / g->n_tb, tb = rem - og * g->n_tb;
    const int64_t t0 = tb * g->tb, ntiles = (int64_t)g->th * g->tw;
    const int64_t nt = t0 + g->tb <= ntiles ? g->tb : ntiles - t0;
    float vs[36 * KSW_VXS] __attribute__((aligned(64)));
    float mb[KSW_MFLOATS] __attribute__((aligned(64)));
    float sc[36 * 16 * 16] __attribute__((aligned(64)));
    const float *xn = x + n * g->x_img;
    const int32_t cb = p->cc / KC_VL; /* blocks per chunk */
    for (int32_t ch = 0; ch < p->n_ch; ch++) {
        const int32_t c0 = ch * cb, nb = g->icb - c0 < cb ? g->icb - c0 : cb;
        ksw_input(p, xn, t0, nt, c0, nb, vs, sc, TV);
        const int64_t gc = og * p->n_ch + ch;
        const int32_t k0 = wi[p->ks_at + gc], nkc = wi[p->ks_at + gc + 1] - k0;
        ksw_gemm(p, wi + p->cnt_at + gc * p->mg, wi + p->idx_at + k0, wf + p->u_at + (int64_t)k0 * 36, nkc, vs, mb,
                 ch == 0, TV, XB);
    }
    switch (g->act) {
    case KC_ACT_NONE: ksw_output(p, mb, bias, res, y, n, og, t0, nt, TV, KC_ACT_NONE); break;
    case KC_ACT_RELU: ksw_output(p, mb, bias, res, y, n, og, t0, nt, TV, KC_ACT_RELU); break;
    case KC_ACT_CLIP: ksw_output(p, mb, bias, res, y, n, og, t0, nt, TV, KC_ACT_CLIP); break;
    default: ksw_output(p, mb, bias, res, y, n, og, t0, nt, TV, -1); break;
    }
}

KC_INLINE void k_swino_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KSWinoParams *p = params;
    for (int64_t it = begin; it < end; it++) kswino_item(p, bufs, it, KSW_TV, KSW_XB);
}

/* Prototype of the exported wrapper (conv.c). */
void kx_swino_range(const void *params, void *const *bufs, int64_t begin, int64_t end);

#endif
