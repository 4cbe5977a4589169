/* conv.c — the exported, non-inline wrappers of the convolution kernels (conv.h): the functions
 * lower_conv.c names in range_fn, found in the kernel bitcode by codegen (which inlines them
 * into each layer's task and specialises them on the layer's constant parameters), and called
 * directly by the kernel tests and benchmarks. Freestanding: no libc headers.
 */
#pragma GCC diagnostic ignored "-Wpsabi"

#include "conv.h"
#include "conv_dw.h"
#include "conv_wino.h"
#include "conv_swino.h"

#define KCONV_WRAP(OC, T, CLS, ICI, PS)                                                           \
    void kx_conv_##CLS##_##OC##x##T##_range(const void *params, void *const *bufs, int64_t begin, \
                                            int64_t end)                                         \
    {                                                                                             \
        k_conv_##CLS##_##OC##x##T##_range(params, bufs, begin, end);                             \
    }
#define KCONV_WRAP_CLASS(CLS, ICI, PS) KCONV_SHAPES(KCONV_WRAP, CLS, ICI, PS)
KCONV_CLASSES(KCONV_WRAP_CLASS)

#define KDW_WRAP(T, CLS, PS, KW)                                                                              \
    void kx_dwconv_##CLS##_##T##_range(const void *params, void *const *bufs, int64_t begin, int64_t end) \
    {                                                                                                     \
        k_dwconv_##CLS##_##T##_range(params, bufs, begin, end);                                          \
    }
#define KDW_WRAP_CLASS(CLS, PS, KW) KDW_SHAPES(KDW_WRAP, CLS, PS, KW)
KDW_CLASSES(KDW_WRAP_CLASS)

#define KWINO_WRAP(OGB, SFX, PF, WM)                                                               \
    void kx_wino_##OGB##SFX##_range(const void *params, void *const *bufs, int64_t begin, int64_t end) \
    {                                                                                             \
        k_wino_##OGB##SFX##_range(params, bufs, begin, end);                                      \
    }
KWINO_INSTANCES(KWINO_WRAP)

void kx_swino_range(const void *params, void *const *bufs, int64_t begin, int64_t end)
{
    k_swino_range(params, bufs, begin, end);
}
