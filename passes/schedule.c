/* schedule.c — pass "schedule": register tiles for blocked convolutions (docs/codegen.md §3).
 *
 * Sets on every Conv with layout="NCHW16c" (attributes already present are kept, so a
 * hand-written schedule in a .ir file wins):
 *   sched_oc_tile   output-channel blocks (of 16) per register tile; divides the blocks per group
 *   sched_ow_tile   output pixels per register tile (pixels of an image in row-major order)
 * Other nodes are untouched. The tiles are chosen from those the kernels instantiate
 * (codegen/kernels/conv.h KCONV_SHAPES for dense/grouped convs, conv_dw.h KDW_SHAPES with
 * oc_tile 1 for depthwise; tests/unit/test_codegen_passes.c checks that every tile picked is one of
 * them).
 *
 * Cost model. A 16-channel block takes V = 512 / target_vector_bits vector registers. A dense
 * tile of o blocks x t pixels keeps o*t*V accumulators, o*V weight vectors and one broadcast in
 * registers (must fit target_vregs) and, per input channel, issues F = o*t*V FMAs and
 * L = o*V + t loads; with two FMA and two load ports and an FMA latency of 4 cycles that step
 * costs max(F/2, L/2, 4) cycles. A depthwise tile of t pixels keeps t*V accumulators, one
 * weight and one input vector, and per kernel tap issues t*V FMAs and V + t*V loads. The kernels
 * walk an image's output pixels in row-major order t at a time; a tile that stays inside one
 * output row and whose taps stay inside the input row takes the fast path, any other (crossing
 * a row end, touching the left/right padding, the last partial tile) the pointer path, costed
 * 15% more. The cost of a schedule is the sum over all tiles of one image (the partial last
 * tile costed at its length) divided by the useful FMAs; the cheapest wins, ties going to fewer
 * loads per FMA, then to the larger tile.
 */
#include "passes/passes.h"

#define BLK IR_LAYOUT_BLOCK
#define POINTER_PATH_COST 1.15

/* The register tiles of the kernels (oc_tile, ow_tile): KCONV_SHAPES and KDW_SHAPES. */
static const int sched_dense_tiles[][2] = {{4, 6},  {4, 4},  {3, 9}, {3, 8}, {3, 7},  {2, 14}, {2, 12}, {2, 8},
                                           {2, 7},  {2, 4},  {1, 28}, {1, 16}, {1, 14}, {1, 8}, {1, 7}, {1, 4}};
static const int sched_dw_tiles[] = {16, 14, 8, 7, 4};

/* Output geometry of one image: rows x cols pixels, and the columns [lo, hi] whose taps stay
 * inside the input row. */
typedef struct SchedGeom {
    int64_t rows, cols, lo, hi;
} SchedGeom;

static double sched_step(double f, double l)
{
    double c = f > l ? f : l;
    return c > 4.0 ? c : 4.0;
}

/* Sum of step cycles (and loads) over the tiles of one image for tile width t; the per-tile
 * step cost is fma(len)/2, loads(len)/2 with the given per-pixel and fixed counts. */
static void sched_walk(const SchedGeom *s, int t, double f_pix, double l_fix, double l_pix, double *cycles,
                       double *loads)
{
    int64_t P = s->rows * s->cols;
    *cycles = *loads = 0;
    for (int64_t p0 = 0; p0 < P; p0 += t) {
        int64_t len = P - p0 < t ? P - p0 : t, last = p0 + len - 1;
        int64_t r0 = p0 / s->cols, c0 = p0 % s->cols, r1 = last / s->cols, c1 = last % s->cols;
        int fast = r0 == r1 && len == t && c0 >= s->lo && c1 <= s->hi;
        double f = f_pix * (double)len, l = l_fix + l_pix * (double)len;
        *cycles += sched_step(f / 2.0, l / 2.0) * (fast ? 1.0 : POINTER_PATH_COST);
        *loads += l;
    }
}

/* Is (cost, loads, t) better than the best so far? */
static int sched_better(int found, double cost, double loads, int t, double bc, double bl, int bt)
{
    if (!found || cost < bc - 1e-12) return 1;
    if (cost > bc + 1e-12) return 0;
    if (loads < bl - 1e-12) return 1;
    return loads <= bl + 1e-12 && t > bt;
}

