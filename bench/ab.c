/* ab.c — A/B timing of compiled models (ppcc .so files) in one process, for deciding whether a
 * code change is faster on a machine whose speed drifts (a shared or virtual host: here a
 * median can move by 30% within minutes, so two separate `ppcrun --bench` runs compare the
 * machine's moods, not the builds).
 *
 *   ab [--threads N] [--rounds R] [--batch B] [--seed S] [--layers] MODEL.so MODEL.so...
 *
 * Every model gets its own session (N threads) and seeded random inputs in [-1, 1). After 5
 * warm-up runs each, R rounds; in each round every model runs one untimed run and then B timed
 * runs, the models' order reversed every other round, so no model always follows the same one.
 * Printed per model: the median, 10th percentile and minimum of all R*B runs, and the median
 * over the rounds of (this model's round median / the first model's round median) — the paired
 * ratio, which cancels drifts slower than a round. Exit status 1 on a load or run error.
 *
 * --layers: the models must be compiled with `ppcc --debug-layers` from the same graph (same
 * layers in the same order); after one run layer by layer (which fills every layer's inputs
 * with real values), each layer is timed the same way on its own — R rounds of B invocations
 * per model, alternating — and printed with its paired ratio: which layers a change made
 * faster or slower. Per-layer entry points go through libffi (a few microseconds per call,
 * the same for every model).
 * Built by `make bench-ab`; not part of `make test` (timings are not tests).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/ppcrt.h"

#define MAX_MODELS 8

typedef struct {
    const char *path;
    PpcrtModel *model;
    PpcrtSession *session;
    void *in[16], *out[16];
    double *times;  /* R*B run times, ms */
    double *rounds; /* per-round medians */
    /* --layers: per layer the argument buffers, and every layer output allocated */
    int n_layers;
    void ***largs;
    void **lbufs;
    int n_lbufs;
} AbModel;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of v[0..n), sorting a copy. */
static double quantile(const double *v, int n, double q)
{
    double *t = malloc((size_t)n * sizeof *t);
    if (!t) return 0;
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double r = t[(int)(q * (n - 1) + 0.5)];
    free(t);
    return r;
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "ab: %s %s: %s\n", what, path, ppcrt_last_error());
    return 1;
}

