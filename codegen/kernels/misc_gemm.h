/* misc_gemm.h — native f32 Gemm for fully connected layers: Y[M,N] = act(A[M,K] * B^T + bias),
 * the canonical form after the canonicalize-gemm and fuse-activation passes (B constant [N,K]
 * with transB = 1, bias [N] or one element, fused activation as in ir/activation.h).
 *
 * Two paths (KmGemmParams.path):
 *   KM_GEMM_ROWS   few rows of A (batch 1..8): memory bound like a matrix-vector product — the
 *                  weights are read once, straight from B's row-major [N,K] storage, 4 rows of B
 *                  at a time (4 streams the prefetchers follow), each multiplied with up to 4
 *                  rows of A by vector dot products (16 independent accumulators). Work item =
 *                  4 output columns; M > 4 re-reads the 4 rows of B from L1/L2.
 *   KM_GEMM_PANELS many rows: B packed at compile time (lower_misc.c, km_gemm_pack) into panels
 *                  of 32 columns [N/32][K][32] (zero padded); a 12x32 register tile (24 vector
 *                  accumulators, A broadcast from memory) runs over depth blocks of KM_GEMM_KC
 *                  (partial sums kept in Y between blocks), so the panel's 32 KB slice is reused
 *                  from L1 by every row tile of the item. Work item = (panel, block of mblock
 *                  rows of A): panel-major, so consecutive items reuse the panel from L2, when B
 *                  is large (a classifier); row-block-major when all of B fits L2 (row_major:
 *                  the many-row products of transformer/ConvNeXt MLPs, whose A is larger than
 *                  L2 and is otherwise read again for every panel: 0.85x the time of panel-major
 *                  on [3136,96] x [96,384], 0.98x on [3136,384] x [384,96]). The tile's loops
 *                  over rows and halves are unrolled (KC_UNROLL): without, clang kept the 24
 *                  accumulators of the 12-row tile on the stack (a load and a store per FMA) and
 *                  the path ran at 18% of the FMA peak; now about 70% on those shapes.
 *   KM_GEMM_SKIP   one row of A that comes from a ReLU (lower_misc.c checks its producers) and a
 *                  B too large for the caches (a classifier's weights): memory bound, so the
 *                  time is the bytes of B read, and the rows of B^T that meet a zero of A need
 *                  not be read at all. B is packed at compile time (km_gemm_pack) into
 *                  panels of nb columns [np][K][nb] (zero padded), so B^T's row k of a panel is
 *                  nb contiguous floats; work item = panel. The item gathers the nonzeros of A
 *                  (256 at a time) and adds x_k * row k for 4 of them at a time into nb partial
 *                  sums on its stack (L1). VGG-16's first classifier layer (411 MB of weights)
 *                  reads 60% of them when 40% of its inputs are zero. The lowering uses it only
 *                  when every element of B is finite (a skipped 0 * inf would be NaN).
 * Buffers: 0 = A, 1 = B (row-major [N,K] or packed panels), 2 = bias (or NULL), 3 = Y.
 * Sums are f32 (FMA), then + bias, then the activation, rounding once per step.
 */
#ifndef PPCC_KERNELS_MISC_GEMM_H
#define PPCC_KERNELS_MISC_GEMM_H

#include "misc_common.h"

KM_BEGIN

enum { KM_GEMM_ROWS = 0, KM_GEMM_PANELS = 1, KM_GEMM_SKIP = 2 };
#define KM_GEMM_NR 32 /* panel width (two vectors) */
#define KM_GEMM_MR 12 /* rows of the panel path's register tile */
#define KM_GEMM_KC 256 /* depth block of the panel path */
#define KM_GEMM_SKIP_NB_MAX 2048 /* widest panel of the skip path (its partial sums: 8 KB of stack) */

typedef struct KmGemmParams {
    int64_t M, N, K;
    int64_t lda;      /* row stride of A in elements (>= K) */
    int64_t c_stride; /* bias index step per column: 1 ([N]) or 0 (one element) */
    int64_t mblock;   /* KM_GEMM_PANELS: rows of A per work item (multiple of KM_GEMM_MR) */
    int32_t path;     /* KM_GEMM_ROWS or KM_GEMM_PANELS */
    int32_t has_bias;
    int32_t act;      /* KC_ACT_* */
    float alpha, beta; /* activation parameters */
    int32_t row_major; /* KM_GEMM_PANELS: items ordered row block first, panel fastest (B fits L2) */
    int32_t reserved;
    int64_t nb;        /* KM_GEMM_SKIP: panel width (a multiple of 16, at most KM_GEMM_SKIP_NB_MAX) */
} KmGemmParams;

