/* ppcrt.h — libppcrt, the runtime that loads and runs models compiled by ppcc. This is the only
 * header an application needs (link with -lppcrt; the model .so itself needs only libc/libm).
 *
 * Usage (error handling shortened to one macro; every call returns a PPCRT_* status code):
 *
 *     #include <stdio.h>
 *     #include <stdlib.h>
 *     #include "ppcrt.h"
 *
 *     #define CHECK(call) do { int st_ = (call); if (st_ != PPCRT_OK) { \
 *         fprintf(stderr, "%s: %s\n", ppcrt_status_string(st_), ppcrt_last_error()); \
 *         exit(1); } } while (0)
 *
 *     int main(void)
 *     {
 *         PpcrtModel *model;
 *         CHECK(ppcrt_model_load("./mnist.so", &model));        // dlopen + ABI/descriptor check
 *
 *         // Introspect: one buffer per input and output, sized from the model's description.
 *         int n_in = ppcrt_model_num_inputs(model), n_out = ppcrt_model_num_outputs(model);
 *         void *in[16], *out[16];                                 // assume <= 16 of each here
 *         for (int k = 0; k < n_in; k++) {
 *             PpcrtTensorInfo ti;
 *             CHECK(ppcrt_model_input_info(model, k, &ti));
 *             printf("input %s: %s rank %d, %llu bytes\n", ti.name,
 *                    ppcrt_dtype_name(ti.dtype), ti.rank, (unsigned long long)ti.nbytes);
 *             in[k] = calloc(1, ti.nbytes ? ti.nbytes : 1);    // fill with real data here
 *         }
 *         for (int k = 0; k < n_out; k++) {
 *             PpcrtTensorInfo ti;
 *             CHECK(ppcrt_model_output_info(model, k, &ti));
 *             out[k] = malloc(ti.nbytes ? ti.nbytes : 1);
 *         }
 *         int k_img = ppcrt_model_find_input(model, "Input3");   // -1 if there is no such input
 *         (void)k_img;
 *
 *         // A session = thread pool + workspace. Zeroed options: all cores, own workspace.
 *         PpcrtSessionOptions opt = {0};
 *         opt.n_threads = 4;
 *         PpcrtSession *sess;
 *         CHECK(ppcrt_session_create(model, &opt, &sess));
 *         CHECK(ppcrt_session_run(sess, (const void *const *)in, out));   // no allocation here
 *         float *y = out[0];
 *         printf("y[0] = %g\n", y[0]);
 *
 *         ppcrt_session_free(sess);
 *         ppcrt_model_free(model);
 *         for (int k = 0; k < n_in; k++) free(in[k]);
 *         for (int k = 0; k < n_out; k++) free(out[k]);
 *         return 0;
 *     }
 *
 * Status codes and errors: every fallible function returns PPCRT_OK (0) or a positive PPCRT_ERR_*
 * code; ppcrt_status_string() names a code and ppcrt_last_error() gives the calling thread's
 * detail message for its most recent failure (e.g. the dlopen error, "model ABI version 2, this
 * runtime supports 1"). Successful calls do not clear it. No function aborts or exits.
 *
 * Threads: a PpcrtModel is immutable once loaded; any number of threads may introspect it and
 * create sessions from it at once. A PpcrtSession is used by one thread at a time (a second
 * concurrent run on the same session fails with PPCRT_ERR_BUSY); different sessions of one model
 * run in parallel. Each session owns a pool of n_threads-1 worker threads plus the caller. The
 * generated kernels keep per-item scratch on the stack, up to about 820 KB (the sparse Winograd
 * convolution, docs/codegen.md §5): a thread that calls ppcrt_session_run needs that much stack
 * to spare (glibc's default thread stack is 8 MB; the workers get 2 MB).
 *
 * Ownership: the runtime never takes ownership of a buffer passed in, and never keeps a pointer to
 * input/output buffers after a call returns. Strings and arrays returned by the introspection
 * functions point into the loaded model and stay valid until the model is unloaded (see
 * ppcrt_model_free). Caller-supplied workspaces stay owned by the caller.
 */
#ifndef PPCRT_H
#define PPCRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PPCRT_API __attribute__((visibility("default")))
#else
#define PPCRT_API
#endif

#define PPCRT_VERSION_MAJOR 1
#define PPCRT_VERSION_MINOR 0

#define PPCRT_MAX_RANK 8      /* the largest tensor rank a model may describe */
#define PPCRT_MAX_THREADS 256 /* the largest n_threads a session accepts */

