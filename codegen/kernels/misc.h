/* misc.h — the exported entry points of the non-convolution native kernels (misc.c), one per
 * kernel, with the uniform range signature of codegen/lowering.h:
 *     void fn(const void *params, void *const *bufs, int64_t begin, int64_t end);
 * Their names are what lower_misc.c puts in CgKernelCall.range_fn; the kernel tests call them
 * directly. The parameter structs and the inline bodies are in misc_*.h.
 */
#ifndef PPCC_KERNELS_MISC_H
#define PPCC_KERNELS_MISC_H

#include <stdint.h>

void k_gemm(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_pool(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_global_pool(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_unary(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_binary(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_softmax(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_layout(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_concat(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_transpose(const void *params, void *const *bufs, int64_t begin, int64_t end);
void k_reduce(const void *params, void *const *bufs, int64_t begin, int64_t end);

#endif
