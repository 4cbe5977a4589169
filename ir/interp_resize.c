/* interp_resize.c — reference kernel of Resize: nearest (all nearest_modes), N-D linear and
 * cubic (cubic_coeff_a, exclude_outside) interpolation under every coordinate transformation
 * mode (plus opset 11's tf_half_pixel_for_nn), with roi and extrapolation_value for
 * tf_crop_and_resize.
 *
 * Semantics follow the ONNX reference implementation: for each axis, output position x maps to
 * x_ori in the input (using output_width = scale * input_width, which may be fractional); the
 * kernel's taps are the nearest input positions around x_ori (edge-clamped); ratio lies in
 * (0, 1], so an integral x_ori takes its tap set from the left. Interpolation is separable, so
 * the kernel resizes one axis at a time (last axis first, as the reference's recursion does),
 * skipping axes whose mapping is the identity. Nearest moves bytes (every dtype, exact);
 * linear and cubic compute in double and store rounded toward zero, saturating for integers.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYM, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_CROP, CT_TF_NN };
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL };

typedef struct ResizeParams {
    int mode, ctm, nearest;
    double cubic_a, extrap;
    int exclude_outside;
} ResizeParams;

/* Interpolation taps of one output position along one axis. */
typedef struct Taps {
    int64_t idx[4]; /* input positions, already clamped to [0, len) */
    double w[4];
    int extrap; /* tf_crop_and_resize: position outside the input -> extrapolation_value */
} Taps;

static int str_index(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) return i;
    return 0;
}

static void params_read(const Node *n, ResizeParams *p)
{
    static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
    static const char *const ctms[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",   "align_corners",
        "asymmetric", "tf_crop_and_resize",   "tf_half_pixel_for_nn", NULL};
    static const char *const nmodes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil",
                                         NULL};
    p->mode = str_index(ir_attr_str(n, "mode", "nearest"), modes);
    p->ctm = str_index(ir_attr_str(n, "coordinate_transformation_mode", "half_pixel"), ctms);
    p->nearest = str_index(ir_attr_str(n, "nearest_mode", "round_prefer_floor"), nmodes);
    p->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75);
    p->extrap = ir_attr_float(n, "extrapolation_value", 0.0);
    p->exclude_outside = ir_attr_int(n, "exclude_outside", 0) != 0;
}

/* Input coordinate of output position x. Sets *extrap for tf_crop_and_resize outside the input. */
static double coord_map(const ResizeParams *p, int64_t x, int64_t in_len, int64_t out_len,
                        double scale, double roi0, double roi1, int *extrap)
{
    double xo = (double)x, out_w = scale * (double)in_len, xi;
    /* a scale derived from sizes may miss the integral width by rounding; snap it back */
    if (fabs(out_w - (double)out_len) <= 1e-9 * (out_len > 1 ? (double)out_len : 1.0))
        out_w = (double)out_len;
    *extrap = 0;
    switch (p->ctm) {
    case CT_ALIGN: xi = out_w == 1 ? 0 : xo * (double)(in_len - 1) / (out_w - 1); break;
    case CT_ASYM: xi = xo / scale; break;
    case CT_CROP:
        xi = out_w == 1 ? (roi1 - roi0) * (double)(in_len - 1) / 2
                        : xo * (roi1 - roi0) * (double)(in_len - 1) / (out_w - 1);
        xi += roi0 * (double)(in_len - 1);
        *extrap = xi < 0 || xi > (double)(in_len - 1);
        break;
    case CT_TF_NN: xi = (xo + 0.5) / scale; break; /* opset 11 only */
    case CT_PYTORCH: xi = out_w == 1 ? -0.5 : (xo + 0.5) / scale - 0.5; break;
    case CT_HALF_PIXEL_SYM: {
        double adjust = (double)out_len / out_w, offset = (double)in_len / 2 * (1 - adjust);
        xi = offset + (xo + 0.5) / scale - 0.5;
        break;
    }
    default: xi = (xo + 0.5) / scale - 0.5; break;
    }
    /* keep far-out coordinates finite and small: every tap beyond +-4 clamps to the edge anyway */
    if (!(xi > -4.0)) xi = -4.0;
    if (!(xi < (double)in_len + 4.0)) xi = (double)in_len + 4.0;
    return xi;
}

