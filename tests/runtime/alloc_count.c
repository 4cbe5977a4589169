/* alloc_count.c — malloc-family interposer for the runtime tests (linked only into test_runtime).
 *
 * The executable defines malloc, calloc, realloc, free, posix_memalign, aligned_alloc and
 * memalign; the dynamic linker binds every shared object's calls (libppcrt.so, libffi, libc's own
 * users) to these definitions first. Each forwards to the next definition in lookup order
 * (dlsym(RTLD_NEXT): libc's, or the sanitizer's under ASan), counting calls while counting is on.
 * `-Wl,--wrap=malloc` would not do: it only rewrites calls made from the executable itself.
 * Allocations that happen while dlsym itself is resolving the real functions are served from a
 * small static buffer, which free() recognises and ignores.
 */
#include "alloc_count.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static _Atomic long counter;
static _Atomic int counting;
static int resolving;
static _Alignas(64) char boot[1 << 14];
static size_t boot_used;

static void *boot_alloc(size_t n)
{
    size_t at = (boot_used + 63) & ~(size_t)63;
    if (at + n > sizeof boot) return NULL;
    boot_used = at + n;
    return boot + at;
}

static int in_boot(const void *p)
{
    return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

__attribute__((constructor(101))) static void resolve(void)
{
    if (real_malloc || resolving) return;
    resolving = 1;
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}

static inline void tick(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
    tick();
    if (!real_malloc) {
        if (resolving) return boot_alloc(n);
        resolve();
    }
    return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    tick();
    if (!real_calloc) {
        if (resolving) return boot_alloc(n * size); /* static storage is zeroed */
        resolve();
    }
    return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    tick();
    if (!real_realloc) resolve();
    if (in_boot(p)) { /* move a bootstrap block to the real heap */
        char *q = real_malloc(n);
        size_t avail = (size_t)(boot + sizeof boot - (char *)p);
        for (size_t i = 0; q && i < n && i < avail; i++) q[i] = ((char *)p)[i];
        return q;
    }
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || in_boot(p)) return;
    if (!real_free) resolve();
    real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    tick();
    if (!real_posix_memalign) resolve();
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    tick();
    if (!real_aligned_alloc) resolve();
    return real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n)
{
    tick();
    if (!real_memalign) resolve();
    return real_memalign(align, n);
}

void alloc_count_start(void)
{
    atomic_store(&counter, 0);
    atomic_store(&counting, 1);
}

long alloc_count_stop(void)
{
    atomic_store(&counting, 0);
    return atomic_load(&counter);
}
