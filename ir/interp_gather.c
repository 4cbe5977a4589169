/* interp_gather.c — reference kernels of the index-driven ops: Gather, GatherElements, TopK,
 * OneHot, EyeLike.
 *
 * Outputs arrive allocated with the shapes shape_gather.c inferred. Index inputs may have any
 * integer dtype; negative indices count from the end of the axis; an index out of range at run
 * time is an error naming the node (it cannot be checked earlier for non-constant indices).
 * Gather and GatherElements move bytes, so they work for every dtype.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int axis_of(const Node *n, const char *name, int64_t dflt, int rank)
{
    int64_t a = ir_attr_int(n, name, dflt);
    return (int)(a < 0 ? a + rank : a);
}

/* Index i of tensor ix, made non-negative for an axis of length len; -1 if out of range. */
static int64_t index_get(const Tensor *ix, int64_t i, int64_t len)
{
    int64_t v = elem_get_i64(ix->dtype, ix->data, i);
    if (ix->dtype == DT_U64 && (uint64_t)v > (uint64_t)INT64_MAX) return -1;
    if (v < 0) v += len;
    return v >= 0 && v < len ? v : -1;
}

int eval_gather(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0], *ix = in[1];
    int axis = axis_of(n, "axis", 0, x->rank);
    size_t es = dtype_size(x->dtype);
    if (tensor_numel(out[0]) == 0) return 0;
    int64_t outer = shape_numel(axis, x->dims), len = x->dims[axis];
    size_t blk = (size_t)shape_numel(x->rank - axis - 1, x->dims + axis + 1) * es;
    int64_t ni = tensor_numel(ix);
    char *dst = out[0]->data;
    for (int64_t j = 0; j < ni; j++)
        if (index_get(ix, j, len) < 0)
            return node_error(d, n, "index %lld out of range for an axis of length %lld",
                              (long long)elem_get_i64(ix->dtype, ix->data, j), (long long)len);
    for (int64_t o = 0; o < outer; o++) {
        const char *src = (const char *)x->data + (size_t)(o * len) * blk;
        for (int64_t j = 0; j < ni; j++, dst += blk)
            if (blk) memcpy(dst, src + (size_t)index_get(ix, j, len) * blk, blk);
    }
    return 0;
}

