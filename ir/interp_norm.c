/* interp_norm.c — reference kernels for the normalisation ops: BatchNormalization (inference
 * form), InstanceNormalization, LayerNormalization, LRN, LpNormalization and
 * MeanVarianceNormalization.
 *
 * Statistics (means, variances, norms, window sums) are accumulated in double and variances
 * are computed from deviations (two passes), never as E[x^2]-E[x]^2. Tensors are f32 or f64
 * (checked by shape inference); parameters may be either. BatchNormalization folds its
 * parameters into one multiply-add per channel and runs a tight loop over each channel plane.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>

static inline double ld(DType t, const void *p, int64_t i)
{
    return t == DT_F32 ? ((const float *)p)[i] : ((const double *)p)[i];
}

static inline void st(DType t, void *p, int64_t i, double v)
{
    if (t == DT_F32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

static int check_float(const Node *n, Tensor **in, int n_in, Tensor *y, Diag *d)
{
    for (int k = 0; k < n_in; k++)
        if (in[k] && !dtype_is_float(in[k]->dtype)) return node_error(d, n, "input %d must be f32 or f64", k);
    if (!dtype_is_float(y->dtype) || y->dtype != in[0]->dtype || tensor_numel(y) != tensor_numel(in[0]))
        return node_error(d, n, "output type differs from input");
    return 0;
}

/* Per-channel parameter k must hold C values. */
static int check_channels(const Node *n, Tensor **in, int k, int64_t c, Diag *d)
{
    if (!in[k] || tensor_numel(in[k]) != c) return node_error(d, n, "input %d must have %lld elements", k, (long long)c);
    return 0;
}

/* y = (x - mean) / sqrt(var + eps) * scale + B, per channel (dim 1). */
int eval_batch_norm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (check_float(n, in, 5, y, d)) return -1;
    if (x->rank < 2) return node_error(d, n, "input must have rank >= 2");
    int64_t N = x->dims[0], C = x->dims[1], S = shape_numel(x->rank - 2, x->dims + 2);
    for (int k = 1; k < 5; k++)
        if (check_channels(n, in, k, C, d)) return -1;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    for (int64_t c = 0; c < C; c++) {
        double a = ld(in[1]->dtype, in[1]->data, c) / sqrt(ld(in[4]->dtype, in[4]->data, c) + eps);
        double b = ld(in[2]->dtype, in[2]->data, c) - ld(in[3]->dtype, in[3]->data, c) * a;
        for (int64_t b0 = 0; b0 < N; b0++) {
            int64_t off = (b0 * C + c) * S;
            if (x->dtype == DT_F32) {
                const float *xp = (const float *)x->data + off;
                float *yp = (float *)y->data + off;
                for (int64_t i = 0; i < S; i++) yp[i] = (float)(xp[i] * a + b);
            } else {
                const double *xp = (const double *)x->data + off;
                double *yp = (double *)y->data + off;
                for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * a + b;
            }
        }
    }
    return 0;
}

/* Mean and population variance of cnt elements at stride 1 from offset off. */
static void moments(DType t, const void *p, int64_t off, int64_t cnt, double *mean, double *var)
{
    double s = 0, v = 0;
    for (int64_t i = 0; i < cnt; i++) s += ld(t, p, off + i);
    double m = cnt ? s / (double)cnt : 0;
    for (int64_t i = 0; i < cnt; i++) {
        double e = ld(t, p, off + i) - m;
        v += e * e;
    }
    *mean = m;
    *var = cnt ? v / (double)cnt : 0;
}

/* Per (n, c): normalise over the spatial dims, then scale and shift by channel. */
int eval_instance_norm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (check_float(n, in, 3, y, d)) return -1;
    if (x->rank < 2) return node_error(d, n, "input must have rank >= 2");
    int64_t N = x->dims[0], C = x->dims[1], S = shape_numel(x->rank - 2, x->dims + 2);
    if (check_channels(n, in, 1, C, d) || check_channels(n, in, 2, C, d)) return -1;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    for (int64_t b0 = 0; b0 < N; b0++)
        for (int64_t c = 0; c < C; c++) {
            int64_t off = (b0 * C + c) * S;
            double m, v;
            moments(x->dtype, x->data, off, S, &m, &v);
            double a = ld(in[1]->dtype, in[1]->data, c) / sqrt(v + eps), b = ld(in[2]->dtype, in[2]->data, c);
            for (int64_t i = 0; i < S; i++) st(y->dtype, y->data, off + i, (ld(x->dtype, x->data, off + i) - m) * a + b);
        }
    return 0;
}

