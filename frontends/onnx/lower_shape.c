/* lower_shape.c — lowering of ONNX data-movement ops whose shape-determining parameters are
 * tensor inputs (in newer opsets) or attributes (in older ones): Reshape, Squeeze/Unsqueeze,
 * Concat, Split, Slice, Pad, ConstantOfShape, Expand, Tile, Range, OneHot, CumSum, Trilu, TopK,
 * Resize and Upsample. In the IR these parameters are always attributes (docs/ir-ops.md), so
 * each handler reads them from whichever place the node's opset uses; inputs must be constants
 * at import time (after folding), else a "value" problem names the input.
 */
#include "onnx_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Attribute `name` (INTS) duplicated into *v; returns the count, -1 if absent. */
static int attr_ints_dup(OnnxNode *N, const char *name, int64_t **v)
{
    const int64_t *src;
    int n = onnx_attr_ints(N->p, name, &src);
    *v = NULL;
    if (n < 0) return -1;
    *v = xmalloc(((size_t)n + 1) * sizeof(int64_t));
    if (n) memcpy(*v, src, (size_t)n * sizeof(int64_t));
    return n;
}

/* Emit the rule's op on input 0 only, set one ints attribute, finish. */
static int emit_with_ints(OnnxNode *N, const OnnxOpRule *r, const char *attr, const int64_t *v, int n)
{
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    if (v) ir_node_set_ints(N->c->g, node, attr, v, n);
    return onnx_finish(N, node);
}

/* ints from attribute `attr` before opset `since`, from constant input k from then on.
 * Returns 1 found, 0 absent, -1 problem. */
static int ints_param(OnnxNode *N, int since, const char *attr, int k, const char *what, int64_t **v, int *n)
{
    if (N->opset < since) {
        *n = attr_ints_dup(N, attr, v);
        return *n >= 0;
    }
    return onnx_in_ints(N, k, what, v, n);
}

int onnx_lower_reshape(OnnxNode *N, const OnnxOpRule *r)
{
    int64_t *shape;
    int n, rc = ints_param(N, 5, "shape", 1, "shape", &shape, &n);
    if (rc < 0) return -1;
    if (rc == 0) return onnx_node_problem(N, "model", "missing shape");
    rc = emit_with_ints(N, r, "shape", shape, n);
    free(shape);
    return rc;
}

/* Squeeze and Unsqueeze: axes attribute before opset 13, input from 13 on. */
int onnx_lower_squeeze(OnnxNode *N, const OnnxOpRule *r)
{
    int64_t *axes;
    int n, rc = ints_param(N, 13, "axes", 1, "axes", &axes, &n);
    if (rc < 0) return -1;
    if (rc == 0 && r->op == OP_UNSQUEEZE) return onnx_node_problem(N, "model", "missing axes");
    rc = emit_with_ints(N, r, "axes", rc ? axes : NULL, n);
    free(axes);
    return rc;
}

/* Concat: axis defaulted to 1 before opset 4, required since. */
int onnx_lower_concat(OnnxNode *N, const OnnxOpRule *r)
{
    if (!onnx_attr_find(N->p, "axis") && N->opset >= 4)
        return onnx_node_problem(N, "attribute", "missing attribute 'axis'");
    for (int k = 0; k < N->n_in; k++)
        if (N->in[k] < 0) return onnx_node_problem(N, "model", "input %d is empty", k);
    int node = onnx_emit_main(N, r, N->n_in, N->in, 1, 0);
    ir_node_set_int(N->c->g, node, "axis", onnx_attr_int(N->p, "axis", 1));
    return onnx_finish(N, node);
}

/* Split: sizes from the `split` attribute (< 13; opset 1 also as input 1) or input 1 (>= 13);
 * opset 18's num_outputs must match the outputs. Without sizes: equal parts. */
int onnx_lower_split(OnnxNode *N, const OnnxOpRule *r)
{
    int64_t *split = NULL;
    int n = 0, rc;
    if (N->opset < 13) {
        n = attr_ints_dup(N, "split", &split);
        rc = n >= 0;
        if (!rc && N->opset < 2) rc = onnx_in_ints(N, 1, "split", &split, &n);
    } else {
        rc = onnx_in_ints(N, 1, "split", &split, &n);
    }
    if (rc < 0) return -1;
    const OnnxAttr *no = onnx_attr_find(N->p, "num_outputs");
    if (no && onnx_attr_int(N->p, "num_outputs", 0) != N->n_out) {
        free(split);
        return onnx_node_problem(N, "model", "num_outputs=%lld but the node has %d outputs",
                                 (long long)onnx_attr_int(N->p, "num_outputs", 0), N->n_out);
    }
    int node = onnx_emit_main(N, r, 1, N->in, N->n_out, 1);
    if (rc > 0) ir_node_set_ints(N->c->g, node, "split", split, n);
    free(split);
    return onnx_finish(N, node);
}

