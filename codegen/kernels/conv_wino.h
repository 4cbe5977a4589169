/* conv_wino.h — the Winograd convolution kernels for dense 3x3 stride-1 convolutions on NCHW16c
 * activations (docs/codegen.md §5), in two sizes (WM, the output tile's side):
 *   F(2x2,3x3): 2x2 output tiles from 4x4 input patches, 16 multiply-adds per tile and
 *     input-output channel pair instead of 36 (2.25x fewer);
 *   F(4x4,3x3): 4x4 output tiles from 6x6 input patches, 36 instead of 144 (4x fewer), on the
 *     points 0, 1, -1, 1/2, -2 (against 0, 1, -1, 2, -2 its rounding error was 2-3x smaller:
 *     2-3e-6 of the largest output at 64-256 channels, against 3-5e-7 for F(2x2)).
 *
 *   V = B^T d B (input patch d), U = G g G^T (kernel g, 3x3, transformed at compile time by
 *   codegen/pack.c in double), M = sum over input channels of U .* V (NX = 16 or 36 independent
 *   products, one per position xi of the transform domain), y = A^T M A + bias (+ residual), act.
 *   F(2x2): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1],
 *           G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
 *   F(4x4): B^T and A^T at kwino4_bt and kwino4_at, G in codegen/pack.c.
 *
 *   input  x: blocked [N, ICB, IH, IW, 16]
 *   weights: U packed per output group og (OGB blocks): [og][xi][ICB*16][OGB][16]
 *   bias   : [OCB * 16], zero in padded lanes; residual (optional) and y: blocked [N, OCB, OH, OW, 16]
 *
 * Work item = (image n, output group og, tile block tb of `tb` tiles in row-major tile order;
 * conv_plan.h kplan_wino_blocking), tb fastest. Per item, per chunk of `chunk` input blocks: the
 * input transform of the item's tiles into V [xi][block][tile][16] (on the stack), then for each
 * xi the product over the chunk's channels with a register tile of up to 6 tiles x OGB blocks
 * (the channel scalars of V broadcast, the OGB vectors of U loaded, as the dense kernel does with
 * pixels and weights); the sums go to M [tile][block][xi][16] (on the stack) between chunks.
 * Then the output transform per tile and block, with bias, residual and activation fused. V's
 * rows of one xi and M's NX vectors of one tile and block are followed by a vector of padding,
 * so that the stores of a transform and the 24 of a register tile are not 4 KB or 1 KB apart
 * (strides that put them into one or four L1 sets).
 *
 * Instances: k_wino_<OGB><SFX>_range (KWINO_INSTANCES), exported as kx_wino_<OGB><SFX>_range by
 * conv.c: SFX empty or _pf for F(2x2), _f4 or _f4pf for F(4x4); the pf variants prefetch U into
 * L2 (codegen/pack.c takes them where a group's U exceeds KWINO_UPF_BYTES).
 */
#ifndef PPCC_KERNELS_CONV_WINO_H
#define PPCC_KERNELS_CONV_WINO_H

#include "kcommon.h"
#include "conv_params.h"

/* d (4x4 vectors, row-major) -> V = B^T d B, in place. */
KC_INLINE void kwino_in(kc_v16 d[16])
{
    kc_v16 t[16];
    KC_UNROLL
    for (int j = 0; j < 4; j++) {
        t[0 * 4 + j] = d[0 * 4 + j] - d[2 * 4 + j];
        t[1 * 4 + j] = d[1 * 4 + j] + d[2 * 4 + j];
        t[2 * 4 + j] = d[2 * 4 + j] - d[1 * 4 + j];
        t[3 * 4 + j] = d[1 * 4 + j] - d[3 * 4 + j];
    }
    KC_UNROLL
    for (int i = 0; i < 4; i++) {
        d[i * 4 + 0] = t[i * 4 + 0] - t[i * 4 + 2];
        d[i * 4 + 1] = t[i * 4 + 1] + t[i * 4 + 2];
        d[i * 4 + 2] = t[i * 4 + 2] - t[i * 4 + 1];
        d[i * 4 + 3] = t[i * 4 + 1] - t[i * 4 + 3];
    }
}

