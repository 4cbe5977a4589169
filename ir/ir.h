/* ir.h — ppcc's tensor IR: dtypes, tensors, graphs, the op table, verifier, shape inference,
 * text printer/parser and the reference interpreter. The one header of the ir/ folder.
 *
 * Model: a Graph owns an array of Values (typed tensors with static shapes: graph inputs,
 * constants with data, intermediates) and an array of Nodes (op + input/output value ids +
 * attributes) kept in topological order. Everything is referred to by small integer ids.
 * Strings, attribute arrays and constant data live in the graph's arena and are freed with it.
 *
 * Sections: diagnostics (diag.c, file.c) | arena (arena.c) | dtypes (dtype.c) | tensors (tensor.c) |
 * op table (op.c, ops.def) | graph (graph.c) | attributes (attr.c) | verifier (verify.c) |
 * shape inference (shape.c, shape_*.c) | text printer (print.c) | text parser (parse.c) |
 * interpreter (interp.c, interp_*.c).
 */
#ifndef PPCC_IR_H
#define PPCC_IR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IR_MAX_RANK 8

/* ---------------------------------------------------------------- diagnostics (diag.c) */
/* A user-facing error travels up as a Diag; only the CLI prints it. msg is one line without
 * the "ppcc: error: FILE: " prefix. */
typedef struct Diag {
    char msg[1024];
} Diag;

/* Format msg into d (if d is not NULL); always returns -1 so callers can `return diag_error(..)`. */
int diag_error(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Abort with file/line for internal invariant failures (never for bad user input). */
#define IR_ASSERT(c) ((c) ? (void)0 : ir_assert_fail(#c, __FILE__, __LINE__))
void ir_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
/* malloc/calloc/realloc that abort on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Output files are written atomically (temp file + rename) so a failed run never leaves a
 * partial file. A path that exists and is not a regular file (/dev/null, a FIFO, a terminal)
 * must be written directly instead: renaming over it would replace the device. */
int ir_path_is_special(const char *path);
/* Write data to path that way (file.c). Errors do not repeat the path. */
int ir_write_file_atomic(const char *path, const void *data, size_t len, Diag *d);

/* ---------------------------------------------------------------- arena (arena.c) */
typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t n);      /* zeroed, 16-byte aligned */
char *arena_strdup(Arena *a, const char *s); /* NULL -> NULL */
void *arena_memdup(Arena *a, const void *p, size_t n);

/* ---------------------------------------------------------------- dtypes (dtype.c) */
/* DTYPE(ENUM, "text name", C type, ONNX TensorProto.DataType code) */
#define IR_DTYPES(X)             \
    X(F32, "f32", float, 1)      \
    X(U8, "u8", uint8_t, 2)      \
    X(I8, "i8", int8_t, 3)       \
    X(U16, "u16", uint16_t, 4)   \
    X(I16, "i16", int16_t, 5)    \
    X(I32, "i32", int32_t, 6)    \
    X(I64, "i64", int64_t, 7)    \
    X(BOOL, "bool", uint8_t, 9)  \
    X(F64, "f64", double, 11)    \
    X(U32, "u32", uint32_t, 12)  \
    X(U64, "u64", uint64_t, 13)

typedef enum DType {
    DT_UNDEF = 0,
#define X(e, s, c, o) DT_##e,
    IR_DTYPES(X)
#undef X
    DT_COUNT
} DType;

size_t dtype_size(DType t);           /* bytes per element; 0 for DT_UNDEF */
const char *dtype_name(DType t);      /* "f32", ...; "undef" */
DType dtype_from_name(const char *s); /* DT_UNDEF if unknown */
DType dtype_from_onnx(int code);      /* DT_UNDEF if unsupported */
int dtype_to_onnx(DType t);
int dtype_is_float(DType t);          /* f32, f64 */
int dtype_is_int(DType t);            /* signed/unsigned integers (not bool) */
int dtype_is_signed(DType t);

/* ---------------------------------------------------------------- tensors (tensor.c) */
/* A dense row-major tensor. `data` is owned (freed by tensor_free) when owns != 0. */
typedef struct Tensor {
    DType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    void *data;
    int owns;
} Tensor;