/* Slice: starts/ends/axes attributes before opset 10; inputs starts, ends, axes?, steps? since. */
int onnx_lower_slice(OnnxNode *N, const OnnxOpRule *r)
{
    static const char *names[4] = {"starts", "ends", "axes", "steps"};
    int64_t *v[4] = {0};
    int n[4] = {0}, has[4] = {0}, rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        if (N->opset < 10) {
            if (i == 3) break;
            n[i] = attr_ints_dup(N, names[i], &v[i]);
            has[i] = n[i] >= 0;
        } else {
            has[i] = onnx_in_ints(N, i + 1, names[i], &v[i], &n[i]);
            if (has[i] < 0) rc = -1;
        }
    }
    if (!rc && (!has[0] || !has[1])) rc = onnx_node_problem(N, "model", "missing starts or ends");
    if (!rc) {
        int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
        for (int i = 0; i < 4; i++)
            if (has[i] > 0) ir_node_set_ints(N->c->g, node, names[i], v[i], n[i]);
        rc = onnx_finish(N, node);
    }
    for (int i = 0; i < 4; i++) free(v[i]);
    return rc;
}

/* Pad: `paddings` (opset 1) / `pads` attributes and `value` before opset 11; then inputs pads,
 * constant_value? and (opset 18) axes?, whose pads expand to all axes. */
int onnx_lower_pad(OnnxNode *N, const OnnxOpRule *r)
{
    int rank = onnx_in_val(N, 0)->rank;
    int64_t *pads = NULL, *axes = NULL;
    int np = 0, na = 0, rc;
    double value = 0;
    int has_value = 0;
    if (N->opset < 11) {
        np = attr_ints_dup(N, N->opset < 2 ? "paddings" : "pads", &pads);
        rc = np >= 0;
        has_value = onnx_attr_find(N->p, "value") != NULL;
        value = onnx_attr_float(N->p, "value", 0);
    } else {
        rc = onnx_in_ints(N, 1, "pads", &pads, &np);
        if (rc >= 0) {
            has_value = onnx_in_scalar(N, 2, "constant_value", &value);
            if (has_value < 0) rc = -1;
        }
        if (rc >= 0 && onnx_in_ints(N, 3, "axes", &axes, &na) < 0) rc = -1;
    }
    if (rc == 0) rc = onnx_node_problem(N, "model", "missing pads");
    if (rc > 0 && axes) {
        if (np != 2 * na) {
            rc = onnx_node_problem(N, "model", "pads has %d values for %d axes", np, na);
        } else {
            int64_t *full = xcalloc((size_t)2 * rank + 1, sizeof(int64_t));
            for (int i = 0; i < na && rc > 0; i++) {
                int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
                if (a < 0 || a >= rank) {
                    rc = onnx_node_problem(N, "model", "axis %lld is out of range", (long long)axes[i]);
                    break;
                }
                full[a] = pads[i];
                full[a + rank] = pads[i + na];
            }
            free(pads);
            pads = full;
            np = 2 * rank;
        }
    }
    if (rc > 0) {
        int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
        ir_node_set_ints(N->c->g, node, "pads", pads, np);
        if (has_value > 0) ir_node_set_float(N->c->g, node, "value", value);
        rc = onnx_finish(N, node);
    }
    free(pads);
    free(axes);
    return rc > 0 ? 0 : rc < 0 ? -1 : 0;
}

/* ConstantOfShape: the shape input becomes the `shape` attribute; no inputs remain. */
int onnx_lower_constant_of_shape(OnnxNode *N, const OnnxOpRule *r)
{
    int64_t *shape;
    int n;
    if (onnx_in_ints(N, 0, "shape", &shape, &n) < 0) return -1;
    int node = onnx_emit_main(N, r, 0, NULL, 1, 0);
    ir_node_set_ints(N->c->g, node, "shape", shape, n);
    free(shape);
    return onnx_finish(N, node);
}

