/* shape_movement.c — shape inference for the data-movement and shape ops: Flatten, Reshape,
 * Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Pad, Shape, Size, ConstantOfShape,
 * Expand, Tile, Range, DepthToSpace, SpaceToDepth.
 *
 * Input: a node whose inputs are typed; its shape-determining parameters are attributes
 * (docs/ir-ops.md). Output: the dtype and static dims of each output, or -1 with a Diag naming
 * the node when an attribute is missing, out of range or inconsistent with the input shapes.
 * Output sizes are checked for int64 overflow before any product is formed.
 */
#include "ir.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Largest element count an output may have: keeps numel * sizeof(elem) far from overflow. */
#define SHAPE_MAX_NUMEL (INT64_C(1) << 56)

/* Input k's value (callers have checked arity; the driver has checked the id). */
static const Value *in_val(const Graph *g, const Node *n, int k) { return &g->values[n->in[k]]; }

/* Error unless input k is present. */
static int need_input(Diag *d, const Node *n, int k)
{
    if (k >= n->n_in || n->in[k] < 0) return node_error(d, n, "input %d is required", k);
    return 0;
}

/* Normalise an axis: negative counts from the back (adds rank). Valid results are [0, rank), or
 * [0, rank] when inclusive (Flatten's split point). */
static int axis_norm(Diag *d, const Node *n, const char *what, int64_t axis, int rank,
                     int inclusive, int *out)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    *out = 0;
    if (a < 0 || a > (inclusive ? rank : rank - 1))
        return node_error(d, n, "%s %lld out of range for rank %d", what, (long long)axis, rank);
    *out = (int)a;
    return 0;
}

/* Error unless every dim is >= 0 and the product of the non-zero dims stays below
 * SHAPE_MAX_NUMEL (so that no partial product of any order overflows, even with a 0 dim). */
static int dims_check(Diag *d, const Node *n, int rank, const int64_t *dims)
{
    if (rank > IR_MAX_RANK)
        return node_error(d, n, "output rank %d exceeds the maximum %d", rank, IR_MAX_RANK);
    int64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return node_error(d, n, "output dim %d is negative (%lld)", i, (long long)dims[i]);
        if (dims[i] == 0) continue;
        if (total > SHAPE_MAX_NUMEL / dims[i])
            return node_error(d, n, "output shape has too many elements (dim %d = %lld)", i,
                              (long long)dims[i]);
        total *= dims[i];
    }
    return 0;
}

/* Check dims, then set output k. */
static int set_out(Graph *g, Node *n, Diag *d, int k, DType t, int rank, const int64_t *dims)
{
    if (dims_check(d, n, rank, dims)) return -1;
    shape_set_out(g, n, k, t, rank, dims);
    return 0;
}

/* Product of dims[lo..hi) (the caller knows it is the size of an existing tensor). */
static int64_t dims_prod(const int64_t *dims, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++) p *= dims[i];
    return p;
}

int shape_flatten(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int axis;
    if (axis_norm(d, n, "axis", ir_attr_int(n, "axis", 1), x->rank, 1, &axis)) return -1;
    int64_t dims[2] = {dims_prod(x->dims, 0, axis), dims_prod(x->dims, axis, x->rank)};
    return set_out(g, n, d, 0, x->dtype, 2, dims);
}

