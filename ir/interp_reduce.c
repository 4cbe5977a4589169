/* interp_reduce.c — reference kernels for ReduceMean/Sum/Max/Min/Prod/L1/L2/LogSum/LogSumExp/
 * SumSquare and ArgMax/ArgMin.
 *
 * Reductions walk the input once in memory order. Input dims are collapsed (size-1 dims
 * dropped, neighbours with the same reduced/kept status merged); each innermost run is
 * accumulated into the output accumulators with stride 0 (reduced run) or 1 (kept run).
 * Accumulation: double for float inputs and for Mean/L2/LogSum/LogSumExp on integers (then
 * truncated like numpy's astype); exact 64-bit wrap-around arithmetic for the other integer
 * reductions. Empty reductions give ONNX's identities (Sum 0, Prod 1, Max -inf / type min,
 * Min +inf / type max, LogSum(Exp) -inf, Mean NaN). LogSumExp subtracts the running maximum
 * first (two passes) so large inputs do not overflow. Max/Min propagate NaN like numpy.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ReduceLayout {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t ost[IR_MAX_RANK]; /* output element stride per collapsed dim; 0 when reduced */
} ReduceLayout;

static void reduce_layout_init(ReduceLayout *L, const Tensor *x, unsigned mask)
{
    int m = 0;
    int red[IR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] == 1) continue;
        int ri = (mask >> i) & 1;
        if (m > 0 && red[m - 1] == ri) {
            L->dims[m - 1] *= x->dims[i];
        } else {
            L->dims[m] = x->dims[i];
            red[m++] = ri;
        }
    }
    if (m == 0) L->dims[0] = 1, red[0] = 0, m = 1;
    int64_t s = 1;
    for (int i = m - 1; i >= 0; i--) {
        L->ost[i] = red[i] ? 0 : s;
        if (!red[i]) s *= L->dims[i];
    }
    L->rank = m;
}

static inline double ld(DType t, const void *p, int64_t i)
{
    return t == DT_F32 ? ((const float *)p)[i] : t == DT_F64 ? ((const double *)p)[i] : elem_get_f64(t, p, i);
}

/* Per-run accumulation in double. mx: per-output maxima (LogSumExp second pass) or NULL. */
#define RUN_F(EXPR)                                                \
    for (int64_t i = 0; i < cnt; i++) {                            \
        double v = ld(t, x, ix + i), *a = &acc[i * os];            \
        (void)mx;                                                  \
        *a = (EXPR);                                               \
    }                                                              \
    break

static void acc_run_f(OpKind op, DType t, const void *x, int64_t ix, int64_t cnt, double *acc, int64_t os,
                      const double *mx)
{
    switch (op) {
    case OP_REDUCE_L1: RUN_F(*a + fabs(v));
    case OP_REDUCE_L2:
    case OP_REDUCE_SUM_SQUARE: RUN_F(*a + v * v);
    case OP_REDUCE_PROD: RUN_F(*a * v);
    case OP_REDUCE_MAX: RUN_F((v > *a || v != v) ? v : *a);
    case OP_REDUCE_MIN: RUN_F((v < *a || v != v) ? v : *a);
    case OP_REDUCE_LOG_SUM_EXP:
        if (mx) {
            RUN_F(*a + exp(v - (isfinite(mx[i * os]) ? mx[i * os] : 0)));
        }
        RUN_F((v > *a || v != v) ? v : *a); /* first pass: maxima */
    default: RUN_F(*a + v);                  /* Sum, Mean, LogSum */
    }
}

/* Per-run accumulation in 64-bit integers (Sum, Prod, Max, Min, L1, SumSquare). */
static void acc_run_i(OpKind op, DType t, const void *x, int64_t ix, int64_t cnt, uint64_t *acc, int64_t os)
{
    int sgn = dtype_is_signed(t);
    for (int64_t i = 0; i < cnt; i++) {
        int64_t v = elem_get_i64(t, x, ix + i);
        uint64_t u = (uint64_t)v, *a = &acc[i * os];
        switch (op) {
        case OP_REDUCE_PROD: *a *= u; break;
        case OP_REDUCE_L1: *a += (sgn && v < 0) ? 0 - u : u; break;
        case OP_REDUCE_SUM_SQUARE: *a += u * u; break;
        case OP_REDUCE_MAX:
            if (sgn ? v > (int64_t)*a : u > *a) *a = u;
            break;
        case OP_REDUCE_MIN:
            if (sgn ? v < (int64_t)*a : u < *a) *a = u;
            break;
        default: *a += u; break;
        }
    }
}

