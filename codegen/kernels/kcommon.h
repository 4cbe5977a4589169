/* kcommon.h — the base every native kernel header includes: 16-float vector types (one vector
 * = the 16 channels of an NCHW16c block, IR_LAYOUT_BLOCK), unaligned aliasing loads/stores,
 * splats and lane selects, a vectorised exp (about 1 ulp) with sigmoid and tanh on top, and the
 * fused activations of Conv/Gemm (ir/activation.h: same kinds, same numbering, same formulas,
 * evaluated in float).
 *
 * Freestanding C11 with GCC/clang vector extensions: compiled by clang-16 to LLVM bitcode for
 * the model and natively by gcc or clang for the kernel tests and benchmarks. Only the
 * compiler's stdint.h/stddef.h; no libc calls. Names are prefixed kc_ / KC_.
 */
#ifndef PPCC_KERNELS_KCOMMON_H
#define PPCC_KERNELS_KCOMMON_H

#include <stddef.h>
#include <stdint.h>

/* GCC notes that 64-byte vector arguments change the ABI on targets without AVX-512; these
 * functions are always inlined, so there is no ABI to change. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

#define KC_VL 16 /* floats per vector = channels per NCHW16c block */
#define KC_INLINE static inline __attribute__((always_inline))
/* Fully unroll the next loop once its trip count is a compile-time constant (register tiles). */
#if defined(__clang__)
#define KC_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define KC_UNROLL _Pragma("GCC unroll 32")
#else
#define KC_UNROLL
#pragma GCC diagnostic pop

#endif

typedef float kc_v16 __attribute__((vector_size(64)));
typedef int32_t kc_v16i __attribute__((vector_size(64)));
/* A compiler barrier for memory operations (no instruction): loads after it are not hoisted
 * above it. Used inside unrolled register-tile loops to bound the scheduler's window. */
#define KC_BARRIER() __asm__ volatile("" ::: "memory")
/* The same, and the compiler must assume the memory at p changed (p's buffer escapes): loads
 * from it after the barrier are not replaced by the values stored before it. */
#define KC_BARRIER_ON(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Make pointer p opaque to the optimiser (it is computed once, into one register): memory
 * operands then use p + constant rather than base + index addressing. */
#define KC_OPAQUE(p) __asm__("" : "+r"(p))

/* The register budget of the tile planners (conv_plan.h, pattern_plan.h): a target's registers
 * per vector of 16 floats (512-bit: 1, 256-bit: 2, 128-bit: 4), and its register file (vregs,
 * 16 when unknown) counted in vectors of 16 floats. */
static inline int kc_regs_per_v16(int vector_bits) { return vector_bits >= 512 ? 1 : vector_bits >= 256 ? 2 : 4; }
static inline int kc_vregs16(int vector_bits, int vregs)
{
    return (vregs > 0 ? vregs : 16) / kc_regs_per_v16(vector_bits);
}

/* Unaligned views that may alias float buffers: loads and stores through these. */
typedef float kc_v16u __attribute__((vector_size(64), aligned(4), may_alias));

KC_INLINE kc_v16 kc_load(const float *p) { return *(const kc_v16u *)p; }
KC_INLINE void kc_store(float *p, kc_v16 v) { *(kc_v16u *)p = v; }
KC_INLINE kc_v16 kc_splat(float s)
{
    return (kc_v16){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s};
}
KC_INLINE kc_v16i kc_splati(int32_t s)
{
    return (kc_v16i){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s};
}
/* m ? a : b per lane; m is a comparison result (all ones / all zeros per lane). */
KC_INLINE kc_v16 kc_sel(kc_v16i m, kc_v16 a, kc_v16 b)
{
    return (kc_v16)(((kc_v16i)a & m) | ((kc_v16i)b & ~m));
}
KC_INLINE kc_v16 kc_fabs(kc_v16 x) { return (kc_v16)((kc_v16i)x & kc_splati(0x7fffffff)); }

/* A 64-byte-aligned vector of zeros: border taps of the convolution kernels read it instead of
 * the input (16 lanes = one pixel of one channel block). */
static const float kc_zero16[KC_VL] __attribute__((aligned(64), unused));

