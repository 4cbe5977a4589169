/* layout.c — the ppcc-internal LayoutTransform op (shape inference and reference kernel),
 * helpers to move tensors between plain NCHW and channel-blocked NCHW16c (docs/codegen.md), and
 * the reference semantics of ops carrying the attribute layout="NCHW16c".
 *
 * NCHW16c stores a logical [N, C, S...] tensor as [N, ceil(C/16), S..., 16]; channel c of the
 * logical tensor is lane c % 16 of block c / 16; the padded lanes (c >= C) are zero.
 * LayoutTransform attributes: src, dst ("NCHW" | "NCHW16c"); channels (logical C, needed for
 * NCHW16c -> NCHW).
 *
 * A blocked op (Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool with
 * layout="NCHW16c") is defined by ir_layout_eval_blocked: unblock the blocked inputs, run the
 * op's plain kernel, block the outputs (which zeroes their padded lanes). Its shape function
 * uses ir_layout_unblocked_dims to see the logical input shape.
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

int ir_node_layout(const Node *n, Diag *d)
{
    const char *s = ir_attr_str(n, "layout", NULL);
    if (!s) return 0;
    int c = layout_code(s);
    if (c < 0) return node_error(d, n, "attribute layout must be \"NCHW\" or \"NCHW16c\", is \"%s\"", s);
    return c;
}

int ir_layout_unblocked_dims(int rank, const int64_t *dims, int64_t channels, int *out_rank, int64_t *out)
{
    if (rank < 3 || dims[rank - 1] != BLK || channels < 1) return -1;
    if (dims[1] != (channels + BLK - 1) / BLK) return -1;
    out[0] = dims[0];
    out[1] = channels;
    for (int i = 2; i < rank - 1; i++) out[i] = dims[i];
    *out_rank = rank - 1;
    return 0;
}

/* A plain tensor for the blocked tensor t holding `channels` logical channels; NULL if t's
 * shape is not a blocking of such a tensor. */
static Tensor *layout_plain_like(const Tensor *t, int64_t channels)
{
    int64_t dims[IR_MAX_RANK];
    int rank;
    if (ir_layout_unblocked_dims(t->rank, t->dims, channels, &rank, dims)) return NULL;
    return tensor_new(t->dtype, rank, dims);
}

/* Spatial size S of a plain [N, C, S...] tensor. */
static int64_t layout_spatial(const Tensor *plain)
{
    int64_t s = 1;
    for (int i = 2; i < plain->rank; i++) s *= plain->dims[i];
    return s;
}

int ir_layout_eval_blocked(const Graph *g, const Node *n, Tensor **in, Tensor **out, const int64_t *in_ch,
                           const int64_t *out_ch, IrEvalFn plain, Diag *d)
{
    Tensor *pin[8] = {0}, *pout[8] = {0}, *ins[8], *outs[8];
    int rc = -1;
    if (n->n_in > 8 || n->n_out > 8) return node_error(d, n, "too many operands for a blocked op");
    for (int k = 0; k < n->n_in; k++) {
        ins[k] = in[k];
        if (!in[k] || in_ch[k] <= 0) continue;
        if (!(pin[k] = layout_plain_like(in[k], in_ch[k]))) {
            node_error(d, n, "input %d is not an NCHW16c tensor of %lld channels", k, (long long)in_ch[k]);
            goto out;
        }
        ir_layout_convert(0, dtype_size(in[k]->dtype), pin[k]->dims[0], in_ch[k], layout_spatial(pin[k]),
                          in[k]->data, pin[k]->data);
        ins[k] = pin[k];
    }
    for (int k = 0; k < n->n_out; k++) {
        outs[k] = out[k];
        if (!out[k] || out_ch[k] <= 0) continue;
        if (!(pout[k] = layout_plain_like(out[k], out_ch[k]))) {
            node_error(d, n, "output %d is not an NCHW16c tensor of %lld channels", k, (long long)out_ch[k]);
            goto out;
        }
        outs[k] = pout[k];
    }
    if (plain(g, n, ins, outs, d)) goto out;
    for (int k = 0; k < n->n_out; k++)
        if (pout[k])
            ir_layout_convert(1, dtype_size(out[k]->dtype), pout[k]->dims[0], out_ch[k], layout_spatial(pout[k]),
                              pout[k]->data, out[k]->data);
    rc = 0;
out:
    for (int k = 0; k < 8; k++) {
        tensor_free(pin[k]);
        tensor_free(pout[k]);
    }
    return rc;
}