KC_INLINE int64_t k_gemm_work(const KmGemmParams *p)
{
    if (p->path == KM_GEMM_ROWS) return (p->N + 3) / 4;
    if (p->path == KM_GEMM_SKIP) return (p->N + p->nb - 1) / p->nb;
    int64_t np = (p->N + KM_GEMM_NR - 1) / KM_GEMM_NR;
    return np * ((p->M + p->mblock - 1) / p->mblock);
}

/* Bytes of B packed into panels of nb columns (KM_GEMM_NR for the panel path, p->nb for skip). */
KC_INLINE int64_t km_gemm_packed_size(int64_t N, int64_t K, int64_t nb)
{
    return (N + nb - 1) / nb * nb * K * (int64_t)sizeof(float);
}

/* Pack B [N,K] row-major into panels of nb columns: dst[((j / nb) * K + k) * nb + j % nb] =
 * B[j][k], zero columns past N, so row k of a panel is nb contiguous floats. Runs in the compiler
 * (lowering). */
KC_INLINE void km_gemm_pack(const float *B, int64_t N, int64_t K, int64_t nb, float *dst)
{
    int64_t np = (N + nb - 1) / nb;
    for (int64_t p = 0; p < np; p++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < nb; c++) {
                int64_t j = p * nb + c;
                dst[(p * K + k) * nb + c] = j < N ? B[j * K + k] : 0.0f;
            }
}

/* Panel width of the skip path: N split into at least two panels (two threads) of at most
 * 1024 columns, rounded up to the vector width. */
KC_INLINE int64_t km_gemm_skip_nb(int64_t N)
{
    int64_t np = (N + 1023) / 1024;
    if (np < 2) np = 2;
    int64_t nb = (N + np - 1) / np;
    return (nb + KC_VL - 1) / KC_VL * KC_VL;
}

KC_INLINE float km_gemm_epilogue1(const KmGemmParams *p, const float *bias, int64_t n, float s)
{
    if (p->has_bias) s += bias[n * p->c_stride];
    return km_unary1(p->act, s, p->alpha, p->beta);
}

/* ---------------------------------------------------------------- KM_GEMM_ROWS */
/* out[m][r] = dot(A row m, B row r) over K, for MR rows of A and 4 rows of B. */
#define KM_GEMV_TILE(MR)                                                                          \
    KC_INLINE void km_gemv_tile##MR(const float *a, int64_t lda, const float *const *b, int64_t K, \
                                    float out[4][4])                                              \
    {                                                                                             \
        kc_v16 acc[MR][4];                                                                        \
        for (int m = 0; m < MR; m++)                                                              \
            for (int r = 0; r < 4; r++) acc[m][r] = kc_splat(0.0f);                               \
        int64_t k = 0;                                                                            \
        for (; k + KC_VL <= K; k += KC_VL) {                                                      \
            kc_v16 bv[4];                                                                         \
            for (int r = 0; r < 4; r++) bv[r] = kc_load(b[r] + k);                                \
            for (int m = 0; m < MR; m++) {                                                        \
                kc_v16 av = kc_load(a + m * lda + k);                                             \
                for (int r = 0; r < 4; r++) acc[m][r] += av * bv[r];                              \
            }                                                                                     \
        }                                                                                         \
        for (int m = 0; m < MR; m++)                                                              \
            for (int r = 0; r < 4; r++) {                                                         \
                float s = km_hsum(acc[m][r]);                                                     \
                for (int64_t t = k; t < K; t++) s += a[m * lda + t] * b[r][t];                    \
                out[m][r] = s;                                                                    \
            }                                                                                     \
    }
KM_GEMV_TILE(1)
KM_GEMV_TILE(2)
KM_GEMV_TILE(3)
KM_GEMV_TILE(4)
#undef KM_GEMV_TILE

KC_INLINE void km_gemm_rows_range(const KmGemmParams *p, const float *A, const float *B,
                                  const float *bias, float *Y, int64_t begin, int64_t end)
{
    const int64_t M = p->M, N = p->N, K = p->K, lda = p->lda;
    for (int64_t it = begin; it < end; it++) {
        int64_t n0 = it * 4;
        int nr = N - n0 < 4 ? (int)(N - n0) : 4;
        const float *b[4];
        for (int r = 0; r < 4; r++) b[r] = B + (n0 + (r < nr ? r : nr - 1)) * K;
        for (int64_t m0 = 0; m0 < M; m0 += 4) {
            int64_t mr = M - m0 < 4 ? M - m0 : 4;
            float out[4][4];
            const float *a = A + m0 * lda;
            if (mr == 4)
                km_gemv_tile4(a, lda, b, K, out);
            else if (mr == 3)
                km_gemv_tile3(a, lda, b, K, out);
            else if (mr == 2)
                km_gemv_tile2(a, lda, b, K, out);
            else
                km_gemv_tile1(a, lda, b, K, out);
            for (int64_t m = 0; m < mr; m++)
                for (int r = 0; r < nr; r++)
                    Y[(m0 + m) * N + n0 + r] = km_gemm_epilogue1(p, bias, n0 + r, out[m][r]);
        }
    }
}