int shape_reshape(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt;
    const int64_t *shape = ir_attr_ints(n, "shape", &cnt);
    if (!shape) return node_error(d, n, "missing attribute 'shape'");
    if (cnt > IR_MAX_RANK)
        return node_error(d, n, "target shape has %d dims, the maximum is %d", cnt, IR_MAX_RANK);
    int allowzero = ir_attr_int(n, "allowzero", 0) != 0;
    int64_t dims[IR_MAX_RANK];
    int infer = -1, has_zero = 0;
    for (int i = 0; i < cnt; i++) {
        int64_t s = shape[i];
        if (s == -1) {
            if (infer >= 0) return node_error(d, n, "target shape has more than one -1");
            infer = i;
            dims[i] = 1;
        } else if (s < -1) {
            return node_error(d, n, "target shape dim %d is invalid (%lld)", i, (long long)s);
        } else if (s == 0 && !allowzero) {
            if (i >= x->rank)
                return node_error(d, n, "target shape dim %d is 0 (copy) but the input has rank %d",
                                  i, x->rank);
            dims[i] = x->dims[i];
        } else {
            dims[i] = s;
            has_zero |= s == 0;
        }
    }
    if (allowzero && has_zero && infer >= 0)
        return node_error(d, n, "target shape has both 0 and -1 with allowzero=1");
    int64_t in_numel = shape_numel(x->rank, x->dims);
    /* product of the known dims, with overflow checks */
    int64_t known = 1;
    int known_zero = 0;
    for (int i = 0; i < cnt; i++) {
        if (i == infer) continue;
        if (dims[i] == 0) {
            known_zero = 1;
            continue;
        }
        if (known > SHAPE_MAX_NUMEL / dims[i])
            return node_error(d, n, "target shape has too many elements");
        known *= dims[i];
    }
    if (known_zero) known = 0;
    if (infer >= 0) {
        if (known == 0)
            return node_error(d, n, "cannot infer the -1 dim: the other dims have product 0");
        if (in_numel % known)
            return node_error(d, n,
                              "cannot reshape %lld elements into a shape with -1 and "
                              "known product %lld",
                              (long long)in_numel, (long long)known);
        dims[infer] = in_numel / known;
    } else if (known != in_numel) {
        char a[128];
        return node_error(d, n, "cannot reshape %s (%lld elements) into %lld elements",
                          shape_str(x->rank, x->dims, a, sizeof a), (long long)in_numel,
                          (long long)known);
    }
    return set_out(g, n, d, 0, x->dtype, cnt, dims);
}

/* Mark axes (normalised to [0, rank)) in seen[]; error on out-of-range or duplicate. */
static int axes_mark(Diag *d, const Node *n, const int64_t *axes, int cnt, int rank, char *seen)
{
    memset(seen, 0, IR_MAX_RANK * 2);
    for (int i = 0; i < cnt; i++) {
        int a;
        if (axis_norm(d, n, "axis", axes[i], rank, 0, &a)) return -1;
        if (seen[a]) return node_error(d, n, "axis %lld repeated", (long long)axes[i]);
        seen[a] = 1;
    }
    return 0;
}

int shape_squeeze(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt;
    const int64_t *axes = ir_attr_ints(n, "axes", &cnt);
    char seen[IR_MAX_RANK * 2];
    if (axes) {
        if (axes_mark(d, n, axes, cnt, x->rank, seen)) return -1;
        for (int i = 0; i < x->rank; i++)
            if (seen[i] && x->dims[i] != 1)
                return node_error(d, n, "cannot squeeze axis %d of size %lld", i,
                                  (long long)x->dims[i]);
    } else {
        for (int i = 0; i < x->rank; i++) seen[i] = x->dims[i] == 1;
    }
    int64_t dims[IR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!seen[i]) dims[r++] = x->dims[i];
    return set_out(g, n, d, 0, x->dtype, r, dims);
}

int shape_unsqueeze(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt;
    const int64_t *axes = ir_attr_ints(n, "axes", &cnt);
    if (!axes || cnt == 0) return node_error(d, n, "missing attribute 'axes'");
    int r = x->rank + cnt;
    if (r > IR_MAX_RANK)
        return node_error(d, n, "output rank %d exceeds the maximum %d", r, IR_MAX_RANK);
    char seen[IR_MAX_RANK * 2];
    if (axes_mark(d, n, axes, cnt, r, seen)) return -1;
    int64_t dims[IR_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) dims[i] = seen[i] ? 1 : x->dims[k++];
    return set_out(g, n, d, 0, x->dtype, r, dims);
}

int shape_transpose(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt;
    const int64_t *perm = ir_attr_ints(n, "perm", &cnt);
    int64_t dims[IR_MAX_RANK];
    if (!perm) {
        for (int i = 0; i < x->rank; i++) dims[i] = x->dims[x->rank - 1 - i];
        return set_out(g, n, d, 0, x->dtype, x->rank, dims);
    }
    if (cnt != x->rank)
        return node_error(d, n, "perm has %d entries, input rank is %d", cnt, x->rank);
    char seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < cnt; i++) {
        if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]])
            return node_error(d, n, "perm is not a permutation of 0..%d", x->rank - 1);
        seen[perm[i]] = 1;
        dims[i] = x->dims[perm[i]];
    }
    return set_out(g, n, d, 0, x->dtype, x->rank, dims);
}

