/* shape_resize.c — shape inference for Resize (and Upsample, which the frontend turns into
 * Resize). coordinate_transformation_mode also accepts opset 11's "tf_half_pixel_for_nn".
 * The IR form always carries both `scales` and `sizes` (one per axis); `sizes` is the
 * output shape, `scales` drives the coordinate transformation (docs/ir-ops.md).
 *
 * Checks every attribute the kernel (interp_resize.c) relies on: the mode strings, positive
 * finite scales, non-negative sizes, a 2*rank `roi` when one is given, and that an empty axis is
 * not resized to a non-empty one. Output dtype = input dtype.
 */
#include "ir.h"

#include <math.h>
#include <string.h>

#define SHAPE_MAX_NUMEL (INT64_C(1) << 56)

/* Is s one of the NULL-terminated names? */
static int one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(s, *names)) return 1;
    return 0;
}

int shape_resize(Graph *g, Node *n, Diag *d)
{
    static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
    static const char *const ctms[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",   "align_corners",
        "asymmetric", "tf_crop_and_resize",   "tf_half_pixel_for_nn", NULL};
    static const char *const nmodes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil",
                                         NULL};
    const Value *x = &g->values[n->in[0]];
    int r = x->rank;
    const char *mode = ir_attr_str(n, "mode", "nearest");
    const char *ctm = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    const char *nmode = ir_attr_str(n, "nearest_mode", "round_prefer_floor");
    if (!one_of(mode, modes)) return node_error(d, n, "unknown mode '%s'", mode);
    if (!one_of(ctm, ctms))
        return node_error(d, n, "unknown coordinate_transformation_mode '%s'", ctm);
    if (!one_of(nmode, nmodes)) return node_error(d, n, "unknown nearest_mode '%s'", nmode);
    if (ir_attr_int(n, "antialias", 0)) return node_error(d, n, "antialias=1 is not supported");
    if (r == 0) return node_error(d, n, "cannot resize a scalar");
    if (strcmp(mode, "nearest") && x->dtype == DT_BOOL)
        return node_error(d, n, "mode '%s' needs a numeric input, got bool", mode);
    if (!isfinite(ir_attr_float(n, "cubic_coeff_a", -0.75)) ||
        !isfinite(ir_attr_float(n, "extrapolation_value", 0.0)))
        return node_error(d, n, "cubic_coeff_a and extrapolation_value must be finite");

    int ns, nz, nr;
    const double *scales = ir_attr_floats(n, "scales", &ns);
    const int64_t *sizes = ir_attr_ints(n, "sizes", &nz);
    const double *roi = ir_attr_floats(n, "roi", &nr);
    if (!scales || !sizes) return node_error(d, n, "missing attribute 'scales' or 'sizes'");
    if (ns != r || nz != r)
        return node_error(d, n, "scales and sizes need %d entries, have %d and %d", r, ns, nz);
    if (roi && nr != 2 * r) return node_error(d, n, "roi needs %d entries, has %d", 2 * r, nr);
    for (int i = 0; roi && i < nr; i++)
        if (!isfinite(roi[i])) return node_error(d, n, "roi entry %d is not finite", i);
    for (int i = 0; i < r; i++) {
        if (!(scales[i] > 0) || !isfinite(scales[i]))
            return node_error(d, n, "scale %d must be positive and finite, is %g", i, scales[i]);
        if (sizes[i] < 0)
            return node_error(d, n, "size %d is negative (%lld)", i, (long long)sizes[i]);
        if (x->dims[i] == 0 && sizes[i] > 0)
            return node_error(d, n, "axis %d is empty and cannot be resized to %lld", i,
                              (long long)sizes[i]);
    }
    int64_t total = 1; /* product of the non-zero sizes: no partial product may overflow */
    for (int i = 0; i < r; i++) {
        if (sizes[i] == 0) continue;
        if (total > SHAPE_MAX_NUMEL / sizes[i])
            return node_error(d, n, "output shape has too many elements");
        total *= sizes[i];
    }
    shape_set_out(g, n, 0, x->dtype, r, sizes);
    return 0;
}