/* ---------------------------------------------------------------- KM_GEMM_PANELS */
/* Y rows [m0, m0+MR) x panel columns [n0, n0+32) (n0 + 32 may pass N: stores are clipped),
 * depth [k0, k1): the partial sums start from 0 (first block) or from Y, and the last block
 * adds the bias and applies the activation. */
#define KM_GEMM_TILE(MR)                                                                          \
    KC_INLINE void km_gemm_tile##MR(const KmGemmParams *p, const float *a, const float *bp,       \
                                    const float *bias, float *y, int64_t n0, int64_t k0,          \
                                    int64_t k1)                                                   \
    {                                                                                             \
        const int64_t lda = p->lda, N = p->N;                                                     \
        const int first = k0 == 0, last = k1 == p->K, full = n0 + KM_GEMM_NR <= N;                \
        kc_v16 acc[MR][2];                                                                        \
        KC_UNROLL for (int m = 0; m < MR; m++)                                                    \
            KC_UNROLL for (int h = 0; h < 2; h++) {                                               \
                float *yr = y + m * N + n0 + h * KC_VL;                                           \
                if (first) {                                                                      \
                    acc[m][h] = kc_splat(0.0f);                                                   \
                } else if (full) {                                                                \
                    acc[m][h] = kc_load(yr);                                                      \
                } else {                                                                          \
                    acc[m][h] = kc_splat(0.0f);                                                   \
                    for (int l = 0; l < KC_VL && n0 + h * KC_VL + l < N; l++) acc[m][h][l] = yr[l]; \
                }                                                                                 \
            }                                                                                     \
        for (int64_t k = k0; k < k1; k++) {                                                       \
            kc_v16 b0 = kc_load(bp + k * KM_GEMM_NR), b1 = kc_load(bp + k * KM_GEMM_NR + KC_VL);  \
            KC_UNROLL for (int m = 0; m < MR; m++) {                                              \
                kc_v16 av = kc_splat(a[m * lda + k]);                                             \
                acc[m][0] += av * b0;                                                             \
                acc[m][1] += av * b1;                                                             \
            }                                                                                     \
        }                                                                                         \
        kc_v16 bv[2] = {kc_splat(0.0f), kc_splat(0.0f)};                                          \
        if (last && p->has_bias) {                                                                \
            for (int h = 0; h < 2; h++)                                                           \
                for (int l = 0; l < KC_VL; l++) {                                                 \
                    int64_t n = n0 + h * KC_VL + l;                                               \
                    bv[h][l] = n < N ? bias[n * p->c_stride] : 0.0f;                              \
                }                                                                                 \
        }                                                                                         \
        KC_UNROLL for (int m = 0; m < MR; m++)                                                    \
            KC_UNROLL for (int h = 0; h < 2; h++) {                                               \
                kc_v16 v = last ? km_unary(p->act, acc[m][h] + bv[h], p->alpha, p->beta) : acc[m][h]; \
                float *yr = y + m * N + n0 + h * KC_VL;                                           \
                if (full)                                                                         \
                    kc_store(yr, v);                                                              \
                else                                                                              \
                    for (int l = 0; l < KC_VL && n0 + h * KC_VL + l < N; l++) yr[l] = v[l];      \
            }                                                                                     \
    }
KM_GEMM_TILE(12)
KM_GEMM_TILE(8)
KM_GEMM_TILE(4)
KM_GEMM_TILE(2)
KM_GEMM_TILE(1)
#undef KM_GEMM_TILE

