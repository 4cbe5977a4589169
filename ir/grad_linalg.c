/* grad_linalg.c — backward functions of Gemm and MatMul (grad.h), in double.
 *
 * Gemm: z = alpha * op(A) op(B) + beta * C (C broadcast to [M, N] from rank 0, 1 or 2, as the
 * interpreter), y = act(z) with the fused activation. With gz = gy * act'(z):
 *   d op(A) = alpha gz op(B)^T,  d op(B) = alpha op(A)^T gz,  dC = beta gz summed over the
 *   broadcast axes; transA/transB map op(.) back to the stored layout.
 * MatMul (numpy): A [..., M, K] (1-D A is [1, K]), B [..., K, N] (1-D B is [K, 1]), batch dims
 * broadcast; per output batch matrix: dA_b += gY_b B_b^T, dB_b += A_b^T gY_b, so a broadcast
 * operand matrix collects the sum over the batches that read it.
 */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

static double *grad_linalg_load(const Tensor *t)
{
    int64_t cnt = tensor_numel(t);
    double *p = xmalloc((size_t)cnt * sizeof(double) + 1);
    for (int64_t i = 0; i < cnt; i++) p[i] = grad_ld(t, i);
    return p;
}

int grad_gemm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *A = in[0], *B = in[1], *Cb = n->n_in > 2 ? in[2] : NULL, *gy = gout[0];
    Tensor *gA = gin[0], *gB = gin[1], *gC = n->n_in > 2 ? gin[2] : NULL;
    if (!gy || (!gA && !gB && !gC)) return 0;
    if (!dtype_is_float(A->dtype)) return node_error(d, n, "gradient needs floating-point operands");
    int ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    if (A->rank != 2 || B->rank != 2) return node_error(d, n, "A and B must be matrices");
    int64_t M = ta ? A->dims[1] : A->dims[0], K = ta ? A->dims[0] : A->dims[1];
    int64_t N = tb ? B->dims[0] : B->dims[1];
    if (tensor_numel(gy) != M * N) return node_error(d, n, "gradient shape mismatch");
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    int64_t c_rs = 0, c_cs = 0;
    if (Cb) {
        int64_t cm = Cb->rank == 2 ? Cb->dims[0] : 1, cn = Cb->rank >= 1 ? Cb->dims[Cb->rank - 1] : 1;
        c_cs = cn == 1 ? 0 : 1;
        c_rs = cm == 1 ? 0 : cn;
    }
    double *a = grad_linalg_load(A), *b = grad_linalg_load(B), *gz = grad_linalg_load(gy);
#define GA_IDX(i, k) (ta ? (k) * M + (i) : (i) * K + (k))
#define GB_IDX(k, j) (tb ? (j) * K + (k) : (k) * N + (j))
    if (act.kind != ACT_NONE)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += a[GA_IDX(i, k)] * b[GB_IDX(k, j)];
                double z = alpha * s;
                if (Cb && beta != 0) z += beta * grad_ld(Cb, i * c_rs + j * c_cs);
                gz[i * N + j] *= activation_grad(&act, z);
            }
    if (gA) {
        double *acc = xcalloc((size_t)(M * K) + 1, sizeof(double));
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++) {
                double s = 0;
                for (int64_t j = 0; j < N; j++) s += gz[i * N + j] * b[GB_IDX(k, j)];
                acc[GA_IDX(i, k)] = alpha * s;
            }
        grad_acc_buf(gA, acc);
        free(acc);
    }
    if (gB) {
        double *acc = xcalloc((size_t)(K * N) + 1, sizeof(double));
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t i = 0; i < M; i++) s += a[GA_IDX(i, k)] * gz[i * N + j];
                acc[GB_IDX(k, j)] = alpha * s;
            }
        grad_acc_buf(gB, acc);
        free(acc);
    }
#undef GA_IDX
#undef GB_IDX
    if (gC) {
        double *acc = xcalloc((size_t)tensor_numel(Cb) + 1, sizeof(double));
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) acc[i * c_rs + j * c_cs] += beta * gz[i * N + j];
        grad_acc_buf(gC, acc);
        free(acc);
    }
    free(a), free(b), free(gz);
    return 0;
}

int grad_matmul(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *A = in[0], *B = in[1], *gy = gout[0];
    Tensor *gA = gin[0], *gB = gin[1];
    if (!gy || (!gA && !gB)) return 0;
    if (!dtype_is_float(A->dtype)) return node_error(d, n, "gradient needs floating-point operands");
    int64_t M = A->rank >= 2 ? A->dims[A->rank - 2] : 1, K = A->dims[A->rank - 1];
    int64_t N = B->rank >= 2 ? B->dims[B->rank - 1] : 1;
    int rba = A->rank > 2 ? A->rank - 2 : 0, rbb = B->rank > 2 ? B->rank - 2 : 0, rb = 0;
    int64_t batch[IR_MAX_RANK];
    if (shape_broadcast2(rba, A->dims, rbb, B->dims, &rb, batch))
        return node_error(d, n, "batch dimensions do not broadcast");
    int64_t nbatch = shape_numel(rb, batch);
    if (tensor_numel(gy) != nbatch * M * N) return node_error(d, n, "gradient shape mismatch");
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], pa = 1, pb = 1;
    for (int i = rb - 1; i >= 0; i--) {
        int ia = i - (rb - rba), ib = i - (rb - rbb);
        int64_t da = ia >= 0 ? A->dims[ia] : 1, db = ib >= 0 ? B->dims[ib] : 1;
        sa[i] = da == 1 ? 0 : pa;
        sb[i] = db == 1 ? 0 : pb;
        pa *= da, pb *= db;
    }
    double *a = grad_linalg_load(A), *b = grad_linalg_load(B), *gz = grad_linalg_load(gy);
    double *ga = gA ? xcalloc((size_t)tensor_numel(A) + 1, sizeof(double)) : NULL;
    double *gb = gB ? xcalloc((size_t)tensor_numel(B) + 1, sizeof(double)) : NULL;
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t ma = 0, mb = 0, rem = bi;
        for (int i = rb - 1; i >= 0; i--) {
            int64_t c = rem % batch[i];
            rem /= batch[i];
            ma += c * sa[i];
            mb += c * sb[i];
        }
        const double *ab = a + ma * M * K, *bb = b + mb * K * N, *gzb = gz + bi * M * N;
        if (ga)
            for (int64_t i = 0; i < M; i++)
                for (int64_t k = 0; k < K; k++) {
                    double s = 0;
                    for (int64_t j = 0; j < N; j++) s += gzb[i * N + j] * bb[k * N + j];
                    ga[ma * M * K + i * K + k] += s;
                }
        if (gb)
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < N; j++) {
                    double s = 0;
                    for (int64_t i = 0; i < M; i++) s += ab[i * K + k] * gzb[i * N + j];
                    gb[mb * K * N + k * N + j] += s;
                }
    }
    if (ga) grad_acc_buf(gA, ga);
    if (gb) grad_acc_buf(gB, gb);
    free(a), free(b), free(gz), free(ga), free(gb);
    return 0;
}
