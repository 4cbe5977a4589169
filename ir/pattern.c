/* pattern.c — the two ppcc-internal ops of pattern-sparse convolution (created by the pass
 * pattern-group, passes/pattern_group.c; docs/codegen.md §7): shape inference and the reference
 * semantics the native kernels (codegen/kernels/pattern.h) are tested against.
 *
 * PatternPad(x) -> xp [N, C, NC, CH, CW]: copies of the zero-padded input's stride phases
 *   x: plain [N, C, H, W] or blocked NCHW16c [N, ceil(C/16), H, W, 16] (attribute layout).
 *   Attributes: channels C, strides [SH, SW], pads [PT, PL] (leading), plane [PH, PW],
 *   flat (0/1), copies (NC triples phase, dy, dx), copy [CH, CW].
 *   Phase plane a*SW + b: P[i][j] = x[n][c][SH*i + a - PT][SW*j + b - PL] for i < PH, j < PW,
 *   0 outside x and outside the plane. Copy s = (phase, dy, dx):
 *     flat = 0: xp[n][c][s][i][j] = P[i + dy][j + dx]
 *     flat = 1: xp[n][c][s][i][j] = P(e + dy*PW + dx), e = i*CW + j, P(e) = P[e / PW][e % PW]
 *   so that every tap of a strided, dilated convolution reads a copy at a fixed offset
 *   (ppcc makes one copy per phase, codegen/kernels/pattern_plan.h).
 *
 * PatternConv(xp, w, idx, runs, bias[, residual]) -> y
 *   Compact filter-kernel-weight storage of a pattern-pruned convolution (M filters in
 *   MB = ceil(M/16) blocks of 16, C input channels, a library of K patterns of NT taps each
 *   within a KH x KW kernel):
 *     w     f32 [NK, NT]   the NT weights of every kept kernel, taps in pattern order
 *     idx   i32 [NK]       c * 16 + f: the kernel's input channel c and filter m = ob*16 + f
 *     runs  i32 [MB*NCB*K + 1]  the kernels of filter block ob, input-channel block cb
 *           (cblock channels each, NCB = ceil(C/cblock)) and pattern p are the w/idx rows
 *           runs[(ob*NCB + cb)*K + p] .. runs[(ob*NCB + cb)*K + p + 1] - 1
 *     bias  f32 [M]
 *     residual (optional) the output's shape
 *   Attributes: patterns (K masks over the KH x KW taps, bit kh*KW + kw; a pattern's taps are
 *   its set bits in increasing order), kernel_shape [KH, KW], strides, dilations, channels C,
 *   cblock, out [M, OH, OW], flat, copies and plane_w (PW) as the PatternPad that made xp,
 *   layout ("NCHW16c": y is [N, ceil(M/16), OH, OW, 16]), the fused activation attributes of
 *   Conv, and the informational ones the pass adds (schedule, stats).
 *   y[n][m][oh][ow] = act(sum_k w[k][t] * X(k, t, oh, ow) + bias[m] (+ residual))
 *   over the kernels k of filter m, where for tap t = (kh, kw) of kernel k's pattern, with
 *   ey = kh*DH, ex = kw*DW, phase = (ey % SH)*SW + ex % SW, dy = ey / SH, dx = ex / SW:
 *     flat = 0: X = xp[n][c_k][copy (phase, 0, dx0)][oh + dy][ow + dx - dx0], dx0 the largest
 *               column shift <= dx among the phase's copies with dy = 0 (dx itself if present)
 *     flat = 1: X = xp[n][c_k][copy (phase, dy0, dx0)] at flat index oh*PW + ow + (dy - dy0)*PW
 *               + dx - dx0, the copy of the phase with the largest dy0*PW + dx0 <= dy*PW + dx
 *   i.e. the input at row SH*oh + ey - PT, column SW*ow + ex - PL. Rounding as Conv: the sum in
 *   double, rounded once with the bias, the residual added in f32, the activation in double.
 */
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "ir.h"
#include "pattern.h"

static int get2(const Node *n, const char *name, int64_t *v, int64_t dflt, Diag *d)
{
    int cnt = 0;
    const int64_t *a = ir_attr_ints(n, name, &cnt);
    v[0] = v[1] = dflt;
    if (!a) return 0;
    if (cnt != 2) return node_error(d, n, "attribute %s must have 2 values", name);
    v[0] = a[0], v[1] = a[1];
    return 0;
}