KC_INLINE void km_gemm_panels_range(const KmGemmParams *p, const float *A, const float *Bp,
                                    const float *bias, float *Y, int64_t begin, int64_t end)
{
    const int64_t M = p->M, K = p->K, lda = p->lda, N = p->N;
    const int64_t nmb = (M + p->mblock - 1) / p->mblock, np = (N + KM_GEMM_NR - 1) / KM_GEMM_NR;
    for (int64_t it = begin; it < end; it++) {
        const int64_t panel = p->row_major ? it % np : it / nmb, mb = p->row_major ? it / np : it % nmb;
        int64_t n0 = panel * KM_GEMM_NR;
        const float *bp = Bp + panel * K * KM_GEMM_NR;
        int64_t m0 = mb * p->mblock, m1 = m0 + p->mblock < M ? m0 + p->mblock : M;
        /* depth blocks: the panel's KC x 32 slice stays in L1 for every row tile of the block */
        int64_t k0 = 0;
        do {
            int64_t k1 = K - k0 > KM_GEMM_KC ? k0 + KM_GEMM_KC : K;
            int64_t m = m0;
            for (; m + 12 <= m1; m += 12) km_gemm_tile12(p, A + m * lda, bp, bias, Y + m * N, n0, k0, k1);
            if (m + 8 <= m1) km_gemm_tile8(p, A + m * lda, bp, bias, Y + m * N, n0, k0, k1), m += 8;
            if (m + 4 <= m1) km_gemm_tile4(p, A + m * lda, bp, bias, Y + m * N, n0, k0, k1), m += 4;
            if (m + 2 <= m1) km_gemm_tile2(p, A + m * lda, bp, bias, Y + m * N, n0, k0, k1), m += 2;
            if (m < m1) km_gemm_tile1(p, A + m * lda, bp, bias, Y + m * N, n0, k0, k1);
            k0 = k1;
        } while (k0 < K);
    }
}

/* ---------------------------------------------------------------- KM_GEMM_SKIP */
KC_INLINE void km_gemm_skip_range(const KmGemmParams *p, const float *A, const float *Bp,
                                  const float *bias, float *Y, int64_t begin, int64_t end)
{
    const int64_t K = p->K, N = p->N, nb = p->nb;
    float acc[KM_GEMM_SKIP_NB_MAX] __attribute__((aligned(64)));
    int32_t idx[256];
    float xs[256];
    for (int64_t it = begin; it < end; it++) {
        const float *bp = Bp + it * K * nb;
        for (int64_t j = 0; j < nb; j += KC_VL) kc_store(acc + j, kc_splat(0.0f));
        for (int64_t k0 = 0; k0 < K; k0 += 256) {
            int64_t k1 = K - k0 > 256 ? k0 + 256 : K;
            int c = 0;
            for (int64_t k = k0; k < k1; k++) /* branch-free gather of the nonzeros */
            {
                float x = A[k];
                idx[c] = (int32_t)k, xs[c] = x;
                c += x != 0.0f;
            }
            int i = 0;
            for (; i + 4 <= c; i += 4) {
                const float *w0 = bp + idx[i] * nb, *w1 = bp + idx[i + 1] * nb;
                const float *w2 = bp + idx[i + 2] * nb, *w3 = bp + idx[i + 3] * nb;
                kc_v16 x0 = kc_splat(xs[i]), x1 = kc_splat(xs[i + 1]);
                kc_v16 x2 = kc_splat(xs[i + 2]), x3 = kc_splat(xs[i + 3]);
                for (int64_t j = 0; j < nb; j += KC_VL) {
                    kc_v16 a = kc_load(acc + j);
                    a += x0 * kc_load(w0 + j);
                    a += x1 * kc_load(w1 + j);
                    a += x2 * kc_load(w2 + j);
                    a += x3 * kc_load(w3 + j);
                    kc_store(acc + j, a);
                }
            }
            for (; i < c; i++) {
                const float *w0 = bp + idx[i] * nb;
                kc_v16 x0 = kc_splat(xs[i]);
                for (int64_t j = 0; j < nb; j += KC_VL) kc_store(acc + j, kc_load(acc + j) + x0 * kc_load(w0 + j));
            }
        }
        int64_t n0 = it * nb, nv = N - n0 < nb ? N - n0 : nb;
        for (int64_t j = 0; j < nv; j++) Y[n0 + j] = km_gemm_epilogue1(p, bias, n0 + j, acc[j]);
    }
}

/* bufs: A, B (row-major or packed), bias (or NULL), Y */
KC_INLINE void k_gemm_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmGemmParams *p = (const KmGemmParams *)params;
    const float *A = (const float *)bufs[0], *B = (const float *)bufs[1];
    const float *bias = (const float *)bufs[2];
    float *Y = (float *)bufs[3];
    if (p->path == KM_GEMM_ROWS)
        km_gemm_rows_range(p, A, B, bias, Y, begin, end);
    else if (p->path == KM_GEMM_SKIP)
        km_gemm_skip_range(p, A, B, bias, Y, begin, end);
    else
        km_gemm_panels_range(p, A, B, bias, Y, begin, end);
}

KM_END

#endif
