/* misc_softmax.h — native f32 Softmax and LogSoftmax over the last axis: the tensor is viewed
 * as [rows, len]; work item = one row. Three passes per row: the maximum (a NaN wins, as in the
 * interpreter), the sum of exp(x - max) (f32, vectorised exp of misc_common.h; Softmax keeps
 * the exponentials in Y), then Y = exp(x - max) / sum or Y = x - max - log(sum).
 * X and Y may be the same buffer. Buffers: 0 = X, 1 = Y.
 */
#ifndef PPCC_KERNELS_MISC_SOFTMAX_H
#define PPCC_KERNELS_MISC_SOFTMAX_H

#include "misc_common.h"

KM_BEGIN

typedef struct KmSoftmaxParams {
    int32_t log; /* 1: LogSoftmax */
    int32_t reserved;
    int64_t rows, len;
} KmSoftmaxParams;

KC_INLINE int64_t k_softmax_work(const KmSoftmaxParams *p) { return p->rows; }

/* bufs: X, Y */
KC_INLINE void k_softmax_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmSoftmaxParams *p = (const KmSoftmaxParams *)params;
    const int64_t L = p->len;
    for (int64_t r = begin; r < end; r++) {
        const float *x = (const float *)bufs[0] + r * L;
        float *y = (float *)bufs[1] + r * L;
        kc_v16 mv = kc_splat(-__builtin_inff());
        int64_t i = 0;
        for (; i + KC_VL <= L; i += KC_VL) mv = km_max_nan(mv, kc_load(x + i));
        float mx = -__builtin_inff();
        for (int l = 0; l < KC_VL; l++)
            mx = km_max_nan1(mx, mv[l]);
        for (; i < L; i++)
            mx = km_max_nan1(mx, x[i]);
        const kc_v16 m = kc_splat(mx);
        kc_v16 sv = kc_splat(0.0f);
        float s = 0;
        for (i = 0; i + KC_VL <= L; i += KC_VL) {
            kc_v16 e = kc_exp(kc_load(x + i) - m);
            if (!p->log) kc_store(y + i, e);
            sv += e;
        }
        for (; i < L; i++) {
            float e = kc_exp(kc_splat(x[i] - mx))[0];
            if (!p->log) y[i] = e;
            s += e;
        }
        s += km_hsum(sv);
        if (p->log) {
            const float sub = logf(s);
            for (i = 0; i + KC_VL <= L; i += KC_VL) kc_store(y + i, (kc_load(x + i) - m) - kc_splat(sub));
            for (; i < L; i++) y[i] = (x[i] - mx) - sub;
        } else {
            const kc_v16 sd = kc_splat(s);
            for (i = 0; i + KC_VL <= L; i += KC_VL) kc_store(y + i, kc_load(y + i) / sd);
            for (; i < L; i++) y[i] = y[i] / s;
        }
    }
}

KM_END

#endif
