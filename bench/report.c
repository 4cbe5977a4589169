/* report.c — statistics and the benchmark's result tables: the console table printed while
 * `make bench` runs, and the Markdown report written to docs/benchmarks.md (latency table,
 * pattern-pruned rows (MODEL@pR), thread scaling, per-model facts with compile times, and the
 * issue-#3 and #6 targets checked against
 * the measured numbers). Cells that were not measured print "n/a" and the reason is listed.
 */
#include "bench/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const double *x, int n)
{
    if (n <= 0)
        return NAN;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

double bench_min(const double *x, int n)
{
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (isnan(m) || x[i] < m)
            m = x[i];
    return m;
}

/* ---------------------------------------------------------------- cells */
typedef char Cell[48];

static const char *fmt(Cell c, int ok, const char *f, double v)
{
    if (!ok || isnan(v))
        snprintf(c, sizeof(Cell), "n/a");
    else
        snprintf(c, sizeof(Cell), f, v);
    return c;
}

static double row_gflops(const BenchRow *r, double ms) { return 2.0 * r->gmacs / (ms * 1e-3); }

static double row_pct(const BenchRow *r, double ms)
{
    return r->peak_gflops > 0 ? 100.0 * row_gflops(r, ms) / r->peak_gflops : NAN;
}

static const BenchRow *find_row(const BenchRow *rows, int n, const char *model, int threads)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].model, model) && rows[i].threads == threads)
            return &rows[i];
    return NULL;
}

/* ---------------------------------------------------------------- targets (issues #3, #6) */
typedef struct Target {
    const char *model;
    enum { T_RATIO_1T, T_SPEEDUP_2T, T_COMPILE, T_REL_L2, T_ORT_OVER_1T } kind;
    double limit;
} Target;

static const Target targets[] = {
    {"resnet18", T_RATIO_1T, 1.3},       {"vgg16", T_RATIO_1T, 1.3},
    {"mobilenet_v2", T_RATIO_1T, 1.5},   {"squeezenet1_1", T_RATIO_1T, 1.5},
    {"resnet18", T_SPEEDUP_2T, 1.7},     {"resnet18", T_COMPILE, 30},
    {"vgg16", T_COMPILE, 120},           {"resnet18", T_REL_L2, 1e-4},
    {"mobilenet_v2", T_REL_L2, 1e-4},    {"squeezenet1_1", T_REL_L2, 1e-4},
    {"vgg16", T_REL_L2, 1e-4},
    /* issue #6: pattern-pruned models (MODEL@pR rows) against ORT on the dense model */
    {"resnet18@p0.72", T_ORT_OVER_1T, 2.5}, {"resnet18@p0", T_ORT_OVER_1T, 1.5},
    {"vgg16@p0.72", T_ORT_OVER_1T, 3.0},    {"resnet18@p0.72", T_SPEEDUP_2T, 1.8},
    {"resnet18@p0.72", T_REL_L2, 1e-4},     {"vgg16@p0.72", T_REL_L2, 1e-4},
};

/* A latency measured while other processes used more than this share of the CPUs is marked
 * "noisy" in the targets table. */
#define NOISY_PCT 25

static double max_bg(const BenchRow *a, const BenchRow *b)
{
    double m = NAN;
    for (const BenchRow *r = a; r; r = (r == a ? b : NULL))
        if (!isnan(r->background_pct) && (isnan(m) || r->background_pct > m))
            m = r->background_pct;
    return m;
}

/* Is target t's model one of this run's models? (A run of other models, e.g. make bench-zoo,
 * lists no targets.) */
static int target_in_run(const Target *t, const BenchModel *models, int n_models)
{
    for (int i = 0; i < n_models; i++)
        if (!strcmp(models[i].name, t->model)) return 1;
    return 0;
}

/* Describe target t and evaluate it: returns 1 met, 0 missed, -1 not measured. *bg gets the
 * largest background CPU share of the rows a latency target used (NaN otherwise). */
