/* interp_trilu.c — reference kernel for Trilu: keeps the upper (upper=1: j - i >= k) or lower
 * (upper=0: j - i <= k) triangle of the last two dims of every matrix in the batch and zeroes
 * the rest. Any dtype (elements are copied as bytes).
 */
#include "ir.h"

#include <string.h>

int eval_trilu(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (y->dtype != x->dtype || tensor_numel(y) != tensor_numel(x)) return node_error(d, n, "output type differs from input");
    if (x->rank < 2) return node_error(d, n, "input must have rank >= 2");
    int upper = ir_attr_int(n, "upper", 1) != 0;
    int64_t k = ir_attr_int(n, "k", 0);
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1];
    int64_t batch = shape_numel(x->rank - 2, x->dims);
    size_t es = dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = y->data;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < R; i++) {
            size_t row = (size_t)((b * R + i) * C) * es;
            for (int64_t j = 0; j < C; j++) {
                int keep = upper ? j - i >= k : j - i <= k;
                if (keep)
                    memcpy(dst + row + (size_t)j * es, src + row + (size_t)j * es, es);
                else
                    memset(dst + row + (size_t)j * es, 0, es);
            }
        }
    return 0;
}
