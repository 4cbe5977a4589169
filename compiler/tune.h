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
    int64_t band_bytes;     /* CgOptions.pattern_band_bytes of the model's compile (set after tune_init) */
    int no_winograd;        /* CgOptions.no_winograd of the model's compile (set after tune_init) */
} TuneCtx;

int tune_init(TuneCtx *t, const CgTargetDesc *td, const char *fallback, Diag *d);
void tune_fini(TuneCtx *t);
/* PassContext.pattern_time: compile the n candidates gs[], run them with one thread, interleaved,
 * ms[k] = candidate k's median latency. */
int tune_time_graphs(void *ctx, const Graph *const *gs, int n, double *ms, Diag *d);

#endif
