/* interp_linalg.c — reference kernels for Gemm and MatMul, and interp_gemm_f32/f64: the dense
 * matrix product every heavy interpreter kernel (Conv, ConvTranspose, Gemm, MatMul) runs on.
 *
 * Accuracy: float products are exact in double and sums are kept in double, so f32 results are
 * the float64 result rounded once (up to summation-order effects of ~1e-16 relative).
 * Speed: i-k-j order over a contiguous row of C — the inner loops run over fixed chunks of 8
 * columns so GCC -O2 vectorises them without an epilogue; 4 rows of A share every load of B;
 * column blocks of GEMM_NB keep those 4 rows of C (8 KB of doubles) in L1, depth blocks of
 * GEMM_KB keep the B panel (256 KB) in L2. About 10 GFLOP/s on one core with baseline SSE2
 * (ResNet-18's convolutions, 3.6 GFLOP, in about 0.4 s). Gemm with transB and few rows of A
 * (fully connected layers) takes dot products of contiguous rows instead of transposing B.
 * Integer MatMul/Gemm use a plain loop with wrap-around (modular) arithmetic.
 */
#include "ir.h"
#include "activation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GEMM_NB = 256, GEMM_KB = 256 };

/* The kernels below are written for GCC -O2's "very cheap" vectoriser: it vectorises only
 * loops with a known trip count that needs no run-time alias check, hence fixed chunks of 8
 * columns in helpers whose pointer parameters are restrict. T is the element type of A and B. */
