/* interp_elementwise.c — reference kernels for the elementwise unary ops of ops.def (Relu ...
 * Atanh, Clip, Not, Identity), Dropout (inference), IsNaN/IsInf and Cast.
 *
 * Float math is defined once, in double (unary_f64); f32 tensors are converted to double,
 * computed and rounded back, which makes the interpreter the accurate reference. The cheap ops
 * on f32 (Relu, LeakyRelu, Clip, Neg, Abs, Identity) have their own tight loops because they
 * dominate CNN inference; their results equal the double definition (and the fused activations
 * of activation.h) bit for bit. Integer inputs (Relu, Abs, Neg, Sign, Clip, Shrink) are computed in
 * 64-bit arithmetic with two's-complement wrap-around (no undefined behaviour on INT_MIN).
 * Outputs arrive allocated with the inferred shape and dtype (interp.c).
 */
#include "ir.h"

#include <math.h>
#include <string.h>

typedef struct UnaryParams {
    double alpha, beta, gamma; /* LeakyRelu, HardSigmoid, Elu, Selu, Celu, ThresholdedRelu */
    double lo, hi;             /* Clip bounds (-inf/+inf when absent) */
    double bias, lambd;        /* Shrink */
} UnaryParams;

/* Read the attributes of n with the ONNX defaults (docs/ir-ops.md). */
static void unary_params_read(const Node *n, UnaryParams *p)
{
    double alpha = 1.0;
    switch (n->op) {
    case OP_LEAKY_RELU: alpha = 0.01; break;
    case OP_HARD_SIGMOID: alpha = 0.2; break;
    case OP_SELU: alpha = 1.67326319217681884765625; break;
    default: break;
    }
    p->alpha = ir_attr_float(n, "alpha", alpha);
    p->beta = ir_attr_float(n, "beta", 0.5);
    p->gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875);
    p->lo = ir_attr_float(n, "min", -INFINITY);
    p->hi = ir_attr_float(n, "max", INFINITY);
    p->bias = ir_attr_float(n, "bias", 0.0);
    p->lambd = ir_attr_float(n, "lambd", 0.5);
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static double hard_sigmoid(double x, double alpha, double beta)
{
    double v = alpha * x + beta;
    return v < 0 ? 0 : v > 1 ? 1 : v; /* NaN stays NaN, like numpy.clip */
}

/* The definition of every float unary op (ONNX semantics, evaluated in double). */
static double unary_f64(OpKind op, double x, const UnaryParams *p)
{
    switch (op) {
    case OP_RELU: return x < 0 ? 0 : x;
    case OP_LEAKY_RELU: return x < 0 ? p->alpha * x : x;
    case OP_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    case OP_TANH: return tanh(x);
    case OP_HARD_SIGMOID: return hard_sigmoid(x, p->alpha, p->beta);
    case OP_HARD_SWISH: {
        double v = x / 6.0 + 0.5;
        return x * (v < 0 ? 0 : v > 1 ? 1 : v);
    }
    case OP_ELU: return x < 0 ? p->alpha * expm1(x) : x;
    case OP_SELU: return x > 0 ? p->gamma * x : p->gamma * (p->alpha * exp(x) - p->alpha);
    case OP_CELU: return (x > 0 ? x : 0) + fmin(0, p->alpha * expm1(x / p->alpha));
    case OP_THRESHOLDED_RELU: return x > p->alpha ? x : 0;
    case OP_SOFTPLUS: return softplus(x);
    case OP_SOFTSIGN: return x / (1 + fabs(x));
    case OP_MISH: return x * tanh(softplus(x));
    case OP_SHRINK: return x < -p->lambd ? x + p->bias : x > p->lambd ? x - p->bias : 0;
    case OP_CLIP: {
        double v = x < p->lo ? p->lo : x;
        return v > p->hi ? p->hi : v; /* min > max: everything becomes max (ONNX) */
    }
    case OP_ERF: return erf(x);
    case OP_EXP: return exp(x);
    case OP_LOG: return log(x);
    case OP_SQRT: return sqrt(x);
    case OP_RECIPROCAL: return 1 / x;
    case OP_NEG: return -x;
    case OP_ABS: return fabs(x);
    case OP_FLOOR: return floor(x);
    case OP_CEIL: return ceil(x);
    case OP_ROUND: return nearbyint(x); /* default rounding mode: half to even */
    case OP_SIGN: return x > 0 ? 1 : x < 0 ? -1 : x; /* 0 -> 0, NaN -> NaN */
    case OP_SIN: return sin(x);
    case OP_COS: return cos(x);
    case OP_TAN: return tan(x);
    case OP_ASIN: return asin(x);
    case OP_ACOS: return acos(x);
    case OP_ATAN: return atan(x);
    case OP_SINH: return sinh(x);
    case OP_COSH: return cosh(x);
    case OP_ASINH: return asinh(x);
    case OP_ACOSH: return acosh(x);
    case OP_ATANH: return atanh(x);
    default: return x;
    }
}

