/* fixture_pool.c — a test model that reports how host->parallel_for split its work, so that
 * test_runtime.c can check the session's thread pool through the real model ABI.
 *
 * Input "params" int64[4]: n, grain, mode, gate. Output "report" int64[4 + 2 * 256]:
 *   [0] number of ranges fn was called with, [1] host->n_threads, [2] iterations counted by
 *   nested parallel_for calls (mode 1), [3] set to 1 once the run has started (mode 2),
 *   [4 + 2i], [5 + 2i] the bounds of range i, in the order they were recorded.
 * mode 1: every range calls parallel_for again over its own length (nesting must run inline).
 * mode 2: before working, the run sets report[3] = 1 and waits until params[3] (gate) becomes 0,
 *   so a test can hold a run in progress deterministically.
 * mode 3 (work stealing): the range holding iteration 0 waits until the other ranges have run
 *   n - n / (2 * threads) iterations (counted in [2]), which they can only do by taking
 *   iterations of its own chunk; after 5 s it gives up and sets [3] = -1.
 * n < 0: the run fails with status 7.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <time.h>

#include "runtime/ppc_abi.h"

#define MAX_RANGES 256

static const int64_t params_dims[1] = {4};
static const int64_t report_dims[1] = {4 + 2 * MAX_RANGES};
static const PpcTensorDesc inputs[1] = {
    {.name = "params", .dtype = 7, .rank = 1, .dims = params_dims, .nbytes = 4 * 8},
};
static const PpcTensorDesc outputs[1] = {
    {.name = "report", .dtype = 7, .rank = 1, .dims = report_dims,
     .nbytes = (4 + 2 * MAX_RANGES) * 8},
};

typedef struct {
    const PpcHost *host;
    int64_t *report;
    int nested, steal;
    int64_t n;
} Job;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void inner_task(void *arg, int64_t b, int64_t e)
{
    Job *j = arg;
    __atomic_fetch_add(&j->report[2], e - b, __ATOMIC_RELAXED);
}

static void task(void *arg, int64_t b, int64_t e)
{
    Job *j = arg;
    int64_t i = __atomic_fetch_add(&j->report[0], 1, __ATOMIC_RELAXED);
    if (i < MAX_RANGES) {
        j->report[4 + 2 * i] = b;
        j->report[5 + 2 * i] = e;
    }
    if (j->nested) j->host->parallel_for(j->host->pool, inner_task, j, e - b, 1);
    if (j->steal) {
        if (b == 0) {
            const int64_t want = j->n - j->n / (2 * j->host->n_threads);
            const double t0 = now_s();
            while (__atomic_load_n(&j->report[2], __ATOMIC_SEQ_CST) < want && j->host->n_threads > 1)
                if (now_s() - t0 > 5.0) {
                    __atomic_store_n(&j->report[3], -1, __ATOMIC_SEQ_CST);
                    break;
                }
        }
        __atomic_fetch_add(&j->report[2], e - b, __ATOMIC_SEQ_CST);
    }
}

static int32_t run(const PpcHost *host, void *const *in, void *const *out, void *workspace)
{
    const int64_t *params = in[0];
    int64_t *report = out[0];
    for (int i = 0; i < 4 + 2 * MAX_RANGES; i++)
        if (i != 3) report[i] = 0;
    __atomic_store_n(&report[3], 0, __ATOMIC_SEQ_CST); /* a test thread may be polling it */
    if (params[0] < 0) return 7;
    report[1] = host->n_threads;
    if (params[2] == 2) {
        __atomic_store_n(&report[3], 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&params[3], __ATOMIC_SEQ_CST) != 0) {
        }
    }
    Job j = {.host = host, .report = report, .nested = params[2] == 1, .steal = params[2] == 3, .n = params[0]};
    host->parallel_for(host->pool, task, &j, params[0], params[1]);
    return 0;
}

static const PpcModelDesc model = {
    .magic = PPC_ABI_MAGIC,
    .abi_version = PPC_ABI_VERSION,
    .producer = "fixture_pool (hand-written)",
    .target = "",
    .n_inputs = 1,
    .n_outputs = 1,
    .inputs = inputs,
    .outputs = outputs,
    .workspace_size = 0,
    .run = run,
};

__attribute__((visibility("default"))) const PpcModelDesc *ppc_model_v1(void) { return &model; }
