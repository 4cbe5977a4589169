/* activation.h — the activations that Conv and Gemm may carry fused after their bias (node
 * attributes `activation`, `activation_alpha`, `activation_beta`; docs/ir-ops.md), defined once
 * here so the interpreter, the activation-fusion pass and codegen agree on names, defaults and
 * formulas.
 *
 *   relu          max(0, x)
 *   leaky_relu    x < 0 ? alpha*x : x                       alpha default 0.01
 *   clip          min(max(x, alpha), beta)                  alpha = min (-inf), beta = max (+inf)
 *   sigmoid       1 / (1 + exp(-x))
 *   tanh          tanh(x)
 *   hard_sigmoid  max(0, min(1, alpha*x + beta))            alpha 0.2, beta 0.5
 *   hard_swish    x * max(0, min(1, x/6 + 1/2))
 *   gelu          x/2 * (1 + erf(x / sqrt(2)))   (the exact GELU; fuse-activation finds it as the
 *                 Div, Erf, Add, Mul, Mul that exporters write for it)
 *
 * Kernels apply the activation to the value already rounded to the output dtype, in double, and
 * round again: exactly what the unfused Conv/Gemm followed by the unary op computes.
 */
#ifndef PPCC_ACTIVATION_H
#define PPCC_ACTIVATION_H

#include <math.h>
#include <string.h>

#include "ir.h"

typedef enum ActKind {
    ACT_NONE = 0,
    ACT_RELU,
    ACT_LEAKY_RELU,
    ACT_CLIP,
    ACT_SIGMOID,
    ACT_TANH,
    ACT_HARD_SIGMOID,
    ACT_HARD_SWISH,
    ACT_GELU,
    ACT_COUNT
} ActKind;

typedef struct Activation {
    ActKind kind;
    double alpha, beta; /* resolved parameters (defaults filled in) */
} Activation;

/* Attribute spelling of an activation kind ("" for ACT_NONE). */
static inline const char *activation_name(ActKind k)
{
    switch (k) {
    case ACT_RELU: return "relu";
    case ACT_LEAKY_RELU: return "leaky_relu";
    case ACT_CLIP: return "clip";
    case ACT_SIGMOID: return "sigmoid";
    case ACT_TANH: return "tanh";
    case ACT_HARD_SIGMOID: return "hard_sigmoid";
    case ACT_HARD_SWISH: return "hard_swish";
    case ACT_GELU: return "gelu";
    default: return "";
    }
}

/* Kind from its attribute spelling; ACT_COUNT if unknown. */
static inline ActKind activation_kind_from_name(const char *s)
{
    for (int k = ACT_RELU; k < ACT_COUNT; k++)
        if (!strcmp(s, activation_name((ActKind)k))) return (ActKind)k;
    return ACT_COUNT;
}

/* Read a node's fused activation (ACT_NONE when the attribute is absent). Returns 0, or -1 with
 * d set (naming the node) for an unknown activation name. */
static inline int activation_from_node(const Node *n, Activation *a, Diag *d)
{
    const char *s = ir_attr_str(n, "activation", NULL);
    a->kind = ACT_NONE;
    a->alpha = a->beta = 0;
    if (!s || !*s) return 0;
    ActKind k = activation_kind_from_name(s);
    if (k == ACT_COUNT) return node_error(d, n, "unknown fused activation '%s'", s);
    double da = 0, db = 0;
    if (k == ACT_LEAKY_RELU) da = 0.01;
    if (k == ACT_CLIP) da = -INFINITY, db = INFINITY;
    if (k == ACT_HARD_SIGMOID) da = 0.2, db = 0.5;
    a->kind = k;
    a->alpha = ir_attr_float(n, "activation_alpha", da);
    a->beta = ir_attr_float(n, "activation_beta", db);
    return 0;
}

/* Apply activation a to x. */
static inline double activation_apply(const Activation *a, double x)
{
    switch (a->kind) {
    case ACT_RELU: return x < 0 ? 0 : x;
    case ACT_LEAKY_RELU: return x < 0 ? a->alpha * x : x;
    case ACT_CLIP: return x < a->alpha ? a->alpha : x > a->beta ? a->beta : x;
    case ACT_SIGMOID: {
        /* split by sign so exp never overflows */
        if (x >= 0) return 1.0 / (1.0 + exp(-x));
        double e = exp(x);
        return e / (1.0 + e);
    }
    case ACT_TANH: return tanh(x);
    case ACT_HARD_SIGMOID: {
        double y = a->alpha * x + a->beta;
        return y < 0 ? 0 : y > 1 ? 1 : y;
    }
    case ACT_HARD_SWISH: {
        double y = x / 6.0 + 0.5;
        return x * (y < 0 ? 0 : y > 1 ? 1 : y);
    }
    case ACT_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    default: return x;
    }
}

#endif
