/* pattern.c — exported instances of the pattern-sparse convolution kernels (pattern.h): one
 * range function per compiled tile (pattern_plan.h KPAT_TILES), k_pattern_conv_<flat>_<R>_<U>,
 * and k_pattern_pad; found by name in the kernel bitcode by codegen (codegen/lower_pattern.c)
 * and called directly by the kernel tests. Freestanding: no libc headers.
 */
#pragma GCC diagnostic ignored "-Wpsabi"

#include "pattern.h"

void k_pattern_pad(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_pattern_pad(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    kpat_pad_range(params, bufs, begin, end);
}

#define KPAT_INSTANCE(F, R, U)                                                                    \
    void k_pattern_conv_##F##_##R##_##U(const void *params, void *const *bufs, int64_t begin, int64_t end); \
    void k_pattern_conv_##F##_##R##_##U(const void *params, void *const *bufs, int64_t begin, int64_t end)  \
    {                                                                                             \
        const KPatParams *p = params;                                                             \
        for (int64_t it = begin; it < end; it++) kpat_conv_item(p, bufs, it, F, R, U);             \
    }
KPAT_TILES(KPAT_INSTANCE)
#undef KPAT_INSTANCE