Tensor *tensor_new(DType t, int rank, const int64_t *dims); /* zero-filled, owned */
Tensor *tensor_wrap(DType t, int rank, const int64_t *dims, void *data); /* borrowed data */
Tensor *tensor_clone(const Tensor *t);
void tensor_free(Tensor *t);                /* NULL ok */
int64_t tensor_numel(const Tensor *t);
size_t tensor_nbytes(const Tensor *t);
int64_t shape_numel(int rank, const int64_t *dims);
/* Element access through double / int64 (any dtype; slow paths and tests). */
double tensor_get_f64(const Tensor *t, int64_t i);
void tensor_set_f64(Tensor *t, int64_t i, double v);
int64_t tensor_get_i64(const Tensor *t, int64_t i);
void tensor_set_i64(Tensor *t, int64_t i, int64_t v);
/* Generic element get/set on raw buffers. */
double elem_get_f64(DType t, const void *p, int64_t i);
void elem_set_f64(DType t, void *p, int64_t i, double v);
int64_t elem_get_i64(DType t, const void *p, int64_t i);
void elem_set_i64(DType t, void *p, int64_t i, int64_t v);
/* Deterministic PRNG (splitmix64): the same stream on every machine. Used for seeded random
 * inputs (ppcrun --random, --check-each) and pruning's synthetic data. */
uint64_t ir_rand_next(uint64_t *state);
/* Row-major strides (in elements) for a shape. */
void shape_strides(int rank, const int64_t *dims, int64_t *strides);
/* Shape to text "1x3x224x224" ("scalar" for rank 0) in buf; returns buf. */
char *shape_str(int rank, const int64_t *dims, char *buf, size_t n);

/* ---------------------------------------------------------------- op table (op.c, ops.def) */
typedef enum OpKind {
#define OP(e, name, mi, ma, mo, mao, sf, ef) OP_##e,
#include "ops.def"
#undef OP
    OP_COUNT
} OpKind;

typedef struct OpInfo {
    const char *name; /* ONNX op_type */
    int min_in, max_in, min_out, max_out; /* max -1: variadic */
} OpInfo;
extern const OpInfo ir_ops[OP_COUNT];
/* ppcc-internal ops (created by passes, not ONNX ops) are the last rows of ops.def. */
#define OP_FIRST_INTERNAL OP_LAYOUT_TRANSFORM
static inline int ir_op_is_internal(OpKind op) { return op >= OP_FIRST_INTERNAL; }
const char *ir_op_name(OpKind op);
int ir_op_from_name(const char *name); /* -1 if unknown */

/* ---------------------------------------------------------------- graph (graph.c) */
typedef enum ValueKind { VAL_INTERMEDIATE = 0, VAL_INPUT, VAL_CONST } ValueKind;

/* Where a value lives at run time in compiled code (set by the plan-memory pass; see
 * docs/codegen.md): the workspace, the user's input/output buffer mem_index, or constant data. */
typedef enum MemKind { MEM_NONE = 0, MEM_WORKSPACE, MEM_INPUT, MEM_OUTPUT, MEM_CONST } MemKind;

/* A tensor of the graph. dims are static (>= 0) once the frontend has fixed symbolic dims. */
typedef struct Value {
    char *name;      /* unique within the graph (arena) */
    DType dtype;     /* DT_UNDEF until shape inference has run */
    int rank;
    int64_t dims[IR_MAX_RANK];
    ValueKind kind;
    void *data;      /* VAL_CONST: numel*dtype_size bytes, row-major, in the arena */
    int producer;    /* index of the producing node, -1 for inputs/consts/unproduced */
    MemKind mem_kind;   /* memory plan (plan-memory pass); MEM_NONE before planning */
    int mem_index;      /* MEM_INPUT/MEM_OUTPUT: which graph input/output buffer */
    int64_t mem_offset; /* byte offset inside that buffer (64-aligned for workspace) */
} Value;

typedef enum AttrKind { ATTR_INT = 0, ATTR_FLOAT, ATTR_STRING, ATTR_INTS, ATTR_FLOATS, ATTR_TENSOR } AttrKind;

