/* misc_common.h — what the non-convolution kernels (misc_*.h) add to kcommon.h (vector types,
 * loads/stores, exp/sigmoid/tanh, the fused activations KC_ACT_*): horizontal reductions, the
 * NaN-propagating max of the pooling/Max rules, the elementwise unary functions (the KC_ACT_*
 * activations plus the KM_UN_* codes) in vector and scalar form, and a byte copy.
 *
 * Freestanding C11 with GCC/clang vector extensions (see kcommon.h). The few libm functions the
 * rarer unary ops use (logf, erff, expm1f, log1pf) are declared extern here — libm is allowed
 * in the compiled model; sqrt, floor, ceil and fabs are compiler builtins.
 */
#ifndef PPCC_KERNELS_MISC_COMMON_H
#define PPCC_KERNELS_MISC_COMMON_H

#include "kcommon.h"

/* The kernels pass 64-byte vectors between always-inline functions only, so the ABI warning
 * compilers give for them on targets without 512-bit registers does not apply. */
#define KM_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpsabi\"")
#define KM_END _Pragma("GCC diagnostic pop")

KM_BEGIN

/* unaligned, aliasing 64-byte view of byte buffers */
typedef unsigned char km_b64u __attribute__((vector_size(64), aligned(1), may_alias));

KC_INLINE float km_hsum(kc_v16 v)
{
    float s = 0;
    for (int i = 0; i < KC_VL; i++) s += v[i];
    return s;
}
/* max keeping NaN: (b > a || b is NaN) ? b : a — the MaxPool / Max rule of the interpreter */
KC_INLINE kc_v16 km_max_nan(kc_v16 a, kc_v16 b) { return kc_sel((b > a) | (b != b), b, a); }
KC_INLINE float km_max_nan1(float a, float b) { return (b > a || (b != b && a == a)) ? b : a; }

/* In-place transpose of a 16x16 tile held in 16 vectors (r[a][l] becomes r[l][a]): the
 * off-diagonal j x j blocks of every 2j x 2j block swap, for j = 8, 4, 2, 1 (64 two-input
 * shuffles). */
#define KM_TR_STAGE(j, ...)                                                                       \
    for (int i = 0; i < KC_VL; i++)                                                               \
        if (!(i & (j))) {                                                                         \
            kc_v16 a = r[i], b = r[i + (j)];                                                      \
            r[i] = __builtin_shufflevector(a, b, __VA_ARGS__);                                    \
            r[i + (j)] = __builtin_shufflevector(a, b, KM_TR_HI_##j);                             \
        }
#define KM_TR_HI_8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define KM_TR_HI_4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define KM_TR_HI_2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define KM_TR_HI_1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
KC_INLINE void km_transpose16(kc_v16 *r)
{
    KM_TR_STAGE(8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
    KM_TR_STAGE(4, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27)
    KM_TR_STAGE(2, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29)
    KM_TR_STAGE(1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30)
}
#undef KM_TR_STAGE

/* ---------------------------------------------------------------- unary functions */
/* Codes of the elementwise unary functions: the activations KC_ACT_* (kcommon.h, equal to
 * ir/activation.h's ActKind) and the ops below. */
enum {
    KM_UN_EXP = KC_ACT_COUNT,
    KM_UN_LOG,
    KM_UN_SQRT,
    KM_UN_RECIPROCAL,
    KM_UN_NEG,
    KM_UN_ABS,
    KM_UN_ELU,      /* alpha */
    KM_UN_SOFTPLUS,
    KM_UN_ERF,
    KM_UN_FLOOR,
    KM_UN_CEIL,
    KM_UN_COUNT
};

extern float logf(float);
extern float expm1f(float);
extern float log1pf(float);

KC_INLINE float km_exp1(float x) { return kc_exp(kc_splat(x))[0]; }

/* Scalar form of every unary code (tails of the vector loops, lane-by-lane ops). */
KC_INLINE float km_unary1(int op, float x, float alpha, float beta)
{
    switch (op) {
    case KM_UN_EXP: return km_exp1(x);
    case KM_UN_LOG: return logf(x);
    case KM_UN_SQRT: return __builtin_sqrtf(x);
    case KM_UN_RECIPROCAL: return 1.0f / x;
    case KM_UN_NEG: return -x;
    case KM_UN_ABS: return __builtin_fabsf(x);
    case KM_UN_ELU: return x < 0 ? alpha * expm1f(x) : x;
    case KM_UN_SOFTPLUS: return x > 0 ? x + log1pf(km_exp1(-x)) : log1pf(km_exp1(x));
    case KM_UN_ERF: return kc_erf(kc_splat(x))[0];
    case KM_UN_FLOOR: return __builtin_floorf(x);
    case KM_UN_CEIL: return __builtin_ceilf(x);
    default: return kc_act(op, kc_splat(x), alpha, beta)[0]; /* KC_ACT_* */
    }
}

/* Vector form: the activations and the cheap ops as vector code, the others lane by lane. */
KC_INLINE kc_v16 km_unary(int op, kc_v16 x, float alpha, float beta)
{
    if (op < KC_ACT_COUNT) return kc_act(op, x, alpha, beta);
    switch (op) {
    case KM_UN_EXP: return kc_exp(x);
    case KM_UN_RECIPROCAL: return kc_splat(1.0f) / x;
    case KM_UN_NEG: return -x;
    case KM_UN_ABS: return kc_fabs(x);
    case KM_UN_ERF: return kc_erf(x);
    default: {
        kc_v16 y;
        for (int i = 0; i < KC_VL; i++) y[i] = km_unary1(op, x[i], alpha, beta);
        return y;
    }
    }
}

/* ---------------------------------------------------------------- byte copy */
/* Copy n bytes between non-overlapping buffers, 64 at a time (no libc memcpy). */
KC_INLINE void km_copy_bytes(unsigned char *dst, const unsigned char *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 256 <= n; i += 256) {
        km_b64u a = *(const km_b64u *)(src + i), b = *(const km_b64u *)(src + i + 64);
        km_b64u c = *(const km_b64u *)(src + i + 128), d = *(const km_b64u *)(src + i + 192);
        *(km_b64u *)(dst + i) = a;
        *(km_b64u *)(dst + i + 64) = b;
        *(km_b64u *)(dst + i + 128) = c;
        *(km_b64u *)(dst + i + 192) = d;
    }
    for (; i + 64 <= n; i += 64) *(km_b64u *)(dst + i) = *(const km_b64u *)(src + i);
    for (; i < n; i++) dst[i] = src[i];
}

KM_END

#endif
