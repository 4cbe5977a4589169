/* lower_misc.c — lowering functions (codegen/lowering.h) for the native kernels of
 * codegen/kernels/misc_*.h: Gemm (fully connected layers), MaxPool/AveragePool, the global
 * pools, elementwise unary and binary ops, Softmax/LogSoftmax over the last axis,
 * LayoutTransform and Concat. Each checks that the node is in the form its kernel handles
 * (f32, supported attributes and shapes) and otherwise returns 0 so the node falls back to the
 * interpreter's kernel; it fills the kernel's parameter struct and buffer list and sets n_work
 * with the kernel's own *_work function. Only Gemm makes a blob: B packed into panels when A
 * has many rows, or for the skip path.
 */
/* The kernel headers define functions on 64-byte vectors; this file only uses their parameter
 * structs and scalar helpers, so GCC's vector-ABI note for targets without AVX-512 is moot. */
#pragma GCC diagnostic ignored "-Wpsabi"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/misc_copy.h"
#include "codegen/kernels/misc_eltwise.h"
#include "codegen/kernels/misc_gemm.h"
#include "codegen/kernels/misc_pool.h"
#include "codegen/kernels/misc_reduce.h"
#include "codegen/kernels/misc_softmax.h"
#include "codegen/lowering.h"
#include "ir/activation.h"

_Static_assert((int)KC_ACT_RELU == (int)ACT_RELU && (int)KC_ACT_LEAKY_RELU == (int)ACT_LEAKY_RELU &&
                   (int)KC_ACT_CLIP == (int)ACT_CLIP && (int)KC_ACT_SIGMOID == (int)ACT_SIGMOID &&
                   (int)KC_ACT_TANH == (int)ACT_TANH && (int)KC_ACT_HARD_SIGMOID == (int)ACT_HARD_SIGMOID &&
                   (int)KC_ACT_HARD_SWISH == (int)ACT_HARD_SWISH && (int)KC_ACT_GELU == (int)ACT_GELU &&
                   (int)KC_ACT_COUNT == (int)ACT_COUNT,
               "kernel activation codes must equal ir/activation.h's ActKind");

/* Rows of A up to which Gemm streams B's rows (KM_GEMM_ROWS) instead of packing panels. */
enum { MISC_GEMM_ROWS_MAX_M = 8 };
/* Bytes of B up to which the panel path orders its items row block first (misc_gemm.h): half of
 * a 1 MB L2 (Cascade Lake; 2 MB on Sapphire Rapids). */
#define MISC_GEMM_B_L2 (512 * 1024)
/* Bytes of B from which a one-row Gemm on a ReLU's output reads only the rows of B^T that meet
 * nonzeros (KM_GEMM_SKIP): well past the caches, where the product is bound by reading B (on
 * a dense row of A the skip path took 1.05x the time of the rows path in a microbenchmark of
 * VGG-16's 411 MB layer, and 0.64x with 40% zeros). */
#define MISC_GEMM_SKIP_MIN_B (4 * 1024 * 1024)

static const Value *val(const Graph *g, int vid) { return vid >= 0 ? &g->values[vid] : NULL; }

static int is_f32(const Graph *g, int vid) { return vid >= 0 && g->values[vid].dtype == DT_F32; }

/* The node's `layout`: 0 plain, 1 NCHW16c, -1 something else (left to the fallback). */
static int misc_layout(const Node *n)
{
    const char *s = ir_attr_str(n, "layout", NULL);
    if (!s || !strcmp(s, "NCHW")) return 0;
    return !strcmp(s, "NCHW16c") ? 1 : -1;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---------------------------------------------------------------- Gemm */
/* A new [cols, rows] copy of the row-major [rows, cols] matrix b. */
static float *misc_transpose(const float *b, int64_t rows, int64_t cols)
{
    float *t = xmalloc((size_t)(rows * cols) * sizeof(float) + 1);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) t[c * rows + r] = b[r * cols + c];
    return t;
}

