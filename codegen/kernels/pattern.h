/* pattern.h — the pattern-sparse convolution kernels: PatternPad (blocked or plain input ->
 * zero-padded stride-phase planes) and PatternConv (compact filter-kernel-weight storage ->
 * blocked NCHW16c output with bias, residual and activation fused). The ops are defined in
 * ir/pattern.c; the schedule (tiles, load plan, cost model) is pattern_plan.h.
 *
 * PatternConv work item = (image n, output tile, output block ob of 16 filters), ob fastest so
 * a thread's contiguous range of items covers every filter. The kernels of a block are stored
 * by input-channel block, then pattern, then channel and filter (ir/pattern.c), so a run of one
 * pattern spans all 16 filters: few, long runs (their ends are the only unpredictable
 * branches). Per item:
 *   accumulator memory of the 16 filters (R x U vectors each, in L1) = 0
 *   for each input-channel block cb:            (the planes a tile reads for cblock channels
 *     for each pattern p (unrolled: a branch-    stay in L1 for all of the block's kernels)
 *                         free body per pattern, K and the taps are constants of the
 *                         specialised layer):
 *       for each kernel k of (ob, cb, p): channel c, filter f = idx[k] >> 4, idx[k] & 15
 *         acc = filter f's accumulators; for each tap t of p: broadcast w[k][t];
 *         acc[r][u] += w * x[c][off[p][t] + r*PW + 16u]; store acc back
 *       (off[p][t] = copy*CH*CW + dy*CW (rows) or copy*CH*CW (flat), pattern_plan.h: aligned;
 *        immediates after specialisation, so the loads
 *        of identical addresses across taps and rows are merged by LLVM: the load plan;
 *        consecutive kernels belong to different filters, so their chains overlap)
 *   epilogue: per valid output pixel the 16 filters' sums (+ bias, + residual, activation) as
 *   one vector of the blocked output.
 * Buffers: 0 planes, 1 w [NK, NT], 2 idx [NK], 3 runs, 4 bias [MB*16] (zero padded),
 *          5 residual (blocked, like y) or NULL, 6 y.
 * PatternPad work item = (image n, channel block of 16) for blocked input, (n, channel) for plain;
 * element by element, the source of each copy element computed as ir/pattern.c defines it.
 * Buffers: 0 x, 1 planes.
 * Instances: k_pattern_conv_<flat>_<R>_<U> (KPAT_TILES) and k_pattern_pad, exported by
 * pattern.c; the lowering (codegen/lower_pattern.c) picks one by name.
 */
#ifndef PPCC_KERNELS_PATTERN_H
#define PPCC_KERNELS_PATTERN_H

#include "kcommon.h"
#include "pattern_plan.h"

typedef struct KPatParams {
    int64_t n_work;
    int64_t tiles, tiles_c;  /* per image (pattern_plan.h KPatWalk) */
    int64_t chan_stride;     /* floats per input channel: NC * CH * CW (the copies) */
    int64_t img_stride;      /* floats per image of the copies: C * chan_stride */
    int64_t y_img;           /* floats per image of y: MB * OH * OW * 16 */
    int32_t m, mb, oh, ow, pw, cw, ncb, k, nt; /* pw: flat grid width; cw: rows' stride */
    int32_t act;
    float alpha, beta;
    int32_t off[KPAT_KMAX][KPAT_NTMAX];
} KPatParams;

typedef struct KPadParams {
    int64_t n_work;
    int32_t c, cb, h, w, sh, sw, pt, pl, ph, pw, blocked, flat, nc, ch, cw;
    int32_t copies[KPAT_CMAX][3];
} KPadParams;

/* Source of copy element (i, j) of copy s: offset in the input image's channel (or -1). */
KC_INLINE int64_t kpat_pad_src(const KPadParams *p, int s, int32_t i, int32_t j)
{
    const int32_t a = p->copies[s][0] / p->sw, b = p->copies[s][0] % p->sw;
    int32_t pi, pj;
    if (p->flat) {
        const int64_t e = (int64_t)i * p->cw + j + (int64_t)p->copies[s][1] * p->pw + p->copies[s][2];
        pi = (int32_t)(e / p->pw), pj = (int32_t)(e - (int64_t)(e / p->pw) * p->pw);
    } else {
        pi = i + p->copies[s][1], pj = j + p->copies[s][2];
    }
    const int32_t h = p->sh * pi + a - p->pt, w = p->sw * pj + b - p->pl;
    if (pi >= p->ph || pj >= p->pw || h < 0 || h >= p->h || w < 0 || w >= p->w) return -1;
    return (int64_t)h * p->w + w;
}

