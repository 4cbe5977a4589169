/* lower_ops.c — the per-op conversion table of the ONNX frontend, the generic 1:1 lowering and
 * the handlers of elementwise, normalisation and special ops.
 *
 * Each supported ONNX op_type has one rule: its IR op, the attributes copied unchanged, the
 * attributes its handler reads itself, and the handler (NULL = generic: inputs, outputs and the
 * pass-through attributes map 1:1). Any other attribute on a node is reported as unsupported
 * ("consumed_inputs", a legacy optimisation hint, is ignored everywhere). Handlers convert every
 * opset version into the canonical IR form of docs/ir-ops.md. The data-movement handlers whose
 * ONNX inputs become attributes are in lower_shape.c.
 */
#include "onnx_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- shared helpers */

int onnx_name_in_list(const char *list, const char *name)
{
    if (!list || !*name) return 0;
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && !strncmp(s, name, n)) return 1;
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

const Value *onnx_in_val(OnnxNode *N, int k) { return &N->c->g->values[N->in[k]]; }

static void copy_pass(OnnxNode *N, int node, const OnnxOpRule *r)
{
    for (size_t i = 0; i < N->p->n_attribute; i++) {
        const OnnxAttr *a = N->p->attribute[i];
        if (a->name && onnx_name_in_list(r->pass, a->name)) onnx_copy_attr(N, node, a, NULL);
    }
}

int onnx_emit_main(OnnxNode *N, const OnnxOpRule *r, int n_in, const int *in, int n_out, int keep_all)
{
    int *out = xmalloc(((size_t)n_out + 1) * sizeof(int));
    for (int k = 0; k < n_out; k++) {
        out[k] = onnx_out(N, k);
        if (out[k] < 0 && keep_all) out[k] = onnx_tmp(N, "unused");
    }
    int node = onnx_emit(N, (OpKind)r->op, NULL, n_in, in, n_out, out);
    free(out);
    copy_pass(N, node, r);
    return node;
}

