/* codegen.h — ppcc's native code generator: one optimised, memory-planned IR graph in, one LLVM
 * module out (LLVM 16 C API), written as a shared object, object file, assembly or LLVM IR.
 * docs/codegen.md describes the design; runtime/ppc_abi.h the binary interface the module
 * implements; codegen/lowering.h the contract with the native kernels.
 *
 * The module holds: the kernel bitcode embedded in ppcc (the C files of codegen/kernels/
 * compiled by clang for the target's architecture), linked in and specialised per layer; every
 * constant the code reads as read-only data built from raw bytes; one task function per
 * natively lowered node; interpreter-kernel calls (libppcfallback.a) for the others; `run`;
 * optionally one debug entry point per node; the ABI descriptor and `ppc_model_v1`.
 *
 * The first section is the interface ppcc uses; the rest is shared by the files of codegen/
 * (sections named after them).
 */
#ifndef PPCC_CODEGEN_H
#define PPCC_CODEGEN_H

#include <stdio.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/lowering.h"
#include "ir/ir.h"

/* ================================================================ interface (ppcc) */

typedef enum CgEmit { CG_EMIT_SO = 0, CG_EMIT_OBJ, CG_EMIT_ASM, CG_EMIT_LLVM } CgEmit;

typedef enum CgArch { CG_ARCH_X86_64 = 0, CG_ARCH_AARCH64, CG_ARCH_COUNT } CgArch;

/* The machine code is generated for (target.c). */
typedef struct CgTargetDesc {
    char triple[128];  /* normalised, e.g. "x86_64-pc-linux-gnu" */
    char cpu[64];      /* LLVM CPU name, e.g. "sapphirerapids" */
    char *features;    /* LLVM feature string (host: every feature of the host CPU); malloc'ed */
    CgArch arch;
    int is_host_arch;  /* same architecture as the machine ppcc runs on (needed for --emit=so) */
    CgTarget facts;    /* what layouts, schedules and lowerings may assume */
} CgTargetDesc;

/* Resolve the target: triple NULL = the host; cpu NULL = the host CPU and its features when the
 * triple is the host's default, else a generic CPU of the architecture; cpu "host" = the host
 * CPU (host architecture only). Only x86-64 and AArch64 are supported (kernel bitcode exists for
 * those). Errors: unknown triple, unsupported architecture. */
int cg_target_resolve(const char *triple, const char *cpu, CgTargetDesc *out, Diag *d);
void cg_target_release(CgTargetDesc *td);
/* The conv kernels' register tile for blocked Conv n on target t (lower_conv.c): 1 and the tile,
 * or 0 if no native kernel takes n. Used by the schedule pass through PassContext.conv_tile. */
int cg_conv_choose_tile(const Graph *g, const Node *n, const CgTarget *t, int *oc_tile, int *ow_tile);

typedef struct CgOptions {
    CgEmit emit;
    const CgTargetDesc *target;
    int opt_level;            /* 0..3: LLVM's default<On> pipeline and code generation level */
    int debug_layers;         /* also export one entry point per node (PpcModelDesc.layers) */
    const char *fallback_lib; /* libppcfallback.a, linked into CG_EMIT_SO outputs */
    const char *cc;           /* the C compiler driver that links CG_EMIT_SO ("cc" if NULL) */
    const char *producer;     /* PpcModelDesc.producer, e.g. "ppcc 0.1.0" */
    FILE *stats;              /* per-layer report (native kernel or fallback, workspace); NULL */
    int64_t pattern_band_bytes; /* run a PatternPad + PatternConv pair in bands of rows whose
                                   copies take at most this many bytes (0: never; lower_pattern.c) */
    int no_winograd;          /* 1: direct convolution only (ppcc --winograd=off); 2: Winograd
                                 F(2x2,3x3) only (--winograd=2x2); 0: 3x3 stride-1 convs use the
                                 Winograd kernels where they apply (codegen/pack.c) */
} CgOptions;

/* Compile g (shape-inferred; memory-planned by plan-memory or not: codegen then plans simply)
 * into out_path, written atomically: on any error no file is left. */
int cg_compile(const Graph *g, const CgOptions *o, const char *out_path, Diag *d);

/* ================================================================ internals (the .c files of codegen/) */