/* The copies attribute: n triples (phase, dy, dx); NULL with d set when malformed. */
static const int64_t *pattern_copies(const Node *n, int64_t nphase, int *count, Diag *d)
{
    int cnt = 0;
    const int64_t *cp = ir_attr_ints(n, "copies", &cnt);
    if (!cp || cnt < 3 || cnt % 3) {
        node_error(d, n, "attribute copies must be triples (phase, dy, dx)");
        return NULL;
    }
    for (int i = 0; i < cnt; i += 3)
        if (cp[i] < 0 || cp[i] >= nphase || cp[i + 1] < 0 || cp[i + 2] < 0) {
            node_error(d, n, "copy %d out of range", i / 3);
            return NULL;
        }
    *count = cnt / 3;
    return cp;
}

int shape_pattern_pad(Graph *g, Node *n, Diag *d)
{
    const Value *x = &g->values[n->in[0]];
    int64_t C = ir_attr_int(n, "channels", -1), st[2], pads[2], plane[2], copy[2];
    if (get2(n, "strides", st, 1, d) || get2(n, "pads", pads, 0, d) || get2(n, "plane", plane, -1, d) ||
        get2(n, "copy", copy, -1, d))
        return -1;
    const char *layout = ir_attr_str(n, "layout", NULL);
    int blocked = layout && !strcmp(layout, "NCHW16c");
    if (x->dtype != DT_F32) return node_error(d, n, "input must be f32");
    if (blocked ? x->rank != 5 || x->dims[4] != IR_LAYOUT_BLOCK : x->rank != 4)
        return node_error(d, n, "input must be %s", blocked ? "NCHW16c (rank 5)" : "NCHW (rank 4)");
    if (C < 1 || (blocked ? (C + IR_LAYOUT_BLOCK - 1) / IR_LAYOUT_BLOCK != x->dims[1] : C != x->dims[1]))
        return node_error(d, n, "channels=%lld does not match the input", (long long)C);
    if (st[0] < 1 || st[1] < 1 || pads[0] < 0 || pads[1] < 0 || plane[0] < 1 || plane[1] < 1 || copy[0] < 1 ||
        copy[1] < 1)
        return node_error(d, n, "strides, pads, plane or copy out of range");
    int nc = 0;
    if (!pattern_copies(n, st[0] * st[1], &nc, d)) return -1;
    int64_t dims[5] = {x->dims[0], C, nc, copy[0], copy[1]};
    shape_set_out(g, n, 0, DT_F32, 5, dims);
    return 0;
}

int eval_pattern_pad(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    (void)g;
    const Tensor *x = in[0];
    Tensor *y = out[0];
    int64_t st[2], pads[2], plane[2];
    get2(n, "strides", st, 1, NULL);
    get2(n, "pads", pads, 0, NULL);
    get2(n, "plane", plane, 1, NULL);
    int nc = 0;
    const int64_t *cp = pattern_copies(n, st[0] * st[1], &nc, d);
    if (!cp) return -1;
    const int flat = ir_attr_int(n, "flat", 0) != 0;
    const char *layout = ir_attr_str(n, "layout", NULL);
    int blocked = layout && !strcmp(layout, "NCHW16c");
    const int64_t N = y->dims[0], C = y->dims[1], CH = y->dims[3], CW = y->dims[4], PH = plane[0], PW = plane[1];
    const int64_t H = x->dims[2], W = x->dims[3], CB = blocked ? x->dims[1] : C;
    const float *xs = x->data;
    float *yd = y->data;
    for (int64_t ni = 0; ni < N; ni++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < nc; s++) {
                const int64_t a = cp[3 * s] / st[1], b = cp[3 * s] % st[1], dy = cp[3 * s + 1], dx = cp[3 * s + 2];
                float *ys = yd + ((ni * C + c) * nc + s) * CH * CW;
                for (int64_t i = 0; i < CH; i++)
                    for (int64_t j = 0; j < CW; j++) {
                        int64_t pi, pj; /* the phase-plane element */
                        if (flat) {
                            int64_t e = i * CW + j + dy * PW + dx;
                            pi = e / PW, pj = e % PW;
                        } else {
                            pi = i + dy, pj = j + dx;
                        }
                        int64_t h = st[0] * pi + a - pads[0], w = st[1] * pj + b - pads[1];
                        float v = 0.0f;
                        if (pi < PH && pj < PW && h >= 0 && h < H && w >= 0 && w < W)
                            v = blocked ? xs[(((ni * CB + c / IR_LAYOUT_BLOCK) * H + h) * W + w) * IR_LAYOUT_BLOCK +
                                             c % IR_LAYOUT_BLOCK]
                                        : xs[((ni * C + c) * H + h) * W + w];
                        ys[i * CW + j] = v;
                    }
            }
    return 0;
}