/* Expand parameter p (broadcastable to the normalised shape nd[0..nr-1]) into cnt doubles. */
static int expand_param(const Tensor *p, int nr, const int64_t *nd, int64_t cnt, double *o)
{
    int64_t pst[IR_MAX_RANK], own[IR_MAX_RANK];
    if (p->rank > nr) return -1;
    shape_strides(p->rank, p->dims, own);
    for (int i = 0; i < nr; i++) {
        int j = i - (nr - p->rank);
        if (j < 0 || p->dims[j] == 1)
            pst[i] = 0;
        else if (p->dims[j] == nd[i])
            pst[i] = own[j];
        else
            return -1;
    }
    for (int64_t e = 0; e < cnt; e++) {
        int64_t rem = e, off = 0;
        for (int i = nr - 1; i >= 0; i--) {
            off += (rem % nd[i]) * pst[i];
            rem /= nd[i];
        }
        o[e] = ld(p->dtype, p->data, off);
    }
    return 0;
}

/* Normalise over dims [axis, rank) and apply scale (and bias) broadcast to those dims. Fills the
 * optional Mean and InvStdDev outputs when the node has them. */
int eval_layer_norm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (check_float(n, in, n->n_in, y, d)) return -1;
    int r = x->rank;
    int64_t axis = ir_attr_int(n, "axis", -1);
    if (axis < -r || axis >= r) return node_error(d, n, "axis out of range");
    if (axis < 0) axis += r;
    int64_t outer = shape_numel((int)axis, x->dims), inner = shape_numel(r - (int)axis, x->dims + axis);
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    double *sc = xmalloc((size_t)inner * 2 * sizeof(double) + 1), *bi = sc + inner;
    int bad = !in[1] || expand_param(in[1], r - (int)axis, x->dims + axis, inner, sc);
    if (n->n_in > 2 && in[2])
        bad |= expand_param(in[2], r - (int)axis, x->dims + axis, inner, bi);
    else
        for (int64_t j = 0; j < inner; j++) bi[j] = 0;
    if (bad) {
        free(sc);
        return node_error(d, n, "scale/bias do not broadcast to the normalised shape");
    }
    for (int64_t o = 0; o < outer; o++) {
        double m, v;
        moments(x->dtype, x->data, o * inner, inner, &m, &v);
        double is = 1 / sqrt(v + eps);
        if (n->n_out > 1 && out[1] && tensor_numel(out[1]) == outer) st(out[1]->dtype, out[1]->data, o, m);
        if (n->n_out > 2 && out[2] && tensor_numel(out[2]) == outer) st(out[2]->dtype, out[2]->data, o, is);
        for (int64_t j = 0; j < inner; j++)
            st(y->dtype, y->data, o * inner + j, (ld(x->dtype, x->data, o * inner + j) - m) * is * sc[j] + bi[j]);
    }
    free(sc);
    return 0;
}

/* y = x / (bias + alpha/size * sum of x^2 over a window of `size` channels)^beta. */
int eval_lrn(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (check_float(n, in, 1, y, d)) return -1;
    int64_t size = ir_attr_int(n, "size", 0);
    if (x->rank < 2 || size < 1) return node_error(d, n, "needs rank >= 2 and size >= 1");
    double alpha = ir_attr_float(n, "alpha", 1e-4), beta = ir_attr_float(n, "beta", 0.75);
    double bias = ir_attr_float(n, "bias", 1.0);
    int64_t N = x->dims[0], C = x->dims[1], S = shape_numel(x->rank - 2, x->dims + 2);
    int64_t lo = (size - 1) / 2, hi = size / 2; /* floor((size-1)/2), ceil((size-1)/2) */
    for (int64_t b0 = 0; b0 < N; b0++)
        for (int64_t c = 0; c < C; c++) {
            int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi > C - 1 ? C - 1 : c + hi;
            for (int64_t s = 0; s < S; s++) {
                double sum = 0;
                for (int64_t k = c0; k <= c1; k++) {
                    double v = ld(x->dtype, x->data, (b0 * C + k) * S + s);
                    sum += v * v;
                }
                int64_t i = (b0 * C + c) * S + s;
                st(y->dtype, y->data, i, ld(x->dtype, x->data, i) / pow(bias + alpha / (double)size * sum, beta));
            }
        }
    return 0;
}

