/* fixture_add.c — a hand-written stand-in for a model compiled by ppcc, used by test_runtime.c.
 *
 * It implements ppc_model_v1 the way the code generator will: constant descriptors in read-only
 * data, a run entry point that places intermediate values in the workspace and parallelises every
 * layer through host->parallel_for, and one debug entry point per layer (ppcc --debug-layers).
 * The model: inputs a, b (float[1000]), output y = a + b * 2, computed as two layers:
 *   mul2: t = b * 2   (signature "hppp": host, b, t, scratch; the scratch is the workspace tail)
 *   add:  y = a + t   (signature "hppp": host, a, t, y)
 * Workspace: t at offset 0 (4000 bytes, padded to 4032), the layer scratch at 4032 (4032 bytes).
 * run returns 2 if the workspace is not 64-byte aligned, so tests can see the runtime's promise.
 */
#include <stdint.h>

#include "runtime/ppc_abi.h"

#define N 1000
#define GRAIN 100 /* up to 10 ranges: several per run whatever the thread count */
#define T_OFFSET 0
#define SCRATCH_OFFSET 4032
#define WORKSPACE 8064

static const int64_t dims_n[1] = {N};
static const PpcTensorDesc inputs[2] = {
    {.name = "a", .dtype = 1, .rank = 1, .dims = dims_n, .nbytes = N * 4},
    {.name = "b", .dtype = 1, .rank = 1, .dims = dims_n, .nbytes = N * 4},
};
static const PpcTensorDesc outputs[1] = {
    {.name = "y", .dtype = 1, .rank = 1, .dims = dims_n, .nbytes = N * 4},
};
static const PpcTensorDesc t_desc[1] = {
    {.name = "t", .dtype = 1, .rank = 1, .dims = dims_n, .nbytes = N * 4},
};

typedef struct {
    const float *x;
    float *out;
    float *scratch;
    const float *t;
} Task;

static void mul2_task(void *arg, int64_t b, int64_t e)
{
    Task *k = arg;
    for (int64_t i = b; i < e; i++) k->scratch[i] = k->x[i] * 2.0f;
    for (int64_t i = b; i < e; i++) k->out[i] = k->scratch[i];
}

static void add_task(void *arg, int64_t b, int64_t e)
{
    Task *k = arg;
    for (int64_t i = b; i < e; i++) k->out[i] = k->x[i] + k->t[i];
}

static void layer_mul2(const PpcHost *host, const float *b, float *t, float *scratch)
{
    Task k = {.x = b, .out = t, .scratch = scratch};
    host->parallel_for(host->pool, mul2_task, &k, N, GRAIN);
}

static void layer_add(const PpcHost *host, const float *a, const float *t, float *y)
{
    Task k = {.x = a, .out = y, .t = t};
    host->parallel_for(host->pool, add_task, &k, N, GRAIN);
}

static int32_t run(const PpcHost *host, void *const *in, void *const *out, void *workspace)
{
    if ((uintptr_t)workspace % 64 != 0) return 2;
    char *ws = workspace;
    float *t = (float *)(ws + T_OFFSET);
    layer_mul2(host, in[1], t, (float *)(ws + SCRATCH_OFFSET));
    layer_add(host, in[0], t, out[0]);
    return 0;
}

static const char *const mul2_args[4] = {"", "b", "t", ""};
static const char *const add_args[4] = {"", "a", "t", "y"};
static const PpcLayerDesc layers[2] = {
    {.name = "mul2_0", .op = "Mul", .signature = "hppp", .n_args = 4, .arg_names = mul2_args,
     .outputs = t_desc, .n_outputs = 1, .fn = (void *)layer_mul2},
    {.name = "add_1", .op = "Add", .signature = "hppp", .n_args = 4, .arg_names = add_args,
     .outputs = outputs, .n_outputs = 1, .fn = (void *)layer_add},
};

static const PpcModelDesc model = {
    .magic = PPC_ABI_MAGIC,
    .abi_version = PPC_ABI_VERSION,
    .producer = "fixture_add (hand-written)",
    .target = "x86_64-pc-linux-gnu generic",
    .n_inputs = 2,
    .n_outputs = 1,
    .inputs = inputs,
    .outputs = outputs,
    .workspace_size = WORKSPACE,
    .run = run,
    .n_layers = 2,
    .layers = layers,
};

__attribute__((visibility("default"))) const PpcModelDesc *ppc_model_v1(void) { return &model; }