static int eval_target(const Target *t, const BenchModel *models, int n_models,
                       const BenchRow *rows, int n_rows, char *what, size_t wn, char *got,
                       size_t gn, double *bg)
{
    const BenchRow *r1 = find_row(rows, n_rows, t->model, 1);
    const BenchRow *r2 = find_row(rows, n_rows, t->model, 2);
    *bg = NAN;
    if (t->kind == T_RATIO_1T || t->kind == T_ORT_OVER_1T)
        *bg = max_bg(r1, NULL);
    else if (t->kind == T_SPEEDUP_2T)
        *bg = max_bg(r1, r2);
    const BenchModel *m = NULL;
    for (int i = 0; i < n_models; i++)
        if (!strcmp(models[i].name, t->model))
            m = &models[i];
    snprintf(got, gn, "n/a");
    switch (t->kind) {
    /* latency ratios: the ratio of the medians and, in parentheses, the paired ratio (the
     * median of the alternating rounds' ratios); a target is met only when both reach it */
    case T_RATIO_1T: {
        snprintf(what, wn, "%s: ppcc/ORT latency at 1 thread <= %.1f", t->model, t->limit);
        if (!r1 || !r1->ppcc_ok || !r1->ort_ok)
            return -1;
        const double q = r1->ppcc_ms / r1->ort_ms, qp = 1.0 / r1->paired;
        snprintf(got, gn, isnan(qp) ? "%.2f" : "%.2f (%.2f)", q, qp);
        return q <= t->limit && (isnan(qp) || qp <= t->limit);
    }
    case T_ORT_OVER_1T: {
        snprintf(what, wn, "%s: ORT dense / ppcc pruned at 1 thread >= %.1f", t->model, t->limit);
        if (!r1 || !r1->ppcc_ok || !r1->ort_ok)
            return -1;
        const double q = r1->ort_ms / r1->ppcc_ms, qp = r1->paired;
        snprintf(got, gn, isnan(qp) ? "%.2f" : "%.2f (%.2f)", q, qp);
        return q >= t->limit && (isnan(qp) || qp >= t->limit);
    }
    case T_SPEEDUP_2T: {
        /* the alternating measurement when there is one (bench.c measure_scaling): both thread
         * counts timed in the same minutes */
        const int alt = m && m->pp_alt_t1_ms > 0 && m->pp_alt_t2_ms > 0;
        snprintf(what, wn, "%s: ppcc 2 threads >= %.1fx faster than 1%s", t->model, t->limit,
                 alt ? " (1 and 2 threads alternating)" : "");
        if (!alt && (!r1 || !r2 || !r1->ppcc_ok || !r2->ppcc_ok))
            return -1;
        const double sc = alt ? m->pp_alt_t1_ms / m->pp_alt_t2_ms : r1->ppcc_ms / r2->ppcc_ms;
        snprintf(got, gn, "%.2fx", sc);
        return sc >= t->limit;
    }
    case T_COMPILE:
        snprintf(what, wn, "%s: compile time <= %.0f s", t->model, t->limit);
        if (!m || !m->ppcc_compiled)
            return -1;
        snprintf(got, gn, "%.1f s", m->compile_s);
        return m->compile_s <= t->limit;
    case T_REL_L2: {
        snprintf(what, wn, "%s: relative L2 vs ORT <= %.0e%s", t->model, t->limit,
                 strchr(t->model, '@') ? " (ORT on the pruned model)" : "");
        double worst = NAN;
        for (const BenchRow *r = r1; r; r = (r == r1 ? r2 : NULL))
            if (r->ppcc_ok && !isnan(r->rel_l2) && (isnan(worst) || r->rel_l2 > worst))
                worst = r->rel_l2;
        if (isnan(worst))
            return -1;
        snprintf(got, gn, "%.2e", worst);
        return worst <= t->limit;
    }
    }
    return -1;
}

static const char *status_name(int s, double bg, char *buf, size_t n)
{
    const char *base = s > 0 ? "met" : s == 0 ? "MISSED" : "not measured";
    if (s >= 0 && !isnan(bg) && bg > NOISY_PCT)
        snprintf(buf, n, "%s (noisy: %.0f%% background CPU)", base, bg);
    else
        snprintf(buf, n, "%s", base);
    return buf;
}