int onnx_lower_expand(OnnxNode *N, const OnnxOpRule *r)
{
    int64_t *shape;
    int n, rc = onnx_in_ints(N, 1, "shape", &shape, &n);
    if (rc < 0) return -1;
    if (rc == 0) return onnx_node_problem(N, "model", "missing shape input");
    rc = emit_with_ints(N, r, "shape", shape, n);
    free(shape);
    return rc;
}

/* Tile: repeats input (opset 6+); opset 1 had scalar inputs tiles and axis. */
int onnx_lower_tile(OnnxNode *N, const OnnxOpRule *r)
{
    int64_t *rep = NULL;
    int n = 0, rc;
    if (N->opset < 6) {
        double tiles = 0, axis = 0;
        int r1 = onnx_in_scalar(N, 1, "tiles", &tiles), r2 = onnx_in_scalar(N, 2, "axis", &axis);
        if (r1 < 0 || r2 < 0) return -1;
        if (!r1 || !r2) return onnx_node_problem(N, "model", "missing tiles or axis input");
        n = onnx_in_val(N, 0)->rank;
        int64_t a = (int64_t)axis < 0 ? (int64_t)axis + n : (int64_t)axis;
        if (a < 0 || a >= n) return onnx_node_problem(N, "model", "axis %g is out of range", axis);
        rep = xmalloc(((size_t)n + 1) * sizeof(int64_t));
        for (int i = 0; i < n; i++) rep[i] = i == a ? (int64_t)tiles : 1;
        rc = 1;
    } else {
        rc = onnx_in_ints(N, 1, "repeats", &rep, &n);
        if (rc < 0) return -1;
        if (rc == 0) return onnx_node_problem(N, "model", "missing repeats input");
    }
    rc = emit_with_ints(N, r, "repeats", rep, n);
    free(rep);
    return rc;
}

/* Range: the three scalar inputs become float attributes; `to` keeps the output dtype. */
int onnx_lower_range(OnnxNode *N, const OnnxOpRule *r)
{
    static const char *names[3] = {"start", "limit", "delta"};
    double v[3];
    for (int i = 0; i < 3; i++) {
        int rc = onnx_in_scalar(N, i, names[i], &v[i]);
        if (rc < 0) return -1;
        if (rc == 0) return onnx_node_problem(N, "model", "missing input '%s'", names[i]);
    }
    int code = dtype_to_onnx(onnx_in_val(N, 0)->dtype);
    int node = onnx_emit_main(N, r, 0, NULL, 1, 0);
    for (int i = 0; i < 3; i++) ir_node_set_float(N->c->g, node, names[i], v[i]);
    ir_node_set_int(N->c->g, node, "to", code);
    return onnx_finish(N, node);
}

/* OneHot(indices, depth, values): depth -> int attribute, values -> 2-element tensor attribute. */
int onnx_lower_one_hot(OnnxNode *N, const OnnxOpRule *r)
{
    double depth;
    Tensor values;
    int r1 = onnx_in_scalar(N, 1, "depth", &depth);
    if (r1 < 0) return -1;
    int r2 = onnx_const_input(N, 2, "values", &values);
    if (r2 < 0) return -1;
    if (!r1 || !r2) return onnx_node_problem(N, "model", "missing depth or values input");
    if (tensor_numel(&values) != 2)
        return onnx_node_problem(N, "model", "values must have 2 elements, has %lld", (long long)tensor_numel(&values));
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    ir_node_set_int(N->c->g, node, "depth", (int64_t)depth);
    ir_node_set_tensor(N->c->g, node, "values", &values);
    return onnx_finish(N, node);
}

/* CumSum(x, axis): axis -> attribute. */
int onnx_lower_cumsum(OnnxNode *N, const OnnxOpRule *r)
{
    double axis;
    int rc = onnx_in_scalar(N, 1, "axis", &axis);
    if (rc < 0) return -1;
    if (rc == 0) return onnx_node_problem(N, "model", "missing axis input");
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    ir_node_set_int(N->c->g, node, "axis", (int64_t)axis);
    return onnx_finish(N, node);
}

/* Trilu(x, k?): k -> attribute (default 0). */
int onnx_lower_trilu(OnnxNode *N, const OnnxOpRule *r)
{
    double k = 0;
    if (onnx_in_scalar(N, 1, "k", &k) < 0) return -1;
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    ir_node_set_int(N->c->g, node, "k", (int64_t)k);
    return onnx_finish(N, node);
}

