/* misc_eltwise.h — native f32 elementwise kernels: unary functions (misc_common.h's KC_ACT_* /
 * KM_UN_* codes: the activations, Exp, Log, Sqrt, Reciprocal, Neg, Abs, Elu, Softplus, Erf,
 * Floor, Ceil) and binary Add/Sub/Mul/Div/PRelu/Max/Min/Pow with numpy broadcasting.
 *
 * Unary: the tensor is flat; work item = a chunk of `chunk` elements.
 * Binary: the lowering collapses the broadcast (as the interpreter's bcast_init does: size-1
 * dims dropped, dims contiguous for every operand merged) into at most KM_BIN_MAXR dims with
 * per-operand element strides (0 on broadcast dims); the output is dense. Work item = a chunk
 * of the innermost dim at one outer index; a range walks its outer indices incrementally. The
 * inner run is vectorised when both strides are 0/1 (same shape, scalar, row or channel
 * broadcast, also NCHW16c per-channel constants whose inner run is the 16 lanes).
 * Input and output may be the same buffer (in place): every element is read before it is
 * written at the same index, and nothing else reads it afterwards.
 * Buffers: unary 0 = X, 1 = Y; binary 0 = A, 1 = B, 2 = Y.
 */
#ifndef PPCC_KERNELS_MISC_ELTWISE_H
#define PPCC_KERNELS_MISC_ELTWISE_H

#include "misc_common.h"

KM_BEGIN

typedef struct KmUnaryParams {
    int32_t op;        /* KC_ACT_* / KM_UN_* */
    float alpha, beta; /* LeakyRelu/Elu alpha, Clip min/max, HardSigmoid alpha/beta */
    int32_t reserved;
    int64_t n;         /* elements */
    int64_t chunk;     /* elements per work item (multiple of 16) */
} KmUnaryParams;

KC_INLINE int64_t k_unary_work(const KmUnaryParams *p) { return (p->n + p->chunk - 1) / p->chunk; }

/* bufs: X, Y */
KC_INLINE void k_unary_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmUnaryParams *p = (const KmUnaryParams *)params;
    const float *x = (const float *)bufs[0];
    float *y = (float *)bufs[1];
    int64_t i0 = begin * p->chunk, i1 = end * p->chunk;
    if (i1 > p->n) i1 = p->n;
    int64_t i = i0;
    for (; i + KC_VL <= i1; i += KC_VL) kc_store(y + i, km_unary(p->op, kc_load(x + i), p->alpha, p->beta));
    for (; i < i1; i++) y[i] = km_unary1(p->op, x[i], p->alpha, p->beta);
}

/* ---------------------------------------------------------------- binary */
enum { KM_BIN_ADD = 0, KM_BIN_SUB, KM_BIN_MUL, KM_BIN_DIV, KM_BIN_PRELU, KM_BIN_MAX, KM_BIN_MIN, KM_BIN_POW, KM_BIN_COUNT };
#define KM_BIN_MAXR 6

typedef struct KmBinaryParams {
    int32_t op;    /* KM_BIN_* */
    int32_t rank;  /* collapsed rank, 1..KM_BIN_MAXR */
    int64_t dims[KM_BIN_MAXR];
    int64_t sa[KM_BIN_MAXR], sb[KM_BIN_MAXR]; /* element strides of A and B (0 = broadcast) */
    int64_t chunk;   /* elements of the innermost dim per work item */
    int64_t nchunks; /* ceil(dims[rank-1] / chunk) */
} KmBinaryParams;

KC_INLINE int64_t k_binary_work(const KmBinaryParams *p)
{
    int64_t outer = 1;
    for (int i = 0; i < p->rank - 1; i++) outer *= p->dims[i];
    return outer * p->nchunks;
}

extern float powf(float, float);

/* x^y: x * x where every exponent is 2 (LayerNorm's variance; correctly rounded, as powf is
 * there), else powf lane by lane. */
