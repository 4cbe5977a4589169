/* passes.h — the pass manager and the graph passes.
 *
 * Every pass is a plain function `int pass_xxx(Graph *, PassContext *, Diag *)` registered once
 * (name, description) in passes/registry.c. A pipeline is data: a comma-separated list of pass
 * names; the default pipeline is spelled out in registry.c. The manager runs a pipeline with
 * optional IR dumps before/after passes, timing, verification and interpreter checks between
 * passes (see PassContext).
 */
#ifndef PPCC_PASSES_H
#define PPCC_PASSES_H

#include "ir/ir.h"

struct PruneOptions; /* passes/prune_pass.h */

typedef struct PassContext {
    const char *dump_before;  /* comma list of pass names, or "all"; NULL = none */
    const char *dump_after;
    const char *dump_dir;     /* NULL: dumps go to dump_stream; else files NN-after-PASS.ir */
    FILE *dump_stream;        /* default stderr */
    int time_passes;          /* print a timing table to stderr at the end */
    int verify_each;          /* run ir_verify after every pass */
    int check_each;           /* interpreter on seeded random inputs before/after every pass */
    double check_rtol, check_atol;
    uint64_t seed;            /* seed for check_each inputs (and later for pruning) */
    int dump_counter;         /* internal: NN of dump files */
    /* Target facts for layout/schedule decisions (set by ppcc from the code generator's target;
     * defaults describe an AVX-512 x86-64 host). */
    int target_vector_bits;   /* widest vector register, bits (512, 256, 128) */
    int target_vregs;         /* number of vector registers (32 on AVX-512/NEON, 16 on AVX2) */
    /* The code generator's own choice of a blocked Conv's register tile (the kernels' cost
     * model), used by the schedule pass when set; returns 1 and the tile, or 0. */
    int (*conv_tile)(void *tile_ctx, const Graph *g, const Node *n, int *oc_tile, int *ow_tile);
    void *conv_tile_ctx;
    /* pattern-group: 0 = sparse where predicted faster, 1 = every candidate sparse, -1 = none. */
    int pattern_mode;
    int pattern_tile[3];      /* pattern-group: {flat, R, U} of a compiled tile to use; U = 0: cost model */
    /* ppcc --tune: pattern-group times candidate schedules with this hook (compile and run the n
     * single-layer graphs, interleaved, ms[k] = layer k's latency) and caches the results in
     * tuning_cache (a file, or NULL: this compile only) under keys naming target_cpu. */
    int pattern_tune;
    int (*pattern_time)(void *time_ctx, const Graph *const *layers, int n, double *ms, Diag *d);
    void *pattern_time_ctx;
    const char *tuning_cache;
    int64_t pattern_band_bytes;      /* codegen's banding budget (ppcc --pattern-band): part of the tuning key */
    int no_winograd;                 /* codegen's CgOptions.no_winograd (ppcc --winograd=off: 1, =2x2: 2):
                                        pattern-group's dense prediction and part of the tuning key */
    const char *target_cpu;
    struct PatTuneCache *tune_cache; /* internal: the loaded cache during the pass */
    /* Options (and result) of the "prune" pass, see passes/prune_pass.h; NULL = its defaults. */
    const struct PruneOptions *prune;
} PassContext;

typedef int (*PassFn)(Graph *g, PassContext *ctx, Diag *d);

typedef struct PassInfo {
    const char *name;
    const char *desc;
    PassFn run;
} PassInfo;

/* Registry */
extern const PassInfo pass_registry[];
extern const int pass_registry_count;
const PassInfo *pass_find(const char *name);
const char *pass_default_pipeline(void); /* comma-separated names */
/* The complete pipeline for native code generation: the default pipeline's passes, then
 * layout, fuse-residual, fuse-activation, schedule, plan-memory (registry.c says why). */
const char *pass_codegen_pipeline(void);

/* Default-initialise a context (stderr dumps, rtol 1e-4, atol 1e-5, seed 1). */
void pass_context_init(PassContext *ctx);
/* Validate a pipeline string (unknown pass -> error naming it). */
int pass_pipeline_check(const char *pipeline, Diag *d);
/* Run `pipeline` (NULL = default) on g. */
int pass_pipeline_run(Graph *g, const char *pipeline, PassContext *ctx, Diag *d);
/* Print the pipeline, one pass per line with its description. */
void pass_pipeline_print(FILE *f, const char *pipeline);
/* Run an explicit array of passes (the registry's or any other, e.g. test-only passes) with the
 * same dumps, timing, verification and checks as pass_pipeline_run. */
int pass_pipeline_run_passes(Graph *g, const PassInfo *const *passes, int n, PassContext *ctx,
                             Diag *d);

/* check-each (check.c): the interpreter on seeded random inputs, compared between passes. */
typedef struct PassCheck PassCheck;
/* Fill t with deterministic pseudo-random data from *state (splitmix64): floats uniform in
 * [-1, 1), integers in [0, 4), bools 0/1. The same seed gives the same data on every machine. */
void pass_random_fill(Tensor *t, uint64_t *state);
/* Make inputs from ctx->seed, run g (shape-inferring a copy first if g is untyped) and keep its
 * outputs as the reference (if that run fails, once more with integer inputs all 0, since random
 * indices may be out of range). NULL with d set if the interpreter fails. */
