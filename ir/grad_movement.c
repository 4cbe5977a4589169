/* grad_movement.c — backward functions of the data-movement ops (grad.h). Each forward op copies
 * input elements to output positions, so its backward adds every output gradient into the input
 * element it was copied from:
 *   Flatten Reshape Squeeze Unsqueeze  same row-major order: gx += gy
 *   Concat      each input takes its slab of gy along the axis
 *   Transpose   gx[i] += gy[o] with o the transposed position of i
 *   Pad         all modes (constant, edge, reflect, wrap; negative pads crop): the source index
 *               of every output element as the interpreter computes it; constant fill gets none
 *   LayoutTransform  NCHW <-> NCHW16c: the other direction of the copy (padded lanes get none)
 */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

int grad_copy(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    int64_t cnt = tensor_numel(gx);
    if (tensor_numel(gy) != cnt) return node_error(d, n, "gradient shape mismatch");
    for (int64_t i = 0; i < cnt; i++) grad_acc(gx, i, grad_ld(gy, i));
    return 0;
}

int grad_concat(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *gy = gout[0], *y = out[0];
    if (!gy) return 0;
    int64_t a = ir_attr_int(n, "axis", 0);
    if (a < 0) a += y->rank;
    if (a < 0 || a >= y->rank) return node_error(d, n, "axis out of range");
    int64_t outer = shape_numel((int)a, y->dims), inner = shape_numel(y->rank - (int)a - 1, y->dims + a + 1);
    int64_t row = y->dims[a] * inner, start = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t blk = in[k]->dims[a] * inner;
        if (gin[k])
            for (int64_t o = 0; o < outer; o++)
                for (int64_t i = 0; i < blk; i++) grad_acc(gin[k], o * blk + i, grad_ld(gy, o * row + start + i));
        start += blk;
    }
    return 0;
}

int grad_transpose(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                   Diag *d)
{
    const Tensor *x = in[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    int r = x->rank, cnt = 0;
    const int64_t *p = ir_attr_ints(n, "perm", &cnt);
    int64_t perm[IR_MAX_RANK], xst[IR_MAX_RANK], ydims[IR_MAX_RANK], st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    for (int k = 0; k < r; k++) perm[k] = p && cnt == r ? p[k] : r - 1 - k;
    shape_strides(r, x->dims, xst);
    /* output dim k is input dim perm[k]: walking the output, the input index moves by xst[perm[k]] */
    for (int k = 0; k < r; k++) ydims[k] = x->dims[perm[k]], st[k] = xst[perm[k]];
    int64_t total = tensor_numel(x), xi = 0;
    for (int64_t o = 0; o < total; o++) {
        grad_acc(gx, xi, grad_ld(gy, o));
        for (int k = r - 1; k >= 0; k--) {
            xi += st[k];
            if (++idx[k] < ydims[k]) break;
            xi -= st[k] * ydims[k];
            idx[k] = 0;
        }
    }
    return 0;
}

/* Source index along a padded axis (as interp_movement.c): output position p counted from the
 * start of the kept input part [lo, lo + len); -1 for constant fill. */
static int64_t grad_pad_index(char mode, int64_t p, int64_t lo, int64_t len)
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
    default: return -1;
    }
}

int grad_pad(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *x = in[0], *y = out[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy || tensor_numel(y) == 0) return 0;
    int r = x->rank, np = 0;
    const int64_t *pads = ir_attr_ints(n, "pads", &np);
    if (!pads || np != 2 * r) return node_error(d, n, "attribute pads must have %d values", 2 * r);
    const char *mode = ir_attr_str(n, "mode", "constant");
    char mc = !strcmp(mode, "edge") ? 'e' : !strcmp(mode, "wrap") ? 'w' : !strcmp(mode, "reflect") ? 'r' : 'c';
    if (mc == 'c' && strcmp(mode, "constant")) return node_error(d, n, "no gradient for Pad mode '%s'", mode);
    int64_t st[IR_MAX_RANK], total = 0;
    shape_strides(r, x->dims, st);
    for (int k = 0; k < r; k++) total += y->dims[k];
    int64_t *maps = xmalloc((size_t)total * sizeof(int64_t) + 1), *m[IR_MAX_RANK];
    for (int k = 0, o0 = 0; k < r; k++) {
        m[k] = maps + o0;
        o0 += (int)y->dims[k];
        int64_t b = pads[k], e = pads[r + k];
        int64_t lo = b < 0 ? -b : 0, len = x->dims[k] - lo - (e < 0 ? -e : 0), before = b > 0 ? b : 0;
        for (int64_t o = 0; o < y->dims[k]; o++) {
            int64_t i = grad_pad_index(mc, o - before, lo, len);
            m[k][o] = i < 0 ? -1 : i * st[k];
        }
    }
    int64_t cnt = tensor_numel(y), idx[IR_MAX_RANK] = {0};
    double *acc = xcalloc((size_t)tensor_numel(x) + 1, sizeof(double));
    for (int64_t o = 0; o < cnt; o++) {
        int64_t src = 0;
        for (int k = 0; k < r && src >= 0; k++) src = m[k][idx[k]] < 0 ? -1 : src + m[k][idx[k]];
        if (src >= 0) acc[src] += grad_ld(gy, o);
        for (int k = r - 1; k >= 0; k--) {
            if (++idx[k] < y->dims[k]) break;
            idx[k] = 0;
        }
    }
    grad_acc_buf(gx, acc);
    free(acc), free(maps);
    return 0;
}

int grad_layout_transform(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                          Diag *d)
{
    const Tensor *x = in[0], *y = out[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    const char *src = ir_attr_str(n, "src", ""), *dst = ir_attr_str(n, "dst", "");
    if (!strcmp(src, dst)) return grad_copy(g, n, in, out, gout, gin, d);
    int to_blocked = !strcmp(dst, "NCHW16c");
    const Tensor *plain = to_blocked ? x : y;
    if (plain->rank < 2) return node_error(d, n, "layout transform of a rank-%d tensor", plain->rank);
    int64_t S = shape_numel(plain->rank - 2, plain->dims + 2);
    /* the adjoint of blocking is unblocking and vice versa */
    Tensor *tmp = tensor_new(gx->dtype, gx->rank, gx->dims);
    ir_layout_convert(!to_blocked, dtype_size(gx->dtype), plain->dims[0], plain->dims[1], S, gy->data, tmp->data);
    int64_t cnt = tensor_numel(tmp);
    for (int64_t i = 0; i < cnt; i++) grad_acc(gx, i, grad_ld(tmp, i));
    tensor_free(tmp);
    return 0;
}
