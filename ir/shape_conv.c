/* shape_conv.c — shape inference for Conv and ConvTranspose, and ir_conv_geometry: the one place
 * that turns the spatial attributes of Conv, ConvTranspose and MaxPool/AveragePool/LpPool
 * (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, output_padding, output_shape)
 * into explicit per-axis numbers. The interpreter kernels (interp_conv.c, interp_pool.c) and the
 * pool shape function (shape_pool.c) use the same geometry, so shapes and kernels cannot drift.
 *
 * Rules (ONNX, latest opset): with dk = (kernel-1)*dilation + 1,
 *   NOTSET     out = floor((in + pad_begin + pad_end - dk) / stride) + 1; pools with ceil_mode use
 *              ceil and then drop a last window that would start in the right padding
 *   VALID      no padding, floor
 *   SAME_*     out = ceil(in / stride); total padding max(0, (out-1)*stride + dk - in) split
 *              evenly, the odd element at the end (SAME_UPPER) or the beginning (SAME_LOWER)
 *   ConvTranspose: out = stride*(in-1) + output_padding + dk - pad_begin - pad_end; SAME_* gives
 *              out = in*stride; an explicit output_shape fixes out and derives the pads.
 * Conv's optional 4th input `residual` has the output's type (y = act(conv + bias + residual)).
 * With layout="NCHW16c" (docs/codegen.md) Conv's X is plain or blocked [N, ceil(C/16), S..., 16]
 * and Y (and the residual) blocked; the geometry is that of the logical plain tensors. Its fused
 * activation must map 0 to 0, so the padded lanes of Y stay zero.
 */
#include "ir.h"
#include "activation.h"

#include <string.h>

enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER };

/* Read an ints attribute of exactly `want` elements, each >= lo, into dst; absent -> fill with
 * dflt. */
static int geom_ints(const Node *n, const char *name, int want, int64_t lo, int64_t dflt,
                     int64_t *dst, Diag *d)
{
    int cnt = 0;
    const int64_t *v = ir_attr_ints(n, name, &cnt);
    if (!v) {
        for (int i = 0; i < want; i++) dst[i] = dflt;
        return 0;
    }
    if (cnt != want)
        return node_error(d, n, "attribute %s has %d values, expected %d", name, cnt, want);
    for (int i = 0; i < want; i++) {
        if (v[i] < lo)
            return node_error(d, n, "attribute %s[%d] = %lld must be >= %lld", name, i,
                              (long long)v[i], (long long)lo);
        dst[i] = v[i];
    }
    return 0;
}

