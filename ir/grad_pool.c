/* grad_pool.c — backward functions of MaxPool, AveragePool, GlobalAveragePool and
 * GlobalMaxPool (grad.h), N-D, with the geometry of ir_conv_geometry (strides, dilations, pads,
 * auto_pad, ceil_mode) exactly as interp_pool.c walks it:
 *   MaxPool      the whole gradient of an output goes to the first maximal input of its window
 *                in row-major tap order (NaN wins, as in the interpreter); padding never wins.
 *   AveragePool  each valid tap gets gy / divisor, the divisor being the number of valid taps or,
 *                with count_include_pad, the taps inside the padded input (not the ceil_mode
 *                overhang).
 *   GlobalAveragePool gy / plane to every element; GlobalMaxPool to the first maximum.
 * MaxPool's Indices output is integer and carries no gradient.
 */
#include "grad.h"

#include <math.h>
#include <stdlib.h>

int grad_pool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *x = in[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    if (n->op != OP_MAX_POOL && n->op != OP_AVERAGE_POOL)
        return node_error(d, n, "no gradient for op %s at node '%s'", ir_op_name(n->op), n->name);
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "gradient needs a floating-point input");
    ConvGeom geo;
    if (ir_conv_geometry(n, x->rank, x->dims, NULL, &geo, d)) return -1;
    int is_max = n->op == OP_MAX_POOL, include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
    int ns = geo.nsp;
    int64_t inplane = 1, outplane = 1, ksum = 0, rstride[IR_MAX_RANK];
    for (int a = ns - 1; a >= 0; a--) rstride[a] = inplane, inplane *= geo.in[a];
    for (int a = 0; a < ns; a++) outplane *= geo.out[a], ksum += geo.kernel[a];
    int64_t planes = x->dims[0] * x->dims[1];
    if (tensor_numel(gy) != planes * outplane) return node_error(d, n, "gradient shape mismatch");
    int64_t *pos = xmalloc((size_t)ksum * sizeof(int64_t) + 1), *axis_pos[IR_MAX_RANK], cnt[IR_MAX_RANK];
    for (int a = 0, o = 0; a < ns; a++) axis_pos[a] = pos + o, o += (int)geo.kernel[a];
    double *acc = xcalloc((size_t)(planes * inplane) + 1, sizeof(double));
    for (int64_t k = 0; k < planes; k++) {
        int64_t oc[IR_MAX_RANK] = {0}, base = k * inplane;
        for (int64_t op = 0; op < outplane; op++) {
            int64_t ntaps = 1, nincl = 1;
            for (int a = 0; a < ns; a++) {
                int64_t start = oc[a] * geo.stride[a] - geo.pad_begin[a], c = 0, ci = 0;
                for (int64_t t = 0; t < geo.kernel[a]; t++) {
                    int64_t i = start + t * geo.dilation[a];
                    if (i >= 0 && i < geo.in[a]) axis_pos[a][c++] = i;
                    if (i >= -geo.pad_begin[a] && i < geo.in[a] + geo.pad_end[a]) ci++;
                }
                cnt[a] = c;
                ntaps *= c;
                nincl *= ci;
            }
            double gv = grad_ld(gy, k * outplane + op), best_v = -INFINITY;
            int64_t best = -1, div = include_pad ? nincl : ntaps;
            int64_t j[IR_MAX_RANK] = {0};
            for (int64_t t = 0; t < ntaps; t++) {
                int64_t off = 0;
                for (int a = 0; a < ns; a++) off += axis_pos[a][j[a]] * rstride[a];
                if (is_max) {
                    double v = grad_ld(x, base + off);
                    if (best < 0 || v > best_v || (isnan(v) && !isnan(best_v))) best_v = v, best = off;
                } else if (div > 0) {
                    acc[base + off] += gv / (double)div;
                }
                for (int a = ns - 1; a >= 0; a--) {
                    if (++j[a] < cnt[a]) break;
                    j[a] = 0;
                }
            }
            if (is_max && best >= 0) acc[base + best] += gv;
            for (int a = ns - 1; a >= 0; a--) {
                if (++oc[a] < geo.out[a]) break;
                oc[a] = 0;
            }
        }
    }
    grad_acc_buf(gx, acc);
    free(acc), free(pos);
    return 0;
}

int grad_global_pool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                     Diag *d)
{
    const Tensor *x = in[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "gradient needs a floating-point input");
    int64_t planes = x->rank >= 2 ? x->dims[0] * x->dims[1] : 0, plane = 1;
    for (int a = 2; a < x->rank; a++) plane *= x->dims[a];
    if (tensor_numel(gy) != planes) return node_error(d, n, "gradient shape mismatch");
    for (int64_t k = 0; k < planes; k++) {
        double gv = grad_ld(gy, k);
        int64_t base = k * plane;
        if (n->op == OP_GLOBAL_AVERAGE_POOL) {
            for (int64_t i = 0; i < plane; i++) grad_acc(gx, base + i, gv / (double)plane);
        } else if (n->op == OP_GLOBAL_MAX_POOL) {
            int64_t best = 0;
            double bv = plane ? grad_ld(x, base) : 0;
            for (int64_t i = 1; i < plane; i++) {
                double v = grad_ld(x, base + i);
                if (v > bv) bv = v, best = i;
            }
            if (plane) grad_acc(gx, base + best, gv);
        } else {
            return node_error(d, n, "no gradient for op %s at node '%s'", ir_op_name(n->op), n->name);
        }
    }
    return 0;
}
