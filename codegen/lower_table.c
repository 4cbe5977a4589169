/* lower_table.c — the lowering table: which native kernel handles which IR node, tried in
 * order (see lowering.h). Add one line per lowering function; keep the most specific first. */
#include "codegen/lowering.h"

#define LOWERING(fn) int fn(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);
/* conv kernels (codegen/lower_conv.c) */
LOWERING(cg_lower_conv)
/* pattern-sparse convolution (codegen/lower_pattern.c) */
LOWERING(cg_lower_pattern_pad)
LOWERING(cg_lower_pattern_conv)
/* other kernels (codegen/lower_misc.c) */
LOWERING(lower_misc_gemm)
LOWERING(lower_misc_pool)
LOWERING(lower_misc_global_pool)
LOWERING(lower_misc_unary)
LOWERING(lower_misc_binary)
LOWERING(lower_misc_softmax)
LOWERING(lower_misc_reduce)
LOWERING(lower_misc_layout)
LOWERING(lower_misc_concat)
LOWERING(lower_misc_transpose)
#undef LOWERING

const CgLowering cg_lowerings[] = {
    /* conv kernels (codegen/lower_conv.c) */
    {"conv", cg_lower_conv},
    /* pattern-sparse convolution (codegen/lower_pattern.c) */
    {"pattern_pad", cg_lower_pattern_pad},
    {"pattern_conv", cg_lower_pattern_conv},
    /* other kernels (codegen/lower_misc.c) */
    {"misc_gemm", lower_misc_gemm},
    {"misc_pool", lower_misc_pool},
    {"misc_global_pool", lower_misc_global_pool},
    {"misc_unary", lower_misc_unary},
    {"misc_binary", lower_misc_binary},
    {"misc_softmax", lower_misc_softmax},
    {"misc_reduce", lower_misc_reduce},
    {"misc_layout", lower_misc_layout},
    {"misc_concat", lower_misc_concat},
    {"misc_transpose", lower_misc_transpose},
    {NULL, NULL},
};