/* Whether value vid is, element for element, a ReLU's output (so typically half zeros): its
 * producer has a fused or standalone ReLU (or a Clip from 0), possibly through ops that keep
 * each zero a zero of its own element — layout and shape changes, max pooling, 1x1 average
 * pooling. Only the speed depends on it: the skip path is exact for any A. */
static int misc_from_relu(const Graph *g, int vid)
{
    for (int hops = 0; hops < 16 && vid >= 0; hops++) {
        int pi = g->values[vid].producer;
        if (pi < 0) return 0;
        const Node *p = &g->nodes[pi];
        Activation act;
        Diag d;
        if (activation_from_node(p, &act, &d)) return 0;
        if (act.kind == ACT_RELU || (act.kind == ACT_CLIP && act.alpha == 0.0)) return 1;
        if (act.kind != ACT_NONE) return 0;
        switch (p->op) {
        case OP_RELU:
            return 1;
        case OP_FLATTEN:
        case OP_RESHAPE:
        case OP_LAYOUT_TRANSFORM:
        case OP_IDENTITY:
        case OP_MAX_POOL:
            break;
        case OP_AVERAGE_POOL: {
            int nk = 0;
            const int64_t *ks = ir_attr_ints(p, "kernel_shape", &nk);
            for (int i = 0; i < nk; i++)
                if (ks[i] != 1) return 0;
            if (!ks) return 0;
            break;
        }
        default:
            return 0;
        }
        vid = p->in[0];
    }
    return 0;
}

static int misc_all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int lower_misc_gemm(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if (n->op != OP_GEMM || n->n_out != 1) return 0;
    int ia = n->in[0], ib = n->in[1], ic = n->n_in > 2 ? n->in[2] : -1, iy = n->out[0];
    if (!is_f32(g, ia) || !is_f32(g, ib) || !is_f32(g, iy) || (ic >= 0 && !is_f32(g, ic))) return 0;
    const Value *A = val(g, ia), *B = val(g, ib), *C = val(g, ic), *Y = val(g, iy);
    if (A->rank != 2 || B->rank != 2 || Y->rank != 2) return 0;
    if (ir_attr_int(n, "transA", 0) != 0 || ir_attr_float(n, "alpha", 1.0) != 1.0) return 0;
    if (C && ir_attr_float(n, "beta", 1.0) != 1.0) return 0;
    int transb = ir_attr_int(n, "transB", 0) != 0;
    int b_const = B->kind == VAL_CONST && B->data;
    int64_t M = A->dims[0], K = A->dims[1], N = transb ? B->dims[0] : B->dims[1];
    if ((transb ? B->dims[1] : B->dims[0]) != K || Y->dims[0] != M || Y->dims[1] != N) return 0;
    if (!transb && !b_const) return 0;
    int64_t c_stride = 0;
    if (C) {
        int64_t cn = ir_value_numel(C);
        int row = C->rank == 1 || (C->rank == 2 && C->dims[0] == 1);
        if (cn == 1 && C->rank <= 2)
            c_stride = 0;
        else if (cn == N && row)
            c_stride = 1;
        else
            return 0; /* a full [M,N] C: fallback */
    }
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;

    KmGemmParams p;
    memset(&p, 0, sizeof p);
    p.M = M, p.N = N, p.K = K, p.lda = K, p.c_stride = c_stride;
    p.has_bias = C != NULL;
    p.act = (int32_t)act.kind;
    p.alpha = (float)act.alpha, p.beta = (float)act.beta;
    p.path = (M <= MISC_GEMM_ROWS_MAX_M || !b_const) ? KM_GEMM_ROWS : KM_GEMM_PANELS;
    p.mblock = KM_GEMM_MR * ((M + KM_GEMM_MR - 1) / KM_GEMM_MR < 8 ? (M + KM_GEMM_MR - 1) / KM_GEMM_MR : 8);
    p.row_major = N * K * (int64_t)sizeof(float) <= MISC_GEMM_B_L2;
    if (M == 1 && b_const && N * K * (int64_t)sizeof(float) >= MISC_GEMM_SKIP_MIN_B && misc_from_relu(g, ia) &&
        misc_all_finite(B->data, N * K)) {
        p.path = KM_GEMM_SKIP;
        p.nb = km_gemm_skip_nb(N);
    }

    cg_call_init(call, "k_gemm");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ia);
    /* B as [N,K]: the value itself, or a transposed copy of a constant [K,N] */
    float *bt = transb ? NULL : misc_transpose(B->data, K, N);
    if (p.path == KM_GEMM_PANELS || p.path == KM_GEMM_SKIP) { /* panels of 32 or p.nb columns */
        const int64_t nb = p.path == KM_GEMM_SKIP ? p.nb : KM_GEMM_NR, size = km_gemm_packed_size(N, K, nb);
        float *packed = xmalloc((size_t)size + 1);
        km_gemm_pack(bt ? bt : (const float *)B->data, N, K, nb, packed);
        free(bt);
        cg_call_blob(call, packed, (size_t)size, 64);
    } else if (bt) {
        cg_call_blob(call, bt, (size_t)(N * K) * sizeof(float), 64);
    } else {
        cg_call_value(call, ib);
    }
    if (C)
        cg_call_value(call, ic);
    else
        cg_call_none(call);
    cg_call_value(call, iy);
    call->n_work = k_gemm_work(&p);
    /* at least ~64 KB of weights per range */
    call->grain = p.path == KM_GEMM_ROWS ? max64(1, 16384 / max64(1, 4 * K)) : 1;
    snprintf(call->note, sizeof call->note, "gemm %s M=%lld N=%lld K=%lld%s%s",
             p.path == KM_GEMM_ROWS   ? "rows"
             : p.path == KM_GEMM_SKIP ? "skip (rows of B^T at zeros of A skipped)"
             : p.row_major            ? "panels (row blocks first)"
                                      : "panels",
             (long long)M,
             (long long)N, (long long)K, act.kind ? " +" : "", activation_name(act.kind));
    return 1;
}