int ir_pattern_geom(const Graph *g, const Node *n, PatGeom *p, Diag *d)
{
    memset(p, 0, sizeof *p);
    if (n->n_in < 5) return node_error(d, n, "needs inputs xp, w, idx, runs, bias");
    const Value *xp = &g->values[n->in[0]], *w = &g->values[n->in[1]], *idx = &g->values[n->in[2]];
    const Value *runs = &g->values[n->in[3]], *b = &g->values[n->in[4]];
    int cnt = 0;
    p->masks = ir_attr_ints(n, "patterns", &cnt);
    p->k = cnt;
    int64_t ks[2], st[2], dl[2], out[3] = {0, 0, 0};
    if (get2(n, "kernel_shape", ks, 3, d) || get2(n, "strides", st, 1, d) || get2(n, "dilations", dl, 1, d))
        return -1;
    const int64_t *o = ir_attr_ints(n, "out", &cnt);
    if (!o || cnt != 3) return node_error(d, n, "attribute out must be [M, OH, OW]");
    memcpy(out, o, sizeof out);
    p->kh = ks[0], p->kw = ks[1], p->sh = st[0], p->sw = st[1], p->dh = dl[0], p->dw = dl[1];
    p->m = out[0], p->oh = out[1], p->ow = out[2];
    p->c = ir_attr_int(n, "channels", -1);
    p->cblock = ir_attr_int(n, "cblock", p->c);
    const char *layout = ir_attr_str(n, "layout", NULL);
    p->blocked = layout && !strcmp(layout, "NCHW16c");
    if (p->k < 1 || !p->masks) return node_error(d, n, "attribute patterns is missing");
    if (p->kh < 1 || p->kw < 1 || p->kh * p->kw > 30 || p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1)
        return node_error(d, n, "kernel_shape, strides or dilations out of range");
    if (p->m < 1 || p->oh < 1 || p->ow < 1 || p->c < 1 || p->cblock < 1)
        return node_error(d, n, "out, channels or cblock out of range");
    p->ncb = (p->c + p->cblock - 1) / p->cblock;
    p->nphase = p->sh * p->sw;
    p->flat = ir_attr_int(n, "flat", 0) != 0;
    p->pw = ir_attr_int(n, "plane_w", -1);
    int nc = 0;
    if (!(p->copies = pattern_copies(n, p->nphase, &nc, d))) return -1;
    p->ncopy = nc;
    if (xp->dtype != DT_F32 || xp->rank != 5 || xp->dims[1] != p->c || xp->dims[2] != p->ncopy)
        return node_error(d, n, "input 0 must be a PatternPad output [N, C, copies, CH, CW]");
    p->n = xp->dims[0], p->ch = xp->dims[3], p->cw = xp->dims[4];
    if (p->pw < p->ow) return node_error(d, n, "plane_w must be at least the output width");
    if (w->dtype != DT_F32 || w->rank != 2) return node_error(d, n, "weights must be f32 [NK, NT]");
    p->nk = w->dims[0], p->nt = w->dims[1];
    for (int64_t i = 0; i < p->k; i++) {
        if (p->masks[i] <= 0 || p->masks[i] >= ((int64_t)1 << (p->kh * p->kw)))
            return node_error(d, n, "pattern %lld is not a mask of the kernel's taps", (long long)i);
        if (__builtin_popcountll((unsigned long long)p->masks[i]) != p->nt)
            return node_error(d, n, "pattern %lld does not have %lld taps", (long long)i, (long long)p->nt);
    }
    if (idx->dtype != DT_I32 || idx->rank != 1 || idx->dims[0] != p->nk)
        return node_error(d, n, "kernel channels must be i32 [NK]");
    p->mb = (p->m + IR_LAYOUT_BLOCK - 1) / IR_LAYOUT_BLOCK;
    if (runs->dtype != DT_I32 || runs->rank != 1 || runs->dims[0] != p->mb * p->ncb * p->k + 1)
        return node_error(d, n, "runs must be i32 [MB*NCB*K + 1]");
    if (b->dtype != DT_F32 || ir_value_numel(b) != p->m) return node_error(d, n, "bias must be f32 [M]");
    /* every tap of every valid output pixel reads a copy, inside it */
    for (int64_t q = 0; q < p->k; q++)
        for (int64_t bit = 0; bit < p->kh * p->kw; bit++) {
            if (!(p->masks[q] >> bit & 1)) continue;
            int64_t tap[3];
            if (ir_pattern_tap(p, bit, tap) < 0)
                return node_error(d, n, "no copy for tap %lld of pattern %lld", (long long)bit, (long long)q);
            int64_t last = (p->flat ? (p->oh - 1) * p->pw + p->ow - 1 : (p->oh - 1 + tap[1]) * p->cw + p->ow - 1) + tap[2];
            if (p->flat ? p->pw < p->ow + (p->kw - 1) * p->dw / p->sw : p->cw < p->ow + tap[2])
                return node_error(d, n, "copies too narrow for the output");
            if (last >= p->ch * p->cw) return node_error(d, n, "copies too small for the output");
        }
    return 0;
}

