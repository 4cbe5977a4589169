/* interp_binary.c — reference kernels for the numpy-broadcasting ops: Add Sub Mul Div Pow Mod
 * PRelu And Or Xor BitShift, variadic Max Min Sum Mean, the comparisons and Where.
 *
 * One broadcasting iterator serves all of them: every operand gets a stride per output dim
 * (0 where it is broadcast), dims of size 1 are dropped and adjacent dims that are contiguous
 * for every operand are merged. The innermost merged dim becomes a run that a kernel processes
 * with per-operand strides; same-shape, scalar and row-broadcast cases therefore collapse to a
 * few long runs with strides 0/1 that the f32/f64 kernels handle in tight loops.
 *
 * Integer semantics: wrap-around (two's complement) on overflow; Div truncates toward zero
 * like C; Div and Mod by zero give 0 (numpy also gives 0); Mod with fmod=0 takes the sign of the
 * divisor (Python %), fmod=1 the sign of the dividend (C %). Float Mod with fmod=0 is numpy's
 * np.mod. Max/Min propagate NaN like numpy.maximum/minimum.
 */
#include "ir.h"

#include <math.h>
#include <string.h>

#define BC_MAX_OPS 3 /* Where has three operands */

typedef struct Bcast {
    int rank;                                  /* collapsed rank, >= 1 */
    int nops;                                  /* operands; slot nops is the output */
    int64_t dims[IR_MAX_RANK];
    int64_t st[BC_MAX_OPS + 1][IR_MAX_RANK];   /* element strides, 0 on broadcast dims */
} Bcast;

/* Set up iteration of out's index space over operands ops[0..nops-1]. -1 if an operand does
 * not broadcast to out's shape. */
static int bcast_init(Bcast *b, const Tensor *out, int nops, const Tensor *const *ops)
{
    int r = out->rank;
    int64_t st[BC_MAX_OPS + 1][IR_MAX_RANK];
    b->nops = nops;
    for (int k = 0; k <= nops; k++) {
        const Tensor *t = k < nops ? ops[k] : out;
        int64_t own[IR_MAX_RANK];
        if (t->rank > r) return -1;
        shape_strides(t->rank, t->dims, own);
        for (int i = 0; i < r; i++) {
            int j = i - (r - t->rank);
            if (j < 0 || t->dims[j] == 1)
                st[k][i] = 0;
            else if (t->dims[j] == out->dims[i])
                st[k][i] = own[j];
            else
                return -1;
        }
    }
    int m = 0;
    for (int i = 0; i < r; i++) {
        if (out->dims[i] == 1) continue;
        int merge = m > 0;
        for (int k = 0; merge && k <= nops; k++) merge = b->st[k][m - 1] == st[k][i] * out->dims[i];
        if (merge) {
            b->dims[m - 1] *= out->dims[i];
            for (int k = 0; k <= nops; k++) b->st[k][m - 1] = st[k][i];
        } else {
            b->dims[m] = out->dims[i];
            for (int k = 0; k <= nops; k++) b->st[k][m] = st[k][i];
            m++;
        }
    }
    if (m == 0) {
        b->dims[0] = 1;
        for (int k = 0; k <= nops; k++) b->st[k][0] = 0;
        m = 1;
    }
    b->rank = m;
    return 0;
}

/* Called per innermost run: cnt elements; off[k] = element offset of operand k (output last);
 * inner[k] = its stride along the run. */
typedef void (*BcastRunFn)(void *ctx, int64_t cnt, const int64_t *off, const int64_t *inner);

