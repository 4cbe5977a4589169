/* invert.h — model inversion: synthetic inputs distilled from a model itself, for data-free
 * pruning (--synthetic=inverted, issue #5). Needs nothing but the model.
 *
 * Methods, chosen automatically (InvertOptions.method = INVERT_AUTO) in this order:
 *   classifier  the output is class scores: its producer is a Gemm or MatMul (no fused
 *               activation) giving [N, classes], optionally followed by Softmax/LogSoftmax over
 *               the classes (the logits before it are used). Seeded random images are optimised
 *               with Adam so that the ORIGINAL model assigns image i to class i mod classes:
 *                 loss = CE(logits, class) + tv_weight * TV(x) + l2_weight * mean(x^2)
 *                        + l1_weight * mean|x|
 *                        (+ bn_weight * BN-statistics term when bn_weight > 0)
 *               TV(x) = mean over the image of squared differences between horizontally and
 *               vertically neighbouring pixels (the last two axes; the last axis alone for rank 1).
 *   bn_stats    no classifier, but BatchNormalization nodes on the input's path: the images of a
 *               batch are optimised so that, at every such node, the batch's per-channel mean
 *               and (biased) variance of the node's input match the node's running mean and var:
 *                 term = sum over nodes of mean over channels ((m - mean)^2 + (v - var)^2).
 *   gaussian    neither: the initial random images themselves.
 * Coverage (coverage > 0, classifier method): real inputs excite every channel of a layer, images
 * optimised for one class only the channels that class needs, and a pruner fitting a layer on
 * them drops the rest. So each image also gets
 *                 + coverage * -log(r + INVERT_COVERAGE_EPS),  r = e_k / mean_c e_c,
 *               e_c = mean square of channel c of the input of one 3x3 Conv (the conv and k drawn
 *               per image from its own random stream; only convs on the input's path whose input
 *               is not the graph input itself, i.e. the layers a pruner fits on these images).
 *               Greedy (coverage_greedy): the first batch draws as above; each later batch's
 *               images take, in order, the channels (over all those convs' inputs) whose summed
 *               relative energy e_c / mean e over the finished images is lowest. The batch size
 *               then matters (64 by default).
 * Jitter (DeepInversion's trick): from step 1 on, each step sees the image cyclically shifted by
 * a random offset of up to `jitter` pixels along the last two axes (the gradient is shifted
 * back), which favours structure over pixel-exact noise.
 * Initial images: Gaussian, mean (range_lo + range_hi)/2 and std (range_hi - range_lo)/4 when a
 * range is given (clamped into it; the MNIST example expects pixels in [0,1]: range 0..1), else
 * N(0, 1). With a range, every Adam step is followed by clamping the pixels into it.
 * Resolution (smooth images): with resolution r < 1 the optimised parameters are an image of
 * round(r*H) x round(r*W) pixels per plane (last two axes, rank >= 2), and the input is its
 * bilinear upsampling to H x W (half-pixel centres, like PyTorch's align_corners=False); the
 * penalties apply to the input, their gradient flows back through the upsampling's adjoint. With
 * a range the parameters are free (not clamped; initial values not clamped either) and the input
 * is the upsampling clamped into the range, whose gradient is zero where the clamp is active
 * (so saturated areas, e.g. a black background, stay put). Strokes and blobs instead of
 * pixel-level texture: on the MNIST example this, with an L1 term and the input range, is what
 * makes pruning on the images work (98% instead of 86% at connectivity 0.5, docs/pruning.md).
 * Without a BatchNorm term every sample is optimised independently (forward and backward back to
 * back, one sample's activations in memory); with one, `batch` samples are run forward together
 * and their statistics matched. A graph input with batch dim N > 1 whose scores have N rows
 * holds N images per sample, targeting classes (sample*N + row) mod classes.
 * Deterministic for a given seed on a given machine (single thread, fixed order; the SIMD level
 * of grad_plan_conv.c can change the last bits between machines).
 *
 * Usage:
 *     InvertOptions o; invert_options_default(&o); o.samples = 256; o.has_range = 1;
 *     o.range_lo = 0; o.range_hi = 1;
 *     Tensor **imgs; InvertStats st;
 *     if (invert_synthesize(g, &o, &imgs, &st, &diag)) ...error...
 *     ... imgs[0..o.samples-1] are f32 tensors of the input's shape ...
 *     invert_images_free(imgs, o.samples); invert_stats_free(&st);
 */
#ifndef PPCC_INVERT_H
#define PPCC_INVERT_H

#include <stdint.h>

#include "ir/grad.h"
#include "ir/ir.h"