/* f32 unary: tight loops for the cheap ops, the double definition for the rest. */
static void unary_run_f32(OpKind op, const float *restrict a, float *restrict o, int64_t cnt,
                          const UnaryParams *p)
{
    switch (op) {
    case OP_RELU:
        for (int64_t i = 0; i < cnt; i++) o[i] = a[i] < 0 ? 0.0f : a[i];
        return;
    case OP_LEAKY_RELU: /* product in double, like the fused activation (activation.h) */
        for (int64_t i = 0; i < cnt; i++) o[i] = a[i] < 0 ? (float)(p->alpha * a[i]) : a[i];
        return;
    case OP_CLIP: {
        float lo = (float)p->lo, hi = (float)p->hi;
        for (int64_t i = 0; i < cnt; i++) {
            float v = a[i] < lo ? lo : a[i];
            o[i] = v > hi ? hi : v;
        }
        return;
    }
    case OP_NEG:
        for (int64_t i = 0; i < cnt; i++) o[i] = -a[i];
        return;
    case OP_ABS:
        for (int64_t i = 0; i < cnt; i++) o[i] = fabsf(a[i]);
        return;
    default:
        for (int64_t i = 0; i < cnt; i++) o[i] = (float)unary_f64(op, a[i], p);
        return;
    }
}

/* Lower and upper Clip bounds for signed integers, saturated to the int64 range. */
static int64_t clip_bound_i64(double v, int upper)
{
    if (v != v) return upper ? INT64_MAX : INT64_MIN; /* NaN: no bound */
    if (v <= -9.2e18) return INT64_MIN;
    if (v >= 9.2e18) return INT64_MAX;
    return (int64_t)(upper ? floor(v) : ceil(v));
}

static uint64_t clip_bound_u64(double v, int upper)
{
    if (v != v) return upper ? UINT64_MAX : 0;
    if (v <= 0) return 0;
    if (v >= 1.8e19) return UINT64_MAX;
    return (uint64_t)(upper ? floor(v) : ceil(v));
}

/* Integer unary ops (Relu, Abs, Neg, Sign, Clip, Shrink) on any integer dtype. */
static void unary_run_int(OpKind op, DType t, const void *a, void *o, int64_t cnt, const UnaryParams *p)
{
    if (op == OP_SHRINK) {
        for (int64_t i = 0; i < cnt; i++) elem_set_f64(t, o, i, unary_f64(op, elem_get_f64(t, a, i), p));
        return;
    }
    if (dtype_is_signed(t)) {
        int64_t lo = clip_bound_i64(p->lo, 0), hi = clip_bound_i64(p->hi, 1);
        for (int64_t i = 0; i < cnt; i++) {
            int64_t x = elem_get_i64(t, a, i), y = x;
            switch (op) {
            case OP_RELU: y = x < 0 ? 0 : x; break;
            case OP_ABS: y = x < 0 ? (int64_t)(0 - (uint64_t)x) : x; break;
            case OP_NEG: y = (int64_t)(0 - (uint64_t)x); break;
            case OP_SIGN: y = (x > 0) - (x < 0); break;
            case OP_CLIP: y = x < lo ? lo : x, y = y > hi ? hi : y; break;
            default: break;
            }
            elem_set_i64(t, o, i, y);
        }
    } else {
        uint64_t lo = clip_bound_u64(p->lo, 0), hi = clip_bound_u64(p->hi, 1);
        for (int64_t i = 0; i < cnt; i++) {
            uint64_t x = (uint64_t)elem_get_i64(t, a, i), y = x;
            switch (op) {
            case OP_NEG: y = 0 - x; break;
            case OP_SIGN: y = x > 0; break;
            case OP_CLIP: y = x < lo ? lo : x, y = y > hi ? hi : y; break;
            default: break; /* Relu, Abs: identity on unsigned values */
            }
            elem_set_i64(t, o, i, (int64_t)y);
        }
    }
}

int eval_unary(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int64_t cnt = tensor_numel(x);
    if (x->dtype != y->dtype || cnt != tensor_numel(y))
        return node_error(d, n, "input and output types differ (%s vs %s)", dtype_name(x->dtype),
                          dtype_name(y->dtype));
    if (n->op == OP_IDENTITY) {
        if (cnt) memcpy(y->data, x->data, tensor_nbytes(x));
        return 0;
    }
    if (n->op == OP_NOT) {
        if (x->dtype != DT_BOOL) return node_error(d, n, "input must be bool");
        const uint8_t *a = x->data;
        uint8_t *o = y->data;
        for (int64_t i = 0; i < cnt; i++) o[i] = !a[i];
        return 0;
    }
    UnaryParams p;
    unary_params_read(n, &p);
    if (x->dtype == DT_F32) {
        unary_run_f32(n->op, x->data, y->data, cnt, &p);
    } else if (x->dtype == DT_F64) {
        const double *a = x->data;
        double *o = y->data;
        for (int64_t i = 0; i < cnt; i++) o[i] = unary_f64(n->op, a[i], &p);
    } else if (dtype_is_int(x->dtype) &&
               (n->op == OP_RELU || n->op == OP_ABS || n->op == OP_NEG || n->op == OP_SIGN ||
                n->op == OP_CLIP || n->op == OP_SHRINK)) {
        unary_run_int(n->op, x->dtype, x->data, y->data, cnt, &p);
    } else {
        return node_error(d, n, "unsupported input dtype %s", dtype_name(x->dtype));
    }
    return 0;
}