#define GEMM_KERNELS(T, SUF)                                                                       \
    static inline void gemm_axpy4x8_##SUF(const T *restrict b, double a0, double a1, double a2,    \
                                          double a3, double *restrict c0, double *restrict c1,     \
                                          double *restrict c2, double *restrict c3)                \
    {                                                                                              \
        for (int j = 0; j < 8; j++) {                                                              \
            double x = b[j];                                                                       \
            c0[j] += a0 * x;                                                                       \
            c1[j] += a1 * x;                                                                       \
            c2[j] += a2 * x;                                                                       \
            c3[j] += a3 * x;                                                                       \
        }                                                                                          \
    }                                                                                              \
    static inline void gemm_axpy1x8_##SUF(const T *restrict b, double a0, double *restrict c0)     \
    {                                                                                              \
        for (int j = 0; j < 8; j++) c0[j] += a0 * (double)b[j];                                    \
    }                                                                                              \
    /* C rows 0..3, columns [0, nb) += A rows 0..3, depth [0, K) times the B panel */              \
    static void gemm_rows4_##SUF(int64_t K, const T *A, int64_t lda, const T *B, int64_t ldb,       \
                                 double *C, int64_t ldc, int64_t nb)                               \
    {                                                                                              \
        double *c0 = C, *c1 = C + ldc, *c2 = C + 2 * ldc, *c3 = C + 3 * ldc;                       \
        int64_t nb8 = nb & ~(int64_t)7;                                                            \
        for (int64_t k = 0; k < K; k++) {                                                          \
            const T *b = B + k * ldb;                                                              \
            double a0 = A[k], a1 = A[lda + k], a2 = A[2 * lda + k], a3 = A[3 * lda + k];           \
            for (int64_t j = 0; j < nb8; j += 8)                                                   \
                gemm_axpy4x8_##SUF(b + j, a0, a1, a2, a3, c0 + j, c1 + j, c2 + j, c3 + j);          \
            for (int64_t j = nb8; j < nb; j++) {                                                   \
                double x = b[j];                                                                   \
                c0[j] += a0 * x;                                                                   \
                c1[j] += a1 * x;                                                                   \
                c2[j] += a2 * x;                                                                   \
                c3[j] += a3 * x;                                                                   \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void gemm_row1_##SUF(int64_t K, const T *A, const T *B, int64_t ldb, double *C,         \
                                int64_t nb)                                                        \
    {                                                                                              \
        int64_t nb8 = nb & ~(int64_t)7;                                                            \
        for (int64_t k = 0; k < K; k++) {                                                          \
            const T *b = B + k * ldb;                                                              \
            double a0 = A[k];                                                                      \
            for (int64_t j = 0; j < nb8; j += 8) gemm_axpy1x8_##SUF(b + j, a0, C + j);             \
            for (int64_t j = nb8; j < nb; j++) C[j] += a0 * (double)b[j];                          \
        }                                                                                          \
    }                                                                                              \
    /* s[r][t] += sum over chunk of a[t] * b_r[t]: 8 independent partial sums per row of B */  \
    static inline void gemm_dot4x8_##SUF(const T *restrict a, const T *restrict b0,                \
                                         const T *restrict b1, const T *restrict b2,               \
                                         const T *restrict b3, double *restrict s)                 \
    {                                                                                              \
        for (int t = 0; t < 8; t++) {                                                              \
            double x = a[t];                                                                       \
            s[t] += x * b0[t];                                                                     \
            s[8 + t] += x * b1[t];                                                                 \
            s[16 + t] += x * b2[t];                                                                \
            s[24 + t] += x * b3[t];                                                                \
        }                                                                                          \
    }                                                                                              \
    /* C[i*ldc + j] += sum_k A[i*lda + k] * B[j*ldb + k] (B given transposed): dot products of     \
     * contiguous rows, 4 rows of B at a time, for Gemm with transB and few rows of A (no copy     \
     * of a possibly huge weight matrix). */                                                       \
    static void gemm_nt_##SUF(int64_t M, int64_t N, int64_t K, const T *A, int64_t lda,            \
                              const T *B, int64_t ldb, double *C, int64_t ldc)                     \
    {                                                                                              \
        int64_t K8 = K & ~(int64_t)7;                                                              \
        for (int64_t j0 = 0; j0 < N; j0 += 4) {                                                    \
            int nj = N - j0 < 4 ? (int)(N - j0) : 4;                                               \
            const T *b[4];                                                                         \
            for (int r = 0; r < 4; r++) b[r] = B + (j0 + (r < nj ? r : 0)) * ldb;                  \
            for (int64_t i = 0; i < M; i++) {                                                      \
                const T *a = A + i * lda;                                                          \
                double s[32] = {0};                                                                \
                for (int64_t k = 0; k < K8; k += 8)                                                \
                    gemm_dot4x8_##SUF(a + k, b[0] + k, b[1] + k, b[2] + k, b[3] + k, s);           \
                for (int r = 0; r < nj; r++) {                                                     \
                    double sum = 0;                                                                \
                    for (int t = 0; t < 8; t++) sum += s[8 * r + t];                               \
                    for (int64_t k = K8; k < K; k++) sum += (double)a[k] * (double)b[r][k];        \
                    C[i * ldc + j0 + r] += sum;                                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    void interp_gemm_##SUF(int64_t M, int64_t N, int64_t K, const T *A, int64_t lda, const T *B,   \
                           int64_t ldb, double *C, int64_t ldc)                                    \
    {                                                                                              \
        for (int64_t j0 = 0; j0 < N; j0 += GEMM_NB) {                                              \
            int64_t nb = N - j0 < GEMM_NB ? N - j0 : GEMM_NB;                                      \
            for (int64_t k0 = 0; k0 < K; k0 += GEMM_KB) {                                          \
                int64_t kb = K - k0 < GEMM_KB ? K - k0 : GEMM_KB;                                  \
                const T *bp = B + k0 * ldb + j0;                                                   \
                int64_t i = 0;                                                                     \
                for (; i + 4 <= M; i += 4)                                                         \
                    gemm_rows4_##SUF(kb, A + i * lda + k0, lda, bp, ldb, C + i * ldc + j0, ldc,     \
                                     nb);                                                          \
                for (; i < M; i++)                                                                 \
                    gemm_row1_##SUF(kb, A + i * lda + k0, bp, ldb, C + i * ldc + j0, nb);          \
            }                                                                                      \
        }                                                                                          \
    }

GEMM_KERNELS(float, f32)
GEMM_KERNELS(double, f64)

/* Integer product with modular arithmetic: C[M][N] = A * B (row-major, leading dims given);
 * elements read through the generic accessors. Any integer dtype. */
static void gemm_int(DType t, int64_t M, int64_t N, int64_t K, const void *A, int64_t a_off,
                     int64_t a_rs, int64_t a_cs, const void *B, int64_t b_off, int64_t b_rs,
                     int64_t b_cs, uint64_t *C)
{
    memset(C, 0, (size_t)(M * N) * sizeof *C);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) {
            uint64_t a = (uint64_t)elem_get_i64(t, A, a_off + i * a_rs + k * a_cs);
            if (!a) continue;
            for (int64_t j = 0; j < N; j++)
                C[i * N + j] += a * (uint64_t)elem_get_i64(t, B, b_off + k * b_rs + j * b_cs);
        }
}

/* Transposed copy of a rows x cols matrix of element size es into a new buffer, in 32x32 tiles
 * so both sides stay in cache. */
static void *linalg_transpose(const void *src, int64_t rows, int64_t cols, size_t es)
{
    char *dst = xmalloc((size_t)(rows * cols) * es + 1);
    const char *s = src;
    for (int64_t r0 = 0; r0 < rows; r0 += 32)
        for (int64_t c0 = 0; c0 < cols; c0 += 32)
            for (int64_t r = r0; r < rows && r < r0 + 32; r++)
                for (int64_t c = c0; c < cols && c < c0 + 32; c++)
                    memcpy(dst + (c * rows + r) * es, s + (r * cols + c) * es, es);
    return dst;
}

/* Rows of A below which Gemm with transB multiplies by dot products instead of transposing B. */
enum { GEMM_NT_MAX_ROWS = 32 };

int eval_gemm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *A = in[0], *B = in[1], *Cb = n->n_in > 2 ? in[2] : NULL;
    Tensor *Y = out[0];
    DType t = A->dtype;
    int ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    int64_t M = ta ? A->dims[1] : A->dims[0], K = ta ? A->dims[0] : A->dims[1];
    int64_t N = tb ? B->dims[0] : B->dims[1];
    if (Y->rank != 2 || Y->dims[0] != M || Y->dims[1] != N)
        return node_error(d, n, "output shape does not match the inputs");
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    /* C broadcast: strides into C for row and column (0 along a broadcast axis) */
    int64_t c_rs = 0, c_cs = 0;
    if (Cb) {
        int64_t cm = Cb->rank == 2 ? Cb->dims[0] : 1, cn = Cb->rank >= 1 ? Cb->dims[Cb->rank - 1] : 1;
        c_cs = cn == 1 ? 0 : 1;
        c_rs = cm == 1 ? 0 : cn;
    }
    int use_c = Cb && beta != 0;

    if (!dtype_is_float(t)) {
        uint64_t *acc = xmalloc((size_t)(M * N) * sizeof *acc + 1);
        gemm_int(t, M, N, K, A->data, 0, ta ? 1 : K, ta ? M : 1, B->data, 0, tb ? 1 : N, tb ? K : 1, acc);
        /* integral alpha/beta: exact modular arithmetic; otherwise scale in double */
        int integral = alpha == trunc(alpha) && beta == trunc(beta) && fabs(alpha) < 9e18 &&
                       fabs(beta) < 9e18;
        int64_t ia = integral ? (int64_t)alpha : 0, ib = integral ? (int64_t)beta : 0;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                int64_t c = use_c ? elem_get_i64(t, Cb->data, i * c_rs + j * c_cs) : 0;
                int64_t p = (int64_t)acc[i * N + j];
                if (integral)
                    elem_set_i64(t, Y->data, i * N + j,
                                 (int64_t)((uint64_t)p * (uint64_t)ia + (uint64_t)c * (uint64_t)ib));
                else
                    elem_set_f64(t, Y->data, i * N + j, alpha * (double)p + (use_c ? beta * (double)c : 0));
            }
        free(acc);
        return 0;
    }

    size_t es = dtype_size(t);
    int nt = tb && M <= GEMM_NT_MAX_ROWS;
    void *at = ta ? linalg_transpose(A->data, K, M, es) : NULL;
    void *bt = tb && !nt ? linalg_transpose(B->data, N, K, es) : NULL;
    const void *ap = at ? at : A->data, *bp = bt ? bt : B->data;
    double *acc = xcalloc((size_t)(M * N) + 1, sizeof *acc);
    if (t == DT_F32 && nt)
        gemm_nt_f32(M, N, K, ap, K, bp, K, acc, N);
    else if (t == DT_F32)
        interp_gemm_f32(M, N, K, ap, K, bp, N, acc, N);
    else if (nt)
        gemm_nt_f64(M, N, K, ap, K, bp, K, acc, N);
    else
        interp_gemm_f64(M, N, K, ap, K, bp, N, acc, N);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double v = alpha * acc[i * N + j];
            if (use_c) v += beta * elem_get_f64(t, Cb->data, i * c_rs + j * c_cs);
            if (t == DT_F32) {
                float f = (float)v;
                if (act.kind != ACT_NONE) f = (float)activation_apply(&act, f);
                ((float *)Y->data)[i * N + j] = f;
            } else {
                ((double *)Y->data)[i * N + j] = act.kind != ACT_NONE ? activation_apply(&act, v) : v;
            }
        }
    free(acc), free(at), free(bt);
    return 0;
}

