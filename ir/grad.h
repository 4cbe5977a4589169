/* grad.h — reverse-mode gradients over ppcc's tensor IR: dL/d(graph input) for the ops CNN
 * classifiers use, and a batched f32 engine for running many samples forward and backward fast
 * (model inversion, passes/invert.c).
 *
 * Sections:
 *   whole-graph gradient (grad.c)        grad_input: run the graph with the reference
 *                                        interpreter keeping every value, call the loss on one
 *                                        output, walk the nodes backwards accumulating dL/dvalue.
 *   per-op backward functions            grad_node dispatches to grad_<family> (grad_elementwise.c,
 *     (grad_*.c)                         grad_conv.c, grad_linalg.c, grad_pool.c, grad_norm.c,
 *                                        grad_movement.c). They are the executable definition of
 *                                        each op's derivative: any dtype the interpreter supports
 *                                        for the op (f32, f64), arithmetic in double.
 *   batched engine (grad_plan.c,         GradPlan: forward/backward of S independent samples of a
 *     grad_plan_conv.c)                  graph input in f32, preallocated, with fast kernels for
 *                                        Conv (SIMD, stride-1 correlation on padded planes),
 *                                        pools, activations, BatchNorm, broadcasting binaries and
 *                                        copies; every other op runs the reference kernel and the
 *                                        reference backward on the sample's slice.
 *
 * Rules shared by everything here:
 *   - Gradients flow only through floating-point values that depend on the chosen graph input
 *     (constants and values computed from constants or other inputs get none; integer and bool
 *     values, e.g. MaxPool's Indices, carry none).
 *   - A node on the path from the input to the loss whose op has no backward function is an
 *     error naming the node and op: "no gradient for op X at node 'n'".
 *   - Backward functions ADD into the gradient tensors they are given (a value used twice, as
 *     in Add(x, x), receives both contributions).
 *   - Non-differentiable points take one side: Relu'(0) = 0; Clip and HardSigmoid pass the
 *     gradient only strictly inside their linear range, HardSwish uses its middle branch on
 *     [-3, 3] (activation_grad below); MaxPool and GlobalMaxPool route the
 *     gradient to the first maximum in row-major window order (the interpreter's tie rule).
 *
 * Usage (whole graph, reference precision):
 *     static int ce_loss(void *ctx, const Tensor *y, Tensor *dy, double *loss, Diag *d) { ... }
 *     Tensor *gx = NULL; double L;
 *     if (grad_input(g, inputs, 0, 0, ce_loss, &target, &L, &gx, &diag)) ...error...
 *     ... tensor_free(gx);
 * Usage (batched engine):
 *     GradPlan *p = grad_plan_new(g, inputs, 0, &logits_vid, 1, slots, &diag);
 *     grad_plan_forward(p, s, x_s, &diag);             // per sample slot s
 *     const float *z = grad_plan_value(p, s, logits_vid);
 *     grad_plan_zero(p); float *gz = grad_plan_seed(p, logits_vid); ...write dL/dz...
 *     grad_plan_backward(p, s, gx_s, &diag);            // gx_s = dL/dx_s
 *     grad_plan_free(p);
 */
#ifndef PPCC_GRAD_H
#define PPCC_GRAD_H

#include <string.h>

#include "ir.h"
#include "activation.h"

/* ---------------------------------------------------------------- whole-graph gradient (grad.c) */

/* Loss callback: y is the forward value of the chosen output (f32 or f64); write dL/dy into dy
 * (same dtype and shape, zero-filled on entry) and the loss into *loss. Returns 0, or -1 with d
 * set. */
typedef int (*GradLossFn)(void *ctx, const Tensor *y, Tensor *dy, double *loss, Diag *d);

/* Gradient of loss(output output_index) with respect to graph input input_index. inputs[k]
 * binds g->inputs[k] as for interp_run. On success *grad_out is a new tensor with the input's
 * dtype and shape (caller frees) and *loss_out (if not NULL) the loss. Returns -1 with d set on
 * errors: bad indices, a non-float input or output, interpreter errors, a node on the path
 * without a backward function. A loss that does not depend on the input gives zeros. */
