/* bench.h — the pieces of the ppcc-vs-ONNX-Runtime benchmark driver (bench/bench.c):
 * the ORT runner client (ort_client.c: a persistent `node bench/ort_runner.js` child spoken to
 * line by line), the model's multiply-accumulate count (macs.c: from ppcc's IR), statistics and
 * the result tables (report.c: console text and docs/benchmarks.md).
 */
#ifndef PPCC_BENCH_H
#define PPCC_BENCH_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- ORT runner client (ort_client.c) */
typedef struct OrtClient {
    pid_t pid;
    FILE *to;   /* the runner's stdin */
    FILE *from; /* the runner's stdout */
    char *line; /* last reply (getline buffer) */
    size_t cap;
} OrtClient;

/* Start `node RUNNER --ort PKG`. Returns 0, or -1 with a reason in err. */
int ort_start(OrtClient *c, const char *node, const char *runner, const char *pkg, char *err,
              size_t errlen);
/* Send one command line (no newline) and read the reply. Returns 0 and points *reply at the text
 * after "ok " (valid until the next call), or -1 with the runner's message (or "runner exited")
 * in err. */
int ort_cmd(OrtClient *c, const char *cmd, const char **reply, char *err, size_t errlen);
/* `run N`: the N run times in milliseconds into ms[0..n-1]. */
int ort_run(OrtClient *c, int n, double *ms, char *err, size_t errlen);
/* Send quit, close the pipes and reap the child. */
void ort_stop(OrtClient *c);

/* ---------------------------------------------------------------- machine load (cpuload.c) */
/* CPU time counters at one moment (clock ticks): all CPUs busy / busy + idle, and ours. */
typedef struct CpuSample {
    double busy, total, own;
} CpuSample;
/* Sample the counters; `child` is the ORT runner's pid (<= 0: none). -1 if unavailable. */
int cpuload_sample(pid_t child, CpuSample *s);
/* Share (0..100) of the machine's CPU capacity used by other processes between a and b. */
double cpuload_background_pct(const CpuSample *a, const CpuSample *b);

/* ---------------------------------------------------------------- MAC count (macs.c) */
/* Multiply-accumulates of one inference of the ONNX model at path: Conv, ConvTranspose, Gemm
 * and MatMul counted from the shapes of ppcc's imported IR (dense: every weight counts).
 * Returns 0, or -1 with the import error in err. */
int bench_count_macs(const char *onnx_path, double *macs, int *n_layers, char *err, size_t errlen);
/* The same counting only the non-zero weights of Conv/Gemm/MatMul with constant weights (a
 * pruned model's real work). */
int bench_count_macs_nonzero(const char *onnx_path, double *macs, char *err, size_t errlen);

/* ---------------------------------------------------------------- results and tables (report.c) */
double bench_median(const double *x, int n); /* sorts a copy; NaN for n == 0 */
double bench_min(const double *x, int n);

/* One (model, thread count) measurement. ms values are medians over the timed runs. */
typedef struct BenchRow {
    const char *model;
    double gmacs;
    int threads;
    int ort_ok;             /* ORT numbers valid */
    double ort_ms, ort_min_ms;
    int ppcc_ok;            /* ppcc numbers valid; else ppcc_reason says why */
    char ppcc_reason[256];
    double ppcc_ms, ppcc_min_ms;
    double rel_l2;          /* ppcc vs ORT output, NaN if not measured */
    double paired;          /* median over the alternating rounds of (ORT batch median / ppcc batch
                             * median): the two engines timed seconds apart, so a drift of the
                             * host's speed cancels; NaN if not measured */
    double peak_gflops;     /* measured FMA peak for this thread count (0 if unknown) */
    double background_pct;  /* CPU share used by other processes while timing (NaN unknown) */
    int runs;               /* timed runs per engine */
    int cpu;                /* both engines pinned to this CPU (one-thread rows); -1 every CPU, -2 unpinned */
} BenchRow;

/* Per-model facts outside the timing rows. */
typedef struct BenchModel {
    const char *name;
    double gmacs;           /* for MODEL@pR: the non-zero MACs */
    double dense_gmacs;     /* MODEL@pR: the dense model's MACs (0 otherwise) */
    int ppcc_compiled;      /* compile succeeded */
    double compile_s;       /* ppcc wall time (also when it failed, if it ran) */
    double so_mb;           /* size of the compiled .so */
    double ort_create_ms;   /* ORT session creation (first thread count) */
    double ort_vs_ref;      /* rel L2 of ORT's output against the exporter's torch output */
    char compile_note[256]; /* "" or why compilation was not timed / failed */
    /* ppcc's 1- and 2-thread sessions timed alternately (bench.c measure_scaling): medians in
     * ms, 0 or NaN when not measured; their ratio is the scaling the 2-thread target uses */
    double pp_alt_t1_ms, pp_alt_t2_ms;
} BenchModel;

typedef struct BenchInfo {
    char date[64];
    char cpu[128];
    char caches[160]; /* lscpu's L1d and L2 lines, "" if none */
    int cpus;
    char ort_version[64];
    char ppcc_version[160]; /* ppcc --version: with the LLVM CPU name code is generated for */
    char fma_isa[64];
    int n_peak;
    int peak_threads[8];
    double peak_gflops[8];
    char command[512];   /* what a person types to reproduce (e.g. "make bench") */
    char driver[2048];   /* the driver's own command line */
    double load_before, load_after; /* 1-minute load average */
    int warmup, runs, batch;
    double wait_idle;    /* seconds to wait for a quiet machine before each row (0: no wait) */
} BenchInfo;

/* The console table (and notes) to f. */
void bench_print_text(FILE *f, const BenchInfo *info, const BenchModel *models, int n_models,
                      const BenchRow *rows, int n_rows);
/* The Markdown report to f. */
void bench_print_markdown(FILE *f, const BenchInfo *info, const BenchModel *models, int n_models,
                          const BenchRow *rows, int n_rows);

#endif
