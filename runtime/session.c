/* session.c — sessions: a thread pool and a workspace bound to one loaded model, and the run call.
 *
 * Everything a run needs is set up by ppcrt_session_create, so ppcrt_session_run only checks its
 * arguments, marks the session busy, calls the model's run entry point with the session's
 * PpcHost and workspace, and clears the mark: no allocation, no lock. The busy flag turns the
 * documented misuse "two threads run one session at once" into PPCRT_ERR_BUSY instead of a data
 * race on the workspace.
 */
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime/rt.h"

#define WORKSPACE_ALIGN 64

/* Threads the process may run on: its CPU affinity mask, else the online CPU count. */
static int usable_cpus(void)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)(c < PPCRT_MAX_THREADS ? c : PPCRT_MAX_THREADS) : 1;
    }
    return n < PPCRT_MAX_THREADS ? n : PPCRT_MAX_THREADS;
}

PPCRT_API int ppcrt_session_create(PpcrtModel *model, const PpcrtSessionOptions *opt,
                                   PpcrtSession **out)
{
    if (out) *out = NULL;
    if (!model || !out)
        return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_session_create: NULL %s", model ? "out" : "model");
    PpcrtSessionOptions o = {0};
    if (opt) o = *opt;
    if (o.n_threads < 0 || o.n_threads > PPCRT_MAX_THREADS)
        return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_session_create: n_threads %d (must be 0..%d)",
                          o.n_threads, PPCRT_MAX_THREADS);
    int n_threads = o.n_threads ? o.n_threads : usable_cpus();
    uint64_t need = model->desc->workspace_size;
    if (o.workspace) {
        if ((uintptr_t)o.workspace % WORKSPACE_ALIGN != 0)
            return ppcrt_fail(PPCRT_ERR_ARG,
                              "ppcrt_session_create: workspace %p is not %d-byte aligned",
                              o.workspace, WORKSPACE_ALIGN);
        if ((uint64_t)o.workspace_size < need)
            return ppcrt_fail(PPCRT_ERR_ARG,
                              "ppcrt_session_create: workspace of %zu bytes, the model needs %llu",
                              o.workspace_size, (unsigned long long)need);
    }

    PpcrtSession *s = calloc(1, sizeof *s);
    if (!s) return ppcrt_fail(PPCRT_ERR_NOMEM, "out of memory");
    atomic_flag_clear(&s->busy);
    if (o.workspace) {
        s->workspace = o.workspace;
    } else {
        /* Always a real, aligned block (64 bytes at least) so generated code never sees NULL. */
        if (need > SIZE_MAX - WORKSPACE_ALIGN) {
            free(s);
            return ppcrt_fail(PPCRT_ERR_NOMEM, "workspace of %llu bytes is too large",
                              (unsigned long long)need);
        }
        size_t size = need ? (size_t)need : 1;
        size = (size + WORKSPACE_ALIGN - 1) / WORKSPACE_ALIGN * WORKSPACE_ALIGN;
        s->workspace = aligned_alloc(WORKSPACE_ALIGN, size);
        if (!s->workspace) {
            free(s);
            return ppcrt_fail(PPCRT_ERR_NOMEM, "cannot allocate a workspace of %zu bytes", size);
        }
        s->own_workspace = 1;
    }
    int st = ppcrt_pool_create(n_threads, &s->pool);
    if (st) {
        if (s->own_workspace) free(s->workspace);
        free(s);
        return ppcrt_fail(st, "cannot start %d worker threads", n_threads - 1);
    }
    s->host = (PpcHost){.parallel_for = ppcrt_pool_parallel_for, .pool = s->pool,
                        .n_threads = n_threads};
    atomic_fetch_add(&model->refs, 1);
    s->model = model;
    *out = s;
    return PPCRT_OK;
}

/* Check that every buffer of a list is there (a 0-byte one may be NULL). */
static int buffers_check(void *const *bufs, const PpcTensorDesc *ts, int n, const char *what)
{
    if (n == 0) return PPCRT_OK;
    if (!bufs) return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_session_run: NULL %s array", what);
    for (int k = 0; k < n; k++)
        if (!bufs[k] && ts[k].nbytes != 0)
            return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_session_run: %s %d ('%s') is NULL", what, k,
                              ts[k].name);
    return PPCRT_OK;
}

PPCRT_API int ppcrt_session_run(PpcrtSession *s, const void *const *inputs, void *const *outputs)
{
    if (!s) return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_session_run: NULL session");
    const PpcModelDesc *d = s->model->desc;
    /* The model's run takes `void *const *` for inputs but only reads them. */
    void *const *in = (void *const *)inputs;
    int st = buffers_check(in, d->inputs, d->n_inputs, "input");
    if (!st) st = buffers_check(outputs, d->outputs, d->n_outputs, "output");
    if (st) return st;
    if (atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire))
        return ppcrt_fail(PPCRT_ERR_BUSY,
                          "ppcrt_session_run: the session is running on another thread");
    int32_t rc = d->run(&s->host, in, outputs, s->workspace);
    atomic_flag_clear_explicit(&s->busy, memory_order_release);
    if (rc != 0)
        return ppcrt_fail(PPCRT_ERR_RUN, "the model's run entry point returned %d", (int)rc);
    return PPCRT_OK;
}

PPCRT_API void ppcrt_session_free(PpcrtSession *s)
{
    if (!s) return;
    ppcrt_pool_free(s->pool);
    if (s->own_workspace) free(s->workspace);
    PpcrtModel *m = s->model;
    free(s);
    ppcrt_model_release(m);
}

PPCRT_API int ppcrt_session_num_threads(const PpcrtSession *s) { return s ? s->host.n_threads : 0; }
