/* grad_norm.c — backward functions of BatchNormalization (inference form) and Softmax /
 * LogSoftmax (grad.h), in double.
 *
 * BatchNormalization: y = (x - mean) * a + B with a = scale / s, s = sqrt(var + eps), per channel
 * (axis 1). gx = gy a; gscale = sum gy (x - mean) / s; gB = sum gy; gmean = -a sum gy;
 * gvar = -scale / (2 s^3) sum gy (x - mean); sums over the batch and spatial positions.
 * Softmax along `axis` (opset-13, one axis): gx = y (gy - sum(gy y)). LogSoftmax: gx = gy -
 * softmax(x) sum(gy). The softmax is recomputed from x in double (max-shifted) rather than read
 * from an f32 output.
 */
#include "grad.h"

#include <math.h>
#include <stdlib.h>

int grad_batch_norm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                    Diag *d)
{
    const Tensor *x = in[0], *gy = gout[0];
    if (!gy) return 0;
    int any = 0;
    for (int k = 0; k < 5; k++) any |= gin[k] != NULL;
    if (!any) return 0;
    if (!dtype_is_float(x->dtype) || x->rank < 2) return node_error(d, n, "gradient needs a floating-point input");
    int64_t N = x->dims[0], C = x->dims[1], S = shape_numel(x->rank - 2, x->dims + 2);
    for (int k = 1; k < 5; k++)
        if (tensor_numel(in[k]) != C) return node_error(d, n, "input %d must have %lld elements", k, (long long)C);
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    for (int64_t c = 0; c < C; c++) {
        double sc = grad_ld(in[1], c), mean = grad_ld(in[3], c), var = grad_ld(in[4], c);
        double s = sqrt(var + eps), a = sc / s;
        double sum_g = 0, sum_gx = 0; /* sum gy, sum gy (x - mean) */
        for (int64_t b = 0; b < N; b++) {
            int64_t off = (b * C + c) * S;
            for (int64_t i = 0; i < S; i++) {
                double gv = grad_ld(gy, off + i);
                sum_g += gv;
                if (gin[1] || gin[4]) sum_gx += gv * (grad_ld(x, off + i) - mean);
                if (gin[0]) grad_acc(gin[0], off + i, gv * a);
            }
        }
        if (gin[1]) grad_acc(gin[1], c, sum_gx / s);
        if (gin[2]) grad_acc(gin[2], c, sum_g);
        if (gin[3]) grad_acc(gin[3], c, -a * sum_g);
        if (gin[4]) grad_acc(gin[4], c, -sc / (2 * s * s * s) * sum_gx);
    }
    return 0;
}

int grad_softmax(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *x = in[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "gradient needs a floating-point input");
    int r = x->rank;
    int64_t axis = ir_attr_int(n, "axis", -1);
    if (r < 1 || axis < -r || axis >= r) return node_error(d, n, "axis out of range");
    if (axis < 0) axis += r;
    int64_t outer = shape_numel((int)axis, x->dims), A = x->dims[axis];
    int64_t inner = shape_numel(r - (int)axis - 1, x->dims + axis + 1);
    double *p = xmalloc((size_t)A * sizeof(double) + 1);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = o * A * inner + q;
            double mx = -INFINITY, s = 0, dot = 0, gsum = 0;
            for (int64_t k = 0; k < A; k++) {
                double v = grad_ld(x, base + k * inner);
                if (v > mx) mx = v;
            }
            for (int64_t k = 0; k < A; k++) s += p[k] = exp(grad_ld(x, base + k * inner) - mx);
            for (int64_t k = 0; k < A; k++) {
                p[k] /= s;
                double gv = grad_ld(gy, base + k * inner);
                dot += gv * p[k];
                gsum += gv;
            }
            for (int64_t k = 0; k < A; k++) {
                double gv = grad_ld(gy, base + k * inner);
                double r_ = n->op == OP_LOG_SOFTMAX ? gv - p[k] * gsum : p[k] * (gv - dot);
                grad_acc(gx, base + k * inner, r_);
            }
        }
    free(p);
    return 0;
}