/* M (4x4 vectors) -> y = A^T M A (2x2, row-major in y[0..3]). */
KC_INLINE void kwino_out(const kc_v16 m[16], kc_v16 y[4])
{
    kc_v16 s[8];
    KC_UNROLL
    for (int j = 0; j < 4; j++) {
        s[0 * 4 + j] = m[0 * 4 + j] + m[1 * 4 + j] + m[2 * 4 + j];
        s[1 * 4 + j] = m[1 * 4 + j] - m[2 * 4 + j] - m[3 * 4 + j];
    }
    KC_UNROLL
    for (int i = 0; i < 2; i++) {
        y[i * 2 + 0] = s[i * 4 + 0] + s[i * 4 + 1] + s[i * 4 + 2];
        y[i * 2 + 1] = s[i * 4 + 1] - s[i * 4 + 2] - s[i * 4 + 3];
    }
}

/* One column or row of 6 -> B^T applied (F(4x4,3x3) on the points 0, 1, -1, 1/2, -2):
 * B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0; 0 -2 -1 2 1 0; 0 1/2 -1 -1/2 1 0;
 *        0 1 -3/2 -2 3/2 1]. */
KC_INLINE void kwino4_bt(kc_v16 d0, kc_v16 d1, kc_v16 d2, kc_v16 d3, kc_v16 d4, kc_v16 d5, kc_v16 r[6])
{
    const kc_v16 half = kc_splat(0.5f), two = kc_splat(2.0f), c15 = kc_splat(1.5f), c25 = kc_splat(2.5f);
    const kc_v16 e = d3 - d1, h = d4 - d2;
    r[0] = d0 + d4 - two * d2 + c15 * e;
    r[1] = d4 - d1 + half * d2 + c25 * d3;
    r[2] = d4 + d1 - c25 * d2 + half * d3;
    r[3] = h + two * e;
    r[4] = h - half * e;
    r[5] = d5 + d1 - two * d3 + c15 * h;
}

/* d (6x6 vectors, row-major) -> V = B^T d B, in place (F(4x4,3x3)). */
KC_INLINE void kwino4_in(kc_v16 d[36])
{
    kc_v16 t[36];
    KC_UNROLL
    for (int j = 0; j < 6; j++) {
        kc_v16 r[6];
        kwino4_bt(d[0 * 6 + j], d[1 * 6 + j], d[2 * 6 + j], d[3 * 6 + j], d[4 * 6 + j], d[5 * 6 + j], r);
        KC_UNROLL
        for (int i = 0; i < 6; i++) t[i * 6 + j] = r[i];
    }
    KC_UNROLL
    for (int i = 0; i < 6; i++)
        kwino4_bt(t[i * 6 + 0], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5], d + i * 6);
}

/* One column or row of 6 -> A^T applied (F(4x4,3x3)): A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0;
 * 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]. */
KC_INLINE void kwino4_at(kc_v16 m0, kc_v16 m1, kc_v16 m2, kc_v16 m3, kc_v16 m4, kc_v16 m5, kc_v16 r[4])
{
    const kc_v16 a = m1 + m2, b = m1 - m2;
    r[0] = m0 + a + m3 + m4;
    r[1] = b + kc_splat(0.5f) * m3 - kc_splat(2.0f) * m4;
    r[2] = a + kc_splat(0.25f) * m3 + kc_splat(4.0f) * m4;
    r[3] = b + kc_splat(0.125f) * m3 - kc_splat(8.0f) * m4 + m5;
}

/* M (6x6 vectors) -> y = A^T M A (4x4, row-major in y[0..15]) (F(4x4,3x3)). */
KC_INLINE void kwino4_out(const kc_v16 m[36], kc_v16 y[16])
{
    kc_v16 s[24];
    KC_UNROLL
    for (int j = 0; j < 6; j++) {
        kc_v16 r[4];
        kwino4_at(m[0 * 6 + j], m[1 * 6 + j], m[2 * 6 + j], m[3 * 6 + j], m[4 * 6 + j], m[5 * 6 + j], r);
        KC_UNROLL
        for (int i = 0; i < 4; i++) s[i * 6 + j] = r[i];
    }
    KC_UNROLL
    for (int i = 0; i < 4; i++)
        kwino4_at(s[i * 6 + 0], s[i * 6 + 1], s[i * 6 + 2], s[i * 6 + 3], s[i * 6 + 4], s[i * 6 + 5], y + i * 4);
}

/* The input patch of block xb (16 channels) for the tile in tile row ti, column tj, transformed,
 * to v[xi * vstride]: WM = 2 (F(2x2,3x3), 4x4 patch) or 4 (F(4x4,3x3), 6x6 patch). Patches inside
 * the image are read straight; border patches read zeros where they fall into the padding. */