KC_INLINE float km_pow1(float x, float y) { return y == 2.0f ? x * x : powf(x, y); }
KC_INLINE kc_v16 km_pow(kc_v16 x, kc_v16 y)
{
    const kc_v16i two = (kc_v16i)(y == kc_splat(2.0f));
    int all = 1;
    for (int i = 0; i < KC_VL; i++) all &= two[i] != 0;
    if (all) return x * x;
    kc_v16 r;
    for (int i = 0; i < KC_VL; i++) r[i] = km_pow1(x[i], y[i]);
    return r;
}

KC_INLINE kc_v16 km_binary(int op, kc_v16 x, kc_v16 y)
{
    switch (op) {
    case KM_BIN_ADD: return x + y;
    case KM_BIN_SUB: return x - y;
    case KM_BIN_MUL: return x * y;
    case KM_BIN_DIV: return x / y;
    case KM_BIN_PRELU: return kc_sel(x < kc_splat(0.0f), x * y, x);
    case KM_BIN_MAX: return kc_sel((x > y) | (x != x), x, y);
    case KM_BIN_POW: return km_pow(x, y);
    default: return kc_sel((x < y) | (x != x), x, y);
    }
}

KC_INLINE float km_binary1(int op, float x, float y)
{
    switch (op) {
    case KM_BIN_ADD: return x + y;
    case KM_BIN_SUB: return x - y;
    case KM_BIN_MUL: return x * y;
    case KM_BIN_DIV: return x / y;
    case KM_BIN_PRELU: return x < 0 ? x * y : x;
    case KM_BIN_MAX: return (x > y || x != x) ? x : y;
    case KM_BIN_POW: return km_pow1(x, y);
    default: return (x < y || x != x) ? x : y;
    }
}

/* One inner run of n elements: a with stride sa, b with stride sb, o dense. */
KC_INLINE void km_binary_run(int op, const float *a, int64_t sa, const float *b, int64_t sb, float *o,
                             int64_t n)
{
    int64_t i = 0;
    if (sa == 1 && sb == 1) {
        for (; i + KC_VL <= n; i += KC_VL) kc_store(o + i, km_binary(op, kc_load(a + i), kc_load(b + i)));
    } else if (sa == 1 && sb == 0) {
        kc_v16 y = kc_splat(b[0]);
        for (; i + KC_VL <= n; i += KC_VL) kc_store(o + i, km_binary(op, kc_load(a + i), y));
    } else if (sa == 0 && sb == 1) {
        kc_v16 x = kc_splat(a[0]);
        for (; i + KC_VL <= n; i += KC_VL) kc_store(o + i, km_binary(op, x, kc_load(b + i)));
    }
    for (; i < n; i++) o[i] = km_binary1(op, a[i * sa], b[i * sb]);
}

/* bufs: A, B, Y */
KC_INLINE void k_binary_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmBinaryParams *p = (const KmBinaryParams *)params;
    const float *A = (const float *)bufs[0], *B = (const float *)bufs[1];
    float *Y = (float *)bufs[2];
    const int r = p->rank, last = r - 1;
    const int64_t L = p->dims[last], nch = p->nchunks, sal = p->sa[last], sbl = p->sb[last];
    if (begin >= end) return;
    /* outer multi-index of `begin` */
    int64_t o = begin / nch, j = begin % nch;
    int64_t idx[KM_BIN_MAXR], oa = 0, ob = 0, rem = o;
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        oa += idx[d] * p->sa[d];
        ob += idx[d] * p->sb[d];
    }
    for (int64_t it = begin; it < end; it++) {
        int64_t e0 = j * p->chunk, n = L - e0 < p->chunk ? L - e0 : p->chunk;
        km_binary_run(p->op, A + oa + e0 * sal, sal, B + ob + e0 * sbl, sbl, Y + o * L + e0, n);
        if (++j == nch) {
            j = 0;
            o++;
            for (int d = last - 1; d >= 0; d--) {
                oa += p->sa[d];
                ob += p->sb[d];
                if (++idx[d] < p->dims[d]) break;
                oa -= p->sa[d] * p->dims[d];
                ob -= p->sb[d] * p->dims[d];
                idx[d] = 0;
            }
        }
    }
}

KM_END

#endif
