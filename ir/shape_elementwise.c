/* shape_elementwise.c — shape/type inference for the elementwise ops of ops.def: unary ops
 * (and the ops that reuse shape_unary because their output has input 0's type and shape:
 * InstanceNormalization, LayerNormalization, LRN, LpNormalization, MeanVarianceNormalization,
 * Softmax, LogSoftmax, Hardmax, Trilu, CumSum), Dropout, IsNaN/IsInf, Cast, the numpy-
 * broadcasting binary and variadic ops, comparisons and Where.
 *
 * Each function checks input dtypes and the attributes that are cheap to validate, so the
 * interpreter kernels (interp_elementwise.c, interp_binary.c, interp_norm.c, ...) may rely on
 * them. Errors name the node (node_error).
 */
#include "ir.h"

#include <string.h>

static const Value *in_val(const Graph *g, const Node *n, int k)
{
    return (k < n->n_in && n->in[k] >= 0) ? &g->values[n->in[k]] : NULL;
}

static int is_numeric(DType t) { return dtype_is_float(t) || dtype_is_int(t); }

/* Normalise an axis attribute against rank r (ONNX: -r <= axis < r). */
static int axis_check(const Node *n, const char *name, int64_t axis, int r, int64_t *out, Diag *d)
{
    if (axis < -r || axis >= r)
        return node_error(d, n, "attribute %s=%lld out of range for rank %d", name, (long long)axis, r);
    *out = axis < 0 ? axis + r : axis;
    return 0;
}

/* True if shape (rs, s) broadcasts unidirectionally to (rt, t) (numpy rules, right-aligned). */
static int broadcasts_to(int rs, const int64_t *s, int rt, const int64_t *t)
{
    if (rs > rt) return 0;
    for (int i = 0; i < rs; i++) {
        int64_t a = s[rs - 1 - i], b = t[rt - 1 - i];
        if (a != b && a != 1) return 0;
    }
    return 1;
}

/* A per-channel parameter of a normalisation op: float, rank 1, length c. */
static int check_channel_param(const Graph *g, const Node *n, int k, const char *what, int64_t c,
                               Diag *d)
{
    const Value *v = in_val(g, n, k);
    if (!v) return node_error(d, n, "missing input %s", what);
    if (!dtype_is_float(v->dtype))
        return node_error(d, n, "input %s must be f32 or f64, got %s", what, dtype_name(v->dtype));
    if (v->rank != 1 || v->dims[0] != c)
        return node_error(d, n, "input %s must have shape [%lld]", what, (long long)c);
    return 0;
}

/* Checks of the non-elementwise ops that share shape_unary. */
static int check_norm_like(Graph *g, Node *n, const Value *x, Diag *d)
{
    int r = x->rank;
    int64_t ax = 0;
    char buf[128];
    switch (n->op) {
    case OP_INSTANCE_NORM:
        if (r < 2) return node_error(d, n, "input must have rank >= 2 (N x C x ...), got %d", r);
        if (check_channel_param(g, n, 1, "scale", x->dims[1], d)) return -1;
        return check_channel_param(g, n, 2, "B", x->dims[1], d);
    case OP_LAYER_NORM: {
        if (r < 1) return node_error(d, n, "input must have rank >= 1");
        if (axis_check(n, "axis", ir_attr_int(n, "axis", -1), r, &ax, d)) return -1;
        for (int k = 1; k < 3; k++) {
            const Value *p = in_val(g, n, k);
            if (!p) {
                if (k == 1) return node_error(d, n, "missing input scale");
                continue;
            }
            if (!dtype_is_float(p->dtype))
                return node_error(d, n, "input %d must be f32 or f64, got %s", k, dtype_name(p->dtype));
            if (!broadcasts_to(p->rank, p->dims, r - (int)ax, x->dims + ax))
                return node_error(d, n, "input %d of shape %s does not broadcast to the normalised shape", k,
                                  shape_str(p->rank, p->dims, buf, sizeof buf));
        }
        return 0;
    }
    case OP_LRN: {
        if (r < 2) return node_error(d, n, "input must have rank >= 2 (N x C x ...), got %d", r);
        const Attr *a = ir_attr_find(n, "size");
        if (!a) return node_error(d, n, "missing attribute size");
        if (ir_attr_int(n, "size", 0) < 1) return node_error(d, n, "attribute size must be >= 1");
        return 0;
    }
    case OP_LP_NORM: {
        if (r < 1) return node_error(d, n, "input must have rank >= 1");
        if (axis_check(n, "axis", ir_attr_int(n, "axis", -1), r, &ax, d)) return -1;
        int64_t p = ir_attr_int(n, "p", 2);
        if (p != 1 && p != 2) return node_error(d, n, "attribute p must be 1 or 2, got %lld", (long long)p);
        return 0;
    }
    case OP_MEAN_VARIANCE_NORM: {
        int cnt = 0;
        const int64_t *axes = ir_attr_ints(n, "axes", &cnt);
        static const int64_t dflt[3] = {0, 2, 3};
        if (!axes) axes = dflt, cnt = 3;
        unsigned seen = 0;
        for (int i = 0; i < cnt; i++) {
            if (axis_check(n, "axes", axes[i], r, &ax, d)) return -1;
            if (seen & (1u << ax)) return node_error(d, n, "attribute axes repeats axis %lld", (long long)ax);
            seen |= 1u << ax;
        }
        return 0;
    }
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX:
    case OP_HARDMAX:
        if (r < 1) return node_error(d, n, "input must have rank >= 1");
        return axis_check(n, "axis", ir_attr_int(n, "axis", -1), r, &ax, d);
    case OP_TRILU:
        if (r < 2) return node_error(d, n, "input must have rank >= 2, got %d", r);
        return 0;
    case OP_CUMSUM:
        if (r < 1) return node_error(d, n, "input must have rank >= 1");
        if (!ir_attr_find(n, "axis")) return node_error(d, n, "missing attribute axis");
        return axis_check(n, "axis", ir_attr_int(n, "axis", 0), r, &ax, d);
    default: return 0;
    }
}