/* ---------------------------------------------------------------- exp, sigmoid, tanh */
/* exp(x): n = round(x/ln2), r = x - n*ln2 (ln2 in two parts), exp(r) by the Cephes expf
 * polynomial, times 2^n applied as 2^(n/2) * 2^(n - n/2) so results near the overflow and
 * subnormal ends come out right. About 1 ulp; NaN in, NaN out. */
KC_INLINE kc_v16 kc_exp(kc_v16 x)
{
    kc_v16 xc = kc_sel(x > kc_splat(89.0f), kc_splat(89.0f), x);
    xc = kc_sel(xc < kc_splat(-104.0f), kc_splat(-104.0f), xc);
    const kc_v16 magic = kc_splat(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    kc_v16 n = (xc * kc_splat(1.44269504088896341f) + magic) - magic;
    kc_v16 r = xc - n * kc_splat(0.693359375f);
    r = r - n * kc_splat(-2.12194440e-4f);
    kc_v16 p = kc_splat(1.9875691500E-4f);
    p = p * r + kc_splat(1.3981999507E-3f);
    p = p * r + kc_splat(8.3334519073E-3f);
    p = p * r + kc_splat(4.1665795894E-2f);
    p = p * r + kc_splat(1.6666665459E-1f);
    p = p * r + kc_splat(5.0000001201E-1f);
    p = p * (r * r) + r + kc_splat(1.0f);
    kc_v16i ni = __builtin_convertvector(n, kc_v16i);
    kc_v16i n1 = ni >> 1, n2 = ni - n1;
    kc_v16 y = p * (kc_v16)((n1 + 127) << 23) * (kc_v16)((n2 + 127) << 23);
    return kc_sel(x != x, x, y);
}

/* 1/(1 + exp(-x)), split by sign as ir/activation.h does so exp never overflows. */
KC_INLINE kc_v16 kc_sigmoid(kc_v16 x)
{
    kc_v16 e = kc_exp(-kc_fabs(x));
    kc_v16 s = kc_splat(1.0f) / (kc_splat(1.0f) + e);
    return kc_sel(x >= kc_splat(0.0f), s, e * s);
}

/* tanh: odd polynomial (Cephes tanhf) for |x| < 0.625, else 1 - 2/(exp(2|x|) + 1) with the sign
 * of x. */
KC_INLINE kc_v16 kc_tanh(kc_v16 x)
{
    kc_v16 ax = kc_fabs(x), z = x * x;
    kc_v16 p = kc_splat(-5.70498872745E-3f);
    p = p * z + kc_splat(2.06390887954E-2f);
    p = p * z + kc_splat(-5.37397155531E-2f);
    p = p * z + kc_splat(1.33314422036E-1f);
    p = p * z + kc_splat(-3.33332819422E-1f);
    kc_v16 small = p * z * x + x;
    kc_v16 e = kc_exp(ax + ax);
    kc_v16 big = kc_splat(1.0f) - kc_splat(2.0f) / (e + kc_splat(1.0f));
    big = (kc_v16)((kc_v16i)big | ((kc_v16i)x & kc_splati((int32_t)0x80000000u)));
    return kc_sel(ax < kc_splat(0.625f), small, kc_sel(x != x, x, big));
}

/* erf(x), vectorised (the Erf op, codegen/kernels/misc_common.h, and the fused GELU; libm's erff one lane at a time cost 8.5 ns per element, e.g. 77 ms per
 * ConvNeXt-T inference in its GELUs):
 *   |x| < 1: x + x * (P(x^2) - 1), P the degree-6 least-squares fit of erf(x)/x on [0, 1]
 *            (relative error 5e-9 before rounding);
 *   |x| >= 1: sign(x) * (1 - exp(-x^2) * t * Q(t)), t = 1 / (1 + 0.3275911 |x|) (the variable of
 *            Abramowitz & Stegun 7.1.26), Q the degree-8 least-squares fit of
 *            erfc(x) exp(x^2) / t on [0.9, 10] (relative error 1e-8), |x| clamped to 10 (erf is
 *            1 in f32 from 3.92 on).
 * Both fits were made with numpy's polyfit against Python's math.erf / math.erfc (double).
 * Within a few ulps of erf in f32 (tests/kernels/test_misc.c); NaN in, NaN out. */
KC_INLINE kc_v16 kc_erf(kc_v16 x)
{
    const kc_v16 ax = kc_fabs(x), z = x * x;
    kc_v16 p = kc_splat(8.006874103e-05f);
    p = p * z + kc_splat(-8.053751110e-04f);
    p = p * z + kc_splat(5.192957867e-03f);
    p = p * z + kc_splat(-2.685606957e-02f);
    p = p * z + kc_splat(1.128363463e-01f);
    p = p * z + kc_splat(-3.761262977e-01f);
    p = p * z + kc_splat(1.28379166e-01f); /* P - 1: x + x * (P - 1) rounds less than x * P */
    const kc_v16 a = kc_sel(ax > kc_splat(10.0f), kc_splat(10.0f), ax);
    const kc_v16 t = kc_splat(1.0f) / (kc_splat(1.0f) + kc_splat(0.3275911f) * a);
    kc_v16 q = kc_splat(-6.035962332e-02f);
    q = q * t + kc_splat(1.195078506e-01f);
    q = q * t + kc_splat(1.485552229e-02f);
    q = q * t + kc_splat(9.128085121e-02f);
    q = q * t + kc_splat(1.405793599e-01f);
    q = q * t + kc_splat(1.479525737e-01f);
    q = q * t + kc_splat(1.767074889e-01f);
    q = q * t + kc_splat(1.845895800e-01f);
    q = q * t + kc_splat(1.848359666e-01f);
    const kc_v16 big = kc_splat(1.0f) - kc_exp(-(a * a)) * (t * q);
    return kc_sel(ax < kc_splat(1.0f), x + x * p, kc_sel(x < kc_splat(0.0f), -big, big));
}

/* ---------------------------------------------------------------- fused activations */
/* Same values as ir/activation.h's ActKind (the lowerings check this at compile time). */
enum {
    KC_ACT_NONE = 0,
    KC_ACT_RELU,
    KC_ACT_LEAKY_RELU,   /* alpha */
    KC_ACT_CLIP,         /* alpha = min, beta = max */
    KC_ACT_SIGMOID,
    KC_ACT_TANH,
    KC_ACT_HARD_SIGMOID, /* alpha, beta */
    KC_ACT_HARD_SWISH,
    KC_ACT_GELU,         /* x/2 (1 + erf(x / sqrt 2)) */
    KC_ACT_COUNT
};

/* act(x) per lane. The comparisons are false for NaN, so NaN passes through (as in the
 * interpreter's formulas). */
KC_INLINE kc_v16 kc_act(int act, kc_v16 x, float alpha, float beta)
{
    const kc_v16 zero = kc_splat(0.0f), one = kc_splat(1.0f);
    switch (act) {
    case KC_ACT_RELU: return kc_sel(x < zero, zero, x);
    case KC_ACT_LEAKY_RELU: return kc_sel(x < zero, x * kc_splat(alpha), x);
    case KC_ACT_CLIP: {
        kc_v16 v = kc_sel(x < kc_splat(alpha), kc_splat(alpha), x);
        return kc_sel(v > kc_splat(beta), kc_splat(beta), v);
    }
    case KC_ACT_SIGMOID: return kc_sigmoid(x);
    case KC_ACT_TANH: return kc_tanh(x);
    case KC_ACT_HARD_SIGMOID: {
        kc_v16 v = x * kc_splat(alpha) + kc_splat(beta);
        v = kc_sel(v < zero, zero, v);
        return kc_sel(v > one, one, v);
    }
    case KC_ACT_HARD_SWISH: {
        kc_v16 v = x / kc_splat(6.0f) + kc_splat(0.5f);
        v = kc_sel(v < zero, zero, v);
        return x * kc_sel(v > one, one, v);
    }
    case KC_ACT_GELU: return x * kc_splat(0.5f) * (one + kc_erf(x * kc_splat(0.70710678118654752f)));
    default: return x;
    }
}

#pragma GCC diagnostic pop

#endif
