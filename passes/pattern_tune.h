/* pattern_tune.h — the tuning cache and single-layer extraction of `ppcc --tune`
 * (pattern_tune.c), used by the pattern-group pass. */
#ifndef PPCC_PATTERN_TUNE_H
#define PPCC_PATTERN_TUNE_H

#include "ir/ir.h"

#define PAT_TUNE_KEY 512

typedef struct PatTuneCache PatTuneCache;

/* Load the cache at path (a missing file is an empty cache; NULL path: in memory only). */
PatTuneCache *pat_cache_load(const char *path, Diag *d);
/* 1 and the entry if key is cached, else 0. */
int pat_cache_get(const PatTuneCache *c, const char *key, char *choice, size_t n, double *ms_sparse, double *ms_dense);
void pat_cache_put(PatTuneCache *c, const char *key, const char *choice, double ms_sparse, double ms_dense);
/* Write the cache back (atomically) if entries were added. */
int pat_cache_save(PatTuneCache *c, Diag *d);
void pat_cache_free(PatTuneCache *c);

/* A copy of g holding only node `node` (then node 0): its non-constant inputs become graph
 * inputs, its first output the graph output. */
Graph *pat_isolate(const Graph *g, int node);

#endif