int shape_concat(Graph *g, Node *n, Diag *d)
{
    if (!ir_attr_find(n, "axis")) return node_error(d, n, "missing attribute 'axis'");
    for (int k = 0; k < n->n_in; k++)
        if (need_input(d, n, k)) return -1;
    const Value *x0 = in_val(g, n, 0);
    if (x0->rank == 0) return node_error(d, n, "cannot concatenate scalars");
    int axis;
    if (axis_norm(d, n, "axis", ir_attr_int(n, "axis", 0), x0->rank, 0, &axis)) return -1;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    for (int k = 1; k < n->n_in; k++) {
        const Value *x = in_val(g, n, k);
        if (x->dtype != x0->dtype)
            return node_error(d, n, "input %d has dtype %s, input 0 has %s", k,
                              dtype_name(x->dtype), dtype_name(x0->dtype));
        if (x->rank != x0->rank)
            return node_error(d, n, "input %d has rank %d, input 0 has rank %d", k, x->rank,
                              x0->rank);
        for (int i = 0; i < x->rank; i++)
            if (i != axis && x->dims[i] != x0->dims[i])
                return node_error(d, n, "input %d has dim %d = %lld, input 0 has %lld", k, i,
                                  (long long)x->dims[i], (long long)x0->dims[i]);
        if (dims[axis] > SHAPE_MAX_NUMEL - x->dims[axis])
            return node_error(d, n, "concatenated axis is too long");
        dims[axis] += x->dims[axis];
    }
    return set_out(g, n, d, 0, x0->dtype, x0->rank, dims);
}

int shape_split(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (x->rank == 0) return node_error(d, n, "cannot split a scalar");
    int axis;
    if (axis_norm(d, n, "axis", ir_attr_int(n, "axis", 0), x->rank, 0, &axis)) return -1;
    int cnt, nout = n->n_out;
    const int64_t *split = ir_attr_ints(n, "split", &cnt);
    int64_t len = x->dims[axis];
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    if (split) {
        if (cnt != nout) return node_error(d, n, "split has %d entries for %d outputs", cnt, nout);
        int64_t sum = 0;
        for (int k = 0; k < cnt; k++) {
            if (split[k] < 0 || split[k] > len)
                return node_error(d, n, "split entry %d is invalid (%lld)", k, (long long)split[k]);
            sum += split[k];
            if (sum > len) break;
        }
        if (sum != len)
            return node_error(d, n, "split sums to more or less than the axis length %lld",
                              (long long)len);
        for (int k = 0; k < nout; k++) {
            dims[axis] = split[k];
            if (set_out(g, n, d, k, x->dtype, x->rank, dims)) return -1;
        }
        return 0;
    }
    /* equal parts of ceil(len / nout), the last one smaller (opset 18) */
    int64_t chunk = (len + nout - 1) / nout;
    int64_t last = len - chunk * (nout - 1);
    if (last < 0)
        return node_error(d, n, "axis of length %lld cannot be split into %d parts", (long long)len,
                          nout);
    for (int k = 0; k < nout; k++) {
        dims[axis] = k == nout - 1 ? last : chunk;
        if (set_out(g, n, d, k, x->dtype, x->rank, dims)) return -1;
    }
    return 0;
}

/* Clamp ONNX Slice start/end for one axis of length dim and compute the output length. */
static int64_t slice_len(int64_t dim, int64_t start, int64_t end, int64_t step)
{
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        return end > start ? (end - start - 1) / step + 1 : 0;
    }
    start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
    end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
    /* step < 0; -step may not be representable (INT64_MIN), so divide in unsigned */
    uint64_t s = (uint64_t)0 - (uint64_t)step;
    return start > end ? (int64_t)((uint64_t)(start - end - 1) / s) + 1 : 0;
}

int shape_slice(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int ns, ne, na, nst;
    const int64_t *starts = ir_attr_ints(n, "starts", &ns);
    const int64_t *ends = ir_attr_ints(n, "ends", &ne);
    const int64_t *axes = ir_attr_ints(n, "axes", &na);
    const int64_t *steps = ir_attr_ints(n, "steps", &nst);
    if (!starts || !ends) return node_error(d, n, "missing attribute 'starts' or 'ends'");
    if (ne != ns) return node_error(d, n, "starts has %d entries, ends has %d", ns, ne);
    if (axes && na != ns) return node_error(d, n, "axes has %d entries, starts has %d", na, ns);
    if (steps && nst != ns) return node_error(d, n, "steps has %d entries, starts has %d", nst, ns);
    if (!axes && ns > x->rank)
        return node_error(d, n, "%d starts for an input of rank %d", ns, x->rank);
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    char seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < ns; i++) {
        int a = i;
        if (axes && axis_norm(d, n, "axis", axes[i], x->rank, 0, &a)) return -1;
        if (seen[a]) return node_error(d, n, "axis %d repeated", a);
        seen[a] = 1;
        int64_t step = steps ? steps[i] : 1;
        if (step == 0) return node_error(d, n, "step %d is 0", i);
        dims[a] = slice_len(x->dims[a], starts[i], ends[i], step);
    }
    return set_out(g, n, d, 0, x->dtype, x->rank, dims);
}

