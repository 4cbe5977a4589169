/* misc_copy.h — native data movement: LayoutTransform between plain NCHW [N, C, S] and blocked
 * NCHW16c [N, CB, S, 16] (S = product of the spatial dims; padded lanes c >= C written as 0,
 * as ir_layout_convert does) for 4-byte elements, and Concat of any dtype along any axis as
 * byte copies of each input's slabs.
 *
 * LayoutTransform: work item = (n, channel block, chunk of `chunk` pixels); 16 pixels of 16
 * channels are moved as a 16x16 tile transposed in vector registers (km_transpose16).
 * Concat: Y viewed as [outer, sum of the inputs' rows]: input k contributes slab[k] bytes per
 * outer index at byte offset off[k] of Y's row; each slab is cut into chunks of `chunk` bytes;
 * work item = (outer index, input, chunk). The memory planner usually makes channel Concat a
 * no-op (inputs written in place), in which case codegen does not call this kernel.
 * Buffers: LayoutTransform 0 = X, 1 = Y; Concat 0..n_in-1 = inputs, n_in = Y.
 */
#ifndef PPCC_KERNELS_MISC_COPY_H
#define PPCC_KERNELS_MISC_COPY_H

#include "misc_common.h"

KM_BEGIN

typedef struct KmLayoutParams {
    int32_t to_blocked; /* 1: NCHW -> NCHW16c; 0: NCHW16c -> NCHW */
    int32_t reserved;
    int64_t N, C, CB, S;
    int64_t chunk;   /* pixels per work item (multiple of 16) */
    int64_t nchunks; /* ceil(S / chunk) */
} KmLayoutParams;

KC_INLINE int64_t k_layout_work(const KmLayoutParams *p) { return p->N * p->CB * p->nchunks; }

/* bufs: X, Y (4-byte elements, moved as floats: bit patterns are preserved) */
KC_INLINE void k_layout_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmLayoutParams *p = (const KmLayoutParams *)params;
    const int64_t C = p->C, CB = p->CB, S = p->S;
    const float *X = (const float *)bufs[0];
    float *Y = (float *)bufs[1];
    for (int64_t it = begin; it < end; it++) {
        int64_t pc = it % p->nchunks, nb = it / p->nchunks; /* nb = n * CB + cb */
        int64_t n = nb / CB, cb = nb % CB;
        int64_t p0 = pc * p->chunk, p1 = p0 + p->chunk < S ? p0 + p->chunk : S;
        int64_t nc = C - cb * KC_VL < KC_VL ? C - cb * KC_VL : KC_VL; /* real channels */
        const int64_t plain0 = (n * C + cb * KC_VL) * S; /* channel cb*16, pixel 0 */
        float *blk = p->to_blocked ? Y + nb * S * KC_VL : (float *)0;
        const float *cblk = p->to_blocked ? (const float *)0 : X + nb * S * KC_VL;
        int64_t q = p0;
        for (; q + KC_VL <= p1; q += KC_VL) {
            kc_v16 t[KC_VL];
            if (p->to_blocked) { /* 16 pixels of each channel -> 16 channels of each pixel */
                for (int l = 0; l < KC_VL; l++) t[l] = l < nc ? kc_load(X + plain0 + l * S + q) : kc_splat(0.0f);
                km_transpose16(t);
                for (int a = 0; a < KC_VL; a++) kc_store(blk + (q + a) * KC_VL, t[a]);
            } else {
                for (int a = 0; a < KC_VL; a++) t[a] = kc_load(cblk + (q + a) * KC_VL);
                km_transpose16(t);
                for (int l = 0; l < nc; l++) kc_store(Y + plain0 + l * S + q, t[l]);
            }
        }
        for (; q < p1; q++) {
            if (p->to_blocked)
                for (int l = 0; l < KC_VL; l++) blk[q * KC_VL + l] = l < nc ? X[plain0 + l * S + q] : 0.0f;
            else
                for (int l = 0; l < nc; l++) Y[plain0 + l * S + q] = cblk[q * KC_VL + l];
        }
    }
}

/* ---------------------------------------------------------------- Concat */
#define KM_CONCAT_MAX 15 /* inputs (CG_MAX_BUFS - 1) */

typedef struct KmConcatParams {
    int32_t n_in;
    int32_t reserved;
    int64_t outer;              /* product of the dims before the axis */
    int64_t row;                /* bytes of Y per outer index */
    int64_t chunk;              /* bytes per work item */
    int64_t total;              /* chunks per outer index (sum of nch) */
    int64_t slab[KM_CONCAT_MAX]; /* bytes of input k per outer index */
    int64_t off[KM_CONCAT_MAX];  /* byte offset of input k in Y's row */
    int64_t first[KM_CONCAT_MAX]; /* index of input k's first chunk within an outer index */
} KmConcatParams;

KC_INLINE int64_t k_concat_work(const KmConcatParams *p) { return p->outer * p->total; }

/* bufs: inputs..., Y */
KC_INLINE void k_concat_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmConcatParams *p = (const KmConcatParams *)params;
    unsigned char *Y = (unsigned char *)bufs[p->n_in];
    for (int64_t it = begin; it < end; it++) {
        int64_t o = it / p->total, c = it % p->total;
        int k = 0;
        while (k + 1 < p->n_in && c >= p->first[k + 1]) k++;
        int64_t b0 = (c - p->first[k]) * p->chunk;
        int64_t nb = p->slab[k] - b0 < p->chunk ? p->slab[k] - b0 : p->chunk;
        const unsigned char *src = (const unsigned char *)bufs[k] + o * p->slab[k] + b0;
        km_copy_bytes(Y + o * p->row + p->off[k] + b0, src, nb);
    }
}

KM_END

#endif