/* ---------------------------------------------------------------- plan.c: value addresses */
/* Where a value lives during run(): kind MEM_INPUT/MEM_OUTPUT (index = graph input/output
 * position), MEM_WORKSPACE, or MEM_CONST (index = id of the constant value whose data it is);
 * offset in bytes within that buffer. */
typedef struct CgAddr {
    MemKind kind;
    int index;
    int64_t offset;
} CgAddr;

typedef struct CgPlan {
    CgAddr *addr;          /* per value id; kind MEM_NONE for values no node reads or writes */
    int64_t workspace;     /* bytes, multiple of 64 */
    int64_t tensor_bytes;  /* sum of the sizes of all intermediate values (for --stats) */
    int from_pass;         /* the plan-memory pass's plan (else codegen's one-slot-per-value) */
} CgPlan;

int64_t cg_value_bytes(const Value *v);
/* Is node n's output its input's bytes unchanged (Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity, Dropout without a mask output, byte-identical LayoutTransform)? */
int cg_node_is_view(const Graph *g, const Node *n);
int cg_addr_equal(CgAddr a, CgAddr b);
/* Use the graph's plan (mem_kind/mem_index/mem_offset, workspace_size) if it has one, checking
 * it; else plan simply: inputs and outputs in the user's buffers, views alias their input, every
 * other value its own workspace slot. */
int cg_plan_build(const Graph *g, CgPlan *p, Diag *d);
void cg_plan_free(CgPlan *p);

/* ---------------------------------------------------------------- module.c: shared state */
typedef struct CgNodeCode CgNodeCode;

typedef struct Cg {
    const Graph *g;
    const CgOptions *o;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMTargetMachineRef tm;
    LLVMTargetDataRef dl;
    LLVMBuilderRef b;
    char diag_msg[512];        /* the first error LLVM reported through the diagnostic handler */
    LLVMTypeRef t_void, t_i8, t_i32, t_i64, t_f64, t_ptr;
    LLVMTypeRef t_tensor, t_attr, t_node;          /* fallback.c: ir.h's structs */
    LLVMTypeRef t_tdesc, t_ldesc, t_mdesc, t_host; /* abi.c: ppc_abi.h's structs */
    LLVMTypeRef t_task, t_pfor, t_eval, t_range;   /* function types */
    CgPlan plan;
    LLVMValueRef *const_gv;    /* per value id: its constant data's global (created on demand) */
    CgNodeCode *code;          /* per node: how it is compiled */
    char **kernel_fns;         /* names of the functions the kernel bitcode defined */
    int n_kernel_fns;
    int max_tensors;           /* largest n_in + n_out of a node (fallback scratch size) */
} Cg;

/* How one node is compiled (decided once; shared by run() and the node's layer entry point). */
struct CgNodeCode {
    enum { CG_CODE_FALLBACK = 0, CG_CODE_NATIVE, CG_CODE_VIEW } kind;
    CgKernelCall *call;        /* CG_CODE_NATIVE: the lowering (blobs already turned to globals) */
    LLVMValueRef task;         /* CG_CODE_NATIVE: void task(void *bufs, int64 b, int64 e) */
    LLVMValueRef task_off;     /* banded: task(bufs, b + off, e + off), off in bufs[CG_MAX_BUFS-1] */
    LLVMValueRef blob_gv[CG_MAX_BLOBS];
    LLVMValueRef node_gv;      /* CG_CODE_FALLBACK: the constant Node (created on demand) */
};

/* The function being emitted: run() or one layer's entry point. */
typedef struct CgFn {
    LLVMValueRef fn;
    LLVMValueRef host;         /* const PpcHost * */
    LLVMBasicBlockRef entry;   /* allocas go here */
    LLVMBasicBlockRef fail;    /* run(): returns 1; NULL in layer entry points (no status) */
    int is_layer;
    /* run(): the user's buffers, loaded once in the entry block */
    LLVMValueRef *in_ptrs, *out_ptrs, workspace;
    /* layer entry points: argument a holds value arg_vid[a] */
    int n_args;
    const int *arg_vid;
    LLVMValueRef *arg_val;
    /* scratch shared by the node calls of this function (entry-block allocas, made on demand) */
    LLVMValueRef s_diag;       /* Diag for fallback calls */
    LLVMValueRef s_tensors;    /* [cg_max_tensors] Tensor */
    LLVMValueRef s_tptrs;      /* [cg_max_tensors] Tensor * */
    LLVMValueRef s_bufs;       /* [CG_MAX_BUFS] void * for kernel calls */
} CgFn;

