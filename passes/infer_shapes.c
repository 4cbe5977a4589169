/* infer_shapes.c — pass "infer-shapes": (re)infers the dtype and static shape of every value
 * from the graph inputs and constants, node by node in topological order (ir_infer_shapes).
 * Errors name the node whose inputs or attributes do not fit.
 */
#include "passes/passes.h"

int pass_infer_shapes(Graph *g, PassContext *ctx, Diag *d) { return ir_infer_shapes(g, d); }