int shape_pad(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt, r = x->rank;
    const int64_t *pads = ir_attr_ints(n, "pads", &cnt);
    if (!pads) return node_error(d, n, "missing attribute 'pads'");
    if (cnt != 2 * r) return node_error(d, n, "pads has %d entries, expected %d", cnt, 2 * r);
    const char *mode = ir_attr_str(n, "mode", "constant");
    int constant = !strcmp(mode, "constant");
    if (!constant && strcmp(mode, "reflect") && strcmp(mode, "edge") && strcmp(mode, "wrap"))
        return node_error(d, n, "unknown mode '%s'", mode);
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int64_t b = pads[i], e = pads[r + i], len = x->dims[i];
        if (b < -SHAPE_MAX_NUMEL || b > SHAPE_MAX_NUMEL || e < -SHAPE_MAX_NUMEL ||
            e > SHAPE_MAX_NUMEL)
            return node_error(d, n, "pads for axis %d are out of range", i);
        int64_t kept = len + (b < 0 ? b : 0) + (e < 0 ? e : 0);
        if (kept < 0)
            return node_error(d, n,
                              "negative pads (%lld, %lld) crop more than axis %d's length %lld",
                              (long long)b, (long long)e, i, (long long)len);
        if (!constant && kept == 0 && (b > 0 || e > 0))
            return node_error(d, n, "mode '%s' cannot pad axis %d: it has no elements", mode, i);
        dims[i] = len + b + e;
    }
    return set_out(g, n, d, 0, x->dtype, r, dims);
}

int shape_shape(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int64_t r = x->rank, start = ir_attr_int(n, "start", 0), end = ir_attr_int(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t len = end > start ? end - start : 0;
    return set_out(g, n, d, 0, DT_I64, 1, &len);
}

int shape_size(Graph *g, Node *n, Diag *d)
{
    shape_set_out(g, n, 0, DT_I64, 0, NULL);
    return 0;
}

int shape_constant_of_shape(Graph *g, Node *n, Diag *d)
{
    int cnt;
    const int64_t *shape = ir_attr_ints(n, "shape", &cnt);
    if (!shape) return node_error(d, n, "missing attribute 'shape'");
    if (cnt > IR_MAX_RANK)
        return node_error(d, n, "shape has %d dims, the maximum is %d", cnt, IR_MAX_RANK);
    const Tensor *v = ir_attr_tensor(n, "value");
    DType t = DT_F32;
    if (v) {
        if (tensor_numel(v) != 1)
            return node_error(d, n, "attribute 'value' must have one element, has %lld",
                              (long long)tensor_numel(v));
        t = v->dtype;
    }
    return set_out(g, n, d, 0, t, cnt, shape);
}

int shape_expand(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt;
    const int64_t *shape = ir_attr_ints(n, "shape", &cnt);
    if (!shape) return node_error(d, n, "missing attribute 'shape'");
    if (cnt > IR_MAX_RANK)
        return node_error(d, n, "shape has %d dims, the maximum is %d", cnt, IR_MAX_RANK);
    for (int i = 0; i < cnt; i++)
        if (shape[i] < 0)
            return node_error(d, n, "shape dim %d is negative (%lld)", i, (long long)shape[i]);
    int r;
    int64_t dims[IR_MAX_RANK];
    if (shape_broadcast2(x->rank, x->dims, cnt, shape, &r, dims)) {
        char a[128], b[128];
        return node_error(d, n, "cannot broadcast %s to %s",
                          shape_str(x->rank, x->dims, a, sizeof a),
                          shape_str(cnt, shape, b, sizeof b));
    }
    return set_out(g, n, d, 0, x->dtype, r, dims);
}

int shape_tile(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int cnt;
    const int64_t *rep = ir_attr_ints(n, "repeats", &cnt);
    if (!rep) return node_error(d, n, "missing attribute 'repeats'");
    if (cnt != x->rank)
        return node_error(d, n, "repeats has %d entries, input rank is %d", cnt, x->rank);
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < cnt; i++) {
        if (rep[i] < 0)
            return node_error(d, n, "repeats entry %d is negative (%lld)", i, (long long)rep[i]);
        if (x->dims[i] && rep[i] > SHAPE_MAX_NUMEL / x->dims[i])
            return node_error(d, n, "repeats entry %d makes the output too large", i);
        dims[i] = x->dims[i] * rep[i];
    }
    return set_out(g, n, d, 0, x->dtype, x->rank, dims);
}