typedef struct Attr {
    char *name;
    AttrKind kind;
    int64_t i;        /* ATTR_INT */
    double f;         /* ATTR_FLOAT */
    char *s;          /* ATTR_STRING */
    int n;            /* ATTR_INTS / ATTR_FLOATS: element count */
    int64_t *ints;    /* ATTR_INTS */
    double *floats;   /* ATTR_FLOATS */
    Tensor *t;        /* ATTR_TENSOR: borrowed Tensor whose struct and data are in the arena */
} Attr;

typedef struct Node {
    OpKind op;
    char *name;      /* unique-ish label, from the model (may be ""), arena */
    int n_in;
    int *in;         /* value ids; -1 = optional input absent */
    int n_out;
    int *out;        /* value ids; -1 = optional output not produced */
    int n_attr;
    Attr *attrs;     /* arena */
    int dead;        /* marked for removal by ir_graph_compact */
} Node;

typedef struct Graph {
    char *name;
    Arena *arena;
    Value *values;
    int n_values, cap_values;
    Node *nodes;     /* topological order (ir_graph_toposort restores it) */
    int n_nodes, cap_nodes;
    int *inputs;     /* value ids of graph inputs (kind VAL_INPUT), in order */
    int n_inputs;
    int *outputs;    /* value ids of graph outputs, in order */
    int n_outputs;
    int64_t workspace_size; /* bytes of workspace the memory plan needs (0 before planning) */
} Graph;

Graph *ir_graph_new(const char *name);
void ir_graph_free(Graph *g);
Graph *ir_graph_clone(const Graph *g);

/* Add a value. name NULL or already taken -> a fresh unique name is derived. Returns its id. */
int ir_value_add(Graph *g, const char *name, DType t, int rank, const int64_t *dims);
/* Add a constant; data (numel*size bytes) is copied into the arena. Returns its id. */
int ir_const_add(Graph *g, const char *name, DType t, int rank, const int64_t *dims, const void *data);
/* Make an existing value a constant holding a copy of data (shape/dtype from the value). */
void ir_value_set_const(Graph *g, int vid, const void *data);
int ir_value_find(const Graph *g, const char *name); /* -1 if absent */
/* Rename value vid to <name><suffix>, or <name><suffix>.N with the smallest N >= 1 not taken. */
void ir_value_rename_suffix(Graph *g, int vid, const char *suffix);
int64_t ir_value_numel(const Value *v);
/* A borrowed Tensor view of a value's shape (and data, for constants). */
Tensor ir_value_tensor(const Graph *g, int vid);
void ir_graph_add_input(Graph *g, int vid);  /* marks VAL_INPUT */
void ir_graph_add_output(Graph *g, int vid);

/* Append a node; in/out arrays are copied. Sets producer of each output. Returns the node index. */
int ir_node_add(Graph *g, OpKind op, const char *name, int n_in, const int *in, int n_out, const int *out);
/* Replace the input array of a node (copied into the arena). */
void ir_node_set_inputs(Graph *g, int node, int n_in, const int *in);
/* Replace every use of value `from` (node inputs and graph outputs) by value `to`. */
void ir_graph_replace_uses(Graph *g, int from, int to);
/* Number of node inputs that read value vid (+1 for each graph-output slot). */
int ir_value_use_count(const Graph *g, int vid);
/* Remove nodes with dead != 0, recompute producers. Values stay (ids are stable). */
void ir_graph_compact(Graph *g);
/* Sort nodes topologically (stable). Error if the graph has a cycle. */
int ir_graph_toposort(Graph *g, Diag *d);
/* Mark nodes whose outputs are unused (transitively) as dead and compact. Returns #removed. */
int ir_graph_dce(Graph *g);

