/* prune_pass.h — the "prune" pass (data-free ADMM pattern pruning, issue #4, docs/pruning.md):
 * its options (PruneOptions, pointed to by PassContext.prune), its result (per-layer statistics
 * and the pruned weights by name, for --stats and --save-pruned), and the interfaces between its
 * files:
 *   prune_pass.c   layer selection, pattern library, per-layer solve (prune.h), write-back and
 *                  IR metadata (attributes prune_patterns and prune_ids on each pruned Conv)
 *   prune_data.c   seeded synthetic inputs and the lockstep walk of the original and the
 *                  pruned network that accumulates G = X X^T and YXt = Y X^T per layer
 *   prune_stats.c  options (defaults, range checks), the result and the --stats report
 * The numerical core (pattern candidates, projection, ADMM, refit) is passes/prune.h.
 */
#ifndef PPCC_PRUNE_PASS_H
#define PPCC_PRUNE_PASS_H

#include "passes/passes.h"
#include "passes/prune.h"

typedef enum PruneSynthetic { PRUNE_SYNTH_GAUSSIAN = 0, PRUNE_SYNTH_UNIFORM } PruneSynthetic;
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
} PruneResult;

/* Optional source of the synthetic samples (e.g. model inversion, issue #5): fill t, already
 * allocated with graph input k's dtype and shape, for sample s. 0, or -1 with d set. */
typedef int (*PruneSampleFn)(void *ctx, const Graph *g, int sample, int input, Tensor *t, Diag *d);

typedef struct PruneOptions {
    int patterns;            /* K: library size, 1..C(8, N-1) (default 8) */
    int pattern_size;        /* N: non-zeros per kernel incl. the centre, 1..9 (default 4) */
    double connectivity;     /* fraction of each layer's kernels removed, 0 <= R < 1 (default 0) */
    int admm_iters;          /* 0: magnitude projection only (default 30) */
    double admm_rho;         /* initial rho relative to trace(G)/n (default 1) */
    int samples;             /* synthetic samples (default 16) */
    PruneSynthetic synthetic;
    PruneSource source;
    int refit;               /* masked least-squares refit after ADMM (default 1) */
    const char *layers;      /* NULL: default selection; "all"; or comma list of Conv node or
                                weight names */
    int prune_first;         /* also the first conv reading a <= 3-channel graph input */
    FILE *stats;             /* per-layer report at the end of the pass (NULL: none) */
    PruneResult *result;     /* filled by the pass when non-NULL (free: prune_result_clear) */
    PruneSampleFn sample_fn; /* NULL: the built-in gaussian/uniform generator */
    void *sample_ctx;
} PruneOptions;

/* ---------------------------------------------------------------- prune_stats.c */
void prune_options_default(PruneOptions *o);
/* Range checks; the message names the option as the command line spells it. */
int prune_options_check(const PruneOptions *o, Diag *d);
/* Free everything a result holds and zero it. */
void prune_result_clear(PruneResult *r);
/* The --stats report: library, per-layer table, totals. */
void prune_result_print(const PruneResult *r, const PruneOptions *o, FILE *f);

/* ---------------------------------------------------------------- prune_data.c */
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

/* The lockstep walk (docs/pruning.md): S seeded synthetic inputs propagate through the original
 * network and the network with the already-pruned layers (only the original one with
 * PRUNE_SOURCE_ORIGINAL); at each node with selected[node] != 0 (a 2-D Conv with a constant f32
 * weight) G and YXt are accumulated over all samples and positions, `solve` prunes the layer and
 * the walk continues with its new weights. Stops after the last selected node.
 * *forward_seconds: time in the interpreter for the other nodes. */
int prune_data_run(Graph *g, const char *selected, const PruneOptions *o, uint64_t seed, PruneSolveFn solve,
                   void *solve_ctx, double *forward_seconds, Diag *d);

/* Fill t (f32 or f64) with the synthetic distribution from a splitmix64 state: N(0,1) by the
 * polar method, or uniform [0,1). Deterministic (the gaussian also relies on libm's log). */
void prune_synthetic_fill(Tensor *t, PruneSynthetic kind, uint64_t *state);
/* The generator state for graph input k of sample s (the walk fills input k of sample s from it). */
uint64_t prune_synthetic_state(uint64_t seed, int s, int k);

/* ---------------------------------------------------------------- prune_pass.c */
/* Does a node qualify for pruning: Conv, 2-D, 3x3 kernel, group 1, f32, constant weight used
 * only by it, constant (or no) bias, no fused activation/residual/layout? */
int prune_conv_eligible(const Graph *g, int node);
/* Is the eligible Conv's bias refit (a constant used only by it: X gets a row of ones)? */
int prune_conv_bias_refit(const Graph *g, int node);

#endif