/* Dropout in inference mode: Y = X, mask (optional) all true. */
int eval_dropout(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    if (out[0]->dtype != in[0]->dtype || tensor_numel(out[0]) != tensor_numel(in[0]))
        return node_error(d, n, "output type differs from input");
    if (tensor_numel(in[0])) memcpy(out[0]->data, in[0]->data, tensor_nbytes(in[0]));
    if (n->n_out > 1 && out[1]) {
        if (out[1]->dtype != DT_BOOL) return node_error(d, n, "mask output must be bool");
        memset(out[1]->data, 1, tensor_nbytes(out[1]));
    }
    return 0;
}

/* IsNaN, IsInf (detect_negative, detect_positive). */
int eval_unary_bool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    if (!dtype_is_float(x->dtype) || out[0]->dtype != DT_BOOL)
        return node_error(d, n, "expects a float input and a bool output");
    int neg = ir_attr_int(n, "detect_negative", 1) != 0, pos = ir_attr_int(n, "detect_positive", 1) != 0;
    uint8_t *o = out[0]->data;
    int64_t cnt = tensor_numel(x);
    for (int64_t i = 0; i < cnt; i++) {
        double v = elem_get_f64(x->dtype, x->data, i);
        if (n->op == OP_IS_NAN)
            o[i] = isnan(v) != 0;
        else
            o[i] = isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    }
    return 0;
}

/* float -> integer like numpy's astype on x86: truncate toward zero; NaN, infinities and values
 * outside the int64 range become 0 (numpy leaves them undefined; C would be UB). */
static int64_t cast_f2i(double v) { return isfinite(v) && fabs(v) < 9.2e18 ? (int64_t)v : 0; }

/* Cast between any two IR dtypes: common pairs by direct loops, the rest element-wise. */
int eval_cast(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int64_t cnt = tensor_numel(x);
    DType s = x->dtype, t = y->dtype;
    if (cnt != tensor_numel(y)) return node_error(d, n, "output size differs from input");
    if (s == t) {
        if (cnt) memcpy(y->data, x->data, tensor_nbytes(x));
        return 0;
    }
    const void *a = x->data;
    void *o = y->data;
    if (s == DT_F32 && t == DT_F64) {
        for (int64_t i = 0; i < cnt; i++) ((double *)o)[i] = ((const float *)a)[i];
    } else if (s == DT_F64 && t == DT_F32) {
        for (int64_t i = 0; i < cnt; i++) ((float *)o)[i] = (float)((const double *)a)[i];
    } else if (s == DT_I64 && t == DT_F32) {
        for (int64_t i = 0; i < cnt; i++) ((float *)o)[i] = (float)((const int64_t *)a)[i];
    } else if (s == DT_U64 && t == DT_F32) {
        for (int64_t i = 0; i < cnt; i++) ((float *)o)[i] = (float)((const uint64_t *)a)[i];
    } else if (s == DT_F32 && t == DT_I64) {
        for (int64_t i = 0; i < cnt; i++) ((int64_t *)o)[i] = cast_f2i(((const float *)a)[i]);
    } else if (dtype_is_float(s) && t == DT_U64) {
        for (int64_t i = 0; i < cnt; i++) {
            double v = elem_get_f64(s, a, i);
            /* values in [2^63, 2^64) only fit unsigned */
            ((uint64_t *)o)[i] = v >= 9.2e18 && v < 1.8e19 ? (uint64_t)v : (uint64_t)cast_f2i(v);
        }
    } else if (dtype_is_float(s) && t != DT_BOOL && !dtype_is_float(t)) {
        for (int64_t i = 0; i < cnt; i++) elem_set_i64(t, o, i, cast_f2i(elem_get_f64(s, a, i)));
    } else if (dtype_is_float(s) || dtype_is_float(t)) {
        /* float -> float/bool (bool: v != 0, so NaN -> true as in numpy); int/bool -> float */
        for (int64_t i = 0; i < cnt; i++) elem_set_f64(t, o, i, elem_get_f64(s, a, i));
    } else {
        /* integer/bool -> integer/bool: two's-complement truncation; -> bool: nonzero */
        for (int64_t i = 0; i < cnt; i++) elem_set_i64(t, o, i, elem_get_i64(s, a, i));
    }
    return 0;
}
