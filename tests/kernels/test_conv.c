/* test_conv.c — tests of the native convolution kernels (codegen/kernels/conv.h, conv_dw.h)
 * through their lowering (codegen/lower_conv.c, pack.c), against the reference interpreter.
 *
 * Each case builds a blocked Conv node (layout = "NCHW16c", plain or blocked input, optional
 * residual, fused activation, optional schedule tile), lowers it, runs the kernel instance the
 * lowering names over [0, n_work) in random chunks on seeded random data, converts the blocked
 * output back to NCHW (ir_layout_convert) and compares it with interp_node on the plain Conv
 * (plus the residual and activation applied after it, as the unfused graph would): the largest
 * error must be within 1e-5 of the output's scale, the largest magnitude of the output or of
 * the pre-activation values times the activations' Lipschitz bound 1.5 (the kernels sum in
 * float, the interpreter in double). Padded output lanes must hold +0 (the padded-lane rule); padded input lanes hold random
 * values the kernels must ignore. Cases: hand-picked shapes (resnet/mobilenet-like layers,
 * every stride/pad/dilation/kernel class, depthwise, channels not multiples of 16, tiny
 * images, N = 2), every compiled register tile and class via the schedule attributes, every
 * activation, and seeded random shapes; the Winograd kernel (conv_wino.h) on hand-picked and
 * random 3x3 stride-1 shapes. A standalone Check program: test_conv [-v].
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/conv.h"
#include "codegen/kernels/conv_dw.h"
#include "codegen/kernels/conv_lookup.h"
#include "codegen/kernels/conv_plan.h"
#include "codegen/lowering.h"
#include "codegen/pack.h"
#include "ir/activation.h"
#include "ir/ir.h"

int cg_lower_conv(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);

static int verbose;

/* ------------------------------------------------------------------ random numbers */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float rng_unif(uint64_t *s) /* [-1, 1) */
{
    return (float)((double)(rng_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}
static int rng_int(uint64_t *s, int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

/* ------------------------------------------------------------------ one case */
typedef struct Case {
    int64_t n, ic, ih, iw, oc, kh, kw;
    int64_t sh, sw, dh, dw;
    int64_t pads[4];      /* top, left, bottom, right */
    int64_t group;
    int blocked_in;
    int act;              /* ActKind */
    double alpha, beta;   /* used when act_params */
    int act_params;
    int residual;
    int bias;
    int oc_tile, ow_tile; /* schedule attributes, 0 = absent */
    const char *auto_pad; /* NULL = NOTSET */
    int winograd;         /* CgTarget.winograd: 3x3 stride-1 convs may take the Winograd kernel */
    double keep;          /* > 0: each kernel (filter x input channel) kept with this probability,
                             the others all zeros (connectivity pruning) */
} Case;

static double last_density; /* the fraction of kernels of the last case run_case built with a non-zero weight */

static char last_fn[64]; /* the kernel instance of the last case run_case lowered */

static Case base_case(int64_t n, int64_t ic, int64_t hw, int64_t oc, int64_t k, int64_t s, int64_t pad)
{
    Case c = {.n = n, .ic = ic, .ih = hw, .iw = hw, .oc = oc, .kh = k, .kw = k, .sh = s, .sw = s, .dh = 1, .dw = 1,
              .pads = {pad, pad, pad, pad}, .group = 1, .blocked_in = 1, .bias = 1};
    return c;
}

static void case_str(const Case *c, char *buf, size_t n)
{
    snprintf(buf, n,
             "N%lld IC%lld %lldx%lld OC%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld g%lld %s act=%s "
             "res=%d bias=%d tile=%dx%d%s%s",
             (long long)c->n, (long long)c->ic, (long long)c->ih, (long long)c->iw, (long long)c->oc,
             (long long)c->kh, (long long)c->kw, (long long)c->sh, (long long)c->sw, (long long)c->dh,
             (long long)c->dw, (long long)c->pads[0], (long long)c->pads[1], (long long)c->pads[2],
             (long long)c->pads[3], (long long)c->group, c->blocked_in ? "blocked" : "plain",
             activation_name((ActKind)c->act), c->residual, c->bias, c->oc_tile, c->ow_tile,
             c->auto_pad ? " auto_pad=" : "", c->auto_pad ? c->auto_pad : "");
}

static void set_conv_attrs(Graph *g, int nd, const Case *c, int with_act)
{
    int64_t ks[2] = {c->kh, c->kw}, st[2] = {c->sh, c->sw}, dl[2] = {c->dh, c->dw};
    ir_node_set_ints(g, nd, "kernel_shape", ks, 2);
    ir_node_set_ints(g, nd, "strides", st, 2);
    ir_node_set_ints(g, nd, "dilations", dl, 2);
    if (c->auto_pad)
        ir_node_set_str(g, nd, "auto_pad", c->auto_pad);
    else
        ir_node_set_ints(g, nd, "pads", c->pads, 4);
    ir_node_set_int(g, nd, "group", c->group);
    if (with_act && c->act != ACT_NONE) {
        ir_node_set_str(g, nd, "activation", activation_name((ActKind)c->act));
        if (c->act_params) {
            ir_node_set_float(g, nd, "activation_alpha", c->alpha);
            if (c->act == ACT_CLIP || c->act == ACT_HARD_SIGMOID) ir_node_set_float(g, nd, "activation_beta", c->beta);
        }
    }
}

/* The case's activation with the defaults the lowering gives a kind without parameters. */
static Activation case_activation(const Case *c)
{
    Activation act = {.kind = (ActKind)c->act};
    if (c->act_params) act.alpha = c->alpha, act.beta = c->beta;
    else if (c->act == ACT_LEAKY_RELU) act.alpha = 0.01;
    else if (c->act == ACT_CLIP) act.alpha = -INFINITY, act.beta = INFINITY;
    else if (c->act == ACT_HARD_SIGMOID) act.alpha = 0.2, act.beta = 0.5;
    return act;
}

/* Run the case; returns the number of failures (0 or 1) and prints what failed. `*lowered` is
 * set to whether the lowering accepted the node. */
static int run_case(const Case *c, uint64_t seed, int *lowered)
{
    char desc[256];
    case_str(c, desc, sizeof desc);
    uint64_t rs = seed;
    Diag d = {{0}};
    const int64_t icg = c->ic / c->group;
    int64_t xdims[4] = {c->n, c->ic, c->ih, c->iw}, wdims[4] = {c->oc, icg, c->kh, c->kw}, bdims[1] = {c->oc};
    int64_t nx = shape_numel(4, xdims), nw = shape_numel(4, wdims);
    float *xv = malloc((size_t)nx * sizeof(float)), *wv = malloc((size_t)nw * sizeof(float));
    float *bv = malloc((size_t)c->oc * sizeof(float));
    for (int64_t i = 0; i < nx; i++) xv[i] = rng_unif(&rs);
    for (int64_t i = 0; i < nw; i++) wv[i] = rng_unif(&rs);
    for (int64_t i = 0; i < c->oc; i++) bv[i] = rng_unif(&rs);
    const int64_t kk = c->kh * c->kw, nker = nw / kk;
    int64_t kept = 0;
    for (int64_t k = 0; k < nker; k++) {
        if (c->keep > 0 && rng_unif(&rs) * 0.5 + 0.5 >= c->keep)
            for (int64_t t = 0; t < kk; t++) wv[k * kk + t] = 0.0f;
        int nz = 0;
        for (int64_t t = 0; t < kk; t++) nz |= wv[k * kk + t] != 0.0f;
        kept += nz;
    }
    last_density = nker ? (double)kept / (double)nker : 1.0;

    /* reference: the plain conv, then + residual, then the activation */
    Graph *gr = ir_graph_new("ref");
    int rx = ir_value_add(gr, "x", DT_F32, 4, xdims);
    ir_graph_add_input(gr, rx);
    int rw = ir_const_add(gr, "w", DT_F32, 4, wdims, wv);
    int rb = c->bias ? ir_const_add(gr, "b", DT_F32, 1, bdims, bv) : -1;
    int ry = ir_value_add(gr, "y", DT_UNDEF, 0, NULL);
    int rin[3] = {rx, rw, rb};
    int rn = ir_node_add(gr, OP_CONV, "conv", c->bias ? 3 : 2, rin, 1, &ry);
    set_conv_attrs(gr, rn, c, 0);
    if (ir_infer_node(gr, rn, &d)) {
        fprintf(stderr, "FAIL %s: reference shape inference: %s\n", desc, d.msg);
        return 1;
    }
    const Value *yv = &gr->values[ry];
    const int64_t oh = yv->dims[2], ow = yv->dims[3], ocb = (c->oc + 15) / 16, npix = oh * ow;
    Tensor *xt = tensor_wrap(DT_F32, 4, xdims, xv), *wt = tensor_wrap(DT_F32, 4, wdims, wv);
    Tensor *bt = tensor_wrap(DT_F32, 1, bdims, bv);
    Tensor *ins[3] = {xt, wt, bt}, *outs[1] = {NULL};
    if (interp_node(gr, rn, ins, outs, &d)) {
        fprintf(stderr, "FAIL %s: interpreter: %s\n", desc, d.msg);
        return 1;
    }
    /* outs[0] = conv + bias rounded to f32; the unfused graph adds the residual (rounding) and
     * applies the activation in double (rounding): ref. The activations are at most
     * 1.5-Lipschitz, so errors scale with the pre-activation values: `scale`. */
    const int64_t ny = c->n * c->oc * npix, nyb = c->n * ocb * npix * 16;
    float *ref = outs[0]->data;
    float *resp = NULL, *resb = NULL;
    const Activation act = case_activation(c);
    if (c->residual) {
        resp = malloc((size_t)ny * sizeof(float));
        resb = malloc((size_t)nyb * sizeof(float));
        for (int64_t i = 0; i < ny; i++) resp[i] = rng_unif(&rs);
        ir_layout_convert(1, sizeof(float), c->n, c->oc, npix, resp, resb);
    }
    double scale = 0;
    for (int64_t i = 0; i < ny; i++) {
        float pre = c->residual ? (float)(ref[i] + resp[i]) : ref[i];
        ref[i] = (float)activation_apply(&act, (double)pre);
        scale = fmax(scale, fmax(fabs(pre) * 1.5, fabs(ref[i])));
    }

    /* the blocked node */
    Graph *g = ir_graph_new("blocked");
    int64_t xbd[5] = {c->n, (c->ic + 15) / 16, c->ih, c->iw, 16}, ybd[5] = {c->n, ocb, oh, ow, 16};
    int gx = c->blocked_in ? ir_value_add(g, "x", DT_F32, 5, xbd) : ir_value_add(g, "x", DT_F32, 4, xdims);
    int gw = ir_const_add(g, "w", DT_F32, 4, wdims, wv);
    int gb = c->bias ? ir_const_add(g, "b", DT_F32, 1, bdims, bv) : -1;
    int gres = c->residual ? ir_value_add(g, "r", DT_F32, 5, ybd) : -1;
    int gy = ir_value_add(g, "y", DT_F32, 5, ybd);
    int gin[4] = {gx, gw, gb, gres};
    int nin = c->residual ? 4 : c->bias ? 3 : 2;
    int gn = ir_node_add(g, OP_CONV, "conv", nin, gin, 1, &gy);
    set_conv_attrs(g, gn, c, 1);
    ir_node_set_str(g, gn, "layout", "NCHW16c");
    if (c->oc_tile) ir_node_set_int(g, gn, "sched_oc_tile", c->oc_tile);
    if (c->ow_tile) ir_node_set_int(g, gn, "sched_ow_tile", c->ow_tile);

    CgTarget tg = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1, .winograd = c->winograd};
    CgKernelCall call;
    int rc = cg_lower_conv(g, &g->nodes[gn], &tg, &call, &d);
    snprintf(last_fn, sizeof last_fn, "%s", rc == 1 ? call.range_fn : "");
    int fails = 0;
    *lowered = rc == 1;
    if (rc != 1) {
        if (rc < 0) {
            fprintf(stderr, "FAIL %s: lowering error: %s\n", desc, d.msg);
            fails = 1;
        }
        goto done;
    }
    KConvRangeFn fn = kconv_find_range(call.range_fn);
    if (!fn) {
        fprintf(stderr, "FAIL %s: unknown kernel %s\n", desc, call.range_fn);
        fails = 1;
        cg_call_free(&call);
        goto done;
    }
    /* input: blocked with random values in the padded lanes (finite; the kernel must ignore them) */
    float *xin = xv;
    if (c->blocked_in) {
        int64_t nxb = shape_numel(5, xbd);
        xin = malloc((size_t)nxb * sizeof(float));
        ir_layout_convert(1, sizeof(float), c->n, c->ic, c->ih * c->iw, xv, xin);
        for (int64_t i = 0; i < nxb; i++) {
            int64_t lane = i % 16, blk = (i / (16 * c->ih * c->iw)) % xbd[1];
            if (blk * 16 + lane >= c->ic) xin[i] = rng_unif(&rs);
        }
    }
    float *yb = malloc((size_t)nyb * sizeof(float));
    for (int64_t i = 0; i < nyb; i++) yb[i] = NAN; /* every element must be written */
    void *bufs[CG_MAX_BUFS];
    for (int k = 0; k < call.n_bufs; k++) {
        const CgBuf *b = &call.bufs[k];
        bufs[k] = b->kind == CG_BUF_NONE  ? NULL
                  : b->kind == CG_BUF_BLOB ? call.blobs[b->blob]
                  : b->value == gx         ? (void *)xin
                  : b->value == gy         ? (void *)yb
                  : b->value == gres       ? (void *)resb
                                           : NULL;
        if (b->kind == CG_BUF_VALUE && !bufs[k]) {
            fprintf(stderr, "FAIL %s: unexpected buffer value %d\n", desc, b->value);
            fails = 1;
        }
    }
    if (call.n_work < 1 || call.grain < 1) {
        fprintf(stderr, "FAIL %s: n_work %lld grain %lld\n", desc, (long long)call.n_work, (long long)call.grain);
        fails = 1;
    }
    for (int64_t b0 = 0; !fails && b0 < call.n_work;) {
        int64_t e = b0 + rng_int(&rs, 1, 3);
        if (e > call.n_work) e = call.n_work;
        fn(call.params, bufs, b0, e);
        b0 = e;
    }
    if (verbose) printf("%-60s %s n_work=%lld [%s]\n", call.range_fn, call.note, (long long)call.n_work, desc);
    cg_call_free(&call);

    if (!fails) {
        float *got = malloc((size_t)ny * sizeof(float));
        ir_layout_convert(0, sizeof(float), c->n, c->oc, npix, yb, got);
        double maxerr = 0;
        int64_t worst = 0;
        for (int64_t i = 0; i < ny; i++) {
            double e = fabs((double)got[i] - ref[i]);
            if (!(e <= maxerr)) maxerr = e, worst = i; /* NaN counts as the worst */
        }
        if (!(maxerr <= 1e-5 * (scale > 1e-30 ? scale : 1e-30))) {
            fprintf(stderr, "FAIL %s: %s max error %.3g at %lld (got %.9g, want %.9g), scale %.3g\n", desc,
                    call.note, maxerr, (long long)worst, got[worst], ref[worst], scale);
            fails = 1;
        }
        /* padded lanes: +0 whatever act(0) is (keep_lanes) */
        const float pad = 0.0f;
        for (int64_t i = 0; !fails && i < nyb; i++) {
            int64_t lane = i % 16, blk = (i / (16 * npix)) % ocb;
            if (blk * 16 + lane >= c->oc && !(yb[i] == pad)) {
                fprintf(stderr, "FAIL %s: padded lane %lld is %g, want %g\n", desc, (long long)i, yb[i], pad);
                fails = 1;
            }
        }
        free(got);
    }
    if (xin != xv) free(xin);
    free(yb);
done:
    free(resp);
    free(resb);
    tensor_free(outs[0]);
    tensor_free(xt);
    tensor_free(wt);
    tensor_free(bt);
    ir_graph_free(gr);
    ir_graph_free(g);
    free(xv);
    free(wv);
    free(bv);
    return fails;
}

/* Run c and require the lowering to accept it. */
static int expect_native(const Case *c, uint64_t seed)
{
    int lowered = 0, f = run_case(c, seed, &lowered);
    if (!f && !lowered) {
        char desc[256];
        case_str(c, desc, sizeof desc);
        fprintf(stderr, "FAIL %s: not lowered to a native kernel\n", desc);
        f = 1;
    }
    return f;
}

/* ------------------------------------------------------------------ tests */
START_TEST(test_layers)
{
    /* layers of the real networks (smaller images) and the kernel's special cases */
    Case cs[64];
    int n = 0;
    cs[n++] = base_case(1, 3, 32, 64, 7, 2, 3);   /* resnet stem: plain input */
    cs[n++] = base_case(1, 3, 20, 64, 3, 1, 1);   /* vgg stem */
    cs[n++] = base_case(1, 3, 23, 32, 3, 2, 1);   /* mobilenet stem, odd size */
    cs[n++] = base_case(1, 64, 14, 64, 3, 1, 1);  /* resnet 3x3 */
    cs[n++] = base_case(1, 64, 14, 128, 3, 2, 1); /* resnet downsample 3x3 */
    cs[n++] = base_case(1, 64, 14, 128, 1, 2, 0); /* resnet downsample 1x1 s2 */
    cs[n++] = base_case(1, 128, 7, 128, 3, 1, 1); /* 7x7 layer */
    cs[n++] = base_case(1, 32, 9, 48, 1, 1, 0);   /* pointwise, 3 blocks */
    cs[n++] = base_case(2, 24, 6, 40, 3, 1, 1);   /* N = 2, channels not multiples of 16 */
    cs[n++] = base_case(1, 40, 5, 24, 1, 1, 0);
    cs[n++] = base_case(1, 16, 1, 16, 1, 1, 0);   /* 1x1 image */
    cs[n++] = base_case(1, 16, 1, 32, 3, 1, 1);   /* 1x1 image, 3x3 pad 1 */
    cs[n++] = base_case(1, 16, 7, 16, 5, 1, 2);
    cs[n++] = base_case(1, 16, 11, 32, 7, 1, 3);
    cs[n++] = base_case(1, 32, 12, 32, 3, 3, 1);  /* stride 3: pointer path only */
    cs[n++] = base_case(1, 5, 12, 20, 3, 3, 0);   /* plain, stride 3 */
    cs[n++] = base_case(1, 3, 17, 16, 1, 1, 0);   /* plain pointwise */
    Case c = base_case(1, 32, 13, 32, 3, 1, 0);
    c.pads[0] = 0, c.pads[1] = 2, c.pads[2] = 1, c.pads[3] = 0; /* asymmetric */
    cs[n++] = c;
    c = base_case(1, 16, 15, 32, 3, 1, 2);
    c.dh = c.dw = 2; /* dilation */
    cs[n++] = c;
    c = base_case(1, 16, 14, 16, 3, 2, 1);
    c.dh = 2, c.sh = 1; /* mixed */
    cs[n++] = c;
    c = base_case(1, 64, 8, 64, 3, 1, 1);
    c.group = 2; /* 32 channels per group */
    cs[n++] = c;
    c = base_case(1, 64, 6, 128, 1, 1, 0);
    c.group = 4;
    cs[n++] = c;
    c = base_case(1, 32, 9, 32, 3, 1, 1);
    c.group = 32; /* depthwise */
    cs[n++] = c;
    c = base_case(2, 24, 10, 24, 3, 2, 1);
    c.group = 24; /* depthwise s2, 24 channels */
    cs[n++] = c;
    c = base_case(1, 48, 7, 48, 5, 1, 2);
    c.group = 48; /* depthwise 5x5 */
    cs[n++] = c;
    c = base_case(1, 16, 12, 16, 3, 3, 1);
    c.group = 16; /* depthwise stride 3 */
    cs[n++] = c;
    c = base_case(1, 16, 4, 16, 3, 1, 1);
    c.iw = 150, c.group = 16; /* depthwise rows too wide for the padded copy: direct path */
    cs[n++] = c;
    c = base_case(1, 16, 5, 16, 3, 2, 1);
    c.iw = 301, c.group = 16, c.residual = 1;
    cs[n++] = c;
    c = base_case(1, 32, 6, 32, 5, 1, 2);
    c.iw = 140, c.group = 32, c.act = ACT_RELU;
    cs[n++] = c;
    c = base_case(1, 32, 11, 32, 3, 1, 2);
    c.group = 32, c.dh = c.dw = 2; /* depthwise dilated */
    cs[n++] = c;
    c = base_case(1, 16, 10, 32, 3, 2, 0);
    c.auto_pad = "SAME_UPPER";
    cs[n++] = c;
    c = base_case(1, 16, 6, 16, 3, 1, 1);
    c.bias = 0;
    cs[n++] = c;
    c = base_case(1, 64, 7, 64, 3, 1, 1);
    c.residual = 1, c.act = ACT_RELU; /* resnet block end */
    cs[n++] = c;
    c = base_case(1, 24, 8, 24, 1, 1, 0);
    c.residual = 1; /* mobilenet projection + add */
    cs[n++] = c;
    c = base_case(1, 32, 6, 32, 3, 1, 1);
    c.group = 32, c.residual = 1, c.act = ACT_CLIP, c.act_params = 1, c.alpha = 0, c.beta = 6;
    cs[n++] = c;
    c = base_case(1, 104, 9, 104, 3, 1, 1);
    c.group = 13, c.act = ACT_RELU; /* narrow groups (8 channels), C % 16 != 0: widened to 16 */
    cs[n++] = c;
    c = base_case(2, 104, 10, 104, 3, 2, 1);
    c.group = 13, c.residual = 1, c.act = ACT_SIGMOID;
    cs[n++] = c;
    c = base_case(1, 24, 7, 24, 3, 1, 1);
    c.group = 6; /* 4 channels per group */
    cs[n++] = c;
    c = base_case(1, 40, 6, 40, 1, 1, 0);
    c.group = 20, c.act = ACT_HARD_SIGMOID; /* 2 channels per group, pointwise */
    cs[n++] = c;
    c = base_case(1, 12, 1, 104, 1, 1, 0);
    c.act = ACT_SIGMOID; /* squeeze-and-excitation expand: act(0) != 0 in the padded lanes */
    cs[n++] = c;
    c = base_case(1, 24, 8, 24, 3, 1, 1);
    c.group = 24, c.act = ACT_SIGMOID; /* depthwise, act(0) != 0, 24 channels */
    cs[n++] = c;
    c = base_case(1, 2048, 3, 64, 3, 1, 1);
    c.residual = 1, c.act = ACT_SIGMOID; /* weights over 1 MB per tile: passes over input-block chunks */
    cs[n++] = c;
    int fails = 0;
    for (int k = 0; k < n; k++) fails += expect_native(&cs[k], 1000 + (uint64_t)k);
    ck_assert_int_eq(fails, 0);
}
END_TEST

START_TEST(test_every_tile)
{
    /* every compiled register tile of every class, via the schedule attributes */
    static const int shapes[][2] = {
#define SH(OC, T, ...) {OC, T},
        KCONV_SHAPES(SH, )
#undef SH
    };
    int fails = 0, k = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int cls = 0; cls < 6; cls++) {
            int plain = cls >= 3, stride = cls % 3 + 1;
            Case c = base_case(1, plain ? 3 : 32, 9 + (int)s % 5, 16 * 12, 3, stride, 1);
            c.blocked_in = !plain;
            c.iw = 31 + (int)s; /* rows wider than every tile, and some partial tiles */
            c.oc_tile = shapes[s][0], c.ow_tile = shapes[s][1];
            c.residual = (k % 3) == 0;
            c.act = k % 2 ? ACT_RELU : ACT_NONE;
            fails += expect_native(&c, 2000 + (uint64_t)k++);
            c.iw = 5; /* tiles crossing rows */
            fails += expect_native(&c, 2000 + (uint64_t)k++);
        }
    static const int dw_tiles[] = {
#define DT(T, ...) T,
        KDW_SHAPES(DT, )
#undef DT
    };
    for (size_t s = 0; s < sizeof dw_tiles / sizeof dw_tiles[0]; s++)
        for (int v = 0; v < 6; v++) { /* kernel 3 (s1k3, s2k3, sg) and 5 (s1, s2, sg) */
            int stride = v % 3 + 1, ks = v < 3 ? 3 : 5;
            Case c = base_case(1, 48, 11, 48, ks, stride, ks / 2);
            c.iw = 37;
            c.group = 48;
            c.ow_tile = dw_tiles[s];
            c.residual = (k % 2) == 0;
            fails += expect_native(&c, 2000 + (uint64_t)k++);
        }
    ck_assert_int_eq(fails, 0);
}
END_TEST

START_TEST(test_plain_row_copy)
{
    /* plain input with kernels at least 5 wide: items copy their input rows with the padding
     * (conv.h kconv_item_rows); every tile that fits, strides 1 and 2, pads 0-3, widths with a
     * partial last tile, rows of the copy clipped at the top and bottom, residual and activation */
    static const int shapes[][2] = {
#define SH(OC, T, ...) {OC, T},
        KCONV_SHAPES(SH, )
#undef SH
    };
    CgTarget tg = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1};
    int fails = 0, k = 0, copied = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int v = 0; v < 4; v++) {
            int ks = v % 2 ? 7 : 5, stride = v / 2 + 1, pad = (int)(s + v) % 4;
            Case c = base_case(1, 1 + (int)s % 4, 8 + (int)s % 6, 16 * 12, ks, stride, pad);
            c.blocked_in = 0;
            c.iw = 23 + 3 * (int)s;
            c.oc_tile = shapes[s][0], c.ow_tile = shapes[s][1];
            c.residual = (k % 3) == 0;
            c.act = k % 2 ? ACT_RELU : ACT_NONE;
            fails += expect_native(&c, 5000 + (uint64_t)k++);
            /* the plan takes the row copy (else this test would not test it) */
            int64_t oh = (c.ih + 2 * pad - ks) / stride + 1, ow = (c.iw + 2 * pad - ks) / stride + 1;
            CgConvDesc d = {.n = 1, .ic = c.ic, .ih = c.ih, .iw = c.iw, .oc = c.oc, .oh = oh, .ow = ow, .kh = ks,
                            .kw = ks, .sh = stride, .sw = stride, .dh = 1, .dw = 1, .ph = pad, .pw = pad,
                            .group = 1, .oc_tile = c.oc_tile, .ow_tile = c.ow_tile};
            CgConvPlan pl;
            if (ow >= shapes[s][1] && cg_conv_plan(&d, &tg, &pl) && pl.conv.ow_tile == shapes[s][1]) {
                ck_assert_int_gt(pl.conv.scr_w, 0);
                copied++;
            }
        }
    ck_assert_int_eq(fails, 0);
    ck_assert_int_ge(copied, 40); /* 40 of the 64 cases have a row at least one tile wide */
}
END_TEST

