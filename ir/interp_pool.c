/* interp_pool.c — reference kernels for MaxPool (with the optional Indices output and
 * storage_order), AveragePool (count_include_pad), LpPool (p) over N-D inputs with the geometry
 * of ir_conv_geometry (strides, dilations, pads, auto_pad, ceil_mode), and the global pools.
 *
 * Each (image, channel) plane is converted to double once; each output position then walks the
 * window's taps that fall inside the input (per axis, a list of valid input coordinates).
 * Padding never wins a max and adds 0 to sums. AveragePool's divisor is the number of valid taps,
 * or with count_include_pad the number of taps inside the padded input [-pad_begin, in +
 * pad_end) — a ceil_mode window that runs past the end padding is not charged for the overhang
 * (PyTorch and ONNX Runtime agree). MaxPool Indices index the flattened input tensor
 * ((n*C + c) * plane + spatial offset), the spatial offset row-major (storage_order 0) or
 * column-major (1); ties keep the first tap in row-major window order.
 * With layout="NCHW16c" the plain kernel runs on all 16*CB lanes of the unblocked input
 * (padded lanes are zero, so they pool to zero) and the output is blocked again
 * (ir_layout_eval_blocked, layout.c).
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum PoolKind { POOL_MAX, POOL_AVG, POOL_LP } PoolKind;

/* Copy plane k (plane elements) of tensor x into a double buffer. */
static void pool_load_plane(const Tensor *x, int64_t k, int64_t plane, double *dst)
{
    int64_t base = k * plane;
    if (x->dtype == DT_F32) {
        const float *s = (const float *)x->data + base;
        for (int64_t i = 0; i < plane; i++) dst[i] = s[i];
    } else if (x->dtype == DT_F64) {
        memcpy(dst, (const double *)x->data + base, (size_t)plane * sizeof(double));
    } else {
        for (int64_t i = 0; i < plane; i++) dst[i] = elem_get_f64(x->dtype, x->data, base + i);
    }
}

/* Value of x^p summed by LpPool: |x|^p with exact small cases. */
static double pool_pow(double x, double p)
{
    double a = fabs(x);
    return p == 1 ? a : p == 2 ? a * a : pow(a, p);
}

static double pool_root(double s, double p)
{
    return p == 1 ? s : p == 2 ? sqrt(s) : pow(s, 1.0 / p);
}

/* in_ch/out_ch for ir_layout_eval_blocked: every lane of the blocked X is a channel. */
static int pool_eval_blocked(const Graph *g, const Node *n, Tensor **in, Tensor **out, IrEvalFn plain, Diag *d)
{
    const Tensor *x = in[0];
    if (x->rank < 3 || n->n_out > 1) return node_error(d, n, "blocked pool needs an NCHW16c input and one output");
    int64_t in_ch[1] = {x->dims[1] * IR_LAYOUT_BLOCK}, out_ch[1] = {x->dims[1] * IR_LAYOUT_BLOCK};
    return ir_layout_eval_blocked(g, n, in, out, in_ch, out_ch, plain, d);
}

static int eval_pool_plain(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d);
static int eval_global_pool_plain(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d);

int eval_pool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    int blocked = ir_node_layout(n, d);
    if (blocked < 0) return -1;
    return blocked ? pool_eval_blocked(g, n, in, out, eval_pool_plain, d) : eval_pool_plain(g, n, in, out, d);
}

int eval_global_pool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    int blocked = ir_node_layout(n, d);
    if (blocked < 0) return -1;
    return blocked ? pool_eval_blocked(g, n, in, out, eval_global_pool_plain, d)
                   : eval_global_pool_plain(g, n, in, out, d);
}

