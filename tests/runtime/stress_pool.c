/* stress_pool.c — the thread pool (runtime/pool.c) under ThreadSanitizer: thousands of
 * parallel_for jobs of random size and grain on pools of 2 to 4 threads, a quarter of them with
 * a slow range at iteration 0 so that threads steal blocks of each other's chunks; every
 * iteration must run exactly once. `make pool-stress` builds it with clang-16
 * -fsanitize=thread and runs it with address randomisation off (this TSan crashes with the
 * kernel's high mmap entropy otherwise). Not part of `make test`: about 10 s.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/pool.h"

#define MAX_N 5000

static _Atomic int hits[MAX_N];

typedef struct {
    int slow;
} Job;

static void task(void *arg, int64_t b, int64_t e)
{
    const Job *j = arg;
    if (j->slow && b == 0) {
        struct timespec t = {0, 200000};
        nanosleep(&t, NULL);
    }
    for (int64_t i = b; i < e; i++) atomic_fetch_add_explicit(&hits[i], 1, memory_order_relaxed);
}

int main(void)
{
    unsigned seed = 1;
    for (int threads = 2; threads <= 4; threads++) {
        PpcrtPool *p;
        if (ppcrt_pool_create(threads, &p)) {
            fprintf(stderr, "stress_pool: cannot create a pool of %d threads\n", threads);
            return 1;
        }
        for (int it = 0; it < 3000; it++) {
            const int64_t n = rand_r(&seed) % MAX_N, grain = 1 + rand_r(&seed) % 50;
            Job j = {rand_r(&seed) % 4 == 0};
            for (int64_t i = 0; i < n; i++) atomic_store(&hits[i], 0);
            ppcrt_pool_parallel_for(p, task, &j, n, grain);
            for (int64_t i = 0; i < n; i++)
                if (atomic_load(&hits[i]) != 1) {
                    fprintf(stderr, "stress_pool: threads=%d n=%lld grain=%lld: iteration %lld ran %d times\n",
                            threads, (long long)n, (long long)grain, (long long)i, atomic_load(&hits[i]));
                    return 1;
                }
        }
        ppcrt_pool_free(p);
    }
    printf("stress_pool: 9000 jobs on 2-4 threads, every iteration ran once\n");
    return 0;
}
