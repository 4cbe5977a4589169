/* fixture_baddesc.c — one source for a family of broken model descriptors. The Makefile builds it
 * once per kind as bad_<kind>.so with -DBAD_KIND_<kind>; each kind breaks exactly one rule that
 * ppcrt_model_load checks, and bad_none.so (no define) is the valid control, so a test failing
 * to load it would show the fixture, not the check, is wrong. Kinds: magic, nulldesc, rank,
 * negdim, nbytes, dtype, dupname, norun, signature, nargs, notable, nooutputs, overflow.
 */
#include <stddef.h>
#include <stdint.h>

#include "runtime/ppc_abi.h"

__attribute__((unused)) static int32_t run(const PpcHost *host, void *const *in, void *const *out,
                                           void *workspace)
{
    return 0;
}

static void layer(const PpcHost *host, void *x, void *y) {}

#if defined(BAD_KIND_rank)
static const int64_t dims_x[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
#define RANK_X 9
#define NBYTES_X 4
#elif defined(BAD_KIND_negdim)
static const int64_t dims_x[2] = {2, -3};
#define RANK_X 2
#define NBYTES_X 4
#elif defined(BAD_KIND_overflow)
static const int64_t dims_x[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
#define RANK_X 2
#define NBYTES_X 0
#else
static const int64_t dims_x[2] = {2, 3};
#define RANK_X 2
#if defined(BAD_KIND_nbytes)
#define NBYTES_X 100
#else
#define NBYTES_X 24
#endif
#endif

#if defined(BAD_KIND_dtype)
#define DTYPE_X 8 /* ONNX string: no fixed element size */
#else
#define DTYPE_X 1
#endif

#if defined(BAD_KIND_dupname)
#define NAME_Y "out"
#else
#define NAME_Y "y"
#endif

__attribute__((unused)) static const PpcTensorDesc inputs[1] = {
    {.name = "x", .dtype = DTYPE_X, .rank = RANK_X, .dims = dims_x, .nbytes = NBYTES_X},
};
static const PpcTensorDesc outputs[2] = {
    {.name = "out", .dtype = 1, .rank = 0, .dims = NULL, .nbytes = 4},
    {.name = NAME_Y, .dtype = 7, .rank = 0, .dims = NULL, .nbytes = 8},
};

static const char *const arg_names[3] = {"", "x", "out"};
static const PpcLayerDesc layers[1] = {
#if defined(BAD_KIND_signature)
    {.name = "l0", .op = "Relu", .signature = "hpq", .n_args = 3, .arg_names = arg_names,
#elif defined(BAD_KIND_nargs)
    {.name = "l0", .op = "Relu", .signature = "hpp", .n_args = 2, .arg_names = arg_names,
#else
    {.name = "l0", .op = "Relu", .signature = "hpp", .n_args = 3, .arg_names = arg_names,
#endif
     .outputs = outputs, .n_outputs = 1, .fn = (void *)layer},
};

__attribute__((unused)) static const PpcModelDesc model = {
#if defined(BAD_KIND_magic)
    .magic = 0x12345678u,
#else
    .magic = PPC_ABI_MAGIC,
#endif
    .abi_version = PPC_ABI_VERSION,
    .producer = "fixture_baddesc",
    .target = "",
    .n_inputs = 1,
#if defined(BAD_KIND_nooutputs)
    .n_outputs = 0,
#else
    .n_outputs = 2,
#endif
#if defined(BAD_KIND_notable)
    .inputs = NULL,
#else
    .inputs = inputs,
#endif
    .outputs = outputs,
    .workspace_size = 0,
#if !defined(BAD_KIND_norun)
    .run = run,
#endif
    .n_layers = 1,
    .layers = layers,
};

__attribute__((visibility("default"))) const PpcModelDesc *ppc_model_v1(void)
{
#if defined(BAD_KIND_nulldesc)
    return NULL;
#else
    return &model;
#endif
}
