/* tool.h — shared pieces of the command-line tools (ppcc, ppcrun) and the test runners:
 * loading a model from .onnx or text .ir, parsing --shape, deterministic random inputs,
 * tensor comparison with ONNX's tolerance rule, and atomic file output.
 */
#ifndef PPCC_TOOL_H
#define PPCC_TOOL_H

#include "frontends/onnx/onnx.h"
#include "ir/ir.h"

/* Parse "NAME=AxBxC" (also "NAME=" for a scalar) into fix; name points into arg. */
int tool_parse_shape(char *arg, OnnxShapeFix *fix, Diag *d);

/* Does the path end in ".ir"? */
int tool_is_ir_path(const char *path);

/* Load a model: text IR (.ir) via the parser (types inferred where omitted, verified) or ONNX
 * via the frontend. d->msg excludes the file name. */
Graph *tool_load_model(const char *path, const OnnxShapeFix *fixes, int n_fixes, Diag *d);

/* A tensor of the given value's type filled with seeded random data: floats uniform in
 * [-1, 1), integers in [0, 4), bools random. */
Tensor *tool_random_tensor(DType t, int rank, const int64_t *dims, uint64_t *state);

/* Compare got against want: same dtype and shape required; floats pass when
 * |got-want| <= atol + rtol*|want| and NaNs match; other dtypes exactly. Returns the number of
 * mismatching elements (or -1 for dtype/shape mismatch) and fills a one-line report. */
typedef struct TensorDiff {
    int64_t n_bad;
    int64_t worst_index;
    double max_abs_err;
    double max_rel_err;
    char msg[256];
} TensorDiff;
int64_t tool_compare(const Tensor *got, const Tensor *want, double rtol, double atol, TensorDiff *out);
/* Relative L2 error ||got - want|| / ||want|| (float tensors). */
double tool_rel_l2(const Tensor *got, const Tensor *want);

/* Write all of `data` to path atomically (temp file + rename). path "-" writes stdout. */
int tool_write_file_atomic(const char *path, const void *data, size_t len, Diag *d);
/* Read a whole file (malloc'ed, NUL-terminated). */
char *tool_read_file(const char *path, size_t *len, Diag *d);
/* mkdir -p */
int tool_mkdirs(const char *path, Diag *d);
/* Monotonic clock in seconds. */
double tool_now(void);

#endif
