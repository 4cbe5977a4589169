/* tune.c — ppcc --tune: the timing hook of the pattern-group pass's schedule search
 * (PassContext.pattern_time, passes/passes.h). The candidates of one layer (small graphs: the
 * layer alone, one per schedule) are compiled like the model (same target, -O2, the same
 * fallback library), loaded through libppcrt in this process and run with one thread on seeded
 * random inputs: 3 warm-up runs each, then TUNE_ROUNDS rounds in which every candidate runs once
 * untimed and TUNE_BATCH times timed, the candidates' order reversed every other round. A
 * candidate's time is the median of its timed runs. Interleaving matters on a host whose speed
 * drifts: timed one after the other, a candidate measured in a slow minute loses to a worse one
 * measured in a fast minute (seen here: the dense kernel chosen for layers where the sparse one
 * is 1.4x faster). The .so files go to a private temporary directory removed at the end.
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
#define TUNE_ROUNDS 5
#define TUNE_BATCH 3 /* 15 timed runs per candidate */

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

typedef struct TuneCand {
    char path[600];
    PpcrtModel *m;
    PpcrtSession *s;
    void **in, **out;
    int ni, no;
    double times[TUNE_ROUNDS * TUNE_BATCH];
} TuneCand;

/* Compile g into c->path, load it, make a one-thread session and its inputs and outputs. */
static int cand_open(TuneCtx *t, const Graph *g, TuneCand *c, Diag *d)
{
    snprintf(c->path, sizeof c->path, "%s/layer%d.so", t->dir, t->count++);
    CgOptions co;
    memset(&co, 0, sizeof co);
    co.emit = CG_EMIT_SO;
    co.target = t->td;
    co.opt_level = 2;
    co.fallback_lib = t->fallback;
    co.producer = "ppcc --tune";
    co.pattern_band_bytes = t->band_bytes;
    co.no_winograd = t->no_winograd;
    if (cg_compile(g, &co, c->path, d)) return -1;
    PpcrtSessionOptions so = {.n_threads = 1};
    if (ppcrt_model_load(c->path, &c->m) || ppcrt_session_create(c->m, &so, &c->s))
        return diag_error(d, "--tune: cannot run a candidate: %s", ppcrt_last_error());
    c->ni = ppcrt_model_num_inputs(c->m), c->no = ppcrt_model_num_outputs(c->m);
    c->in = xcalloc((size_t)c->ni + 1, sizeof *c->in), c->out = xcalloc((size_t)c->no + 1, sizeof *c->out);
    uint64_t seed = 12345;
    for (int k = 0; k < c->ni; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_input_info(c->m, k, &ti);
        c->in[k] = xmalloc(ti.nbytes ? ti.nbytes : 1);
        Tensor *x = tensor_wrap(DT_F32, ti.rank, ti.dims, c->in[k]); /* candidates take f32 inputs */
        pass_random_fill(x, &seed);
        tensor_free(x);
    }
    for (int k = 0; k < c->no; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_output_info(c->m, k, &ti);
        c->out[k] = xmalloc(ti.nbytes ? ti.nbytes : 1);
    }
    return 0;
}

static void cand_close(TuneCand *c)
{
    for (int k = 0; c->in && k < c->ni; k++) free(c->in[k]);
    for (int k = 0; c->out && k < c->no; k++) free(c->out[k]);
    free(c->in), free(c->out);
    ppcrt_session_free(c->s);
    ppcrt_model_free(c->m);
    if (c->path[0]) unlink(c->path);
}

static int cand_run(TuneCand *c, Diag *d)
{
    if (ppcrt_session_run(c->s, (const void *const *)c->in, c->out))
        return diag_error(d, "--tune: a candidate failed to run: %s", ppcrt_last_error());
    return 0;
}

int tune_time_graphs(void *ctx, const Graph *const *gs, int n, double *ms, Diag *d)
{
    TuneCtx *t = ctx;
    TuneCand *c = xcalloc((size_t)n, sizeof *c);
    int rc = -1;
    for (int k = 0; k < n; k++)
        if (cand_open(t, gs[k], &c[k], d)) goto out;
    for (int k = 0; k < n; k++)
        for (int r = 0; r < TUNE_WARMUP; r++)
            if (cand_run(&c[k], d)) goto out;
    for (int r = 0; r < TUNE_ROUNDS; r++)
        for (int j = 0; j < n; j++) {
            TuneCand *cj = &c[r & 1 ? n - 1 - j : j];
            if (cand_run(cj, d)) goto out; /* untimed: the previous candidate had the caches */
            for (int b = 0; b < TUNE_BATCH; b++) {
                double t0 = tune_now_ms();
                if (cand_run(cj, d)) goto out;
                cj->times[r * TUNE_BATCH + b] = tune_now_ms() - t0;
            }
        }
    for (int k = 0; k < n; k++) {
        qsort(c[k].times, TUNE_ROUNDS * TUNE_BATCH, sizeof c[k].times[0], cmp_double);
        ms[k] = c[k].times[TUNE_ROUNDS * TUNE_BATCH / 2];
    }
    rc = 0;
out:
    for (int k = 0; k < n; k++) cand_close(&c[k]);
    free(c);
    return rc;
}
