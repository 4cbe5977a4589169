/* lower_conv.c — the lowering of blocked Conv nodes to the native convolution kernels
 * (codegen/kernels/conv.h, conv_dw.h; contract in lowering.h).
 *
 * Accepts a Conv with attribute layout = "NCHW16c" (docs/codegen.md): f32, 2-D, input plain
 * [N, C, H, W] or blocked [N, ceil(C/16), H, W, 16], output blocked, constant weights and bias,
 * optional residual (4th input, same shape as the output), fused activation. The plan
 * (codegen/pack.c) picks the kernel instance and register tile, honouring the schedule
 * attributes sched_oc_tile / sched_ow_tile when they name a compiled tile; weights and bias are
 * packed into blobs. Buffers: x, packed weights, bias, residual or none, y.
 * Narrow groups (w = C/group = M/group channels in and out, 16 % w == 0, w > 1; the pass
 * legalize widens them in the IR already when C % 16 == 0, this covers the others): the kernel runs
 * ceil(C/16) groups of 16 channels, 16/w original groups each with block-diagonal weights (zeros
 * between them and in the padded lanes, which hold zeros by the padded-lane rule), so the IR
 * keeps the logical conv. RegNetY-400MF's 104- and 440-channel stages (w = 8).
 * Returns 0 (fallback) for Conv nodes the kernels do not handle: no layout attribute, other
 * dtypes or ranks, non-constant weights, other groups whose channels are not multiples of 16, ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/lowering.h"
#include "codegen/pack.h"
#include "codegen/kernels/kcommon.h"
#include "ir/activation.h"

#define SAME_ACT(k) ((int)KC_ACT_##k == (int)ACT_##k)
_Static_assert(SAME_ACT(RELU) && SAME_ACT(LEAKY_RELU) && SAME_ACT(CLIP) && SAME_ACT(SIGMOID) && SAME_ACT(TANH) &&
                   SAME_ACT(HARD_SIGMOID) && SAME_ACT(HARD_SWISH) && SAME_ACT(GELU) && SAME_ACT(COUNT),
               "kernel activation codes must equal ActKind");
#undef SAME_ACT

/* n floats, 64-byte aligned, for a blob (codegen frees it with free()); aborts when out of
 * memory like xmalloc. */
static float *alloc_floats(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) p = NULL;
    IR_ASSERT(p != NULL);
    return p;
}

