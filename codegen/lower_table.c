/* lower_table.c — the lowering table: which native kernel handles which IR node, tried in
 * order (see lowering.h). Add one line per lowering function; keep the most specific first. */
#include "codegen/lowering.h"

#define LOWERING(fn) int fn(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);
/* conv kernels (codegen/lower_conv.c) */
/* other kernels (codegen/lower_misc.c) */
#undef LOWERING

const CgLowering cg_lowerings[] = {
    {NULL, NULL},
};
