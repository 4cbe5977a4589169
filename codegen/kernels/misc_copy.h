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
 * Transpose (4-byte elements): the lowering merges input axes that stay adjacent and drops axes
 * of size 1, leaving output dims `dims` with the input's element stride `istr` of each. When
 * the output's last axis is the input's last (q < 0) a work item copies one output row; else
 * output axis q is the input's last axis (stride 1), and a work item = (index over the other
 * axes, 16 values of q) moves 16 x 16 tiles (16 input rows along q -> 16 output rows along the
 * last axis) through km_transpose16; partial tiles element by element.
 * Buffers: LayoutTransform 0 = X, 1 = Y; Concat 0..n_in-1 = inputs, n_in = Y; Transpose 0 = X,
 * 1 = Y.
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
/* ---------------------------------------------------------------- Transpose */
#define KM_TRANSPOSE_RANK 6

typedef struct KmTransposeParams {
    int32_t rank; /* >= 1, after merging */
    int32_t q;    /* the output axis that is the input's last (stride 1), -1 when that is the
                     output's last axis too */
    int64_t dims[KM_TRANSPOSE_RANK]; /* output dims */
    int64_t istr[KM_TRANSPOSE_RANK]; /* input element stride of each output axis */
    int64_t n_outer;                 /* product of the dims other than q and the last */
    int64_t qtiles;                  /* ceil(dims[q] / 16), 1 when q < 0 */
} KmTransposeParams;

KC_INLINE int64_t k_transpose_work(const KmTransposeParams *p) { return p->n_outer * p->qtiles; }

KC_INLINE void k_transpose_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KmTransposeParams *p = (const KmTransposeParams *)params;
    const float *X = (const float *)bufs[0];
    float *Y = (float *)bufs[1];
    const int r = p->rank, last = r - 1;
    int64_t ostr[KM_TRANSPOSE_RANK];
    ostr[last] = 1;
    for (int k = last - 1; k >= 0; k--) ostr[k] = ostr[k + 1] * p->dims[k + 1];
    const int64_t J = p->dims[last], sj = p->istr[last];
    for (int64_t it = begin; it < end; it++) {
        int64_t o = it / p->qtiles, ib = 0, ob = 0;
        const int64_t qt = it % p->qtiles;
        for (int k = last - 1; k >= 0; k--) { /* the outer index over the axes other than q, last */
            if (k == p->q) continue;
            const int64_t i = o % p->dims[k];
            o /= p->dims[k];
            ib += i * p->istr[k], ob += i * ostr[k];
        }
        if (p->q < 0) { /* a row: the last axes agree, so sj == 1 */
            km_copy_bytes((unsigned char *)(Y + ob), (const unsigned char *)(X + ib), J * 4);
            continue;
        }
        const int64_t q0 = qt * KC_VL, oq = ostr[p->q];
        const int64_t qn = p->dims[p->q] - q0 < KC_VL ? p->dims[p->q] - q0 : KC_VL;
        const float *xs = X + ib + q0;
        float *ys = Y + ob + q0 * oq;
        int64_t j0 = 0;
        if (qn == KC_VL)
            for (; j0 + KC_VL <= J; j0 += KC_VL) {
                kc_v16 t[KC_VL];
                for (int j = 0; j < KC_VL; j++) t[j] = kc_load(xs + (j0 + j) * sj);
                km_transpose16(t);
                for (int q = 0; q < KC_VL; q++) kc_store(ys + q * oq + j0, t[q]);
            }
        for (int64_t q = 0; q < qn; q++)
            for (int64_t j = j0; j < J; j++) ys[q * oq + j] = xs[q + j * sj];
    }
}

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