KC_INLINE void kwino_in_tile(const KWinoParams *p, const float *xb, int32_t ti, int32_t tj, float *v,
                             int64_t vstride, const int WM)
{
    enum { PMAX = 6 };
    const int P = WM + 2; /* patch side */
    const int32_t h0 = WM * ti - p->ph, w0 = WM * tj - p->pw;
    kc_v16 d[PMAX * PMAX];
    if (h0 >= 0 && w0 >= 0 && h0 + P <= p->ih && w0 + P <= p->iw) {
        const float *s = xb + ((int64_t)h0 * p->iw + w0) * KC_VL;
        KC_UNROLL
        for (int a = 0; a < P; a++)
            KC_UNROLL
            for (int b = 0; b < P; b++) d[a * P + b] = kc_load(s + ((int64_t)a * p->iw + b) * KC_VL);
    } else {
        for (int a = 0; a < P; a++)
            for (int b = 0; b < P; b++) {
                const int32_t h = h0 + a, w = w0 + b;
                d[a * P + b] = h >= 0 && h < p->ih && w >= 0 && w < p->iw
                                   ? kc_load(xb + ((int64_t)h * p->iw + w) * KC_VL)
                                   : kc_splat(0.0f);
            }
    }
    if (WM == 4)
        kwino4_in(d);
    else
        kwino_in(d);
    KC_UNROLL
    for (int x = 0; x < P * P; x++) kc_store(v + x * vstride, d[x]);
}

/* The products of one transform position over the chunk's nc channels for TT tiles and OGB
 * blocks: acc[t][o] (+)= sum_c V[c][t] * U[c][o]. vx: V of this xi ([block][tile][16], tiles
 * `tb` apart per block), ux: U of this xi from the chunk's first channel ([c][OGB][16]). Spread
 * over the blocks, the npf cache lines from pf are prefetched into L2. */
KC_INLINE void kwino_gemm(const float *vx, const float *ux, float *m, int64_t nb, int64_t tbs, int first,
                          const float *pf, int64_t npf, const int TT, const int OGB, const int PF, const int MS)
{
    const int64_t pfb = PF ? (npf + nb - 1) / nb : 0; /* lines per block */
    kc_v16 acc[KWINO_TT][4];
    KC_UNROLL
    for (int t = 0; t < TT; t++)
        KC_UNROLL
        for (int o = 0; o < OGB; o++)
            acc[t][o] = first ? kc_splat(0.0f) : kc_load(m + ((int64_t)t * OGB + o) * MS * KC_VL);
    for (int64_t b = 0; b < nb; b++) {
        const float *vb = vx + b * tbs * KC_VL;
        const float *ub = ux + b * KC_VL * OGB * KC_VL;
        if (PF) {
            const int64_t q1 = (b + 1) * pfb < npf ? (b + 1) * pfb : npf;
            for (int64_t q = b * pfb; q < q1; q++) __builtin_prefetch(pf + q * KC_VL, 0, 2);
        }
        KC_UNROLL
        for (int l = 0; l < KC_VL; l++) {
            kc_v16 u[4];
            KC_UNROLL
            for (int o = 0; o < OGB; o++) u[o] = kc_load(ub + (l * OGB + o) * KC_VL);
            KC_UNROLL
            for (int t = 0; t < TT; t++) {
                const kc_v16 s = kc_splat(vb[t * KC_VL + l]);
                KC_UNROLL
                for (int o = 0; o < OGB; o++) acc[t][o] += s * u[o];
            }
        }
    }
    KC_UNROLL
    for (int t = 0; t < TT; t++)
        KC_UNROLL
        for (int o = 0; o < OGB; o++) kc_store(m + ((int64_t)t * OGB + o) * MS * KC_VL, acc[t][o]);
}

/* kwino_gemm with TT (1..KWINO_TT) a compile-time constant. */
KC_INLINE void kwino_gemm_tt(const float *vx, const float *ux, float *m, int64_t nb, int64_t tbs, int first,
                             const float *pf, int64_t npf, int tt, const int OGB, const int PF, const int MS)
{
    switch (tt) {
    case 6: kwino_gemm(vx, ux, m, nb, tbs, first, pf, npf, 6, OGB, PF, MS); break;
    case 5: kwino_gemm(vx, ux, m, nb, tbs, first, pf, npf, 5, OGB, PF, MS); break;
    case 4: kwino_gemm(vx, ux, m, nb, tbs, first, pf, npf, 4, OGB, PF, MS); break;
    case 3: kwino_gemm(vx, ux, m, nb, tbs, first, pf, npf, 3, OGB, PF, MS); break;
    case 2: kwino_gemm(vx, ux, m, nb, tbs, first, pf, npf, 2, OGB, PF, MS); break;
    default: kwino_gemm(vx, ux, m, nb, tbs, first, pf, npf, 1, OGB, PF, MS); break;
    }
}

