/* pool.h — internal: the per-session thread pool behind PpcHost.parallel_for.
 *
 * A pool has n_threads-1 worker threads; the thread calling ppcrt_pool_parallel_for is the n-th.
 * parallel_for splits [0, n) into at most n_threads balanced contiguous chunks of at least `grain`
 * iterations each (a single range if n < 2 * grain), lets the workers and the caller claim them,
 * and returns once every iteration has run. A thread runs its chunk in shrinking blocks (1/8 of
 * what is left, at least 1/64 of the chunk and `grain` iterations) and, when no chunk is left to
 * claim, takes half of what is left of another chunk from its back (work stealing: a slower CPU
 * no longer holds up the job), so fn sees ranges of at least `grain` iterations, a few dozen
 * per chunk at most. It allocates nothing. One thread at a time may call
 * parallel_for on a pool; a call made from inside a task (nesting) runs inline on that thread.
 * Idle workers spin briefly, then sleep on a condition variable.
 *
 * Symbols are hidden from libppcrt.so's exports; the ppcrt_ prefix keeps them from colliding with
 * an application's names when it links libppcrt.a.
 */
#ifndef PPCRT_POOL_H
#define PPCRT_POOL_H

#include <stdint.h>

#include "runtime/ppc_abi.h"

typedef struct PpcrtPool PpcrtPool;

/* Create a pool running tasks on n_threads threads (1..PPCRT_MAX_THREADS, caller included). On
 * success returns 0 and sets *out (owned by the caller, release with ppcrt_pool_free); on failure
 * returns the PPCRT_ERR_* code (NOMEM, THREAD) with *out = NULL and nothing leaked. */
int ppcrt_pool_create(int n_threads, PpcrtPool **out);

/* Stop and join the workers and free the pool (NULL is fine). No parallel_for may be running. */
void ppcrt_pool_free(PpcrtPool *pool);

int ppcrt_pool_num_threads(const PpcrtPool *pool);

/* Run fn(arg, b, e) over disjoint ranges covering [0, n); returns when all are done. `pool` is a
 * PpcrtPool * (void * so the function fits PpcHost.parallel_for). n <= 0 runs nothing; grain <= 0
 * is treated as 1. */
void ppcrt_pool_parallel_for(void *pool, PpcTaskFn fn, void *arg, int64_t n, int64_t grain);

/* The number of chunks parallel_for uses for (n, grain) on a pool of n_threads threads, and the
 * bounds of chunk i of them (exposed for tests). */
int ppcrt_pool_chunk_count(int n_threads, int64_t n, int64_t grain);
void ppcrt_pool_chunk_range(int64_t n, int chunks, int i, int64_t *begin, int64_t *end);

#endif
