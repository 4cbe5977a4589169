/* lowering.h — the contract between codegen's LLVM machinery (codegen/ files) and the native
 * kernels (codegen/kernels/ with their lowering functions codegen/lower_ files).
 *
 * For each IR node, codegen asks the lowering table (lower_table.c) in order; the first lowering
 * function that accepts the node describes ONE call of a native kernel:
 *
 *     for the layer: n = call.n_work; host->parallel_for(pool, task, &bufs, n, call.grain)
 *     task(bufs, b, e) = <range_fn>(&params_const, bufs, b, e)
 *
 * where <range_fn> is a function of the kernel bitcode with the uniform signature
 *     void range_fn(const void *params, void *const *bufs, int64_t begin, int64_t end);
 * `params` points to a constant copy of call.params (raw bytes, the kernel's C parameter struct
 * filled natively here; x86-64 and aarch64 lay such structs out identically), and bufs[k] is
 * the address of buffer k described by call.bufs[k]. LLVM inlines range_fn into the task and
 * specialises it on the constant parameters. Nodes no lowering accepts use the fallback (the
 * interpreter's kernel linked into the model).
 */
#ifndef PPCC_LOWERING_H
#define PPCC_LOWERING_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* What the lowering may assume about the target. */
typedef struct CgTarget {
    int is_x86, is_aarch64;
    int vector_bits; /* widest usable vector register: 512, 256 or 128 */
    int vregs;       /* number of vector registers */
    int has_fma;
    /* not a fact of the target but of the compile (CgOptions.pattern_band_bytes, 0 with
     * debug_layers): the L2 budget of a band of pattern-conv input copies, 0 = no banding */
    int64_t band_bytes;
    /* also of the compile (CgOptions.no_winograd): 1 = 3x3 stride-1 convs may use the Winograd
     * kernels (codegen/pack.c), 2 = only F(2x2,3x3), 0 = direct convolution only */
    int winograd;
} CgTarget;

typedef enum CgBufKind {
    CG_BUF_NONE = 0, /* NULL pointer */
    CG_BUF_VALUE,    /* the run-time address of IR value `value` (input, output, workspace, const) */
    CG_BUF_BLOB,     /* constant data call.blobs[blob] (e.g. packed weights), emitted read-only */
} CgBufKind;

typedef struct CgBuf {
    CgBufKind kind;
    int value; /* CG_BUF_VALUE */
    int blob;  /* CG_BUF_BLOB */
} CgBuf;

#define CG_MAX_BUFS 16
#define CG_MAX_BLOBS 8
#define CG_MAX_PARAMS 1024
#define CG_MAX_BANDS 64

typedef struct CgKernelCall {
    const char *range_fn;              /* kernel function name in the bitcode */
    int64_t n_work;                    /* number of work items (>= 0) */
    int64_t grain;                     /* smallest useful range (>= 1) */
    unsigned char params[CG_MAX_PARAMS]; /* the kernel's parameter struct, raw bytes */
    size_t params_size;
    int n_bufs;
    CgBuf bufs[CG_MAX_BUFS];
    int n_blobs;
    void *blobs[CG_MAX_BLOBS];         /* malloc'ed by the lowering; freed by codegen */
    size_t blob_size[CG_MAX_BLOBS];
    int blob_align[CG_MAX_BLOBS];      /* bytes, e.g. 64 */
    char note[128];                    /* for --stats: e.g. "conv NCHW16c 3x3 s1 tile 2x12" */
    /* banded pair (lower_pattern.c): a PatternPad and the PatternConv right after it run band
     * by band, pad then conv (native.c), band k = work items [band_lo[k], band_hi[k]) */
    int n_bands;
    int64_t band_lo[CG_MAX_BANDS], band_hi[CG_MAX_BANDS];
} CgKernelCall;

/* Returns 1 and fills *call if this lowering handles node n, 0 if not (try the next one / the
 * fallback), -1 with d set on a real error. */
typedef int (*CgLowerFn)(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);

typedef struct CgLowering {
    const char *name;
    CgLowerFn lower;
} CgLowering;

extern const CgLowering cg_lowerings[]; /* lower_table.c, NULL-terminated */

/* Helpers for lowering functions (lowering.c). */
void cg_call_init(CgKernelCall *call, const char *range_fn);
void cg_call_params(CgKernelCall *call, const void *params, size_t size);
int cg_call_value(CgKernelCall *call, int value_id);  /* appends a buffer; returns its index */
int cg_call_none(CgKernelCall *call);
int cg_call_blob(CgKernelCall *call, void *data, size_t size, int align); /* takes ownership */
void cg_call_free(CgKernelCall *call);

#endif