/* Output 0 = input 0's dtype and shape, after per-op dtype and attribute checks. */
int shape_unary(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input 0");
    DType t = x->dtype;
    switch (n->op) {
    case OP_IDENTITY:
    case OP_TRILU: break;
    case OP_NOT:
        if (t != DT_BOOL) return node_error(d, n, "input must be bool, got %s", dtype_name(t));
        break;
    case OP_RELU:
    case OP_ABS:
    case OP_NEG:
    case OP_SIGN:
    case OP_CLIP:
    case OP_SHRINK:
    case OP_CUMSUM:
        if (!is_numeric(t)) return node_error(d, n, "input must be numeric, got %s", dtype_name(t));
        break;
    default:
        if (!dtype_is_float(t)) return node_error(d, n, "input must be f32 or f64, got %s", dtype_name(t));
        break;
    }
    if (n->op == OP_CLIP) {
        const Attr *lo = ir_attr_find(n, "min"), *hi = ir_attr_find(n, "max");
        if ((lo && lo->kind != ATTR_FLOAT && lo->kind != ATTR_INT) ||
            (hi && hi->kind != ATTR_FLOAT && hi->kind != ATTR_INT))
            return node_error(d, n, "attributes min/max must be numbers");
    }
    if (check_norm_like(g, n, x, d)) return -1;
    shape_set_out(g, n, 0, t, x->rank, x->dims);
    if (n->op == OP_LAYER_NORM && n->n_out > 1) {
        /* optional Mean, InvStdDev (if the op table allows them): X's dims before axis, 1 after */
        DType st = dtype_from_onnx((int)ir_attr_int(n, "stash_type", 1));
        if (!dtype_is_float(st)) return node_error(d, n, "stash_type must name f32 or f64");
        int64_t ax = ir_attr_int(n, "axis", -1), dims[IR_MAX_RANK];
        if (ax < 0) ax += x->rank;
        for (int i = 0; i < x->rank; i++) dims[i] = i < ax ? x->dims[i] : 1;
        shape_set_out(g, n, 1, st, x->rank, dims);
        shape_set_out(g, n, 2, st, x->rank, dims);
    }
    return 0;
}

/* Dropout (inference): Y = X; optional mask output is bool of X's shape. */
int shape_dropout(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input 0");
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "input must be f32 or f64, got %s", dtype_name(x->dtype));
    shape_set_out(g, n, 0, x->dtype, x->rank, x->dims);
    shape_set_out(g, n, 1, DT_BOOL, x->rank, x->dims);
    return 0;
}

/* IsNaN / IsInf: float input, bool output of the same shape. */
int shape_unary_bool(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input 0");
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "input must be f32 or f64, got %s", dtype_name(x->dtype));
    shape_set_out(g, n, 0, DT_BOOL, x->rank, x->dims);
    return 0;
}

/* Cast: any IR dtype to the dtype named by `to` (ONNX code). */
int shape_cast(Graph *g, Node *n, Diag *d)
{
    const Value *x = in_val(g, n, 0);
    if (!x) return node_error(d, n, "missing input 0");
    const Attr *a = ir_attr_find(n, "to");
    if (!a || a->kind != ATTR_INT) return node_error(d, n, "missing int attribute to");
    DType t = dtype_from_onnx((int)a->i);
    if (t == DT_UNDEF) return node_error(d, n, "unsupported target data type %lld", (long long)a->i);
    shape_set_out(g, n, 0, t, x->rank, x->dims);
    return 0;
}

