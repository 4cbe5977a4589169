/* conv_params.h — the parameter structs and instance lists of the convolution kernels (conv.h:
 * blocked dense convolution, conv_dw.h: depthwise), without the kernel code, so that the
 * compiler side (codegen/pack.c, lower_conv.c) can fill them and name the instances. Plain C
 * structs of int64_t/int32_t/float fields (laid out identically on x86-64 and aarch64).
 */
#ifndef PPCC_KERNELS_CONV_PARAMS_H
#define PPCC_KERNELS_CONV_PARAMS_H

#include <stdint.h>

/* ---------------------------------------------------------------- dense blocked conv (conv.h) */
#define KCONV_OCMAX 4  /* output-channel blocks per tile, at most */
#define KCONV_TMAX 28  /* pixels per tile, at most */

/* X(OC, T, ...): the register tiles (accumulators OC*T <= 28 leave room for the OC weight
 * vectors and a broadcast in 32 vector registers); extra arguments are passed through. */
#define KCONV_SHAPES(X, ...)                                                                      \
    X(4, 6, __VA_ARGS__) X(4, 4, __VA_ARGS__) X(3, 9, __VA_ARGS__) X(3, 8, __VA_ARGS__)           \
    X(3, 7, __VA_ARGS__) X(2, 14, __VA_ARGS__) X(2, 12, __VA_ARGS__) X(2, 8, __VA_ARGS__)         \
    X(2, 7, __VA_ARGS__) X(2, 4, __VA_ARGS__) X(1, 28, __VA_ARGS__) X(1, 16, __VA_ARGS__)         \
    X(1, 14, __VA_ARGS__) X(1, 8, __VA_ARGS__) X(1, 7, __VA_ARGS__) X(1, 4, __VA_ARGS__)

/* X(class, ICI, PS): lanes per input block and fast-path pixel stride in floats (0: none). */
#define KCONV_CLASSES(X) \
    X(b1, 16, 16)        \
    X(b2, 16, 32)        \
    X(bg, 16, 0)         \
    X(p1, 1, 1)          \
    X(p2, 1, 2)          \
    X(pg, 1, 0)

typedef struct KConvParams {
    int64_t n_work;       /* N * n_og * n_pg */
    int64_t n_og;         /* output-channel tiles */
    int64_t n_pg;         /* pixel groups per image */
    int64_t pix_per_item; /* output pixels per work item (pixel group) */
    int64_t x_img, x_blk; /* input strides in floats: image; block (blocked) or channel (plain) */
    int64_t x_row, x_pix; /* input strides in floats: row; pixel (16 blocked, 1 plain) */
    int64_t y_img, y_blk; /* output strides in floats: image; block (OH*OW*16) */
    int64_t w_og;         /* packed weight floats per output-channel tile */
    int32_t ih, iw, oh, ow;
    int32_t kh, kw, sh, sw, dh, dw, ph, pw; /* kernel, strides, dilations, leading pads */
    int32_t icb_g;        /* input blocks (blocked) or channels (plain) per group */
    int32_t ocb_g;        /* output blocks per group (a multiple of oc_tile) */
    int32_t icb_chunk;    /* input blocks per pass over the item's tiles */
    int32_t oc_tile, ow_tile; /* the instance's register tile (checked by the lowering) */
    int32_t act;          /* KC_ACT_* */
    float alpha, beta;
    int32_t has_res;
    int32_t keep_lanes;   /* 0, or the channels (1..15) of the last output block when the activation
                             does not map 0 to 0: its other lanes are zeroed after each item */
    int32_t scr_w;        /* plain input, one output row per item: > 0 = columns of a zero-padded
                             copy of the item's input rows (conv.h kconv_item_rows), 0 = none */
} KConvParams;

/* Floats of the plain conv's zero-padded row copy (on the stack): 24 KB. */
#define KCONV_SCRATCH_FLOATS 6144

