/* prune_pass.h — the "prune" pass (data-free ADMM pattern pruning, issue #4, docs/pruning.md):
 * its options (PruneOptions, pointed to by PassContext.prune), its result (per-layer statistics
 * and the pruned weights by name, for --stats and --save-pruned), and the interfaces between its
 * files:
 *   prune_pass.c   layer selection, pattern library, per-layer solve (prune.h), write-back and
 *                  IR metadata (attributes prune_patterns and prune_ids on each pruned Conv)
 *   prune_data.c   the synthetic inputs (model inversion, passes/invert.h, or seeded
 *                  gaussian/uniform numbers) and the lockstep walk of the original and the
 *                  pruned network that accumulates G = X X^T and YXt = Y X^T per layer
 *   prune_stats.c  options (defaults, range checks), the result and the --stats report
 * The numerical core (pattern candidates, projection, ADMM, refit) is passes/prune.h.
 */
#ifndef PPCC_PRUNE_PASS_H
#define PPCC_PRUNE_PASS_H

#include "passes/invert.h"
#include "passes/passes.h"
#include "passes/prune.h"

/* The synthetic inputs: model inversion (the default), N(0,1) or uniform [0,1) numbers (with a
 * range: N(mid, width/4) clamped into it, or uniform over it). */
typedef enum PruneSynthetic { PRUNE_SYNTH_GAUSSIAN = 0, PRUNE_SYNTH_UNIFORM, PRUNE_SYNTH_INVERTED } PruneSynthetic;
/* Which network's activations are the inputs X of each layer's least-squares problem (the
 * targets Y are always the ORIGINAL network's outputs of that layer). */
typedef enum PruneSource { PRUNE_SOURCE_PRUNED = 0, PRUNE_SOURCE_ORIGINAL } PruneSource;

/* One pruned layer's report. */
typedef struct PruneLayerStats {
    char *node;                            /* node name (malloc'ed) */
    char *weight;                          /* weight value name (malloc'ed) */
    int64_t oc, ic;
    int64_t kept, total;                   /* kernels kept / OC*IC */
    int64_t hist[PRUNE_MAX_PATTERNS];      /* kernels per library pattern */
    int has_data;                          /* synthetic data used (else errors are unknown) */
    int bias_refit;                        /* the bias was refit (ones row in X) */
    AdmmStats admm;                        /* errors, residuals, iterations, solver seconds */
    double data_seconds;                   /* accumulating G and YXt for this layer */
} PruneLayerStats;

/* A constant the pass replaced, under its (unchanged) value name: the ONNX initializer or
 * Constant output of that name gets this data with --save-pruned. */
typedef struct PruneChanged {
    char *name;  /* malloc'ed */
    Tensor *t;   /* f32, owned */
} PruneChanged;

typedef struct PruneResult {
    PatternLib lib;
    int n_layers;
    PruneLayerStats *layers;
    int n_changed;
    PruneChanged *changed;
    int samples;            /* synthetic samples used (0: no data) */
    double seconds;         /* the whole pass */
    double forward_seconds; /* propagating the synthetic data through unpruned nodes */
    PruneSynthetic synthetic; /* the kind of synthetic data actually used */
    int admm_iters;         /* ADMM iterations used (admm_iters or admm_iters_inverted) */
    int inverted;           /* model inversion ran: inversion holds its report */
    InvertStats inversion;  /* method, note, self-agreement, loss curve, seconds (owns curve) */
    char fallback[400];     /* why inversion was not used or fell back ("" if it was not) */
    char *head_node;        /* the classifier head refit after the last pruned layer (NULL: none) */
    int64_t head_n, head_k; /* its classes and inputs */
    double head_err_dense, head_err_refit, head_seconds; /* relative logit errors before/after */
} PruneResult;

/* Optional source of the synthetic samples (replaces inversion and the generators): fill t,
 * already allocated with graph input k's dtype and shape, for sample s. 0, or -1 with d set. */
typedef int (*PruneSampleFn)(void *ctx, const Graph *g, int sample, int input, Tensor *t, Diag *d);
/* Optional receiver of the synthetic inputs (--save-synthetic): called once per graph input k
 * that a pruned layer depends on, with all n samples of it, before the walk uses them. 0, or -1
 * with d set (fails the pass). */
typedef int (*PruneSaveFn)(void *ctx, const Graph *g, int input, Tensor *const *samples, int n, Diag *d);

/* Default sample counts: inverted images are worth more each and cost an inversion each (256:
 * with the classifier refit the MNIST example prunes better than with 128, whose images leave
 * the refit of the head's 650 weights underdetermined; about 16 s of inversion on one core);
 * white noise is cheap per sample but its propagation and G dominate the big models' time (16). */
