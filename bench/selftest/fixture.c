/* fixture.c — the benchmark self-test's stand-in for a ppcc-compiled model: the Gemm of
 * gen_fixture.py (weights from its weights.h) behind the ppc_model_v1 ABI, split over the
 * session's threads with host->parallel_for. Built with -DPERTURB=0.01f it returns slightly
 * wrong numbers, which the benchmark must report as a relative L2 error above 1e-4.
 */
#include <stdint.h>

#include "runtime/ppc_abi.h"
#include "weights.h"

#ifndef PERTURB
#define PERTURB 0.0f
#endif

static const int64_t dims_in[2] = {1, K}, dims_out[2] = {1, N};
static const PpcTensorDesc inputs[1] = {
    {.name = "input", .dtype = 1, .rank = 2, .dims = dims_in, .nbytes = K * 4}};
static const PpcTensorDesc outputs[1] = {
    {.name = "output", .dtype = 1, .rank = 2, .dims = dims_out, .nbytes = N * 4}};

typedef struct Task {
    const float *x;
    float *y;
} Task;

static void gemm_task(void *arg, int64_t begin, int64_t end)
{
    const Task *t = arg;
    for (int64_t j = begin; j < end; j++) {
        float s = B[j];
        for (int k = 0; k < K; k++)
            s += t->x[k] * W[k * N + j];
        t->y[j] = s + PERTURB;
    }
}

static int32_t run(const PpcHost *host, void *const *in, void *const *out, void *workspace)
{
    (void)workspace;
    Task t = {in[0], out[0]};
    host->parallel_for(host->pool, gemm_task, &t, N, 64);
    return 0;
}

static const PpcModelDesc model = {
    .magic = PPC_ABI_MAGIC,
    .abi_version = PPC_ABI_VERSION,
    .producer = "bench selftest fixture",
    .target = "host",
    .n_inputs = 1,
    .n_outputs = 1,
    .inputs = inputs,
    .outputs = outputs,
    .workspace_size = 64,
    .run = run,
};

__attribute__((visibility("default"))) const PpcModelDesc *ppc_model_v1(void) { return &model; }