int onnx_in_ints(OnnxNode *N, int k, const char *what, int64_t **v, int *n)
{
    Tensor t;
    *v = NULL;
    *n = 0;
    int rc = onnx_const_input(N, k, what, &t);
    if (rc <= 0) return rc;
    int64_t cnt = tensor_numel(&t);
    *v = xmalloc(((size_t)cnt + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < cnt; i++) {
        if (dtype_is_float(t.dtype)) {
            double x = tensor_get_f64(&t, i);
            (*v)[i] = isfinite(x) && fabs(x) < 9.2e18 ? (int64_t)x : (x < 0 ? INT64_MIN : INT64_MAX);
        } else {
            (*v)[i] = tensor_get_i64(&t, i);
        }
    }
    *n = (int)cnt;
    return 1;
}

int onnx_in_floats(OnnxNode *N, int k, const char *what, double **v, int *n)
{
    Tensor t;
    *v = NULL;
    *n = 0;
    int rc = onnx_const_input(N, k, what, &t);
    if (rc <= 0) return rc;
    int64_t cnt = tensor_numel(&t);
    *v = xmalloc(((size_t)cnt + 1) * sizeof(double));
    for (int64_t i = 0; i < cnt; i++) (*v)[i] = tensor_get_f64(&t, i);
    *n = (int)cnt;
    return 1;
}

int onnx_in_scalar(OnnxNode *N, int k, const char *what, double *x)
{
    Tensor t;
    int rc = onnx_const_input(N, k, what, &t);
    if (rc <= 0) return rc;
    if (tensor_numel(&t) != 1)
        return onnx_node_problem(N, "model", "%s input '%s' must have one element, has %lld", what,
                                 N->p->input[k], (long long)tensor_numel(&t));
    *x = tensor_get_f64(&t, 0);
    return 1;
}

/* ---------------------------------------------------------------- generic and simple handlers */

static int lower_generic(OnnxNode *N, const OnnxOpRule *r)
{
    int node = onnx_emit_main(N, r, N->n_in, N->in, N->n_out, 0);
    return onnx_finish(N, node);
}

/* Identity of a constant: the output names the constant itself (no node, no copy). */
static int lower_identity(OnnxNode *N, const OnnxOpRule *r)
{
    if (onnx_has_input(N, 0) && onnx_in_val(N, 0)->kind == VAL_CONST) {
        onnx_alias(N, 0, N->in[0]);
        return 0;
    }
    return lower_generic(N, r);
}

/* Constant: value (tensor), value_float(s), value_int(s) become a constant value. */
static int lower_constant(OnnxNode *N, const OnnxOpRule *r)
{
    const Onnx__NodeProto *p = N->p;
    if (p->n_attribute != 1)
        return onnx_node_problem(N, "attribute", "needs exactly one value attribute, has %zu", p->n_attribute);
    const OnnxAttr *a = p->attribute[0];
    const char *an = a->name ? a->name : "";
    int vid = onnx_out(N, 0);
    if (vid < 0) return 0;
    Graph *g = N->c->g;
    if (!strcmp(an, "value")) {
        if (!a->t) return onnx_node_problem(N, "attribute", "attribute 'value' has no tensor");
        char what[300];
        snprintf(what, sizeof what, "node '%s' (Constant): value", N->name);
        OnnxTensorData td;
        const char *kind;
        Diag d;
        if (onnx_tensor_decode(a->t, g->arena, N->c->base_dir, what, &td, &kind, &d))
            return onnx_problem(N->c, kind, N->name, N->op, "%s", d.msg);
        Value *v = &g->values[vid];
        v->dtype = td.dtype;
        v->rank = td.rank;
        memcpy(v->dims, td.dims, sizeof v->dims);
        v->kind = VAL_CONST;
        v->data = td.data ? td.data : arena_alloc(g->arena, 1); /* decoded into the arena: adopt */
        v->producer = -1;
        return 0;
    }
    if (!strcmp(an, "value_float")) {
        float f = a->f;
        onnx_out_const(N, 0, DT_F32, 0, NULL, &f);
        return 0;
    }
    if (!strcmp(an, "value_int")) {
        int64_t i = a->i;
        onnx_out_const(N, 0, DT_I64, 0, NULL, &i);
        return 0;
    }
    if (!strcmp(an, "value_floats")) {
        int64_t n = (int64_t)a->n_floats;
        onnx_out_const(N, 0, DT_F32, 1, &n, a->floats);
        return 0;
    }
    if (!strcmp(an, "value_ints")) {
        int64_t n = (int64_t)a->n_ints;
        onnx_out_const(N, 0, DT_I64, 1, &n, a->ints);
        return 0;
    }
    if (!strcmp(an, "value_string") || !strcmp(an, "value_strings"))
        return onnx_node_problem(N, "dtype", "string constants are not supported");
    if (!strcmp(an, "sparse_value"))
        return onnx_node_problem(N, "attribute", "sparse constants are not supported");
    return onnx_node_problem(N, "attribute", "unsupported attribute '%s'", an);
}

/* Cast: `to` is an ONNX dtype code (a string such as "FLOAT" in opset 1). */
static int cast_code(OnnxNode *N, int *code)
{
    const OnnxAttr *a = onnx_attr_find(N->p, "to");
    if (!a) return onnx_node_problem(N, "attribute", "missing attribute 'to'");
    if (onnx_attr_type(a) == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
        char buf[32];
        onnx_attr_str(N->p, "to", "", buf, sizeof buf);
        *code = -1;
        for (int c = 1; c < 32; c++)
            if (!strcasecmp(onnx_dtype_name(c), buf)) *code = c;
        if (*code < 0) return onnx_node_problem(N, "attribute", "unknown dtype '%s' in 'to'", buf);
    } else {
        *code = (int)a->i;
    }
    if (dtype_from_onnx(*code) == DT_UNDEF)
        return onnx_node_problem(N, "dtype", "cast to %s is not supported", onnx_dtype_name(*code));
    return 0;
}

static int lower_cast(OnnxNode *N, const OnnxOpRule *r)
{
    int code = 0;
    if (cast_code(N, &code)) return -1;
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    ir_node_set_int(N->c->g, node, "to", code);
    return onnx_finish(N, node);
}

/* CastLike(x, like) = Cast(x, to = dtype of like). */
static int lower_cast_like(OnnxNode *N, const OnnxOpRule *r)
{
    if (!onnx_has_input(N, 1)) return onnx_node_problem(N, "model", "missing input 'target_type'");
    int code = dtype_to_onnx(onnx_in_val(N, 1)->dtype);
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    ir_node_set_int(N->c->g, node, "to", code);
    return onnx_finish(N, node);
}

/* Clip: bounds are attributes before opset 11, optional scalar inputs from 11 on. */
static int lower_clip(OnnxNode *N, const OnnxOpRule *r)
{
    double lo = 0, hi = 0;
    int has_lo, has_hi;
    if (N->opset < 11) {
        has_lo = onnx_attr_find(N->p, "min") != NULL;
        has_hi = onnx_attr_find(N->p, "max") != NULL;
        lo = onnx_attr_float(N->p, "min", 0);
        hi = onnx_attr_float(N->p, "max", 0);
    } else {
        has_lo = onnx_in_scalar(N, 1, "min", &lo);
        has_hi = onnx_in_scalar(N, 2, "max", &hi);
        if (has_lo < 0 || has_hi < 0) return -1;
    }
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    if (has_lo) ir_node_set_float(N->c->g, node, "min", lo);
    if (has_hi) ir_node_set_float(N->c->g, node, "max", hi);
    return onnx_finish(N, node);
}

/* Dropout (inference): identity plus an optional all-true mask. Opset 12+ training_mode input
 * must be absent or false; before opset 10 the mask has the input's dtype. */
static int lower_dropout(OnnxNode *N, const OnnxOpRule *r)
{
    if (N->opset >= 12 && onnx_has_input(N, 2)) {
        double tm = 0;
        if (onnx_in_scalar(N, 2, "training_mode", &tm) < 0) return -1;
        if (tm != 0) return onnx_node_problem(N, "attribute", "training mode is not supported (training_mode is true)");
    }
    int x = N->in[0], o0 = onnx_out(N, 0);
    if (!onnx_out_used(N, 1)) {
        int node = onnx_emit(N, OP_DROPOUT, NULL, 1, &x, 1, &o0);
        return onnx_finish(N, node);
    }
    if (N->opset >= 10) {
        int outs[2] = {o0, onnx_out(N, 1)};
        int node = onnx_emit(N, OP_DROPOUT, NULL, 1, &x, 2, outs);
        return onnx_finish(N, node);
    }
    int outs[2] = {o0, onnx_tmp(N, "mask")};
    int node = onnx_emit(N, OP_DROPOUT, NULL, 1, &x, 2, outs);
    if (onnx_finish(N, node)) return -1;
    int m = onnx_out(N, 1);
    int cast = onnx_emit(N, OP_CAST, "mask_cast", 1, &outs[1], 1, &m);
    ir_node_set_int(N->c->g, cast, "to", dtype_to_onnx(onnx_in_val(N, 0)->dtype));
    return onnx_finish(N, cast);
}

/* BatchNormalization: inference form only. */
static int lower_batch_norm(OnnxNode *N, const OnnxOpRule *r)
{
    if (onnx_attr_int(N->p, "training_mode", 0))
        return onnx_node_problem(N, "attribute", "training_mode=1 is not supported");
    if (!onnx_attr_int(N->p, "spatial", 1))
        return onnx_node_problem(N, "attribute", "spatial=0 is not supported");
    for (int k = 1; k < N->n_out; k++)
        if (N->p->output[k] && *N->p->output[k])
            return onnx_node_problem(N, "op", "training mode (more than one output) is not supported");
    int node = onnx_emit_main(N, r, N->n_in, N->in, 1, 0);
    return onnx_finish(N, node);
}

/* Emit a one-input, one-output helper node; returns its output value or -1. */
static int emit1(OnnxNode *N, OpKind op, const char *suffix, int a, int b, int out)
{
    int in[2] = {a, b};
    if (out < 0) out = onnx_tmp(N, suffix);
    int node = onnx_emit(N, op, suffix, b >= 0 ? 2 : 1, in, 1, &out);
    if (op == OP_REDUCE_MEAN) {
        const Value *x = onnx_in_val(N, 0);
        int64_t axis = onnx_attr_int(N->p, "axis", -1), axes[IR_MAX_RANK];
        if (axis < 0) axis += x->rank;
        int n = 0;
        for (int64_t i = axis; i < x->rank; i++) axes[n++] = i;
        ir_node_set_ints(N->c->g, node, "axes", axes, n);
        ir_node_set_int(N->c->g, node, "keepdims", 1);
    }
    return onnx_finish(N, node) ? -1 : out;
}

/* LayerNormalization: the IR op computes Y; when the optional Mean / InvStdDev outputs are used
 * they are computed beside it: Mean = ReduceMean(X over axis..), InvStdDev =
 * 1 / sqrt(ReduceMean((X - Mean)^2) + epsilon), both with the reduced dims kept as 1. */
static int lower_layer_norm(OnnxNode *N, const OnnxOpRule *r)
{
    int node = onnx_emit_main(N, r, N->n_in, N->in, 1, 0);
    if (onnx_finish(N, node)) return -1;
    int want_mean = onnx_out_used(N, 1), want_inv = onnx_out_used(N, 2);
    if (!want_mean && !want_inv) return 0;
    const Value *x = onnx_in_val(N, 0);
    int64_t axis = onnx_attr_int(N->p, "axis", -1);
    if (axis < -x->rank || axis >= x->rank)
        return onnx_node_problem(N, "attribute", "axis %lld is out of range", (long long)axis);
    int mean = emit1(N, OP_REDUCE_MEAN, "mean", N->in[0], -1, want_mean ? onnx_out(N, 1) : -1);
    if (mean < 0 || !want_inv) return mean < 0 ? -1 : 0;
    DType t = x->dtype;
    int64_t one = 1;
    double epsd = onnx_attr_float(N->p, "epsilon", 1e-5);
    unsigned char eps[8];
    elem_set_f64(t, eps, 0, epsd);
    int c_eps = onnx_const(N, "epsilon", t, 1, &one, eps);
    int d = emit1(N, OP_SUB, "centered", N->in[0], mean, -1);
    int sq = d < 0 ? -1 : emit1(N, OP_MUL, "squared", d, d, -1);
    int var = sq < 0 ? -1 : emit1(N, OP_REDUCE_MEAN, "variance", sq, -1, -1);
    int ve = var < 0 ? -1 : emit1(N, OP_ADD, "var_eps", var, c_eps, -1);
    int sd = ve < 0 ? -1 : emit1(N, OP_SQRT, "stddev", ve, -1, -1);
    int inv = sd < 0 ? -1 : emit1(N, OP_RECIPROCAL, "inv_stddev", sd, -1, onnx_out(N, 2));
    return inv < 0 ? -1 : 0;
}

/* LpPool / GlobalLpPool: p was a float before opset 2. */
static int lower_lp_pool(OnnxNode *N, const OnnxOpRule *r)
{
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    const OnnxAttr *a = onnx_attr_find(N->p, "p");
    if (a) {
        double p = onnx_attr_float(N->p, "p", 2);
        if (p != floor(p) || p < 1) {
            N->c->g->nodes[node].dead = 1;
            return onnx_node_problem(N, "attribute", "p=%g is not supported (integer p >= 1 only)", p);
        }
        ir_node_set_int(N->c->g, node, "p", (int64_t)p);
    }
    return onnx_finish(N, node);
}

/* Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default
 * 1): Reshape to [prod(d[:axis]), prod(d[axis:])], op on axis 1, Reshape back. */
static int lower_softmax(OnnxNode *N, const OnnxOpRule *r)
{
    const Value *x = onnx_in_val(N, 0);
    int rank = x->rank;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    int64_t axis = onnx_attr_int(N->p, "axis", N->opset < 13 ? 1 : -1);
    int64_t a = axis < 0 ? axis + rank : axis;
    if (rank > 0 && (a < 0 || a >= rank))
        return onnx_node_problem(N, "shape", "axis %lld is out of range for rank %d", (long long)axis, rank);
    Graph *g = N->c->g;
    if (N->opset >= 13 || rank == 0 || a == rank - 1) {
        int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
        ir_node_set_int(g, node, "axis", rank == 0 ? axis : a);
        return onnx_finish(N, node);
    }
    int64_t flat[2] = {shape_numel((int)a, dims), shape_numel(rank - (int)a, dims + a)};
    int t1 = onnx_tmp(N, "coerce2d"), t2 = onnx_tmp(N, "op2d"), y = onnx_out(N, 0);
    int n1 = onnx_emit(N, OP_RESHAPE, "coerce2d", 1, &N->in[0], 1, &t1);
    ir_node_set_ints(g, n1, "shape", flat, 2);
    if (onnx_finish(N, n1)) return -1;
    int n2 = onnx_emit(N, (OpKind)r->op, NULL, 1, &t1, 1, &t2);
    ir_node_set_int(g, n2, "axis", 1);
    if (onnx_finish(N, n2)) return -1;
    int n3 = onnx_emit(N, OP_RESHAPE, "restore", 1, &t2, 1, &y);
    ir_node_set_ints(g, n3, "shape", dims, rank);
    return onnx_finish(N, n3);
}

/* Reduce*: axes is an attribute, or an optional input from opset 13 (ReduceSum) / 18 (others). */
static int lower_reduce(OnnxNode *N, const OnnxOpRule *r)
{
    int from_input = r->op == OP_REDUCE_SUM ? N->opset >= 13 : N->opset >= 18;
    int64_t *axes = NULL;
    int n = 0;
    if (from_input) {
        if (onnx_in_ints(N, 1, "axes", &axes, &n) < 0) return -1;
    } else {
        const int64_t *v;
        n = onnx_attr_ints(N->p, "axes", &v);
        if (n > 0) axes = xmalloc((size_t)n * sizeof(int64_t)), memcpy(axes, v, (size_t)n * sizeof(int64_t));
    }
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    if (n > 0) ir_node_set_ints(N->c->g, node, "axes", axes, n);
    free(axes);
    return onnx_finish(N, node);
}

/* Binary ops before opset 7 broadcast only with broadcast=1; with `axis`, B's dims align with
 * A's starting at axis, which numpy rules express by appending 1s to B's shape. */
static int lower_binary(OnnxNode *N, const OnnxOpRule *r)
{
    int in[2] = {N->in[0], N->n_in > 1 ? N->in[1] : -1};
    if (N->opset < 7 && in[1] >= 0 && onnx_attr_int(N->p, "broadcast", 0) && onnx_attr_find(N->p, "axis")) {
        const Value *a = onnx_in_val(N, 0), *b = onnx_in_val(N, 1);
        int64_t axis = onnx_attr_int(N->p, "axis", 0);
        if (axis < 0) axis += a->rank;
        if (axis < 0 || axis + b->rank > a->rank)
            return onnx_node_problem(N, "shape", "broadcast axis %lld does not fit ranks %d and %d",
                                     (long long)onnx_attr_int(N->p, "axis", 0), a->rank, b->rank);
        int trailing = a->rank - (int)axis - b->rank;
        if (trailing > 0) {
            int64_t dims[IR_MAX_RANK];
            int rb = b->rank;
            for (int i = 0; i < rb; i++) dims[i] = b->dims[i];
            for (int i = 0; i < trailing; i++) dims[rb + i] = 1;
            int t = onnx_tmp(N, "bcast");
            int rn = onnx_emit(N, OP_RESHAPE, "bcast", 1, &in[1], 1, &t);
            ir_node_set_ints(N->c->g, rn, "shape", dims, rb + trailing);
            if (onnx_finish(N, rn)) return -1;
            in[1] = t;
        }
    }
    int node = onnx_emit_main(N, r, N->n_in, in, 1, 0);
    return onnx_finish(N, node);
}

/* PRelu before opset 7: a 1-D slope of size C applies per channel (axis 1), which numpy rules
 * express as slope shape [C, 1, ..., 1]. */
static int lower_prelu(OnnxNode *N, const OnnxOpRule *r)
{
    if (N->n_in < 2 || N->in[1] < 0) return onnx_node_problem(N, "model", "missing input 'slope'");
    int in[2] = {N->in[0], N->in[1]};
    const Value *x = onnx_in_val(N, 0), *s = onnx_in_val(N, 1);
    if (N->opset < 7 && s->rank == 1 && x->rank > 2 && s->dims[0] == x->dims[1] && s->dims[0] != 1) {
        int64_t dims[IR_MAX_RANK];
        int rank = x->rank - 1;
        dims[0] = s->dims[0];
        for (int i = 1; i < rank; i++) dims[i] = 1;
        int t = onnx_tmp(N, "slope");
        int rn = onnx_emit(N, OP_RESHAPE, "slope", 1, &in[1], 1, &t);
        ir_node_set_ints(N->c->g, rn, "shape", dims, rank);
        if (onnx_finish(N, rn)) return -1;
        in[1] = t;
    }
    int node = onnx_emit_main(N, r, 2, in, 1, 0);
    return onnx_finish(N, node);
}

/* ---------------------------------------------------------------- the table */

#define POOL_ATTRS "auto_pad,ceil_mode,dilations,kernel_shape,pads,strides"
#define RESIZE_ATTRS \
    "coordinate_transformation_mode,cubic_coeff_a,exclude_outside,extrapolation_value,mode,nearest_mode"

static const OnnxOpRule rules[] = {
    /* elementwise unary */
    {"Relu", OP_RELU, NULL, NULL, NULL},
    {"LeakyRelu", OP_LEAKY_RELU, "alpha", NULL, NULL},
    {"Sigmoid", OP_SIGMOID, NULL, NULL, NULL},
    {"Tanh", OP_TANH, NULL, NULL, NULL},
    {"HardSigmoid", OP_HARD_SIGMOID, "alpha,beta", NULL, NULL},
    {"HardSwish", OP_HARD_SWISH, NULL, NULL, NULL},
    {"Elu", OP_ELU, "alpha", NULL, NULL},
    {"Selu", OP_SELU, "alpha,gamma", NULL, NULL},
    {"Celu", OP_CELU, "alpha", NULL, NULL},
    {"ThresholdedRelu", OP_THRESHOLDED_RELU, "alpha", NULL, NULL},
    {"Softplus", OP_SOFTPLUS, NULL, NULL, NULL},
    {"Softsign", OP_SOFTSIGN, NULL, NULL, NULL},
    {"Mish", OP_MISH, NULL, NULL, NULL},
    {"Shrink", OP_SHRINK, "bias,lambd", NULL, NULL},
    {"Clip", OP_CLIP, NULL, "min,max", lower_clip},
    {"Erf", OP_ERF, NULL, NULL, NULL},
    {"Exp", OP_EXP, NULL, NULL, NULL},
    {"Log", OP_LOG, NULL, NULL, NULL},
    {"Sqrt", OP_SQRT, NULL, NULL, NULL},
    {"Reciprocal", OP_RECIPROCAL, NULL, NULL, NULL},
    {"Neg", OP_NEG, NULL, NULL, NULL},
    {"Abs", OP_ABS, NULL, NULL, NULL},
    {"Floor", OP_FLOOR, NULL, NULL, NULL},
    {"Ceil", OP_CEIL, NULL, NULL, NULL},
    {"Round", OP_ROUND, NULL, NULL, NULL},
    {"Sign", OP_SIGN, NULL, NULL, NULL},
    {"Sin", OP_SIN, NULL, NULL, NULL},
    {"Cos", OP_COS, NULL, NULL, NULL},
    {"Tan", OP_TAN, NULL, NULL, NULL},
    {"Asin", OP_ASIN, NULL, NULL, NULL},
    {"Acos", OP_ACOS, NULL, NULL, NULL},
    {"Atan", OP_ATAN, NULL, NULL, NULL},
    {"Sinh", OP_SINH, NULL, NULL, NULL},
    {"Cosh", OP_COSH, NULL, NULL, NULL},
    {"Asinh", OP_ASINH, NULL, NULL, NULL},
    {"Acosh", OP_ACOSH, NULL, NULL, NULL},
    {"Atanh", OP_ATANH, NULL, NULL, NULL},
    {"Not", OP_NOT, NULL, NULL, NULL},
    {"Identity", OP_IDENTITY, NULL, NULL, lower_identity},
    {"Dropout", OP_DROPOUT, NULL, "ratio,is_test,seed", lower_dropout},
    {"IsNaN", OP_IS_NAN, NULL, NULL, NULL},
    {"IsInf", OP_IS_INF, "detect_negative,detect_positive", NULL, NULL},
    {"Cast", OP_CAST, NULL, "to,saturate", lower_cast},
    {"CastLike", OP_CAST, NULL, "saturate", lower_cast_like},
    /* broadcasting */
    {"Add", OP_ADD, NULL, "broadcast,axis", lower_binary},
    {"Sub", OP_SUB, NULL, "broadcast,axis", lower_binary},
    {"Mul", OP_MUL, NULL, "broadcast,axis", lower_binary},
    {"Div", OP_DIV, NULL, "broadcast,axis", lower_binary},
    {"Pow", OP_POW, NULL, "broadcast,axis", lower_binary},
    {"Mod", OP_MOD, "fmod", NULL, NULL},
    {"PRelu", OP_PRELU, NULL, NULL, lower_prelu},
    {"And", OP_AND, NULL, "broadcast,axis", lower_binary},
    {"Or", OP_OR, NULL, "broadcast,axis", lower_binary},
    {"Xor", OP_XOR, NULL, "broadcast,axis", lower_binary},
    {"BitShift", OP_BIT_SHIFT, "direction", NULL, NULL},
    {"Max", OP_MAX, NULL, NULL, NULL},
    {"Min", OP_MIN, NULL, NULL, NULL},
    {"Sum", OP_SUM, NULL, NULL, NULL},
    {"Mean", OP_MEAN, NULL, NULL, NULL},
    {"Equal", OP_EQUAL, NULL, "broadcast,axis", lower_binary},
    {"Less", OP_LESS, NULL, "broadcast,axis", lower_binary},
    {"Greater", OP_GREATER, NULL, "broadcast,axis", lower_binary},
    {"LessOrEqual", OP_LESS_OR_EQUAL, NULL, NULL, NULL},
    {"GreaterOrEqual", OP_GREATER_OR_EQUAL, NULL, NULL, NULL},
    {"Where", OP_WHERE, NULL, NULL, NULL},
    /* linear algebra, convolution */
    {"Conv", OP_CONV, "auto_pad,dilations,group,kernel_shape,pads,strides", NULL, NULL},
    {"ConvTranspose", OP_CONV_TRANSPOSE,
     "auto_pad,dilations,group,kernel_shape,output_padding,output_shape,pads,strides", NULL, NULL},
    {"Gemm", OP_GEMM, "alpha,beta,transA,transB", "broadcast", NULL},
    {"MatMul", OP_MATMUL, NULL, NULL, NULL},
    /* pooling */
    {"MaxPool", OP_MAX_POOL, POOL_ATTRS ",storage_order", NULL, NULL},
    {"AveragePool", OP_AVERAGE_POOL, POOL_ATTRS ",count_include_pad", NULL, NULL},
    {"LpPool", OP_LP_POOL, POOL_ATTRS, "p", lower_lp_pool},
    {"GlobalAveragePool", OP_GLOBAL_AVERAGE_POOL, NULL, NULL, NULL},
    {"GlobalMaxPool", OP_GLOBAL_MAX_POOL, NULL, NULL, NULL},
    {"GlobalLpPool", OP_GLOBAL_LP_POOL, NULL, "p", lower_lp_pool},
    /* normalisation, softmax */
    {"BatchNormalization", OP_BATCH_NORM, "epsilon", "momentum,spatial,is_test,training_mode", lower_batch_norm},
    {"InstanceNormalization", OP_INSTANCE_NORM, "epsilon", NULL, NULL},
    {"LayerNormalization", OP_LAYER_NORM, "axis,epsilon", "stash_type", lower_layer_norm},
    {"LRN", OP_LRN, "alpha,beta,bias,size", NULL, NULL},
    {"LpNormalization", OP_LP_NORM, "axis,p", NULL, NULL},
    {"MeanVarianceNormalization", OP_MEAN_VARIANCE_NORM, "axes", NULL, NULL},
    {"Softmax", OP_SOFTMAX, NULL, "axis", lower_softmax},
    {"LogSoftmax", OP_LOG_SOFTMAX, NULL, "axis", lower_softmax},
    {"Hardmax", OP_HARDMAX, NULL, "axis", lower_softmax},
    /* reductions */
    {"ReduceMean", OP_REDUCE_MEAN, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceSum", OP_REDUCE_SUM, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceMax", OP_REDUCE_MAX, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceMin", OP_REDUCE_MIN, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceProd", OP_REDUCE_PROD, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceL1", OP_REDUCE_L1, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceL2", OP_REDUCE_L2, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceLogSum", OP_REDUCE_LOG_SUM, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceLogSumExp", OP_REDUCE_LOG_SUM_EXP, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ReduceSumSquare", OP_REDUCE_SUM_SQUARE, "keepdims,noop_with_empty_axes", "axes", lower_reduce},
    {"ArgMax", OP_ARG_MAX, "axis,keepdims,select_last_index", NULL, NULL},
    {"ArgMin", OP_ARG_MIN, "axis,keepdims,select_last_index", NULL, NULL},
    /* data movement and shape */
    {"Flatten", OP_FLATTEN, "axis", NULL, NULL},
    {"Reshape", OP_RESHAPE, "allowzero", "shape", onnx_lower_reshape},
    {"Squeeze", OP_SQUEEZE, NULL, "axes", onnx_lower_squeeze},
    {"Unsqueeze", OP_UNSQUEEZE, NULL, "axes", onnx_lower_squeeze},
    {"Transpose", OP_TRANSPOSE, "perm", NULL, NULL},
    {"Concat", OP_CONCAT, NULL, "axis", onnx_lower_concat},
    {"Split", OP_SPLIT, "axis", "split,num_outputs", onnx_lower_split},
    {"Slice", OP_SLICE, NULL, "starts,ends,axes", onnx_lower_slice},
    {"Pad", OP_PAD, "mode", "pads,paddings,value", onnx_lower_pad},
    {"Shape", OP_SHAPE, "start,end", NULL, NULL},
    {"Size", OP_SIZE, NULL, NULL, NULL},
    {"Gather", OP_GATHER, "axis", NULL, NULL},
    {"GatherElements", OP_GATHER_ELEMENTS, "axis", NULL, NULL},
    {"ConstantOfShape", OP_CONSTANT_OF_SHAPE, "value", NULL, onnx_lower_constant_of_shape},
    {"Expand", OP_EXPAND, NULL, NULL, onnx_lower_expand},
    {"Tile", OP_TILE, NULL, NULL, onnx_lower_tile},
    {"Range", OP_RANGE, NULL, NULL, onnx_lower_range},
    {"DepthToSpace", OP_DEPTH_TO_SPACE, "blocksize,mode", NULL, NULL},
    {"SpaceToDepth", OP_SPACE_TO_DEPTH, "blocksize", NULL, NULL},
    {"Resize", OP_RESIZE, RESIZE_ATTRS, "antialias,axes,keep_aspect_ratio_policy", onnx_lower_resize},
    {"Upsample", OP_RESIZE, NULL, "mode,scales,height_scale,width_scale", onnx_lower_upsample},
    {"Trilu", OP_TRILU, "upper", NULL, onnx_lower_trilu},
    {"CumSum", OP_CUMSUM, "exclusive,reverse", NULL, onnx_lower_cumsum},
    {"TopK", OP_TOPK, "axis,largest,sorted", "k", onnx_lower_topk},
    {"OneHot", OP_ONE_HOT, "axis", NULL, onnx_lower_one_hot},
    {"EyeLike", OP_EYE_LIKE, "dtype,k", NULL, NULL},
    /* constants */
    {"Constant", -1, NULL, "value,value_float,value_floats,value_int,value_ints,value_string,value_strings,sparse_value",
     lower_constant},
};

const OnnxOpRule *onnx_rule_find(const char *op_type)
{
    if (!op_type) return NULL;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (!strcmp(rules[i].onnx, op_type)) return &rules[i];
    return NULL;
}

int onnx_rule_lower(OnnxNode *N, const OnnxOpRule *r)
{
    const OpInfo *oi = r->op >= 0 ? &ir_ops[r->op] : NULL;
    if (oi && !r->lower) {
        /* generic: the ONNX node must already have the IR op's arity */
        if (N->n_in < oi->min_in || (oi->max_in >= 0 && N->n_in > oi->max_in))
            return onnx_node_problem(N, "model", "has %d inputs, expected %d..%d", N->n_in, oi->min_in,
                                     oi->max_in);
        for (int k = 0; k < oi->min_in; k++)
            if (N->in[k] < 0) return onnx_node_problem(N, "model", "required input %d is missing", k);
        return lower_generic(N, r);
    }
    if (oi && (N->n_in < 1 || N->in[0] < 0)) /* every handled op but Constant reads input 0 */
        return onnx_node_problem(N, "model", "required input 0 is missing");
    return r->lower(N, r);
}