/* One output vector v (bias added) to y, + the residual r (NULL: none), activation ACT (a
 * compile-time KC_ACT_NONE, _RELU or _CLIP, or -1: p->act, any). */
KC_INLINE void kwino_store(const KWinoParams *p, float *y, const float *r, kc_v16 v, const int ACT)
{
    if (r) v = v + kc_load(r);
    if (ACT == KC_ACT_RELU)
        v = kc_sel(v < kc_splat(0.0f), kc_splat(0.0f), v);
    else if (ACT == KC_ACT_CLIP)
        v = kc_sel(v > kc_splat(p->beta), kc_splat(p->beta), kc_sel(v < kc_splat(p->alpha), kc_splat(p->alpha), v));
    else if (ACT < 0)
        v = kc_act(p->act, v, p->alpha, p->beta);
    kc_store(y, v);
}

/* The output transform of an item's nt tiles from M (WM x WM outputs per tile), + bias
 * (+ residual), activation ACT (a compile-time KC_ACT_NONE, _RELU or _CLIP, or -1: p->act, any),
 * only the pixels inside y; tiles wholly inside y store their pixels without per-pixel checks.
 * With the activation chosen per pixel (kc_act on p->act) the output transform of resnet18's
 * layer1 took 1.36x the time. */
KC_INLINE void kwino_output(const KWinoParams *p, const float *mbuf, const float *bias, const float *res, float *y,
                            int64_t n, int64_t og, int64_t t0, int64_t nt, const int OGB, const int ACT,
                            const int WM)
{
    const int NX = (WM + 2) * (WM + 2), MS = NX + 1;
    const int64_t yblk = (int64_t)p->oh * p->ow * KC_VL;
    int32_t ti = (int32_t)(t0 / p->tw), tj = (int32_t)(t0 - (int64_t)ti * p->tw);
    for (int64_t t = 0; t < nt; t++) {
        const int full = WM * ti + WM - 1 < p->oh && WM * tj + WM - 1 < p->ow;
        for (int o = 0; o < OGB; o++) {
            const int64_t ob = og * OGB + o;
            if (ob >= p->ocb) break;
            kc_v16 mv[36], yv[16];
            const float *m = mbuf + ((t * OGB + o) * MS) * KC_VL;
            KC_UNROLL
            for (int x = 0; x < NX; x++) mv[x] = kc_load(m + x * KC_VL);
            if (WM == 4)
                kwino4_out(mv, yv);
            else
                kwino_out(mv, yv);
            const kc_v16 bv = kc_load(bias + ob * KC_VL);
            float *yb = y + n * p->y_img + ob * yblk;
            const float *rb = res ? res + n * p->y_img + ob * yblk : NULL;
            KC_UNROLL
            for (int i = 0; i < WM; i++)
                KC_UNROLL
                for (int j = 0; j < WM; j++) {
                    const int32_t oh = WM * ti + i, ow = WM * tj + j;
                    if (!full && (oh >= p->oh || ow >= p->ow)) continue;
                    const int64_t yo = ((int64_t)oh * p->ow + ow) * KC_VL;
                    kwino_store(p, yb + yo, rb ? rb + yo : NULL, yv[i * WM + j] + bv, ACT);
                }
        }
        if (++tj == p->tw) tj = 0, ti++;
    }
}

