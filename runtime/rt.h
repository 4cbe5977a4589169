/* rt.h — internal to libppcrt: the model and session structs shared by the runtime's files and
 * the error-reporting helpers. Not installed; applications use ppcrt.h only.
 *
 * A PpcrtModel owns the dlopen handle and, for debug layers, one prepared libffi call interface
 * per layer. It is reference-counted: the application's handle counts once and every session
 * counts once, so the library stays mapped while any session can still run its code.
 */
#ifndef PPCRT_RT_H
#define PPCRT_RT_H

#include <ffi.h>
#include <stdatomic.h>

#include "runtime/ppc_abi.h"
#include "runtime/ppcrt.h"
#include "runtime/pool.h"

#define PPCRT_MAX_LAYER_ARGS 4096 /* sanity bound on a layer's argument count */

typedef struct RtLayer {
    ffi_cif cif;       /* void fn(args...) */
    ffi_type **atypes; /* n_args entries, all &ffi_type_pointer */
} RtLayer;

struct PpcrtModel {
    void *handle;             /* from dlopen */
    const PpcModelDesc *desc; /* in the library's read-only data */
    RtLayer *layers;          /* desc->n_layers entries */
    _Atomic int refs;         /* 1 for the application's handle + 1 per live session */
};

struct PpcrtSession {
    PpcrtModel *model;
    PpcrtPool *pool;
    PpcHost host; /* what the model's code sees; host.pool = pool */
    void *workspace;
    int own_workspace;
    atomic_flag busy; /* set while a run or layer call is in progress */
};

/* Drop one reference; the last one unloads the library and frees the model. */
void ppcrt_model_release(PpcrtModel *model);

/* Record a printf-style detail message for ppcrt_last_error() and return `status`. */
int ppcrt_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Check one tensor description (what names it in messages: "input 2"). Returns 0 or sets the
 * detail message and returns PPCRT_ERR_BAD_MODEL. */
int ppcrt_tensor_desc_check(const PpcTensorDesc *t, const char *what, int index);

/* Copy a validated description into the public struct. */
void ppcrt_tensor_info_fill(const PpcTensorDesc *t, PpcrtTensorInfo *info);

/* Prepare the libffi interfaces of every layer (after the layers were validated). */
int ppcrt_layers_prepare(PpcrtModel *model);
void ppcrt_layers_release(PpcrtModel *model);

#endif