static int geom_auto_pad(const Node *n, int *mode, Diag *d)
{
    const char *s = ir_attr_str(n, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET") || !*s)
        *mode = PAD_NOTSET;
    else if (!strcmp(s, "VALID"))
        *mode = PAD_VALID;
    else if (!strcmp(s, "SAME_UPPER"))
        *mode = PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER"))
        *mode = PAD_SAME_LOWER;
    else
        return node_error(d, n, "unknown auto_pad '%s'", s);
    return 0;
}

/* Split a total padding: the odd element goes to the end for SAME_UPPER, else to the start.
 * Halving rounds down (ONNX's reference uses Python's //), which matters for the negative totals
 * of a ConvTranspose output_shape larger than the full output. */
static void geom_split(int64_t total, int upper, int64_t *begin, int64_t *end)
{
    int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
    *begin = upper ? half : total - half;
    *end = total - *begin;
}

/* Output spatial dims for ConvTranspose, and the pads it implies. */
static int geom_transpose(const Node *n, int mode, const int64_t *pads, ConvGeom *geo, Diag *d)
{
    int ns = geo->nsp;
    int64_t opad[IR_MAX_RANK];
    if (geom_ints(n, "output_padding", ns, 0, 0, opad, d)) return -1;
    int cnt = 0;
    const int64_t *oshape = ir_attr_ints(n, "output_shape", &cnt);
    if (oshape) {
        /* spatial dims, or the full N, C, spatial... shape */
        if (cnt == ns + 2)
            oshape += 2;
        else if (cnt != ns)
            return node_error(d, n, "attribute output_shape has %d values, expected %d", cnt, ns);
    }
    for (int i = 0; i < ns; i++) {
        int64_t dk = (geo->kernel[i] - 1) * geo->dilation[i] + 1;
        int64_t full = geo->stride[i] * (geo->in[i] - 1) + opad[i] + dk;
        if (oshape || mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
            int64_t o = oshape ? oshape[i] : geo->in[i] * geo->stride[i];
            if (o <= 0) return node_error(d, n, "output_shape[%d] = %lld must be > 0", i, (long long)o);
            geo->out[i] = o;
            geom_split(full - o, mode == PAD_SAME_UPPER, &geo->pad_begin[i], &geo->pad_end[i]);
        } else {
            geo->pad_begin[i] = mode == PAD_VALID ? 0 : pads[i];
            geo->pad_end[i] = mode == PAD_VALID ? 0 : pads[ns + i];
            geo->out[i] = full - geo->pad_begin[i] - geo->pad_end[i];
            if (geo->out[i] <= 0)
                return node_error(d, n, "pads %lld+%lld remove the whole output of axis %d",
                                  (long long)geo->pad_begin[i], (long long)geo->pad_end[i], i);
        }
    }
    return 0;
}

int ir_conv_geometry(const Node *n, int rank, const int64_t *xdims, const int64_t *wdims,
                     ConvGeom *geo, Diag *d)
{
    memset(geo, 0, sizeof *geo);
    int is_conv = n->op == OP_CONV || n->op == OP_CONV_TRANSPOSE;
    if (rank < 3) return node_error(d, n, "input must have rank >= 3 (N, C, spatial...), has %d", rank);
    int ns = geo->nsp = rank - 2;
    for (int i = 0; i < ns; i++) {
        geo->in[i] = xdims[2 + i];
        if (geo->in[i] <= 0) return node_error(d, n, "empty spatial input axis %d", i);
    }

    int kcnt = 0;
    const int64_t *ks = ir_attr_ints(n, "kernel_shape", &kcnt);
    if (ks) {
        if (geom_ints(n, "kernel_shape", ns, 1, 1, geo->kernel, d)) return -1;
        for (int i = 0; is_conv && wdims && i < ns; i++)
            if (geo->kernel[i] != wdims[2 + i])
                return node_error(d, n, "kernel_shape[%d] = %lld differs from W's %lld", i,
                                  (long long)geo->kernel[i], (long long)wdims[2 + i]);
    } else if (is_conv && wdims) {
        for (int i = 0; i < ns; i++) geo->kernel[i] = wdims[2 + i];
    } else {
        return node_error(d, n, "attribute kernel_shape is required");
    }
    for (int i = 0; i < ns; i++)
        if (geo->kernel[i] <= 0) return node_error(d, n, "empty kernel axis %d", i);
    if (geom_ints(n, "strides", ns, 1, 1, geo->stride, d)) return -1;
    if (geom_ints(n, "dilations", ns, 1, 1, geo->dilation, d)) return -1;
    int64_t pads[2 * IR_MAX_RANK];
    if (geom_ints(n, "pads", 2 * ns, 0, 0, pads, d)) return -1;
    int mode;
    if (geom_auto_pad(n, &mode, d)) return -1;
    if (mode != PAD_NOTSET)
        for (int i = 0; i < 2 * ns; i++)
            if (pads[i])
                return node_error(d, n, "explicit pads cannot be combined with auto_pad %s",
                                  ir_attr_str(n, "auto_pad", ""));

    if (n->op == OP_CONV_TRANSPOSE) return geom_transpose(n, mode, pads, geo, d);

    int ceil_mode = 0;
    if (!is_conv) {
        int64_t cm = ir_attr_int(n, "ceil_mode", 0);
        if (cm != 0 && cm != 1) return node_error(d, n, "ceil_mode must be 0 or 1");
        ceil_mode = (int)cm;
    }
    for (int i = 0; i < ns; i++) {
        int64_t in = geo->in[i], s = geo->stride[i];
        int64_t dk = (geo->kernel[i] - 1) * geo->dilation[i] + 1;
        if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
            geo->out[i] = (in + s - 1) / s;
            int64_t total = (geo->out[i] - 1) * s + dk - in;
            geom_split(total > 0 ? total : 0, mode == PAD_SAME_UPPER, &geo->pad_begin[i],
                       &geo->pad_end[i]);
            continue;
        }
        geo->pad_begin[i] = mode == PAD_VALID ? 0 : pads[i];
        geo->pad_end[i] = mode == PAD_VALID ? 0 : pads[ns + i];
        int64_t span = in + geo->pad_begin[i] + geo->pad_end[i] - dk;
        if (span < 0)
            return node_error(d, n,
                              "kernel extent %lld is larger than the padded input %lld on axis %d",
                              (long long)dk, (long long)(in + geo->pad_begin[i] + geo->pad_end[i]), i);
        int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
        /* the last window must start inside the input or the left padding */
        if (ceil_mode && (out - 1) * s >= in + geo->pad_begin[i]) out--;
        geo->out[i] = out;
    }
    return 0;
}

/* Checks shared by Conv and ConvTranspose: float X and W of equal dtype, X's logical rank xrank
 * equal to W's rank, bias shape. */
static int shape_conv_common(Graph *g, Node *n, int xrank, const Value **x, const Value **w, Diag *d)
{
    *x = &g->values[n->in[0]];
    *w = &g->values[n->in[1]];
    if (!dtype_is_float((*x)->dtype))
        return node_error(d, n, "unsupported dtype %s (f32 or f64 needed)", dtype_name((*x)->dtype));
    if ((*w)->dtype != (*x)->dtype)
        return node_error(d, n, "W is %s but X is %s", dtype_name((*w)->dtype), dtype_name((*x)->dtype));
    if (xrank < 3) return node_error(d, n, "X must have rank >= 3, has %d", xrank);
    if ((*w)->rank != xrank)
        return node_error(d, n, "W has rank %d but X has rank %d", (*w)->rank, xrank);
    int64_t group = ir_attr_int(n, "group", 1);
    if (group < 1) return node_error(d, n, "group must be >= 1, is %lld", (long long)group);
    return 0;
}