/* ---------------------------------------------------------------- attributes (attr.c) */
const Attr *ir_attr_find(const Node *n, const char *name);
int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt);
double ir_attr_float(const Node *n, const char *name, double dflt);
const char *ir_attr_str(const Node *n, const char *name, const char *dflt);
const int64_t *ir_attr_ints(const Node *n, const char *name, int *count); /* NULL if absent */
const double *ir_attr_floats(const Node *n, const char *name, int *count);
const Tensor *ir_attr_tensor(const Node *n, const char *name);
/* Setters replace an existing attribute of the same name. Data is copied into g's arena. */
void ir_node_set_int(Graph *g, int node, const char *name, int64_t v);
void ir_node_set_float(Graph *g, int node, const char *name, double v);
void ir_node_set_str(Graph *g, int node, const char *name, const char *v);
void ir_node_set_ints(Graph *g, int node, const char *name, const int64_t *v, int n);
void ir_node_set_floats(Graph *g, int node, const char *name, const double *v, int n);
void ir_node_set_tensor(Graph *g, int node, const char *name, const Tensor *t);
void ir_node_remove_attr(Graph *g, int node, const char *name);

/* ---------------------------------------------------------------- verifier (verify.c) */
/* Checks: op arity, value ids in range, single definition, inputs defined before use
 * (topological order, hence no cycles), no dangling uses, graph outputs defined, consts have
 * data, every value typed with non-negative dims, and types/shapes agree with a fresh run of
 * shape inference. Returns 0 or -1 with d set (naming the node). */
int ir_verify(const Graph *g, Diag *d);

/* ---------------------------------------------------------------- shape inference (shape*.c) */
/* Infer dtype and shape of the outputs of one node from its inputs (which must be typed).
 * Checks the node's attributes and input types; errors name the node. */
