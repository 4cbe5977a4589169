/* grad_plan_conv.c — the f32 Conv fast path of the batched gradient engine (grad_plan.c):
 * forward y = act(conv(x) + b + residual) and backward dL/dx, dL/dresidual for one sample of a
 * 2-D Conv (any kernel, stride, dilation, pads, groups) with constant weights.
 *
 * Both directions are one primitive, a stride-1 correlation over zero-padded planes:
 *   z[m][q] = sum_c sum_t w[m][c][t] * xp[c][q + off[t]],   off[t] = ky*dh*Wp + kx*dw,
 * where xp holds each input channel as a padded Hp x Wp plane and q = row*Wp + col walks output
 * rows at the padded width (the columns past the valid width are computed and ignored). No
 * im2col: every tap reads a contiguous, shifted run of the padded plane, so the inner loop is a
 * broadcast weight times a vector of consecutive positions, accumulated in registers for a tile
 * of MR output channels x (NV vectors) positions.
 *   forward   xp = x padded by (pt, pl, pb, pr); the stride-1 grid is sampled at (oy*sh, ox*sw).
 *   backward  gz = gy * act'(z) (z kept per sample as state); its stride-1 grid (zeros between
 *             strided outputs) is padded/cropped so that row R reads grid row R + pt - dh(KH-1),
 *             and correlated with the flipped, transposed kernel w'[c][m][KH-1-ky][KW-1-kx]:
 *             gx[c][iy][ix] = sum z'[c][iy*Wb + ix].
 * Kernels: AVX-512F (16 lanes, MR <= 8, 2 vectors), AVX2+FMA (8 lanes, MR <= 4, 2 vectors) via
 * target attributes and a run-time CPU check, and portable C; the accumulation order per output
 * is the same (c, then tap) in all of them. Weights are repacked at plan time per group and
 * block of MR output channels as [c][tap][MR] so the inner loop reads them sequentially.
 */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GRAD_X86 1
#endif

enum { TILE_MAX = 32, MR_MAX = 8 };

/* z[r*zs + q] (r < MR, q < nq rounded up to the tile) = sum_c sum_t w[(c*ntap + t)*MR + r] *
 * x[c*xs + q + off[t]]. */
typedef void (*CorrFn)(const float *x, int64_t xs, int64_t cin, const int32_t *off, int ntap, const float *w,
                       float *z, int64_t zs, int64_t nq);

#define GRAD_UNROLL _Pragma("GCC unroll 16")