#define PRUNE_SAMPLES_INVERTED 256
#define PRUNE_SAMPLES_NOISE 16

/* A layer's least-squares data, handed to the solve callback at each selected Conv. */
typedef struct PruneLayerData {
    int64_t oc, ic, n;   /* n = ic*9 (+1 with the ones row for the bias) */
    int bias_col;        /* column ic*9 is the bias (W0's entry is 0: Y is pre-bias) */
    double *G;           /* [n x n], full (both triangles) */
    double *YXt;         /* [oc x n] */
    double yy;           /* ||Y||_F^2 */
    const double *W0;    /* [oc x n], the original weights (bias column 0) */
    double seconds;      /* time spent accumulating */
} PruneLayerData;

/* Called at each selected Conv (in node order) with its data; must write the pruned weights
 * into g (the Conv node's inputs 1 and 2 may be replaced by new constants). */
typedef int (*PruneSolveFn)(void *ctx, Graph *g, int node, const PruneLayerData *ld, Diag *d);

typedef struct PruneOptions {
    int patterns;            /* K: library size, 1..C(8, N-1) (default 8) */
    int pattern_size;        /* N: non-zeros per kernel incl. the centre, 1..9 (default 4) */
    double connectivity;     /* fraction of each layer's kernels removed, 0 <= R < 1 (default 0) */
    int admm_iters;          /* 0: magnitude projection only (default 10) */
    int admm_iters_inverted; /* the same when the data are inverted images (default 20: cheap next
                                to the inversion, better masks at high connectivity; the gaussian
                                path of the big models keeps 10 for its time). --admm-iters sets
                                both */
    double admm_rho;         /* rho relative to trace(G)/n, fixed (default 1) */
    int samples;             /* synthetic samples; 0 (default): PRUNE_SAMPLES_INVERTED for model
                                inversion, PRUNE_SAMPLES_NOISE for gaussian/uniform data */
    PruneSynthetic synthetic; /* default PRUNE_SYNTH_INVERTED */
    int synthetic_strict;    /* inverted was asked for explicitly: a model inversion cannot run on
                                (several or non-f32 inputs, an op without a gradient) is an error;
                                otherwise the pass falls back to gaussian and says so */
    /* model inversion (passes/invert.h; samples = `samples`, seed = the pass's seed; the
     * classifier head or, failing that, BatchNorm statistics or plain Gaussian are automatic) */
    int inv_steps;           /* Adam steps (default 200) */
    double inv_lr;           /* Adam learning rate (default 0.05) */
    double inv_tv;           /* total-variation weight (default 1) */
    double inv_l2;           /* L2 weight (default 0.5) */
    double inv_l1;           /* L1 weight (default 0) */
    double inv_resolution;   /* images optimised at this fraction of the input's resolution and
                                upsampled (default 1) */
    int inv_jitter;          /* random shift per step, pixels (default 2) */
    double inv_coverage;     /* channel-coverage weight (default 0.6; 0: off) */
    int inv_coverage_greedy; /* 1: later images take the least-excited channels (default 0: drawn) */
    int has_range;           /* synthetic inputs live in [range_lo, range_hi] (default: no range) */
    double range_lo, range_hi;
    PruneSource source;
    int refit;               /* masked least-squares refit after ADMM (default 1) */
    const char *layers;      /* NULL: default selection; "all"; or comma list of Conv node or
                                weight names */
    int prune_first;         /* also the first conv reading a <= 3-channel graph input */
    FILE *stats;             /* per-layer report at the end of the pass (NULL: none) */
    PruneResult *result;     /* filled by the pass when non-NULL (free: prune_result_clear) */
    PruneSampleFn sample_fn; /* NULL: inversion or the built-in gaussian/uniform generator */
    void *sample_ctx;
    PruneSaveFn save_fn;     /* NULL: the synthetic inputs are not handed out */
    void *save_ctx;
    FILE *notes;             /* one-line notes (inversion fell back) go here (NULL: none) */
    double head_ridge;       /* the classifier refit's ridge towards the original weights, relative
                                to trace(G)/n (default 0.03; < 0: no classifier refit). The
                                refit runs on inverted or sample_fn images only (prune_pass.c) */
    PruneSolveFn head_fn;    /* set by the pass: refit of the classifier head after the last
                                pruned layer (prune_data_run; NULL: none) */
    void *head_ctx;
} PruneOptions;

