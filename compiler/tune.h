/* tune.h — ppcc --tune's timing of candidate schedules on this machine (tune.c). */
#ifndef PPCC_TUNE_H
#define PPCC_TUNE_H

#include "codegen/codegen.h"
#include "ir/ir.h"

typedef struct TuneCtx {
    const CgTargetDesc *td; /* the model's target (must be this machine) */
    const char *fallback;   /* libppcfallback.a */
    char dir[512];          /* private temporary directory */
    int count;
} TuneCtx;

int tune_init(TuneCtx *t, const CgTargetDesc *td, const char *fallback, Diag *d);
void tune_fini(TuneCtx *t);
/* PassContext.pattern_time: compile g, run it with one thread, *ms = median latency. */
int tune_time_graph(void *ctx, const Graph *g, double *ms, Diag *d);

#endif