/* y = x / ||x||_p along axis (p = 1 or 2). */
int eval_lp_norm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (check_float(n, in, 1, y, d)) return -1;
    int r = x->rank;
    int64_t axis = ir_attr_int(n, "axis", -1), p = ir_attr_int(n, "p", 2);
    if (axis < -r || axis >= r || (p != 1 && p != 2)) return node_error(d, n, "bad axis or p");
    if (axis < 0) axis += r;
    int64_t outer = shape_numel((int)axis, x->dims), A = x->dims[axis];
    int64_t inner = shape_numel(r - (int)axis - 1, x->dims + axis + 1);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = o * A * inner + q;
            double s = 0;
            for (int64_t k = 0; k < A; k++) {
                double v = ld(x->dtype, x->data, base + k * inner);
                s += p == 1 ? fabs(v) : v * v;
            }
            double norm = p == 1 ? s : sqrt(s);
            for (int64_t k = 0; k < A; k++)
                st(y->dtype, y->data, base + k * inner, ld(x->dtype, x->data, base + k * inner) / norm);
        }
    return 0;
}

/* y = (x - mean) / (sqrt(var) + 1e-9) with statistics over `axes` (default [0, 2, 3]),
 * as in ONNX's function body of MeanVarianceNormalization. */
int eval_mvn(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (check_float(n, in, 1, y, d)) return -1;
    int r = x->rank, cnt = 0;
    static const int64_t dflt[3] = {0, 2, 3};
    const int64_t *axes = ir_attr_ints(n, "axes", &cnt);
    if (!axes) axes = dflt, cnt = 3;
    unsigned mask = 0;
    for (int i = 0; i < cnt; i++) {
        if (axes[i] < -r || axes[i] >= r) return node_error(d, n, "axis %lld out of range", (long long)axes[i]);
        mask |= 1u << (axes[i] < 0 ? axes[i] + r : axes[i]);
    }
    /* group index of every element: row-major over the kept dims */
    int64_t gst[IR_MAX_RANK], ng = 1, total = tensor_numel(x);
    for (int i = r - 1; i >= 0; i--) {
        gst[i] = (mask >> i) & 1 ? 0 : ng;
        if (!((mask >> i) & 1)) ng *= x->dims[i];
    }
    if (total == 0) return 0;
    int64_t *gi = xmalloc((size_t)total * sizeof(int64_t)), idx[IR_MAX_RANK] = {0}, goff = 0;
    for (int64_t e = 0; e < total; e++) {
        gi[e] = goff;
        for (int i = r - 1; i >= 0; i--) {
            goff += gst[i];
            if (++idx[i] < x->dims[i]) break;
            goff -= gst[i] * x->dims[i];
            idx[i] = 0;
        }
    }
    double *mean = xcalloc((size_t)ng * 2, sizeof(double)), *var = mean + ng;
    double per = (double)total / (double)ng;
    for (int64_t e = 0; e < total; e++) mean[gi[e]] += ld(x->dtype, x->data, e);
    for (int64_t k = 0; k < ng; k++) mean[k] /= per;
    for (int64_t e = 0; e < total; e++) {
        double dv = ld(x->dtype, x->data, e) - mean[gi[e]];
        var[gi[e]] += dv * dv;
    }
    for (int64_t k = 0; k < ng; k++) var[k] = sqrt(var[k] / per) + 1e-9;
    for (int64_t e = 0; e < total; e++)
        st(y->dtype, y->data, e, (ld(x->dtype, x->data, e) - mean[gi[e]]) / var[gi[e]]);
    free(gi);
    free(mean);
    return 0;
}