/* ---------------------------------------------------------------- pooling */
int lower_misc_pool(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if (n->op != OP_MAX_POOL && n->op != OP_AVERAGE_POOL) return 0;
    if (n->n_out > 1 && n->out[1] >= 0) return 0; /* Indices: fallback */
    int ix = n->in[0], iy = n->out[0];
    if (!is_f32(g, ix) || !is_f32(g, iy)) return 0;
    int blocked = misc_layout(n);
    if (blocked < 0) return 0;
    const Value *X = val(g, ix), *Y = val(g, iy);
    int lrank = blocked ? X->rank - 1 : X->rank; /* rank of the logical tensor */
    if (lrank != 3 && lrank != 4) return 0;
    if (Y->rank != X->rank || (blocked && (X->dims[X->rank - 1] != KC_VL || Y->dims[Y->rank - 1] != KC_VL)))
        return 0;
    int64_t ldims[IR_MAX_RANK];
    for (int i = 0; i < lrank; i++) ldims[i] = X->dims[i];
    if (blocked) ldims[1] = X->dims[1] * KC_VL;
    ConvGeom geo;
    if (ir_conv_geometry(n, lrank, ldims, NULL, &geo, d)) return -1;
    if (Y->dims[0] != X->dims[0] || Y->dims[1] != X->dims[1]) return 0;
    for (int a = 0; a < geo.nsp; a++)
        if (Y->dims[2 + a] != geo.out[a]) return 0;

    KmPoolParams p;
    memset(&p, 0, sizeof p);
    p.kind = n->op == OP_MAX_POOL ? KM_POOL_MAX : KM_POOL_AVG;
    p.blocked = blocked;
    p.include_pad = n->op == OP_AVERAGE_POOL && ir_attr_int(n, "count_include_pad", 0) != 0;
    p.planes = X->dims[0] * X->dims[1];
    int h = geo.nsp == 2 ? 0 : -1, w = geo.nsp - 1; /* axis indices in geo (h absent for 1-D) */
    p.ih = h >= 0 ? geo.in[h] : 1, p.oh = h >= 0 ? geo.out[h] : 1;
    p.kh = h >= 0 ? geo.kernel[h] : 1, p.sh = h >= 0 ? geo.stride[h] : 1, p.dh = h >= 0 ? geo.dilation[h] : 1;
    p.ph = h >= 0 ? geo.pad_begin[h] : 0, p.peh = h >= 0 ? geo.pad_end[h] : 0;
    p.iw = geo.in[w], p.ow = geo.out[w], p.kw = geo.kernel[w], p.sw = geo.stride[w], p.dw = geo.dilation[w];
    p.pw = geo.pad_begin[w], p.pew = geo.pad_end[w];

    cg_call_init(call, "k_pool");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ix);
    cg_call_value(call, iy);
    call->n_work = k_pool_work(&p);
    call->grain = max64(1, 4096 / max64(1, p.ow * (blocked ? KC_VL : 1) * p.kh * p.kw));
    snprintf(call->note, sizeof call->note, "%s %s %lldx%lld s%lldx%lld", p.kind == KM_POOL_MAX ? "maxpool" : "avgpool",
             blocked ? "NCHW16c" : "NCHW", (long long)p.kh, (long long)p.kw, (long long)p.sh, (long long)p.sw);
    return 1;
}

