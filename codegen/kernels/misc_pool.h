/* misc_pool.h — native f32 pooling: MaxPool / AveragePool over 1-D or 2-D windows (pads,
 * strides, dilations; ceil_mode is already in the output shape; count_include_pad both ways)
 * and GlobalAveragePool / GlobalMaxPool, each in plain NCHW and in blocked NCHW16c.
 *
 * Geometry (from ir_conv_geometry, 1-D pools as H = 1): output (oy, ox) reads input
 * (oy*sh + t*dh - ph, ox*sw + u*dw - pw) for taps (t, u) inside the input. Max ignores padding
 * and propagates NaN (the interpreter's rule); an output without any tap is -inf (max) or NaN
 * (average with divisor 0). The average divides the f32 sum by the number of valid taps, or with
 * count_include_pad by the taps inside the padded input [-pad_begin, in + pad_end) per axis.
 *
 * NCHW16c: one vector holds the 16 channels of a block, so every tap is one vector load.
 * NCHW: scalar per output, except runs of 16 outputs along the row with stride 1 whose taps
 * are all inside the row (vector loads at consecutive input columns).
 * Window pools: work item = one output row of one plane (plane = (n, c) or (n, c-block)).
 * Global pools: work item = one plane. Buffers: 0 = X, 1 = Y.
 */
#ifndef PPCC_KERNELS_MISC_POOL_H
#define PPCC_KERNELS_MISC_POOL_H

#include "misc_common.h"

KM_BEGIN

enum { KM_POOL_MAX = 0, KM_POOL_AVG = 1 };

typedef struct KmPoolParams {
    int32_t kind;        /* KM_POOL_MAX / KM_POOL_AVG */
    int32_t blocked;     /* 1: NCHW16c ([planes, H, W, 16]); 0: NCHW ([planes, H, W]) */
    int32_t include_pad; /* AveragePool count_include_pad */
    int32_t reserved;
    int64_t planes;      /* N*C (plain) or N*ceil(C/16) (blocked) */
    int64_t ih, iw, oh, ow;
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t ph, pw;      /* pads at the beginning */
    int64_t peh, pew;    /* pads at the end (count_include_pad divisor) */
} KmPoolParams;

typedef struct KmGlobalPoolParams {
    int32_t kind;    /* KM_POOL_MAX / KM_POOL_AVG */
    int32_t blocked;
    int64_t planes;  /* as KmPoolParams */
    int64_t size;    /* spatial elements per plane */
} KmGlobalPoolParams;

KC_INLINE int64_t k_pool_work(const KmPoolParams *p) { return p->planes * p->oh; }
KC_INLINE int64_t k_global_pool_work(const KmGlobalPoolParams *p) { return p->planes; }

/* Taps t in [*lo, *hi) of one axis with 0 <= o*s + t*d - pad < in; *incl = number of taps
 * inside [-pad, in + pad_end). */
KC_INLINE void km_pool_taps(int64_t o, int64_t s, int64_t d, int64_t k, int64_t pad, int64_t pad_end,
                            int64_t in, int64_t *lo, int64_t *hi, int64_t *incl)
{
    int64_t start = o * s - pad;
    int64_t l = 0, h = k, c = 0;
    while (l < k && start + l * d < 0) l++;
    while (h > l && start + (h - 1) * d >= in) h--;
    for (int64_t t = 0; t < k; t++) {
        int64_t i = start + t * d;
        c += i >= -pad && i < in + pad_end;
    }
    *lo = l, *hi = h, *incl = c;
}

