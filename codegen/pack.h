/* pack.h — compile-time preparation of the convolution kernels (codegen/kernels/conv.h,
 * conv_dw.h): choosing a kernel instance and register tile and filling its parameter struct
 * (the plan), and packing weights and bias into the layouts the kernels read (for the Winograd
 * kernel: the weights transformed). Native C, run by
 * ppcc while it lowers a Conv node (lower_conv.c); also used by the kernel tests and the
 * convolution benchmark.
 */
#ifndef PPCC_CODEGEN_PACK_H
#define PPCC_CODEGEN_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/lowering.h"
#include "codegen/kernels/conv_params.h"

/* A 2-D f32 convolution in logical terms (dims of the plain NCHW tensors, ONNX attributes
 * resolved by ir_conv_geometry). */
typedef struct CgConvDesc {
    int64_t n, ic, ih, iw;        /* input */
    int64_t oc, oh, ow;           /* output */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t ph, pw;               /* leading pads (trailing ones follow from the output size) */
    int64_t group;
    int blocked_in;               /* input NCHW16c (else plain NCHW); the output is NCHW16c */
    int act;                      /* KC_ACT_* (= ActKind) */
    float alpha, beta;
    int has_res;
    int keep_lanes;               /* 0, or OC % 16 when act(0) != 0: padded lanes zeroed by the kernel */
    int oc_tile, ow_tile;         /* requested register tile (schedule), 0 = choose */
    const float *w;               /* the weights [OC, IC, KH, KW] of a group-1 conv, or NULL: with
                                     them the plan may take the sparse Winograd kernel */
} CgConvDesc;

typedef struct CgConvPlan {
    int depthwise;                /* 1: dw (KDwParams), 0: conv (KConvParams) or Winograd */
    int winograd;                 /* 1: Winograd F(2x2,3x3) or F(4x4,3x3) (KWinoParams, conv_wino.h) */
    KConvParams conv;
    KDwParams dw;
    KWinoParams wino;
    int sparse_wino;              /* 1: sparse Winograd F(4x4,3x3) (KSWinoParams, conv_swino.h) */
    KSWinoParams swino;
    const char *range_fn;         /* exported kernel instance, e.g. "kx_conv_b1_2x14_range" */
    int64_t n_work, grain;
    size_t w_floats, b_floats;    /* packed weight and bias sizes */
    char note[128];               /* for --stats */
} CgConvPlan;

/* Plan desc for target t. Returns 1, or 0 if no native kernel handles it (groups whose
 * channels are not multiples of 16, plain-input depthwise, shapes too large for the kernels'
 * 32-bit coordinates, ...). With t->winograd, a 3x3 stride-1 conv the Winograd kernel handles
 * goes to it (the requested register tile is then ignored): to the sparse one when desc->w is
 * given and at most KSW_DENSITY_MAX of its kernels are kept (t->winograd 1). */
int cg_conv_plan(const CgConvDesc *desc, const CgTarget *t, CgConvPlan *plan);
/* Pack ONNX weights w [OC, IC/group, KH, KW] into dst (plan->w_floats floats, zero padded). */
void cg_conv_pack_weights(const CgConvDesc *desc, const CgConvPlan *plan, const float *w, float *dst);
/* Bias b [OC] (NULL: zeros) into dst (plan->b_floats floats, zero padded). */
void cg_conv_pack_bias(const CgConvDesc *desc, const CgConvPlan *plan, const float *b, float *dst);

#endif
