/* pack.c — planning and weight packing for the convolution kernels (pack.h).
 *
 * Plan: a depthwise conv (group == IC == OC, blocked input) goes to conv_dw.h; every other conv
 * whose groups have channel counts that are multiples of 16 (or a single group) goes to
 * conv.h. The register tile and the depthwise path come from codegen/kernels/conv_plan.h (the
 * cost model shared with anything that predicts the schedule); a requested tile
 * (sched_oc_tile, sched_ow_tile) is used when it is a compiled instance that fits. The rest of
 * the parameters follow from the geometry: a 1x1 stride-1 unpadded conv is walked as one long
 * row; all input blocks in one pass unless a tile's weights exceed 1 MB.
 *
 * Winograd (conv_wino.h): with CgTarget.winograd, every conv kplan_wino_ok accepts (blocked
 * input, one group, 3x3, stride 1, dilation 1) whose padded output lanes need no zeroing; the
 * tile size from kplan_wino_wm (F(4x4,3x3) up to 128 input channels on images of 16 or more of
 * its tiles, F(2x2,3x3) elsewhere or with CgTarget.winograd 2), the tiles per item and input
 * blocks per pass from kplan_wino_blocking. Measured on Cascade Lake (docs/codegen.md §5),
 * F(2x2) took 0.35-0.93x the direct kernel's time on every such layer of resnet18, vgg16 and
 * squeezenet1_1, so no cost comparison is made.
 *
 * Packing: weights [OC, IC/group, KH, KW] -> per output-channel tile og of OC blocks:
 * [og][icb][kh][kw][ici][oc_tile][16] (conv.h), [CB][KH][KW][16] (conv_dw.h), or transformed,
 * U = G g G^T in double, [og][xi][ICB*16][OGB][16] (conv_wino.h); padded channels are zero.
 * Bias -> [OCB*16], zero padded.
 */
#include <stdio.h>
#include <string.h>

#include "codegen/pack.h"
#include "codegen/kernels/conv_plan.h"

#define BLK 16

/* The names of the exported instances (conv.c). */
static const char *const conv_fn_names[] = {
#define NAME(OC, T, CLS, ICI, PS) "kx_conv_" #CLS "_" #OC "x" #T "_range",
#define NAME_CLASS(CLS, ICI, PS) KCONV_SHAPES(NAME, CLS, ICI, PS)
    KCONV_CLASSES(NAME_CLASS)
#undef NAME_CLASS
#undef NAME
};
static const char *const conv_wino_fn_names[] = {
#define NAME(OGB, SFX, PF, WM) "kx_wino_" #OGB #SFX "_range",
    KWINO_INSTANCES(NAME)
#undef NAME
};
static const char *const conv_dw_fn_names[] = {
#define NAME(T, CLS, PS, KW) "kx_dwconv_" #CLS "_" #T "_range",
#define NAME_CLASS(CLS, PS, KW) KDW_SHAPES(NAME, CLS, PS, KW)
    KDW_CLASSES(NAME_CLASS)
#undef NAME_CLASS
#undef NAME
};

/* The static copy of name in table (NULL if absent: a planning bug). */
static const char *fn_name(const char *const *table, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(table[k], name)) return table[k];
    return NULL;
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static void set_note(CgConvPlan *p, const CgConvDesc *c, const char *what, int oc, int t)
{
    char tile[24];
    if (oc)
        snprintf(tile, sizeof tile, "%dx%d", oc, t);
    else
        snprintf(tile, sizeof tile, "%d", t);
    snprintf(p->note, sizeof p->note, "%s %lldx%lld s%lld%s tile %s", what, (long long)c->kh, (long long)c->kw,
             (long long)c->sh, c->dh > 1 || c->dw > 1 ? " dil" : "", tile);
}

