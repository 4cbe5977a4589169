/* ppc_abi.h — the binary interface between a compiled model (.so made by ppcc) and the runtime.
 *
 * A compiled model exports exactly one symbol, `ppc_model_v1`, a function returning a pointer to
 * a constant PpcModelDesc that lives in the model's read-only data. The runtime (libppcrt)
 * dlopens the .so, looks the symbol up, checks `magic` and `abi_version`, and from then on only
 * talks to the model through this struct. A model needs nothing but libc and libm: everything
 * else it uses (the thread pool) comes in through PpcHost at run time.
 *
 * This header is shared by codegen/ (which emits these structures with the LLVM C API, so the
 * layout here must match codegen/abi.c exactly) and runtime/. Applications use runtime/ppcrt.h.
 */
#ifndef PPC_ABI_H
#define PPC_ABI_H

#include <stdint.h>

#define PPC_ABI_MAGIC 0x50504343u /* "PPCC" */
#define PPC_ABI_VERSION 1u
#define PPC_MODEL_SYMBOL "ppc_model_v1"

/* Services the runtime passes to generated code on every run. */
typedef void (*PpcTaskFn)(void *arg, int64_t begin, int64_t end);
typedef struct PpcHost {
    /* Run fn(arg, b, e) over disjoint ranges covering [0, n); returns when all are done. With
     * one thread it is simply fn(arg, 0, n). `grain` is the smallest useful range. */
    void (*parallel_for)(void *pool, PpcTaskFn fn, void *arg, int64_t n, int64_t grain);
    void *pool;
    int32_t n_threads;
    int32_t reserved;
} PpcHost;

/* A graph input or output. dtype is the ONNX TensorProto code (1 = float, 7 = int64, ...). */
typedef struct PpcTensorDesc {
    const char *name;
    int32_t dtype;
    int32_t rank;
    const int64_t *dims;
    uint64_t nbytes;
} PpcTensorDesc;

/* A per-layer debug entry point (ppcc --debug-layers): `fn` computes one IR node; its arguments
 * are described by `signature`, a string of one letter per argument ('p' = pointer to a buffer,
 * 'h' = const PpcHost *), and `args` names the buffers (IR value names, in order; "" = workspace). */
typedef struct PpcLayerDesc {
    const char *name;      /* node name */
    const char *op;        /* op name */
    const char *signature; /* e.g. "hppp" */
    int32_t n_args;
    int32_t reserved;
    const char *const *arg_names;
    const PpcTensorDesc *outputs; /* types of the node's outputs */
    int32_t n_outputs;
    int32_t reserved2;
    void *fn;
} PpcLayerDesc;
/* Layer calling convention, as runtime/layer.c calls it: n_args == strlen(signature); arg_names
 * has n_args entries, entry a naming argument a (an 'h' argument's name is ignored: emit ""); a
 * 'p' argument named "" gets the session's workspace unless the caller passes a buffer; `fn` has
 * the C type void fn(args...), every argument pointer-sized, and returns nothing. */

typedef struct PpcModelDesc {
    uint32_t magic;       /* PPC_ABI_MAGIC */
    uint32_t abi_version; /* PPC_ABI_VERSION */
    const char *producer; /* "ppcc 0.x.y" */
    const char *target;   /* target triple and CPU it was compiled for */
    int32_t n_inputs;
    int32_t n_outputs;
    const PpcTensorDesc *inputs;
    const PpcTensorDesc *outputs;
    uint64_t workspace_size;  /* bytes of scratch memory a run needs (64-byte aligned) */
    /* Run the model: inputs[k]/outputs[k] point to dense row-major buffers of the described
     * types; workspace to workspace_size bytes, 64-byte aligned. Returns 0. Reentrant: any
     * number of runs may proceed at once given distinct workspaces and outputs. */
    int32_t (*run)(const PpcHost *host, void *const *inputs, void *const *outputs, void *workspace);
    int32_t n_layers;
    int32_t reserved;
    const PpcLayerDesc *layers;
} PpcModelDesc;

typedef const PpcModelDesc *(*PpcModelGetFn)(void);

#endif