/* ---------------------------------------------------------------- prune_stats.c */
void prune_options_default(PruneOptions *o);
/* Range checks; the message names the option as the command line spells it. */
int prune_options_check(const PruneOptions *o, Diag *d);
/* "gaussian", "uniform", "inverted" */
const char *prune_synthetic_name(PruneSynthetic s);
/* Free everything a result holds and zero it. */
void prune_result_clear(PruneResult *r);
/* The --stats report: synthetic data (inversion method, self-agreement, loss curve, time),
 * library, per-layer table, totals. */
void prune_result_print(const PruneResult *r, const PruneOptions *o, FILE *f);

/* ---------------------------------------------------------------- prune_data.c */
/* The lockstep walk (docs/pruning.md): S seeded synthetic inputs propagate through the original
 * network and the network with the already-pruned layers (only the original one with
 * PRUNE_SOURCE_ORIGINAL); at each node with selected[node] != 0 (a 2-D Conv with a constant f32
 * weight) G and YXt are accumulated over all samples and positions, `solve` prunes the layer and
 * the walk continues with its new weights. Stops after the last selected node.
 * *forward_seconds: time in the interpreter for the other nodes. */
int prune_data_run(Graph *g, const char *selected, const PruneOptions *o, uint64_t seed, PruneSolveFn solve,
                   void *solve_ctx, double *forward_seconds, Diag *d);

/* The classifier head the walk refits after the last pruned layer (o->head_fn): the Gemm
 * (transA 0, alpha = beta = 1, constant f32 B and C used by it only) computing the logits of
 * output 0 (invert_find_classifier); -1 if there is none. */
int prune_head_node(const Graph *g);

/* Fill t (f32 or f64) with the synthetic distribution from a splitmix64 state: N(0,1) by the
 * polar method, or uniform [0,1) (kind PRUNE_SYNTH_UNIFORM; any other kind is gaussian).
 * Deterministic (the gaussian also relies on libm's log). */
void prune_synthetic_fill(Tensor *t, PruneSynthetic kind, uint64_t *state);
/* The generator state for graph input k of sample s (the walk fills input k of sample s from it). */
uint64_t prune_synthetic_state(uint64_t seed, int s, int k);
/* Graph input k of sample s as the built-in generator makes it: prune_synthetic_fill from
 * prune_synthetic_state(seed, s, k), then with o->has_range mapped into [lo, hi]: uniform
 * lo + (hi - lo) u, gaussian mid + (hi - lo)/4 z clamped into [lo, hi]. */
void prune_synthetic_sample(const PruneOptions *o, uint64_t seed, int s, int k, Tensor *t);

/* Floating-point operations of one inversion step for one sample: 2 x (Conv, Gemm and MatMul
 * multiply-adds x 2) over the nodes that depend on the graph input (forward, and backward to
 * the input). 0 unless the graph has exactly one input. */
double prune_invert_flops(const Graph *g);
/* The default (--synthetic not given) runs model inversion only when samples x (steps + 1) x
 * prune_invert_flops stays within this (10 TFLOP: a few minutes on one core; the MNIST example
 * needs 0.6, resnet18 185): larger models get gaussian data and a note. */
#define PRUNE_INVERT_BUDGET 1e13

/* Model inversion for the walk (o->synthetic == PRUNE_SYNTH_INVERTED): invert_synthesize on g
 * (the original network: call it before any layer is pruned) with o's samples, inversion
 * options and range and the given seed. On success *images holds o->samples f32 tensors of the
 * graph input's shape (free: invert_images_free), res->inverted = 1 and res->inversion its
 * report; when inversion used a fallback method (BatchNorm statistics, Gaussian) res->fallback
 * says so. When inversion cannot run on the model (not exactly one f32 input, an op without a
 * gradient): -1 with d set if o->synthetic_strict, else *images = NULL, res->synthetic =
 * PRUNE_SYNTH_GAUSSIAN and res->fallback says why; the same without o->synthetic_strict when
 * the inversion would exceed PRUNE_INVERT_BUDGET. Notes go to o->notes (one line). */
int prune_data_invert(const Graph *g, const PruneOptions *o, uint64_t seed, Tensor ***images, PruneResult *res,
                      Diag *d);

/* ---------------------------------------------------------------- prune_pass.c */
/* Does a node qualify for pruning: Conv, 2-D, 3x3 kernel, group 1, f32, constant weight used
 * only by it, constant (or no) bias, no fused activation/residual/layout? */
int prune_conv_eligible(const Graph *g, int node);
/* Is the eligible Conv's bias refit (a constant used only by it: X gets a row of ones)? */
int prune_conv_bias_refit(const Graph *g, int node);

#endif