/* The address of value vid in f (a constant's global, a layer argument, or plan base + offset). */
LLVMValueRef cg_value_addr(Cg *c, CgFn *f, int vid);
/* Static address of vid in run() (constants: MEM_CONST of themselves). */
CgAddr cg_static_addr(const Cg *c, int vid);
/* An alloca in f's entry block (so LLVM promotes/folds it), of type ty. */
LLVMValueRef cg_entry_alloca(Cg *c, CgFn *f, LLVMTypeRef ty, const char *name);
/* A private read-only global holding n raw bytes (one ConstantDataArray, never per element). */
LLVMValueRef cg_bytes_global(Cg *c, const void *data, size_t n, unsigned align, const char *name, Diag *d);
/* A private NUL-terminated string constant. */
LLVMValueRef cg_cstring(Cg *c, const char *s);
/* The global of constant value vid (created on first use; cg_compile has checked its size). */
LLVMValueRef cg_const_global(Cg *c, int vid);
/* A private constant global with the given initializer. */
LLVMValueRef cg_const_data(Cg *c, LLVMValueRef init, const char *name, unsigned align);
/* A branch to f's failure exit when status (i32) is non-zero (run() only). */
void cg_check_status(Cg *c, CgFn *f, LLVMValueRef status);

/* ---------------------------------------------------------------- target.c */
LLVMTargetMachineRef cg_target_machine(const CgTargetDesc *td, int opt_level, Diag *d);
/* Give every function of the module the target's CPU attributes (replacing the kernels'
 * generic ones), plus prefer-vector-width/min-legal-vector-width 512 on AVX-512 targets. */
void cg_target_set_attributes(Cg *c);

/* ---------------------------------------------------------------- kernels.c */
/* Parse the embedded kernel bitcode of the target's architecture and link it into c->mod;
 * remembers the names of the functions it defined (c->kernel_fns). */
int cg_kernels_link(Cg *c, Diag *d);
/* The kernel function `name` with the uniform range signature, or NULL with d set. */
LLVMValueRef cg_kernels_range_fn(Cg *c, const char *name, Diag *d);
/* Make kernel functions internal and delete every internal function and global nothing uses. */
void cg_kernels_finish(Cg *c);

/* ---------------------------------------------------------------- native.c */
/* Ask the lowering table about node i; on acceptance create the task function, params and blob
 * globals and fill c->code[i]. Returns 1 native, 0 fallback, -1 error. */
int cg_native_prepare(Cg *c, int i, Diag *d);
int cg_native_emit(Cg *c, CgFn *f, int i, Diag *d);

/* ---------------------------------------------------------------- fallback.c */
void cg_fallback_types(Cg *c);
/* The interpreter kernel ("eval_conv", ...) running op. */
const char *cg_fallback_fn_name(OpKind op);
int cg_fallback_emit(Cg *c, CgFn *f, int i, Diag *d);

/* ---------------------------------------------------------------- node.c */
/* Emit node i's code into f (nothing for views and in-place concats whose addresses coincide). */
int cg_node_emit(Cg *c, CgFn *f, int i, Diag *d);
/* How node i is compiled, one line for --stats (buf). */
const char *cg_node_describe(const Cg *c, int i, char *buf, size_t n);

/* ---------------------------------------------------------------- abi.c */
void cg_abi_types(Cg *c);
/* Emit the descriptor (with the layer table when layers != NULL: layers[i] is node i's entry
 * point and layer_args[i] its n_layer_args[i] argument value ids) and ppc_model_v1. */
int cg_abi_emit(Cg *c, LLVMValueRef run, LLVMValueRef *layers, int *const *layer_args,
                const int *n_layer_args, Diag *d);

/* ---------------------------------------------------------------- output.c */
/* Optimise c->mod with LLVM's default<On> pipeline. */
int cg_output_optimise(Cg *c, Diag *d);
/* Write the module as o->emit says to out_path, atomically. */
int cg_output_write(Cg *c, const char *out_path, Diag *d);

#endif