START_TEST(test_activations)
{
    int fails = 0;
    for (int a = ACT_NONE; a < ACT_COUNT; a++)
        for (int v = 0; v < 4; v++) {
            Case c = base_case(1, 16 + 8 * v, 6, 24, v == 2 ? 1 : 3, 1, v == 2 ? 0 : 1);
            if (v == 3) c.group = c.ic = c.oc = 32; /* depthwise */
            c.act = a;
            c.residual = v == 1;
            if (v == 0 && (a == ACT_LEAKY_RELU || a == ACT_CLIP || a == ACT_HARD_SIGMOID)) {
                c.act_params = 1;
                c.alpha = a == ACT_CLIP ? -0.5 : 0.3;
                c.beta = a == ACT_CLIP ? 0.75 : 0.4;
            }
            fails += expect_native(&c, 3000 + (uint64_t)(a * 8 + v));
        }
    ck_assert_int_eq(fails, 0);
}
END_TEST

START_TEST(test_random)
{
    uint64_t rs = 77;
    int fails = 0, native = 0;
    for (int k = 0; k < 150; k++) {
        Case c = {.dh = 1, .dw = 1, .group = 1, .bias = 1};
        static const int64_t ks[] = {1, 1, 3, 3, 3, 5, 7};
        c.n = rng_int(&rs, 1, 2);
        c.kh = ks[rng_int(&rs, 0, 6)];
        c.kw = rng_int(&rs, 0, 3) ? c.kh : ks[rng_int(&rs, 0, 6)];
        c.sh = rng_int(&rs, 1, 2), c.sw = rng_int(&rs, 0, 3) ? c.sh : 3 - c.sh;
        if (rng_int(&rs, 0, 5) == 0) c.dh = c.dw = 2;
        for (int i = 0; i < 4; i++) c.pads[i] = rng_int(&rs, 0, 2);
        c.ih = rng_int(&rs, 1, 9), c.iw = rng_int(&rs, 1, 30);
        /* the kernel (with dilation) must fit the padded input */
        c.ih += (c.kh - 1) * c.dh + 1, c.iw += (c.kw - 1) * c.dw + 1;
        int kind = rng_int(&rs, 0, 9);
        static const int64_t chans[] = {3, 8, 16, 24, 32, 40, 64};
        if (kind == 0) { /* plain input */
            c.blocked_in = 0;
            c.ic = rng_int(&rs, 1, 5);
            c.oc = chans[rng_int(&rs, 1, 6)];
        } else if (kind == 1) { /* depthwise */
            c.blocked_in = 1;
            c.ic = c.oc = c.group = chans[rng_int(&rs, 1, 6)];
        } else if (kind == 2) { /* groups of 16 channels */
            c.blocked_in = 1;
            c.group = rng_int(&rs, 2, 3);
            c.ic = 16 * c.group * rng_int(&rs, 1, 2);
            c.oc = 16 * c.group * rng_int(&rs, 1, 2);
        } else if (kind == 3) { /* narrow groups of 2, 4 or 8 channels, any channel count */
            c.blocked_in = 1;
            const int64_t w = (int64_t)1 << rng_int(&rs, 1, 3);
            c.group = rng_int(&rs, 2, 13);
            c.ic = c.oc = w * c.group;
        } else {
            c.blocked_in = 1;
            c.ic = chans[rng_int(&rs, 0, 6)];
            c.oc = chans[rng_int(&rs, 0, 6)];
        }
        c.act = rng_int(&rs, 0, ACT_COUNT - 1);
        c.residual = rng_int(&rs, 0, 2) == 0;
        c.bias = rng_int(&rs, 0, 4) != 0;
        int lowered = 0;
        fails += run_case(&c, 4000 + (uint64_t)k, &lowered);
        native += lowered;
    }
    ck_assert_int_eq(fails, 0);
    ck_assert_int_eq(native, 150); /* every generated shape has a native kernel */
}
END_TEST