/* ---------------------------------------------------------------- status codes */
enum {
    PPCRT_OK = 0,
    PPCRT_ERR_ARG = 1,         /* bad argument: NULL pointer, index out of range, bad option */
    PPCRT_ERR_IO = 2,          /* the model file cannot be opened or read */
    PPCRT_ERR_LOAD = 3,        /* dlopen failed (wrong architecture, missing dependency, ...) */
    PPCRT_ERR_NOT_A_MODEL = 4, /* not an ELF file, no ppc_model_v1 symbol, or bad magic */
    PPCRT_ERR_ABI = 5,         /* the model's ABI version is not the one this runtime speaks */
    PPCRT_ERR_BAD_MODEL = 6,   /* the model's descriptor is inconsistent (rank, dims, sizes...) */
    PPCRT_ERR_NOMEM = 7,       /* out of memory */
    PPCRT_ERR_THREAD = 8,      /* a worker thread could not be created */
    PPCRT_ERR_BUSY = 9,        /* the session is already running on another thread */
    PPCRT_ERR_RUN = 10,        /* the model's run entry point reported a failure */
};

/* A static English name for a status code ("ok", "invalid argument", ...); never NULL. */
PPCRT_API const char *ppcrt_status_string(int status);

/* The calling thread's detail message for its most recent failed call, or "" if none. The string
 * is owned by the runtime (thread-local) and overwritten by the thread's next failure. */
PPCRT_API const char *ppcrt_last_error(void);

/* ---------------------------------------------------------------- data types */
/* dtype values are ONNX TensorProto codes: 1 float, 2 uint8, 3 int8, 4 uint16, 5 int16, 6 int32,
 * 7 int64, 9 bool, 10 float16, 11 double, 12 uint32, 13 uint64, 14 complex64, 15 complex128,
 * 16 bfloat16. */
enum {
    PPCRT_DT_FLOAT = 1,
    PPCRT_DT_UINT8 = 2,
    PPCRT_DT_INT8 = 3,
    PPCRT_DT_UINT16 = 4,
    PPCRT_DT_INT16 = 5,
    PPCRT_DT_INT32 = 6,
    PPCRT_DT_INT64 = 7,
    PPCRT_DT_BOOL = 9,
    PPCRT_DT_FLOAT16 = 10,
    PPCRT_DT_DOUBLE = 11,
    PPCRT_DT_UINT32 = 12,
    PPCRT_DT_UINT64 = 13,
    PPCRT_DT_COMPLEX64 = 14,
    PPCRT_DT_COMPLEX128 = 15,
    PPCRT_DT_BFLOAT16 = 16,
};

/* Bytes per element of dtype, or 0 if the runtime does not know the dtype. */
PPCRT_API size_t ppcrt_dtype_size(int dtype);
/* A static name ("float", "int64", ...) or "unknown"; never NULL. */
PPCRT_API const char *ppcrt_dtype_name(int dtype);

/* ---------------------------------------------------------------- models */
typedef struct PpcrtModel PpcrtModel;

/* The description of one graph input or output (or one layer output). `name` points into the
 * loaded model (valid until it is unloaded); dims[0..rank-1] are copied; nbytes is the dense
 * row-major size of the buffer the runtime expects. */
typedef struct PpcrtTensorInfo {
    const char *name;
    int dtype; /* ONNX TensorProto code, see PPCRT_DT_* */
    int rank;  /* 0..PPCRT_MAX_RANK */
    int64_t dims[PPCRT_MAX_RANK];
    uint64_t nbytes;
} PpcrtTensorInfo;

/* Load the compiled model at `path` (a .so made by ppcc): dlopen it (RTLD_NOW | RTLD_LOCAL; a
 * path without '/' means the current directory, never the library search path), find
 * ppc_model_v1, check magic and ABI version, and validate the descriptor. On success *out is a
 * new model owned by the caller, to be released with ppcrt_model_free; on failure *out is NULL.
 * `path` is only read during the call. Loading the same file twice gives two independent handles
 * over one mapping. Errors: ARG, IO, LOAD, NOT_A_MODEL, ABI, BAD_MODEL, NOMEM. */
PPCRT_API int ppcrt_model_load(const char *path, PpcrtModel **out);

/* Release the caller's reference to `model` (NULL is fine). The library is unloaded when the
 * model and every session created from it have been freed, so sessions may outlive this call;
 * after it, pointers obtained from introspection must no longer be used unless a session of the
 * model is still alive. */
PPCRT_API void ppcrt_model_free(PpcrtModel *model);

/* Counts; 0 if model is NULL. */
PPCRT_API int ppcrt_model_num_inputs(const PpcrtModel *model);
PPCRT_API int ppcrt_model_num_outputs(const PpcrtModel *model);

/* Fill *info (caller-owned) with input/output k. Errors: ARG (NULL, k out of range). */
PPCRT_API int ppcrt_model_input_info(const PpcrtModel *model, int k, PpcrtTensorInfo *info);
PPCRT_API int ppcrt_model_output_info(const PpcrtModel *model, int k, PpcrtTensorInfo *info);

/* The index of the input/output called `name`, or -1 if there is none (or an argument is NULL). */
PPCRT_API int ppcrt_model_find_input(const PpcrtModel *model, const char *name);
PPCRT_API int ppcrt_model_find_output(const PpcrtModel *model, const char *name);