/* ---------------------------------------------------------------- console */
void bench_print_text(FILE *f, const BenchInfo *info, const BenchModel *models, int n_models,
                      const BenchRow *rows, int n_rows)
{
    fprintf(f, "\n%-14s %7s %3s %9s %9s %8s %9s %7s %7s %9s %5s\n", "model", "GMACs", "thr",
            "ORT ms", "ppcc ms", "ppcc/ORT", "ppcc GF/s", "ppcc%pk", "ORT%pk", "rel L2", "bg%");
    for (int i = 0; i < n_rows; i++) {
        const BenchRow *r = &rows[i];
        Cell a, b, c, d, e, g, h, k;
        int both = r->ort_ok && r->ppcc_ok;
        fprintf(f, "%-14s %7.3f %3d %9s %9s %8s %9s %7s %7s %9s %5s\n", r->model, r->gmacs, r->threads,
                fmt(a, r->ort_ok, "%.2f", r->ort_ms), fmt(b, r->ppcc_ok, "%.2f", r->ppcc_ms),
                fmt(c, both, "%.2f", r->ppcc_ms / r->ort_ms),
                fmt(d, r->ppcc_ok, "%.1f", row_gflops(r, r->ppcc_ms)),
                fmt(e, r->ppcc_ok, "%.1f%%", row_pct(r, r->ppcc_ms)),
                fmt(g, r->ort_ok, "%.1f%%", row_pct(r, r->ort_ms)),
                fmt(h, r->ppcc_ok, "%.1e", r->rel_l2), fmt(k, 1, "%.0f", r->background_pct));
        if (!r->ppcc_ok)
            fprintf(f, "    ppcc: not available (%s)\n", r->ppcc_reason);
    }
    fprintf(f, "\n%-14s %10s %8s %12s %12s\n", "model", "compile s", ".so MB", "ORT init ms",
            "ORT vs torch");
    for (int i = 0; i < n_models; i++) {
        const BenchModel *m = &models[i];
        Cell a, b, c, d;
        fprintf(f, "%-14s %10s %8s %12s %12s%s%s\n", m->name,
                fmt(a, m->ppcc_compiled, "%.2f", m->compile_s), fmt(b, m->ppcc_compiled, "%.1f", m->so_mb),
                fmt(c, 1, "%.0f", m->ort_create_ms), fmt(d, 1, "%.1e", m->ort_vs_ref),
                m->compile_note[0] ? "  " : "", m->compile_note);
    }
    fprintf(f, "\nFMA peak (%s):", info->fma_isa);
    for (int k = 0; k < info->n_peak; k++)
        fprintf(f, " %d thread%s %.1f GFLOP/s%s", info->peak_threads[k],
                info->peak_threads[k] == 1 ? "" : "s", info->peak_gflops[k],
                k + 1 < info->n_peak ? "," : "");
    fprintf(f, "\nload average (1 min): %.2f before, %.2f after\n", info->load_before,
            info->load_after);
    int any = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) any |= target_in_run(&targets[t], models, n_models);
    fprintf(f, "\ntargets (issues #3, #6):%s\n", any ? "" : " none for this run's models");
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char what[128], got[48], st[64];
        double bg;
        if (!target_in_run(&targets[t], models, n_models)) continue;
        int s = eval_target(&targets[t], models, n_models, rows, n_rows, what, sizeof what, got,
                            sizeof got, &bg);
        fprintf(f, "  %-52s %-10s %s\n", what, got, status_name(s, bg, st, sizeof st));
    }
}

