/* misc_reduce.h — native f32 ReduceSum and ReduceMean over trailing axes: the tensor is viewed
 * as [rows, len] with the reduced axes the last ones (LayerNorm's statistics over the channel
 * axis of an NHWC tensor, global means); work item = one row. Four vector partial sums of 16
 * lanes, then their lanes, then the tail, in f32 (the interpreter sums in double: the lowering's
 * tests allow the summation's rounding), times `scale` (1, or 1/len for the mean).
 * Buffers: 0 = X, 1 = Y.
 */
#ifndef PPCC_KERNELS_MISC_REDUCE_H
#define PPCC_KERNELS_MISC_REDUCE_H

#include "misc_common.h"

KM_BEGIN

typedef struct KmReduceParams {
    int64_t rows, len;
    float scale;
    int32_t reserved;
} KmReduceParams;

KC_INLINE int64_t k_reduce_work(const KmReduceParams *p) { return p->rows; }

/* bufs: X, Y */
KC_INLINE void k_reduce_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmReduceParams *p = (const KmReduceParams *)params;
    const int64_t L = p->len;
    for (int64_t r = begin; r < end; r++) {
        const float *x = (const float *)bufs[0] + r * L;
        kc_v16 s0 = kc_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
        int64_t i = 0;
        for (; i + 4 * KC_VL <= L; i += 4 * KC_VL) {
            s0 += kc_load(x + i);
            s1 += kc_load(x + i + KC_VL);
            s2 += kc_load(x + i + 2 * KC_VL);
            s3 += kc_load(x + i + 3 * KC_VL);
        }
        for (; i + KC_VL <= L; i += KC_VL) s0 += kc_load(x + i);
        float s = km_hsum((s0 + s1) + (s2 + s3));
        for (; i < L; i++) s += x[i];
        ((float *)bufs[1])[r] = s * p->scale;
    }
}

KM_END

#endif