/* Copy index and offset within the copy of tap `bit` (kh*KW + kw): out = {copy, dy, ddx}; the
 * value for output (oh, ow) is copy[(oh + dy) * cw + ow + ddx] (rows: the copy of the tap's
 * phase with dy = 0 and the largest column shift dx0 <= dx, ddx = dx - dx0) or
 * copy[oh * pw + ow + ddx] (flat: the copy of the tap's phase with the largest shift
 * dy0*PW + dx0 <= dy*PW + dx, ddx the difference). -1 if there is no such copy. */
int ir_pattern_tap(const PatGeom *p, int64_t bit, int64_t out[3])
{
    int64_t ey = bit / p->kw * p->dh, ex = bit % p->kw * p->dw;
    int64_t phase = (ey % p->sh) * p->sw + ex % p->sw, dy = ey / p->sh, dx = ex / p->sw;
    /* shifts as offsets within a copy: rows mode dx (the row dy is separate; copies with dy != 0
     * are not read), flat dy*PW + dx */
    const int64_t shift = p->flat ? dy * p->pw + dx : dx;
    int64_t best = -1, bo = 0;
    for (int64_t i = 0; i < p->ncopy; i++) {
        const int64_t *c = p->copies + 3 * i;
        const int64_t o = p->flat ? c[1] * p->pw + c[2] : c[1] ? -1 : c[2];
        if (c[0] == phase && o >= 0 && o <= shift && (best < 0 || o > bo)) best = i, bo = o;
    }
    if (best < 0) return -1;
    out[0] = best, out[1] = p->flat ? 0 : dy, out[2] = shift - bo;
    return 0;
}

int shape_pattern_conv(Graph *g, Node *n, Diag *d)
{
    PatGeom p;
    if (ir_pattern_geom(g, n, &p, d)) return -1;
    int64_t dims[5] = {p.n, p.m, p.oh, p.ow, IR_LAYOUT_BLOCK};
    if (p.blocked) dims[1] = (p.m + IR_LAYOUT_BLOCK - 1) / IR_LAYOUT_BLOCK;
    int rank = p.blocked ? 5 : 4;
    if (n->n_in > 5 && n->in[5] >= 0) {
        const Value *r = &g->values[n->in[5]];
        if (r->dtype != DT_F32 || r->rank != rank || memcmp(r->dims, dims, (size_t)rank * sizeof(int64_t)))
            return node_error(d, n, "residual shape does not match the output");
    }
    shape_set_out(g, n, 0, DT_F32, rank, dims);
    return 0;
}