int grad_input(const Graph *g, Tensor *const *inputs, int input_index, int output_index, GradLossFn loss,
               void *ctx, double *loss_out, Tensor **grad_out, Diag *d);

/* 1 if op has a backward function (for some attribute values; grad_node may still refuse a
 * particular node, e.g. Pad in an unknown mode). */
int grad_op_supported(OpKind op);

/* Mark the values whose gradient can be non-zero: floating-point values computed (transitively)
 * from value `from`. flags[v] (n_values bytes) is set to 1 for them, 0 otherwise. */
void grad_active_values(const Graph *g, int from, char *flags);

/* ---------------------------------------------------------------- per-op backward (grad_*.c) */

/* Backward of node n. in/out: the node's forward input and output tensors (in[k] NULL for an
 * absent optional input; out[k] NULL for an absent output). gout[k]: dL/dout[k], or NULL when
 * no gradient reaches that output. gin[k]: tensor shaped like in[k] to ADD dL/din[k] into, or
 * NULL when input k needs no gradient. Returns 0 or -1 with d set (naming the node). grad_node
 * handles layout="NCHW16c" nodes (unblock, plain backward, block) and dispatches by op. */
int grad_node(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);

typedef int (*GradFn)(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                      Diag *d);
/* grad_elementwise.c: Relu LeakyRelu Clip Sigmoid Tanh HardSigmoid HardSwish Identity Dropout
 * (grad_unary); Add Sub Mul Div with numpy broadcasting, the gradient reduced over broadcast
 * dims (grad_binary). */