static void sched_dense(const SchedGeom *s, int64_t ocb, int V, int vregs, int *best_o, int *best_t)
{
    double bc = 0, bl = 0;
    int found = 0;
    *best_o = 1, *best_t = 4;
    for (size_t i = 0; i < sizeof sched_dense_tiles / sizeof sched_dense_tiles[0]; i++) {
        int o = sched_dense_tiles[i][0], t = sched_dense_tiles[i][1];
        if (ocb % o || o * t * V + o * V + 1 > vregs) continue;
        double cyc, lds, useful = (double)o * V * (double)(s->rows * s->cols);
        sched_walk(s, t, (double)o * V, (double)o * V, 1.0, &cyc, &lds);
        if (sched_better(found, cyc / useful, lds / useful, t, bc, bl, *best_t)) {
            found = 1;
            bc = cyc / useful, bl = lds / useful, *best_o = o, *best_t = t;
        }
    }
}

static int sched_depthwise(const SchedGeom *s, int V, int vregs)
{
    double bc = 0, bl = 0;
    int found = 0, best = 4;
    for (size_t i = 0; i < sizeof sched_dw_tiles / sizeof sched_dw_tiles[0]; i++) {
        int t = sched_dw_tiles[i];
        if (t * V + 2 * V > vregs) continue;
        double cyc, lds, useful = (double)V * (double)(s->rows * s->cols);
        sched_walk(s, t, (double)V, (double)V, (double)V, &cyc, &lds);
        if (sched_better(found, cyc / useful, lds / useful, t, bc, bl, best)) {
            found = 1;
            bc = cyc / useful, bl = lds / useful, best = t;
        }
    }
    return best;
}

/* Geometry of blocked Conv n (2-D); -1 if it is not one. */
static int sched_geom(const Graph *g, const Node *n, SchedGeom *s)
{
    const Value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]];
    if (w->rank != 4) return -1;
    int rank = x->rank;
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) dims[i] = x->dims[i];
    if (x->rank == 5 &&
        ir_layout_unblocked_dims(x->rank, x->dims, w->dims[1] * ir_attr_int(n, "group", 1), &rank, dims))
        return -1;
    ConvGeom geo;
    if (rank != 4 || ir_conv_geometry(n, rank, dims, w->dims, &geo, NULL)) return -1;
    s->rows = geo.out[0];
    s->cols = geo.out[1];
    /* interior columns: c*stride - pad >= 0 and c*stride - pad + (kw-1)*dil <= in-1 */
    int64_t st = geo.stride[1], pb = geo.pad_begin[1], ext = (geo.kernel[1] - 1) * geo.dilation[1];
    s->lo = (pb + st - 1) / st;
    int64_t top = geo.in[1] - 1 + pb - ext;
    s->hi = top < 0 ? -1 : top / st;
    return 0;
}

int pass_schedule(Graph *g, PassContext *ctx, Diag *d)
{
    int bits = ctx && ctx->target_vector_bits > 0 ? ctx->target_vector_bits : 512;
    int vregs = ctx && ctx->target_vregs > 0 ? ctx->target_vregs : 32;
    int V = bits >= 512 ? 1 : 512 / bits;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_CONV) continue;
        int blocked = ir_node_layout(n, d);
        if (blocked < 0) return -1;
        SchedGeom s;
        if (!blocked || sched_geom(g, n, &s)) continue;
        const Value *w = &g->values[n->in[1]];
        int64_t group = ir_attr_int(n, "group", 1), M = w->dims[0], C = w->dims[1] * group;
        int o, t;
        if (ctx && ctx->conv_tile && ctx->conv_tile(ctx->conv_tile_ctx, g, n, &o, &t)) {
            /* the kernels' own cost model (codegen/kernels/conv_plan.h) */
        } else if (group > 1 && group == C && M == C) {
            o = 1;
            t = sched_depthwise(&s, V, vregs);
        } else {
            sched_dense(&s, (M / group + BLK - 1) / BLK, V, vregs, &o, &t);
        }
        if (!ir_attr_find(&g->nodes[i], "sched_oc_tile")) ir_node_set_int(g, i, "sched_oc_tile", o);
        if (!ir_attr_find(&g->nodes[i], "sched_ow_tile")) ir_node_set_int(g, i, "sched_ow_tile", t);
    }
    return 0;
}
