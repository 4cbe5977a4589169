/* shape_norm.c — shape/type inference for BatchNormalization (inference form), the Reduce*
 * ops and ArgMax/ArgMin. (The other normalisation ops and Softmax keep their input's type and
 * shape and are checked by shape_unary in shape_elementwise.c.)
 *
 * Reduce*: axes (ints; absent or empty = all axes, or identity when noop_with_empty_axes = 1),
 * keepdims (1). ArgMax/ArgMin: axis (0), keepdims (1); output i64. Errors name the node.
 */
#include "ir.h"

#include <string.h>

static const Value *in_val(const Graph *g, const Node *n, int k)
{
    return (k < n->n_in && n->in[k] >= 0) ? &g->values[n->in[k]] : NULL;
}

/* BatchNormalization(X, scale, B, mean, var): float X of rank >= 2, per-channel parameters. */
int shape_batch_norm(Graph *g, Node *n, Diag *d)
{
    static const char *names[5] = {"X", "scale", "B", "mean", "var"};
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input X");
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "input X must be f32 or f64, got %s", dtype_name(x->dtype));
    if (x->rank < 2) return node_error(d, n, "input X must have rank >= 2 (N x C x ...), got %d", x->rank);
    if (ir_attr_int(n, "training_mode", 0)) return node_error(d, n, "training_mode is not supported");
    for (int k = 1; k < 5; k++) {
        const Value *p = in_val(g, n, k);
        if (!p) return node_error(d, n, "missing input %s", names[k]);
        if (!dtype_is_float(p->dtype))
            return node_error(d, n, "input %s must be f32 or f64, got %s", names[k], dtype_name(p->dtype));
        if (p->rank != 1 || p->dims[0] != x->dims[1])
            return node_error(d, n, "input %s must have shape [%lld]", names[k], (long long)x->dims[1]);
    }
    shape_set_out(g, n, 0, x->dtype, x->rank, x->dims);
    return 0;
}

int ir_reduce_axes(const Node *n, int r, unsigned *mask, int *noop, Diag *d)
{
    int cnt = 0;
    const int64_t *axes = ir_attr_ints(n, "axes", &cnt);
    *mask = 0;
    *noop = cnt == 0 && ir_attr_int(n, "noop_with_empty_axes", 0);
    if (cnt == 0) {
        if (!*noop) *mask = (1u << r) - 1;
        return 0;
    }
    for (int i = 0; i < cnt; i++) {
        int64_t a = axes[i];
        if (a < -r || a >= r) return node_error(d, n, "axis %lld out of range for rank %d", (long long)a, r);
        if (a < 0) a += r;
        if (*mask & (1u << a)) return node_error(d, n, "axis %lld repeated", (long long)a);
        *mask |= 1u << a;
    }
    return 0;
}

/* Reduce* output shape from the axes/keepdims/noop_with_empty_axes attributes. */
int shape_reduce(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input 0");
    DType t = x->dtype;
    int minmax = n->op == OP_REDUCE_MAX || n->op == OP_REDUCE_MIN;
    if (!dtype_is_float(t) && !dtype_is_int(t) && !(minmax && t == DT_BOOL))
        return node_error(d, n, "input must be numeric, got %s", dtype_name(t));
    const int r = x->rank, keep = ir_attr_int(n, "keepdims", 1) != 0;
    unsigned mask;
    int noop;
    if (ir_reduce_axes(n, r, &mask, &noop, d)) return -1;
    if (noop) {
        shape_set_out(g, n, 0, t, r, x->dims);
        return 0;
    }
    int64_t dims[IR_MAX_RANK];
    int ro = 0;
    for (int i = 0; i < r; i++) {
        if (!(mask & (1u << i)))
            dims[ro++] = x->dims[i];
        else if (keep)
            dims[ro++] = 1;
    }
    shape_set_out(g, n, 0, t, ro, dims);
    return 0;
}

/* ArgMax/ArgMin: i64 indices along one axis. */
int shape_arg_reduce(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input 0");
    if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
        return node_error(d, n, "input must be numeric, got %s", dtype_name(x->dtype));
    int r = x->rank;
    int64_t a = ir_attr_int(n, "axis", 0);
    if (r < 1) return node_error(d, n, "input must have rank >= 1");
    if (a < -r || a >= r) return node_error(d, n, "axis %lld out of range for rank %d", (long long)a, r);
    if (a < 0) a += r;
    if (x->dims[a] == 0) return node_error(d, n, "cannot reduce over the empty axis %lld", (long long)a);
    int keep = ir_attr_int(n, "keepdims", 1) != 0;
    int64_t dims[IR_MAX_RANK];
    int ro = 0;
    for (int i = 0; i < r; i++) {
        if (i != a)
            dims[ro++] = x->dims[i];
        else if (keep)
            dims[ro++] = 1;
    }
    shape_set_out(g, n, 0, DT_I64, ro, dims);
    return 0;
}
