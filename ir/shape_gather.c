/* shape_gather.c — shape inference for the index-driven ops: Gather, GatherElements, TopK,
 * OneHot, EyeLike (ops whose outputs select or place elements by integer positions).
 *
 * Input: a node with typed inputs and its attributes (docs/ir-ops.md). Output: dtype and dims
 * of each output, or -1 with a Diag naming the node. Index inputs that are graph constants are
 * range-checked here already, so a bad model fails at compile time rather than at run time.
 */
#include "ir.h"

#include <string.h>

#define SHAPE_MAX_NUMEL (INT64_C(1) << 56)

static const Value *in_val(const Graph *g, const Node *n, int k) { return &g->values[n->in[k]]; }

/* Normalise axis into [0, rank); error when out of range. */
static int axis_norm(Diag *d, const Node *n, int64_t axis, int rank, int *out)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    *out = 0;
    if (a < 0 || a >= rank)
        return node_error(d, n, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)a;
    return 0;
}

/* Error unless rank <= IR_MAX_RANK, every dim is >= 0 and the product of the non-zero dims is
 * bounded (no partial product can overflow); then set output k. */
static int set_out(Graph *g, Node *n, Diag *d, int k, DType t, int rank, const int64_t *dims)
{
    if (rank > IR_MAX_RANK)
        return node_error(d, n, "output rank %d exceeds the maximum %d", rank, IR_MAX_RANK);
    int64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return node_error(d, n, "output dim %d is negative (%lld)", i, (long long)dims[i]);
        if (dims[i] == 0) continue;
        if (total > SHAPE_MAX_NUMEL / dims[i])
            return node_error(d, n, "output shape has too many elements");
        total *= dims[i];
    }
    shape_set_out(g, n, k, t, rank, dims);
    return 0;
}

/* Error unless value v (an index input) has an integer dtype. */
static int index_dtype_check(Diag *d, const Node *n, const Value *v)
{
    if (!dtype_is_int(v->dtype))
        return node_error(d, n, "indices '%s' must be integers, are %s", v->name,
                          dtype_name(v->dtype));
    return 0;
}

/* When index input v is a constant, check every entry lies in [-len, len). */
static int const_index_check(Diag *d, const Node *n, const Value *v, int64_t len)
{
    if (v->kind != VAL_CONST || !v->data) return 0;
    int64_t cnt = ir_value_numel(v);
    for (int64_t i = 0; i < cnt; i++) {
        int64_t ix = elem_get_i64(v->dtype, v->data, i);
        if (ix < -len || ix >= len)
            return node_error(d, n, "index %lld out of range for an axis of length %lld",
                              (long long)ix, (long long)len);
    }
    return 0;
}

int shape_gather(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0), *ix = in_val(g, n, 1);
    if (x->rank == 0) return node_error(d, n, "cannot gather from a scalar");
    int axis;
    if (axis_norm(d, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
    if (index_dtype_check(d, n, ix)) return -1;
    if (const_index_check(d, n, ix, x->dims[axis])) return -1;
    int r = x->rank - 1 + ix->rank;
    if (r > IR_MAX_RANK)
        return node_error(d, n, "output rank %d exceeds the maximum %d", r, IR_MAX_RANK);
    int64_t dims[IR_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
    for (int i = 0; i < ix->rank; i++) dims[k++] = ix->dims[i];
    for (int i = axis + 1; i < x->rank; i++) dims[k++] = x->dims[i];
    return set_out(g, n, d, 0, x->dtype, r, dims);
}

int shape_gather_elements(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0), *ix = in_val(g, n, 1);
    if (x->rank == 0) return node_error(d, n, "cannot gather from a scalar");
    int axis;
    if (axis_norm(d, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
    if (index_dtype_check(d, n, ix)) return -1;
    if (ix->rank != x->rank)
        return node_error(d, n, "indices have rank %d, data has rank %d", ix->rank, x->rank);
    for (int i = 0; i < x->rank; i++)
        if (i != axis && ix->dims[i] > x->dims[i])
            return node_error(d, n, "indices dim %d (%lld) exceeds data dim (%lld)", i,
                              (long long)ix->dims[i], (long long)x->dims[i]);
    if (const_index_check(d, n, ix, x->dims[axis])) return -1;
    return set_out(g, n, d, 0, x->dtype, ix->rank, ix->dims);
}

int shape_topk(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (x->rank == 0) return node_error(d, n, "input must have rank >= 1");
    int axis;
    if (axis_norm(d, n, ir_attr_int(n, "axis", -1), x->rank, &axis)) return -1;
    const Attr *ka = ir_attr_find(n, "k");
    if (!ka) return node_error(d, n, "missing attribute 'k'");
    int64_t k = ir_attr_int(n, "k", 0);
    if (k < 0 || k > x->dims[axis])
        return node_error(d, n, "k = %lld out of range for an axis of length %lld", (long long)k,
                          (long long)x->dims[axis]);
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    if (set_out(g, n, d, 0, x->dtype, x->rank, dims)) return -1;
    return set_out(g, n, d, 1, DT_I64, x->rank, dims);
}

int shape_one_hot(Graph *g, Node *n, Diag *d)
{
    const Value *ix = in_val(g, n, 0);
    if (!dtype_is_int(ix->dtype) && !dtype_is_float(ix->dtype))
        return node_error(d, n, "indices must be numeric, are %s", dtype_name(ix->dtype));
    if (!ir_attr_find(n, "depth")) return node_error(d, n, "missing attribute 'depth'");
    int64_t depth = ir_attr_int(n, "depth", 0);
    if (depth <= 0) return node_error(d, n, "depth must be positive, is %lld", (long long)depth);
    const Tensor *vals = ir_attr_tensor(n, "values");
    if (!vals) return node_error(d, n, "missing attribute 'values' ([off, on])");
    if (tensor_numel(vals) != 2)
        return node_error(d, n, "attribute 'values' must have 2 elements, has %lld",
                          (long long)tensor_numel(vals));
    int r = ix->rank + 1, axis;
    if (r > IR_MAX_RANK)
        return node_error(d, n, "output rank %d exceeds the maximum %d", r, IR_MAX_RANK);
    if (axis_norm(d, n, ir_attr_int(n, "axis", -1), r, &axis)) return -1;
    int64_t dims[IR_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) dims[i] = i == axis ? depth : ix->dims[k++];
    return set_out(g, n, d, 0, vals->dtype, r, dims);
}

int shape_eye_like(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (x->rank != 2) return node_error(d, n, "input must be 2-D, has rank %d", x->rank);
    DType t = x->dtype;
    if (ir_attr_find(n, "dtype")) {
        int64_t code = ir_attr_int(n, "dtype", 0);
        t = dtype_from_onnx((int)code);
        if (t == DT_UNDEF)
            return node_error(d, n, "attribute 'dtype' (%lld) is not a supported dtype",
                              (long long)code);
    }
    return set_out(g, n, d, 0, t, 2, x->dims);
}
