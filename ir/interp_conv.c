/* interp_conv.c — reference kernels for Conv and ConvTranspose (N-D, groups, strides,
 * dilations, pads/auto_pad via ir_conv_geometry) in f32 and f64, plus Conv's fused activation.
 *
 * Conv, per image and group: the output positions are processed in chunks; each chunk's input
 * patches are unfolded (im2col: K = C/group * prod(kernel) rows of chunk length) and multiplied
 * by the group's weights with interp_gemm_* (double accumulation, interp_linalg.c). A pointwise
 * conv (1x..x1 kernel, stride 1, no pads) multiplies the input directly. When a group has a
 * single input channel (depthwise) there is nothing to share, so each kernel tap's input row is
 * gathered and added into the output plane directly. Bias is added in double, the sum rounded to
 * the output dtype once; the optional residual (input 3) is then added in the output dtype (as
 * the unfused Add would) and the fused activation (activation.h) applied.
 * With layout="NCHW16c" the plain kernel runs between unblocking X (when blocked) and the
 * residual and blocking Y (ir_layout_eval_blocked, layout.c).
 * ConvTranspose, per image and group: columns = W_g^T * X_g (interp_gemm_*), then each column
 * entry is scattered (col2im) into a double output plane at i*stride + t*dilation - pad_begin.
 */
#include "ir.h"
#include "activation.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of unfolded input (im2col) and of double accumulators per chunk: big enough for long
 * GEMM rows, small enough to stay in L2. */
enum { CONV_COL_BYTES = 1 << 20, CONV_ACC_BYTES = 1 << 20 };

/* Positions per chunk for `rows` unfolded rows of element size es and acc_rows rows of double
 * accumulators. */
static int64_t conv_chunk(int64_t rows, size_t es, int64_t acc_rows, int64_t total)
{
    int64_t nc = (int64_t)(CONV_COL_BYTES / ((size_t)(rows > 0 ? rows : 1) * es));
    int64_t na = (int64_t)(CONV_ACC_BYTES / ((size_t)(acc_rows > 0 ? acc_rows : 1) * sizeof(double)));
    if (na < nc) nc = na;
    if (nc < 64) nc = 64;
    nc &= ~(int64_t)7;
    return nc < total ? nc : total;
}

/* Advance kernel-tap coordinates t (row-major over geo->kernel) by one. */
static void conv_tap_next(const ConvGeom *geo, int64_t *t)
{
    for (int a = geo->nsp - 1; a >= 0; a--) {
        if (++t[a] < geo->kernel[a]) return;
        t[a] = 0;
    }
}

/* Range [*lo, *hi) of t in [0, seg) with 0 <= q + t*s < in (s > 0). */
static void conv_valid_range(int64_t q, int64_t s, int64_t in, int64_t seg, int64_t *lo, int64_t *hi)
{
    int64_t l = q >= 0 ? 0 : (-q + s - 1) / s;
    int64_t h = in - q <= 0 ? 0 : (in - q + s - 1) / s;
    if (h > seg) h = seg;
    if (l > h) l = h;
    *lo = l, *hi = h;
}

/* gather_row: dst[p] = x at the input position that output position p0+p reads through kernel
 * tap t (0 outside the input), for p < pc; x is one input channel's plane.
 * scatter_row: the ConvTranspose mirror — acc at output position i*stride + t*dilation -
 * pad_begin += src[p] for input positions i = p0+p, p < pc; acc is one output channel's plane. */
