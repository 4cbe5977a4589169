/* onnx_internal.h — private interfaces between the ONNX frontend's files (not for users of the
 * frontend; they include onnx.h).
 *
 * Sections: string map (strmap.c) | protobuf-c allocator (pbmem.c) | TensorProto decoding
 * (tensor_proto.c) | import context and problems (problem.c) | ONNX attributes (attr.c) |
 * lowering driver (lower.c) | per-op conversions (lower_ops.c).
 */
#ifndef PPCC_ONNX_INTERNAL_H
#define PPCC_ONNX_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "frontends/onnx/onnx.h"
#include "onnx.pb-c.h"

/* ---------------------------------------------------------------- string map (strmap.c) */
/* Open-addressing hash map from strings (copied) to ints. */
typedef struct StrMap {
    char **keys;
    int *vals;
    size_t cap, n;
} StrMap;

void strmap_init(StrMap *m);
void strmap_free(StrMap *m);
/* Insert or overwrite. */
void strmap_put(StrMap *m, const char *key, int val);
/* 1 and *val set if present, else 0. */
int strmap_get(const StrMap *m, const char *key, int *val);

/* ---------------------------------------------------------------- protobuf-c allocator (pbmem.c) */
/* An allocator for protobuf_c_message_unpack that puts large blocks (tensor payloads) straight
 * into a graph arena, so initializer data is copied once (file -> arena) and then adopted by the
 * graph. Small blocks come from the heap. Free the unpacked message before the arena. */
void pbmem_init(ProtobufCAllocator *al, Arena *arena);
/* Is p (a block returned by an allocator made with pbmem_init for `arena`) inside that arena? */
int pbmem_in_arena(const void *p, const Arena *arena);

/* ---------------------------------------------------------------- TensorProto (tensor_proto.c) */
/* A decoded TensorProto. data: numel * dtype_size bytes, row-major, host byte order. */
typedef struct OnnxTensorData {
    DType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    void *data;
} OnnxTensorData;

/* Decode tp. what names the tensor in errors ("initializer 'w'"). With arena non-NULL the data
 * lives in that arena (raw payloads unpacked through pbmem_init(arena) are adopted without a copy);
 * else it is malloc'ed (caller frees). base_dir: folder for external data (NULL refuses it).
 * On error returns -1 with d set and *kind = "dtype" (unsupported element type) or "model". */
int onnx_tensor_decode(const Onnx__TensorProto *tp, Arena *arena, const char *base_dir,
                       const char *what, OnnxTensorData *out, const char **kind, Diag *d);
/* The name of an ONNX data type code ("float16", ...). */
const char *onnx_dtype_name(int code);

/* ---------------------------------------------------------------- context, problems (problem.c) */
enum { ONNX_UNDEF = -1, ONNX_FAILED = -2 }; /* special values in OnnxCtx.names */

typedef struct OnnxCtx {
    Graph *g;
    Diag *d;
    const OnnxImportOptions *opt;
    const OnnxConstInput *consts; /* graph inputs bound to constants */
    int n_consts;
    const char *base_dir;         /* external data folder, NULL = refuse */
    const Onnx__GraphProto *gp;
    int64_t opset;                /* version of the default domain ("" / "ai.onnx") */
    StrMap names;                 /* ONNX tensor name -> IR value id, or ONNX_FAILED */
    StrMap reserved;              /* every ONNX tensor name (helper values avoid them) */
    StrMap graph_outputs;         /* ONNX graph output names */
    StrMap uses;                  /* ONNX tensor name -> number of node inputs reading it */
    int collect;                  /* record every problem (opt->problems) instead of stopping */
    int n_problems;
    char first_problem[512];
    char fold_error[512];         /* why the last forced fold failed ("" if none) */
    unsigned tmp_counter;
} OnnxCtx;

/* Record a problem (kind: "op", "attribute", "dtype", "shape", "model", "value"; node/op may be
 * NULL). In stop mode the first problem goes to c->d. Always returns -1. */