/* One kernel per (ISA, MR). VT/LOAD/STORE/SET1/FMA/ZERO define the vector type. */
#define CORR_KERNEL(NAME, ATTR, VT, VL, NV, MR, LOAD, STORE, SET1, FMA, ZERO)                         \
    ATTR static void NAME(const float *x, int64_t xs, int64_t cin, const int32_t *off, int ntap,       \
                          const float *w, float *z, int64_t zs, int64_t nq)                            \
    {                                                                                                  \
        for (int64_t q = 0; q < nq; q += (VL) * (NV)) {                                                \
            VT acc[MR][NV];                                                                            \
            GRAD_UNROLL for (int r = 0; r < (MR); r++) GRAD_UNROLL for (int j = 0; j < (NV); j++)      \
                acc[r][j] = ZERO();                                                                    \
            const float *wp = w;                                                                       \
            for (int64_t c = 0; c < cin; c++) {                                                        \
                const float *xc = x + c * xs + q;                                                      \
                for (int t = 0; t < ntap; t++, wp += (MR)) {                                           \
                    const float *xt = xc + off[t];                                                     \
                    VT v[NV];                                                                          \
                    GRAD_UNROLL for (int j = 0; j < (NV); j++) v[j] = LOAD(xt + j * (VL));             \
                    GRAD_UNROLL for (int r = 0; r < (MR); r++)                                         \
                    {                                                                                  \
                        VT wr = SET1(wp[r]);                                                           \
                        GRAD_UNROLL for (int j = 0; j < (NV); j++) acc[r][j] = FMA(wr, v[j], acc[r][j]); \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
            GRAD_UNROLL for (int r = 0; r < (MR); r++) GRAD_UNROLL for (int j = 0; j < (NV); j++)      \
                STORE(z + r * zs + q + j * (VL), acc[r][j]);                                           \
        }                                                                                              \
    }

/* portable: 8 lanes of plain floats; the compiler vectorises what it can */
typedef struct GradV8 {
    float v[8];
} GradV8;
static inline GradV8 gv8_load(const float *p)
{
    GradV8 r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}
static inline void gv8_store(float *p, GradV8 a) { memcpy(p, a.v, sizeof a.v); }
static inline GradV8 gv8_set1(float s)
{
    GradV8 r;
    for (int i = 0; i < 8; i++) r.v[i] = s;
    return r;
}
static inline GradV8 gv8_fma(GradV8 a, GradV8 b, GradV8 c)
{
    for (int i = 0; i < 8; i++) c.v[i] += a.v[i] * b.v[i];
    return c;
}
static inline GradV8 gv8_zero(void) { return gv8_set1(0); }

CORR_KERNEL(corr_c_1, , GradV8, 8, 2, 1, gv8_load, gv8_store, gv8_set1, gv8_fma, gv8_zero)
CORR_KERNEL(corr_c_2, , GradV8, 8, 2, 2, gv8_load, gv8_store, gv8_set1, gv8_fma, gv8_zero)
CORR_KERNEL(corr_c_4, , GradV8, 8, 2, 4, gv8_load, gv8_store, gv8_set1, gv8_fma, gv8_zero)

#ifdef GRAD_X86
#define A2 __attribute__((target("avx2,fma")))
#define A5 __attribute__((target("avx512f")))
#define LD8(p) _mm256_loadu_ps(p)
#define ST8(p, v) _mm256_storeu_ps(p, v)
#define LD16(p) _mm512_loadu_ps(p)
#define ST16(p, v) _mm512_storeu_ps(p, v)
CORR_KERNEL(corr_avx2_1, A2, __m256, 8, 2, 1, LD8, ST8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_setzero_ps)
CORR_KERNEL(corr_avx2_2, A2, __m256, 8, 2, 2, LD8, ST8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_setzero_ps)
CORR_KERNEL(corr_avx2_4, A2, __m256, 8, 2, 4, LD8, ST8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_setzero_ps)
CORR_KERNEL(corr_avx512_1, A5, __m512, 16, 2, 1, LD16, ST16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps)
CORR_KERNEL(corr_avx512_2, A5, __m512, 16, 2, 2, LD16, ST16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps)
CORR_KERNEL(corr_avx512_4, A5, __m512, 16, 2, 4, LD16, ST16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps)
CORR_KERNEL(corr_avx512_8, A5, __m512, 16, 2, 8, LD16, ST16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps)
#endif

/* ISA levels: 0 portable, 1 AVX2+FMA, 2 AVX-512F. */
typedef struct CorrIsa {
    int tile;      /* positions per tile */
    int mr_max;    /* largest channel block */
    CorrFn fn[MR_MAX + 1];
} CorrIsa;

static const CorrIsa corr_isas[3] = {
    {16, 4, {NULL, corr_c_1, corr_c_2, NULL, corr_c_4}},
#ifdef GRAD_X86
    {16, 4, {NULL, corr_avx2_1, corr_avx2_2, NULL, corr_avx2_4}},
    {32, 8, {NULL, corr_avx512_1, corr_avx512_2, NULL, corr_avx512_4, NULL, NULL, NULL, corr_avx512_8}},
#else
    {16, 4, {NULL, corr_c_1, corr_c_2, NULL, corr_c_4}},
    {16, 4, {NULL, corr_c_1, corr_c_2, NULL, corr_c_4}},
#endif
};

static int corr_best_isa(void)
{
#ifdef GRAD_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

static int corr_isa_level = -1;

int grad_conv_isa(int force)
{
    int best = corr_best_isa();
    if (force >= 0) corr_isa_level = force < best ? force : best;
    if (corr_isa_level < 0) corr_isa_level = best;
    return corr_isa_level;
}

/* Packed weights of one correlation: blocks of mr output channels, each [cin][ntap][mr]. */
typedef struct CorrWeights {
    int nblk;
    int *mr;        /* channels per block */
    int64_t *m0;    /* first channel of each block */
    float *w;       /* all blocks of all groups, group-major */
    int64_t per_group;
} CorrWeights;

struct GradConvPlan {
    int64_t C, M, group, cg, mg;
    int64_t H, W, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
    Activation act;
    float *bias;               /* M floats (zeros when absent) */
    int isa;
    int ntap;
    /* forward: padded input planes Hp x Wp, stride-1 rows computed */
    int64_t Hp, Wp, frows, fq, fzs;
    int32_t *off_f;
    CorrWeights wf;
    /* backward: padded gradient grid planes Hb x Wb, first grid row/col r0, c0 */
    int64_t Hb, Wb, r0, c0, bq, bzs;
    int32_t *off_b;
    CorrWeights wb;
    int64_t scratch;
};

/* Split m channels into blocks of the ISA's sizes (as many mr_max as fit, then halves). */
static void corr_blocks(CorrWeights *cw, int64_t m, int mr_max)
{
    int cap = (int)(m / mr_max) + 8;
    cw->mr = xmalloc((size_t)cap * sizeof(int));
    cw->m0 = xmalloc((size_t)cap * sizeof(int64_t));
    cw->nblk = 0;
    int64_t m0 = 0;
    for (int mr = mr_max; mr >= 1; mr /= 2)
        while (m - m0 >= mr) {
            cw->mr[cw->nblk] = mr;
            cw->m0[cw->nblk++] = m0;
            m0 += mr;
        }
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

void grad_conv_plan_free(GradConvPlan *c)
{
    if (!c) return;
    free(c->bias), free(c->off_f), free(c->off_b), free(c->wf.w), free(c->wb.w);
    free(c->wf.mr), free(c->wf.m0), free(c->wb.mr), free(c->wb.m0);
    free(c);
}

int64_t grad_conv_plan_state(const GradConvPlan *c) { return c->act.kind != ACT_NONE ? c->M * c->OH * c->OW : 0; }
int64_t grad_conv_plan_scratch(const GradConvPlan *c) { return c->scratch; }

GradConvPlan *grad_conv_plan_new(const Node *n, const Tensor *x, const Tensor *w, const Tensor *b,
                                 const Tensor *y, Diag *d)
{
    if (n->op != OP_CONV || x->dtype != DT_F32 || w->dtype != DT_F32 || (b && b->dtype != DT_F32)) return NULL;
    if (x->rank != 4 || w->rank != 4 || y->rank != 4 || x->dims[0] != 1) return NULL;
    if (ir_attr_str(n, "layout", NULL) && ir_node_layout(n, NULL) != 0) return NULL;
    int64_t group = ir_attr_int(n, "group", 1), C = x->dims[1], M = w->dims[0];
    if (group < 1 || C != w->dims[1] * group || M % group) return NULL;
    ConvGeom geo;
    if (ir_conv_geometry(n, 4, x->dims, w->dims, &geo, NULL)) return NULL;
    Activation act;
    if (activation_from_node(n, &act, NULL)) return NULL;
    if (y->dims[1] != M || y->dims[2] != geo.out[0] || y->dims[3] != geo.out[1]) return NULL;
    int64_t taps = geo.kernel[0] * geo.kernel[1];

    GradConvPlan *c = xcalloc(1, sizeof *c);
    c->C = C, c->M = M, c->group = group, c->cg = C / group, c->mg = M / group;
    c->H = geo.in[0], c->W = geo.in[1], c->OH = geo.out[0], c->OW = geo.out[1];
    c->KH = geo.kernel[0], c->KW = geo.kernel[1], c->sh = geo.stride[0], c->sw = geo.stride[1];
    c->dh = geo.dilation[0], c->dw = geo.dilation[1], c->pt = geo.pad_begin[0], c->pl = geo.pad_begin[1];
    c->act = act;
    c->isa = grad_conv_isa(-1);
    const CorrIsa *isa = &corr_isas[c->isa];
    c->ntap = (int)taps;
    c->bias = xcalloc((size_t)M + 1, sizeof(float));
    if (b) memcpy(c->bias, b->data, (size_t)M * sizeof(float));
    int64_t ekh = c->dh * (c->KH - 1), ekw = c->dw * (c->KW - 1);

    /* forward geometry */
    c->Hp = c->H + geo.pad_begin[0] + geo.pad_end[0];
    c->Wp = c->W + geo.pad_begin[1] + geo.pad_end[1];
    c->frows = (c->OH - 1) * c->sh + 1;
    c->fq = c->frows * c->Wp;
    c->fzs = round_up(c->fq, isa->tile);
    c->off_f = xmalloc((size_t)taps * sizeof(int32_t));
    c->off_b = xmalloc((size_t)taps * sizeof(int32_t));
    /* backward geometry */
    c->Hb = c->H + ekh;
    c->Wb = c->W + ekw;
    c->r0 = c->pt - ekh;
    c->c0 = c->pl - ekw;
    c->bq = c->H * c->Wb;
    c->bzs = round_up(c->bq, isa->tile);
    for (int64_t ky = 0, t = 0; ky < c->KH; ky++)
        for (int64_t kx = 0; kx < c->KW; kx++, t++) {
            c->off_f[t] = (int32_t)(ky * c->dh * c->Wp + kx * c->dw);
            c->off_b[t] = (int32_t)(ky * c->dh * c->Wb + kx * c->dw);
        }

    /* packed weights */
    const float *W = w->data;
    corr_blocks(&c->wf, c->mg, isa->mr_max);
    corr_blocks(&c->wb, c->cg, isa->mr_max);
    c->wf.per_group = c->mg * c->cg * taps;
    c->wb.per_group = c->cg * c->mg * taps;
    c->wf.w = xmalloc((size_t)(group * c->wf.per_group) * sizeof(float) + 1);
    c->wb.w = xmalloc((size_t)(group * c->wb.per_group) * sizeof(float) + 1);
    for (int64_t g = 0; g < group; g++) {
        float *pf = c->wf.w + g * c->wf.per_group;
        for (int bi = 0; bi < c->wf.nblk; bi++) {
            int mr = c->wf.mr[bi];
            for (int64_t ci = 0; ci < c->cg; ci++)
                for (int64_t t = 0; t < taps; t++)
                    for (int r = 0; r < mr; r++)
                        *pf++ = W[((g * c->mg + c->wf.m0[bi] + r) * c->cg + ci) * taps + t];
        }
        float *pb = c->wb.w + g * c->wb.per_group;
        for (int bi = 0; bi < c->wb.nblk; bi++) {
            int mr = c->wb.mr[bi];
            for (int64_t m = 0; m < c->mg; m++)
                for (int64_t t = 0; t < taps; t++)
                    for (int r = 0; r < mr; r++)
                        *pb++ = W[((g * c->mg + m) * c->cg + c->wb.m0[bi] + r) * taps + (taps - 1 - t)];
        }
    }
    /* scratch: forward planes + z; backward gz + planes + z' */
    int64_t slack = TILE_MAX + ekw + 16;
    int64_t fwd = c->cg * c->Hp * c->Wp + slack + c->mg * c->fzs;
    int64_t bwd = M * c->OH * c->OW + c->mg * c->Hb * c->Wb + slack + c->cg * c->bzs;
    c->scratch = (fwd > bwd ? fwd : bwd) + 64;
    return c;
}

/* Run one correlation over every block: planes xp (cin planes of stride xs), z rows of zs. */
static void corr_run(const GradConvPlan *c, const CorrWeights *cw, const float *wg, const float *xp, int64_t xs,
                     int64_t cin, const int32_t *off, float *z, int64_t zs, int64_t nq)
{
    const CorrIsa *isa = &corr_isas[c->isa];
    const float *wp = wg;
    for (int bi = 0; bi < cw->nblk; bi++) {
        int mr = cw->mr[bi];
        isa->fn[mr](xp, xs, cin, off, c->ntap, wp, z + cw->m0[bi] * zs, zs, nq);
        wp += cin * c->ntap * mr;
    }
}

/* One output row: y = act(z[ox*sw] + b + res); the pre-activation goes to st when an activation
 * is fused. */
static void conv_epilogue_row(const float *z, int64_t sw, float b, const float *res, float *st,
                              const Activation *act, float *y, int64_t n)
{
    if (sw == 1)
        grad_vec_add_scalar(y, z, b, n);
    else
        for (int64_t i = 0; i < n; i++) y[i] = z[i * sw] + b;
    if (res) grad_vec_add(y, res, n);
    if (act->kind == ACT_NONE) return;
    memcpy(st, y, (size_t)n * sizeof(float));
    if (act->kind == ACT_RELU)
        grad_vec_relu(y, y, n);
    else
        for (int64_t i = 0; i < n; i++) y[i] = (float)activation_apply(act, y[i]);
}

void grad_conv_plan_forward(const GradConvPlan *c, const float *x, const float *res, float *y, float *state,
                            float *scratch)
{
    int64_t PS = c->Hp * c->Wp, plane = c->H * c->W, oplane = c->OH * c->OW;
    float *xp = scratch, *z = scratch + c->cg * PS + TILE_MAX + c->dw * (c->KW - 1) + 16;
    memset(xp + c->cg * PS, 0, (size_t)(z - (xp + c->cg * PS)) * sizeof(float));
    for (int64_t g = 0; g < c->group; g++) {
        /* padded input planes */
        for (int64_t ci = 0; ci < c->cg; ci++) {
            const float *xc = x + (g * c->cg + ci) * plane;
            float *pc = xp + ci * PS;
            for (int64_t R = 0; R < c->Hp; R++) {
                float *row = pc + R * c->Wp;
                int64_t iy = R - c->pt;
                if (iy < 0 || iy >= c->H) {
                    memset(row, 0, (size_t)c->Wp * sizeof(float));
                    continue;
                }
                memset(row, 0, (size_t)c->pl * sizeof(float));
                memcpy(row + c->pl, xc + iy * c->W, (size_t)c->W * sizeof(float));
                memset(row + c->pl + c->W, 0, (size_t)(c->Wp - c->pl - c->W) * sizeof(float));
            }
        }
        corr_run(c, &c->wf, c->wf.w + g * c->wf.per_group, xp, PS, c->cg, c->off_f, z, c->fzs, c->fq);
        /* epilogue: sample the stride-1 grid, bias, residual, activation */
        for (int64_t m = 0; m < c->mg; m++) {
            int64_t mo = g * c->mg + m;
            const float *zm = z + m * c->fzs;
            float bv = c->bias[mo];
            for (int64_t oy = 0; oy < c->OH; oy++) {
                const float *zr = zm + oy * c->sh * c->Wp;
                float *yr = y + mo * oplane + oy * c->OW;
                conv_epilogue_row(zr, c->sw, bv, res ? res + mo * oplane + oy * c->OW : NULL,
                                  state ? state + mo * oplane + oy * c->OW : NULL, &c->act, yr, c->OW);
            }
        }
    }
}

void grad_conv_plan_backward(const GradConvPlan *c, const float *gy, const float *state, float *gx, float *gres,
                             float *scratch)
{
    int64_t oplane = c->OH * c->OW, plane = c->H * c->W, PS = c->Hb * c->Wb;
    const float *gz = gy;
    float *gzb = scratch;
    if (c->act.kind != ACT_NONE) {
        int64_t cnt = c->M * oplane;
        if (c->act.kind == ACT_RELU)
            grad_vec_relu_back(gzb, gy, state, cnt, 0);
        else
            for (int64_t i = 0; i < cnt; i++) gzb[i] = gy[i] * (float)activation_grad(&c->act, state[i]);
        gz = gzb;
    }
    if (gres) grad_vec_add(gres, gz, c->M * oplane);
    if (!gx) return;
    float *bp = scratch + c->M * oplane;
    float *z = bp + c->mg * PS + TILE_MAX + c->dw * (c->KW - 1) + 16;
    memset(bp + c->mg * PS, 0, (size_t)(z - (bp + c->mg * PS)) * sizeof(float));
    for (int64_t g = 0; g < c->group; g++) {
        /* the stride-1 gradient grid of each output channel, padded/cropped: row R <- grid row
         * R + r0 (= output row (R + r0) / sh when divisible and in range), likewise columns */
        for (int64_t m = 0; m < c->mg; m++) {
            const float *gm = gz + (g * c->mg + m) * oplane;
            float *pm = bp + m * PS;
            memset(pm, 0, (size_t)PS * sizeof(float));
            for (int64_t R = 0; R < c->Hb; R++) {
                int64_t i1 = R + c->r0;
                if (i1 < 0 || i1 % c->sh) continue;
                int64_t oy = i1 / c->sh;
                if (oy >= c->OH) continue;
                float *row = pm + R * c->Wb;
                const float *gr = gm + oy * c->OW;
                if (c->sw == 1) {
                    int64_t lo = -c->c0 > 0 ? -c->c0 : 0, hi = c->OW - c->c0;
                    if (hi > c->Wb) hi = c->Wb;
                    if (hi > lo) memcpy(row + lo, gr + lo + c->c0, (size_t)(hi - lo) * sizeof(float));
                } else {
                    for (int64_t ox = 0; ox < c->OW; ox++) {
                        int64_t C1 = ox * c->sw - c->c0;
                        if (C1 >= 0 && C1 < c->Wb) row[C1] = gr[ox];
                    }
                }
            }
        }
        corr_run(c, &c->wb, c->wb.w + g * c->wb.per_group, bp, PS, c->mg, c->off_b, z, c->bzs, c->bq);
        for (int64_t ci = 0; ci < c->cg; ci++) {
            const float *zc = z + ci * c->bzs;
            float *gc = gx + (g * c->cg + ci) * plane;
            for (int64_t iy = 0; iy < c->H; iy++) grad_vec_add(gc + iy * c->W, zc + iy * c->Wb, c->W);
        }
    }
}