#define CONV_ROW_FNS(T, SUF)                                                                       \
    static void conv_gather_row_##SUF(const T *x, const ConvGeom *geo, const int64_t *t,          \
                                      int64_t p0, int64_t pc, T *dst)                             \
    {                                                                                              \
        int L = geo->nsp - 1;                                                                      \
        int64_t oc[IR_MAX_RANK], rem = p0;                                                         \
        for (int a = L; a >= 0; a--) oc[a] = rem % geo->out[a], rem /= geo->out[a];                \
        for (int64_t p = 0; p < pc;) {                                                             \
            int64_t seg = geo->out[L] - oc[L];                                                     \
            if (seg > pc - p) seg = pc - p;                                                        \
            int valid = 1;                                                                         \
            int64_t off = 0;                                                                       \
            for (int a = 0; a < L && valid; a++) {                                                 \
                int64_t i = oc[a] * geo->stride[a] + t[a] * geo->dilation[a] - geo->pad_begin[a];  \
                valid = i >= 0 && i < geo->in[a];                                                  \
                off = off * geo->in[a] + i;                                                        \
            }                                                                                      \
            T *o = dst + p;                                                                        \
            int64_t lo = 0, hi = 0, s = geo->stride[L];                                            \
            int64_t q = oc[L] * s + t[L] * geo->dilation[L] - geo->pad_begin[L];                   \
            if (valid) conv_valid_range(q, s, geo->in[L], seg, &lo, &hi);                          \
            for (int64_t k = 0; k < lo; k++) o[k] = 0;                                             \
            if (hi > lo) {                                                                         \
                const T *xr = x + off * geo->in[L];                                                \
                if (s == 1)                                                                        \
                    memcpy(o + lo, xr + q + lo, (size_t)(hi - lo) * sizeof(T));                    \
                else                                                                               \
                    for (int64_t k = lo; k < hi; k++) o[k] = xr[q + k * s];                        \
            }                                                                                      \
            for (int64_t k = hi; k < seg; k++) o[k] = 0;                                           \
            p += seg;                                                                              \
            oc[L] += seg;                                                                          \
            for (int a = L; a > 0 && oc[a] >= geo->out[a]; a--) oc[a] = 0, oc[a - 1]++;            \
        }                                                                                          \
    }                                                                                              \
    /* Unfold channels [0, cg) of x (planes of `plane` elements) for output positions            \
     * [p0, p0+pc): row (c, tap) of col has pc entries. */                                        \
    static void conv_im2col_##SUF(const T *x, int64_t plane, int64_t cg, int64_t kprod,          \
                                  const ConvGeom *geo, int64_t p0, int64_t pc, T *col)             \
    {                                                                                              \
        for (int64_t c = 0; c < cg; c++) {                                                         \
            int64_t t[IR_MAX_RANK] = {0};                                                          \
            for (int64_t k = 0; k < kprod; k++, conv_tap_next(geo, t))                             \
                conv_gather_row_##SUF(x + c * plane, geo, t, p0, pc, col + (c * kprod + k) * pc);  \
        }                                                                                          \
    }

CONV_ROW_FNS(float, f32)
CONV_ROW_FNS(double, f64)

/* ConvTranspose's col2im for one row: input positions [p0, p0+pc) (row-major over geo->in). */
static void conv_scatter_row(const double *src, const ConvGeom *geo, const int64_t *t, int64_t p0,
                             int64_t pc, double *acc)
{
    int L = geo->nsp - 1;
    int64_t ic[IR_MAX_RANK], rem = p0;
    for (int a = L; a >= 0; a--) ic[a] = rem % geo->in[a], rem /= geo->in[a];
    for (int64_t p = 0; p < pc;) {
        int64_t seg = geo->in[L] - ic[L];
        if (seg > pc - p) seg = pc - p;
        int valid = 1;
        int64_t off = 0;
        for (int a = 0; a < L && valid; a++) {
            int64_t o = ic[a] * geo->stride[a] + t[a] * geo->dilation[a] - geo->pad_begin[a];
            valid = o >= 0 && o < geo->out[a];
            off = off * geo->out[a] + o;
        }
        if (valid) {
            int64_t s = geo->stride[L], lo, hi;
            int64_t q = ic[L] * s + t[L] * geo->dilation[L] - geo->pad_begin[L];
            conv_valid_range(q, s, geo->out[L], seg, &lo, &hi);
            double *ar = acc + off * geo->out[L];
            for (int64_t k = lo; k < hi; k++) ar[q + k * s] += src[p + k];
        }
        p += seg;
        ic[L] += seg;
        for (int a = L; a > 0 && ic[a] >= geo->in[a]; a--) ic[a] = 0, ic[a - 1]++;
    }
}

