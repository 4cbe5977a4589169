/* pattern_plan.h — the schedule of a pattern-sparse convolution (codegen/kernels/pattern.h):
 * the register tiles the kernel instantiates, the geometry of a tile walk, the load plan and the
 * cost model, in one place for the pass that chooses them (passes/pattern_group.c), the lowering
 * (codegen/lower_pattern.c) and the kernel tests. Header-only C, no kernel code.
 *
 * A tile is R x U vectors of 16 output pixels of one filter, accumulated in registers:
 *   rows mode (R >= 1): vector (r, u) holds output row r0 + r, columns c0 + 16u .. c0 + 16u + 15
 *     (rows of the copies are cw apart, cw = PW rounded up to 16); tiles cover
 *     ceil(OH/R) x ceil(OW/(16U)).
 *   flat mode (R = 1): vectors are 16 consecutive positions q of the flattened grid
 *     [OH x PW] (columns OW .. PW-1 of a row are computed and dropped), so small images waste
 *     only PW/OW instead of a whole vector per row.
 * Load plan: a kernel's tap t reads, for vector (r, u), its phase's copy (below) at row
 * r + dy(t), column shift dx(t) — input vectors at the same address are ONE load (LLVM's GVN
 * merges the identical addresses of the unrolled body; kpat_loads), so per group of G kernels the
 * loads are the distinct addresses, the weights' G*NT broadcasts and the G*R*U accumulators,
 * against G*NT*R*U FMAs; tests/pattern/check_loads.py checks the compiled bodies against this.
 * Loads at a shift that is not a multiple of 16 are unaligned.
 */
#ifndef PPCC_KERNELS_PATTERN_PLAN_H
#define PPCC_KERNELS_PATTERN_PLAN_H

#include <stdint.h>

#include "kcommon.h"

#define KPAT_KMAX 16  /* patterns per layer the kernel handles */
#define KPAT_NTMAX 9  /* taps per pattern */
#define KPAT_RUMAX 16 /* accumulators per tile */
#define KPAT_OGMAX 8  /* output blocks of 16 filters per work item */
#define KPAT_ACC_BYTES 32768 /* a work item's accumulators (og blocks x 16 filters x R*U vectors), at most */
#define KPAT_KERNEL_VERSION 13 /* bump when the kernel, its schedule or the dense kernel it is
                                 timed against changes: tuning caches (passes/pattern_tune.c)
                                 key on it, old timings are not reused */
#define KPAT_GMAX 4 /* kernels of one (channel, pattern) for up to this many filters share their
                       input loads (a group: G sets of accumulators in registers) */

#define KPAT_VREGS16_MAX 32 /* the largest register file (AVX-512) in vectors of 16 floats: the kernel
                               compiles the group sizes it allows, the lowering builds only those
                               the target's registers hold */

/* The largest group a tile of ru vectors keeps in vregs16 registers of 16 floats without
 * spilling: G sets of accumulators in at most half of the registers, the other half for what
 * LLVM schedules around them — the G x NT weight broadcasts it hoists to the top of the body and
 * the input vectors the load plan reuses across taps and rows. Measured with
 * tests/pattern/check_loads.py on every compiled tile (AVX-512, 4 taps): the rule until
 * 2026-11-27, G x (ru + 1) + 1 registers, let the bodies of G = 3 on 6-, 8- and 9-vector tiles,
 * G = 4 on 6-vector tiles and G = 2 on 12-vector tiles spill accumulators to the stack. */
static inline int kpat_gmax(int ru, int vregs16)
{
    int g = KPAT_GMAX;
    while (g > 1 && 2 * g * ru > vregs16) g--;
    return g;
}

/* The size of the next group when rem kernels of one channel (and pattern) are left to group
 * and the registers hold gmax sets of accumulators: gmax at a time, but 4 kernels with gmax 3
 * as two pairs rather than a triple and a single (llvm-mca on the 8-vector tiles' bodies: 2 x 38
 * cycles against 55 + 25.8; docs/codegen.md). The lowering builds the groups this way and the
 * cost model counts them this way. */
static inline int kpat_group_size(int64_t rem, int gmax)
{
    if (gmax == 3 && rem == 4) return 2;
    return rem < gmax ? (int)rem : gmax;
}

