/* interp_movement.c — reference kernels of the data-movement and shape ops: Flatten, Reshape,
 * Squeeze and Unsqueeze (eval_copy), Transpose, Concat, Split, Slice, Pad, Shape, Size,
 * ConstantOfShape, Expand, Tile, Range, DepthToSpace, SpaceToDepth.
 *
 * Outputs arrive allocated with the shapes shape_movement.c inferred; kernels only fill them.
 * Every kernel is generic over the element size (bytes are moved, never interpreted), so all
 * IR dtypes work. Most kernels reduce to one routine, map_copy: for each output axis a table
 * gives the source offset of every output index (or FILL for a padding value).
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define FILL INT64_C(-1)

/* Copy one element of es bytes. */
static inline void elem_copy(char *dst, const char *src, size_t es)
{
    switch (es) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

/* dst[o_0, ..., o_{r-1}] = src[sum_k off[k][o_k]] (offsets in elements), or *fill when any
 * off[k][o_k] is FILL. Output is written densely in row-major order. */
static void map_copy(size_t es, int rank, const int64_t *odims, int64_t *const *off,
                     const char *src, char *dst, const void *fill)
{
    static const char no_fill[16];
    if (!fill) fill = no_fill; /* only read when some offset is FILL */
    if (shape_numel(rank, odims) == 0) return;
    if (rank == 0) {
        elem_copy(dst, src, es);
        return;
    }
    int64_t idx[IR_MAX_RANK] = {0};
    int64_t inner = odims[rank - 1];
    const int64_t *last = off[rank - 1];
    int contiguous = last[0] != FILL; /* rows are runs of consecutive source elements */
    for (int64_t i = 1; contiguous && i < inner; i++) contiguous = last[i] == last[0] + i;
    for (;;) {
        int64_t base = 0;
        int filled = 0;
        for (int k = 0; k < rank - 1; k++) {
            int64_t o = off[k][idx[k]];
            if (o == FILL) filled = 1;
            base += o;
        }
        if (contiguous && !filled) {
            memcpy(dst, src + (size_t)(base + last[0]) * es, (size_t)inner * es);
            dst += (size_t)inner * es;
        } else {
            for (int64_t i = 0; i < inner; i++, dst += es) {
                if (filled || last[i] == FILL)
                    elem_copy(dst, fill, es);
                else
                    elem_copy(dst, src + (size_t)(base + last[i]) * es, es);
            }
        }
        int k = rank - 2;
        while (k >= 0 && ++idx[k] == odims[k]) idx[k--] = 0;
        if (k < 0) return;
    }
}

/* Offset tables for map_copy: one array per output axis, freed by maps_free. Callers return
 * early on empty outputs, whose other dims may be huge. */
static int64_t **maps_new(int rank, const int64_t *odims)
{
    IR_ASSERT(shape_numel(rank, odims) > 0);
    int64_t **m = xcalloc(IR_MAX_RANK, sizeof *m);
    for (int k = 0; k < rank; k++) m[k] = xmalloc((size_t)odims[k] * sizeof(int64_t));
    return m;
}

static void maps_free(int64_t **m)
{
    for (int k = 0; k < IR_MAX_RANK; k++) free(m[k]);
    free(m);
}

/* out = transpose of src (dims idims) by perm: out axis k is input axis perm[k]. */
static void transpose_bytes(size_t es, int rank, const int64_t *idims, const int64_t *perm,
                            const void *src, void *dst)
{
    int64_t st[IR_MAX_RANK], odims[IR_MAX_RANK];
    shape_strides(rank, idims, st);
    for (int k = 0; k < rank; k++) odims[k] = idims[perm[k]];
    if (shape_numel(rank, odims) == 0) return;
    int64_t **m = maps_new(rank, odims);
    for (int k = 0; k < rank; k++)
        for (int64_t o = 0; o < odims[k]; o++) m[k][o] = o * st[perm[k]];
    map_copy(es, rank, odims, m, src, dst, NULL);
    maps_free(m);
}

int eval_copy(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    if (tensor_nbytes(in[0]) != tensor_nbytes(out[0]))
        return node_error(d, n, "output size differs from input size");
    if (tensor_nbytes(out[0])) memcpy(out[0]->data, in[0]->data, tensor_nbytes(out[0]));
    return 0;
}

int eval_transpose(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    int cnt;
    const int64_t *p = ir_attr_ints(n, "perm", &cnt);
    int64_t perm[IR_MAX_RANK];
    for (int k = 0; k < x->rank; k++) perm[k] = p && cnt == x->rank ? p[k] : x->rank - 1 - k;
    transpose_bytes(dtype_size(x->dtype), x->rank, x->dims, perm, x->data, out[0]->data);
    return 0;
}

/* Normalised axis (shape inference has validated it). */
static int axis_of(const Node *n, const char *name, int64_t dflt, int rank)
{
    int64_t a = ir_attr_int(n, name, dflt);
    return (int)(a < 0 ? a + rank : a);
}

int eval_concat(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    Tensor *y = out[0];
    if (tensor_numel(y) == 0) return 0;
    int axis = axis_of(n, "axis", 0, y->rank);
    size_t es = dtype_size(y->dtype);
    int64_t outer = shape_numel(axis, y->dims);
    int64_t inner = shape_numel(y->rank - axis - 1, y->dims + axis + 1);
    char *dst = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n->n_in; k++) {
            size_t blk = (size_t)(in[k]->dims[axis] * inner) * es;
            if (!blk) continue;
            memcpy(dst, (const char *)in[k]->data + (size_t)o * blk, blk);
            dst += blk;
        }
    return 0;
}

