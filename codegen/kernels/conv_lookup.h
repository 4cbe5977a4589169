/* conv_lookup.h — find an exported conv kernel instance (conv.c) by the name a lowering puts in
 * CgKernelCall.range_fn. For native programs that call the kernels directly (the kernel tests
 * and bench/conv_bench.c); generated code resolves the names through the LLVM module instead.
 */
#ifndef PPCC_CONV_LOOKUP_H
#define PPCC_CONV_LOOKUP_H

#include <stdint.h>
#include <string.h>

#include "codegen/kernels/conv.h"
#include "codegen/kernels/conv_dw.h"
#include "codegen/kernels/conv_wino.h"
#include "codegen/kernels/conv_swino.h"

typedef void (*KConvRangeFn)(const void *, void *const *, int64_t, int64_t);

/* The instance called `name`, or NULL. */
static inline KConvRangeFn kconv_find_range(const char *name)
{
    static const struct {
        const char *name;
        KConvRangeFn fn;
    } fns[] = {
#define CONV_FN(OC, T, CLS, ICI, PS) {"kx_conv_" #CLS "_" #OC "x" #T "_range", kx_conv_##CLS##_##OC##x##T##_range},
#define CONV_CLASS(CLS, ICI, PS) KCONV_SHAPES(CONV_FN, CLS, ICI, PS)
        KCONV_CLASSES(CONV_CLASS)
#undef CONV_CLASS
#undef CONV_FN
#define DW_FN(T, CLS, PS, KW) {"kx_dwconv_" #CLS "_" #T "_range", kx_dwconv_##CLS##_##T##_range},
#define DW_CLASS(CLS, PS, KW) KDW_SHAPES(DW_FN, CLS, PS, KW)
        KDW_CLASSES(DW_CLASS)
#undef DW_CLASS
#undef DW_FN
#define WINO_FN(OGB, SFX, PF, WM) {"kx_wino_" #OGB #SFX "_range", kx_wino_##OGB##SFX##_range},
        KWINO_INSTANCES(WINO_FN)
#undef WINO_FN
        {"kx_swino_range", kx_swino_range},
    };
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++)
        if (!strcmp(fns[k].name, name)) return fns[k].fn;
    return NULL;
}

#endif