/* 32-bit words of one group's record in the kernel's tables (pattern.h kpat_groups): the
 * channel's byte offset, G accumulator byte offsets, G x nt weights. */
static inline int64_t kpat_rec_words(int g, int64_t nt) { return 1 + g + g * nt; }

/* The compiled tiles: {flat, R, U}. X-macro so kernels, lowering and tests agree. Rows 8x2 was
 * one until 2026-11-27: its single-kernel body spills on AVX-512 for most patterns (16
 * accumulators and the input rows its 8 output rows reuse; tests/pattern/check_loads.py), and
 * --tune never chose it on resnet18 or vgg16. */
#define KPAT_TILES(X)                                                                              \
    X(1, 1, 2) X(1, 1, 3) X(1, 1, 4) X(1, 1, 6) X(0, 2, 1) X(0, 4, 1) X(0, 6, 1) X(0, 8, 1)       \
    X(0, 2, 2) X(0, 3, 2) X(0, 4, 2) X(0, 2, 3) X(0, 3, 3) X(0, 2, 4) X(0, 1, 4) X(0, 3, 4) X(0, 4, 4)  \
    X(1, 1, 8) X(0, 6, 2) X(0, 4, 3)

typedef struct KPatTile {
    int flat, r, u;
} KPatTile;

static const KPatTile kpat_tiles[] = {
#define KPAT_T(F, R, U) {F, R, U},
    KPAT_TILES(KPAT_T)
#undef KPAT_T
};
#define KPAT_NTILES ((int)(sizeof kpat_tiles / sizeof kpat_tiles[0]))

/* Index of tile {flat, r, u} in kpat_tiles, -1 if it is not a compiled one. */
static inline int kpat_tile_index(int flat, int r, int u)
{
    for (int i = 0; i < KPAT_NTILES; i++)
        if (kpat_tiles[i].flat == flat && kpat_tiles[i].r == r && kpat_tiles[i].u == u) return i;
    return -1;
}

/* A tap of a pattern: phase plane, row and column shift. */
typedef struct KPatTap {
    int32_t phase, dy, dx;
} KPatTap;

/* Taps of mask `mask` (bit kh*kw_ + kw) of a kh_ x kw_ kernel with strides/dilations; returns NT. */
static inline int kpat_taps(int64_t mask, int64_t kh_, int64_t kw_, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                            KPatTap *out)
{
    int t = 0;
    for (int64_t bit = 0; bit < kh_ * kw_; bit++)
        if (mask >> bit & 1) {
            int64_t ey = bit / kw_ * dh, ex = bit % kw_ * dw;
            out[t].phase = (int32_t)((ey % sh) * sw + ex % sw);
            out[t].dy = (int32_t)(ey / sh);
            out[t].dx = (int32_t)(ex / sw);
            t++;
        }
    return t;
}

/* Distinct loads of one kernel with these taps in a tile (the load plan): input vectors at the
 * same address are one load — in rows mode vector (r, u) of tap (phase, dy, dx) reads its phase's
 * copy at (r + dy) * cw + dx + 16u (cw: the rows' stride), in flat mode at dy * pw + dx + 16u
 * (pw: the grid's width), so taps whose rows coincide across the tile's rows share their loads,
 * and so do vectors a tile wider than the copy's rows (or flat taps dy * pw apart by a multiple of
 * 16) read twice. LLVM merges exactly these (tests/pattern/check_loads.py). */
static inline int64_t kpat_tap_addr(const KPatTap *t, const KPatTile *tl, int r, int u, int64_t cw, int64_t pw)
{
    return tl->flat ? t->dy * pw + t->dx + 16 * u : (r + t->dy) * cw + t->dx + 16 * u;
}

static inline int kpat_loads(const KPatTap *taps, int nt, const KPatTile *tl, int64_t cw, int64_t pw)
{
    int n = 0;
    for (int r = 0; r < tl->r; r++)
        for (int t = 0; t < nt; t++)
            for (int u = 0; u < tl->u; u++) {
                const int64_t a = kpat_tap_addr(&taps[t], tl, r, u, cw, pw);
                int dup = 0; /* an earlier (r2, t2, u2) at the same address of the same copy */
                for (int r2 = 0; r2 <= r && !dup; r2++)
                    for (int t2 = 0; t2 <= (r2 == r ? t : nt - 1) && !dup; t2++)
                        for (int u2 = 0; u2 < (r2 == r && t2 == t ? u : tl->u) && !dup; u2++)
                            dup = taps[t2].phase == taps[t].phase && kpat_tap_addr(&taps[t2], tl, r2, u2, cw, pw) == a;
                n += !dup;
            }
    return n;
}

