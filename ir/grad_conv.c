/* grad_conv.c — backward function of Conv (grad.h): y = act(conv(x, w) + b + residual), N-D,
 * groups, strides, dilations, pads/auto_pad (geometry from ir_conv_geometry, as the
 * interpreter), the fused activation of activation.h.
 *
 * The reference computation in double: a table maps (output position p, kernel tap t) to the
 * input spatial offset it reads (-1 in the padding); the pre-activation z is recomputed from it
 * (only when an activation is fused), gz = gy * act'(z), and then for every image, group, output
 * channel m, input channel c and tap:
 *   gx[c, tab[p,t]] += w[m, c, t] * gz[m, p]      gw[m, c, t] += x[c, tab[p,t]] * gz[m, p]
 *   gb[m] += gz[m, p]                             gres[m, p] += gz[m, p]
 * Straight loops: this is the definition the fast path (grad_plan_conv.c) is tested against.
 */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

/* tab[p*T + t]: input spatial offset read by output position p through tap t, or -1. */
static int64_t *grad_conv_table(const ConvGeom *geo, int64_t P, int64_t T)
{
    int64_t *tab = xmalloc((size_t)(P * T) * sizeof(int64_t) + 1);
    int ns = geo->nsp;
    int64_t oc[IR_MAX_RANK] = {0};
    for (int64_t p = 0; p < P; p++) {
        int64_t tc[IR_MAX_RANK] = {0};
        for (int64_t t = 0; t < T; t++) {
            int64_t off = 0;
            int ok = 1;
            for (int a = 0; a < ns && ok; a++) {
                int64_t i = oc[a] * geo->stride[a] + tc[a] * geo->dilation[a] - geo->pad_begin[a];
                ok = i >= 0 && i < geo->in[a];
                off = off * geo->in[a] + i;
            }
            tab[p * T + t] = ok ? off : -1;
            for (int a = ns - 1; a >= 0; a--) {
                if (++tc[a] < geo->kernel[a]) break;
                tc[a] = 0;
            }
        }
        for (int a = ns - 1; a >= 0; a--) {
            if (++oc[a] < geo->out[a]) break;
            oc[a] = 0;
        }
    }
    return tab;
}

/* Whole tensor as doubles (NULL for NULL). */
static double *grad_conv_load(const Tensor *t)
{
    if (!t) return NULL;
    int64_t cnt = tensor_numel(t);
    double *p = xmalloc((size_t)cnt * sizeof(double) + 1);
    for (int64_t i = 0; i < cnt; i++) p[i] = grad_ld(t, i);
    return p;
}

int grad_conv(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    const Tensor *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL, *r = n->n_in > 3 ? in[3] : NULL;
    const Tensor *gy = gout[0];
    Tensor *gx = gin[0], *gw = gin[1], *gb = n->n_in > 2 ? gin[2] : NULL, *gr = n->n_in > 3 ? gin[3] : NULL;
    if (!gy || (!gx && !gw && !gb && !gr)) return 0;
    if (!dtype_is_float(x->dtype)) return node_error(d, n, "gradient needs floating-point operands");
    int64_t group = ir_attr_int(n, "group", 1), C = x->dims[1], M = w->dims[0], N = x->dims[0];
    if (group < 1 || C != w->dims[1] * group || M % group)
        return node_error(d, n, "channels do not match W and group");
    ConvGeom geo;
    if (x->rank != w->rank || ir_conv_geometry(n, x->rank, x->dims, w->dims, &geo, d)) return -1;
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    int64_t P = 1, T = 1, I = 1;
    for (int a = 0; a < geo.nsp; a++) P *= geo.out[a], T *= geo.kernel[a], I *= geo.in[a];
    if (tensor_numel(gy) != N * M * P) return node_error(d, n, "gradient shape mismatch");
    int64_t cg = C / group, mg = M / group;
    int64_t *tab = grad_conv_table(&geo, P, T);
    double *X = grad_conv_load(x), *W = grad_conv_load(w);
    double *gz = grad_conv_load(gy);
    if (act.kind != ACT_NONE) {
        /* z = conv + bias + residual, then gz = gy * act'(z) */
        for (int64_t ni = 0; ni < N; ni++)
            for (int64_t m = 0; m < M; m++) {
                int64_t gi = m / mg;
                const double *wm = W + m * cg * T;
                for (int64_t p = 0; p < P; p++) {
                    double z = b ? grad_ld(b, m) : 0;
                    for (int64_t c = 0; c < cg; c++) {
                        const double *xc = X + (ni * C + gi * cg + c) * I;
                        for (int64_t t = 0; t < T; t++) {
                            int64_t o = tab[p * T + t];
                            if (o >= 0) z += wm[c * T + t] * xc[o];
                        }
                    }
                    int64_t yi = (ni * M + m) * P + p;
                    if (r) z += grad_ld(r, yi);
                    gz[yi] *= activation_grad(&act, z);
                }
            }
    }
    double *GX = gx ? xcalloc((size_t)(N * C * I) + 1, sizeof(double)) : NULL;
    double *GW = gw ? xcalloc((size_t)tensor_numel(w) + 1, sizeof(double)) : NULL;
    double *GB = gb ? xcalloc((size_t)M + 1, sizeof(double)) : NULL;
    for (int64_t ni = 0; ni < N; ni++)
        for (int64_t m = 0; m < M; m++) {
            int64_t gi = m / mg;
            const double *gzm = gz + (ni * M + m) * P;
            if (GB)
                for (int64_t p = 0; p < P; p++) GB[m] += gzm[p];
            if (!GX && !GW) continue;
            for (int64_t c = 0; c < cg; c++) {
                int64_t xo = (ni * C + gi * cg + c) * I;
                for (int64_t t = 0; t < T; t++) {
                    int64_t wi = (m * cg + c) * T + t;
                    double wv = W[wi], acc = 0;
                    for (int64_t p = 0; p < P; p++) {
                        int64_t o = tab[p * T + t];
                        if (o < 0) continue;
                        if (GX) GX[xo + o] += wv * gzm[p];
                        acc += X[xo + o] * gzm[p];
                    }
                    if (GW) GW[wi] += acc;
                }
            }
        }
    if (gr) grad_acc_buf(gr, gz);
    if (GX) grad_acc_buf(gx, GX);
    if (GW) grad_acc_buf(gw, GW);
    if (GB) grad_acc_buf(gb, GB);
    free(tab), free(X), free(W), free(gz), free(GX), free(GW), free(GB);
    return 0;
}