/* TopK: k attribute in opset 1, one-element input K from opset 10. */
int onnx_lower_topk(OnnxNode *N, const OnnxOpRule *r)
{
    double k;
    if (N->opset < 10) {
        if (!onnx_attr_find(N->p, "k")) return onnx_node_problem(N, "attribute", "missing attribute 'k'");
        k = (double)onnx_attr_int(N->p, "k", 0);
    } else {
        int rc = onnx_in_scalar(N, 1, "K", &k);
        if (rc < 0) return -1;
        if (rc == 0) return onnx_node_problem(N, "model", "missing input 'K'");
    }
    int node = onnx_emit_main(N, r, 1, N->in, 2, 1);
    ir_node_set_int(N->c->g, node, "k", (int64_t)k);
    return onnx_finish(N, node);
}

/* ---------------------------------------------------------------- Resize / Upsample */

/* Emit Resize with full-rank scales and sizes (and roi for tf_crop_and_resize). */
static int emit_resize(OnnxNode *N, const OnnxOpRule *r, const double *scales, const int64_t *sizes,
                       const double *roi, int rank)
{
    int node = onnx_emit_main(N, r, 1, N->in, 1, 0);
    ir_node_set_floats(N->c->g, node, "scales", scales, rank);
    ir_node_set_ints(N->c->g, node, "sizes", sizes, rank);
    if (roi) ir_node_set_floats(N->c->g, node, "roi", roi, 2 * rank);
    return node;
}

/* Upsample (opset 1: height_scale/width_scale; 7: scales attribute; 9: scales input) and
 * Resize-10 (scales input): nearest uses asymmetric coordinates with floor. */
static int lower_upsample_like(OnnxNode *N, const OnnxOpRule *r, int is_resize)
{
    const Value *x = onnx_in_val(N, 0);
    int rank = x->rank;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    double *sc = NULL;
    int n = 0;
    if (!is_resize && N->opset < 7) {
        if (rank != 4) return onnx_node_problem(N, "model", "Upsample-1 needs a 4-D input");
        sc = xmalloc(4 * sizeof(double));
        sc[0] = sc[1] = 1;
        sc[2] = onnx_attr_float(N->p, "height_scale", 1);
        sc[3] = onnx_attr_float(N->p, "width_scale", 1);
        n = 4;
    } else if (!is_resize && N->opset < 9) {
        const OnnxAttr *a = onnx_attr_find(N->p, "scales");
        if (!a) return onnx_node_problem(N, "attribute", "missing attribute 'scales'");
        n = (int)a->n_floats;
        sc = xmalloc(((size_t)n + 1) * sizeof(double));
        for (int i = 0; i < n; i++) sc[i] = a->floats[i];
    } else {
        int rc = onnx_in_floats(N, 1, "scales", &sc, &n);
        if (rc < 0) return -1;
        if (rc == 0) return onnx_node_problem(N, "model", "missing scales input");
    }
    if (n != rank) {
        free(sc);
        return onnx_node_problem(N, "model", "scales has %d values for a rank-%d input", n, rank);
    }
    int64_t sizes[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) sizes[i] = (int64_t)floor((double)dims[i] * sc[i]);
    char mode[32];
    onnx_attr_str(N->p, "mode", "nearest", mode, sizeof mode);
    if (!strcmp(mode, "bilinear")) strcpy(mode, "linear");
    int node = emit_resize(N, r, sc, sizes, NULL, rank);
    free(sc);
    ir_node_set_str(N->c->g, node, "mode", mode);
    ir_node_set_str(N->c->g, node, "coordinate_transformation_mode", "asymmetric");
    ir_node_set_str(N->c->g, node, "nearest_mode", "floor");
    return onnx_finish(N, node);
}

int onnx_lower_upsample(OnnxNode *N, const OnnxOpRule *r) { return lower_upsample_like(N, r, 0); }

/* Resize 11+: inputs roi?, scales?, sizes? (empty tensors count as absent); opset 18 adds axes
 * (parameters for some axes only) and keep_aspect_ratio_policy. The IR gets full-rank scales
 * and sizes: sizes given -> scales = sizes / input dims; scales given -> sizes = floor(d * s). */
