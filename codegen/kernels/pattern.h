/* pattern.h — the pattern-sparse convolution kernels: PatternPad (blocked or plain input ->
 * zero-padded stride-phase planes) and PatternConv (compact filter-kernel-weight storage ->
 * blocked NCHW16c output with bias, residual and activation fused). The ops are defined in
 * ir/pattern.c; the schedule (tiles, load plan, cost model) is pattern_plan.h.
 *
 * PatternConv work item = (image n, output tile, output block ob of 16 filters), ob fastest so
 * a thread's contiguous range of items covers every filter. The kernels of a block are stored
 * by input-channel block, then pattern, then channel and filter (ir/pattern.c), so a run of one
 * pattern spans all 16 filters: few, long runs (their ends are the only unpredictable
 * branches). Per item:
 *   accumulator memory of the 16 filters (R x U vectors each, in L1) = 0
 *   for each input-channel block cb:            (the planes a tile reads for cblock channels
 *     for each pattern p (unrolled: a branch-    stay in L1 for all of the block's kernels)
 *                         free body per pattern, K and the taps are constants of the
 *                         specialised layer):
 *       for each kernel k of (ob, cb, p): channel c, filter f = idx[k] >> 4, idx[k] & 15
 *         acc = filter f's accumulators; for each tap t of p: broadcast w[k][t];
 *         acc[r][u] += w * x[c][off[p][t] + r*PW + 16u]; store acc back
 *       (off[p][t] = copy*CH*CW + dy*CW + dx (rows) or copy*CH*CW + dy*PW + dx (flat): the
 *        tap's phase's copy at its shift, unaligned unless a multiple of 16, pattern_plan.h;
 *        immediates after specialisation, so the loads
 *        of identical addresses across taps and rows are merged by LLVM: the load plan;
 *        consecutive kernels belong to different filters, so their chains overlap)
 *   epilogue: per valid output pixel the 16 filters' sums (+ bias, + residual, activation) as
 *   one vector of the blocked output.
 * The item actually covers og blocks (KPatParams.og, sched_obs), and the kernels of one
 * (channel, pattern) for up to KPAT_GMAX of its filters form a group that shares its input loads
 * (kpat_groups below).
 * Buffers (the lowering's encoding of the IR tables, lower_pattern.c): 0 copies, 1 bias [MB*16]
 *          (zero padded), 2 residual (blocked, like y) or NULL, 3 y, 4 runs [block b][G-1]: where
 *          block b's (group of og blocks, channel block, pattern) groups of G kernels start, then
 *          5 + G-1: the records of groups of G kernels (pattern_plan.h kpat_rec_words: channel
 *          byte offset c * chan_stride * 4, G accumulator byte offsets slot * R*U*64 with slot =
 *          16 * block-in-group + filter, G x NT weights).
 * Banded (lower_pattern.c band_rows, when the copies are large): the pad's items are (image,
 * band, channel block) and write one band of copy rows into a buffer of chb rows per copy; the
 * conv's tile row is taken modulo its band; codegen/native.c runs pad and conv band by band.
 * PatternPad work item = (image n, channel block of 16) for blocked input, (n, channel) for plain;
 * each copy element is what ir/pattern.c defines. Blocked input goes 16 pixels at a time through
 * an in-register transpose (rows mode: straight into the copies' rows; flat mode: into a stage
 * of the phase plane, which every copy of that phase then slices); the rest element by element.
 * Buffers: 0 x, 1 planes.
 * Instances: k_pattern_conv_<flat>_<R>_<U> (KPAT_TILES) and k_pattern_pad, exported by
 * pattern.c; the lowering (codegen/lower_pattern.c) picks one by name.
 */
#ifndef PPCC_KERNELS_PATTERN_H
#define PPCC_KERNELS_PATTERN_H

#include "kcommon.h"
#include "pattern_plan.h"

typedef struct KPatParams {
    int64_t n_work;
    int64_t tiles, tiles_c;  /* per image (pattern_plan.h KPatWalk) */
    int64_t chan_stride;     /* floats per input channel: NC * CH * CW (the copies) */
    int64_t img_stride;      /* floats per image of the copies: C * chan_stride */
    int64_t y_img;           /* floats per image of y: MB * OH * OW * 16 */
    int32_t m, mb, oh, ow, pw, cw, ncb, k, nt; /* pw: flat grid width; cw: rows' stride */
    int32_t og;              /* output blocks per work item (1 .. KPAT_OGMAX) */
    int32_t band_tr;         /* banded: tile rows per band, the copies hold one band (0: all) */
    int32_t act;
    float alpha, beta;
    int32_t off[KPAT_KMAX][KPAT_NTMAX];
} KPatParams;