static void bcast_run(const Bcast *b, BcastRunFn fn, void *ctx)
{
    int r = b->rank, nk = b->nops + 1;
    int64_t outer = 1, idx[IR_MAX_RANK] = {0}, off[BC_MAX_OPS + 1] = {0}, inner[BC_MAX_OPS + 1];
    for (int i = 0; i < r - 1; i++) outer *= b->dims[i];
    if (outer == 0 || b->dims[r - 1] == 0) return;
    for (int k = 0; k < nk; k++) inner[k] = b->st[k][r - 1];
    for (int64_t o = 0; o < outer; o++) {
        fn(ctx, b->dims[r - 1], off, inner);
        for (int i = r - 2; i >= 0; i--) {
            for (int k = 0; k < nk; k++) off[k] += b->st[k][i];
            if (++idx[i] < b->dims[i]) break;
            for (int k = 0; k < nk; k++) off[k] -= b->st[k][i] * b->dims[i];
            idx[i] = 0;
        }
    }
}

/* ---------------------------------------------------------------- scalar definitions */
static double binop_f64(OpKind op, int fm, double x, double y)
{
    switch (op) {
    case OP_ADD:
    case OP_SUM:
    case OP_MEAN: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    case OP_DIV: return x / y;
    case OP_POW: return pow(x, y);
    case OP_MOD: {
        double r = fmod(x, y);
        if (fm || y == 0) return r;
        if (r != 0) return (r < 0) != (y < 0) ? r + y : r;
        return copysign(0.0, y); /* numpy.mod */
    }
    case OP_PRELU: return x < 0 ? x * y : x;
    case OP_MAX: return (x > y || x != x) ? x : y;
    case OP_MIN: return (x < y || x != x) ? x : y;
    default: return 0;
    }
}

/* x^y with wrap-around; negative exponents truncate 1/x^|y| toward zero. */
static uint64_t ipow_u64(uint64_t x, uint64_t y)
{
    uint64_t r = 1;
    while (y) {
        if (y & 1) r *= x;
        x *= x;
        y >>= 1;
    }
    return r;
}

static int64_t binop_i64(OpKind op, int fm, int64_t x, int64_t y)
{
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (op) {
    case OP_ADD:
    case OP_SUM: return (int64_t)(ux + uy);
    case OP_SUB: return (int64_t)(ux - uy);
    case OP_MUL: return (int64_t)(ux * uy);
    case OP_DIV: return y == 0 ? 0 : y == -1 ? (int64_t)(0 - ux) : x / y;
    case OP_MOD: {
        if (y == 0 || y == -1) return 0;
        int64_t r = x % y;
        return (!fm && r != 0 && (r < 0) != (y < 0)) ? r + y : r;
    }
    case OP_POW:
        if (y < 0) return x == 1 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : 0;
        return (int64_t)ipow_u64(ux, uy);
    case OP_PRELU: return x < 0 ? (int64_t)(ux * uy) : x;
    case OP_MAX: return x > y ? x : y;
    case OP_MIN: return x < y ? x : y;
    default: return 0;
    }
}

static uint64_t binop_u64(OpKind op, int fm, int left, uint64_t x, uint64_t y)
{
    switch (op) {
    case OP_ADD:
    case OP_SUM: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    case OP_DIV: return y ? x / y : 0;
    case OP_MOD: return y ? x % y : 0;
    case OP_POW: return ipow_u64(x, y);
    case OP_PRELU: return x;
    case OP_MAX: return x > y ? x : y;
    case OP_MIN: return x < y ? x : y;
    case OP_AND: return x && y;
    case OP_OR: return x || y;
    case OP_XOR: return !x != !y;
    case OP_BIT_SHIFT: return y >= 64 ? 0 : left ? x << y : x >> y;
    default: return 0;
    }
}

/* ---------------------------------------------------------------- run kernels */
/* One run: x from a (stride sa), y from b (stride sb), o contiguous. Strides 0/1 get their own
 * loops so the common cases vectorise. */
