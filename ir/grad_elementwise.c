/* grad_elementwise.c — backward functions of the elementwise ops (grad.h):
 *   unary activations  Relu LeakyRelu Clip Sigmoid Tanh HardSigmoid HardSwish, and the copies
 *                      Identity and Dropout (output 0; the bool mask carries no gradient):
 *                      gx += gy * f'(x), f' from activation_grad at the forward input x;
 *   binary broadcast   Add Sub Mul Div: the operand gradients are computed per output element
 *                      and summed (in double) into each operand's element, so dims along which
 *                      an operand was broadcast are reduced. Div: d(a/b) = 1/b da - a/b^2 db.
 */
#include "grad.h"

#include <math.h>
#include <stdlib.h>

int grad_unary_activation(const Node *n, Activation *a)
{
    a->alpha = a->beta = 0;
    switch (n->op) {
    case OP_RELU: a->kind = ACT_RELU; return 0;
    case OP_LEAKY_RELU:
        a->kind = ACT_LEAKY_RELU;
        a->alpha = ir_attr_float(n, "alpha", 0.01);
        return 0;
    case OP_CLIP:
        a->kind = ACT_CLIP;
        a->alpha = ir_attr_float(n, "min", -INFINITY);
        a->beta = ir_attr_float(n, "max", INFINITY);
        return 0;
    case OP_SIGMOID: a->kind = ACT_SIGMOID; return 0;
    case OP_TANH: a->kind = ACT_TANH; return 0;
    case OP_HARD_SIGMOID:
        a->kind = ACT_HARD_SIGMOID;
        a->alpha = ir_attr_float(n, "alpha", 0.2);
        a->beta = ir_attr_float(n, "beta", 0.5);
        return 0;
    case OP_HARD_SWISH: a->kind = ACT_HARD_SWISH; return 0;
    case OP_IDENTITY:
    case OP_DROPOUT: a->kind = ACT_NONE; return 0;
    default: return -1;
    }
}

int grad_unary(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    Activation a;
    if (grad_unary_activation(n, &a)) return node_error(d, n, "no gradient for op %s at node '%s'",
                                                        ir_op_name(n->op), n->name);
    const Tensor *x = in[0], *gy = gout[0];
    Tensor *gx = gin[0];
    if (!gx || !gy) return 0;
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "gradient needs a floating-point input");
    int64_t cnt = tensor_numel(x);
    if (tensor_numel(gy) != cnt || tensor_numel(gx) != cnt) return node_error(d, n, "gradient shape mismatch");
    for (int64_t i = 0; i < cnt; i++) {
        double gi = grad_ld(gy, i);
        if (a.kind != ACT_NONE) gi *= activation_grad(&a, grad_ld(x, i));
        grad_acc(gx, i, gi);
    }
    return 0;
}

/* Index of the operand element feeding output element (multi-index idx) under numpy
 * broadcasting: st[] holds the operand's stride per output dim (0 where broadcast). */
static void grad_bcast_strides(const Tensor *t, const Tensor *y, int64_t *st)
{
    int r = y->rank;
    int64_t own[IR_MAX_RANK];
    shape_strides(t->rank, t->dims, own);
    for (int i = 0; i < r; i++) {
        int j = i - (r - t->rank);
        st[i] = j < 0 || t->dims[j] == 1 ? 0 : own[j];
    }
}

int grad_binary(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *A = in[0], *B = in[1], *Y = out[0], *gy = gout[0];
    if (!gy || (!gin[0] && !gin[1])) return 0;
    if (!dtype_is_float(Y->dtype)) return node_error(d, n, "gradient needs floating-point operands");
    int r = Y->rank;
    if (A->rank > r || B->rank > r) return node_error(d, n, "operands do not broadcast to the output");
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    grad_bcast_strides(A, Y, sa);
    grad_bcast_strides(B, Y, sb);
    double *ga = gin[0] ? xcalloc((size_t)tensor_numel(A) + 1, sizeof(double)) : NULL;
    double *gb = gin[1] ? xcalloc((size_t)tensor_numel(B) + 1, sizeof(double)) : NULL;
    int64_t cnt = tensor_numel(Y), ia = 0, ib = 0;
    for (int64_t o = 0; o < cnt; o++) {
        double gi = grad_ld(gy, o);
        switch (n->op) {
        case OP_ADD:
            if (ga) ga[ia] += gi;
            if (gb) gb[ib] += gi;
            break;
        case OP_SUB:
            if (ga) ga[ia] += gi;
            if (gb) gb[ib] -= gi;
            break;
        case OP_MUL:
            if (ga) ga[ia] += gi * grad_ld(B, ib);
            if (gb) gb[ib] += gi * grad_ld(A, ia);
            break;
        default: { /* OP_DIV */
            double b = grad_ld(B, ib);
            if (ga) ga[ia] += gi / b;
            if (gb) gb[ib] -= gi * grad_ld(A, ia) / (b * b);
            break;
        }
        }
        for (int k = r - 1; k >= 0; k--) {
            ia += sa[k], ib += sb[k];
            if (++idx[k] < Y->dims[k]) break;
            ia -= sa[k] * Y->dims[k], ib -= sb[k] * Y->dims[k];
            idx[k] = 0;
        }
    }
    if (ga) grad_acc_buf(gin[0], ga);
    if (gb) grad_acc_buf(gin[1], gb);
    free(ga), free(gb);
    return 0;
}
