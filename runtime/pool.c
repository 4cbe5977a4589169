/* pool.c — the per-session pthread pool that generated code reaches through PpcHost.parallel_for.
 *
 * Protocol. A job is published in one 64-bit atomic word `job`: bits 32..63 a generation number,
 * bit 31 whether its chunks can be stolen from (below), 16..30 the number of ranges ("chunks"),
 * 0..15 the next unclaimed chunk. The caller writes the
 * job's fields (fn, arg, n, grain), sets `pending` to the iteration count and stores the new
 * word (release); workers and the caller then claim chunks by compare-and-swap on the word, which
 * only succeeds while the generation is the one they saw and chunks remain. A successful claim of
 * a chunk that cannot be stolen from pins the job (it cannot complete, so the caller cannot
 * publish the next one) and therefore the fields read after it are that job's. Whoever finishes
 * iterations subtracts them from `pending`; the caller returns when it reaches zero. So the caller never waits for a worker that has not woken up yet:
 * it takes the unclaimed chunks itself.
 *
 * Stealing. A thread works through the chunk it claimed block by block from the front (1/8 of
 * what is left at a time, at least 1/64 of the chunk and `grain`: blocks shrink towards the end,
 * so the thread that holds the last block finishes soon); when no chunk is left to claim, it takes half of what
 * is left of another chunk, from its back. Each chunk's state is one 64-bit word `ranges[i]`
 * (generation, front, back), changed only by compare-and-swap, so every iteration runs exactly
 * once; `pending` counts iterations not yet run. Threads of equal speed each run their own chunk
 * as before (the same half of every layer, which keeps caches warm); when one CPU is slower
 * (a busy virtual host), the other finishes the rest instead of waiting for it. A successful
 * claim of a block pins the job (the block's iterations are pending); the claim of a stealable
 * chunk does not, so its owner reads the job's fields only after taking a block of it.
 *
 * Sleeping. A waiting thread polls with `pause` for PURE_SPINS rounds, then polls with
 * sched_yield (so that an oversubscribed machine runs the threads that have work) until SPIN_NS
 * have passed, then sleeps: idle workers on `cv_work`, the caller on `cv_done`. Wake-ups are
 * skipped when nobody sleeps, which is safe because the sleeper announces itself (seq_cst) before
 * re-checking the condition under the mutex, and the waker publishes (seq_cst) before reading
 * the announcement. ppcrt_pool_create returns once every worker has started.
 *
 * Invariants: no allocation after ppcrt_pool_create; one publisher at a time (the session's
 * thread); tasks that call parallel_for again run it inline (thread-local `tls_in_task`).
 */
#include "runtime/pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/ppcrt.h"

#define POOL_STACK_BYTES ((size_t)2 << 20) /* each worker's stack */
#define PURE_SPINS 128   /* pause-polls before yielding: a few microseconds */
#define SPIN_NS 50000    /* total polling time before a waiting thread sleeps */
#define CACHE_LINE 64
#define OWN_PART 8        /* an owner takes 1/8 of what is left of its chunk at a time, */
#define OWN_MIN_PART 64   /* but at least 1/64 of the chunk */
#define STEAL_PART 2      /* a thief takes half of what is left of another's chunk */
#define RANGE_BITS 20     /* chunks of up to 2^20 - 1 iterations can be stolen from */

/* initial-exec: no __tls_get_addr call, and no lazy TLS allocation on a thread's first use even
 * when libppcrt.so itself is dlopened (4 bytes of glibc's static TLS surplus). */
static _Thread_local int tls_in_task __attribute__((tls_model("initial-exec")));

struct PpcrtPool {
    /* Written by the publisher, read by everyone: its own cache line. */
    _Alignas(CACHE_LINE) _Atomic uint64_t job;
    PpcTaskFn fn;
    void *arg;
    int64_t n;
    /* The job's grain: atomic because a thread still stealing from the previous job may read it
     * while it is set (it then fails its compare-and-swap, so the value it read does not matter). */
    _Atomic int64_t grain;
    /* Iterations not yet run, hit by every finishing block. */
    _Alignas(CACHE_LINE) _Atomic int64_t pending;
    _Alignas(CACHE_LINE) _Atomic int n_sleeping; /* workers inside or entering cv_work waits */
    _Atomic int caller_sleeping;                 /* the publisher waits on cv_done */
    _Atomic int shutdown;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    uint32_t gen; /* publisher-private copy of the last generation */
    int n_threads;
    int n_workers; /* created successfully */
    int n_started; /* running worker_main; guarded by mu */
    pthread_t *workers;
    struct RangeSlot *ranges; /* n_threads chunk states, one cache line each */
};