/* Keys cubic convolution weights for the 4 taps around a point at fraction ratio in (0, 1]. */
static void cubic_weights(double t, double A, double *w)
{
    double a = t + 1, b = t, c = 1 - t, e = 2 - t;
    w[0] = ((A * a - 5 * A) * a + 8 * A) * a - 4 * A;
    w[1] = ((A + 2) * b - (A + 3)) * b * b + 1;
    w[2] = ((A + 2) * c - (A + 3)) * c * c + 1;
    w[3] = ((A * e - 5 * A) * e + 8 * A) * e - 4 * A;
}

/* Number of taps of a mode. */
static int taps_count(int mode) { return mode == RZ_CUBIC ? 4 : mode == RZ_LINEAR ? 2 : 1; }

/* Taps of output position x along an axis. */
static void taps_compute(const ResizeParams *p, int64_t x, int64_t in_len, int64_t out_len,
                         double scale, double roi0, double roi1, Taps *t)
{
    double xi = coord_map(p, x, in_len, out_len, scale, roi0, roi1, &t->extrap);
    double fl = floor(xi);
    int64_t base = (int64_t)fl;
    int integral = xi == fl;
    double ratio = integral ? 1.0 : xi - fl;
    int nt = taps_count(p->mode);
    int64_t raw[4];
    if (p->mode == RZ_NEAREST) {
        int up;
        switch (p->nearest) {
        case NM_FLOOR: up = 0; break;
        case NM_CEIL: up = 1; break;
        case NM_ROUND_CEIL: up = ratio >= 0.5; break;
        default: up = ratio > 0.5; break;
        }
        raw[0] = integral ? base : base + up;
        t->w[0] = 1;
    } else if (p->mode == RZ_LINEAR) {
        int64_t start = integral ? base - 1 : base;
        raw[0] = start, raw[1] = start + 1;
        t->w[0] = 1 - ratio, t->w[1] = ratio;
    } else {
        int64_t start = integral ? base - 2 : base - 1;
        for (int k = 0; k < 4; k++) raw[k] = start + k;
        cubic_weights(ratio, p->cubic_a, t->w);
    }
    if (p->exclude_outside && nt > 1) {
        double sum = 0;
        for (int k = 0; k < nt; k++) {
            if (raw[k] < 0 || raw[k] >= in_len) t->w[k] = 0;
            sum += t->w[k];
        }
        if (sum != 0)
            for (int k = 0; k < nt; k++) t->w[k] /= sum;
    }
    for (int k = 0; k < nt; k++)
        t->idx[k] = raw[k] < 0 ? 0 : raw[k] >= in_len ? in_len - 1 : raw[k];
}

/* Does the axis map every output position to the same input position with weight 1? */
static int taps_identity(const Taps *t, int nt, int64_t len, int64_t out_len)
{
    if (len != out_len) return 0;
    for (int64_t x = 0; x < out_len; x++) {
        if (t[x].extrap) return 0;
        double on = 0; /* taps may repeat an index after edge clamping: add them up */
        for (int k = 0; k < nt; k++) {
            if (t[x].idx[k] == x)
                on += t[x].w[k];
            else if (t[x].w[k] != 0)
                return 0;
        }
        if (on != 1.0) return 0;
    }
    return 1;
}

/* Nearest pass along one axis: rows of `inner` elements are copied (or filled). */
static void pass_nearest(size_t es, int64_t outer, int64_t in_len, int64_t out_len, int64_t inner,
                         const Taps *t, const char *src, char *dst, const void *fill)
{
    size_t row = (size_t)inner * es;
    for (int64_t o = 0; o < outer; o++) {
        const char *s = src + (size_t)(o * in_len) * row;
        for (int64_t x = 0; x < out_len; x++, dst += row) {
            if (!t[x].extrap) {
                memcpy(dst, s + (size_t)t[x].idx[0] * row, row);
                continue;
            }
            for (int64_t i = 0; i < inner; i++) memcpy(dst + (size_t)i * es, fill, es);
        }
    }
}