static int shape_conv_bias(Graph *g, Node *n, const Value *x, int64_t m, Diag *d)
{
    if (n->n_in < 3 || n->in[2] < 0) return 0;
    const Value *b = &g->values[n->in[2]];
    if (b->dtype != x->dtype)
        return node_error(d, n, "bias is %s but X is %s", dtype_name(b->dtype), dtype_name(x->dtype));
    if (b->rank != 1 || b->dims[0] != m)
        return node_error(d, n, "bias must have shape [%lld]", (long long)m);
    return 0;
}

/* Logical (plain) dims of Conv's X: X's own, or for a blocked Conv with a rank-5-style X (one
 * more dim than W) the unblocked shape with C = W's dims[1] * group channels. */
static int shape_conv_input(Graph *g, Node *n, int blocked, int *xrank, int64_t *xdims, Diag *d)
{
    const Value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]];
    *xrank = x->rank;
    memcpy(xdims, x->dims, sizeof x->dims);
    if (!blocked || x->rank != w->rank + 1 || w->rank < 2) return 0;
    int64_t c = w->dims[1] * ir_attr_int(n, "group", 1);
    char buf[128];
    if (ir_layout_unblocked_dims(x->rank, x->dims, c, xrank, xdims))
        return node_error(d, n, "blocked X [%s] is not NCHW16c with %lld channels",
                          shape_str(x->rank, x->dims, buf, sizeof buf), (long long)c);
    return 0;
}

/* Conv's optional residual (input 3) must have the output's dtype and shape. */
static int shape_conv_residual(Graph *g, Node *n, DType t, int rank, const int64_t *dims, Diag *d)
{
    if (n->n_in < 4 || n->in[3] < 0) return 0;
    const Value *r = &g->values[n->in[3]];
    int ok = r->dtype == t && r->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = r->dims[i] == dims[i];
    if (!ok) {
        char a[128], b[128];
        return node_error(d, n, "residual is %s[%s] but the output is %s[%s]", dtype_name(r->dtype),
                          shape_str(r->rank, r->dims, a, sizeof a), dtype_name(t), shape_str(rank, dims, b, sizeof b));
    }
    return 0;
}

int shape_conv(Graph *g, Node *n, Diag *d)
{
    const Value *x, *w;
    int blocked = ir_node_layout(n, d), xrank;
    int64_t xdims[IR_MAX_RANK];
    if (blocked < 0 || shape_conv_input(g, n, blocked, &xrank, xdims, d)) return -1;
    if (shape_conv_common(g, n, xrank, &x, &w, d)) return -1;
    int64_t group = ir_attr_int(n, "group", 1);
    int64_t c = xdims[1], m = w->dims[0];
    if (c != w->dims[1] * group)
        return node_error(d, n, "X has %lld channels but W expects %lld x group %lld", (long long)c,
                          (long long)w->dims[1], (long long)group);
    if (m % group)
        return node_error(d, n, "%lld output channels are not divisible by group %lld", (long long)m,
                          (long long)group);
    if (shape_conv_bias(g, n, x, m, d)) return -1;
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    ConvGeom geo;
    if (ir_conv_geometry(n, xrank, xdims, w->dims, &geo, d)) return -1;
    int64_t dims[IR_MAX_RANK] = {xdims[0], m}, bdims[IR_MAX_RANK];
    for (int i = 0; i < geo.nsp; i++) dims[2 + i] = geo.out[i];
    int rank = xrank;
    if (blocked) {
        if (ir_layout_blocked_dims(xrank, dims, &rank, bdims))
            return node_error(d, n, "cannot block a rank-%d output", xrank);
        memcpy(dims, bdims, sizeof dims);
    }
    if (shape_conv_residual(g, n, x->dtype, rank, dims, d)) return -1;
    shape_set_out(g, n, 0, x->dtype, rank, dims);
    return 0;
}

int shape_conv_transpose(Graph *g, Node *n, Diag *d)
{
    const Value *x, *w;
    if (shape_conv_common(g, n, g->values[n->in[0]].rank, &x, &w, d)) return -1;
    int64_t group = ir_attr_int(n, "group", 1);
    int64_t c = x->dims[1];
    if (c != w->dims[0])
        return node_error(d, n, "X has %lld channels but W has %lld input channels", (long long)c,
                          (long long)w->dims[0]);
    if (c % group)
        return node_error(d, n, "%lld input channels are not divisible by group %lld", (long long)c,
                          (long long)group);
    int64_t m = w->dims[1] * group;
    if (shape_conv_bias(g, n, x, m, d)) return -1;
    ConvGeom geo;
    if (ir_conv_geometry(n, x->rank, x->dims, w->dims, &geo, d)) return -1;
    int64_t dims[IR_MAX_RANK] = {x->dims[0], m};
    for (int i = 0; i < geo.nsp; i++) dims[2 + i] = geo.out[i];
    shape_set_out(g, n, 0, x->dtype, x->rank, dims);
    return 0;
}