static int same_dims(const Value *a, const Value *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* The kernel description of Conv node n: 1 if it is one the native kernels may handle, 0 if not
 * (fallback), -1 with d set on an inconsistent node. Value ids are returned for the call. */
static int conv_desc(const Graph *g, const Node *n, CgConvDesc *out, int *xi_out, int *wi_out, int *bi_out, int *ri_out,
                     int *yi_out, Diag *d)
{
    if (n->op != OP_CONV || n->n_out < 1 || n->n_in < 2) return 0;
    const char *layout = ir_attr_str(n, "layout", NULL);
    if (!layout || strcmp(layout, "NCHW16c")) return 0;
    const int xi = n->in[0], wi = n->in[1], bi = n->n_in > 2 ? n->in[2] : -1, ri = n->n_in > 3 ? n->in[3] : -1;
    const int yi = n->out[0];
    if (xi < 0 || wi < 0 || yi < 0) return 0;
    const Value *x = &g->values[xi], *w = &g->values[wi], *y = &g->values[yi];
    const Value *b = bi >= 0 ? &g->values[bi] : NULL, *r = ri >= 0 ? &g->values[ri] : NULL;
    if (x->dtype != DT_F32 || w->dtype != DT_F32 || y->dtype != DT_F32) return 0;
    if (w->kind != VAL_CONST || !w->data || w->rank != 4) return 0;
    if (b && (b->kind != VAL_CONST || !b->data || b->dtype != DT_F32 || ir_value_numel(b) != w->dims[0]))
        return 0;
    int blocked = x->rank == 5;
    if (!blocked && x->rank != 4) return 0;
    if (blocked && x->dims[4] != IR_LAYOUT_BLOCK) return 0;

    int64_t group = ir_attr_int(n, "group", 1);
    if (group < 1) return 0;
    int64_t C = w->dims[1] * group, M = w->dims[0];
    if (blocked ? x->dims[1] != (C + IR_LAYOUT_BLOCK - 1) / IR_LAYOUT_BLOCK : x->dims[1] != C) return 0;
    int64_t xdims[4] = {x->dims[0], C, x->dims[2], x->dims[3]};
    ConvGeom geo;
    if (ir_conv_geometry(n, 4, xdims, w->dims, &geo, d)) return -1;
    if (geo.nsp != 2) return 0;
    int64_t ydims[5] = {x->dims[0], (M + IR_LAYOUT_BLOCK - 1) / IR_LAYOUT_BLOCK, geo.out[0], geo.out[1],
                        IR_LAYOUT_BLOCK};
    if (y->rank != 5) return 0;
    for (int i = 0; i < 5; i++)
        if (y->dims[i] != ydims[i]) return node_error(d, n, "blocked output shape does not match the conv");
    if (r && (r->dtype != DT_F32 || !same_dims(r, y)))
        return node_error(d, n, "residual input must have the output's blocked shape");
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;

    /* narrow groups: run as groups of 16 channels (weights widened by widen_weights below); the
     * input must be blocked, whose padded channels exist (and are zero) */
    const int64_t cw = C / group;
    const int narrow = blocked && group > 1 && group != C && cw == M / group && cw > 1 && IR_LAYOUT_BLOCK % cw == 0;
    CgConvDesc desc = {
        .n = x->dims[0], .ic = C, .ih = geo.in[0], .iw = geo.in[1],
        .oc = M, .oh = geo.out[0], .ow = geo.out[1],
        .kh = geo.kernel[0], .kw = geo.kernel[1], .sh = geo.stride[0], .sw = geo.stride[1],
        .dh = geo.dilation[0], .dw = geo.dilation[1], .ph = geo.pad_begin[0], .pw = geo.pad_begin[1],
        .group = group, .blocked_in = blocked,
        .act = (int)act.kind, .alpha = (float)act.alpha, .beta = (float)act.beta,
        .has_res = r != NULL,
        /* the padded lanes must stay zero (docs/codegen.md §1): the kernel zeroes them */
        .keep_lanes = M % IR_LAYOUT_BLOCK && activation_apply(&act, 0.0) != 0.0 ? (int)(M % IR_LAYOUT_BLOCK) : 0,
        .oc_tile = (int)ir_attr_int(n, "sched_oc_tile", 0), .ow_tile = (int)ir_attr_int(n, "sched_ow_tile", 0),
        .w = group == 1 ? w->data : NULL,
    };
    if (narrow) {
        desc.group = (C + IR_LAYOUT_BLOCK - 1) / IR_LAYOUT_BLOCK;
        desc.ic = desc.oc = desc.group * IR_LAYOUT_BLOCK;
    }
    *out = desc;
    *xi_out = xi, *wi_out = wi, *bi_out = bi, *ri_out = ri, *yi_out = yi;
    return 1;
}

/* Weights [M, C/group, KH, KW] and bias [M] of a narrow-group conv (above) as those of the
 * widened one, [OC, 16, KH, KW] and [OC] with OC = desc->oc: filter m keeps its w weights at
 * input position m / w * w % 16 of its group of 16 (the original group's place in it); the rest,
 * and the padded filters, are zeros. NULL outputs when the conv is not widened. */
static void widen_weights(const CgConvDesc *desc, const Value *w, const Value *b, float **wo, float **bo)
{
    *wo = *bo = NULL;
    const int64_t M = w->dims[0], cw = w->dims[1], kk = w->dims[2] * w->dims[3];
    if (desc->ic / desc->group == cw) return; /* not widened */
    *wo = alloc_floats((size_t)(desc->oc * IR_LAYOUT_BLOCK * kk));
    memset(*wo, 0, (size_t)(desc->oc * IR_LAYOUT_BLOCK * kk) * sizeof(float));
    const float *ow = w->data;
    for (int64_t m = 0; m < M; m++)
        memcpy(*wo + (m * IR_LAYOUT_BLOCK + m / cw * cw % IR_LAYOUT_BLOCK) * kk, ow + m * cw * kk,
               (size_t)(cw * kk) * sizeof(float));
    if (b) {
        *bo = alloc_floats((size_t)desc->oc);
        memset(*bo, 0, (size_t)desc->oc * sizeof(float));
        memcpy(*bo, b->data, (size_t)M * sizeof(float));
    }
}

int cg_conv_choose_tile(const Graph *g, const Node *n, const CgTarget *t, int *oc_tile, int *ow_tile)
{
    CgConvDesc desc;
    int xi, wi, bi, ri, yi;
    if (conv_desc(g, n, &desc, &xi, &wi, &bi, &ri, &yi, NULL) != 1) return 0;
    desc.oc_tile = desc.ow_tile = 0; /* let the cost model choose */
    CgTarget direct = *t;
    direct.winograd = 0; /* the register tile of the direct kernel, whichever kernel runs */
    CgConvPlan plan;
    if (!cg_conv_plan(&desc, &direct, &plan)) return 0;
    if (plan.depthwise) {
        *oc_tile = 1;
        *ow_tile = plan.dw.tile;
    } else {
        *oc_tile = plan.conv.oc_tile;
        *ow_tile = plan.conv.ow_tile;
    }
    return 1;
}

int cg_lower_conv(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d)
{
    CgConvDesc desc;
    int xi, wi, bi, ri, yi;
    int ok = conv_desc(g, n, &desc, &xi, &wi, &bi, &ri, &yi, d);
    if (ok != 1) return ok;
    const Value *w = &g->values[wi];
    const Value *b = bi >= 0 ? &g->values[bi] : NULL, *r = ri >= 0 ? &g->values[ri] : NULL;
    CgConvPlan plan;
    if (!cg_conv_plan(&desc, t, &plan)) return 0;

    float *wp = alloc_floats(plan.w_floats), *bp = alloc_floats(plan.b_floats), *ww, *wb;
    widen_weights(&desc, w, b, &ww, &wb);
    cg_conv_pack_weights(&desc, &plan, ww ? ww : w->data, wp);
    cg_conv_pack_bias(&desc, &plan, wb ? wb : b ? b->data : NULL, bp);
    free(ww);
    free(wb);

    cg_call_init(call, plan.range_fn);
    call->n_work = plan.n_work;
    call->grain = plan.grain;
    if (plan.sparse_wino)
        cg_call_params(call, &plan.swino, sizeof plan.swino);
    else if (plan.winograd)
        cg_call_params(call, &plan.wino, sizeof plan.wino);
    else if (plan.depthwise)
        cg_call_params(call, &plan.dw, sizeof plan.dw);
    else
        cg_call_params(call, &plan.conv, sizeof plan.conv);
    cg_call_value(call, xi);
    cg_call_blob(call, wp, plan.w_floats * sizeof(float), 64);
    cg_call_blob(call, bp, plan.b_floats * sizeof(float), 64);
    if (r)
        cg_call_value(call, ri);
    else
        cg_call_none(call);
    cg_call_value(call, yi);
    snprintf(call->note, sizeof call->note, "%s", plan.note);
    return 1;
}