/* Blocked: one output row of one plane. */
KC_INLINE void km_pool_row_blocked(const KmPoolParams *p, const float *x, float *y, int64_t oy)
{
    int64_t t0, t1, ti;
    km_pool_taps(oy, p->sh, p->dh, p->kh, p->ph, p->peh, p->ih, &t0, &t1, &ti);
    const int64_t iy0 = oy * p->sh - p->ph;
    for (int64_t ox = 0; ox < p->ow; ox++) {
        int64_t u0, u1, ui;
        km_pool_taps(ox, p->sw, p->dw, p->kw, p->pw, p->pew, p->iw, &u0, &u1, &ui);
        const int64_t ix0 = ox * p->sw - p->pw;
        kc_v16 acc = p->kind == KM_POOL_MAX ? kc_splat(-__builtin_inff()) : kc_splat(0.0f);
        for (int64_t t = t0; t < t1; t++) {
            const float *row = x + ((iy0 + t * p->dh) * p->iw + ix0) * KC_VL;
            for (int64_t u = u0; u < u1; u++) {
                kc_v16 v = kc_load(row + u * p->dw * KC_VL);
                acc = p->kind == KM_POOL_MAX ? km_max_nan(acc, v) : acc + v;
            }
        }
        if (p->kind == KM_POOL_AVG) {
            int64_t taps = (t1 - t0) * (u1 - u0), incl = ti * ui;
            int64_t dv = p->include_pad ? incl : taps;
            acc = dv > 0 ? acc / kc_splat((float)dv) : kc_splat(__builtin_nanf(""));
        }
        kc_store(y + ox * KC_VL, acc);
    }
}

/* Plain: one output row of one plane. */
KC_INLINE void km_pool_row_plain(const KmPoolParams *p, const float *x, float *y, int64_t oy)
{
    int64_t t0, t1, ti;
    km_pool_taps(oy, p->sh, p->dh, p->kh, p->ph, p->peh, p->ih, &t0, &t1, &ti);
    const int64_t iy0 = oy * p->sh - p->ph;
    const int is_max = p->kind == KM_POOL_MAX;
    /* Outputs ox in [vx0, vx1) have every tap inside the row (ox*sw - pw >= 0 and
     * ox*sw - pw + (kw-1)*dw < iw); with sw == 1 they go 16 at a time. */
    int64_t vx0 = 0, vx1 = 0;
    if (p->sw == 1) {
        vx0 = p->pw;
        vx1 = p->iw - (p->kw - 1) * p->dw + p->pw;
        if (vx1 > p->ow) vx1 = p->ow;
        if (vx0 > vx1) vx0 = vx1;
    }
    int64_t ox = 0;
    while (ox < p->ow) {
        if (ox >= vx0 && ox + KC_VL <= vx1) {
            const int64_t ix0 = ox - p->pw;
            kc_v16 acc = is_max ? kc_splat(-__builtin_inff()) : kc_splat(0.0f);
            for (int64_t t = t0; t < t1; t++) {
                const float *row = x + (iy0 + t * p->dh) * p->iw + ix0;
                for (int64_t u = 0; u < p->kw; u++) {
                    kc_v16 v = kc_load(row + u * p->dw);
                    acc = is_max ? km_max_nan(acc, v) : acc + v;
                }
            }
            if (!is_max) {
                int64_t u0, u1, ui;
                km_pool_taps(ox, 1, p->dw, p->kw, p->pw, p->pew, p->iw, &u0, &u1, &ui);
                int64_t taps = (t1 - t0) * p->kw, incl = ti * ui; /* same for the 16 outputs */
                int64_t dv = p->include_pad ? incl : taps;
                acc = dv > 0 ? acc / kc_splat((float)dv) : kc_splat(__builtin_nanf(""));
            }
            kc_store(y + ox, acc);
            ox += KC_VL;
            continue;
        }
        int64_t u0, u1, ui;
        km_pool_taps(ox, p->sw, p->dw, p->kw, p->pw, p->pew, p->iw, &u0, &u1, &ui);
        const int64_t ix0 = ox * p->sw - p->pw;
        float acc = is_max ? -__builtin_inff() : 0.0f;
        for (int64_t t = t0; t < t1; t++) {
            const float *row = x + (iy0 + t * p->dh) * p->iw + ix0;
            for (int64_t u = u0; u < u1; u++) {
                float v = row[u * p->dw];
                if (is_max) {
                    acc = km_max_nan1(acc, v);
                } else {
                    acc += v;
                }
            }
        }
        if (!is_max) {
            int64_t taps = (t1 - t0) * (u1 - u0), incl = ti * ui;
            int64_t dv = p->include_pad ? incl : taps;
            acc = dv > 0 ? acc / (float)dv : __builtin_nanf("");
        }
        y[ox++] = acc;
    }
}