/* A random 3x3 stride-1 conv: N 1-2, channels in and out 1..maxc, image 1..maxh x 1..maxw
 * (at least 3 with its pads), pads 0-2, any activation, residual and bias at random. */
static Case random_3x3_case(uint64_t *rs, int maxc, int maxh, int maxw)
{
    Case c = base_case(rng_int(rs, 1, 2), rng_int(rs, 1, maxc), 1, rng_int(rs, 1, maxc), 3, 1, 0);
    for (int i = 0; i < 4; i++) c.pads[i] = rng_int(rs, 0, 2);
    c.ih = rng_int(rs, 1, maxh), c.iw = rng_int(rs, 1, maxw);
    if (c.ih + c.pads[0] + c.pads[2] < 3) c.ih = 3;
    if (c.iw + c.pads[1] + c.pads[3] < 3) c.iw = 3;
    c.act = rng_int(rs, 0, ACT_COUNT - 1);
    c.residual = rng_int(rs, 0, 2) == 0;
    c.bias = rng_int(rs, 0, 4) != 0;
    return c;
}

/* The Winograd kernels (conv_wino.h): 3x3 stride-1 convs with CgTarget.winograd, on shapes that
 * exercise their blocking (several tile blocks per image, several input-block passes, a partial
 * output group, N = 2), both tile sizes (F(4x4,3x3), kx_wino_*_f4, where kplan_wino_wm's rule
 * says, restated here; F(2x2,3x3) elsewhere, its U-prefetching instance kx_wino_*_pf past 128
 * input channels), odd and tiny images, asymmetric pads 0-2, every activation,
 * residual and bias; a shape with padded output lanes and act(0) != 0 must take the direct
 * kernel (the Winograd kernel does not zero padded lanes). */
