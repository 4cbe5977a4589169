/* tune.c — ppcc --tune: the timing hook of the pattern-group pass's schedule search
 * (PassContext.pattern_time, passes/passes.h). A candidate is a small graph (one layer); it is
 * compiled like the model (same target, -O2, the same fallback library), loaded through
 * libppcrt in this process, run with one thread on seeded random inputs (3 warm-up runs, then
 * the median of 15), and deleted. Files go to a private temporary directory removed at the end.
 */
#include "compiler/tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "passes/passes.h"
#include "runtime/ppcrt.h"

#define TUNE_WARMUP 3
#define TUNE_RUNS 15

static double tune_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int tune_init(TuneCtx *t, const CgTargetDesc *td, const char *fallback, Diag *d)
{
    memset(t, 0, sizeof *t);
    t->td = td;
    t->fallback = fallback;
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/ppcc-tune-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t->dir)) return diag_error(d, "--tune: cannot create a temporary directory in %s", tmp ? tmp : "/tmp");
    return 0;
}

void tune_fini(TuneCtx *t)
{
    if (t->dir[0]) rmdir(t->dir);
    t->dir[0] = 0;
}

int tune_time_graph(void *ctx, const Graph *g, double *ms, Diag *d)
{
    TuneCtx *t = ctx;
    char path[600];
    snprintf(path, sizeof path, "%s/layer%d.so", t->dir, t->count++);
    CgOptions co;
    memset(&co, 0, sizeof co);
    co.emit = CG_EMIT_SO;
    co.target = t->td;
    co.opt_level = 2;
    co.fallback_lib = t->fallback;
    co.producer = "ppcc --tune";
    if (cg_compile(g, &co, path, d)) return -1;
    PpcrtModel *m = NULL;
    PpcrtSession *s = NULL;
    int rc = -1, st = ppcrt_model_load(path, &m);
    int ni = m ? ppcrt_model_num_inputs(m) : 0, no = m ? ppcrt_model_num_outputs(m) : 0;
    void **in = calloc((size_t)ni + 1, sizeof *in), **out = calloc((size_t)no + 1, sizeof *out);
    double times[TUNE_RUNS];
    PpcrtSessionOptions so = {.n_threads = 1};
    if (st || !in || !out || ppcrt_session_create(m, &so, &s)) {
        diag_error(d, "--tune: cannot run a candidate: %s", ppcrt_last_error());
        goto out;
    }
    uint64_t seed = 12345;
    for (int k = 0; k < ni; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_input_info(m, k, &ti);
        if (!(in[k] = malloc(ti.nbytes ? ti.nbytes : 1))) goto out;
        Tensor *t = tensor_wrap(DT_F32, ti.rank, ti.dims, in[k]); /* candidates take f32 inputs */
        pass_random_fill(t, &seed);
        tensor_free(t);
    }
    for (int k = 0; k < no; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_output_info(m, k, &ti);
        if (!(out[k] = malloc(ti.nbytes ? ti.nbytes : 1))) goto out;
    }
    for (int r = 0; r < TUNE_WARMUP + TUNE_RUNS; r++) {
        double t0 = tune_now_ms();
        if (ppcrt_session_run(s, (const void *const *)in, out)) {
            diag_error(d, "--tune: a candidate failed to run: %s", ppcrt_last_error());
            goto out;
        }
        if (r >= TUNE_WARMUP) times[r - TUNE_WARMUP] = tune_now_ms() - t0;
    }
    qsort(times, TUNE_RUNS, sizeof times[0], cmp_double);
    *ms = times[TUNE_RUNS / 2];
    rc = 0;
out:
    for (int k = 0; in && k < ni; k++) free(in[k]);
    for (int k = 0; out && k < no; k++) free(out[k]);
    free(in), free(out);
    ppcrt_session_free(s);
    ppcrt_model_free(m);
    unlink(path);
    return rc;
}