typedef enum InvertMethod { INVERT_AUTO = 0, INVERT_CLASSIFIER, INVERT_BN_STATS, INVERT_GAUSSIAN } InvertMethod;

typedef struct InvertOptions {
    InvertMethod method; /* INVERT_AUTO (default): classifier, else bn_stats, else gaussian */
    int samples;         /* graph-input tensors to synthesise (256) */
    int steps;           /* Adam steps (300) */
    int batch;           /* samples whose BatchNorm statistics are matched together (64); without
                          * a BatchNorm term samples are independent and this changes nothing */
    double lr;           /* Adam learning rate (0.05); beta1 0.9, beta2 0.999, eps 1e-8 */
    double tv_weight;    /* total-variation weight (1.0) */
    double l2_weight;    /* L2 weight (0.5) */
    double l1_weight;    /* L1 weight, mean |x| (0: off) */
    double resolution;   /* parameter resolution relative to the input's, 0 < r <= 1 (1) */
    double bn_weight;    /* BN-statistics weight added in classifier mode (0: off) */
    int jitter;          /* random cyclic shift of up to this many pixels per step (2) */
    double coverage;     /* channel-coverage weight (0: off; classifier method only) */
    int coverage_greedy; /* 1: after the first batch, images take the least-excited channels (0) */
    uint64_t seed;       /* RNG seed (1) */
    int has_range;       /* 1: inputs live in [range_lo, range_hi] (init scale and clamp) */
    double range_lo, range_hi;
    int input_index;     /* graph input to synthesise (0) */
    int output_index;    /* graph output with the class scores (0) */
} InvertOptions;

typedef struct InvertStats {
    InvertMethod method;  /* the method used */
    char note[256];       /* why this method, in words */
    int classes;          /* classifier: number of classes */
    int bn_nodes;         /* BatchNormalization nodes matched (bn_stats, or bn_weight > 0) */
    double self_agreement; /* classifier: fraction of images the model assigns their target class
                            * after the last step; -1 for the other methods */
    double init_agreement; /* the same for the initial random images */
    int curve_every;      /* 10 */
    int n_curve;          /* curve[k]: mean loss over all images at step k*curve_every; the last
                           * entry is the loss after the final step */
    double *curve;
    double seconds;       /* wall time of invert_synthesize */
    int cover_values;     /* conv inputs the coverage term draws from (0: off) */
    GradPlanInfo plan;    /* the batched engine used */
} InvertStats;

void invert_options_default(InvertOptions *o);
/* Validate option values (the CLI's bad-option errors): samples >= 1, steps >= 0, batch >= 1,
 * lr > 0, weights >= 0 and finite, 0 < resolution <= 1, range_lo < range_hi. Returns 0 or -1
 * with d set. */
int invert_options_check(const InvertOptions *o, Diag *d);
const char *invert_method_name(InvertMethod m); /* "auto", "classifier", "bn_stats", "gaussian" */

/* The classifier head of output output_index: *logits_vid (the scores before a final softmax)
 * and *classes. Returns 1 if found, else 0 with the reason in why (n bytes). */
int invert_find_classifier(const Graph *g, int output_index, int *logits_vid, int *classes, char *why, size_t n);

/* Synthesise opt->samples inputs for graph input opt->input_index (f32; the graph must have no
 * other inputs). *images: a new array of new tensors of the input's shape (free with
 * invert_images_free). stats (may be NULL) is filled; free with invert_stats_free. Errors (-1,
 * d set): bad options, a non-f32 input, extra inputs, a forced method the model does not
 * support, and the gradient engine's errors (an op without a gradient names node and op). */
int invert_synthesize(const Graph *g, const InvertOptions *opt, Tensor ***images, InvertStats *stats, Diag *d);
void invert_images_free(Tensor **images, int n);

/* The coverage term of one image: a = its [C, S] activations (channel-major), k the channel to
 * excite, w the weight. Returns w * -log(r + INVERT_COVERAGE_EPS) with r = e_k / mean_c e_c
 * (e_c: mean of a[c][.]^2), or 0 when all of a is zero; adds its gradient to grad (may be NULL). */
#define INVERT_COVERAGE_EPS 0.01
double invert_coverage_term(const float *a, int64_t C, int64_t S, int64_t k, double w, float *grad);
/* Greedy coverage's choice: pick[j] (j < n) = the index of the j-th smallest of acc[0..total)
 * (ties: lower index first), cyclically when n > total. */
void invert_coverage_pick(const double *acc, int total, int n, int *pick);
void invert_stats_free(InvertStats *s);

#endif