START_TEST(test_winograd)
{
    Case cs[128];
    int n = 0;
    cs[n++] = base_case(1, 64, 20, 64, 3, 1, 1);  /* 100 tiles: 7 tile blocks */
    cs[n++] = base_case(1, 80, 9, 40, 3, 1, 1);   /* 5 input blocks, one pass; 3 output blocks of a group of 4 */
    cs[n++] = base_case(2, 16, 7, 100, 3, 1, 1);  /* N = 2, odd image, 7 output blocks */
    cs[n++] = base_case(1, 5, 1, 3, 3, 1, 1);     /* 1x1 image */
    cs[n++] = base_case(1, 300, 6, 20, 3, 1, 1);  /* 19 input blocks: 4 passes (6, 6, 6, 1) */
    cs[n++] = base_case(1, 256, 14, 72, 3, 1, 1); /* 16 input blocks: 49 tiles per item, 4 passes */
    cs[n++] = base_case(1, 80, 30, 40, 3, 1, 1);  /* F(4x4): 64 tiles, 4 items of 16, 5 input blocks, prefetched U */
    cs[n++] = base_case(1, 128, 16, 24, 3, 1, 1); /* F(4x4): 8 input blocks, 2 passes (5, 3) */
    cs[n++] = base_case(1, 64, 57, 64, 3, 1, 1);  /* F(4x4): 225 tiles, 11 items, the last row of tiles 1 high */
    cs[n++] = base_case(1, 272, 20, 20, 3, 1, 1); /* 100 tiles: 3 items of 34, 33, 33 */
    cs[n++] = base_case(1, 512, 7, 36, 3, 1, 1);  /* 32 input blocks: 6 passes, the last of 2 */
    cs[n++] = base_case(1, 32, 8, 32, 3, 1, 0);   /* no pads */
    cs[n++] = base_case(1, 24, 11, 24, 3, 1, 2);  /* pads 2 */
    cs[n] = base_case(1, 17, 10, 33, 3, 1, 1);    /* asymmetric pads */
    cs[n].pads[0] = 0, cs[n].pads[1] = 2, cs[n].pads[2] = 1, cs[n].pads[3] = 0, cs[n].iw = 13, n++;
    cs[n] = base_case(1, 48, 12, 48, 3, 1, 1);    /* residual + clip */
    cs[n].residual = 1, cs[n].act = ACT_CLIP, cs[n].act_params = 1, cs[n].alpha = -0.5, cs[n].beta = 2, n++;
    uint64_t rs = 91;
    while (n < 128) cs[n++] = random_3x3_case(&rs, 90, 13, 25);
    int fails = 0, wino = 0, pf = 0, f4 = 0;
    const int ogb = kplan_wino_ogb(512, 32);
    for (int k = 0; k < n; k++) {
        cs[k].winograd = 1;
        fails += expect_native(&cs[k], 6000 + (uint64_t)k);
        const Activation a = case_activation(&cs[k]);
        const int direct = cs[k].oc % 16 && activation_apply(&a, 0.0) != 0.0;
        const int took = !strncmp(last_fn, "kx_wino_", 8);
        /* F(4x4) up to 128 input channels where the output has at least 16 of its 4x4 tiles and
         * their 36 products per tile are at most 0.8 of F(2x2)'s 16 per 2x2 tile */
        const int oh = cs[k].ih + cs[k].pads[0] + cs[k].pads[2] - 2, ow = cs[k].iw + cs[k].pads[1] + cs[k].pads[3] - 2;
        const int t4 = ((oh + 3) / 4) * ((ow + 3) / 4), t2 = ((oh + 1) / 2) * ((ow + 1) / 2);
        const int want_f4 = !direct && (cs[k].ic + 15) / 16 <= 8 && t4 >= 16 && 36 * t4 * 5 <= 16 * t2 * 4;
        /* the U-prefetching instances where a group's U (16 or 36 x ICB*16 x OGB vectors) exceeds the bound */
        const int want_pf = !direct && (want_f4 ? 36.0 : 16.0) * ((cs[k].ic + 15) / 16) * 16 * ogb * 64 > 768 * 1024;
        const int took_pf = took && strstr(last_fn, "pf_") != NULL, took_f4 = took && strstr(last_fn, "_f4") != NULL;
        wino += took, pf += took_pf, f4 += took_f4;
        if (took == direct || took_pf != want_pf || took_f4 != want_f4) {
            char desc[256];
            case_str(&cs[k], desc, sizeof desc);
            fprintf(stderr, "FAIL %s: kernel %s, want %s%s\n", desc, last_fn, direct ? "direct" : "winograd",
                    want_f4 ? " F(4x4)" : want_pf ? " (prefetching U)" : "");
            fails++;
        }
    }
    ck_assert_int_eq(fails, 0);
    ck_assert_int_ge(wino, 90); /* 98 of the 128 with this seed; the rest need the direct kernel */
    ck_assert_int_ge(pf, 4);    /* F(2x2) past 128 channels, F(4x4) past 64 */
    ck_assert_int_ge(f4, 10);
}
END_TEST

