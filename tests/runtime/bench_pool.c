/* bench_pool.c — measures the overhead of the runtime's parallel_for and of a whole session run.
 *
 * Usage: bench_pool FIXTURE_DIR. Prints, for 1, 2 and 4 threads, the mean wall time of one
 * parallel_for with n = threads, grain 1 (one range per thread): over empty tasks called back to
 * back (workers polling: the cost between layers of a model; with the share of ranges the workers
 * took, as the caller takes what they have not claimed yet) and after a 2 ms pause (workers
 * asleep: the cost of the first layer of a run); and over ranges of 20 us of work, whose excess
 * over 20 us is the fork-join overhead when every thread must take part. Then the latency of
 * ppcrt_session_run on fixture_add.so (a + b * 2 over 1000 floats, two parallel layers). The
 * numbers are only meaningful with at least as many cores as threads. `make runtime-bench`.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/pool.h"
#include "runtime/ppcrt.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static _Thread_local int is_caller;
static _Atomic long on_workers, chunks_total;

static void empty_task(void *arg, int64_t b, int64_t e)
{
    chunks_total++;
    if (!is_caller) on_workers++;
}

/* A task worth about `arg` microseconds of work per range (busy wait on the clock). */
static void work_task(void *arg, int64_t b, int64_t e)
{
    double until = now_us() + *(const double *)arg;
    while (now_us() < until) {
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pool FIXTURE_DIR\n");
        return 2;
    }
    is_caller = 1;
    const int threads[] = {1, 2, 4};
    for (int t = 0; t < 3; t++) {
        int nt = threads[t];
        PpcrtPool *p;
        if (ppcrt_pool_create(nt, &p) != PPCRT_OK) return 1;
        const int hot = 200000, cold = 300, busy = 5000;
        for (int i = 0; i < 1000; i++) ppcrt_pool_parallel_for(p, empty_task, NULL, nt, 1);
        on_workers = chunks_total = 0;
        double t0 = now_us();
        for (int i = 0; i < hot; i++) ppcrt_pool_parallel_for(p, empty_task, NULL, nt, 1);
        double hot_us = (now_us() - t0) / hot;
        double share = chunks_total ? 100.0 * on_workers / chunks_total : 0;
        double cold_total = 0;
        for (int i = 0; i < cold; i++) {
            usleep(2000);
            double c0 = now_us();
            ppcrt_pool_parallel_for(p, empty_task, NULL, nt, 1);
            cold_total += now_us() - c0;
        }
        /* Ranges of ~20 us each: ideally a call takes 20 us whatever nt (one range per thread). */
        double w = 20.0;
        t0 = now_us();
        for (int i = 0; i < busy; i++) ppcrt_pool_parallel_for(p, work_task, &w, nt, 1);
        double busy_us = (now_us() - t0) / busy;
        printf("parallel_for threads=%d  empty tasks: back-to-back %.3f us/call (%.0f%% of ranges "
               "on workers), after 2 ms idle %.2f us/call;  20 us ranges: %.2f us/call "
               "(overhead %.2f us)\n",
               nt, hot_us, share, cold_total / cold, busy_us, busy_us - w);
        ppcrt_pool_free(p);
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/fixture_add.so", argv[1]);
    PpcrtModel *m;
    if (ppcrt_model_load(path, &m) != PPCRT_OK) {
        fprintf(stderr, "bench_pool: %s\n", ppcrt_last_error());
        return 1;
    }
    static float a[1000], b[1000], y[1000];
    const void *in[2] = {a, b};
    void *out[1] = {y};
    for (int t = 0; t < 3; t++) {
        PpcrtSessionOptions opt = {.n_threads = threads[t]};
        PpcrtSession *s;
        if (ppcrt_session_create(m, &opt, &s) != PPCRT_OK) return 1;
        const int runs = 100000;
        for (int i = 0; i < 1000; i++) ppcrt_session_run(s, in, out);
        double t0 = now_us();
        for (int i = 0; i < runs; i++) ppcrt_session_run(s, in, out);
        printf("session_run fixture_add threads=%d  %.3f us/run\n", threads[t],
               (now_us() - t0) / runs);
        ppcrt_session_free(s);
    }
    ppcrt_model_free(m);
    return 0;
}