/* Broadcast all present inputs of n together into (rank, dims); errors name the node. */
static int broadcast_inputs(const Graph *g, const Node *n, int *rank, int64_t *dims, Diag *d)
{
    int r = 0;
    for (int k = 0; k < n->n_in; k++) {
        const Value *v = in_val(g, n, k);
        if (!v) return node_error(d, n, "missing input %d", k);
        if (k == 0) {
            r = v->rank;
            memcpy(dims, v->dims, sizeof(int64_t) * (size_t)r);
            continue;
        }
        int64_t tmp[IR_MAX_RANK];
        int rt;
        if (v->rank > IR_MAX_RANK || shape_broadcast2(r, dims, v->rank, v->dims, &rt, tmp)) {
            char a[128], b[128];
            return node_error(d, n, "cannot broadcast shapes %s and %s", shape_str(r, dims, a, sizeof a),
                              shape_str(v->rank, v->dims, b, sizeof b));
        }
        r = rt;
        memcpy(dims, tmp, sizeof(int64_t) * (size_t)r);
    }
    *rank = r;
    return 0;
}

/* Inputs first.. must all have input first's dtype. */
static int same_dtypes(const Graph *g, const Node *n, int first, Diag *d)
{
    DType t = in_val(g, n, first)->dtype;
    for (int k = first + 1; k < n->n_in; k++) {
        DType u = in_val(g, n, k)->dtype;
        if (u != t)
            return node_error(d, n, "input %d has dtype %s, input %d has %s (must match)", k, dtype_name(u),
                              first, dtype_name(t));
    }
    return 0;
}

/* Add Sub Mul Div Pow Mod PRelu And Or Xor BitShift Max Min Sum Mean. */
int shape_broadcast(Graph *g, Node *n, Diag *d)
{
    int r;
    int64_t dims[IR_MAX_RANK];
    if (broadcast_inputs(g, n, &r, dims, d)) return -1;
    const Value *a = in_val(g, n, 0);
    DType t = a->dtype;
    if (n->op == OP_POW) {
        DType e = in_val(g, n, 1)->dtype;
        if (!is_numeric(t) || !is_numeric(e))
            return node_error(d, n, "inputs must be numeric, got %s and %s", dtype_name(t), dtype_name(e));
    } else if (same_dtypes(g, n, 0, d)) {
        return -1;
    }
    switch (n->op) {
    case OP_AND:
    case OP_OR:
    case OP_XOR:
        if (t != DT_BOOL) return node_error(d, n, "inputs must be bool, got %s", dtype_name(t));
        break;
    case OP_BIT_SHIFT: {
        if (!dtype_is_int(t) || dtype_is_signed(t))
            return node_error(d, n, "inputs must be unsigned integers, got %s", dtype_name(t));
        const char *dir = ir_attr_str(n, "direction", NULL);
        if (!dir || (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT")))
            return node_error(d, n, "attribute direction must be \"LEFT\" or \"RIGHT\"");
        break;
    }
    case OP_MEAN:
        if (!dtype_is_float(t)) return node_error(d, n, "inputs must be f32 or f64, got %s", dtype_name(t));
        break;
    case OP_MOD: {
        int64_t fm = ir_attr_int(n, "fmod", 0);
        if (fm != 0 && fm != 1) return node_error(d, n, "attribute fmod must be 0 or 1");
    }
    /* fallthrough */
    default:
        if (!is_numeric(t)) return node_error(d, n, "inputs must be numeric, got %s", dtype_name(t));
        break;
    }
    if (n->op == OP_PRELU && (r != a->rank || memcmp(dims, a->dims, sizeof(int64_t) * (size_t)r))) {
        char s[128];
        return node_error(d, n, "slope of shape %s does not broadcast to X",
                          shape_str(in_val(g, n, 1)->rank, in_val(g, n, 1)->dims, s, sizeof s));
    }
    shape_set_out(g, n, 0, t, r, dims);
    return 0;
}

/* Equal Less Greater LessOrEqual GreaterOrEqual: same-dtype inputs, bool output. */
int shape_compare(Graph *g, Node *n, Diag *d)
{
    int r;
    int64_t dims[IR_MAX_RANK];
    if (broadcast_inputs(g, n, &r, dims, d) || same_dtypes(g, n, 0, d)) return -1;
    DType t = in_val(g, n, 0)->dtype;
    if (!is_numeric(t) && !(n->op == OP_EQUAL && t == DT_BOOL))
        return node_error(d, n, "inputs must be numeric, got %s", dtype_name(t));
    shape_set_out(g, n, 0, DT_BOOL, r, dims);
    return 0;
}

/* Where(cond, X, Y): bool condition, X and Y of one dtype; three-way broadcast. */
int shape_where(Graph *g, Node *n, Diag *d)
{
    int r;
    int64_t dims[IR_MAX_RANK];
    if (broadcast_inputs(g, n, &r, dims, d)) return -1;
    if (in_val(g, n, 0)->dtype != DT_BOOL)
        return node_error(d, n, "condition must be bool, got %s", dtype_name(in_val(g, n, 0)->dtype));
    if (same_dtypes(g, n, 1, d)) return -1;
    shape_set_out(g, n, 0, in_val(g, n, 1)->dtype, r, dims);
    return 0;
}