/* The sparse Winograd kernel (conv_swino.h): 3x3 stride-1 convs with CgTarget.winograd 1 whose
 * weights keep at most KSW_DENSITY_MAX of their kernels and that have at most KSW_MAXC input
 * channels (restated here: 0.4 and 128), on shapes that exercise its blocking (several tile
 * blocks per image and a partial last one, two channel chunks of KSW_CCMAX, several output
 * groups of at most KSW_MGMAX filters, a partial output block, N = 2), odd and
 * tiny images, asymmetric pads, every activation, residual and bias; filters without kernels,
 * a conv with no kernel at all, and densities on both sides of the bound (above it: the dense
 * Winograd kernel); CgTarget.winograd 2 (F(2x2) only) keeps the dense kernel. */
START_TEST(test_sparse_winograd)
{
    Case cs[96];
    int n = 0;
    cs[n++] = base_case(1, 128, 28, 128, 3, 1, 1); /* 49 tiles: 4 items of 16 tiles, 2 chunks */
    cs[n++] = base_case(2, 64, 20, 64, 3, 1, 1);   /* N = 2 */
    cs[n++] = base_case(1, 120, 10, 300, 3, 1, 1); /* 2 chunks of 64, 2 groups of 160 filters */
    cs[n++] = base_case(1, 40, 57, 72, 3, 1, 1);   /* 225 tiles, the last row of tiles 1 high */
    cs[n++] = base_case(1, 17, 9, 33, 3, 1, 0);   /* odd channels, no pads */
    cs[n++] = base_case(1, 5, 1, 3, 3, 1, 1);      /* 1x1 image */
    cs[n++] = base_case(1, 128, 6, 520, 3, 1, 1);  /* 3 groups of 176 filters */
    cs[n++] = base_case(1, 144, 12, 64, 3, 1, 1);  /* more than 128 channels: dense */
    cs[n] = base_case(1, 48, 11, 40, 3, 1, 2);     /* residual + clip, pads 2 */
    cs[n].residual = 1, cs[n].act = ACT_CLIP, cs[n].act_params = 1, cs[n].alpha = -0.5, cs[n].beta = 2, n++;
    cs[n] = base_case(1, 17, 10, 33, 3, 1, 1);     /* asymmetric pads */
    cs[n].pads[0] = 0, cs[n].pads[1] = 2, cs[n].pads[2] = 1, cs[n].pads[3] = 0, cs[n].iw = 13, n++;
    for (int k = 0; k < n; k++) cs[k].keep = 0.28;
    cs[n] = base_case(1, 64, 16, 64, 3, 1, 1), cs[n++].keep = 0.02;  /* most filters without kernels */
    cs[n] = base_case(1, 32, 12, 48, 3, 1, 1), cs[n++].keep = 1e-9;  /* no kernel at all: bias only */
    cs[n] = base_case(1, 64, 16, 64, 3, 1, 1), cs[n++].keep = 0.35;
    cs[n] = base_case(1, 64, 16, 64, 3, 1, 1), cs[n++].keep = 0.5;   /* above the bound: dense */
    cs[n] = base_case(1, 64, 16, 64, 3, 1, 1), cs[n].keep = 0.2, cs[n++].winograd = 2; /* F(2x2) only: dense */
    uint64_t rs = 93;
    static const double keeps[] = {0.05, 0.2, 0.3, 0.38, 0.6};
    while (n < 72) {
        cs[n] = random_3x3_case(&rs, 140, 30, 30);
        cs[n++].keep = keeps[rng_int(&rs, 0, 4)];
    }
    int fails = 0, sparse = 0, dense = 0;
    for (int k = 0; k < n; k++) {
        if (!cs[k].winograd) cs[k].winograd = 1;
        fails += expect_native(&cs[k], 7000 + (uint64_t)k);
        const Activation a = case_activation(&cs[k]);
        const int direct = cs[k].oc % 16 && activation_apply(&a, 0.0) != 0.0;
        const int want = !direct && cs[k].winograd == 1 && cs[k].ic <= 128 && last_density <= 0.4;
        const int took = !strcmp(last_fn, "kx_swino_range");
        sparse += took, dense += !took && !direct;
        if (took != want) {
            char desc[256];
            case_str(&cs[k], desc, sizeof desc);
            fprintf(stderr, "FAIL %s: kernels kept %.3f: kernel %s, want %s\n", desc, last_density, last_fn,
                    want ? "kx_swino_range" : "another");
            fails++;
        }
    }
    ck_assert_int_eq(fails, 0);
    ck_assert_int_ge(sparse, 40);
    ck_assert_int_ge(dense, 5);
}
END_TEST

