/* onnx.h — the ONNX frontend: reads .onnx models (protobuf-c bindings generated at build time
 * from Debian's onnx.proto) into ppcc's tensor IR, and reads/writes ONNX TensorProto files (.pb,
 * the format of the ONNX test data and of ppcrun's inputs and outputs).
 *
 * Import lowers every node to its IR op in canonical form (ir/ops.def: shape-determining
 * parameters become attributes), converting older operator versions, fixing symbolic dims from
 * user-given shapes, and folding shape-computing subgraphs to constants as it goes.
 * Messages count dims from 1 ("dim 1" is the first), as a --shape list reads.
 */
#ifndef PPCC_ONNX_H
#define PPCC_ONNX_H

#include "ir/ir.h"

/* A user-fixed input shape (--shape NAME=AxBxC). */
typedef struct OnnxShapeFix {
    const char *name;
    int rank;
    int64_t dims[IR_MAX_RANK];
} OnnxShapeFix;

/* One problem found by `ppcc check` (or the first one, by a plain import). */
typedef struct OnnxProblem {
    char kind[16];  /* "op", "attribute", "dtype", "shape", "model", "value" */
    char node[128]; /* node name ("" if not about a node) */
    char op[64];    /* op_type ("" if not about a node) */
    char msg[512];  /* human-readable, one line */
} OnnxProblem;

/* A graph input bound to a constant at import time (e.g. a conformance test's shape tensor):
 * it becomes a constant of the graph, not an input, so shape-determining uses can fold. */
typedef struct OnnxConstInput {
    const char *name;
    const Tensor *value; /* copied into the graph */
} OnnxConstInput;

typedef struct OnnxImportOptions {
    const OnnxShapeFix *shapes;
    int n_shapes;
    /* Collect every problem instead of stopping at the first (ppcc check). When non-NULL,
     * problems are appended to *problems (malloc'ed array, caller frees) and *n_problems. */
    OnnxProblem **problems;
    int *n_problems;
} OnnxImportOptions;

/* Import a model file. Returns NULL with d set on error ("what, where": node name and op).
 * opt may be NULL. The returned graph is verified, typed and topologically sorted. */
Graph *onnx_import_file(const char *path, const OnnxImportOptions *opt, Diag *d);
/* Same from a memory buffer; base_dir is where external data files are looked up (may be NULL
 * to refuse external data). */
Graph *onnx_import_buffer(const void *buf, size_t len, const char *base_dir,
                          const OnnxImportOptions *opt, Diag *d);

/* onnx_import_file with the named graph inputs bound to constants first (e.g. a conformance
 * test's shape tensors): they become constants, not inputs, so shape-determining uses fold.
 * The tensors are copied; a dtype different from the input's declared one is an error. */
Graph *onnx_import_file_consts(const char *path, const OnnxImportOptions *opt,
                               const OnnxConstInput *consts, int n_consts, Diag *d);

/* TensorProto files. read: *out newly allocated; *name (malloc'ed, may be "") if name != NULL. */
int onnx_tensor_read_file(const char *path, Tensor **out, char **name, Diag *d);
int onnx_tensor_read_buffer(const void *buf, size_t len, Tensor **out, char **name, Diag *d);
/* write atomically (temp file + rename): never leaves a half-written file. */
int onnx_tensor_write_file(const char *path, const Tensor *t, const char *name, Diag *d);

/* Writing a model back with new data for some tensors (save.c; ppcc --save-pruned). */
typedef struct OnnxReplacement {
    const char *name; /* an initializer, or the output of a Constant node, of the top-level graph */
    const Tensor *t;  /* f32, same element count as the model's tensor */
} OnnxReplacement;
/* Re-read the model file src and write it to dst (atomically) with the data of the named
 * tensors replaced (as raw_data); everything else stays as it was. Checks every replacement
 * before writing; models with external data are refused. */
int onnx_save_replaced(const char *src, const char *dst, const OnnxReplacement *rep, int n, Diag *d);

#endif
