/* misc.c — exported, non-inline wrappers of the non-convolution kernels (misc_*.h): the
 * functions named by lower_misc.c's range_fn, found in the kernel bitcode by codegen (which
 * inlines them into each layer's task and specialises them on the constant parameters), and
 * called directly by the kernel tests. Freestanding: no libc headers.
 */
/* GCC reports the (irrelevant, see misc_common.h) vector ABI warning at the end of the file. */
#pragma GCC diagnostic ignored "-Wpsabi"

#include "misc.h"
#include "misc_copy.h"
#include "misc_eltwise.h"
#include "misc_gemm.h"
#include "misc_pool.h"
#include "misc_reduce.h"
#include "misc_softmax.h"

#define KM_WRAP(name)                                                               \
    void name(const void *params, void *const *bufs, int64_t begin, int64_t end)    \
    {                                                                               \
        name##_range(params, bufs, begin, end);                                     \
    }

KM_WRAP(k_gemm)
KM_WRAP(k_pool)
KM_WRAP(k_global_pool)
KM_WRAP(k_unary)
KM_WRAP(k_binary)
KM_WRAP(k_softmax)
KM_WRAP(k_layout)
KM_WRAP(k_concat)
KM_WRAP(k_transpose)
KM_WRAP(k_reduce)