int eval_split(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    int axis = axis_of(n, "axis", 0, x->rank);
    size_t es = dtype_size(x->dtype);
    int64_t outer = shape_numel(axis, x->dims);
    int64_t inner = shape_numel(x->rank - axis - 1, x->dims + axis + 1);
    /* output k starts at row `start` of the split axis; absent outputs are skipped */
    int cnt;
    const int64_t *split = ir_attr_ints(n, "split", &cnt);
    int64_t len = x->dims[axis], nout = n->n_out, chunk = (len + nout - 1) / (nout ? nout : 1);
    int64_t start = 0;
    for (int k = 0; k < n->n_out; k++) {
        int64_t rows = split ? split[k] : k == nout - 1 ? len - chunk * (nout - 1) : chunk;
        if (out[k]) {
            size_t blk = (size_t)(rows * inner) * es, stride = (size_t)(len * inner) * es;
            const char *src = (const char *)x->data + (size_t)(start * inner) * es;
            char *dst = out[k]->data;
            for (int64_t o = 0; blk && o < outer; o++)
                memcpy(dst + (size_t)o * blk, src + (size_t)o * stride, blk);
        }
        start += rows;
    }
    return 0;
}

int eval_slice(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (tensor_numel(y) == 0) return 0;
    int r = x->rank, ns, na, nst;
    const int64_t *starts = ir_attr_ints(n, "starts", &ns);
    const int64_t *axes = ir_attr_ints(n, "axes", &na);
    const int64_t *steps = ir_attr_ints(n, "steps", &nst);
    int64_t first[IR_MAX_RANK], step[IR_MAX_RANK], st[IR_MAX_RANK];
    for (int k = 0; k < r; k++) first[k] = 0, step[k] = 1;
    for (int i = 0; i < ns; i++) {
        int a = axes ? (int)(axes[i] < 0 ? axes[i] + r : axes[i]) : i;
        int64_t s = starts[i], dim = x->dims[a];
        step[a] = steps ? steps[i] : 1;
        if (s < 0) s += dim;
        if (step[a] > 0)
            s = s < 0 ? 0 : s > dim ? dim : s;
        else
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
        first[a] = s;
    }
    shape_strides(r, x->dims, st);
    int64_t **m = maps_new(r, y->dims);
    for (int k = 0; k < r; k++)
        for (int64_t o = 0; o < y->dims[k]; o++) m[k][o] = (first[k] + o * step[k]) * st[k];
    map_copy(dtype_size(x->dtype), r, y->dims, m, x->data, y->data, NULL);
    maps_free(m);
    return 0;
}

/* Source index for output position p of a padded axis whose kept input part is [lo, lo + len),
 * p counted from the start of that part (may be negative or >= len). FILL for constant mode. */
static int64_t pad_index(char mode, int64_t p, int64_t lo, int64_t len)
{
    if (p >= 0 && p < len) return lo + p;
    switch (mode) {
    case 'e': return lo + (p < 0 ? 0 : len - 1);
    case 'w': return lo + ((p % len) + len) % len;
    case 'r': {
        if (len == 1) return lo;
        int64_t period = 2 * (len - 1), q = ((p % period) + period) % period;
        return lo + (q < len ? q : period - q);
    }
    default: return FILL;
    }
}

int eval_pad(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (tensor_numel(y) == 0) return 0;
    int r = x->rank;
    const int64_t *pads = ir_attr_ints(n, "pads", NULL);
    const char *mode = ir_attr_str(n, "mode", "constant");
    char mc = !strcmp(mode, "edge")      ? 'e'
              : !strcmp(mode, "wrap")    ? 'w'
              : !strcmp(mode, "reflect") ? 'r'
                                         : 'c';
    size_t es = dtype_size(x->dtype);
    char fill[16] = {0};
    elem_set_f64(x->dtype, fill, 0, ir_attr_float(n, "value", 0.0));
    int64_t st[IR_MAX_RANK];
    shape_strides(r, x->dims, st);
    int64_t **m = maps_new(r, y->dims);
    for (int k = 0; k < r; k++) {
        /* negative pads crop first; the remaining part [lo, lo + len) is then padded */
        int64_t b = pads[k], e = pads[r + k];
        int64_t lo = b < 0 ? -b : 0, len = x->dims[k] - lo - (e < 0 ? -e : 0);
        int64_t before = b > 0 ? b : 0;
        for (int64_t o = 0; o < y->dims[k]; o++) {
            int64_t i = pad_index(mc, o - before, lo, len);
            m[k][o] = i == FILL ? FILL : i * st[k];
        }
    }
    map_copy(es, r, y->dims, m, x->data, y->data, fill);
    maps_free(m);
    return 0;
}

