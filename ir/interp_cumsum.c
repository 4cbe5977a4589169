/* interp_cumsum.c — reference kernel for CumSum: running sums along the `axis` attribute,
 * optionally exclusive (each output excludes its own element) and/or reversed.
 * Floats accumulate in double; integers in 64-bit wrap-around arithmetic.
 */
#include "ir.h"

int eval_cumsum(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    DType t = x->dtype;
    if (y->dtype != t || tensor_numel(y) != tensor_numel(x)) return node_error(d, n, "output type differs from input");
    if (!dtype_is_float(t) && !dtype_is_int(t)) return node_error(d, n, "input must be numeric");
    int r = x->rank;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (r < 1 || axis < -r || axis >= r) return node_error(d, n, "axis out of range");
    if (axis < 0) axis += r;
    int excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
    int64_t outer = shape_numel((int)axis, x->dims), A = x->dims[axis];
    int64_t inner = shape_numel(r - (int)axis - 1, x->dims + axis + 1);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = o * A * inner + q;
            double sf = 0;
            uint64_t si = 0;
            for (int64_t j = 0; j < A; j++) {
                int64_t i = base + (rev ? A - 1 - j : j) * inner;
                if (dtype_is_float(t)) {
                    double v = elem_get_f64(t, x->data, i);
                    if (!excl) sf += v;
                    elem_set_f64(t, y->data, i, sf);
                    if (excl) sf += v;
                } else {
                    uint64_t v = (uint64_t)elem_get_i64(t, x->data, i);
                    if (!excl) si += v;
                    elem_set_i64(t, y->data, i, (int64_t)si);
                    if (excl) si += v;
                }
            }
        }
    return 0;
}