int grad_unary(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
int grad_binary(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
/* grad_conv.c: Conv (N-D, groups, strides, dilations, pads/auto_pad, bias, residual, fused
 * activation); gradients for X, W, B and the residual. */
int grad_conv(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
/* grad_linalg.c: Gemm (transA/transB, alpha/beta, C broadcast, fused activation) and MatMul
 * (batch broadcasting, 1-D promotion). */
int grad_gemm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
int grad_matmul(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
/* grad_pool.c: MaxPool (to the first argmax), AveragePool (count_include_pad both ways),
 * GlobalAveragePool, GlobalMaxPool; N-D with the geometry of ir_conv_geometry (ceil_mode). */
int grad_pool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
int grad_global_pool(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                     Diag *d);
/* grad_norm.c: BatchNormalization (inference form; X, scale, B, mean, var), Softmax,
 * LogSoftmax. */
int grad_batch_norm(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                    Diag *d);
int grad_softmax(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
/* grad_movement.c: Flatten Reshape Squeeze Unsqueeze (grad_copy), Concat, Transpose, Pad (all
 * modes: the gradient of a padded element goes to the input element it copies), and
 * LayoutTransform. */
int grad_copy(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
int grad_concat(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
int grad_transpose(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                   Diag *d);
int grad_pad(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d);
int grad_layout_transform(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin,
                          Diag *d);

/* Element load/accumulate for the backward functions (f32/f64 fast, other dtypes through
 * elem_get/set). */
static inline double grad_ld(const Tensor *t, int64_t i)
{
    if (t->dtype == DT_F32) return ((const float *)t->data)[i];
    if (t->dtype == DT_F64) return ((const double *)t->data)[i];
    return elem_get_f64(t->dtype, t->data, i);
}
static inline void grad_acc(Tensor *t, int64_t i, double v)
{
    if (t->dtype == DT_F32)
        ((float *)t->data)[i] += (float)v;
    else if (t->dtype == DT_F64)
        ((double *)t->data)[i] += v;
    else
        elem_set_f64(t->dtype, t->data, i, elem_get_f64(t->dtype, t->data, i) + v);
}
/* Add a double buffer (numel of t) into t. */
void grad_acc_buf(Tensor *t, const double *buf);

/* Derivative of activation a at pre-activation z (activation.h's formulas; see the tie rules
 * above: clip and hard_sigmoid pass the gradient only strictly inside their range, hard_swish
 * uses x/3 + 1/2 on [-3, 3]). */
static inline double activation_grad(const Activation *a, double z)
{
    switch (a->kind) {
    case ACT_RELU: return z > 0 ? 1 : 0;
    case ACT_LEAKY_RELU: return z < 0 ? a->alpha : 1;
    case ACT_CLIP: return z > a->alpha && z < a->beta ? 1 : 0;
    case ACT_SIGMOID: {
        double s = activation_apply(a, z);
        return s * (1 - s);
    }
    case ACT_TANH: {
        double t = tanh(z);
        return 1 - t * t;
    }
    case ACT_HARD_SIGMOID: {
        double y = a->alpha * z + a->beta;
        return y > 0 && y < 1 ? a->alpha : 0;
    }
    case ACT_HARD_SWISH: return z < -3 ? 0 : z > 3 ? 1 : z / 3 + 0.5;
    case ACT_GELU: /* Phi(z) + z phi(z) */
        return 0.5 * (1.0 + erf(z * 0.70710678118654752440)) + z * exp(-0.5 * z * z) * 0.39894228040143267794;
    default: return 1;
    }
}

/* The activation computed by a unary node (Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid,
 * HardSwish; Identity and Dropout give ACT_NONE). Returns 0, or -1 for other ops. */
int grad_unary_activation(const Node *n, Activation *a);

/* ---------------------------------------------------------------- internal: f32 loops (grad_plan*.c) */
/* Branch-free 4-lane loops for the batched engine (GCC vector extensions: SSE on x86-64, NEON
 * on AArch64). The engine's hot elementwise work goes through these:
 * -O2 does not vectorise plain loops of unknown length, and data-dependent branches (Relu on
 * random inputs) mispredict. */
typedef float GradV4f __attribute__((vector_size(16)));
typedef int32_t GradV4i __attribute__((vector_size(16)));
static inline GradV4f grad_v4_load(const float *p)
{
    GradV4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void grad_v4_store(float *p, GradV4f v) { memcpy(p, &v, sizeof v); }
/* dst[i] += src[i] */
static inline void grad_vec_add(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) grad_v4_store(dst + i, grad_v4_load(dst + i) + grad_v4_load(src + i));
    for (; i < n; i++) dst[i] += src[i];
}
/* y[i] = x[i] + b */
static inline void grad_vec_add_scalar(float *y, const float *x, float b, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) grad_v4_store(y + i, grad_v4_load(x + i) + b);
    for (; i < n; i++) y[i] = x[i] + b;
}
/* y[i] = x[i] < 0 ? 0 : x[i] (Relu as the interpreter: NaN stays NaN) */
static inline void grad_vec_relu(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    const GradV4f zero = {0};
    for (; i + 4 <= n; i += 4) {
        GradV4f v = grad_v4_load(x + i);
        GradV4i neg = v < zero;
        grad_v4_store(y + i, (GradV4f)((GradV4i)v & ~neg));
    }
    for (; i < n; i++) y[i] = x[i] < 0 ? 0 : x[i];
}
/* g[i] (+)= pre[i] > 0 ? gy[i] : 0 (Relu's backward); add != 0 accumulates, else overwrites */
static inline void grad_vec_relu_back(float *g, const float *gy, const float *pre, int64_t n, int add)
{
    int64_t i = 0;
    const GradV4f zero = {0};
    for (; i + 4 <= n; i += 4) {
        GradV4i pos = grad_v4_load(pre + i) > zero;
        GradV4f v = (GradV4f)((GradV4i)grad_v4_load(gy + i) & pos);
        grad_v4_store(g + i, add ? grad_v4_load(g + i) + v : v);
    }
    for (; i < n; i++) {
        float v = pre[i] > 0 ? gy[i] : 0;
        g[i] = add ? g[i] + v : v;
    }
}

/* ---------------------------------------------------------------- batched engine (grad_plan*.c) */

typedef struct GradPlan GradPlan;

typedef struct GradPlanInfo {
    int n_nodes;    /* nodes run per sample (between the input and the targets) */
    int n_fast;     /* of those, with a dedicated f32 kernel (forward and backward) */
    int n_generic;  /* reference kernel + reference backward on the sample's slice */
    int64_t bytes;  /* memory held by the plan (activations of all slots, scratch) */
} GradPlanInfo;

/* Plan runs of g in which graph input input_index (f32) varies per sample and the other graph
 * inputs are fixed to inputs[k] (inputs[input_index] is ignored and may be NULL; the whole array
 * may be NULL when the graph has one input). targets[0..n_targets-1]: value ids whose gradient
 * the caller will seed (e.g. logits, BatchNorm inputs); they must depend on the input. Only the
 * nodes between the input and the targets run. slots: samples whose activations are kept at
 * once (forward of slot s overwrites slot s only). Errors (-> NULL, d set): bad ids, a non-f32
 * input, a node on a path to a target without a backward function, interpreter errors while
 * evaluating the parts that do not depend on the input. */
GradPlan *grad_plan_new(const Graph *g, Tensor *const *inputs, int input_index, const int *targets,
                        int n_targets, int slots, Diag *d);
void grad_plan_free(GradPlan *p); /* NULL ok */
void grad_plan_info(const GradPlan *p, GradPlanInfo *info);
/* Elements of value vid per sample. */
int64_t grad_plan_numel(const GradPlan *p, int vid);
/* Forward of one sample into slot (0 <= slot < slots): x holds the input's numel floats. */
int grad_plan_forward(GradPlan *p, int slot, const float *x, Diag *d);
/* The slot's value vid (a target or any value that depends on the input), valid after
 * grad_plan_forward of that slot; NULL for other values. The dtype is the value's (f32 for
 * targets, which must be f32). */
const float *grad_plan_value(const GradPlan *p, int slot, int vid);
/* Start a backward pass: clear every gradient (the gradient buffers hold one sample). */
void grad_plan_zero(GradPlan *p);
/* Gradient buffer (numel floats) of target vid, for the caller to ADD dL/dvalue into between
 * grad_plan_zero and grad_plan_backward; NULL if vid is not a target. */
float *grad_plan_seed(GradPlan *p, int vid);
/* Backward of slot's forward pass from the seeded gradients: gx (the input's numel floats) is
 * overwritten with dL/dx. */
int grad_plan_backward(GradPlan *p, int slot, float *gx, Diag *d);

/* grad_plan_conv.c: the Conv fast path used by grad_plan.c. */
typedef struct GradConvPlan GradConvPlan;
/* NULL when node n is not a 2-D plain-layout f32 Conv with constant (input-independent)
 * weights w and bias b (b may be NULL); the caller then uses the generic path. */
GradConvPlan *grad_conv_plan_new(const Node *n, const Tensor *x, const Tensor *w, const Tensor *b,
                                 const Tensor *y, Diag *d);
void grad_conv_plan_free(GradConvPlan *c);
/* Floats of per-sample state kept between forward and backward (the pre-activation). */
int64_t grad_conv_plan_state(const GradConvPlan *c);
/* Scratch floats the plan needs (shared by all convolutions of a GradPlan). */
int64_t grad_conv_plan_scratch(const GradConvPlan *c);
/* y = act(conv(x) + b + res); res may be NULL; state: grad_conv_plan_state floats. */
void grad_conv_plan_forward(const GradConvPlan *c, const float *x, const float *res, float *y, float *state,
                            float *scratch);
/* gx += dL/dx (gx may be NULL), gres += dL/dres (may be NULL) from gy = dL/dy. */
void grad_conv_plan_backward(const GradConvPlan *c, const float *gy, const float *state, float *gx, float *gres,
                             float *scratch);
/* The SIMD level of the conv kernels: 0 portable C, 1 AVX2+FMA, 2 AVX-512F. force >= 0 selects
 * min(force, best supported) for plans created afterwards (tests run every level); force < 0
 * only queries (the default is the best level this CPU supports). */
int grad_conv_isa(int force);

#endif