int eval_matmul(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *A = in[0], *B = in[1];
    Tensor *Y = out[0];
    DType t = A->dtype;
    /* promote 1-D operands to matrices */
    int64_t M = A->rank >= 2 ? A->dims[A->rank - 2] : 1, K = A->dims[A->rank - 1];
    int64_t N = B->rank >= 2 ? B->dims[B->rank - 1] : 1;
    int rba = A->rank > 2 ? A->rank - 2 : 0, rbb = B->rank > 2 ? B->rank - 2 : 0, rb = 0;
    int64_t batch[IR_MAX_RANK];
    if (shape_broadcast2(rba, A->dims, rbb, B->dims, &rb, batch))
        return node_error(d, n, "batch dimensions do not broadcast");
    int64_t nbatch = shape_numel(rb, batch);
    if (tensor_numel(Y) != nbatch * M * N) return node_error(d, n, "output shape does not match the inputs");
    /* per batch axis: strides (in matrices) of A and B, 0 where broadcast */
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
    int64_t pa = 1, pb = 1;
    for (int i = rb - 1; i >= 0; i--) {
        int ia = i - (rb - rba), ib = i - (rb - rbb);
        int64_t da = ia >= 0 ? A->dims[ia] : 1, db = ib >= 0 ? B->dims[ib] : 1;
        sa[i] = da == 1 ? 0 : pa;
        sb[i] = db == 1 ? 0 : pb;
        pa *= da, pb *= db;
    }
    size_t es = dtype_size(t);
    double *acc = dtype_is_float(t) ? xmalloc((size_t)(M * N) * sizeof(double) + 1) : NULL;
    uint64_t *iacc = dtype_is_float(t) ? NULL : xmalloc((size_t)(M * N) * sizeof(uint64_t) + 1);
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t ma = 0, mb = 0, rem = bi;
        for (int i = rb - 1; i >= 0; i--) {
            int64_t c = rem % batch[i];
            rem /= batch[i];
            ma += c * sa[i];
            mb += c * sb[i];
        }
        const char *ap = (const char *)A->data + (size_t)(ma * M * K) * es;
        const char *bp = (const char *)B->data + (size_t)(mb * K * N) * es;
        int64_t yo = bi * M * N;
        if (t == DT_F32 || t == DT_F64) {
            memset(acc, 0, (size_t)(M * N) * sizeof *acc);
            if (t == DT_F32) {
                interp_gemm_f32(M, N, K, (const float *)ap, K, (const float *)bp, N, acc, N);
                for (int64_t i = 0; i < M * N; i++) ((float *)Y->data)[yo + i] = (float)acc[i];
            } else {
                interp_gemm_f64(M, N, K, (const double *)ap, K, (const double *)bp, N, acc, N);
                memcpy((double *)Y->data + yo, acc, (size_t)(M * N) * sizeof *acc);
            }
        } else {
            gemm_int(t, M, N, K, A->data, ma * M * K, K, 1, B->data, mb * K * N, N, 1, iacc);
            for (int64_t i = 0; i < M * N; i++) elem_set_i64(t, Y->data, yo + i, (int64_t)iacc[i]);
        }
    }
    free(acc), free(iacc);
    return 0;
}