int onnx_problem(OnnxCtx *c, const char *kind, const char *node, const char *op, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
/* Should the import stop now (stop mode and a problem was recorded)? */
int onnx_should_stop(const OnnxCtx *c);

/* ---------------------------------------------------------------- ONNX attributes (attr.c) */
typedef Onnx__AttributeProto OnnxAttr;

const OnnxAttr *onnx_attr_find(const Onnx__NodeProto *p, const char *name);
/* The attribute's type (inferred from the set fields for old models without `type`). */
int onnx_attr_type(const OnnxAttr *a);
int64_t onnx_attr_int(const Onnx__NodeProto *p, const char *name, int64_t dflt);
double onnx_attr_float(const Onnx__NodeProto *p, const char *name, double dflt);
/* String attribute (or dflt when absent) copied into buf, truncated to n-1 bytes; returns buf
 * (NULL if absent and dflt is NULL). */
const char *onnx_attr_str(const Onnx__NodeProto *p, const char *name, const char *dflt, char *buf,
                          size_t n);
/* INTS attribute: count (or -1 if absent) and the values (borrowed). */
int onnx_attr_ints(const Onnx__NodeProto *p, const char *name, const int64_t **v);

/* ---------------------------------------------------------------- lowering (lower.c) */
/* One ONNX node being lowered. */
typedef struct OnnxNode {
    OnnxCtx *c;
    const Onnx__NodeProto *p;
    const char *name;  /* node name, or its first output's name if unnamed */
    const char *op;    /* op_type */
    int64_t opset;
    int n_in;
    int *in;           /* IR value ids, -1 for absent ("" or missing) */
    int n_out;
} OnnxNode;

/* Lower the ONNX graph c->gp into c->g (graph inputs and initializers already bound in
 * c->names). Returns 0, or -1 when problems were recorded. */
int onnx_lower_graph(OnnxCtx *c);

/* Number of inputs the ONNX node has (trailing "" count as absent). */
static inline int onnx_has_input(const OnnxNode *N, int k) { return k < N->n_in && N->in[k] >= 0; }
/* Value id for ONNX output k (created on first use, named after the ONNX output); -1 if the
 * node has no such output or its name is "". */
int onnx_out(OnnxNode *N, int k);
/* Is ONNX output k present and used by some node or graph output? */
int onnx_out_used(OnnxNode *N, int k);
/* Make ONNX output k refer to existing value vid (no node). Not for graph outputs. */
void onnx_alias(OnnxNode *N, int k, int vid);
/* A fresh intermediate value named after the node. */
int onnx_tmp(OnnxNode *N, const char *suffix);
/* Add an IR node (suffix NULL: named as the ONNX node; else "name/suffix"). Returns its index;
 * set attributes, then call onnx_finish. */
int onnx_emit(OnnxNode *N, OpKind op, const char *suffix, int n_in, const int *in, int n_out,
              const int *out);
/* Infer the node's types and fold it to constants when possible. 0 or -1 (problem recorded). */
int onnx_finish(OnnxNode *N, int node);
/* Copy the ONNX attribute a to IR node `node` under name as (NULL = same name). -1 on an
 * unsupported attribute type (problem recorded). */
int onnx_copy_attr(OnnxNode *N, int node, const OnnxAttr *a, const char *as);
/* Input k as a constant: 1 with *t set (borrowed view), 0 if absent, -1 if not constant (a
 * "value" problem naming `what` is recorded). */
int onnx_const_input(OnnxNode *N, int k, const char *what, Tensor *t);
/* Record a problem about this node. */
int onnx_node_problem(OnnxNode *N, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a constant value (data copied) named after the node. */
int onnx_const(OnnxNode *N, const char *suffix, DType t, int rank, const int64_t *dims,
               const void *data);
/* Turn ONNX output k into a constant holding data (copied). */
void onnx_out_const(OnnxNode *N, int k, DType t, int rank, const int64_t *dims, const void *data);
/* Shape of value vid. */
const Value *onnx_val(OnnxNode *N, int vid);

/* ---------------------------------------------------------------- per-op conversions (lower_ops.c) */
typedef struct OnnxOpRule OnnxOpRule;
typedef int (*OnnxLowerFn)(OnnxNode *N, const OnnxOpRule *r);
struct OnnxOpRule {
    const char *onnx;     /* op_type */
    int op;               /* IR op, or -1 (handler decides) */
    const char *pass;     /* attributes copied unchanged, comma-separated */
    const char *handled;  /* attributes the handler reads (not copied) */
    OnnxLowerFn lower;    /* NULL: generic 1:1 lowering */
};
/* The rule for op_type, or NULL if unsupported. */
const OnnxOpRule *onnx_rule_find(const char *op_type);
/* Lower N with rule r (after attribute checks). 0 or -1 (problem recorded). */
int onnx_rule_lower(OnnxNode *N, const OnnxOpRule *r);
/* Is attribute name listed in the comma-separated list? */
int onnx_name_in_list(const char *list, const char *name);

/* Helpers shared by the handlers (lower_ops.c). */
/* Add the rule's IR node with the given inputs and ONNX outputs 0..n_out-1 (absent outputs get
 * a fresh value when keep_all), copying the rule's pass-through attributes. */
int onnx_emit_main(OnnxNode *N, const OnnxOpRule *r, int n_in, const int *in, int n_out, int keep_all);
/* Constant input k as int64s / doubles (malloc'ed *v, count *n): 1 ok, 0 absent, -1 problem. */
int onnx_in_ints(OnnxNode *N, int k, const char *what, int64_t **v, int *n);
int onnx_in_floats(OnnxNode *N, int k, const char *what, double **v, int *n);
/* Constant scalar (one-element) input k: 1 ok, 0 absent, -1 problem. */
int onnx_in_scalar(OnnxNode *N, int k, const char *what, double *x);
/* Rank/dims of input k (which is present). */
const Value *onnx_in_val(OnnxNode *N, int k);

/* Handlers of data-movement ops whose ONNX inputs become attributes (lower_shape.c). */
int onnx_lower_reshape(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_squeeze(OnnxNode *N, const OnnxOpRule *r);   /* Squeeze and Unsqueeze */
int onnx_lower_concat(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_split(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_slice(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_pad(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_constant_of_shape(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_expand(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_tile(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_range(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_one_hot(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_cumsum(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_trilu(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_topk(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_resize(OnnxNode *N, const OnnxOpRule *r);
int onnx_lower_upsample(OnnxNode *N, const OnnxOpRule *r);

#endif