int eval_shape(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    int64_t r = in[0]->rank, start = ir_attr_int(n, "start", 0);
    if (start < 0) start += r;
    start = start < 0 ? 0 : start > r ? r : start;
    int64_t *y = out[0]->data;
    for (int64_t i = 0; i < out[0]->dims[0]; i++) y[i] = in[0]->dims[start + i];
    return 0;
}

int eval_size(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    *(int64_t *)out[0]->data = tensor_numel(in[0]);
    return 0;
}

int eval_constant_of_shape(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *v = ir_attr_tensor(n, "value");
    Tensor *y = out[0];
    size_t es = dtype_size(y->dtype);
    int64_t cnt = tensor_numel(y);
    if (!v) return 0; /* f32 zeros: outputs arrive zero-filled */
    for (int64_t i = 0; i < cnt; i++) memcpy((char *)y->data + (size_t)i * es, v->data, es);
    return 0;
}

int eval_expand(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    if (tensor_numel(y) == 0) return 0;
    int r = y->rank, lead = y->rank - x->rank;
    int64_t st[IR_MAX_RANK];
    shape_strides(x->rank, x->dims, st);
    int64_t **m = maps_new(r, y->dims);
    for (int k = 0; k < r; k++) {
        int ik = k - lead;
        int bcast = ik < 0 || x->dims[ik] == 1;
        for (int64_t o = 0; o < y->dims[k]; o++) m[k][o] = bcast ? 0 : o * st[ik];
    }
    map_copy(dtype_size(x->dtype), r, y->dims, m, x->data, y->data, NULL);
    maps_free(m);
    return 0;
}

int eval_tile(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int r = x->rank;
    if (tensor_numel(y) == 0) return 0;
    int64_t st[IR_MAX_RANK];
    shape_strides(r, x->dims, st);
    int64_t **m = maps_new(r, y->dims);
    for (int k = 0; k < r; k++)
        for (int64_t o = 0; o < y->dims[k]; o++) m[k][o] = (o % x->dims[k]) * st[k];
    map_copy(dtype_size(x->dtype), r, y->dims, m, x->data, y->data, NULL);
    maps_free(m);
    return 0;
}

/* Range follows ONNX's definition: each element is the previous one plus delta, computed in the
 * output dtype (integers exactly, f32 in single precision). */
int eval_range(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    Tensor *y = out[0];
    double start = ir_attr_float(n, "start", 0), delta = ir_attr_float(n, "delta", 1);
    int64_t cnt = y->dims[0];
    if (y->dtype == DT_F32) {
        float v = (float)start, dl = (float)delta, *p = y->data;
        for (int64_t i = 0; i < cnt; i++, v += dl) p[i] = v;
    } else if (y->dtype == DT_F64) {
        double v = start, *p = y->data;
        for (int64_t i = 0; i < cnt; i++, v += delta) p[i] = v;
    } else {
        uint64_t v = (uint64_t)(int64_t)start, dl = (uint64_t)(int64_t)delta;
        for (int64_t i = 0; i < cnt; i++, v += dl) elem_set_i64(y->dtype, y->data, i, (int64_t)v);
    }
    return 0;
}

/* DepthToSpace and SpaceToDepth are transposes of 6-D views of their input. */
int eval_depth_to_space(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    int64_t b = ir_attr_int(n, "blocksize", 1), N = x->dims[0], C = x->dims[1] / (b * b),
            H = x->dims[2], W = x->dims[3];
    int crd = !strcmp(ir_attr_str(n, "mode", "DCR"), "CRD");
    /* DCR: [N, b, b, C, H, W] -> [N, C, H, b, W, b];  CRD: [N, C, b, b, H, W] -> same */
    int64_t dcr_dims[6] = {N, b, b, C, H, W}, dcr_perm[6] = {0, 3, 4, 1, 5, 2};
    int64_t crd_dims[6] = {N, C, b, b, H, W}, crd_perm[6] = {0, 1, 4, 2, 5, 3};
    transpose_bytes(dtype_size(x->dtype), 6, crd ? crd_dims : dcr_dims, crd ? crd_perm : dcr_perm,
                    x->data, out[0]->data);
    return 0;
}

int eval_space_to_depth(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    int64_t b = ir_attr_int(n, "blocksize", 1), N = x->dims[0], C = x->dims[1], H = x->dims[2] / b,
            W = x->dims[3] / b;
    /* [N, C, H, b, W, b] -> [N, b, b, C, H, W] */
    int64_t dims[6] = {N, C, H, b, W, b}, perm[6] = {0, 3, 5, 1, 2, 4};
    transpose_bytes(dtype_size(x->dtype), 6, dims, perm, x->data, out[0]->data);
    return 0;
}