/* ---------------------------------------------------------------- Markdown */
void bench_print_markdown(FILE *f, const BenchInfo *info, const BenchModel *models, int n_models,
                          const BenchRow *rows, int n_rows)
{
    fprintf(f, "# Benchmarks: ppcc against ONNX Runtime\n\n");
    fprintf(f, "Written by `%s` (bench/bench.c); do not edit by hand: run it again. The first "
               "`make bench` installs onnxruntime-node into build/cache/ort (bench/setup.sh) and "
               "exports the models into build/models; later runs reuse both.\n\n",
            info->command);
    fprintf(f, "- Date: %s\n", info->date);
    fprintf(f, "- Machine: %s, %d CPUs%s%s (lscpu)\n", info->cpu, info->cpus, info->caches[0] ? ", " : "",
            info->caches);
    fprintf(f, "- fp32 FMA peak, measured by bench/fma_peak (%s):", info->fma_isa);
    for (int k = 0; k < info->n_peak; k++)
        fprintf(f, " %d thread%s %.1f GFLOP/s%s", info->peak_threads[k],
                info->peak_threads[k] == 1 ? "" : "s", info->peak_gflops[k],
                k + 1 < info->n_peak ? "," : "");
    fprintf(f, "\n- ONNX Runtime: onnxruntime-node %s from the npm registry, CPU execution provider, "
               "graph optimisation level 'all', intra-op threads = the row's thread count, "
               "1 inter-op thread, sequential execution\n", info->ort_version);
    fprintf(f, "- ppcc: %s; the compiled model runs through libppcrt with a session of the row's "
               "thread count\n", info->ppcc_version);
    fprintf(f, "- Models: torchvision architectures with seeded random weights, 1x3x224x224 f32 "
               "input, exported by tests/models/export.py (opset 13)\n");
    /* one-thread rows: where both engines ran (bench.c pin_engines) */
    char pin_text[160] = "one-thread rows: engines not pinned to a CPU (--no-pin, or the affinity could not be set)";
    for (int k = 0; k < n_rows; k++)
        if (rows[k].threads == 1 && rows[k].cpu >= 0) {
            snprintf(pin_text, sizeof pin_text,
                     "one-thread rows: both engines pinned to CPU %d (one CPU of a virtual host can be "
                     "slower than another for minutes), other rows: every CPU", rows[k].cpu);
            break;
        }
    fprintf(f, "- Method: both engines in one run (ppcc in the driver process, ORT in a node child it drives), on the same input; %d warm-up runs "
               "each, then alternating batches of %d runs (ppcc, ORT, ORT, ppcc, ...; the first "
               "run of every batch is untimed); latency = median of %d timed runs per engine. "
               "GFLOP/s = 2 x GMACs / latency (dense Conv/Gemm/MatMul MACs counted from ppcc's "
               "IR); %% of peak is against the FMA peak at the same thread count; the fastest run (min) "
               "is listed as well, as it is less sensitive to other load on the machine; %s\n",
            info->warmup, info->batch, info->runs, pin_text);
    fprintf(f, "- Other load: 1-minute load average %.2f before, %.2f after; the column "
               "'background CPU %%' is the share of the machine's CPU time that other processes "
               "used while a row was timed (from /proc/stat; high values make that row noisy)%s\n",
            info->load_before, info->load_after,
            info->wait_idle > 0 ? "; before each row the driver waited up to --wait-idle seconds for "
                                  "a quiet machine" : "");
    if (strcmp(info->command, info->driver) != 0)
        fprintf(f, "- Command: `%s`; driver command line: `%s`\n\n", info->command, info->driver);
    else
        fprintf(f, "- Command: `%s`\n\n", info->command);

    fprintf(f, "## Latency\n\n");
    fprintf(f, "| model | GMACs | threads | ORT ms | ppcc ms | ppcc/ORT | ppcc GFLOP/s | ppcc %% of "
               "peak | ORT %% of peak | rel. L2 ppcc vs ORT | ORT min ms | ppcc min ms | background "
               "CPU %% |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n_rows; i++) {
        const BenchRow *r = &rows[i];
        Cell a, b, c, d, e, g, h, k, l, m;
        int both = r->ort_ok && r->ppcc_ok;
        fprintf(f, "| %s | %.3f | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r->model,
                r->gmacs, r->threads, fmt(a, r->ort_ok, "%.2f", r->ort_ms),
                fmt(b, r->ppcc_ok, "%.2f", r->ppcc_ms), fmt(c, both, "%.2f", r->ppcc_ms / r->ort_ms),
                fmt(d, r->ppcc_ok, "%.1f", row_gflops(r, r->ppcc_ms)),
                fmt(e, r->ppcc_ok, "%.1f%%", row_pct(r, r->ppcc_ms)),
                fmt(g, r->ort_ok, "%.1f%%", row_pct(r, r->ort_ms)),
                fmt(h, r->ppcc_ok, "%.1e", r->rel_l2), fmt(k, r->ort_ok, "%.2f", r->ort_min_ms),
                fmt(l, r->ppcc_ok, "%.2f", r->ppcc_min_ms), fmt(m, 1, "%.0f", r->background_pct));
    }
    int notes = 0;
    for (int i = 0; i < n_rows; i++)
        if (!rows[i].ppcc_ok || !rows[i].ort_ok)
            notes++;
    if (notes) {
        fprintf(f, "\n");
        for (int i = 0; i < n_rows; i++) {
            const BenchRow *r = &rows[i];
            if (!r->ppcc_ok)
                fprintf(f, "- %s, %d thread%s: ppcc: not available (%s)\n", r->model, r->threads,
                        r->threads == 1 ? "" : "s", r->ppcc_reason);
            if (!r->ort_ok)
                fprintf(f, "- %s, %d thread%s: ONNX Runtime failed (see the console log)\n",
                        r->model, r->threads, r->threads == 1 ? "" : "s");
        }
    }

    /* MODEL@pR rows: the pattern-pruned model against ORT and ppcc on the dense one */
    int pruned_rows = 0;
    for (int i = 0; i < n_rows; i++) pruned_rows += strchr(rows[i].model, '@') != NULL;
    if (pruned_rows) {
        fprintf(f, "\n## Pattern-pruned models (issue #6)\n\n");
        fprintf(f, "MODEL@pR: pruned with `ppcc --prune --admm-iters 0 --no-refit --connectivity R` (K=8 "
                   "patterns of 4 weights; R of each pruned layer's 3x3 kernels removed; magnitude "
                   "projection, as the timing depends on the sparsity structure, not the values) and "
                   "compiled with `--pattern-conv=auto --tune` (each pruned conv's schedule, or dense, "
                   "measured on this machine; compile time in the per-model table includes the tuning "
                   "unless the tuning cache already held the layers). ORT runs the dense, unpruned "
                   "model; 'ppcc dense' is the unpruned model's row of this run. 'paired': the median, "
                   "over the row's alternating rounds, of ORT's batch median over ppcc's (the two "
                   "batches of a round run seconds apart, so a drift of the host's speed cancels); the "
                   "targets count as met only when this and the ratio of the medians both reach them. "
                   "GFLOP/s counts the non-zero MACs only.\n\n");
        fprintf(f, "| model | threads | GMACs non-zero | ORT dense ms | ppcc dense ms | ppcc pruned ms | "
                   "ORT / ppcc pruned | paired | ppcc dense / pruned | GFLOP/s | %% of peak |\n");
        fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < n_rows; i++) {
            const BenchRow *r = &rows[i];
            const char *at = strchr(r->model, '@');
            if (!at) continue;
            char base[128];
            snprintf(base, sizeof base, "%.*s", (int)(at - r->model), r->model);
            const BenchRow *d = find_row(rows, n_rows, base, r->threads);
            int dd = d && d->ppcc_ok, both = r->ort_ok && r->ppcc_ok;
            Cell a, b, c, e, p, g, h, k;
            fprintf(f, "| %s | %d | %.3f | %s | %s | %s | %s | %s | %s | %s | %s |\n", r->model, r->threads,
                    r->gmacs, fmt(a, r->ort_ok, "%.2f", r->ort_ms), fmt(b, dd, "%.2f", dd ? d->ppcc_ms : NAN),
                    fmt(c, r->ppcc_ok, "%.2f", r->ppcc_ms), fmt(e, both, "%.2f", r->ort_ms / r->ppcc_ms),
                    fmt(p, both && !isnan(r->paired), "%.2f", r->paired),
                    fmt(g, dd && r->ppcc_ok, "%.2f", dd ? d->ppcc_ms / r->ppcc_ms : NAN),
                    fmt(h, r->ppcc_ok, "%.1f", row_gflops(r, r->ppcc_ms)),
                    fmt(k, r->ppcc_ok, "%.1f%%", row_pct(r, r->ppcc_ms)));
        }
    }

    fprintf(f, "\n## Thread scaling (latency at 1 thread / latency at 2 threads)\n\n");
    fprintf(f, "ORT and ppcc: the medians of the rows above (one and two threads timed minutes apart, "
               "so the host's drift is in the ratio). ppcc alternating: a one-thread and a two-thread "
               "session timed in alternating batches right after the rows (the 2-thread target uses "
               "this one), with their medians in ms.\n\n");
    fprintf(f, "| model | ORT | ppcc | ppcc alternating | ms at 1 / 2 threads |\n|---|---:|---:|---:|---:|\n");
    for (int i = 0; i < n_models; i++) {
        const BenchRow *r1 = find_row(rows, n_rows, models[i].name, 1);
        const BenchRow *r2 = find_row(rows, n_rows, models[i].name, 2);
        const BenchModel *m = &models[i];
        Cell a, b, c;
        int ort = r1 && r2 && r1->ort_ok && r2->ort_ok, pp = r1 && r2 && r1->ppcc_ok && r2->ppcc_ok;
        int alt = m->pp_alt_t1_ms > 0 && m->pp_alt_t2_ms > 0;
        char ms[64];
        snprintf(ms, sizeof ms, "%.2f / %.2f", m->pp_alt_t1_ms, m->pp_alt_t2_ms);
        fprintf(f, "| %s | %s | %s | %s | %s |\n", m->name,
                fmt(a, ort, "%.2fx", ort ? r1->ort_ms / r2->ort_ms : NAN),
                fmt(b, pp, "%.2fx", pp ? r1->ppcc_ms / r2->ppcc_ms : NAN),
                fmt(c, alt, "%.2fx", alt ? m->pp_alt_t1_ms / m->pp_alt_t2_ms : NAN), alt ? ms : "n/a");
    }

    fprintf(f, "\n## Per model: compile time and checks\n\n");
    fprintf(f, "| model | GMACs | ppcc compile (wall s) | .so MB | ORT session creation ms | "
               "rel. L2 ORT vs torch |\n|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n_models; i++) {
        const BenchModel *m = &models[i];
        Cell a, b, c, d;
        fprintf(f, "| %s | %.3f | %s | %s | %s | %s |\n", m->name, m->gmacs,
                fmt(a, m->ppcc_compiled, "%.2f", m->compile_s),
                fmt(b, m->ppcc_compiled, "%.1f", m->so_mb), fmt(c, 1, "%.0f", m->ort_create_ms),
                fmt(d, 1, "%.1e", m->ort_vs_ref));
    }
    for (int i = 0, first = 1; i < n_models; i++)
        if (models[i].compile_note[0]) {
            fprintf(f, "%s- %s: %s\n", first ? "\n" : "", models[i].name, models[i].compile_note);
            first = 0;
        }

    int any = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) any |= target_in_run(&targets[t], models, n_models);
    if (!any) return;
    fprintf(f, "\n## Targets (issues #3, #6)\n\nLatency ratios: the ratio of the medians, then in parentheses the "
               "paired ratio (the median of the alternating rounds' ratios); met only when both reach "
               "the target.\n\n| target | measured | status |\n|---|---:|---|\n");
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char what[128], got[48], st[64];
        double bg;
        if (!target_in_run(&targets[t], models, n_models)) continue;
        int s = eval_target(&targets[t], models, n_models, rows, n_rows, what, sizeof what, got,
                            sizeof got, &bg);
        fprintf(f, "| %s | %s | %s |\n", what, got, status_name(s, bg, st, sizeof st));
    }
}