/* Pools on plain tensors. */
static int eval_pool_plain(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0], *ind = n->n_out > 1 ? out[1] : NULL;
    PoolKind kind = n->op == OP_MAX_POOL ? POOL_MAX : n->op == OP_AVERAGE_POOL ? POOL_AVG : POOL_LP;
    ConvGeom geo;
    if (ir_conv_geometry(n, x->rank, x->dims, NULL, &geo, d)) return -1;
    int ok = y->rank == x->rank && y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1];
    for (int a = 0; ok && a < geo.nsp; a++) ok = y->dims[2 + a] == geo.out[a];
    if (!ok) return node_error(d, n, "output tensor shape does not match the input");
    int include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
    int col_major = ir_attr_int(n, "storage_order", 0) != 0;
    double p = ir_attr_float(n, "p", 2);
    int ns = geo.nsp;
    int64_t inplane = 1, outplane = 1, ksum = 0;
    int64_t rstride[IR_MAX_RANK], cstride[IR_MAX_RANK]; /* row- and column-major spatial strides */
    for (int a = ns - 1; a >= 0; a--) rstride[a] = inplane, inplane *= geo.in[a];
    int64_t cs = 1;
    for (int a = 0; a < ns; a++) cstride[a] = cs, cs *= geo.in[a];
    for (int a = 0; a < ns; a++) outplane *= geo.out[a], ksum += geo.kernel[a];

    int64_t planes = x->dims[0] * x->dims[1];
    double *xp = xmalloc((size_t)inplane * sizeof(double) + 1);
    int64_t *pos = xmalloc((size_t)ksum * sizeof(int64_t) + 1); /* valid input coords per axis */
    int64_t *axis_pos[IR_MAX_RANK], cnt[IR_MAX_RANK];
    for (int a = 0, o = 0; a < ns; a++) axis_pos[a] = pos + o, o += (int)geo.kernel[a];

    for (int64_t k = 0; k < planes; k++) {
        pool_load_plane(x, k, inplane, xp);
        int64_t oc[IR_MAX_RANK] = {0};
        for (int64_t op = 0; op < outplane; op++) {
            /* per axis: the taps inside the input, and those inside the padded input */
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
            double acc = kind == POOL_MAX ? -INFINITY : 0.0;
            int64_t best = -1;
            if (ntaps > 0) {
                int64_t j[IR_MAX_RANK] = {0};
                for (int64_t t = 0; t < ntaps; t++) {
                    int64_t off = 0;
                    for (int a = 0; a < ns; a++) off += axis_pos[a][j[a]] * rstride[a];
                    double v = xp[off];
                    if (kind == POOL_MAX) {
                        if (best < 0 || v > acc || (isnan(v) && !isnan(acc))) acc = v, best = off;
                    } else if (kind == POOL_AVG) {
                        acc += v;
                    } else {
                        acc += pool_pow(v, p);
                    }
                    for (int a = ns - 1; a >= 0; a--) {
                        if (++j[a] < cnt[a]) break;
                        j[a] = 0;
                    }
                }
            }
            if (kind == POOL_AVG) {
                int64_t div = include_pad ? nincl : ntaps;
                acc = div > 0 ? acc / (double)div : NAN;
            } else if (kind == POOL_LP) {
                acc = pool_root(acc, p);
            }
            elem_set_f64(y->dtype, y->data, k * outplane + op, acc);
            if (ind) {
                int64_t idx = -1;
                if (best >= 0) {
                    idx = best;
                    if (col_major) {
                        idx = 0;
                        for (int a = 0; a < ns; a++) idx += (best / rstride[a] % geo.in[a]) * cstride[a];
                    }
                    idx += k * inplane;
                }
                ((int64_t *)ind->data)[k * outplane + op] = idx;
            }
            for (int a = ns - 1; a >= 0; a--) {
                if (++oc[a] < geo.out[a]) break;
                oc[a] = 0;
            }
        }
    }
    free(xp);
    free(pos);
    return 0;
}

static int eval_global_pool_plain(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int64_t planes = x->rank >= 2 ? x->dims[0] * x->dims[1] : 0;
    int64_t plane = 1;
    for (int a = 2; a < x->rank; a++) plane *= x->dims[a];
    if (tensor_numel(y) != planes) return node_error(d, n, "output tensor shape does not match the input");
    double p = ir_attr_float(n, "p", 2);
    double *xp = xmalloc((size_t)plane * sizeof(double) + 1);
    for (int64_t k = 0; k < planes; k++) {
        pool_load_plane(x, k, plane, xp);
        double acc;
        if (n->op == OP_GLOBAL_MAX_POOL) {
            acc = plane ? xp[0] : -INFINITY;
            for (int64_t i = 1; i < plane; i++)
                if (xp[i] > acc) acc = xp[i];
        } else if (n->op == OP_GLOBAL_AVERAGE_POOL) {
            acc = 0;
            for (int64_t i = 0; i < plane; i++) acc += xp[i];
            acc = plane ? acc / (double)plane : NAN;
        } else {
            acc = 0;
            for (int64_t i = 0; i < plane; i++) acc += pool_pow(xp[i], p);
            acc = pool_root(acc, p);
        }
        elem_set_f64(y->dtype, y->data, k, acc);
    }
    free(xp);
    return 0;
}