int ir_infer_node(Graph *g, int node, Diag *d);
/* Infer every node in order. */
int ir_infer_shapes(Graph *g, Diag *d);
/* Per-op shape functions (named in ops.def). */
#define OP(e, name, mi, ma, mo, mao, sf, ef) int sf(Graph *g, Node *n, Diag *d);
#include "ops.def"
#undef OP
/* Helpers for shape functions: set output k's type; error prefixed with the node. */
void shape_set_out(Graph *g, Node *n, int k, DType t, int rank, const int64_t *dims);
int node_error(Diag *d, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* numpy broadcast of two shapes; -1 with d set if incompatible. */
int shape_broadcast2(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out);

/* Resolved spatial geometry of a Conv, ConvTranspose or MaxPool/AveragePool/LpPool node
 * (shape_conv.c): defaults, auto_pad, ceil_mode and ConvTranspose's output_shape/output_padding
 * turned into explicit per-axis numbers. Output index o along an axis reads (Conv, pools) input
 * o*stride + t*dilation - pad_begin for kernel tap t; ConvTranspose writes input i to output
 * i*stride + t*dilation - pad_begin. */
typedef struct ConvGeom {
    int nsp;                        /* number of spatial axes: input rank - 2 */
    int64_t in[IR_MAX_RANK];        /* input spatial dims */
    int64_t out[IR_MAX_RANK];       /* output spatial dims (> 0) */
    int64_t kernel[IR_MAX_RANK];
    int64_t stride[IR_MAX_RANK];
    int64_t dilation[IR_MAX_RANK];
    int64_t pad_begin[IR_MAX_RANK]; /* negative only for ConvTranspose with a large output_shape */
    int64_t pad_end[IR_MAX_RANK];
} ConvGeom;
/* Compute the geometry of node n from its input dims (xdims: X, rank >= 3; wdims: W for Conv
 * and ConvTranspose, NULL for pools). Validates the attributes; errors name the node. */
int ir_conv_geometry(const Node *n, int rank, const int64_t *xdims, const int64_t *wdims,
                     ConvGeom *geo, Diag *d);

/* The axes a Reduce* node reduces (shape_norm.c), as a bit mask over an input of rank r (at
 * most IR_MAX_RANK): the "axes" attribute (negative counts from the end), all axes when it is
 * absent or empty, or none with *noop set when noop_with_empty_axes = 1 (the identity). An axis
 * out of range or repeated is an error naming the node. */
int ir_reduce_axes(const Node *n, int r, unsigned *mask, int *noop, Diag *d);

/* ---------------------------------------------------------------- layouts (layout.c) */
/* Channel-blocked layout NCHW16c: logical [N, C, S...] stored as [N, ceil(C/16), S..., 16]. */
#define IR_LAYOUT_BLOCK 16
/* Blocked dims of a plain shape (rank + 1 dims). -1 if rank < 2 or too large. */
int ir_layout_blocked_dims(int rank, const int64_t *dims, int *out_rank, int64_t *out);
/* Convert between plain [N,C,S] and blocked [N,CB,S,16] (S = product of spatial dims); the
 * padded lanes are zeroed when blocking. */
void ir_layout_convert(int to_blocked, size_t elsize, int64_t N, int64_t C, int64_t S, const void *src,
                       void *dst);
/* A node's `layout` attribute: 1 for "NCHW16c", 0 when absent or "NCHW", -1 (d set) otherwise. */
int ir_node_layout(const Node *n, Diag *d);
/* Logical plain dims [N, channels, S...] of a blocked shape [N, CB, S..., 16]; -1 if the shape
 * is not the blocking of a tensor with that many channels. */
int ir_layout_unblocked_dims(int rank, const int64_t *dims, int64_t channels, int *out_rank, int64_t *out);
/* Reference semantics of an op with layout="NCHW16c": inputs k with in_ch[k] > 0 are blocked
 * tensors of in_ch[k] logical channels and are unblocked; outputs k with out_ch[k] > 0 are
 * computed plain by `plain` (the op's plain kernel, same node) and blocked (padded lanes zero);
 * other operands pass through unchanged. */
typedef int (*IrEvalFn)(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d);
int ir_layout_eval_blocked(const Graph *g, const Node *n, Tensor **in, Tensor **out, const int64_t *in_ch,
                           const int64_t *out_ch, IrEvalFn plain, Diag *d);

/* ---------------------------------------------------------------- text printer (print.c) */
enum { IR_PRINT_ELIDE = 1 /* print large constants as a summary (dumps); not parseable */ };
void ir_print(const Graph *g, FILE *f, unsigned flags);
/* Print one node line (as in the graph listing) — used by diagnostics and dumps. */
void ir_print_node(const Graph *g, const Node *n, FILE *f);

/* ---------------------------------------------------------------- text parser (parse.c) */
/* Parse the text IR (grammar in docs/ir.md). Errors carry "line L:C: ...". */
Graph *ir_parse(const char *text, Diag *d);
Graph *ir_parse_file(const char *path, Diag *d);

/* ---------------------------------------------------------------- interpreter (interp*.c) */
/* Per-op kernels (named in ops.def): outputs are allocated by the caller with the inferred
 * shapes and dtypes; kernels fill them. in[k] is NULL for an absent optional input. */
#define OP(e, name, mi, ma, mo, mao, sf, ef) \
    int ef(const Graph *g, const Node *n, Tensor **in, Tensor **out, Diag *d);
#include "ops.def"
#undef OP

/* Called after each node with its outputs; return non-zero to stop the run. */
typedef int (*InterpHook)(void *ctx, const Graph *g, int node, Tensor **out);
typedef struct InterpOptions {
    InterpHook hook;
    void *hook_ctx;
    int keep_all;     /* keep every intermediate alive until the end (for hooks that look back) */
} InterpOptions;

/* Run node `node` of g with given input tensors; allocates outputs (caller frees). */
int interp_node(const Graph *g, int node, Tensor **in, Tensor **out, Diag *d);
/* Run the whole graph. inputs[k] binds g->inputs[k] (dtype and shape must match); outputs[k]
 * receives a newly allocated tensor for g->outputs[k] (caller frees). */
int interp_run(const Graph *g, Tensor *const *inputs, Tensor **outputs, const InterpOptions *opt,
               Diag *d);

/* Dense matrix product of the interpreter (interp_linalg.c), shared by Conv, ConvTranspose, Gemm
 * and MatMul and usable by passes: C[i*ldc + j] += sum_k A[i*lda + k] * B[k*ldb + j] for
 * i < M, j < N, k < K, with products and sums in double (exact products for f32 inputs), so the
 * result is within rounding of a float64 computation. Single-threaded, cache-blocked. */
void interp_gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                     int64_t ldb, double *C, int64_t ldc);
void interp_gemm_f64(int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
                     const double *B, int64_t ldb, double *C, int64_t ldc);

#endif