static int plan_dw(const CgConvDesc *c, CgConvPlan *p)
{
    const KConvGeom g = {c->ih, c->iw, c->oh, c->ow, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw};
    int64_t cb = cdiv(c->ic, BLK), best_rows, best_w;
    const int best = kplan_dw_tile(&g, c->n * cb, c->ow_tile, &best_rows, &best_w);
    KDwParams *d = &p->dw;
    memset(d, 0, sizeof *d);
    d->tile = best;
    d->ih = (int32_t)c->ih, d->iw = (int32_t)c->iw, d->oh = (int32_t)c->oh, d->ow = (int32_t)c->ow;
    d->kh = (int32_t)c->kh, d->kw = (int32_t)c->kw, d->sh = (int32_t)c->sh, d->sw = (int32_t)c->sw;
    d->dh = (int32_t)c->dh, d->dw = (int32_t)c->dw, d->ph = (int32_t)c->ph, d->pw = (int32_t)c->pw;
    d->x_blk = c->ih * c->iw * BLK;
    d->x_img = cb * d->x_blk;
    d->y_blk = c->oh * c->ow * BLK;
    d->y_img = cb * d->y_blk;
    d->n_cb = cb;
    d->scr_rows = (int32_t)best_rows;
    d->scr_w = (int32_t)(best_rows ? best_w : 0);
    if (best_rows)
        d->pix_per_item = best_rows * c->ow;
    else
        d->pix_per_item = c->ow >= best ? c->ow : c->ow * cdiv(best, c->ow);
    d->n_pg = cdiv(c->oh * c->ow, d->pix_per_item);
    d->n_work = c->n * cb * d->n_pg;
    d->act = c->act, d->alpha = c->alpha, d->beta = c->beta, d->has_res = c->has_res;
    d->keep_lanes = c->keep_lanes;
    p->depthwise = 1;
    p->n_work = d->n_work;
    int64_t item_macs = d->pix_per_item * BLK * c->kh * c->kw;
    p->grain = cdiv(20000, item_macs > 0 ? item_macs : 1);
    p->w_floats = (size_t)(cb * c->kh * c->kw * BLK);
    p->b_floats = (size_t)(cb * BLK);
    char name[64];
    const int k3 = c->kw == 3 && c->dw == 1 && (c->sw == 1 || c->sw == 2);
    snprintf(name, sizeof name, "kx_dwconv_%s%s_%d_range", c->sw == 1 ? "s1" : c->sw == 2 ? "s2" : "sg",
             k3 ? "k3" : "", best);
    p->range_fn = fn_name(conv_dw_fn_names, sizeof conv_dw_fn_names / sizeof conv_dw_fn_names[0], name);
    IR_ASSERT(p->range_fn);
    set_note(p, c, best_rows ? "dwconv NCHW16c padded-copy" : "dwconv NCHW16c", 0, best);
    return 1;
}

static int plan_wino(const CgConvDesc *c, const CgTarget *tg, CgConvPlan *p)
{
    KWinoParams *w = &p->wino;
    memset(w, 0, sizeof *w);
    const int ogb = kplan_wino_ogb(tg->vector_bits, tg->vregs);
    const int64_t icb = cdiv(c->ic, BLK), ocb = cdiv(c->oc, BLK);
    const KConvGeom lg = {c->ih, c->iw, c->oh, c->ow, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw};
    const int wm = kplan_wino_wm(&lg, icb, tg->winograd != 2), nx = (wm + 2) * (wm + 2);
    const int64_t th = cdiv(c->oh, wm), tw = cdiv(c->ow, wm);
    int64_t tb, chunk;
    kplan_wino_blocking(th * tw, icb, ogb, wm, &tb, &chunk);
    w->ih = (int32_t)c->ih, w->iw = (int32_t)c->iw, w->oh = (int32_t)c->oh, w->ow = (int32_t)c->ow;
    w->ph = (int32_t)c->ph, w->pw = (int32_t)c->pw;
    w->icb = (int32_t)icb, w->ocb = (int32_t)ocb, w->th = (int32_t)th, w->tw = (int32_t)tw;
    w->tb = (int32_t)tb, w->chunk = (int32_t)chunk, w->ogb = ogb, w->wm = wm;
    w->n_og = cdiv(ocb, ogb);
    w->n_tb = cdiv(th * tw, tb);
    w->n_work = c->n * w->n_og * w->n_tb;
    w->x_img = icb * c->ih * c->iw * BLK;
    w->y_img = ocb * c->oh * c->ow * BLK;
    w->act = c->act, w->alpha = c->alpha, w->beta = c->beta;
    p->winograd = 1;
    p->n_work = w->n_work;
    p->grain = 1; /* an item is tb tiles x 16 x all input channels x ogb blocks: large */
    p->w_floats = (size_t)(w->n_og * nx * icb * BLK * ogb * BLK);
    p->b_floats = (size_t)(ocb * BLK);
    char name[64];
    const int pf = kplan_wino_prefetch(icb, ogb, wm);
    snprintf(name, sizeof name, "kx_wino_%d%s_range", ogb, wm == 4 ? (pf ? "_f4pf" : "_f4") : pf ? "_pf" : "");
    p->range_fn = fn_name(conv_wino_fn_names, sizeof conv_wino_fn_names / sizeof conv_wino_fn_names[0], name);
    IR_ASSERT(p->range_fn);
    snprintf(p->note, sizeof p->note, "conv NCHW16c 3x3 s1 winograd F(%dx%d,3x3) %lld tiles x %d blocks", wm, wm,
             (long long)tb, ogb);
    return 1;
}