int lower_misc_global_pool(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if (n->op != OP_GLOBAL_AVERAGE_POOL && n->op != OP_GLOBAL_MAX_POOL) return 0;
    int ix = n->in[0], iy = n->out[0];
    if (!is_f32(g, ix) || !is_f32(g, iy)) return 0;
    int blocked = misc_layout(n);
    if (blocked < 0) return 0;
    const Value *X = val(g, ix), *Y = val(g, iy);
    if (X->rank < (blocked ? 3 : 2) || (blocked && X->dims[X->rank - 1] != KC_VL)) return 0;
    KmGlobalPoolParams p;
    memset(&p, 0, sizeof p);
    p.kind = n->op == OP_GLOBAL_MAX_POOL ? KM_POOL_MAX : KM_POOL_AVG;
    p.blocked = blocked;
    p.planes = X->dims[0] * X->dims[1];
    p.size = 1;
    for (int i = 2; i < X->rank - blocked; i++) p.size *= X->dims[i];
    if (ir_value_numel(Y) != p.planes * (blocked ? KC_VL : 1)) return 0;
    cg_call_init(call, "k_global_pool");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ix);
    cg_call_value(call, iy);
    call->n_work = k_global_pool_work(&p);
    call->grain = max64(1, 4096 / max64(1, p.size * (blocked ? KC_VL : 1)));
    snprintf(call->note, sizeof call->note, "global %s %s", p.kind == KM_POOL_MAX ? "maxpool" : "avgpool",
             blocked ? "NCHW16c" : "NCHW");
    return 1;
}

/* ---------------------------------------------------------------- elementwise */
enum { MISC_ELT_CHUNK = 4096 }; /* elements per work item */

/* Kernel code of a unary op with its parameters (ONNX defaults), or -1. */
static int misc_unary_code(const Node *n, float *alpha, float *beta)
{
    *alpha = 0, *beta = 0;
    switch (n->op) {
    case OP_RELU: return KC_ACT_RELU;
    case OP_LEAKY_RELU: *alpha = (float)ir_attr_float(n, "alpha", 0.01); return KC_ACT_LEAKY_RELU;
    case OP_CLIP:
        *alpha = (float)ir_attr_float(n, "min", -INFINITY);
        *beta = (float)ir_attr_float(n, "max", INFINITY);
        return KC_ACT_CLIP;
    case OP_SIGMOID: return KC_ACT_SIGMOID;
    case OP_TANH: return KC_ACT_TANH;
    case OP_HARD_SIGMOID:
        *alpha = (float)ir_attr_float(n, "alpha", 0.2);
        *beta = (float)ir_attr_float(n, "beta", 0.5);
        return KC_ACT_HARD_SIGMOID;
    case OP_HARD_SWISH: return KC_ACT_HARD_SWISH;
    case OP_EXP: return KM_UN_EXP;
    case OP_LOG: return KM_UN_LOG;
    case OP_SQRT: return KM_UN_SQRT;
    case OP_RECIPROCAL: return KM_UN_RECIPROCAL;
    case OP_NEG: return KM_UN_NEG;
    case OP_ABS: return KM_UN_ABS;
    case OP_ELU: *alpha = (float)ir_attr_float(n, "alpha", 1.0); return KM_UN_ELU;
    case OP_SOFTPLUS: return KM_UN_SOFTPLUS;
    case OP_ERF: return KM_UN_ERF;
    case OP_FLOOR: return KM_UN_FLOOR;
    case OP_CEIL: return KM_UN_CEIL;
    default: return -1;
    }
}