/* In-register transpose of 16 vectors of 16 (t[i][j] -> t[j][i]): four rounds of two-input
 * shuffles exchanging blocks of 8, 4, 2, 1 lanes between rows i and i + block. */
#define KPAT_LO_8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define KPAT_HI_8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define KPAT_LO_4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define KPAT_HI_4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define KPAT_LO_2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define KPAT_HI_2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define KPAT_LO_1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define KPAT_HI_1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define KPAT_ROUND(t, S)                                                                           \
    for (int i = 0; i < KC_VL; i++)                                                               \
        if (!(i & S)) {                                                                           \
            kc_v16 a = t[i], b = t[i + S];                                                        \
            t[i] = __builtin_shufflevector(a, b, KPAT_LO_##S);                                    \
            t[i + S] = __builtin_shufflevector(a, b, KPAT_HI_##S);                                \
        }
KC_INLINE void kpat_transpose16(kc_v16 *t)
{
    KC_UNROLL KPAT_ROUND(t, 8)
    KC_UNROLL KPAT_ROUND(t, 4)
    KC_UNROLL KPAT_ROUND(t, 2)
    KC_UNROLL KPAT_ROUND(t, 1)
}

typedef struct KPadParams {
    int64_t n_work;
    int32_t c, cb, h, w, sh, sw, pt, pl, ph, pw, blocked, flat, nc, ch, cw;
    /* banded (rows mode, lower_pattern.c band_rows): nrb bands per image, band b = copy rows
     * [b*step, b*step + chb) written to rows [0, chb) of a buffer of chb rows per copy; 0 = none */
    int32_t nrb, step, chb;
    int32_t copies[KPAT_CMAX][3];
} KPadParams;

/* The copies of one channel block (blocked input: `lanes` channels from the 16 lanes of x's
 * pixels) or one channel (plain input, lanes = 0): zero them, then walk the phase plane P
 * element by element and write each input element to where each copy wants it (rows mode:
 * row pi - dy, column pj - dx; flat: index pi*PW + pj - dy*PW - dx). Groups of 16 blocked
 * pixels (every sw-th pixel of a source row) go through an in-register transpose (16 vector
 * stores, one per channel); the rest element by element. */
/* Input columns pj of the phase plane whose w = sw*pj + b - pl is inside [0, W): [lo, hi). */
KC_INLINE void kpat_pad_cols(const KPadParams *p, int32_t b, int32_t *lo, int32_t *hi)
{
    *lo = p->pl - b < 0 ? 0 : (p->pl - b + p->sw - 1) / p->sw;
    *hi = p->w - 1 + p->pl - b < 0 ? 0 : (p->w - 1 + p->pl - b) / p->sw + 1;
}

/* Columns [j, j + 16) of the source row h (plane columns pj = j + dx) of 16 channels through
 * an in-register transpose to dst[l * chan + j ...]; the columns outside [jlo, j1) are written
 * as zeros (their sources are not read). */
KC_INLINE void kpat_pad_group(const KPadParams *p, const float *xs, float *dst, int64_t chan, int32_t h, int32_t b,
                              int32_t dx, int32_t j, int32_t jlo, int32_t j1)
{
    kc_v16 t[KC_VL];
    const int64_t step = (int64_t)p->sw * KC_VL; /* source pixels of consecutive columns */
    const float *src = xs + ((int64_t)h * p->w + (int64_t)p->sw * (j + dx) + b - p->pl) * KC_VL;
    if (j >= jlo && j + KC_VL <= j1) {
        KC_UNROLL
        for (int k = 0; k < KC_VL; k++) t[k] = kc_load(src + k * step);
    } else {
        for (int k = 0; k < KC_VL; k++)
            t[k] = j + k >= jlo && j + k < j1 ? kc_load(src + k * step) : kc_splat(0.0f);
    }
    kpat_transpose16(t);
    KC_UNROLL
    for (int k = 0; k < KC_VL; k++) kc_store(dst + k * chan + j, t[k]);
}

/* Write columns [j, j1) of the source row h (plane columns pj = j + dx) of `lanes` channels
 * (0: plain, one channel) to dst[l * chan + j]. Groups of 16 go through the transpose; a
 * partial group writes zeros past j1 (callers want zeros there) while inside `limit`. Where a
 * group would cross `limit`, one more group covers the rest: in rows mode (row = the
 * destination row, limit = its width) the row's last 16 columns, whose columns outside the
 * run are the row's zero padding; in flat mode the run's last 16 columns, if it has 16. The
 * columns such a group shares with the group before are written twice, with the same values:
 * cheaper than the element loop, which remains for plain input and short flat runs. */
KC_INLINE void kpat_pad_run(const KPadParams *p, const float *xs, float *dst, int64_t chan, int lanes, int32_t h,
                            int32_t b, int32_t dx, int32_t j, int32_t j1, int64_t limit, int row)
{
    if (lanes == KC_VL) {
        const int32_t js = j;
        for (; j < j1 && j + KC_VL <= limit; j += KC_VL) kpat_pad_group(p, xs, dst, chan, h, b, dx, j, js, j1);
        if (j < j1 && row && limit >= KC_VL) {
            kpat_pad_group(p, xs, dst, chan, h, b, dx, (int32_t)limit - KC_VL, js, j1);
            j = j1;
        } else if (j < j1 && j1 - js >= KC_VL) {
            kpat_pad_group(p, xs, dst, chan, h, b, dx, j1 - KC_VL, js, j1);
            j = j1;
        }
    }
    for (; j < j1; j++) {
        const int64_t w = (int64_t)p->sw * (j + dx) + b - p->pl;
        if (lanes) {
            const float *v = xs + ((int64_t)h * p->w + w) * KC_VL;
            for (int l = 0; l < lanes; l++) dst[l * chan + j] = v[l];
        } else {
            dst[j] = xs[(int64_t)h * p->w + w];
        }
    }
}

/* Flat mode, a full block of 16 channels: each phase plane the copies read is transposed once
 * into a stage (16 lanes of the plane's PH*PW elements, row after row, zeros where the plane is
 * padding and after its end), and every copy of that phase is then a contiguous slice of the
 * stage (copy element e = plane element e + dy*PW + dx): a vector load and a store per 16
 * elements. (The element loop this replaces wrote every element of a 7x7 layer on its own.)
 * Returns 0, doing nothing, when the stage would not fit KPAT_FLAT_STAGE floats. */
#define KPAT_FLAT_STAGE 4096 /* floats: 16 KB, a third of L1 */
KC_INLINE int kpat_pad_flat16(const KPadParams *p, const float *xs, float *out)
{
    const int64_t csz = (int64_t)p->ch * p->cw, chan = p->nc * csz, plane = (int64_t)p->ph * p->pw;
    int64_t need = plane + KC_VL; /* a row's last group writes up to 15 zeros past the plane */
    for (int s = 0; s < p->nc; s++) {
        const int64_t e = (int64_t)p->copies[s][1] * p->pw + p->copies[s][2] + csz;
        if (e > need) need = e;
    }
    const int64_t sw = (need + KC_VL - 1) / KC_VL * KC_VL; /* floats per lane of the stage */
    if (sw * KC_VL > KPAT_FLAT_STAGE) return 0;
    float st[KPAT_FLAT_STAGE] __attribute__((aligned(64)));
    for (int32_t ph = 0; ph < p->sh * p->sw; ph++) {
        int used = 0;
        for (int s = 0; s < p->nc; s++) used |= p->copies[s][0] == ph;
        if (!used) continue;
        const int32_t a = ph / p->sw, b = ph % p->sw;
        int32_t lo, hi;
        kpat_pad_cols(p, b, &lo, &hi);
        if (hi > p->pw) hi = p->pw;
        for (int64_t e = 0; e < sw * KC_VL; e += KC_VL) kc_store(st + e, kc_splat(0.0f));
        for (int32_t pi = 0; pi < p->ph && lo < hi; pi++) {
            const int32_t h = p->sh * pi + a - p->pt;
            if (h < 0 || h >= p->h) continue;
            /* rows in ascending order: the zeros a row's last group writes past its end are the
             * next row's padding or are overwritten by its data */
            for (int32_t j = lo; j < hi; j += KC_VL)
                kpat_pad_group(p, xs, st + (int64_t)pi * p->pw, sw, h, b, 0, j, lo, hi);
        }
        for (int s = 0; s < p->nc; s++) {
            if (p->copies[s][0] != ph) continue;
            const float *src = st + (int64_t)p->copies[s][1] * p->pw + p->copies[s][2];
            for (int64_t l = 0; l < KC_VL; l++)
                for (int64_t e = 0; e < csz; e += KC_VL)
                    kc_store(out + l * chan + s * csz + e, kc_load(src + l * sw + e));
        }
    }
    return 1;
}

/* The copies of one channel block (blocked input: `lanes` channels from the 16 lanes of x's
 * pixels) or one channel (plain input, lanes = 0). Rows mode: destination row by row, every
 * element written once (zeros where the copy reads padding). Flat mode (small images): zero
 * everything, then each source row's segment to where the copy wants it (index
 * pi*PW + pj - dy*PW - dx). */
KC_INLINE void kpat_pad_copies(const KPadParams *p, const float *xs, float *out, int lanes, int32_t i0, int32_t i1)
{
    const int64_t rows = p->nrb ? p->chb : p->ch; /* rows per copy in out */
    const int64_t csz = rows * p->cw, chan = p->nc * csz, nch = lanes ? lanes : 1;
    if (p->flat && lanes == KC_VL && kpat_pad_flat16(p, xs, out)) return;
    if (p->flat)
        for (int64_t l = 0; l < nch; l++)
            for (int64_t e = 0; e < chan; e += KC_VL) kc_store(out + l * chan + e, kc_splat(0.0f));
    for (int s = 0; s < p->nc; s++) {
        const int32_t a = p->copies[s][0] / p->sw, b = p->copies[s][0] % p->sw;
        const int32_t dy = p->copies[s][1], dx = p->copies[s][2];
        float *os = out + s * csz;
        int32_t lo, hi;
        kpat_pad_cols(p, b, &lo, &hi);
        if (!p->flat) {
            /* row i of the copy = plane row i + dy, columns j = pj - dx */
            int32_t j0 = lo - dx > 0 ? lo - dx : 0, j1 = (hi < p->pw ? hi : p->pw) - dx;
            if (j1 > p->cw) j1 = p->cw;
            /* the vectors of a row that hold padding are zeroed whole (aligned stores; the
             * data written next overwrites their data part): element loops here became a
             * memset call per row and lane */
            const int32_t zl = (j0 + KC_VL - 1) / KC_VL * KC_VL, zr = j1 > 0 ? j1 / KC_VL * KC_VL : 0;
            for (int32_t i = i0; i < i1; i++) {
                const int32_t pi = i + dy, h = p->sh * pi + a - p->pt;
                float *row = os + (int64_t)(i - i0) * p->cw;
                const int data = pi < p->ph && h >= 0 && h < p->h && j0 < j1;
                for (int64_t l = 0; l < nch; l++) {
                    float *rl = row + l * chan;
                    for (int32_t z = 0; z < p->cw; z += KC_VL)
                        if (!data || z < zl || z >= zr) kc_store(rl + z, kc_splat(0.0f));
                }
                if (data) kpat_pad_run(p, xs, row, chan, lanes, h, b, dx, j0, j1, p->cw, 1);
            }
            continue;
        }
        for (int32_t pi = 0; pi < p->ph; pi++) {
            const int32_t h = p->sh * pi + a - p->pt;
            if (h < 0 || h >= p->h) continue;
            const int64_t orow = (int64_t)pi * p->pw - ((int64_t)dy * p->pw + dx); /* destination of P[pi][0] */
            int32_t j0 = orow < 0 ? (int32_t)-orow : 0, j1 = p->pw;
            if (orow + j1 > csz) j1 = (int32_t)(csz - orow);
            if (lo > j0) j0 = lo;
            if (hi < j1) j1 = hi;
            if (j0 < j1)
                kpat_pad_run(p, xs, os + orow, chan, lanes, h, b, 0, j0, j1, csz - orow, 0);
        }
    }
}

KC_INLINE void kpat_pad_item(const KPadParams *p, void *const *bufs, int64_t it)
{
    const float *x = bufs[0];
    float *out = bufs[1];
    const int64_t nch = p->blocked ? p->cb : p->c, nrb = p->nrb ? p->nrb : 1;
    const int64_t n = it / (nrb * nch), rem = it - n * nrb * nch, b = rem / nch, c = rem - b * nch;
    /* unbanded: all rows, image n's copies; banded: band b's rows into the one band buffer */
    int32_t i0 = 0, i1 = p->ch;
    int64_t chan = (int64_t)p->nc * p->ch * p->cw, img = n * p->c;
    if (p->nrb) {
        i0 = (int32_t)b * p->step, i1 = i0 + p->chb < p->ch ? i0 + p->chb : p->ch;
        chan = (int64_t)p->nc * p->chb * p->cw, img = 0;
    }
    if (p->blocked) {
        const int lanes = p->c - c * KC_VL < KC_VL ? (int)(p->c - c * KC_VL) : KC_VL;
        kpat_pad_copies(p, x + (n * p->cb + c) * (int64_t)p->h * p->w * KC_VL, out + (img + c * KC_VL) * chan, lanes,
                        i0, i1);
    } else {
        kpat_pad_copies(p, x + (n * p->c + c) * (int64_t)p->h * p->w, out + (img + c) * chan, 0, i0, i1);
    }
}

KC_INLINE void kpat_pad_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    const KPadParams *p = params;
    for (int64_t it = begin; it < end; it++) kpat_pad_item(p, bufs, it);
}

/* The groups k0 .. k1-1 of one run of pattern pp, each G kernels (1..KPAT_GMAX) of the same
 * channel for G filters: every input vector is loaded once and feeds the G filters' FMAs.
 * Group k is one record of kpat_rec_words(G, NT) words at tab + k * words (lowering's encoding,
 * lower_pattern.c): the byte offset of the channel's copies, the G accumulator byte offsets
 * into accm, then the G x NT weights. */
KC_INLINE void kpat_groups(const KPatParams *p, const float *xb, float *accm, const int32_t *tab, int32_t k0,
                           int32_t k1, int pp, const int G, const int FLAT, const int R, const int U)
{
    const int64_t RS = FLAT ? 0 : p->cw, words = kpat_rec_words(G, p->nt);
    for (int32_t k = k0; k < k1; k++) {
        const int32_t *e = tab + k * words;
        const float *xc = (const float *)((const char *)xb + e[0]);
        float *a[KPAT_GMAX];
        for (int i = 0; i < G; i++) a[i] = (float *)((char *)accm + e[1 + i]);
        /* single-register addresses: x86 cannot keep a load folded into an FMA fused when it is
         * indexed (base + index), which costs a uop per FMA */
        KC_OPAQUE(xc);
        for (int i = 0; i < G; i++) KC_OPAQUE(a[i]);
        const float *wk = (const float *)(e + 1 + G);
        kc_v16 acc[KPAT_GMAX][KPAT_RUMAX];
        KC_UNROLL
        for (int i = 0; i < G; i++)
            KC_UNROLL
            for (int v = 0; v < R * U; v++) acc[i][v] = kc_load(a[i] + v * KC_VL);
        KC_UNROLL
        for (int t = 0; t < p->nt; t++) {
            kc_v16 wv[KPAT_GMAX];
            KC_UNROLL
            for (int i = 0; i < G; i++) wv[i] = kc_splat(wk[i * p->nt + t]);
            const float *xt = xc + p->off[pp][t];
            KC_UNROLL
            for (int r = 0; r < R; r++)
                KC_UNROLL
                for (int u = 0; u < U; u++) {
                    const kc_v16 xv = kc_load(xt + r * RS + u * KC_VL);
                    KC_UNROLL
                    for (int i = 0; i < G; i++) acc[i][r * U + u] += wv[i] * xv;
                }
        }
        KC_UNROLL
        for (int i = 0; i < G; i++)
            KC_UNROLL
            for (int v = 0; v < R * U; v++) kc_store(a[i] + v * KC_VL, acc[i][v]);
    }
}

/* One work item of PatternConv with an R x U tile (FLAT: R = 1, consecutive grid positions):
 * image n, output tile, group of og blocks of 16 filters (slots o*16 + f). Accumulators of the
 * group in L1 (slot-major, R*U vectors each). For each input-channel block, for each pattern
 * (unrolled: the taps are constants), the groups of 4, 3, 2 and 1 kernels of the run — G
 * kernels of the same channel for G filters: every input vector is loaded once for all G
 * (kpat_groups; only the sizes whose accumulators fit the registers are compiled). Tables (the
 * lowering's encoding, lower_pattern.c): buffers 4.. above. */
KC_INLINE void kpat_conv_item(const KPatParams *p, void *const *bufs, int64_t it, const int FLAT, const int R,
                              const int U)
{
    const float *xp = bufs[0], *bias = bufs[1], *res = bufs[2];
    float *y = bufs[3];
    const int64_t nog = (p->mb + p->og - 1) / p->og, per_img = p->tiles * nog;
    const int64_t n = it / per_img, rem = it - n * per_img, tile = rem / nog, gz = rem - tile * nog;
    /* groups in zigzag order (0, last, 1, last - 1, ...): filter-reorder sorts filters by kernel
     * count, so this gives every contiguous share of the items heavy and light groups alike */
    const int64_t g = gz & 1 ? nog - 1 - gz / 2 : gz / 2;
    const int32_t ob0 = (int32_t)g * p->og;
    const int32_t nob = p->mb - ob0 < p->og ? p->mb - ob0 : p->og;
    int64_t q0, tr = 0, tc = 0;
    if (FLAT) {
        q0 = tile * U * KC_VL;
    } else {
        tr = tile / p->tiles_c, tc = tile - tr * p->tiles_c;
        q0 = (p->band_tr ? tr % p->band_tr : tr) * R * p->cw + tc * U * KC_VL;
    }
    const float *xb = xp + n * p->img_stride + q0;
    float accm[KPAT_ACC_BYTES / 4] __attribute__((aligned(64))); /* og * 16 slots of R*U*16 used */
    const int64_t slot = (int64_t)R * U * KC_VL;

    for (int64_t v = 0; v < nob * KC_VL * slot; v += KC_VL) kc_store(accm + v, kc_splat(0.0f));
    const int32_t *runs = (const int32_t *)bufs[4] + g * p->ncb * p->k * KPAT_GMAX;
    const int GM = kpat_gmax(R * U, KPAT_VREGS16_MAX); /* a constant of the instance */
    for (int32_t cb = 0; cb < p->ncb; cb++) {
        const int32_t *rc = runs + (int64_t)cb * p->k * KPAT_GMAX;
        KC_UNROLL
        for (int pp = 0; pp < p->k; pp++) {
            const int32_t *r = rc + pp * KPAT_GMAX; /* group kind G starts at r[G-1], ends at r[KPAT_GMAX+G-1] */
            /* the largest groups first; sizes no register file holds for this tile are not compiled */
            if (GM >= 4) kpat_groups(p, xb, accm, bufs[8], r[3], r[KPAT_GMAX + 3], pp, 4, FLAT, R, U);
            if (GM >= 3) kpat_groups(p, xb, accm, bufs[7], r[2], r[KPAT_GMAX + 2], pp, 3, FLAT, R, U);
            if (GM >= 2) kpat_groups(p, xb, accm, bufs[6], r[1], r[KPAT_GMAX + 1], pp, 2, FLAT, R, U);
            kpat_groups(p, xb, accm, bufs[5], r[0], r[KPAT_GMAX], pp, 1, FLAT, R, U);
        }
    }

    /* epilogue: per block and accumulator vector, the 16 filters x 16 pixels transposed into
     * 16 pixels of the blocked output (16 channels each), + bias (+ residual), activation */
    for (int32_t o = 0; o < nob; o++) {
        const int32_t ob = ob0 + o;
        const kc_v16 bv = kc_load(bias + (int64_t)ob * KC_VL);
        float *yb = y + n * p->y_img + (int64_t)ob * p->oh * p->ow * KC_VL;
        const float *rb = res ? res + n * p->y_img + (int64_t)ob * p->oh * p->ow * KC_VL : NULL;
        const float *ao = accm + (int64_t)o * KC_VL * slot;
        for (int r = 0; r < R; r++)
            for (int u = 0; u < U; u++) {
                kc_v16 t[KC_VL];
                for (int f = 0; f < KC_VL; f++) t[f] = kc_load(ao + f * slot + (r * U + u) * KC_VL);
                kpat_transpose16(t);
                for (int l = 0; l < KC_VL; l++) {
                    int64_t oh, ow;
                    if (FLAT) {
                        int64_t q = q0 + u * KC_VL + l;
                        oh = q / p->pw, ow = q - oh * p->pw;
                    } else {
                        oh = tr * R + r, ow = tc * U * KC_VL + u * KC_VL + l;
                    }
                    if (oh >= p->oh || ow >= p->ow) continue;
                    kc_v16 v = t[l] + bv;
                    const int64_t yo = (oh * p->ow + ow) * KC_VL;
                    if (rb) v = v + kc_load(rb + yo);
                    kc_store(yb + yo, kc_act(p->act, v, p->alpha, p->beta));
                }
            }
    }
}

typedef void (*KPatRangeFn)(const void *params, void *const *bufs, int64_t begin, int64_t end);

#endif