KC_INLINE void kpat_pad_item(const KPadParams *p, void *const *bufs, int64_t it)
{
    const float *x = bufs[0];
    float *out = bufs[1];
    const int64_t csz = (int64_t)p->ch * p->cw, chan = p->nc * csz;
    if (p->blocked) {
        const int64_t n = it / p->cb, cb = it % p->cb;
        const float *xb = x + (n * p->cb + cb) * (int64_t)p->h * p->w * KC_VL;
        const int lanes = p->c - cb * KC_VL < KC_VL ? (int)(p->c - cb * KC_VL) : KC_VL;
        float *ob = out + (n * p->c + cb * KC_VL) * chan;
        for (int s = 0; s < p->nc; s++)
            for (int32_t i = 0; i < p->ch; i++)
                for (int32_t j = 0; j < p->cw; j++) {
                    const int64_t src = kpat_pad_src(p, s, i, j);
                    const float *v = src >= 0 ? xb + src * KC_VL : kc_zero16;
                    float *o = ob + s * csz + (int64_t)i * p->cw + j;
                    for (int l = 0; l < lanes; l++) o[l * chan] = v[l];
                }
    } else {
        const int64_t n = it / p->c, c = it % p->c;
        const float *xc = x + (n * p->c + c) * (int64_t)p->h * p->w;
        float *oc = out + (n * p->c + c) * chan;
        for (int s = 0; s < p->nc; s++)
            for (int32_t i = 0; i < p->ch; i++)
                for (int32_t j = 0; j < p->cw; j++) {
                    const int64_t src = kpat_pad_src(p, s, i, j);
                    oc[s * csz + (int64_t)i * p->cw + j] = src >= 0 ? xc[src] : 0.0f;
                }
    }
}

KC_INLINE void kpat_pad_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KPadParams *p = params;
    for (int64_t it = begin; it < end; it++) kpat_pad_item(p, bufs, it);
}

/* One work item of PatternConv with an R x U tile (FLAT: R = 1, consecutive grid positions). */
KC_INLINE void kpat_conv_item(const KPatParams *p, void *const *bufs, int64_t it, const int FLAT, const int R,
                              const int U)
{
    const float *xp = bufs[0], *w = bufs[1], *bias = bufs[4], *res = bufs[5];
    const int32_t *idx = bufs[2], *runs = bufs[3];
    float *y = bufs[6];
    const int64_t per_img = p->tiles * p->mb;
    const int64_t n = it / per_img, rem = it - n * per_img, tile = rem / p->mb;
    const int32_t ob = (int32_t)(rem - tile * p->mb);
    int64_t q0, tr = 0, tc = 0;
    if (FLAT) {
        q0 = tile * U * KC_VL;
    } else {
        tr = tile / p->tiles_c, tc = tile - tr * p->tiles_c;
        q0 = tr * R * p->cw + tc * U * KC_VL;
    }
    const float *xb = xp + n * p->img_stride + q0;
    const int64_t RS = FLAT ? 0 : p->cw;
    float accm[KC_VL][KPAT_RUMAX * KC_VL] __attribute__((aligned(64)));

    /* accumulators of the block's 16 filters: zero, then every kernel adds into its filter's */
    for (int f = 0; f < KC_VL; f++)
        KC_UNROLL
        for (int v = 0; v < R * U; v++) kc_store(accm[f] + v * KC_VL, kc_splat(0.0f));
    const int32_t *run = runs + (int64_t)ob * p->ncb * p->k;
    for (int32_t cb = 0; cb < p->ncb; cb++, run += p->k) {
        KC_UNROLL
        for (int pp = 0; pp < p->k; pp++) {
            const int32_t k1 = run[pp + 1];
            for (int32_t k = run[pp]; k < k1; k++) {
                const int32_t ci = idx[k];
                const float *xc = xb + (int64_t)(ci >> 4) * p->chan_stride;
                float *am = accm[ci & 15];
                const float *wk = w + (int64_t)k * p->nt;
                kc_v16 acc[KPAT_RUMAX];
                KC_UNROLL
                for (int v = 0; v < R * U; v++) acc[v] = kc_load(am + v * KC_VL);
                KC_UNROLL
                for (int t = 0; t < p->nt; t++) {
                    const kc_v16 wv = kc_splat(wk[t]);
                    const float *xt = xc + p->off[pp][t];
                    KC_UNROLL
                    for (int r = 0; r < R; r++)
                        KC_UNROLL
                        for (int u = 0; u < U; u++) acc[r * U + u] += wv * kc_load(xt + r * RS + u * KC_VL);
                }
                KC_UNROLL
                for (int v = 0; v < R * U; v++) kc_store(am + v * KC_VL, acc[v]);
            }
        }
    }

    /* epilogue: pixel by pixel, the 16 filters as one vector of the blocked output */
    const kc_v16 bv = kc_load(bias + (int64_t)ob * KC_VL);
    float *yb = y + n * p->y_img + (int64_t)ob * p->oh * p->ow * KC_VL;
    const float *rb = res ? res + n * p->y_img + (int64_t)ob * p->oh * p->ow * KC_VL : NULL;
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++)
            for (int l = 0; l < KC_VL; l++) {
                int64_t oh, ow;
                if (FLAT) {
                    int64_t q = q0 + u * KC_VL + l;
                    oh = q / p->pw, ow = q - oh * p->pw;
                } else {
                    oh = tr * R + r, ow = tc * U * KC_VL + u * KC_VL + l;
                }
                if (oh >= p->oh || ow >= p->ow) continue;
                const int pos = (r * U + u) * KC_VL + l;
                float g[KC_VL] __attribute__((aligned(64)));
                for (int f = 0; f < KC_VL; f++) g[f] = accm[f][pos];
                kc_v16 v = kc_load(g) + bv;
                const int64_t yo = (oh * p->ow + ow) * KC_VL;
                if (rb) v = v + kc_load(rb + yo);
                kc_store(yb + yo, kc_act(p->act, v, p->alpha, p->beta));
            }
}

typedef void (*KPatRangeFn)(const void *params, void *const *bufs, int64_t begin, int64_t end);

#endif
