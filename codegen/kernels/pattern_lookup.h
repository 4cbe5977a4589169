/* pattern_lookup.h — kernel name -> function of the natively compiled pattern kernels
 * (pattern.c), for the kernel tests and benchmarks that call them without codegen. */
#ifndef PPCC_KERNELS_PATTERN_LOOKUP_H
#define PPCC_KERNELS_PATTERN_LOOKUP_H

#include <string.h>

#include "pattern.h"

void k_pattern_pad(const void *params, void *const *bufs, int64_t begin, int64_t end);
#define KPAT_DECL(F, R, U) \
    void k_pattern_conv_##F##_##R##_##U(const void *params, void *const *bufs, int64_t begin, int64_t end);
KPAT_TILES(KPAT_DECL)
#undef KPAT_DECL

static inline KPatRangeFn kpat_find_range(const char *name)
{
    if (!strcmp(name, "k_pattern_pad")) return k_pattern_pad;
#define KPAT_FIND(F, R, U) \
    if (!strcmp(name, "k_pattern_conv_" #F "_" #R "_" #U)) return k_pattern_conv_##F##_##R##_##U;
    KPAT_TILES(KPAT_FIND)
#undef KPAT_FIND
    return NULL;
}

#endif
