/* layout.c — the ppcc-internal LayoutTransform op (shape inference and reference kernel) and
 * helpers to move tensors between plain NCHW and channel-blocked NCHW16c (docs/codegen.md).
 *
 * NCHW16c stores a logical [N, C, S...] tensor as [N, ceil(C/16), S..., 16]; channel c of the
 * logical tensor is lane c % 16 of block c / 16; the padded lanes (c >= C) are zero.
 * Attributes: src, dst ("NCHW" | "NCHW16c"); channels (logical C, needed for NCHW16c -> NCHW).
 */
#include <string.h>

#include "ir.h"

#define BLK IR_LAYOUT_BLOCK

static int layout_code(const char *s)
{
    if (!strcmp(s, "NCHW")) return 0;
    if (!strcmp(s, "NCHW16c")) return 1;
    return -1;
}

int ir_layout_blocked_dims(int rank, const int64_t *dims, int *out_rank, int64_t *out)
{
    if (rank < 2 || rank + 1 > IR_MAX_RANK) return -1;
    out[0] = dims[0];
    out[1] = (dims[1] + BLK - 1) / BLK;
    for (int i = 2; i < rank; i++) out[i] = dims[i];
    out[rank] = BLK;
    *out_rank = rank + 1;
    return 0;
}

int shape_layout_transform(Graph *g, Node *n, Diag *d)
{
    const Value *x = &g->values[n->in[0]];
    int src = layout_code(ir_attr_str(n, "src", "")), dst = layout_code(ir_attr_str(n, "dst", ""));
    if (src < 0 || dst < 0) return node_error(d, n, "src/dst must be \"NCHW\" or \"NCHW16c\"");
    int64_t dims[IR_MAX_RANK];
    int rank = x->rank;
    if (src == dst) {
        shape_set_out(g, n, 0, x->dtype, x->rank, x->dims);
        return 0;
    }
    if (src == 0) {
        if (ir_layout_blocked_dims(x->rank, x->dims, &rank, dims))
            return node_error(d, n, "cannot block a rank-%d tensor", x->rank);
    } else {
        int64_t c = ir_attr_int(n, "channels", -1);
        if (x->rank < 3 || x->dims[x->rank - 1] != BLK)
            return node_error(d, n, "input is not NCHW16c (last dim must be %d)", BLK);
        if (c <= (x->dims[1] - 1) * BLK || c > x->dims[1] * BLK)
            return node_error(d, n, "channels=%lld does not fit %lld blocks", (long long)c, (long long)x->dims[1]);
        rank = x->rank - 1;
        dims[0] = x->dims[0];
        dims[1] = c;
        for (int i = 2; i < rank; i++) dims[i] = x->dims[i];
    }
    shape_set_out(g, n, 0, x->dtype, rank, dims);
    return 0;
}

/* Copy between layouts. plain: [N, C, S]; blocked: [N, CB, S, 16] (S = product of spatial). */
void ir_layout_convert(int to_blocked, size_t elsize, int64_t N, int64_t C, int64_t S, const void *src, void *dst)
{
    int64_t CB = (C + BLK - 1) / BLK;
    const char *s = src;
    char *o = dst;
    if (to_blocked) memset(o, 0, (size_t)(N * CB * S * BLK) * elsize);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < S; p++) {
                int64_t pi = (n * C + c) * S + p;
                int64_t bi = ((n * CB + c / BLK) * S + p) * BLK + c % BLK;
                if (to_blocked)
                    memcpy(o + bi * (int64_t)elsize, s + pi * (int64_t)elsize, elsize);
                else
                    memcpy(o + pi * (int64_t)elsize, s + bi * (int64_t)elsize, elsize);
            }
}

int eval_layout_transform(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    size_t es = dtype_size(x->dtype);
    int src = layout_code(ir_attr_str(n, "src", "")), dst = layout_code(ir_attr_str(n, "dst", ""));
    if (src == dst) {
        memcpy(y->data, x->data, tensor_nbytes(x));
        return 0;
    }
    const Tensor *plain = src == 0 ? x : y;
    int64_t S = 1;
    for (int i = 2; i < plain->rank; i++) S *= plain->dims[i];
    ir_layout_convert(dst == 1, es, plain->dims[0], plain->dims[1], S, x->data, y->data);
    return 0;
}