#define BIN_LOOP(T, EXPR)                                                               \
    do {                                                                                \
        if (sa == 1 && sb == 1) {                                                       \
            for (int64_t i = 0; i < cnt; i++) {                                         \
                T x = a[i], y = b[i];                                                   \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else if (sa == 0 && sb == 1) {                                                \
            T x = a[0];                                                                 \
            for (int64_t i = 0; i < cnt; i++) {                                         \
                T y = b[i];                                                             \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else if (sa == 1 && sb == 0) {                                                \
            T y = b[0];                                                                 \
            for (int64_t i = 0; i < cnt; i++) {                                         \
                T x = a[i];                                                             \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        } else {                                                                        \
            for (int64_t i = 0; i < cnt; i++) {                                         \
                T x = a[i * sa], y = b[i * sb];                                         \
                o[i] = (EXPR);                                                          \
            }                                                                           \
        }                                                                               \
    } while (0)

#define DEFINE_BIN_FLOAT(NAME, T)                                                          \
    static void NAME(OpKind op, int fm, int64_t cnt, const T *a, int64_t sa, const T *b,   \
                     int64_t sb, T *o)                                                     \
    {                                                                                      \
        switch (op) {                                                                      \
        case OP_ADD:                                                                       \
        case OP_SUM:                                                                       \
        case OP_MEAN: BIN_LOOP(T, x + y); break;                                           \
        case OP_SUB: BIN_LOOP(T, x - y); break;                                            \
        case OP_MUL: BIN_LOOP(T, x * y); break;                                            \
        case OP_DIV: BIN_LOOP(T, x / y); break;                                            \
        case OP_MAX: BIN_LOOP(T, (x > y || x != x) ? x : y); break;                        \
        case OP_MIN: BIN_LOOP(T, (x < y || x != x) ? x : y); break;                        \
        case OP_PRELU: BIN_LOOP(T, x < 0 ? x * y : x); break;                              \
        default: BIN_LOOP(T, (T)binop_f64(op, fm, x, y)); break;                           \
        }                                                                                  \
    }
DEFINE_BIN_FLOAT(bin_run_f32, float)
DEFINE_BIN_FLOAT(bin_run_f64, double)

typedef struct BinCtx {
    OpKind op;
    int fm, left;
    const Tensor *a, *b;
    Tensor *o;
} BinCtx;

/* Any dtypes (integers, bool, Pow with mixed types), element by element. */
static void bin_run_generic(const BinCtx *c, int64_t cnt, const int64_t *off, const int64_t *in)
{
    DType ta = c->a->dtype, tb = c->b->dtype, to = c->o->dtype;
    const void *a = c->a->data, *b = c->b->data;
    void *o = c->o->data;
    int64_t ia = off[0], ib = off[1], io = off[2];
    for (int64_t i = 0; i < cnt; i++, ia += in[0], ib += in[1], io += in[2]) {
        if (dtype_is_float(to) || dtype_is_float(tb))
            elem_set_f64(to, o, io, binop_f64(c->op, c->fm, elem_get_f64(ta, a, ia), elem_get_f64(tb, b, ib)));
        else if (dtype_is_signed(to) && (tb == to || dtype_is_signed(tb)))
            elem_set_i64(to, o, io, binop_i64(c->op, c->fm, elem_get_i64(ta, a, ia), elem_get_i64(tb, b, ib)));
        else if (dtype_is_signed(to)) /* Pow: signed base, unsigned exponent */
            elem_set_i64(to, o, io, binop_i64(c->op, c->fm, elem_get_i64(ta, a, ia),
                                               (int64_t)(elem_get_i64(tb, b, ib) & INT64_MAX)));
        else
            elem_set_i64(to, o, io,
                         (int64_t)binop_u64(c->op, c->fm, c->left, (uint64_t)elem_get_i64(ta, a, ia),
                                            (uint64_t)elem_get_i64(tb, b, ib)));
    }
}

static void bin_run(void *ctx, int64_t cnt, const int64_t *off, const int64_t *in)
{
    const BinCtx *c = ctx;
    DType t = c->o->dtype;
    if (c->a->dtype == t && c->b->dtype == t && t == DT_F32)
        bin_run_f32(c->op, c->fm, cnt, (const float *)c->a->data + off[0], in[0],
                    (const float *)c->b->data + off[1], in[1], (float *)c->o->data + off[2]);
    else if (c->a->dtype == t && c->b->dtype == t && t == DT_F64)
        bin_run_f64(c->op, c->fm, cnt, (const double *)c->a->data + off[0], in[0],
                    (const double *)c->b->data + off[1], in[1], (double *)c->o->data + off[2]);
    else
        bin_run_generic(c, cnt, off, in);
}

static int shape_mismatch(const Node *n, const Tensor *a, const Tensor *o, Diag *d)
{
    char s1[128], s2[128];
    return node_error(d, n, "input of shape %s does not broadcast to output shape %s",
                      shape_str(a->rank, a->dims, s1, sizeof s1), shape_str(o->rank, o->dims, s2, sizeof s2));
}

/* o = a op b with broadcasting (o may be a itself: the same element is read then written). */
static int binary_apply(const Node *n, const Tensor *a, const Tensor *b, Tensor *o, Diag *d)
{
    BinCtx c = {n->op, (int)ir_attr_int(n, "fmod", 0), 0, a, b, o};
    const char *dir = ir_attr_str(n, "direction", "LEFT");
    c.left = strcmp(dir, "RIGHT") != 0;
    const Tensor *ops[2] = {a, b};
    Bcast it;
    if (bcast_init(&it, o, 2, ops)) return shape_mismatch(n, bcast_init(&it, o, 1, ops) ? a : b, o, d);
    bcast_run(&it, bin_run, &c);
    return 0;
}

/* Copy x broadcast to o's shape (same dtype). */
static void copy_run(void *ctx, int64_t cnt, const int64_t *off, const int64_t *in)
{
    Tensor **t = ctx;
    size_t es = dtype_size(t[1]->dtype);
    const char *src = (const char *)t[0]->data + off[0] * (int64_t)es;
    char *dst = (char *)t[1]->data + off[1] * (int64_t)es;
    if (in[0] == 1)
        memcpy(dst, src, (size_t)cnt * es);
    else
        for (int64_t i = 0; i < cnt; i++) memcpy(dst + i * (int64_t)es, src + i * in[0] * (int64_t)es, es);
}

int eval_binary(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    Tensor *o = out[0];
    for (int k = 0; k < n->n_in; k++) {
        if (!in[k]) return node_error(d, n, "missing input %d", k);
        if (in[k]->dtype != o->dtype && !(n->op == OP_POW && k == 1))
            return node_error(d, n, "input %d has dtype %s, output has %s", k, dtype_name(in[k]->dtype),
                              dtype_name(o->dtype));
    }
    if (n->n_in == 1) { /* variadic ops with one input: a (broadcast) copy */
        const Tensor *ops[1] = {in[0]};
        Tensor *ctx[2] = {in[0], o};
        Bcast it;
        if (bcast_init(&it, o, 1, ops)) return shape_mismatch(n, in[0], o, d);
        bcast_run(&it, copy_run, ctx);
        return 0;
    }
    if (binary_apply(n, in[0], in[1], o, d)) return -1;
    for (int k = 2; k < n->n_in; k++)
        if (binary_apply(n, o, in[k], o, d)) return -1;
    if (n->op == OP_MEAN) {
        int64_t cnt = tensor_numel(o);
        if (o->dtype == DT_F32)
            for (int64_t i = 0; i < cnt; i++) ((float *)o->data)[i] /= (float)n->n_in;
        else if (o->dtype == DT_F64)
            for (int64_t i = 0; i < cnt; i++) ((double *)o->data)[i] /= n->n_in;
        else
            return node_error(d, n, "Mean needs f32 or f64 inputs");
    }
    return 0;
}

/* ---------------------------------------------------------------- comparisons */
static int cmp_f64(OpKind op, double x, double y)
{
    switch (op) {
    case OP_EQUAL: return x == y;
    case OP_LESS: return x < y;
    case OP_GREATER: return x > y;
    case OP_LESS_OR_EQUAL: return x <= y;
    default: return x >= y;
    }
}

#define CMP_ANY(X, Y)                                                                     \
    (op == OP_EQUAL             ? (X) == (Y)                                              \
     : op == OP_LESS            ? (X) < (Y)                                               \
     : op == OP_GREATER         ? (X) > (Y)                                               \
     : op == OP_LESS_OR_EQUAL   ? (X) <= (Y)                                              \
                                : (X) >= (Y))

static void cmp_run_f32(OpKind op, int64_t cnt, const float *a, int64_t sa, const float *b, int64_t sb,
                        uint8_t *o)
{
    switch (op) {
    case OP_EQUAL: BIN_LOOP(float, x == y); break;
    case OP_LESS: BIN_LOOP(float, x < y); break;
    case OP_GREATER: BIN_LOOP(float, x > y); break;
    case OP_LESS_OR_EQUAL: BIN_LOOP(float, x <= y); break;
    default: BIN_LOOP(float, x >= y); break;
    }
}

static void cmp_run(void *ctx, int64_t cnt, const int64_t *off, const int64_t *in)
{
    const BinCtx *c = ctx;
    OpKind op = c->op;
    DType t = c->a->dtype;
    const void *a = c->a->data, *b = c->b->data;
    uint8_t *o = (uint8_t *)c->o->data + off[2];
    if (t == DT_F32) {
        cmp_run_f32(op, cnt, (const float *)a + off[0], in[0], (const float *)b + off[1], in[1], o);
        return;
    }
    int64_t ia = off[0], ib = off[1];
    for (int64_t i = 0; i < cnt; i++, ia += in[0], ib += in[1]) {
        if (dtype_is_float(t)) {
            o[i] = (uint8_t)cmp_f64(op, elem_get_f64(t, a, ia), elem_get_f64(t, b, ib));
        } else if (dtype_is_signed(t)) {
            int64_t x = elem_get_i64(t, a, ia), y = elem_get_i64(t, b, ib);
            o[i] = (uint8_t)CMP_ANY(x, y);
        } else {
            uint64_t x = (uint64_t)elem_get_i64(t, a, ia), y = (uint64_t)elem_get_i64(t, b, ib);
            o[i] = (uint8_t)CMP_ANY(x, y);
        }
    }
}

int eval_compare(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    if (in[0]->dtype != in[1]->dtype || out[0]->dtype != DT_BOOL)
        return node_error(d, n, "inputs must share a dtype and the output must be bool");
    BinCtx c = {n->op, 0, 0, in[0], in[1], out[0]};
    const Tensor *ops[2] = {in[0], in[1]};
    Bcast it;
    if (bcast_init(&it, out[0], 2, ops))
        return shape_mismatch(n, bcast_init(&it, out[0], 1, ops) ? in[0] : in[1], out[0], d);
    bcast_run(&it, cmp_run, &c);
    return 0;
}

/* ---------------------------------------------------------------- Where */
#define WHERE_LOOP(T)                                                                           \
    do {                                                                                        \
        const T *x = (const T *)t[1]->data + off[1], *y = (const T *)t[2]->data + off[2];       \
        T *o = (T *)t[3]->data + off[3];                                                        \
        for (int64_t i = 0; i < cnt; i++) o[i] = c[i * in[0]] ? x[i * in[1]] : y[i * in[2]];    \
    } while (0)

static void where_run(void *ctx, int64_t cnt, const int64_t *off, const int64_t *in)
{
    Tensor **t = ctx;
    const uint8_t *c = (const uint8_t *)t[0]->data + off[0];
    switch (dtype_size(t[3]->dtype)) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
    }
}

int eval_where(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    if (in[0]->dtype != DT_BOOL || in[1]->dtype != out[0]->dtype || in[2]->dtype != out[0]->dtype)
        return node_error(d, n, "expects a bool condition and X, Y of the output's dtype");
    const Tensor *ops[3] = {in[0], in[1], in[2]};
    Tensor *ctx[4] = {in[0], in[1], in[2], out[0]};
    Bcast it;
    if (bcast_init(&it, out[0], 3, ops)) {
        for (int k = 0; k < 3; k++)
            if (bcast_init(&it, out[0], 1, &ops[k])) return shape_mismatch(n, ops[k], out[0], d);
    }
    bcast_run(&it, where_run, ctx);
    return 0;
}