/* Smallest / largest value of an integer dtype (bool: 0 / 1), as raw 64-bit patterns. */
static uint64_t int_limit(DType t, int largest)
{
    if (t == DT_BOOL) return (uint64_t)largest;
    int bits = (int)dtype_size(t) * 8;
    if (dtype_is_signed(t)) {
        int64_t mx = (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
        return (uint64_t)(largest ? mx : -mx - 1);
    }
    return largest ? (bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1) : 0;
}

/* Walk x in memory order, calling the accumulator for each innermost run. */
static void reduce_walk(const ReduceLayout *L, OpKind op, const Tensor *x, double *accf, uint64_t *acci,
                        const double *mx)
{
    int r = L->rank;
    int64_t inner = L->dims[r - 1], outer = 1, idx[IR_MAX_RANK] = {0}, off = 0, ix = 0;
    int64_t os = L->ost[r - 1];
    for (int i = 0; i < r - 1; i++) outer *= L->dims[i];
    if (inner == 0 || outer == 0) return;
    for (int64_t o = 0; o < outer; o++, ix += inner) {
        if (accf)
            acc_run_f(op, x->dtype, x->data, ix, inner, accf + off, os, mx ? mx + off : NULL);
        else
            acc_run_i(op, x->dtype, x->data, ix, inner, acci + off, os);
        for (int i = r - 2; i >= 0; i--) {
            off += L->ost[i];
            if (++idx[i] < L->dims[i]) break;
            off -= L->ost[i] * L->dims[i];
            idx[i] = 0;
        }
    }
}

int eval_reduce(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    OpKind op = n->op;
    unsigned mask;
    int noop;
    if (x->dtype != y->dtype) return node_error(d, n, "output dtype differs from input");
    if (ir_reduce_axes(n, x->rank, &mask, &noop, d)) return -1;
    int64_t nin = tensor_numel(x), nout = tensor_numel(y);
    if (noop) {
        if (nin != nout) return node_error(d, n, "output size differs from input");
        if (nin) memcpy(y->data, x->data, tensor_nbytes(x));
        return 0;
    }
    int64_t count = 1, kept = 1;
    for (int i = 0; i < x->rank; i++) {
        if ((mask >> i) & 1)
            count *= x->dims[i];
        else
            kept *= x->dims[i];
    }
    if (kept != nout) return node_error(d, n, "output size %lld does not match the reduction", (long long)nout);
    if (nout == 0) return 0;
    ReduceLayout L;
    reduce_layout_init(&L, x, mask);
    int fmode = dtype_is_float(x->dtype) || op == OP_REDUCE_MEAN || op == OP_REDUCE_L2 ||
                op == OP_REDUCE_LOG_SUM || op == OP_REDUCE_LOG_SUM_EXP;
    if (fmode) {
        double *acc = xmalloc((size_t)nout * sizeof(double)), *mx = NULL;
        double init = op == OP_REDUCE_PROD ? 1 : op == OP_REDUCE_MAX ? -INFINITY : op == OP_REDUCE_MIN ? INFINITY : 0;
        if (op == OP_REDUCE_LOG_SUM_EXP) {
            mx = xmalloc((size_t)nout * sizeof(double));
            for (int64_t i = 0; i < nout; i++) mx[i] = -INFINITY;
            reduce_walk(&L, op, x, mx, NULL, NULL);
        }
        for (int64_t i = 0; i < nout; i++) acc[i] = init;
        reduce_walk(&L, op, x, acc, NULL, mx);
        for (int64_t i = 0; i < nout; i++) {
            double v = acc[i];
            switch (op) {
            case OP_REDUCE_MEAN: v = v / (double)count; break;
            case OP_REDUCE_L2: v = sqrt(v); break;
            case OP_REDUCE_LOG_SUM: v = log(v); break;
            case OP_REDUCE_LOG_SUM_EXP: v = (isfinite(mx[i]) ? mx[i] : 0) + log(v); break;
            default: break;
            }
            elem_set_f64(y->dtype, y->data, i, v);
        }
        free(acc);
        free(mx);
    } else {
        uint64_t *acc = xmalloc((size_t)nout * sizeof(uint64_t));
        uint64_t init = op == OP_REDUCE_PROD  ? 1
                        : op == OP_REDUCE_MAX ? int_limit(x->dtype, 0)
                        : op == OP_REDUCE_MIN ? int_limit(x->dtype, 1)
                                              : 0;
        for (int64_t i = 0; i < nout; i++) acc[i] = init;
        reduce_walk(&L, op, x, NULL, acc, NULL);
        for (int64_t i = 0; i < nout; i++) elem_set_i64(y->dtype, y->data, i, (int64_t)acc[i]);
        free(acc);
    }
    return 0;
}

/* ArgMax / ArgMin along one axis: first (or last, select_last_index) extreme; NaN counts as
 * the extreme like numpy.argmax/argmin. */
int eval_arg_reduce(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int r = x->rank;
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (r < 1 || axis < -r || axis >= r) return node_error(d, n, "axis out of range");
    if (axis < 0) axis += r;
    if (y->dtype != DT_I64) return node_error(d, n, "output must be i64");
    int is_max = n->op == OP_ARG_MAX, last = ir_attr_int(n, "select_last_index", 0) != 0;
    int64_t outer = shape_numel((int)axis, x->dims), A = x->dims[axis];
    int64_t inner = shape_numel(r - (int)axis - 1, x->dims + axis + 1);
    if (outer * inner != tensor_numel(y)) return node_error(d, n, "output size does not match");
    if (A == 0 && outer * inner != 0) return node_error(d, n, "cannot reduce over an empty axis");
    DType t = x->dtype;
    int64_t *o = y->data;
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = p * A * inner + q, best = 0;
            for (int64_t k = 1; k < A; k++) {
                int64_t i = base + k * inner, b = base + best * inner;
                int take;
                if (dtype_is_float(t)) {
                    double v = elem_get_f64(t, x->data, i), w = elem_get_f64(t, x->data, b);
                    if (w != w)
                        take = last && v != v;
                    else if (v != v)
                        take = 1;
                    else
                        take = is_max ? (last ? v >= w : v > w) : (last ? v <= w : v < w);
                } else if (dtype_is_signed(t)) {
                    int64_t v = elem_get_i64(t, x->data, i), w = elem_get_i64(t, x->data, b);
                    take = is_max ? (last ? v >= w : v > w) : (last ? v <= w : v < w);
                } else {
                    uint64_t v = (uint64_t)elem_get_i64(t, x->data, i), w = (uint64_t)elem_get_i64(t, x->data, b);
                    take = is_max ? (last ? v >= w : v > w) : (last ? v <= w : v < w);
                }
                if (take) best = k;
            }
            o[p * inner + q] = best;
        }
    return 0;
}
