/* interp_softmax.c — reference kernels for Softmax, LogSoftmax and Hardmax along one axis
 * (opset-13 semantics; older "coerce to 2-D" forms are rewritten by the frontend).
 *
 * The tensor is viewed as [outer, A, inner] around the axis. Softmax subtracts the maximum
 * along the axis before exponentiating and sums in double; LogSoftmax is x - max - log(sum).
 * Hardmax writes 1 at the first maximum along the axis (numpy.argmax: a NaN counts as the
 * maximum) and 0 elsewhere.
 */
#include "ir.h"

#include <math.h>
#include <string.h>

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

int eval_softmax(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    DType t = x->dtype;
    if (!dtype_is_float(t) || y->dtype != t || tensor_numel(y) != tensor_numel(x))
        return node_error(d, n, "expects f32/f64 input and output of the same type");
    int r = x->rank;
    int64_t axis = ir_attr_int(n, "axis", -1);
    if (r < 1 || axis < -r || axis >= r) return node_error(d, n, "axis out of range");
    if (axis < 0) axis += r;
    int64_t outer = shape_numel((int)axis, x->dims), A = x->dims[axis];
    int64_t inner = shape_numel(r - (int)axis - 1, x->dims + axis + 1);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = o * A * inner + q, arg = 0;
            double mx = -INFINITY;
            for (int64_t k = 0; k < A; k++) {
                double v = ld(t, x->data, base + k * inner);
                if (k == 0 || v > mx || (v != v && mx == mx)) mx = v, arg = k; /* NaN wins, as argmax */
            }
            if (n->op == OP_HARDMAX) {
                for (int64_t k = 0; k < A; k++) st(t, y->data, base + k * inner, k == arg ? 1.0 : 0.0);
                continue;
            }
            double s = 0;
            for (int64_t k = 0; k < A; k++) s += exp(ld(t, x->data, base + k * inner) - mx);
            if (n->op == OP_LOG_SOFTMAX) {
                double ls = log(s);
                for (int64_t k = 0; k < A; k++)
                    st(t, y->data, base + k * inner, ld(t, x->data, base + k * inner) - mx - ls);
            } else {
                for (int64_t k = 0; k < A; k++)
                    st(t, y->data, base + k * inner, exp(ld(t, x->data, base + k * inner) - mx) / s);
            }
        }
    return 0;
}