/* ---------------------------------------------------------------- depthwise conv (conv_dw.h) */
#define KDW_TMAX 16

/* X(T, ...): pixels per tile; extra arguments are passed through. */
#define KDW_SHAPES(X, ...) X(16, __VA_ARGS__) X(14, __VA_ARGS__) X(8, __VA_ARGS__) X(7, __VA_ARGS__) X(4, __VA_ARGS__)
/* X(class, PS, KW): fast-path pixel stride in floats (0: pointer path only); kernel width fixed
 * at compile time with column dilation 1 (0: any). */
#define KDW_CLASSES(X) \
    X(s1k3, 16, 3)     \
    X(s2k3, 32, 3)     \
    X(s1, 16, 0)       \
    X(s2, 32, 0)       \
    X(sg, 0, 0)

typedef struct KDwParams {
    int64_t n_work;       /* N * n_cb * n_pg */
    int64_t n_cb;         /* channel blocks */
    int64_t n_pg;         /* pixel groups per image */
    int64_t pix_per_item; /* output pixels per work item */
    int64_t x_img, x_blk; /* input strides in floats: image, block (IH*IW*16) */
    int64_t y_img, y_blk; /* output strides in floats: image, block (OH*OW*16) */
    int32_t ih, iw, oh, ow;
    int32_t kh, kw, sh, sw, dh, dw, ph, pw;
    int32_t tile;         /* the instance's T (checked by the lowering) */
    int32_t act;          /* KC_ACT_* */
    float alpha, beta;
    int32_t has_res;
    int32_t scr_rows;     /* > 0: output rows per item, computed from a zero-padded copy */
    int32_t scr_w;        /* columns of that copy */
    int32_t keep_lanes;   /* as KConvParams: 0, or the channels of the last block (act(0) != 0) */
} KDwParams;

/* Floats of the dw kernel's zero-padded input copy (on the stack): 24 KB. */
#define KDW_SCRATCH_FLOATS 6144

/* ---------------------------------------------------------------- Winograd F(2x2,3x3), F(4x4,3x3) (conv_wino.h) */
/* X(OGB, SFX, PF, WM): the instances, OGB output blocks per work item (the register tile is 6
 * tiles x OGB blocks), PF 1 for the variant _pf that prefetches U (KWINO_UPF_BYTES): one function
 * each, so that the plain variant's code is not laid out around the other's (both in one
 * function measured 2-4% slower at 64-128 channels); WM the output tile's side: 2 for
 * F(2x2,3x3), 4 for F(4x4,3x3) (the _f4 instances) */
#define KWINO_INSTANCES(X)                                                                        \
    X(4, , 0, 2) X(2, , 0, 2) X(1, , 0, 2) X(4, _pf, 1, 2) X(2, _pf, 1, 2) X(1, _pf, 1, 2)          \
    X(4, _f4, 0, 4) X(2, _f4, 0, 4) X(1, _f4, 0, 4) X(4, _f4pf, 1, 4) X(2, _f4pf, 1, 4) X(1, _f4pf, 1, 4)
#define KWINO_TT 6 /* tiles per register tile (conv_wino.h) */

typedef struct KWinoParams {
    int64_t n_work;       /* N * n_og * n_tb */
    int64_t n_og, n_tb;   /* output groups (OGB blocks each), tile blocks per image */
    int64_t x_img, y_img; /* floats per image of x, y */
    int32_t ih, iw, oh, ow, ph, pw;
    int32_t icb, ocb;     /* input and output blocks */
    int32_t th, tw;       /* tiles (wm x wm outputs) down and across */
    int32_t tb;           /* tiles per work item */
    int32_t chunk;        /* input blocks per pass (V on the stack: KWINO_VFLOATS) */
    int32_t ogb;          /* the instance's OGB (the weight packing's layout) */
    int32_t wm;           /* the instance's output tile side, 2 or 4 (the weight packing's layout) */
    int32_t act;          /* KC_ACT_* with act(0) = 0, or the padded output lanes must be 0 */
    float alpha, beta;
} KWinoParams;

