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

/* Default-initialise a context (stderr dumps, rtol 1e-4, atol 1e-5, seed 1). */
void pass_context_init(PassContext *ctx);
/* Validate a pipeline string (unknown pass -> error naming it). */
int pass_pipeline_check(const char *pipeline, Diag *d);
/* Run `pipeline` (NULL = default) on g. */
int pass_pipeline_run(Graph *g, const char *pipeline, PassContext *ctx, Diag *d);
/* Print the pipeline, one pass per line with its description. */
void pass_pipeline_print(FILE *f, const char *pipeline);

#endif