int shape_range(Graph *g, Node *n, Diag *d)
{
    const Attr *as = ir_attr_find(n, "start"), *al = ir_attr_find(n, "limit"),
               *ad = ir_attr_find(n, "delta");
    if (!as || !al || !ad) return node_error(d, n, "missing attribute 'start', 'limit' or 'delta'");
    DType t = dtype_from_onnx((int)ir_attr_int(n, "to", 1));
    if (!dtype_is_float(t) && !dtype_is_int(t))
        return node_error(d, n, "attribute 'to' (%lld) is not a numeric dtype",
                          (long long)ir_attr_int(n, "to", 1));
    double start = ir_attr_float(n, "start", 0), limit = ir_attr_float(n, "limit", 0),
           delta = ir_attr_float(n, "delta", 1);
    if (!isfinite(start) || !isfinite(limit) || !isfinite(delta))
        return node_error(d, n, "start, limit and delta must be finite");
    if (delta == 0) return node_error(d, n, "delta is 0");
    if (dtype_is_int(t)) {
        const double lim = 4611686018427387904.0; /* 2^62 */
        if (fabs(start) >= lim || fabs(limit) >= lim || fabs(delta) >= lim ||
            start != floor(start) || delta != floor(delta))
            return node_error(d, n, "integer range needs integral start and delta below 2^62");
    }
    double cnt = ceil((limit - start) / delta);
    if (!(cnt <= (double)SHAPE_MAX_NUMEL)) return node_error(d, n, "range has too many elements");
    int64_t len = cnt > 0 ? (int64_t)cnt : 0;
    return set_out(g, n, d, 0, t, 1, &len);
}

/* Shared checks of DepthToSpace/SpaceToDepth: 4-D input, blocksize > 0. */
static int block_check(Diag *d, const Node *n, const Value *x, int64_t *b)
{
    *b = 1;
    if (x->rank != 4) return node_error(d, n, "input must be 4-D (NCHW), has rank %d", x->rank);
    *b = ir_attr_int(n, "blocksize", 0);
    if (*b <= 0 || *b > (1 << 20))
        return node_error(d, n, "blocksize must be positive, is %lld", (long long)*b);
    return 0;
}

int shape_depth_to_space(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int64_t b;
    if (block_check(d, n, x, &b)) return -1;
    const char *mode = ir_attr_str(n, "mode", "DCR");
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return node_error(d, n, "unknown mode '%s' (DCR or CRD)", mode);
    if (x->dims[1] % (b * b))
        return node_error(d, n, "channels (%lld) not divisible by blocksize^2 (%lld)",
                          (long long)x->dims[1], (long long)(b * b));
    if (x->dims[2] > SHAPE_MAX_NUMEL / b || x->dims[3] > SHAPE_MAX_NUMEL / b)
        return node_error(d, n, "output spatial dims are too large");
    int64_t dims[4] = {x->dims[0], x->dims[1] / (b * b), x->dims[2] * b, x->dims[3] * b};
    return set_out(g, n, d, 0, x->dtype, 4, dims);
}

int shape_space_to_depth(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    int64_t b;
    if (block_check(d, n, x, &b)) return -1;
    if (x->dims[2] % b || x->dims[3] % b)
        return node_error(d, n, "height and width (%lld, %lld) not divisible by blocksize %lld",
                          (long long)x->dims[2], (long long)x->dims[3], (long long)b);
    int64_t dims[4] = {x->dims[0], x->dims[1] * b * b, x->dims[2] / b, x->dims[3] / b};
    return set_out(g, n, d, 0, x->dtype, 4, dims);
}