START_TEST(test_fallback)
{
    /* nodes the kernels do not handle are left to the fallback (lowering returns 0) */
    Case c = base_case(1, 24, 6, 24, 3, 1, 1);
    c.group = 8; /* 3 channels per group */
    int lowered = 1;
    ck_assert_int_eq(run_case(&c, 5000, &lowered), 0);
    ck_assert_int_eq(lowered, 0);
    c = base_case(1, 3, 6, 3, 3, 1, 1);
    c.group = 3, c.blocked_in = 0; /* plain-input depthwise */
    ck_assert_int_eq(run_case(&c, 5001, &lowered), 0);
    ck_assert_int_eq(lowered, 0);
    c = base_case(1, 24, 6, 24, 3, 1, 1);
    c.group = 3, c.blocked_in = 0; /* plain-input narrow groups: widening would read channels 24-31 */
    ck_assert_int_eq(run_case(&c, 5002, &lowered), 0);
    ck_assert_int_eq(lowered, 0);
}
END_TEST

int main(int argc, char **argv)
{
    verbose = argc > 1 && !strcmp(argv[1], "-v");
    Suite *s = suite_create("kernels_conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_layers);
    tcase_add_test(tc, test_every_tile);
    tcase_add_test(tc, test_plain_row_copy);
    tcase_add_test(tc, test_activations);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_winograd);
    tcase_add_test(tc, test_sparse_winograd);
    tcase_add_test(tc, test_fallback);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
