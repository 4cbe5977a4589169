/* fixture_badabi.c — a model descriptor from a future ABI (version 999): loading it must fail with
 * PPCRT_ERR_ABI and a message naming both versions, without calling anything else in it.
 */
#include <stdint.h>

#include "runtime/ppc_abi.h"

static int32_t run(const PpcHost *host, void *const *in, void *const *out, void *workspace)
{
    return 0;
}

static const int64_t dims[1] = {1};
static const PpcTensorDesc outputs[1] = {
    {.name = "y", .dtype = 1, .rank = 1, .dims = dims, .nbytes = 4},
};

static const PpcModelDesc model = {
    .magic = PPC_ABI_MAGIC,
    .abi_version = 999,
    .producer = "fixture_badabi",
    .target = "",
    .n_outputs = 1,
    .outputs = outputs,
    .run = run,
};

__attribute__((visibility("default"))) const PpcModelDesc *ppc_model_v1(void) { return &model; }