/* Stack scratch of the Winograd kernel: V (16 x (tiles x chunk blocks x 16 + KWINO_VPAD)) and M
 * (tiles x OGB x KWINO_MS x 16) floats: 197 KB (4 blocks of 49 tiles) and 213 KB (49 tiles of 4
 * blocks). */
#define KWINO_VPAD 16   /* floats after V's rows of one xi */
#define KWINO_MS 17     /* vectors per tile and block in M: 16 and one of padding */
#define KWINO_TBMAX 49  /* tiles per work item, at most */
/* An output group's U (NX x ICB*16 x OGB x 16 floats) larger than this takes the _pf or _f4pf
 * instance, which prefetches it (the hardware prefetcher does not run ahead of its slices, one
 * per transform position, from L3).
 * Measured on Cascade Lake (1 MB L2), kernel alone, min of 15-30 runs: F(2x2) 256 channels at
 * 14x14 (1 MB) 1.07-1.11 -> 1.07-1.08 ms, 512 at 7x7 (2 MB) 2.55 -> 1.87 ms; at 64 and 128
 * channels (256 and 512 KB, from L2) prefetching cost 5-15%. F(4x4) at 64 channels (590 KB):
 * 1.10-1.14x the time with the prefetches (56x56 and 224x224), at 128 channels (1.2 MB) whole
 * dense resnet18 0.985x. */
#define KWINO_UPF_BYTES (768 * 1024)
/* With the prefetches, one transform position's U per pass (chunk x 16 x OGB vectors) at most
 * this: 6 blocks at OGB 4 (512 channels at 7x7: 8 blocks 1.06x the time of 4 or 6). */
#define KWINO_UPF_SLICE_BYTES (24 * 1024)
#define KWINO_VFLOATS (16 * (4 * KWINO_TBMAX * 16 + KWINO_VPAD))
#define KWINO_MFLOATS (KWINO_TBMAX * 4 * KWINO_MS * 16)

/* Sparse Winograd F(4x4,3x3) (conv_swino.h): KSW_TV vectors of 16 tiles per work item, KSW_XB
 * transform positions per pass of the products (KSW_TV x KSW_XB accumulators), at most
 * KSW_MGMAX filters per item and KSW_CCMAX input channels per chunk. V's rows of one position are
 * padded by 48 floats and M's rows of one filter by 16 (rows a multiple of 4 KB apart put a
 * pass's loads into a few L1 sets). Stack: V 36 x KSW_VXS and M KSW_MFLOATS floats, 154 KB and
 * 606 KB, and 52 KB of transpose scratch. Chosen on vgg16's and resnet18's 64- and 128-channel
 * layers at connectivity 0.72 against 16-64 tiles, 2-12 positions, 32-256 filters and chunks of
 * 32-128 channels (docs/codegen.md §5). */
#define KSW_TV 1
#define KSW_XB 6
#define KSW_MGMAX 256
#define KSW_CCMAX 64
#define KSW_VXS (KSW_CCMAX * KSW_TV * 16 + 48)
#define KSW_MST (36 * KSW_TV * 16 + 16)
#define KSW_MFLOATS (KSW_MGMAX * KSW_MST)

typedef struct KSWinoParams {
    KWinoParams g;          /* geometry as the dense kernel's: wm = 4, tb = 16 * KSW_TV tiles, ogb = mg / 16 */
    int32_t mg;             /* filters per work item (a multiple of 16, at most KSW_MGMAX) */
    int32_t cc;             /* input channels per chunk (a multiple of 16, at most KSW_CCMAX) */
    int32_t n_ch;           /* chunks */
    int32_t pad_;
    int64_t cnt_at, ks_at, idx_at, u_at; /* sections of the weight blob, in 4-byte words */
} KSWinoParams;

#endif