/* G of F(2x2,3x3) (4x3) and of F(4x4,3x3) on the points 0, 1, -1, 1/2, -2 (6x3). */
static const double wino_g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double wino_g4[6][3] = {{1, 0, 0},
                                     {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                     {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                     {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                     {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                     {0, 0, 1}};

/* U = G g G^T (a x a, row-major in u) of the 3x3 kernel g, in double. */
static void wino_u(const double (*G)[3], int a, const float *g, double *u)
{
    double t[6][3];
    for (int i = 0; i < a; i++)
        for (int j = 0; j < 3; j++) t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) u[i * a + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

/* Weights [OC, IC, 3, 3] -> U per filter and channel at [og][xi][ICB*16][OGB][16] (conv_wino.h). */
static void pack_wino(const CgConvDesc *c, const CgConvPlan *p, const float *w, float *dst)
{
    const KWinoParams *q = &p->wino;
    const int a = q->wm + 2, nx = a * a; /* transform side, positions */
    const int64_t c16 = (int64_t)q->icb * BLK, ogb = q->ogb;
    for (int64_t oc = 0; oc < c->oc; oc++) {
        const int64_t blk = oc / BLK, og = blk / ogb, o = blk % ogb, lane = oc % BLK;
        for (int64_t ic = 0; ic < c->ic; ic++) {
            double u[36];
            wino_u(q->wm == 4 ? wino_g4 : wino_g2, a, w + (oc * c->ic + ic) * 9, u);
            for (int x = 0; x < nx; x++) dst[(((og * nx + x) * c16 + ic) * ogb + o) * BLK + lane] = (float)u[x];
        }
    }
}

/* 1 if kernel (filter oc, channel ic) of w [OC, IC, 3, 3] has a non-zero weight. */
static int kernel_kept(const CgConvDesc *c, const float *w, int64_t oc, int64_t ic)
{
    const float *g = w + (oc * c->ic + ic) * 9;
    for (int t = 0; t < 9; t++)
        if (g[t] != 0.0f) return 1;
    return 0;
}

/* The sparse Winograd kernel (conv_swino.h) for a conv plan_wino would take, if desc->w's kept
 * kernels pass kplan_swino_ok: output groups of at most KSW_MGMAX filters, channel chunks of at
 * most KSW_CCMAX, both split evenly in blocks of 16. Returns 0 to leave it dense. */
static int plan_swino(const CgConvDesc *c, CgConvPlan *p)
{
    if (c->ic > KSW_MAXC) return 0; /* before counting: the rule needs no count past it */
    int64_t nk = 0;
    for (int64_t oc = 0; oc < c->oc; oc++)
        for (int64_t ic = 0; ic < c->ic; ic++) nk += kernel_kept(c, c->w, oc, ic);
    if (!kplan_swino_ok(c->ic, c->oc, nk)) return 0;
    KSWinoParams *s = &p->swino;
    memset(s, 0, sizeof *s);
    KWinoParams *w = &s->g;
    const int64_t icb = cdiv(c->ic, BLK), ocb = cdiv(c->oc, BLK);
    const int64_t n_og = cdiv(ocb * BLK, KSW_MGMAX), n_ch = cdiv(icb * BLK, KSW_CCMAX);
    const int64_t th = cdiv(c->oh, 4), tw = cdiv(c->ow, 4);
    w->ih = (int32_t)c->ih, w->iw = (int32_t)c->iw, w->oh = (int32_t)c->oh, w->ow = (int32_t)c->ow;
    w->ph = (int32_t)c->ph, w->pw = (int32_t)c->pw;
    w->icb = (int32_t)icb, w->ocb = (int32_t)ocb, w->th = (int32_t)th, w->tw = (int32_t)tw;
    w->tb = 16 * KSW_TV, w->wm = 4;
    s->mg = (int32_t)(cdiv(ocb, n_og) * BLK), s->cc = (int32_t)(cdiv(icb, n_ch) * BLK);
    w->ogb = s->mg / BLK, w->chunk = s->cc / BLK;
    w->n_og = cdiv(ocb * BLK, s->mg), s->n_ch = (int32_t)cdiv(icb * BLK, s->cc);
    w->n_tb = cdiv(th * tw, w->tb);
    w->n_work = c->n * w->n_og * w->n_tb;
    w->x_img = icb * c->ih * c->iw * BLK;
    w->y_img = ocb * c->oh * c->ow * BLK;
    w->act = c->act, w->alpha = c->alpha, w->beta = c->beta;
    s->cnt_at = 0;
    s->ks_at = s->cnt_at + w->n_og * s->n_ch * s->mg;
    s->idx_at = s->ks_at + w->n_og * s->n_ch + 1;
    s->u_at = s->idx_at + nk;
    p->winograd = p->sparse_wino = 1;
    p->n_work = w->n_work;
    p->grain = 1;
    p->w_floats = (size_t)(s->u_at + 36 * nk);
    p->b_floats = (size_t)(ocb * BLK);
    p->range_fn = "kx_swino_range";
    snprintf(p->note, sizeof p->note,
             "conv NCHW16c 3x3 s1 sparse winograd F(4x4,3x3) kernels %lld of %lld (%.1f%%), %d tiles x %d filters",
             (long long)nk, (long long)(c->oc * c->ic), 100.0 * (double)nk / (double)(c->oc * c->ic), w->tb, s->mg);
    return 1;
}

/* Weights [OC, IC, 3, 3] -> the sections of conv_swino.h: kept kernels per (group, chunk,
 * filter), their prefix sums, each kept kernel's channel offset in V and its U (in double, then
 * rounded), per (group, chunk) in filter order. Integers are stored bit for bit in the float blob. */
static void pack_swino(const CgConvDesc *c, const CgConvPlan *p, const float *w, float *dst)
{
    const KSWinoParams *s = &p->swino;
    const int64_t n_og = s->g.n_og, n_ch = s->n_ch;
    int64_t k = 0;
    for (int64_t og = 0; og < n_og; og++)
        for (int64_t ch = 0; ch < n_ch; ch++) {
            const int64_t gc = og * n_ch + ch, k0 = k, c0 = ch * s->cc;
            const int64_t c1 = c0 + s->cc < c->ic ? c0 + s->cc : c->ic;
            int64_t nkc = 0;
            for (int64_t ml = 0; ml < s->mg; ml++) {
                const int64_t m = og * s->mg + ml;
                int32_t n = 0;
                for (int64_t ic = c0; m < c->oc && ic < c1; ic++) n += kernel_kept(c, w, m, ic);
                memcpy(dst + s->cnt_at + gc * s->mg + ml, &n, sizeof n);
                nkc += n;
            }
            const int32_t ks = (int32_t)k0;
            memcpy(dst + s->ks_at + gc, &ks, sizeof ks);
            for (int64_t ml = 0; ml < s->mg; ml++) {
                const int64_t m = og * s->mg + ml;
                for (int64_t ic = c0; m < c->oc && ic < c1; ic++) {
                    if (!kernel_kept(c, w, m, ic)) continue;
                    const int32_t off = (int32_t)((ic - c0) * KSW_TV * BLK * (int64_t)sizeof(float));
                    memcpy(dst + s->idx_at + k, &off, sizeof off);
                    double u[36];
                    wino_u(wino_g4, 6, w + (m * c->ic + ic) * 9, u);
                    for (int x = 0; x < 36; x++) {
                        const int x0 = x / KSW_XB * KSW_XB;
                        dst[s->u_at + k0 * 36 + x0 * nkc + (k - k0) * KSW_XB + (x - x0)] = (float)u[x];
                    }
                    k++;
                }
            }
        }
    const int32_t nk = (int32_t)k;
    memcpy(dst + s->ks_at + n_og * n_ch, &nk, sizeof nk);
}

int cg_conv_plan(const CgConvDesc *c, const CgTarget *tg, CgConvPlan *p)
{
    memset(p, 0, sizeof *p);
    /* The kernels compute pixel coordinates in int32: keep every one of them below 2^27. */
    const int64_t dim = (int64_t)1 << 24, plane = (int64_t)1 << 28, step = (int64_t)1 << 16, pad = (int64_t)1 << 20;
    if (c->n < 1 || c->ic < 1 || c->oc < 1 || c->group < 1 || c->ih < 1 || c->iw < 1 || c->oh < 1 || c->ow < 1 ||
        c->kh < 1 || c->kw < 1 || c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1 || c->ph < 0 || c->pw < 0)
        return 0;
    if (c->ih > dim || c->iw > dim || c->oh > dim || c->ow > dim || c->ih * c->iw > plane ||
        c->oh * c->ow > plane || c->kh * c->kw > 4096 || c->ph > pad || c->pw > pad || c->sh > step ||
        c->sw > step || c->dh > step || c->dw > step || (c->kh - 1) * c->dh > dim || (c->kw - 1) * c->dw > dim)
        return 0;
    if (c->ic % c->group || c->oc % c->group) return 0;
    int64_t icg = c->ic / c->group, ocg = c->oc / c->group;
    if (c->group > 1 && c->group == c->ic && c->group == c->oc) return c->blocked_in ? plan_dw(c, p) : 0;
    if (c->group > 1 && (ocg % BLK || (c->blocked_in && icg % BLK))) return 0;

    const int ici = c->blocked_in ? BLK : 1;
    const int64_t icb_g = c->blocked_in ? cdiv(icg, BLK) : icg;
    const int64_t ocb_g = cdiv(ocg, BLK), ocb = ocb_g * c->group;
    const KConvGeom lg = {c->ih, c->iw, c->oh, c->ow, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw, c->ph, c->pw};
    if (tg->winograd && !c->keep_lanes && kplan_wino_ok(&lg, c->group, c->blocked_in, tg->vector_bits, tg->vregs)) {
        if (tg->winograd == 1 && c->w && plan_swino(c, p)) return 1;
        return plan_wino(c, tg, p);
    }
    const KConvGeom g = kplan_conv_geom(&lg);
    int oct, t;
    if (!kplan_conv_tile(&lg, ocb_g, icb_g * ici, !c->blocked_in, tg->vector_bits, tg->vregs, c->oc_tile, c->ow_tile, &oct, &t))
        return 0;

    KConvParams *q = &p->conv;
    memset(q, 0, sizeof *q);
    q->oc_tile = oct, q->ow_tile = t;
    q->ih = (int32_t)g.ih, q->iw = (int32_t)g.iw, q->oh = (int32_t)g.oh, q->ow = (int32_t)g.ow;
    q->kh = (int32_t)g.kh, q->kw = (int32_t)g.kw, q->sh = (int32_t)g.sh, q->sw = (int32_t)g.sw;
    q->dh = (int32_t)g.dh, q->dw = (int32_t)g.dw, q->ph = (int32_t)g.ph, q->pw = (int32_t)g.pw;
    q->icb_g = (int32_t)icb_g, q->ocb_g = (int32_t)ocb_g;
    if (c->blocked_in) {
        q->x_pix = BLK;
        q->x_row = g.iw * BLK;
        q->x_blk = c->ih * c->iw * BLK;
        q->x_img = cdiv(c->ic, BLK) * q->x_blk;
    } else {
        q->x_pix = 1;
        q->x_row = g.iw;
        q->x_blk = c->ih * c->iw;
        q->x_img = c->ic * q->x_blk;
    }
    q->y_blk = c->oh * c->ow * BLK;
    q->y_img = ocb * q->y_blk;
    q->w_og = (int64_t)oct * icb_g * c->kh * c->kw * ici * BLK;
    /* input blocks per pass over the item's tiles: all of them (measured: partial sums through
     * y and re-deriving the border taps per pass cost more than streaming the weights from L2),
     * unless a tile's weights exceed 1 MB (half of a Sapphire Rapids L2) */
    int64_t chunk = ((int64_t)1 << 20) / (c->kh * c->kw * ici * oct * BLK * (int64_t)sizeof(float));
    q->icb_chunk = (int32_t)(chunk < 1 ? 1 : chunk > icb_g ? icb_g : chunk);
    q->n_og = ocb / oct;
    q->pix_per_item = kplan_conv_pix_per_item(&g, t);
    q->n_pg = cdiv(g.oh * g.ow, q->pix_per_item);
    q->n_work = c->n * q->n_og * q->n_pg;
    /* plain input, kernels at least 5 wide, items of one whole output row, all channels in one
     * pass: the kernel copies the item's input rows with their zero padding, so that no tile
     * gathers (conv.h kconv_item_rows). Measured on Cascade Lake (build/bench/ab --layers): the 7x7
     * stem of resnet18 0.933x the time (skipping its gathered border taps and partial tiles
     * altogether, wrong sums: 0.78x); 3x3 first layers, whose tiles gather fewer taps per copied
     * row, 0.987x (vgg16) and 1.016x (mobilenet_v2), so they keep the gathers */
    if (!c->blocked_in && g.kw >= 5 && (g.sw == 1 || g.sw == 2) && q->pix_per_item == g.ow &&
        q->icb_chunk == icb_g) {
        int64_t w = (cdiv(g.ow, t) * t - 1) * g.sw + (g.kw - 1) * g.dw + 1;
        if (icb_g * ((g.kh - 1) * g.dh + 1) * w <= KCONV_SCRATCH_FLOATS) q->scr_w = (int32_t)w;
    }
    q->act = c->act, q->alpha = c->alpha, q->beta = c->beta, q->has_res = c->has_res;
    q->keep_lanes = c->keep_lanes;

    p->depthwise = 0;
    p->n_work = q->n_work;
    int64_t item_macs = q->pix_per_item * oct * BLK * icb_g * ici * c->kh * c->kw;
    p->grain = cdiv(20000, item_macs > 0 ? item_macs : 1);
    p->w_floats = (size_t)(q->n_og * q->w_og);
    p->b_floats = (size_t)(ocb * BLK);
    const char *cls = c->blocked_in ? (g.sw == 1 ? "b1" : g.sw == 2 ? "b2" : "bg")
                                    : (g.sw == 1 ? "p1" : g.sw == 2 ? "p2" : "pg");
    char name[64];
    snprintf(name, sizeof name, "kx_conv_%s_%dx%d_range", cls, oct, t);
    p->range_fn = fn_name(conv_fn_names, sizeof conv_fn_names / sizeof conv_fn_names[0], name);
    IR_ASSERT(p->range_fn);
    set_note(p, c, c->blocked_in ? "conv NCHW16c" : "conv NCHW->NCHW16c", oct, t);
    return 1;
}

void cg_conv_pack_weights(const CgConvDesc *c, const CgConvPlan *p, const float *w, float *dst)
{
    const int64_t khw = c->kh * c->kw;
    memset(dst, 0, p->w_floats * sizeof(float));
    if (p->sparse_wino) {
        pack_swino(c, p, w, dst);
        return;
    }
    if (p->winograd) {
        pack_wino(c, p, w, dst);
        return;
    }
    if (p->depthwise) {
        for (int64_t ch = 0; ch < c->oc; ch++)
            for (int64_t k = 0; k < khw; k++) dst[((ch / BLK) * khw + k) * BLK + ch % BLK] = w[ch * khw + k];
        return;
    }
    const KConvParams *q = &p->conv;
    const int64_t icg = c->ic / c->group, ocg = c->oc / c->group;
    const int ici = c->blocked_in ? BLK : 1, oct = q->oc_tile;
    for (int64_t oc = 0; oc < c->oc; oc++) {
        int64_t grp = oc / ocg, ocl = oc % ocg;
        int64_t blk = grp * q->ocb_g + ocl / BLK; /* global output block */
        int64_t og = blk / oct, o = blk % oct, lane = ocl % BLK;
        float *d = dst + og * q->w_og;
        for (int64_t icl = 0; icl < icg; icl++) {
            int64_t icb = icl / ici, ii = icl % ici;
            for (int64_t k = 0; k < khw; k++)
                d[(((icb * khw + k) * ici + ii) * oct + o) * BLK + lane] = w[(oc * icg + icl) * khw + k];
        }
    }
}

void cg_conv_pack_bias(const CgConvDesc *c, const CgConvPlan *p, const float *b, float *dst)
{
    memset(dst, 0, p->b_floats * sizeof(float));
    if (!b) return;
    int64_t ocg = c->oc / c->group;
    for (int64_t oc = 0; oc < c->oc; oc++) {
        int64_t grp = oc / ocg, ocl = oc % ocg;
        int64_t ocb_g = p->depthwise ? 0 : p->conv.ocb_g;
        int64_t idx = p->depthwise ? oc : (grp * ocb_g + ocl / BLK) * BLK + ocl % BLK;
        dst[idx] = b[oc];
    }
}