int eval_pattern_conv(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d)
{
    PatGeom p;
    if (ir_pattern_geom(g, n, &p, d)) return -1;
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    const float *xp = in[0]->data, *w = in[1]->data, *bias = in[4]->data;
    const int32_t *idx = in[2]->data, *runs = in[3]->data;
    const Tensor *res = n->n_in > 5 && n->in[5] >= 0 ? in[5] : NULL;
    const int64_t plane = p.ch * p.cw, npix = p.oh * p.ow;
    int64_t (*tap)[3] = xmalloc((size_t)(p.k * p.nt) * sizeof *tap); /* [K][NT]: copy, dy */
    for (int64_t q = 0; q < p.k; q++) {
        int t = 0;
        for (int64_t bit = 0; bit < p.kh * p.kw; bit++)
            if (p.masks[q] >> bit & 1) ir_pattern_tap(&p, bit, tap[q * p.nt + t++]);
    }
    if (runs[0] != 0 || runs[p.mb * p.ncb * p.k] != p.nk) {
        free(tap);
        return node_error(d, n, "runs do not cover the %lld kernels", (long long)p.nk);
    }
    for (int64_t r = 0; r < p.mb * p.ncb * p.k; r++)
        for (int64_t k = runs[r]; k < runs[r + 1]; k++) {
            int64_t c = idx[k] >> 4, m = r / (p.ncb * p.k) * IR_LAYOUT_BLOCK + (idx[k] & 15);
            if (runs[r + 1] < runs[r] || idx[k] < 0 || c >= p.c || m >= p.m) {
                free(tap);
                return node_error(d, n, "kernel %lld: channel %lld or filter %lld out of range", (long long)k,
                                  (long long)c, (long long)m);
            }
        }
    float *plain = xmalloc((size_t)(p.n * p.m * npix) * sizeof(float));
    double *acc = xcalloc((size_t)(p.m * npix), sizeof(double));
    for (int64_t ni = 0; ni < p.n; ni++) {
        memset(acc, 0, (size_t)(p.m * npix) * sizeof(double));
        for (int64_t r = 0; r < p.mb * p.ncb * p.k; r++) {
            const int64_t q = r % p.k, ob = r / (p.ncb * p.k);
            for (int64_t k = runs[r]; k < runs[r + 1]; k++) {
                double *am = acc + (ob * IR_LAYOUT_BLOCK + (idx[k] & 15)) * npix;
                for (int64_t t = 0; t < p.nt; t++) {
                    const int64_t *tp = tap[q * p.nt + t];
                    const float *xc = xp + ((ni * p.c + (idx[k] >> 4)) * p.ncopy + tp[0]) * plane;
                    double wv = w[k * p.nt + t];
                    for (int64_t oh = 0; oh < p.oh; oh++)
                        for (int64_t ow = 0; ow < p.ow; ow++)
                            am[oh * p.ow + ow] +=
                                wv * xc[(p.flat ? oh * p.pw + ow : (oh + tp[1]) * p.cw + ow) + tp[2]];
                }
            }
        }
        for (int64_t m = 0; m < p.m; m++) {
            float *yr = plain + (ni * p.m + m) * npix;
            for (int64_t j = 0; j < npix; j++) yr[j] = (float)(acc[m * npix + j] + (double)bias[m]);
        }
    }
    if (res) {
        /* the residual in the output's layout: add it to the plain sums */
        float *rp = plain;
        if (p.blocked) {
            rp = xmalloc((size_t)(p.n * p.m * npix) * sizeof(float));
            ir_layout_convert(0, sizeof(float), p.n, p.m, npix, res->data, rp);
        }
        const float *rr = p.blocked ? rp : res->data;
        for (int64_t i = 0; i < p.n * p.m * npix; i++) plain[i] = plain[i] + rr[i];
        if (p.blocked) free(rp);
    }
    if (act.kind != ACT_NONE)
        for (int64_t i = 0; i < p.n * p.m * npix; i++) plain[i] = (float)activation_apply(&act, plain[i]);
    if (p.blocked)
        ir_layout_convert(1, sizeof(float), p.n, p.m, npix, plain, out[0]->data);
    else
        memcpy(out[0]->data, plain, (size_t)(p.n * p.m * npix) * sizeof(float));
    free(plain);
    free(acc);
    free(tap);
    return 0;
}