int lower_misc_unary(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    KmUnaryParams p;
    memset(&p, 0, sizeof p);
    int op = misc_unary_code(n, &p.alpha, &p.beta);
    if (op < 0 || n->n_in != 1 || n->n_out != 1) return 0;
    int ix = n->in[0], iy = n->out[0];
    if (!is_f32(g, ix) || !is_f32(g, iy) || ir_value_numel(val(g, ix)) != ir_value_numel(val(g, iy))) return 0;
    p.op = op;
    p.n = ir_value_numel(val(g, iy));
    p.chunk = MISC_ELT_CHUNK;
    cg_call_init(call, "k_unary");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ix);
    cg_call_value(call, iy);
    call->n_work = k_unary_work(&p);
    snprintf(call->note, sizeof call->note, "unary %s", ir_op_name(n->op));
    return 1;
}

static int misc_binary_code(OpKind op)
{
    switch (op) {
    case OP_ADD: return KM_BIN_ADD;
    case OP_SUB: return KM_BIN_SUB;
    case OP_MUL: return KM_BIN_MUL;
    case OP_DIV: return KM_BIN_DIV;
    case OP_PRELU: return KM_BIN_PRELU;
    case OP_MAX: return KM_BIN_MAX;
    case OP_MIN: return KM_BIN_MIN;
    case OP_POW: return KM_BIN_POW;
    default: return -1;
    }
}

/* Collapse the broadcast of operands a, b to output y (as interp_binary.c's bcast_init): per
 * output dim the operands' element strides (0 where broadcast); size-1 dims dropped; adjacent
 * dims merged where every operand is contiguous across them. -1 if the result has more than
 * KM_BIN_MAXR dims or an operand does not broadcast. */
static int misc_bcast(const Value *a, const Value *b, const Value *y, KmBinaryParams *p)
{
    const Value *ops[2] = {a, b};
    int r = y->rank;
    int64_t st[2][IR_MAX_RANK];
    for (int k = 0; k < 2; k++) {
        const Value *v = ops[k];
        int64_t own[IR_MAX_RANK];
        if (v->rank > r) return -1;
        shape_strides(v->rank, v->dims, own);
        for (int i = 0; i < r; i++) {
            int j = i - (r - v->rank);
            if (j < 0 || v->dims[j] == 1)
                st[k][i] = 0;
            else if (v->dims[j] == y->dims[i])
                st[k][i] = own[j];
            else
                return -1;
        }
    }
    int m = 0;
    for (int i = 0; i < r; i++) {
        if (y->dims[i] == 1) continue;
        int merge = m > 0 && p->sa[m - 1] == st[0][i] * y->dims[i] && p->sb[m - 1] == st[1][i] * y->dims[i];
        if (merge) {
            p->dims[m - 1] *= y->dims[i];
            p->sa[m - 1] = st[0][i], p->sb[m - 1] = st[1][i];
        } else {
            if (m == KM_BIN_MAXR) return -1;
            p->dims[m] = y->dims[i];
            p->sa[m] = st[0][i], p->sb[m] = st[1][i];
            m++;
        }
    }
    if (m == 0) {
        p->dims[0] = 1, p->sa[0] = p->sb[0] = 0;
        m = 1;
    }
    p->rank = m;
    return 0;
}