/* bufs: X, Y */
KC_INLINE void k_pool_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmPoolParams *p = (const KmPoolParams *)params;
    const float *X = (const float *)bufs[0];
    float *Y = (float *)bufs[1];
    const int64_t vl = p->blocked ? KC_VL : 1;
    const int64_t in_plane = p->ih * p->iw * vl, out_plane = p->oh * p->ow * vl;
    for (int64_t it = begin; it < end; it++) {
        int64_t plane = it / p->oh, oy = it % p->oh;
        const float *x = X + plane * in_plane;
        float *y = Y + plane * out_plane + oy * p->ow * vl;
        if (p->blocked)
            km_pool_row_blocked(p, x, y, oy);
        else
            km_pool_row_plain(p, x, y, oy);
    }
}

/* bufs: X, Y */
KC_INLINE void k_global_pool_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmGlobalPoolParams *p = (const KmGlobalPoolParams *)params;
    const float *X = (const float *)bufs[0];
    float *Y = (float *)bufs[1];
    const int64_t S = p->size;
    const int is_max = p->kind == KM_POOL_MAX;
    const kc_v16 init = is_max ? kc_splat(-__builtin_inff()) : kc_splat(0.0f);
    for (int64_t it = begin; it < end; it++) {
        if (p->blocked) {
            const float *x = X + it * S * KC_VL;
            kc_v16 a[4] = {init, init, init, init};
            int64_t i = 0;
            for (; i + 4 <= S; i += 4)
                for (int j = 0; j < 4; j++) {
                    kc_v16 v = kc_load(x + (i + j) * KC_VL);
                    a[j] = is_max ? km_max_nan(a[j], v) : a[j] + v;
                }
            for (; i < S; i++) {
                kc_v16 v = kc_load(x + i * KC_VL);
                a[0] = is_max ? km_max_nan(a[0], v) : a[0] + v;
            }
            kc_v16 r;
            if (is_max) {
                r = km_max_nan(km_max_nan(a[0], a[1]), km_max_nan(a[2], a[3]));
            } else {
                r = (a[0] + a[1]) + (a[2] + a[3]);
                r = S > 0 ? r / kc_splat((float)S) : kc_splat(__builtin_nanf(""));
            }
            kc_store(Y + it * KC_VL, r);
        } else {
            const float *x = X + it * S;
            kc_v16 a0 = init, a1 = init;
            int64_t i = 0;
            for (; i + 2 * KC_VL <= S; i += 2 * KC_VL) {
                kc_v16 v0 = kc_load(x + i), v1 = kc_load(x + i + KC_VL);
                a0 = is_max ? km_max_nan(a0, v0) : a0 + v0;
                a1 = is_max ? km_max_nan(a1, v1) : a1 + v1;
            }
            for (; i + KC_VL <= S; i += KC_VL) {
                kc_v16 v = kc_load(x + i);
                a0 = is_max ? km_max_nan(a0, v) : a0 + v;
            }
            float r;
            if (is_max) {
                kc_v16 m = km_max_nan(a0, a1);
                r = -__builtin_inff();
                for (int l = 0; l < KC_VL; l++)
                    r = km_max_nan1(r, m[l]);
                for (; i < S; i++)
                    r = km_max_nan1(r, x[i]);
            } else {
                r = km_hsum(a0 + a1);
                for (; i < S; i++) r += x[i];
                r = S > 0 ? r / (float)S : __builtin_nanf("");
            }
            Y[it] = r;
        }
    }
}

KM_END

#endif