/* Bytes of scratch memory one run needs (a caller-supplied workspace must be at least this large
 * and 64-byte aligned); 0 if model is NULL. */
PPCRT_API uint64_t ppcrt_model_workspace_size(const PpcrtModel *model);

/* The model's producer ("ppcc 0.1.0") and target strings; owned by the model; "" if NULL. */
PPCRT_API const char *ppcrt_model_producer(const PpcrtModel *model);
PPCRT_API const char *ppcrt_model_target(const PpcrtModel *model);

/* ---------------------------------------------------------------- sessions */
typedef struct PpcrtSession PpcrtSession;

/* Options for ppcrt_session_create. Zero-initialise ({0}) for the defaults. */
typedef struct PpcrtSessionOptions {
    int n_threads;         /* threads that run the model, caller included; 0 = one per usable
                              core (the process's CPU affinity); 1..PPCRT_MAX_THREADS */
    void *workspace;       /* NULL: the session allocates (64-byte aligned) and owns it; else a
                              caller-owned buffer, 64-byte aligned, of workspace_size bytes, that
                              must outlive the session and not be shared with a concurrent run */
    size_t workspace_size; /* size of `workspace` (>= ppcrt_model_workspace_size); ignored if
                              workspace is NULL */
} PpcrtSessionOptions;

/* Create a session of `model` with options `opt` (NULL = defaults; only read during the call).
 * Starts n_threads-1 worker threads and sets up the workspace. *out is a new session owned by
 * the caller (release with ppcrt_session_free), NULL on failure. The session keeps the model
 * loaded. Errors: ARG (NULL model/out, bad n_threads, workspace too small or misaligned), NOMEM,
 * THREAD. */
PPCRT_API int ppcrt_session_create(PpcrtModel *model, const PpcrtSessionOptions *opt,
                                   PpcrtSession **out);

/* Run the model once. inputs[k] (k < num_inputs) points to a caller-owned buffer of input k's
 * nbytes, only read; outputs[k] to a caller-owned buffer of output k's nbytes, overwritten. The
 * arrays may be NULL when the count is 0; a buffer of 0 bytes may be NULL. Nothing is allocated,
 * and no pointer is kept after the call. Buffers need only the alignment of their element type.
 * One thread at a time per session. Errors: ARG (NULL session/buffer), BUSY, RUN. */
PPCRT_API int ppcrt_session_run(PpcrtSession *session, const void *const *inputs,
                                void *const *outputs);

/* Stop the workers and free the session and its runtime-owned workspace (NULL is fine). A
 * caller-supplied workspace is not freed. Must not race with a run on the same session. */
PPCRT_API void ppcrt_session_free(PpcrtSession *session);

/* The number of threads (caller included) the session runs with; 0 if NULL. */
PPCRT_API int ppcrt_session_num_threads(const PpcrtSession *session);

/* ---------------------------------------------------------------- per-layer debugging */
/* Models compiled with `ppcc --debug-layers` describe one entry point per IR node; the functions
 * below list them and call any of them on caller-supplied buffers (through libffi), so a tool can
 * run a model layer by layer and compare every intermediate value with a reference. */

typedef struct PpcrtLayerInfo {
    const char *name;      /* node name (owned by the model) */
    const char *op;        /* op name, e.g. "Conv" */
    const char *signature; /* one letter per argument: 'h' host services, 'p' buffer pointer */
    int n_args;            /* strlen(signature) */
    const char *const *arg_names; /* n_args names (owned by the model): the IR value each 'p'
                                     argument holds, "" for the layer's scratch workspace; the
                                     name of an 'h' argument is meaningless */
    int n_outputs;         /* see ppcrt_model_layer_output_info */
} PpcrtLayerInfo;

/* Number of per-layer entry points (0 unless the model was compiled with debug layers). */
PPCRT_API int ppcrt_model_num_layers(const PpcrtModel *model);

/* Fill *info (caller-owned) for layer k. Errors: ARG. */
PPCRT_API int ppcrt_model_layer_info(const PpcrtModel *model, int k, PpcrtLayerInfo *info);

/* Fill *info with the type of output j of layer k. Errors: ARG. */
PPCRT_API int ppcrt_model_layer_output_info(const PpcrtModel *model, int k, int j,
                                            PpcrtTensorInfo *info);

/* Call layer k's entry point through libffi on the session's thread pool. buffers has n_args
 * entries, one per signature letter: for 'h' the entry is ignored (may be NULL; the session's
 * host services are passed); for 'p' it is a caller-owned buffer of the named IR value, or NULL
 * when the argument's name is "" to use the session's own workspace. Allocates a small argument
 * array (debugging path, unlike ppcrt_session_run); keeps no pointer. Errors: ARG, BUSY, NOMEM. */
PPCRT_API int ppcrt_layer_invoke(PpcrtSession *session, int k, void *const *buffers);

#ifdef __cplusplus
}
#endif

#endif