/* Output grid walk of a tile and the size of the input copies it reads (below). */
typedef struct KPatWalk {
    int64_t tiles, tiles_c; /* per image; rows mode: tile = tr * tiles_c + tc */
    int64_t ch, cw;         /* rows x columns of every copy; cw is a multiple of 16 */
} KPatWalk;

static inline int64_t kpat_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* oh x ow outputs, phase planes pw columns wide (ow + the largest dx), largest dy maxdy. */
static inline KPatWalk kpat_walk(const KPatTile *tl, int64_t oh, int64_t ow, int64_t pw, int64_t maxdy)
{
    KPatWalk w;
    if (tl->flat) {
        /* a tap reads the copy at its flat offset dy*pw + dx (at most maxdy*pw + pw - ow) past
         * the tile's positions */
        w.tiles = kpat_cdiv(oh * pw, 16 * tl->u);
        w.tiles_c = 1;
        w.ch = 1;
        w.cw = kpat_cdiv(w.tiles * 16 * tl->u + maxdy * pw + pw - ow, 16) * 16;
    } else {
        w.tiles_c = kpat_cdiv(ow, 16 * tl->u);
        w.tiles = kpat_cdiv(oh, tl->r) * w.tiles_c;
        w.cw = kpat_cdiv(pw, 16) * 16;
        w.ch = kpat_cdiv(oh, tl->r) * tl->r + maxdy + kpat_cdiv(w.tiles_c * 16 * tl->u, w.cw);
    }
    return w;
}

/* The input copies (PatternPad's output). Copy (phase, dy, dx) of a phase plane P
 * (ir/pattern.c):
 *   rows mode: copy[i][j] = P[i][j + dx], rows cw apart; flat mode: copy[q] = P_flat[q + dy*pw + dx].
 * ppcc makes one copy per phase, (phase, 0, 0): a tap (phase, dy, dx) reads it at offset
 * dy*cw + dx (rows) or dy*pw + dx (flat; the copy is that much longer than the tiles' grid) —
 * unaligned unless the offset is a multiple of 16. A copy per column shift (rows) or per tap
 * (flat) made every load aligned (ppcc before 2026-11-27) but multiplied the bytes each
 * PatternPad writes (3x rows, 9x flat for 3x3) and divided each channel block's L1 slab; measured
 * on pruned resnet18 and vgg16 (docs/codegen.md), the unaligned loads cost less than both. */
#define KPAT_CMAX 12

typedef struct KPatCopies {
    int n;
    int32_t key[KPAT_CMAX][3]; /* phase, dy, dx */
} KPatCopies;

/* Index of the copy tap t reads, the copy of its phase (added if new); -1 when there are too
 * many. */
static inline int kpat_copy_of(KPatCopies *cp, const KPatTap *t)
{
    for (int i = 0; i < cp->n; i++)
        if (cp->key[i][0] == t->phase) return i;
    if (cp->n == KPAT_CMAX) return -1;
    cp->key[cp->n][0] = t->phase, cp->key[cp->n][1] = 0, cp->key[cp->n][2] = 0;
    return cp->n++;
}

/* Bytes of accumulators one block of 16 filters takes in a work item (R*U vectors each); og
 * blocks take og times that, at most KPAT_ACC_BYTES. */
static inline int64_t kpat_block_acc_bytes(const KPatTile *tl) { return (int64_t)KC_VL * tl->r * tl->u * KC_VL * 4; }

/* Does the tile fit the registers (accumulators + a broadcast + two loads in flight)? */
static inline int kpat_tile_fits(const KPatTile *tl, int vector_bits, int vregs)
{
    return tl->r * tl->u <= KPAT_RUMAX && tl->r * tl->u + 3 <= kc_vregs16(vector_bits, vregs);
}

#endif