/* Linear/cubic pass along one axis in double precision. */
static void pass_interp(int nt, int64_t outer, int64_t in_len, int64_t out_len, int64_t inner,
                        const Taps *t, const double *src, double *dst, double fill)
{
    for (int64_t o = 0; o < outer; o++) {
        const double *s = src + o * in_len * inner;
        for (int64_t x = 0; x < out_len; x++, dst += inner) {
            if (t[x].extrap) {
                for (int64_t i = 0; i < inner; i++) dst[i] = fill;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) dst[i] = 0;
            for (int k = 0; k < nt; k++) {
                double w = t[x].w[k];
                if (w == 0) continue;
                const double *r = s + t[x].idx[k] * inner;
                for (int64_t i = 0; i < inner; i++) dst[i] += w * r[i];
            }
        }
    }
}

/* Store v into element i of an integer or float buffer; integers saturate to their range. */
static void store_value(DType t, void *p, int64_t i, double v)
{
    if (dtype_is_int(t)) {
        double lo, hi;
        size_t bits = dtype_size(t) * 8;
        if (dtype_is_signed(t))
            lo = -ldexp(1.0, (int)bits - 1), hi = ldexp(1.0, (int)bits - 1) - 1;
        else
            lo = 0, hi = ldexp(1.0, (int)bits) - 1;
        if (isnan(v)) v = 0;
        v = v < lo ? lo : v > hi ? hi : trunc(v);
        if (t == DT_U64 && v >= 9.2e18) {
            ((uint64_t *)p)[i] = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
            return;
        }
        if (t == DT_I64 && v >= 9.2e18) {
            ((int64_t *)p)[i] = INT64_MAX;
            return;
        }
    }
    elem_set_f64(t, p, i, v);
}

int eval_resize(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int r = x->rank;
    ResizeParams p;
    params_read(n, &p);
    const double *scales = ir_attr_floats(n, "scales", NULL);
    int nroi;
    const double *roi = ir_attr_floats(n, "roi", &nroi);
    if (nroi != 2 * r) roi = NULL;
    int64_t ny = tensor_numel(y);
    if (ny == 0) return 0;

    int nt = taps_count(p.mode), passes = 0;
    size_t es = dtype_size(x->dtype);
    int64_t cur[IR_MAX_RANK];
    memcpy(cur, x->dims, sizeof cur);
    /* working buffers: bytes for nearest, doubles for linear/cubic */
    int interp = p.mode != RZ_NEAREST;
    size_t ws = interp ? sizeof(double) : es;
    void *buf = NULL;
    if (interp) {
        int64_t nx = tensor_numel(x);
        double *v = xmalloc((size_t)(nx ? nx : 1) * sizeof(double));
        for (int64_t i = 0; i < nx; i++) v[i] = elem_get_f64(x->dtype, x->data, i);
        buf = v;
    } else {
        buf = xmalloc(tensor_nbytes(x) ? tensor_nbytes(x) : 1);
        memcpy(buf, x->data, tensor_nbytes(x));
    }
    char fill[16] = {0};
    elem_set_f64(x->dtype, fill, 0, p.extrap);

    for (int a = r - 1; a >= 0; a--) {
        int64_t in_len = cur[a], out_len = y->dims[a];
        double r0 = roi ? roi[a] : 0.0, r1 = roi ? roi[r + a] : 1.0;
        Taps *t = xmalloc((size_t)(out_len ? out_len : 1) * sizeof *t);
        for (int64_t k = 0; k < out_len; k++)
            taps_compute(&p, k, in_len, out_len, scales[a], r0, r1, &t[k]);
        if (taps_identity(t, nt, in_len, out_len)) {
            free(t);
            continue;
        }
        int64_t outer = shape_numel(a, cur), inner = shape_numel(r - a - 1, cur + a + 1);
        void *nb = xmalloc((size_t)(outer * out_len * inner) * ws + 1);
        if (interp)
            pass_interp(nt, outer, in_len, out_len, inner, t, buf, nb, p.extrap);
        else
            pass_nearest(es, outer, in_len, out_len, inner, t, buf, nb, fill);
        free(t);
        free(buf);
        buf = nb;
        cur[a] = out_len;
        passes++;
    }
    if (!passes) /* every axis is the identity: exact copy, even for 64-bit integers */
        memcpy(y->data, x->data, tensor_nbytes(y));
    else if (interp)
        for (int64_t i = 0; i < ny; i++) store_value(y->dtype, y->data, i, ((double *)buf)[i]);
    else
        memcpy(y->data, buf, tensor_nbytes(y));
    free(buf);
    return 0;
}