KC_INLINE void kwino_item(const KWinoParams *p, void *const *bufs, int64_t it, const int OGB, const int PF,
                            const int WM)
{
    const int NX = (WM + 2) * (WM + 2), MS = NX + 1; /* transform positions, M's vectors per tile and block */
    const float *x = bufs[0], *u = bufs[1], *bias = bufs[2], *res = bufs[3];
    float *y = bufs[4];
    const int64_t per_img = (int64_t)p->n_og * p->n_tb;
    const int64_t n = it / per_img, rem = it - n * per_img, og = rem / p->n_tb, tb = rem - og * p->n_tb;
    const int64_t t0 = tb * p->tb, ntiles = p->th * (int64_t)p->tw;
    const int64_t nt = t0 + p->tb <= ntiles ? p->tb : ntiles - t0;
    float vbuf[KWINO_VFLOATS] __attribute__((aligned(64)));
    float mbuf[KWINO_MFLOATS] __attribute__((aligned(64)));
    const int64_t C16 = (int64_t)p->icb * KC_VL; /* U rows per xi */
    const float *ug = u + og * NX * C16 * OGB * KC_VL;
    const float *xn = x + n * p->x_img;

    for (int32_t c0 = 0; c0 < p->icb; c0 += p->chunk) {
        const int32_t nb = p->icb - c0 < p->chunk ? p->icb - c0 : p->chunk;
        /* V [xi][block][tile][16], a vector of padding after each xi (KWINO_VPAD) */
        const int64_t vxs = (int64_t)nb * p->tb * KC_VL + KWINO_VPAD;
        for (int32_t b = 0; b < nb; b++) {
            const float *xb = xn + (int64_t)(c0 + b) * p->ih * p->iw * KC_VL;
            int32_t ti = (int32_t)(t0 / p->tw), tj = (int32_t)(t0 - (int64_t)ti * p->tw);
            for (int64_t t = 0; t < nt; t++) {
                kwino_in_tile(p, xb, ti, tj, vbuf + ((int64_t)b * p->tb + t) * KC_VL, vxs, WM);
                if (++tj == p->tw) tj = 0, ti++;
            }
        }
        /* U of one xi and chunk: nb * 16 * OGB vectors; the next one's (the next xi, or the
         * next chunk's first) is prefetched in equal shares by this xi's register tiles */
        const int64_t ulines = (int64_t)nb * KC_VL * OGB, nrt = (nt + KWINO_TT - 1) / KWINO_TT;
        const int64_t uper = PF ? (ulines + nrt - 1) / nrt : 0;
        for (int x = 0; x < NX; x++) {
            const float *ux = ug + ((int64_t)x * C16 + (int64_t)c0 * KC_VL) * OGB * KC_VL;
            const float *un = x < NX - 1 ? ux + C16 * OGB * KC_VL
                              : c0 + nb < p->icb ? ug + (int64_t)(c0 + nb) * KC_VL * OGB * KC_VL : ux;
            const int64_t nun = x < NX - 1 || c0 + nb < p->icb ? ulines : 0;
            for (int64_t t = 0, r = 0; t < nt; t += KWINO_TT, r++) {
                float *m = mbuf + (t * OGB * MS + x) * KC_VL;
                const float *vx = vbuf + x * vxs + t * KC_VL;
                const int64_t q0 = r * uper < nun ? r * uper : nun, q1 = q0 + uper < nun ? q0 + uper : nun;
                const float *pf = un + q0 * KC_VL;
                const int tt = nt - t < KWINO_TT ? (int)(nt - t) : KWINO_TT;
                kwino_gemm_tt(vx, ux, m, nb, p->tb, c0 == 0, pf, q1 - q0, tt, OGB, PF, MS);
            }
        }
    }

    /* output transform, + bias (+ residual), activation (its dispatch outside the loops) */
    switch (p->act) {
    case KC_ACT_NONE: kwino_output(p, mbuf, bias, res, y, n, og, t0, nt, OGB, KC_ACT_NONE, WM); break;
    case KC_ACT_RELU: kwino_output(p, mbuf, bias, res, y, n, og, t0, nt, OGB, KC_ACT_RELU, WM); break;
    case KC_ACT_CLIP: kwino_output(p, mbuf, bias, res, y, n, og, t0, nt, OGB, KC_ACT_CLIP, WM); break;
    default: kwino_output(p, mbuf, bias, res, y, n, og, t0, nt, OGB, -1, WM); break;
    }
}

#define KWINO_RANGE(OGB, SFX, PF, WM)                                                             \
    KC_INLINE void k_wino_##OGB##SFX##_range(const void *params, void *const *bufs, int64_t begin, \
                                             int64_t end)                                        \
    {                                                                                             \
        const KWinoParams *p = params;                                                            \
        for (int64_t it = begin; it < end; it++) kwino_item(p, bufs, it, OGB, PF, WM);            \
    }
KWINO_INSTANCES(KWINO_RANGE)
#undef KWINO_RANGE

/* Prototypes of the exported wrappers (conv.c). */
#define KWINO_PROTO(OGB, SFX, PF, WM) \
    void kx_wino_##OGB##SFX##_range(const void *params, void *const *bufs, int64_t begin, int64_t end);
KWINO_INSTANCES(KWINO_PROTO)
#undef KWINO_PROTO

#endif