int lower_misc_binary(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    int op = misc_binary_code(n->op);
    if (op < 0 || n->n_in != 2 || n->n_out != 1) return 0;
    int ia = n->in[0], ib = n->in[1], iy = n->out[0];
    if (!is_f32(g, ia) || !is_f32(g, ib) || !is_f32(g, iy)) return 0;
    KmBinaryParams p;
    memset(&p, 0, sizeof p);
    p.op = op;
    if (misc_bcast(val(g, ia), val(g, ib), val(g, iy), &p)) return 0;
    int64_t L = p.dims[p.rank - 1];
    p.chunk = L <= MISC_ELT_CHUNK ? L : MISC_ELT_CHUNK;
    p.nchunks = L ? (L + p.chunk - 1) / p.chunk : 0;
    if (p.chunk == 0) p.chunk = 1;
    cg_call_init(call, "k_binary");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ia);
    cg_call_value(call, ib);
    cg_call_value(call, iy);
    call->n_work = ir_value_numel(val(g, iy)) ? k_binary_work(&p) : 0;
    call->grain = max64(1, MISC_ELT_CHUNK / p.chunk);
    snprintf(call->note, sizeof call->note, "binary %s rank %d inner %lld (strides %lld/%lld)", ir_op_name(n->op),
             p.rank, (long long)L, (long long)p.sa[p.rank - 1], (long long)p.sb[p.rank - 1]);
    return 1;
}

/* ---------------------------------------------------------------- softmax */
int lower_misc_softmax(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if ((n->op != OP_SOFTMAX && n->op != OP_LOG_SOFTMAX) || n->n_out != 1) return 0;
    int ix = n->in[0], iy = n->out[0];
    if (!is_f32(g, ix) || !is_f32(g, iy)) return 0;
    const Value *X = val(g, ix);
    int64_t axis = ir_attr_int(n, "axis", -1);
    if (X->rank < 1 || (axis != -1 && axis != X->rank - 1)) return 0;
    KmSoftmaxParams p;
    memset(&p, 0, sizeof p);
    p.log = n->op == OP_LOG_SOFTMAX;
    p.len = X->dims[X->rank - 1];
    if (p.len == 0 || ir_value_numel(val(g, iy)) != ir_value_numel(X)) return 0;
    p.rows = ir_value_numel(X) / p.len;
    cg_call_init(call, "k_softmax");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ix);
    cg_call_value(call, iy);
    call->n_work = k_softmax_work(&p);
    call->grain = max64(1, 4096 / p.len);
    snprintf(call->note, sizeof call->note, "%s rows %lld x %lld", p.log ? "logsoftmax" : "softmax",
             (long long)p.rows, (long long)p.len);
    return 1;
}

/* ---------------------------------------------------------------- ReduceSum, ReduceMean */
/* f32 ReduceSum/ReduceMean whose reduced axes are the last ones (any keepdims): rows x len. */
int lower_misc_reduce(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if ((n->op != OP_REDUCE_SUM && n->op != OP_REDUCE_MEAN) || n->n_in != 1 || n->n_out != 1) return 0;
    int ix = n->in[0], iy = n->out[0];
    if (!is_f32(g, ix) || !is_f32(g, iy)) return 0;
    const Value *X = val(g, ix);
    const int r = X->rank;
    unsigned mask;
    int noop;
    Diag ignored;
    if (r < 1 || ir_reduce_axes(n, r, &mask, &noop, &ignored) || noop) return 0; /* noop: the identity */
    int first = r; /* the reduced axes must be [first, r) */
    while (first > 0 && mask >> (first - 1) & 1) first--;
    if (mask != ((1u << r) - 1) - ((1u << first) - 1)) return 0;
    KmReduceParams p;
    memset(&p, 0, sizeof p);
    p.len = 1;
    for (int i = first; i < r; i++) p.len *= X->dims[i];
    if (p.len == 0 || ir_value_numel(val(g, iy)) * p.len != ir_value_numel(X)) return 0;
    p.rows = ir_value_numel(X) / p.len;
    p.scale = n->op == OP_REDUCE_MEAN ? (float)(1.0 / (double)p.len) : 1.0f;
    cg_call_init(call, "k_reduce");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ix);
    cg_call_value(call, iy);
    call->n_work = k_reduce_work(&p);
    call->grain = max64(1, 4096 / p.len);
    snprintf(call->note, sizeof call->note, "%s rows %lld x %lld", n->op == OP_REDUCE_MEAN ? "reduce mean" : "reduce sum",
             (long long)p.rows, (long long)p.len);
    return 1;
}