/* State of chunk i: bits 40..63 the low 24 bits of the job's generation, 20..39 the front
 * (next iteration its owner runs), 0..19 the back (one past the last not yet taken), both
 * relative to the chunk's begin. */
struct RangeSlot {
    _Alignas(CACHE_LINE) _Atomic uint64_t w;
};
static inline uint64_t range_word(uint32_t gen, int64_t front, int64_t back)
{
    return (uint64_t)(gen & 0xffffff) << 40 | (uint64_t)front << RANGE_BITS | (uint64_t)back;
}
static inline uint32_t range_gen(uint64_t w) { return (uint32_t)(w >> 40); }
static inline int64_t range_front(uint64_t w) { return (int64_t)(w >> RANGE_BITS & ((1u << RANGE_BITS) - 1)); }
static inline int64_t range_back(uint64_t w) { return (int64_t)(w & ((1u << RANGE_BITS) - 1)); }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spin-then-yield polling budget; spin_more() says whether to poll again or go to sleep. */
typedef struct {
    int rounds;
    struct timespec t0;
} Spin;

static int spin_more(Spin *sp)
{
    if (sp->rounds < PURE_SPINS) {
        sp->rounds++;
        cpu_relax();
        return 1;
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (sp->rounds++ == PURE_SPINS) sp->t0 = t;
    int64_t ns = (int64_t)(t.tv_sec - sp->t0.tv_sec) * 1000000000 + (t.tv_nsec - sp->t0.tv_nsec);
    if (ns > SPIN_NS) return 0;
    sched_yield();
    return 1;
}

static inline uint32_t word_gen(uint64_t w) { return (uint32_t)(w >> 32); }
static inline int word_chunks(uint64_t w) { return (int)((w >> 16) & 0x7fff); }
static inline int word_steal(uint64_t w) { return (int)((w >> 31) & 1); }
static inline int word_next(uint64_t w) { return (int)(w & 0xffff); }

int ppcrt_pool_chunk_count(int n_threads, int64_t n, int64_t grain)
{
    if (n <= 0) return 0;
    if (grain < 1) grain = 1;
    int64_t by_grain = n / grain; /* every range keeps >= grain iterations */
    if (by_grain < 1) by_grain = 1;
    return by_grain < n_threads ? (int)by_grain : n_threads;
}

void ppcrt_pool_chunk_range(int64_t n, int chunks, int i, int64_t *begin, int64_t *end)
{
    /* The first n % chunks ranges get one extra iteration; no n * i products, so no overflow. */
    int64_t q = n / chunks, r = n % chunks;
    *begin = (int64_t)i * q + (i < r ? i : r);
    *end = *begin + q + (i < r ? 1 : 0);
}

/* Finish `count` iterations: the thread that completes the job wakes a sleeping caller. */
static void chunk_done(PpcrtPool *p, int64_t count)
{
    if (atomic_fetch_sub(&p->pending, count) == count && atomic_load(&p->caller_sleeping)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Take a block of chunk i of generation gen, from its front or (stealing) its back: at most
 * 1/OWN_PART (front) or 1/STEAL_PART (back) of what is left, at least `least` and grain, all of
 * it when fewer than grain would remain. Returns 0 when the
 * chunk is exhausted or belongs to another job. */
static int take_block(PpcrtPool *p, int i, uint32_t gen, int back, int64_t least, int64_t *lo, int64_t *hi)
{
    struct RangeSlot *r = &p->ranges[i];
    uint64_t w = atomic_load_explicit(&r->w, memory_order_acquire);
    for (;;) {
        int64_t f = range_front(w), k = range_back(w);
        if (range_gen(w) != (gen & 0xffffff) || f >= k) return 0;
        /* the job is live while iterations of it are untaken: grain is its own */
        const int64_t grain = atomic_load_explicit(&p->grain, memory_order_relaxed), left = k - f;
        int64_t take = (left + (back ? STEAL_PART : OWN_PART) - 1) / (back ? STEAL_PART : OWN_PART);
        if (take < least) take = least;
        if (take < grain) take = grain;
        if (left - take < grain) take = left;
        uint64_t nw = back ? range_word(gen, f, k - take) : range_word(gen, f + take, k);
        if (atomic_compare_exchange_weak_explicit(&r->w, &w, nw, memory_order_acq_rel, memory_order_acquire)) {
            *lo = back ? k - take : f;
            *hi = back ? k : f + take;
            return 1;
        }
    }
}

/* Run the blocks of chunk i (of `chunks`), from the front or the back, until it is exhausted.
 * Claiming a stealable chunk does not pin the job (thieves may take all of it first); taking a
 * block does, so the job's fields are read only after the first block. The owner's first block
 * is 1/8 of the chunk, so its 1/64 floor matters only from the second on. */
static void run_blocks(PpcrtPool *p, uint32_t gen, int chunks, int i, int back)
{
    int64_t lo, hi, b = -1, e, least = 1;
    while (take_block(p, i, gen, back, least, &lo, &hi)) {
        if (b < 0) {
            ppcrt_pool_chunk_range(p->n, chunks, i, &b, &e);
            if (!back) least = (e - b + OWN_MIN_PART - 1) / OWN_MIN_PART;
        }
        p->fn(p->arg, b + lo, b + hi);
        chunk_done(p, hi - lo);
    }
}

/* Claim and run chunks of generation `gen` until none is left; then, if the job allows it,
 * steal the blocks still untaken in the other chunks. */
static void run_chunks(PpcrtPool *p, uint32_t gen)
{
    uint64_t w = atomic_load_explicit(&p->job, memory_order_acquire);
    int chunks = word_chunks(w), last = -1;
    for (;;) {
        if (word_gen(w) != gen || word_next(w) >= word_chunks(w)) break;
        if (!atomic_compare_exchange_weak_explicit(&p->job, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* w now holds the current word */
        const int i = word_next(w);
        chunks = word_chunks(w);
        last = i;
        if (word_steal(w)) { /* read from the claimed job's own word: p's fields may be the next job's */
            run_blocks(p, gen, chunks, i, 0);
        } else {
            int64_t b, e;
            ppcrt_pool_chunk_range(p->n, chunks, i, &b, &e);
            p->fn(p->arg, b, e);
            chunk_done(p, e - b);
        }
        w = atomic_load_explicit(&p->job, memory_order_acquire);
    }
    /* Stealing: only a thread that claimed a chunk of this job knows whether it was stealable;
     * take_block checks the generation of every chunk it takes from. */
    if (last < 0 || word_gen(w) != gen) return;
    for (int j = 1; j < chunks; j++) run_blocks(p, gen, chunks, (last + j) % chunks, 1);
}

/* Wait until the published generation differs from `seen` or shutdown is requested. */
static uint32_t worker_wait(PpcrtPool *p, uint32_t seen)
{
    Spin sp = {0};
    do {
        uint64_t w = atomic_load_explicit(&p->job, memory_order_acquire);
        if (word_gen(w) != seen || atomic_load_explicit(&p->shutdown, memory_order_relaxed))
            return word_gen(w);
    } while (spin_more(&sp));
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->n_sleeping, 1);
    uint64_t w;
    while (word_gen(w = atomic_load(&p->job)) == seen && !atomic_load(&p->shutdown))
        pthread_cond_wait(&p->cv_work, &p->mu);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return word_gen(w);
}

static void *worker_main(void *arg)
{
    PpcrtPool *p = arg;
    uint32_t seen = 0; /* generation 0 is the idle state set at creation */
    tls_in_task = 1;   /* tasks that call parallel_for run it inline */
    pthread_mutex_lock(&p->mu);
    p->n_started++;
    pthread_cond_signal(&p->cv_done);
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        seen = worker_wait(p, seen);
        if (atomic_load(&p->shutdown)) break;
        run_chunks(p, seen);
    }
    return NULL;
}

void ppcrt_pool_parallel_for(void *pool, PpcTaskFn fn, void *arg, int64_t n, int64_t grain)
{
    PpcrtPool *p = pool;
    if (n <= 0) return;
    int chunks = ppcrt_pool_chunk_count(p->n_threads, n, grain);
    if (chunks == 1 || tls_in_task) {
        fn(arg, 0, n);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    if (grain < 1) grain = 1;
    atomic_store_explicit(&p->pending, n, memory_order_relaxed);
    uint32_t gen = ++p->gen;
    if (gen == 0) gen = ++p->gen; /* 0 means idle to a freshly started worker */
    /* chunks short enough for a range word run in blocks and can be stolen from */
    const int steal = n / chunks + 1 < ((int64_t)1 << RANGE_BITS);
    atomic_store_explicit(&p->grain, grain, memory_order_relaxed);
    if (steal)
        for (int i = 0; i < chunks; i++) {
            int64_t b, e;
            ppcrt_pool_chunk_range(n, chunks, i, &b, &e);
            atomic_store_explicit(&p->ranges[i].w, range_word(gen, 0, e - b), memory_order_relaxed);
        }
    atomic_store(&p->job, ((uint64_t)gen << 32) | ((uint64_t)steal << 31) | ((uint64_t)chunks << 16));
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }

    tls_in_task = 1;
    run_chunks(p, gen);
    tls_in_task = 0;

    Spin sp = {0};
    do {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    } while (spin_more(&sp));
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeping, 1);
    while (atomic_load(&p->pending) != 0) pthread_cond_wait(&p->cv_done, &p->mu);
    atomic_store(&p->caller_sleeping, 0);
    pthread_mutex_unlock(&p->mu);
}

/* Ask the started workers to exit and join them. */
static void pool_stop(PpcrtPool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->shutdown, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++) pthread_join(p->workers[i], NULL);
    p->n_workers = 0;
}

int ppcrt_pool_create(int n_threads, PpcrtPool **out)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > PPCRT_MAX_THREADS) return PPCRT_ERR_ARG;
    size_t size = (sizeof(PpcrtPool) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    PpcrtPool *p = aligned_alloc(CACHE_LINE, size);
    if (!p) return PPCRT_ERR_NOMEM;
    *p = (PpcrtPool){.n_threads = n_threads};
    p->ranges = aligned_alloc(CACHE_LINE, (size_t)n_threads * sizeof *p->ranges);
    if (!p->ranges) {
        free(p);
        return PPCRT_ERR_NOMEM;
    }
    for (int i = 0; i < n_threads; i++) atomic_init(&p->ranges[i].w, 0);
    atomic_init(&p->job, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->caller_sleeping, 0);
    atomic_init(&p->shutdown, 0);
    atomic_init(&p->grain, 1);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
            free(p->ranges);
            free(p);
            return PPCRT_ERR_NOMEM;
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);

    /* Workers block every signal so that the application's handlers run on its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* An explicit stack size, so that the kernels' stack scratch (up to about 820 KB, ppcrt.h)
     * does not depend on the process's stack limit. */
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) rc = pthread_attr_setstacksize(&attr, POOL_STACK_BYTES);
    for (int i = 0; i < n_threads - 1 && rc == 0; i++) {
        rc = pthread_create(&p->workers[i], &attr, worker_main, p);
        if (rc == 0) p->n_workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ppcrt_pool_free(p);
        return rc == ENOMEM ? PPCRT_ERR_NOMEM : PPCRT_ERR_THREAD;
    }
    /* Return only once every worker runs, so that thread start-up (which may allocate, e.g.
     * under sanitizers) is over before the first parallel_for. */
    pthread_mutex_lock(&p->mu);
    while (p->n_started < p->n_workers) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    *out = p;
    return PPCRT_OK;
}

void ppcrt_pool_free(PpcrtPool *p)
{
    if (!p) return;
    pool_stop(p);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p->ranges);
    free(p);
}

int ppcrt_pool_num_threads(const PpcrtPool *p) { return p ? p->n_threads : 0; }