int eval_gather_elements(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0], *ix = in[1];
    int r = x->rank, axis = axis_of(n, "axis", 0, r);
    size_t es = dtype_size(x->dtype);
    int64_t xs[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    shape_strides(r, x->dims, xs);
    int64_t cnt = tensor_numel(ix), len = x->dims[axis];
    char *dst = out[0]->data;
    for (int64_t i = 0; i < cnt; i++) {
        int64_t v = index_get(ix, i, len);
        if (v < 0)
            return node_error(d, n, "index %lld out of range for an axis of length %lld",
                              (long long)elem_get_i64(ix->dtype, ix->data, i), (long long)len);
        int64_t off = 0;
        for (int k = 0; k < r; k++) off += (k == axis ? v : idx[k]) * xs[k];
        memcpy(dst + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
        for (int k = r - 1; k >= 0 && ++idx[k] == ix->dims[k]; k--) idx[k] = 0;
    }
    return 0;
}

/* TopK ordering: a key per element, compared per dtype class so that 64-bit integers stay
 * exact. NaN ranks above every number (as numpy's sort does). */
typedef struct TopKey {
    union {
        double f;
        int64_t i;
        uint64_t u;
    } v;
    int64_t pos;
} TopKey;

/* -1 if a ranks before b in descending order, 1 if after, 0 if equal values. */
static int topk_cmp_desc(int cls, const TopKey *a, const TopKey *b)
{
    if (cls == 0) {
        int an = isnan(a->v.f), bn = isnan(b->v.f);
        if (an || bn) return an && bn ? 0 : an ? -1 : 1;
        return a->v.f > b->v.f ? -1 : a->v.f < b->v.f ? 1 : 0;
    }
    if (cls == 1) return a->v.i > b->v.i ? -1 : a->v.i < b->v.i ? 1 : 0;
    return a->v.u > b->v.u ? -1 : a->v.u < b->v.u ? 1 : 0;
}

/* Does a come before b? Larger first (smaller first when !largest); ties by lower position. */
static int topk_before(int cls, int largest, const TopKey *a, const TopKey *b)
{
    int c = topk_cmp_desc(cls, a, b);
    if (!largest) c = -c;
    return c ? c < 0 : a->pos < b->pos;
}

/* Stable merge sort of keys[0..cnt) with scratch tmp. */
static void topk_sort(int cls, int largest, TopKey *keys, TopKey *tmp, int64_t cnt)
{
    for (int64_t w = 1; w < cnt; w *= 2) {
        for (int64_t lo = 0; lo < cnt; lo += 2 * w) {
            int64_t mid = lo + w < cnt ? lo + w : cnt, hi = lo + 2 * w < cnt ? lo + 2 * w : cnt;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = topk_before(cls, largest, &keys[j], &keys[i]) ? keys[j++] : keys[i++];
            while (i < mid) tmp[k++] = keys[i++];
            while (j < hi) tmp[k++] = keys[j++];
        }
        memcpy(keys, tmp, (size_t)cnt * sizeof *keys);
    }
}

int eval_topk(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    int axis = axis_of(n, "axis", -1, x->rank);
    int largest = ir_attr_int(n, "largest", 1) != 0;
    int64_t len = x->dims[axis], k = out[0] ? out[0]->dims[axis] : out[1]->dims[axis];
    int64_t outer = shape_numel(axis, x->dims);
    int64_t inner = shape_numel(x->rank - axis - 1, x->dims + axis + 1);
    int cls = dtype_is_float(x->dtype) ? 0 : dtype_is_signed(x->dtype) ? 1 : 2;
    size_t es = dtype_size(x->dtype);
    if (len == 0 || k == 0 || outer == 0 || inner == 0) return 0;
    TopKey *keys = xmalloc((size_t)len * sizeof *keys), *tmp = xmalloc((size_t)len * sizeof *tmp);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in_i = 0; in_i < inner; in_i++) {
            int64_t base = o * len * inner + in_i;
            for (int64_t j = 0; j < len; j++) {
                int64_t at = base + j * inner;
                keys[j].pos = j;
                if (cls == 0)
                    keys[j].v.f = elem_get_f64(x->dtype, x->data, at);
                else
                    keys[j].v.i = elem_get_i64(x->dtype, x->data, at);
            }
            /* sorted=0 leaves the order unspecified in ONNX; sorted order is a valid choice */
            topk_sort(cls, largest, keys, tmp, len);
            int64_t obase = o * k * inner + in_i;
            for (int64_t j = 0; j < k; j++) {
                int64_t at = obase + j * inner;
                if (out[0])
                    memcpy((char *)out[0]->data + (size_t)at * es,
                           (const char *)x->data + (size_t)(base + keys[j].pos * inner) * es, es);
                if (out[1]) ((int64_t *)out[1]->data)[at] = keys[j].pos;
            }
        }
    free(keys);
    free(tmp);
    return 0;
}

int eval_one_hot(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *ix = in[0], *vals = ir_attr_tensor(n, "values");
    Tensor *y = out[0];
    if (tensor_numel(y) == 0) return 0;
    int axis = axis_of(n, "axis", -1, y->rank);
    int64_t depth = y->dims[axis];
    int64_t outer = shape_numel(axis, y->dims);
    int64_t inner = shape_numel(y->rank - axis - 1, y->dims + axis + 1);
    size_t es = dtype_size(y->dtype);
    const char *off = vals->data, *on = (const char *)vals->data + es;
    int fl = dtype_is_float(ix->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t src = o * inner + i, v = -1;
            if (fl) {
                double f = elem_get_f64(ix->dtype, ix->data, src);
                if (f > -(double)depth - 1 && f < (double)depth)
                    v = (int64_t)f;
                else
                    v = depth; /* out of range: all off */
            } else {
                v = elem_get_i64(ix->dtype, ix->data, src);
                if (ix->dtype == DT_U64 && (uint64_t)v > (uint64_t)INT64_MAX) v = depth;
            }
            if (v < 0) v += depth;
            for (int64_t j = 0; j < depth; j++)
                memcpy((char *)y->data + (size_t)((o * depth + j) * inner + i) * es,
                       j == v ? on : off, es);
        }
    return 0;
}

int eval_eye_like(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    Tensor *y = out[0];
    int64_t rows = y->dims[0], cols = y->dims[1], k = ir_attr_int(n, "k", 0);
    if (rows == 0 || cols == 0) return 0;
    /* outputs arrive zero-filled; set the ones of diagonal k */
    for (int64_t i = 0; i < rows; i++) {
        if (k > cols || k < -rows) break;
        int64_t j = i + k;
        if (j >= 0 && j < cols) elem_set_i64(y->dtype, y->data, i * cols + j, 1);
    }
    return 0;
}