/* ---------------------------------------------------------------- LayoutTransform, Concat */
int lower_misc_layout(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if (n->op != OP_LAYOUT_TRANSFORM) return 0;
    const char *src = ir_attr_str(n, "src", ""), *dst = ir_attr_str(n, "dst", "");
    int to_blocked;
    if (!strcmp(src, "NCHW") && !strcmp(dst, "NCHW16c"))
        to_blocked = 1;
    else if (!strcmp(src, "NCHW16c") && !strcmp(dst, "NCHW"))
        to_blocked = 0;
    else
        return 0;
    int ix = n->in[0], iy = n->out[0];
    const Value *X = val(g, ix), *Y = val(g, iy);
    if (X->dtype != Y->dtype || dtype_size(X->dtype) != sizeof(float)) return 0;
    const Value *plain = to_blocked ? X : Y, *blk = to_blocked ? Y : X;
    if (plain->rank < 2 || blk->rank != plain->rank + 1 || blk->dims[blk->rank - 1] != KC_VL) return 0;
    KmLayoutParams p;
    memset(&p, 0, sizeof p);
    p.to_blocked = to_blocked;
    p.N = plain->dims[0], p.C = plain->dims[1], p.CB = (p.C + KC_VL - 1) / KC_VL;
    p.S = 1;
    for (int i = 2; i < plain->rank; i++) p.S *= plain->dims[i];
    if (blk->dims[1] != p.CB || ir_value_numel(blk) != p.N * p.CB * p.S * KC_VL) return 0;
    p.chunk = 256;
    p.nchunks = (p.S + p.chunk - 1) / p.chunk;
    cg_call_init(call, "k_layout");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, ix);
    cg_call_value(call, iy);
    call->n_work = k_layout_work(&p);
    call->grain = max64(1, 16 / max64(1, p.nchunks));
    snprintf(call->note, sizeof call->note, "layout %s -> %s C=%lld S=%lld", src, dst, (long long)p.C,
             (long long)p.S);
    return 1;
}

enum { MISC_CONCAT_CHUNK = 32768 }; /* bytes per work item */

int lower_misc_concat(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    if (n->op != OP_CONCAT || n->n_in < 1 || n->n_in > KM_CONCAT_MAX || n->n_out != 1) return 0;
    const Value *Y = val(g, n->out[0]);
    int r = Y->rank;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (r < 1 || axis < -r || axis >= r) return 0;
    if (axis < 0) axis += r;
    size_t es = dtype_size(Y->dtype);
    if (!es) return 0;
    KmConcatParams p;
    memset(&p, 0, sizeof p);
    p.n_in = n->n_in;
    p.outer = shape_numel((int)axis, Y->dims);
    int64_t inner = shape_numel(r - (int)axis - 1, Y->dims + axis + 1) * (int64_t)es;
    p.chunk = MISC_CONCAT_CHUNK;
    int64_t rows = 0;
    for (int k = 0; k < n->n_in; k++) {
        const Value *X = val(g, n->in[k]);
        if (!X || X->dtype != Y->dtype || X->rank != r) return 0;
        p.slab[k] = X->dims[axis] * inner;
        p.off[k] = rows * inner;
        p.first[k] = p.total;
        p.total += (p.slab[k] + p.chunk - 1) / p.chunk;
        rows += X->dims[axis];
    }
    if (rows != Y->dims[axis]) return 0;
    p.row = rows * inner;
    cg_call_init(call, "k_concat");
    cg_call_params(call, &p, sizeof p);
    for (int k = 0; k < n->n_in; k++) cg_call_value(call, n->in[k]);
    cg_call_value(call, n->out[0]);
    call->n_work = k_concat_work(&p);
    snprintf(call->note, sizeof call->note, "concat %d inputs axis %lld", n->n_in, (long long)axis);
    return 1;
}