int onnx_lower_resize(OnnxNode *N, const OnnxOpRule *r)
{
    if (N->opset < 11) return lower_upsample_like(N, r, 1);
    if (onnx_attr_int(N->p, "antialias", 0))
        return onnx_node_problem(N, "attribute", "antialias=1 is not supported");
    const Value *x = onnx_in_val(N, 0);
    int rank = x->rank;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);

    int64_t axes[IR_MAX_RANK];
    int na = rank;
    for (int i = 0; i < rank; i++) axes[i] = i;
    const int64_t *av;
    int nav = onnx_attr_ints(N->p, "axes", &av);
    if (nav >= 0) {
        if (nav > rank) return onnx_node_problem(N, "attribute", "too many axes");
        for (int i = 0; i < nav; i++) {
            axes[i] = av[i] < 0 ? av[i] + rank : av[i];
            if (axes[i] < 0 || axes[i] >= rank)
                return onnx_node_problem(N, "attribute", "axis %lld is out of range", (long long)av[i]);
        }
        na = nav;
    }

    double *roi = NULL, *sc = NULL;
    int64_t *sz = NULL;
    int nroi = 0, nsc = 0, nsz = 0, rc = 0;
    if (onnx_in_floats(N, 1, "roi", &roi, &nroi) < 0 || onnx_in_floats(N, 2, "scales", &sc, &nsc) < 0 ||
        onnx_in_ints(N, 3, "sizes", &sz, &nsz) < 0)
        rc = -1;
    char ctm[40], policy[24];
    onnx_attr_str(N->p, "coordinate_transformation_mode", "half_pixel", ctm, sizeof ctm);
    onnx_attr_str(N->p, "keep_aspect_ratio_policy", "stretch", policy, sizeof policy);
    int crop = !strcmp(ctm, "tf_crop_and_resize");

    double fsc[IR_MAX_RANK], froi[2 * IR_MAX_RANK];
    int64_t fsz[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        fsc[i] = 1;
        fsz[i] = dims[i];
        froi[i] = 0;
        froi[i + rank] = 1;
    }
    if (!rc && (nsc > 0) == (nsz > 0))
        rc = onnx_node_problem(N, "model", "exactly one of scales and sizes must be given");
    if (!rc && nroi > 0 && crop) {
        if (nroi != 2 * na)
            rc = onnx_node_problem(N, "model", "roi has %d values, expected %d", nroi, 2 * na);
        for (int i = 0; !rc && i < na; i++) {
            froi[axes[i]] = roi[i];
            froi[axes[i] + rank] = roi[i + na];
        }
    }
    if (!rc && nsc > 0) {
        if (nsc != na) rc = onnx_node_problem(N, "model", "scales has %d values, expected %d", nsc, na);
        for (int i = 0; !rc && i < na; i++) fsc[axes[i]] = sc[i];
        for (int i = 0; !rc && i < rank; i++) {
            double extent = crop ? froi[i + rank] - froi[i] : 1.0;
            fsz[i] = (int64_t)floor((double)dims[i] * extent * fsc[i]);
        }
    } else if (!rc) {
        if (nsz != na) rc = onnx_node_problem(N, "model", "sizes has %d values, expected %d", nsz, na);
        if (!rc && strcmp(policy, "stretch")) {
            int larger = !strcmp(policy, "not_smaller");
            if (!larger && strcmp(policy, "not_larger"))
                rc = onnx_node_problem(N, "attribute", "unknown keep_aspect_ratio_policy '%s'", policy);
            double s = larger ? 0 : INFINITY;
            for (int i = 0; !rc && i < na; i++) {
                double q = dims[axes[i]] ? (double)sz[i] / (double)dims[axes[i]] : 1.0;
                s = larger ? fmax(s, q) : fmin(s, q);
            }
            for (int i = 0; !rc && i < na; i++) {
                fsc[axes[i]] = s;
                fsz[axes[i]] = (int64_t)floor(s * (double)dims[axes[i]] + 0.5);
            }
        } else {
            for (int i = 0; !rc && i < na; i++) {
                fsz[axes[i]] = sz[i];
                fsc[axes[i]] = dims[axes[i]] ? (double)sz[i] / (double)dims[axes[i]] : 1.0;
            }
        }
    }
    free(roi), free(sc), free(sz);
    if (rc) return -1;
    int node = emit_resize(N, r, fsc, fsz, crop ? froi : NULL, rank);
    return onnx_finish(N, node);
}