PassCheck *pass_check_new(const Graph *g, const PassContext *ctx, Diag *d);
/* Re-run g on the same inputs and compare every output with the reference (|a-b| <= atol +
 * rtol*|b|, NaNs must match, names/dtypes/shapes unchanged); the error names pass_name. */
int pass_check_compare(PassCheck *c, const Graph *g, const char *pass_name, Diag *d);
void pass_check_free(PassCheck *c);

/* The canonical order of a pattern library within one layer (pattern_detect.c): rank[p] = the
 * place of pattern p when the patterns are sorted by count (kernels using them, descending), then
 * mask (ascending). pattern-detect orders the libraries it builds this way; filter-reorder and
 * --tune's cache key use the ranks, so that a layer pruned in-process (the prune pass's library
 * order) and the same layer read back from a --save-pruned file get the same filter order and key. */
void pass_pattern_rank(const int64_t *masks, const int64_t *count, int k, int *rank);
/* The same from a layer's ids (i16 [n], pattern index or -1; k <= PRUNE_MAX_PATTERNS): counts
 * the uses itself. Returns how many patterns the layer uses (they have ranks 0 .. that - 1). */
int pass_pattern_rank_ids(const int64_t *masks, int k, const int16_t *ids, int64_t n, int *rank);

/* The passes (one file each; semantics in the comment block at the top of each file). */
int pass_infer_shapes(Graph *g, PassContext *ctx, Diag *d);      /* infer_shapes.c */
int pass_fold_constants(Graph *g, PassContext *ctx, Diag *d);    /* fold_constants.c */
int pass_dce(Graph *g, PassContext *ctx, Diag *d);               /* dce.c */
int pass_remove_identity(Graph *g, PassContext *ctx, Diag *d);   /* remove_identity.c */
int pass_fold_batchnorm(Graph *g, PassContext *ctx, Diag *d);    /* fold_batchnorm.c */
int pass_fuse_activation(Graph *g, PassContext *ctx, Diag *d);   /* fuse_activation.c */
int pass_canonicalize_gemm(Graph *g, PassContext *ctx, Diag *d); /* canonicalize_gemm.c */
int pass_prune(Graph *g, PassContext *ctx, Diag *d);             /* prune_pass.c (ctx->prune) */
/* Passes preparing code generation (docs/codegen.md §1-4). */
int pass_legalize(Graph *g, PassContext *ctx, Diag *d);          /* legalize.c */
int pass_layout(Graph *g, PassContext *ctx, Diag *d);            /* layout.c */
int pass_fuse_residual(Graph *g, PassContext *ctx, Diag *d);     /* fuse_residual.c */
int pass_filter_reorder(Graph *g, PassContext *ctx, Diag *d);    /* filter_reorder.c */
int pass_pattern_detect(Graph *g, PassContext *ctx, Diag *d);    /* pattern_detect.c */
int pass_pattern_group(Graph *g, PassContext *ctx, Diag *d);     /* pattern_group.c */
int pass_schedule(Graph *g, PassContext *ctx, Diag *d);          /* schedule.c */
int pass_plan_memory(Graph *g, PassContext *ctx, Diag *d);       /* plan_memory.c */
/* Check a memory plan (plan_memory.c): every live value placed inside its buffer, and no two
 * values that are live at the same time share bytes of the workspace or an output buffer unless
 * they are the same bytes by construction (views, in-place Concat slices) or an elementwise
 * node's dying input and its output. 0, or -1 with d naming the values. */
int plan_memory_verify(const Graph *g, Diag *d);
/* Print the plan's summary for --stats: peak workspace against the sum of all intermediate
 * tensors, and how many views, in-place ops, in-place concats and direct outputs it has. */
void pass_plan_memory_stats(const Graph *g, FILE *f);

/* Helpers shared by the passes (util.c). */
int pass_value_is_const(const Graph *g, int vid);   /* vid >= 0, VAL_CONST with data */
int pass_value_is_output(const Graph *g, int vid);  /* listed in g->outputs */
/* Exactly one use by a live node and not a graph output: safe to fuse its producer away. */
int pass_value_single_use(const Graph *g, int vid);
/* The node reading vid when vid has exactly one use and is not a graph output (the input slot it
 * reads it in: *slot, if slot), else -1. */
int pass_sole_reader(const Graph *g, int vid, int *slot);
/* A constant's elements as a malloc'ed array of doubles (caller frees). */
double *pass_const_f64(const Graph *g, int vid);
/* Add a constant from doubles (converted to t) named `base`, or "base.N" if that is taken. */
int pass_const_add_f64(Graph *g, const char *base, DType t, int rank, const int64_t *dims,
                       const double *vals);
/* Make node `node` define value vid as its output k (the old output value is left orphaned). */
void pass_node_take_output(Graph *g, int node, int k, int vid);
/* Put nodes appended by a pass next to the node they belong to, so dumps keep the source order:
 * for each of the first n0 nodes i, node before[i] (if >= 0) goes right before it and after[i]
 * right after it; every appended node must be named once. Then dead nodes are dropped
 * (ir_graph_compact). */
void pass_place_new_nodes(Graph *g, int n0, const int *before, const int *after);

#endif