/* Geometry of node n for the actual input tensors; checks the output tensor's shape. */
static int conv_geometry_check(const Node *n, Tensor **in, const Tensor *y, int64_t m, ConvGeom *geo,
                               Diag *d)
{
    const Tensor *x = in[0], *w = in[1];
    if (x->rank != w->rank || x->rank < 3) return node_error(d, n, "X and W ranks differ");
    if (ir_conv_geometry(n, x->rank, x->dims, w->dims, geo, d)) return -1;
    int ok = y->rank == x->rank && y->dims[0] == x->dims[0] && y->dims[1] == m;
    for (int a = 0; ok && a < geo->nsp; a++) ok = y->dims[2 + a] == geo->out[a];
    if (!ok) return node_error(d, n, "output tensor shape does not match the inputs");
    return 0;
}

/* Conv for element type T: y = conv(x, w) + bias, rounded, activated. */
#define CONV_RUN(T, SUF)                                                                           \
    static void conv_run_##SUF(const ConvGeom *geo, int64_t nimg, int64_t C, int64_t M,            \
                               int64_t group, const T *x, const T *w, const T *bias,                \
                               const T *res, T *y, const Activation *act)                          \
    {                                                                                              \
        int64_t cg = C / group, mg = M / group, kprod = 1, inplane = 1, outplane = 1;              \
        for (int a = 0; a < geo->nsp; a++) {                                                       \
            kprod *= geo->kernel[a];                                                               \
            inplane *= geo->in[a];                                                                 \
            outplane *= geo->out[a];                                                               \
        }                                                                                          \
        int64_t K = cg * kprod;                                                                    \
        int pointwise = kprod == 1;                                                                \
        for (int a = 0; a < geo->nsp; a++)                                                         \
            pointwise &= geo->stride[a] == 1 && geo->pad_begin[a] == 0 && geo->pad_end[a] == 0;    \
        int direct = cg == 1 && !pointwise;                                                        \
        int64_t nc = conv_chunk(direct ? 1 : pointwise ? 0 : K, sizeof(T), mg, outplane);          \
        double *acc = xmalloc((size_t)(mg * nc) * sizeof(double) + 1);                             \
        T *col = pointwise ? NULL : xmalloc((size_t)((direct ? 1 : K) * nc) * sizeof(T) + 1);      \
        for (int64_t ni = 0; ni < nimg; ni++)                                                      \
            for (int64_t g = 0; g < group; g++) {                                                  \
                const T *xg = x + (ni * C + g * cg) * inplane;                                     \
                const T *wg = w + g * mg * K;                                                      \
                for (int64_t p0 = 0; p0 < outplane; p0 += nc) {                                    \
                    int64_t pc = outplane - p0 < nc ? outplane - p0 : nc;                          \
                    memset(acc, 0, (size_t)(mg * pc) * sizeof(double));                            \
                    if (pointwise) {                                                               \
                        interp_gemm_##SUF(mg, pc, K, wg, K, xg + p0, inplane, acc, pc);            \
                    } else if (!direct) {                                                          \
                        conv_im2col_##SUF(xg, inplane, cg, kprod, geo, p0, pc, col);               \
                        interp_gemm_##SUF(mg, pc, K, wg, K, col, pc, acc, pc);                     \
                    } else { /* one input channel per group: tap by tap */                         \
                        int64_t t[IR_MAX_RANK] = {0};                                              \
                        for (int64_t k = 0; k < kprod; k++, conv_tap_next(geo, t)) {               \
                            conv_gather_row_##SUF(xg, geo, t, p0, pc, col);                        \
                            for (int64_t m = 0; m < mg; m++) {                                     \
                                double wv = wg[m * kprod + k];                                     \
                                double *am = acc + m * pc;                                         \
                                for (int64_t j = 0; j < pc; j++) am[j] += wv * (double)col[j];     \
                            }                                                                      \
                        }                                                                          \
                    }                                                                              \
                    for (int64_t m = 0; m < mg; m++) {                                             \
                        double b = bias ? (double)bias[g * mg + m] : 0.0;                          \
                        T *yr = y + (ni * M + g * mg + m) * outplane + p0;                         \
                        const double *am = acc + m * pc;                                           \
                        if (res) { /* rr may be yr (the memory plan puts y over a dying residual) */ \
                            const T *rr = res + (ni * M + g * mg + m) * outplane + p0;             \
                            for (int64_t j = 0; j < pc; j++) {                                     \
                                T v = (T)(am[j] + b);                                              \
                                yr[j] = v + rr[j];                                                 \
                            }                                                                      \
                        } else {                                                                   \
                            for (int64_t j = 0; j < pc; j++) yr[j] = (T)(am[j] + b);               \
                        }                                                                          \
                        if (act->kind != ACT_NONE)                                                 \
                            for (int64_t j = 0; j < pc; j++) yr[j] = (T)activation_apply(act, yr[j]); \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        free(acc);                                                                                 \
        free(col);                                                                                 \
    }

CONV_RUN(float, f32)
CONV_RUN(double, f64)

/* Conv on plain tensors (any layout attribute is handled by eval_conv). */
static int eval_conv_plain(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
    const Tensor *r = n->n_in > 3 ? in[3] : NULL;
    Tensor *y = out[0];
    int64_t group = ir_attr_int(n, "group", 1), C = x->dims[1], M = w->dims[0];
    if (group < 1 || C != w->dims[1] * group || M % group)
        return node_error(d, n, "channels do not match W and group");
    if (x->dtype != w->dtype || (b && b->dtype != x->dtype) || !dtype_is_float(x->dtype))
        return node_error(d, n, "unsupported dtype %s", dtype_name(x->dtype));
    if (b && tensor_numel(b) != M) return node_error(d, n, "bias must have %lld elements", (long long)M);
    ConvGeom geo;
    if (conv_geometry_check(n, in, y, M, &geo, d)) return -1;
    if (r) {
        int ok = r->dtype == y->dtype && r->rank == y->rank;
        for (int a = 0; ok && a < y->rank; a++) ok = r->dims[a] == y->dims[a];
        if (!ok) return node_error(d, n, "residual shape does not match the output");
    }
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    if (x->dtype == DT_F32)
        conv_run_f32(&geo, x->dims[0], C, M, group, x->data, w->data, b ? b->data : NULL,
                     r ? r->data : NULL, y->data, &act);
    else
        conv_run_f64(&geo, x->dims[0], C, M, group, x->data, w->data, b ? b->data : NULL,
                     r ? r->data : NULL, y->data, &act);
    return 0;
}

int eval_conv(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    int blocked = ir_node_layout(n, d);
    if (blocked < 0) return -1;
    if (!blocked) return eval_conv_plain(g, n, in, out, d);
    const Tensor *x = in[0], *w = in[1];
    if (w->rank < 2) return node_error(d, n, "W must have rank >= 2");
    int64_t C = w->dims[1] * ir_attr_int(n, "group", 1), M = w->dims[0];
    int64_t in_ch[4] = {x->rank == w->rank + 1 ? C : 0, 0, 0, M}, out_ch[1] = {M};
    return ir_layout_eval_blocked(g, n, in, out, in_ch, out_ch, eval_conv_plain, d);
}

/* ConvTranspose for element type T. W is [C, M/group, kernel...]. */
#define CONVT_RUN(T, SUF)                                                                          \
    static void convt_run_##SUF(const ConvGeom *geo, int64_t nimg, int64_t C, int64_t M,           \
                                int64_t group, const T *x, const T *w, const T *bias, T *y)        \
    {                                                                                              \
        int64_t cg = C / group, mg = M / group, kprod = 1, inplane = 1, outplane = 1;              \
        for (int a = 0; a < geo->nsp; a++) {                                                       \
            kprod *= geo->kernel[a];                                                               \
            inplane *= geo->in[a];                                                                 \
            outplane *= geo->out[a];                                                               \
        }                                                                                          \
        int64_t rows = mg * kprod;                                                                 \
        int64_t nc = conv_chunk(rows, sizeof(double), 0, inplane);                                 \
        T *wt = xmalloc((size_t)(rows * cg) * sizeof(T) + 1);                                      \
        double *col = xmalloc((size_t)(rows * nc) * sizeof(double) + 1);                           \
        double *acc = xmalloc((size_t)(mg * outplane) * sizeof(double) + 1);                       \
        for (int64_t g = 0; g < group; g++) {                                                      \
            /* wt[(m, tap)][c] = W[g*cg + c][m][tap] */                                            \
            for (int64_t c = 0; c < cg; c++)                                                       \
                for (int64_t r = 0; r < rows; r++) wt[r * cg + c] = w[(g * cg + c) * rows + r];     \
            for (int64_t ni = 0; ni < nimg; ni++) {                                                \
                const T *xg = x + (ni * C + g * cg) * inplane;                                     \
                memset(acc, 0, (size_t)(mg * outplane) * sizeof(double));                          \
                for (int64_t p0 = 0; p0 < inplane; p0 += nc) {                                     \
                    int64_t pc = inplane - p0 < nc ? inplane - p0 : nc;                            \
                    memset(col, 0, (size_t)(rows * pc) * sizeof(double));                          \
                    interp_gemm_##SUF(rows, pc, cg, wt, cg, xg + p0, inplane, col, pc);            \
                    for (int64_t m = 0; m < mg; m++) {                                             \
                        int64_t t[IR_MAX_RANK] = {0};                                              \
                        for (int64_t k = 0; k < kprod; k++, conv_tap_next(geo, t))                 \
                            conv_scatter_row(col + (m * kprod + k) * pc, geo, t, p0, pc,           \
                                             acc + m * outplane);                                  \
                    }                                                                              \
                }                                                                                  \
                for (int64_t m = 0; m < mg; m++) {                                                 \
                    double b = bias ? (double)bias[g * mg + m] : 0.0;                              \
                    T *yr = y + (ni * M + g * mg + m) * outplane;                                  \
                    for (int64_t j = 0; j < outplane; j++) yr[j] = (T)(acc[m * outplane + j] + b); \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        free(wt);                                                                                  \
        free(col);                                                                                 \
        free(acc);                                                                                 \
    }

CONVT_RUN(float, f32)
CONVT_RUN(double, f64)

int eval_conv_transpose(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
    Tensor *y = out[0];
    int64_t group = ir_attr_int(n, "group", 1), C = x->dims[1];
    if (group < 1 || C != w->dims[0] || C % group)
        return node_error(d, n, "channels do not match W and group");
    int64_t M = w->dims[1] * group;
    if (x->dtype != w->dtype || (b && b->dtype != x->dtype) || !dtype_is_float(x->dtype))
        return node_error(d, n, "unsupported dtype %s", dtype_name(x->dtype));
    if (b && tensor_numel(b) != M) return node_error(d, n, "bias must have %lld elements", (long long)M);
    ConvGeom geo;
    if (conv_geometry_check(n, in, y, M, &geo, d)) return -1;
    if (x->dtype == DT_F32)
        convt_run_f32(&geo, x->dims[0], C, M, group, x->data, w->data, b ? b->data : NULL, y->data);
    else
        convt_run_f64(&geo, x->dims[0], C, M, group, x->data, w->data, b ? b->data : NULL, y->data);
    return 0;
}