static int open_model(AbModel *m, int threads, uint64_t seed)
{
    if (ppcrt_model_load(m->path, &m->model)) return fail("cannot load", m->path);
    PpcrtSessionOptions o = {0};
    o.n_threads = threads;
    if (ppcrt_session_create(m->model, &o, &m->session)) return fail("cannot create a session for", m->path);
    int ni = ppcrt_model_num_inputs(m->model), no = ppcrt_model_num_outputs(m->model);
    if (ni > 16 || no > 16) {
        fprintf(stderr, "ab: %s: more than 16 inputs or outputs\n", m->path);
        return 1;
    }
    for (int k = 0; k < ni; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_input_info(m->model, k, &ti);
        if (ti.dtype != PPCRT_DT_FLOAT) {
            fprintf(stderr, "ab: %s: input %d is not float32\n", m->path, k);
            return 1;
        }
        float *f = malloc(ti.nbytes ? ti.nbytes : 1);
        if (!f) return 1;
        for (size_t i = 0; i < ti.nbytes / sizeof(float); i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            f[i] = (float)((double)(seed >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
        }
        m->in[k] = f;
    }
    for (int k = 0; k < no; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_output_info(m->model, k, &ti);
        if (!(m->out[k] = malloc(ti.nbytes ? ti.nbytes : 1))) return 1;
    }
    return 0;
}

static int run_once(AbModel *m)
{
    if (ppcrt_session_run(m->session, (const void *const *)m->in, m->out)) return fail("run failed:", m->path);
    return 0;
}

/* --layers: allocate every layer's outputs, resolve each layer's arguments by value name
 * (graph inputs, earlier layers' outputs, NULL for the workspace) and run the layers once in
 * order, so each later invocation reads real values. */
static int prepare_layers(AbModel *m)
{
    m->n_layers = ppcrt_model_num_layers(m->model);
    if (m->n_layers <= 0) {
        fprintf(stderr, "ab: %s has no layer entry points (compile it with ppcc --debug-layers)\n", m->path);
        return 1;
    }
    int cap = 64, ni = ppcrt_model_num_inputs(m->model);
    const char **names = malloc((size_t)cap * sizeof *names);
    m->lbufs = malloc((size_t)cap * sizeof *m->lbufs);
    m->largs = calloc((size_t)m->n_layers, sizeof *m->largs);
    if (!names || !m->lbufs || !m->largs) return 1;
    m->n_lbufs = 0;
    for (int k = 0; k < ni; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_input_info(m->model, k, &ti);
        names[m->n_lbufs] = ti.name, m->lbufs[m->n_lbufs++] = m->in[k]; /* at most 16: cap is 64 */
    }
    int rc = 0;
    for (int l = 0; l < m->n_layers && !rc; l++) {
        PpcrtLayerInfo li;
        if (ppcrt_model_layer_info(m->model, l, &li)) return fail("no layer info in", m->path);
        for (int j = 0; j < li.n_outputs; j++) {
            PpcrtTensorInfo ti;
            if (ppcrt_model_layer_output_info(m->model, l, j, &ti)) return fail("no layer output info in", m->path);
            if (m->n_lbufs == cap) {
                cap *= 2;
                names = realloc(names, (size_t)cap * sizeof *names);
                m->lbufs = realloc(m->lbufs, (size_t)cap * sizeof *m->lbufs);
                if (!names || !m->lbufs) return 1;
            }
            names[m->n_lbufs] = ti.name;
            if (!(m->lbufs[m->n_lbufs++] = calloc(1, ti.nbytes ? ti.nbytes : 1))) return 1;
        }
        void **args = calloc((size_t)li.n_args + 1, sizeof *args);
        if (!args) return 1;
        m->largs[l] = args;
        for (int a = 0; a < li.n_args; a++) {
            if (li.signature[a] != 'p' || !*li.arg_names[a]) continue;
            for (int b = m->n_lbufs - 1; b >= 0 && !args[a]; b--)
                if (!strcmp(names[b], li.arg_names[a])) args[a] = m->lbufs[b];
            if (!args[a]) {
                fprintf(stderr, "ab: %s: layer %d '%s' reads '%s', which no earlier layer wrote\n", m->path, l,
                        li.name, li.arg_names[a]);
                rc = 1;
            }
        }
        if (!rc && ppcrt_layer_invoke(m->session, l, args)) rc = fail("layer run failed:", m->path);
    }
    free(names);
    return rc;
}

/* --layers: time every layer of the models (same layers, in order), alternating as in main. */
static int time_layers(AbModel *ms, int n, int rounds, int batch)
{
    for (int k = 0; k < n; k++) {
        if (prepare_layers(&ms[k])) return 1;
        if (ms[k].n_layers != ms[0].n_layers) {
            fprintf(stderr, "ab: %s has %d layers, %s %d: --layers compares the same graph\n", ms[k].path,
                    ms[k].n_layers, ms[0].path, ms[0].n_layers);
            return 1;
        }
    }
    printf("%d rounds of %d invocations per layer and model; ms = median; ratio = paired, against the first model\n",
           rounds, batch);
    printf("%-5s %-18s %-44s", "layer", "op", "name");
    for (int k = 0; k < n; k++) printf(" %9s", k ? "ms" : "ms(first)");
    for (int k = 1; k < n; k++) printf(" %7s", "ratio");
    printf("\n");
    double *tot = calloc((size_t)n, sizeof *tot), *ratio = malloc((size_t)rounds * sizeof(double));
    if (!tot || !ratio) return 1;
    for (int l = 0; l < ms[0].n_layers; l++) {
        PpcrtLayerInfo li;
        ppcrt_model_layer_info(ms[0].model, l, &li);
        for (int k = 0; k < n; k++)
            for (int w = 0; w < 2; w++)
                if (ppcrt_layer_invoke(ms[k].session, l, ms[k].largs[l])) return fail("layer run failed:", ms[k].path);
        for (int r = 0; r < rounds; r++)
            for (int j = 0; j < n; j++) {
                AbModel *m = &ms[r & 1 ? n - 1 - j : j];
                if (ppcrt_layer_invoke(m->session, l, m->largs[l])) return fail("layer run failed:", m->path);
                double *t = m->times + (size_t)r * batch;
                for (int b = 0; b < batch; b++) {
                    double t0 = now_ms();
                    if (ppcrt_layer_invoke(m->session, l, m->largs[l])) return fail("layer run failed:", m->path);
                    t[b] = now_ms() - t0;
                }
                m->rounds[r] = quantile(t, batch, 0.5);
            }
        printf("%-5d %-18.18s %-44.44s", l, li.op, li.name);
        for (int k = 0; k < n; k++) {
            double med = quantile(ms[k].times, rounds * batch, 0.5);
            tot[k] += med;
            printf(" %9.4f", med);
        }
        for (int k = 1; k < n; k++) {
            for (int r = 0; r < rounds; r++) ratio[r] = ms[k].rounds[r] / ms[0].rounds[r];
            printf(" %7.3f", quantile(ratio, rounds, 0.5));
        }
        printf("\n");
    }
    printf("%-5s %-18s %-44s", "sum", "", "");
    for (int k = 0; k < n; k++) printf(" %9.4f", tot[k]);
    for (int k = 1; k < n; k++) printf(" %7.3f", tot[k] / tot[0]);
    printf("\n");
    free(tot), free(ratio);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 1, rounds = 30, batch = 10, n = 0, layers = 0;
    uint64_t seed = 1;
    AbModel ms[MAX_MODELS];
    memset(ms, 0, sizeof ms);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: ab [--threads N] [--rounds R] [--batch B] [--seed S] [--layers] MODEL.so MODEL.so...\n"
                   "A/B timing of compiled models in one process: alternating batches, paired per-round\n"
                   "ratios against the first model (bench/ab.c). Defaults: 1 thread, 30 rounds of 10 runs.\n"
                   "--layers: time each layer on its own (models compiled with ppcc --debug-layers).\n");
            return 0;
        }
        if (i + 1 < argc && (!strcmp(a, "--threads") || !strcmp(a, "--rounds") || !strcmp(a, "--batch") ||
                             !strcmp(a, "--seed"))) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "ab: %s wants a positive integer, got '%s'\n", a, argv[i]);
                return 2;
            }
            if (!strcmp(a, "--threads")) threads = (int)v;
            if (!strcmp(a, "--rounds")) rounds = (int)v;
            if (!strcmp(a, "--batch")) batch = (int)v;
            if (!strcmp(a, "--seed")) seed = (uint64_t)v;
            continue;
        }
        if (!strcmp(a, "--layers")) {
            layers = 1;
            continue;
        }
        if (a[0] == '-') {
            fprintf(stderr, "ab: unknown option '%s' (ab --help)\n", a);
            return 2;
        }
        if (n == MAX_MODELS) {
            fprintf(stderr, "ab: at most %d models\n", MAX_MODELS);
            return 2;
        }
        ms[n++].path = a;
    }
    if (n < 1) {
        fprintf(stderr, "ab: no model given (ab --help)\n");
        return 2;
    }
    for (int k = 0; k < n; k++) {
        if (open_model(&ms[k], threads, seed)) return 1;
        ms[k].times = malloc((size_t)rounds * batch * sizeof(double));
        ms[k].rounds = malloc((size_t)rounds * sizeof(double));
        if (!ms[k].times || !ms[k].rounds) return 1;
        for (int w = 0; w < 5; w++)
            if (run_once(&ms[k])) return 1;
    }
    if (layers) return time_layers(ms, n, rounds, batch);
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < n; j++) {
            AbModel *m = &ms[r & 1 ? n - 1 - j : j];
            if (run_once(m)) return 1;
            double *t = m->times + (size_t)r * batch;
            for (int b = 0; b < batch; b++) {
                double t0 = now_ms();
                if (run_once(m)) return 1;
                t[b] = now_ms() - t0;
            }
            m->rounds[r] = quantile(t, batch, 0.5);
        }
    printf("%d thread(s), %d rounds of %d runs per model\n", threads, rounds, batch);
    printf("%-8s %-8s %-8s %-10s %s\n", "median", "p10", "min", "vs first", "model");
    double *ratio = malloc((size_t)rounds * sizeof(double));
    if (!ratio) return 1;
    for (int k = 0; k < n; k++) {
        for (int r = 0; r < rounds; r++) ratio[r] = ms[k].rounds[r] / ms[0].rounds[r];
        const int all = rounds * batch;
        printf("%-8.3f %-8.3f %-8.3f %-10.3f %s\n", quantile(ms[k].times, all, 0.5), quantile(ms[k].times, all, 0.1),
               quantile(ms[k].times, all, 0.0), quantile(ratio, rounds, 0.5), ms[k].path);
    }
    free(ratio);
    for (int k = 0; k < n; k++) {
        ppcrt_session_free(ms[k].session);
        ppcrt_model_free(ms[k].model);
        for (int i = 0; i < 16; i++) free(ms[k].in[i]), free(ms[k].out[i]);
        free(ms[k].times), free(ms[k].rounds);
    }
    return 0;
}