enum { MISC_TRANSPOSE_ROW_MIN = 4096 }; /* elements per work item when copying rows, at least */

/* Transpose of 4-byte elements (codegen/kernels/misc_copy.h): input axes that stay adjacent in
 * the output are merged and axes of size 1 dropped, so NCHW -> NHWC is a [C, HW] -> [HW, C]
 * transpose per image. More than KM_TRANSPOSE_RANK axes left, or other element sizes, fall
 * back. */
int lower_misc_transpose(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    (void)t, (void)d;
    if (n->op != OP_TRANSPOSE || n->n_in != 1 || n->n_out != 1) return 0;
    const Value *X = val(g, n->in[0]), *Y = val(g, n->out[0]);
    if (!X || !Y || dtype_size(X->dtype) != 4 || Y->dtype != X->dtype || X->rank != Y->rank || X->rank < 1 ||
        X->rank > IR_MAX_RANK)
        return 0;
    const int r = X->rank;
    int64_t perm[IR_MAX_RANK], istr[IR_MAX_RANK];
    int cnt = 0;
    const int64_t *pa = ir_attr_ints(n, "perm", &cnt);
    for (int k = 0; k < r; k++) perm[k] = pa ? pa[k] : r - 1 - k;
    if (pa && cnt != r) return 0;
    shape_strides(r, X->dims, istr);
    /* output axes (input axis perm[k]) without those of size 1, merged where the input axis of
     * the next output axis is the next input axis */
    int64_t dims[IR_MAX_RANK], st[IR_MAX_RANK], src[IR_MAX_RANK];
    int m = 0;
    for (int k = 0; k < r; k++) {
        const int64_t a = perm[k];
        if (a < 0 || a >= r) return 0;
        if (X->dims[a] == 1) continue;
        if (m > 0 && src[m - 1] + 1 == a) {
            dims[m - 1] *= X->dims[a], st[m - 1] = istr[a], src[m - 1] = a;
            continue;
        }
        dims[m] = X->dims[a], st[m] = istr[a], src[m] = a, m++;
    }
    if (m == 0) dims[0] = 1, st[0] = 1, m = 1;
    if (m > KM_TRANSPOSE_RANK) return 0;
    KmTransposeParams p;
    memset(&p, 0, sizeof p);
    p.rank = m;
    p.q = -1;
    for (int k = 0; k < m; k++) {
        p.dims[k] = dims[k], p.istr[k] = st[k];
        if (st[k] == 1 && k != m - 1) p.q = k;
    }
    p.n_outer = 1;
    for (int k = 0; k < m - 1; k++)
        if (k != p.q) p.n_outer *= dims[k];
    p.qtiles = p.q < 0 ? 1 : (dims[p.q] + 15) / 16;
    cg_call_init(call, "k_transpose");
    cg_call_params(call, &p, sizeof p);
    cg_call_value(call, n->in[0]);
    cg_call_value(call, n->out[0]);
    call->n_work = k_transpose_work(&p);
    call->grain = p.q < 0 ? max64(1, MISC_TRANSPOSE_ROW_MIN / max64(1, dims[m - 1])) : 1;
    int nl = snprintf(call->note, sizeof call->note, "transpose %s", p.q < 0 ? "rows" : "16x16 tiles");
    for (int k = 0; k < m && nl > 0 && (size_t)nl < sizeof call->note; k++)
        nl += snprintf(call->note + nl, sizeof call->note - (size_t)nl, "%s%lld", k ? "x" : " ", (long long)dims[k]);
    return 1;
}
