/* bench.c — `make bench`: ppcc against ONNX Runtime on the same models, inputs and machine, in
 * one run. For each model (exported by tests/models/export.py) it counts the dense MACs from
 * ppcc's IR, compiles the model with `ppcc model.onnx -o model.so` (wall time), loads it through
 * libppcrt and, for each thread count, alternates batches of ppcc runs (a libppcrt session with T
 * threads) with batches of ONNX Runtime runs (bench/ort_runner.js, a persistent node process with
 * T intra-op threads), takes medians, and compares the two outputs (relative L2); then times a
 * one-thread and a two-thread ppcc session alternately, for a thread scaling measured within the
 * same minutes (measure_scaling). The machine's FMA peak comes from bench/fma_peak. Prints a
 * table and writes docs/benchmarks.md.
 *
 * When ppcc cannot produce or run a model (e.g. before native code generation exists) the row
 * says "ppcc: not available (REASON)" and the ONNX Runtime half is still measured. Exit status:
 * 0 when every model was measured with ONNX Runtime, 1 otherwise, 2 on bad usage.
 *
 *   usage: bench [options] [MODEL...]     (default: resnet18 mobilenet_v2 squeezenet1_1 vgg16)
 *   run `bench --help` for the options.
 */
#include "bench/bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontends/onnx/onnx.h"
#include "ir/ir.h"
#include "runtime/ppcrt.h"

#define MAX_MODELS 16
#define IDLE_PCT 10 /* --wait-idle: "quiet" means other processes use less than this % */
#define MAX_THREADS_LIST 8

typedef struct Options {
    const char *models_dir, *work_dir, *ppcc, *node, *runner, *ort_pkg, *fma_peak, *md;
    const char *command;
    int threads[MAX_THREADS_LIST], n_threads;
    int runs, batch, warmup;
    double compile_timeout, wait_idle;
    int no_pin; /* --no-pin: leave the CPU affinity alone */
    const char *models[MAX_MODELS];
    int n_models;
} Options;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double loadavg(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

/* ---------------------------------------------------------------- child processes */
/* Run argv with stdout and stderr written to log (truncated first), in its own process group.
 * Returns the exit status, 256 + N if signal N killed it, -1 if it could not be started, -2 after
 * a timeout (then the whole group is killed, e.g. a linker ppcc started). *wall gets the wall
 * time in seconds. */
static int run_logged(char *const argv[], const char *log, double timeout_s, double *wall)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (timeout_s > 0 && now_s() - t0 > timeout_s) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            if (wall)
                *wall = now_s() - t0;
            return -2;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (wall)
        *wall = now_s() - t0;
    if (WIFSIGNALED(st))
        return 256 + WTERMSIG(st);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last non-empty line of a text file into buf ("" if none). */
static void last_line(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' '))
            line[--l] = 0;
        if (l)
            snprintf(buf, n, "%s", line);
    }
    fclose(f);
}

/* The value after "KEY" on the first line of a file that starts with KEY (trimmed), or "". */
static void grep_value(const char *path, const char *key, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0)
            continue;
        char *p = line + kl;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\n' || p[l - 1] == ' '))
            p[--l] = 0;
        snprintf(buf, n, "%s", p);
        break;
    }
    fclose(f);
}

/* ---------------------------------------------------------------- machine facts */
static void machine_info(const Options *o, BenchInfo *info)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(info->date, sizeof info->date, "%Y-%m-%d %H:%M UTC", &tm);
    info->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);

    char log[1024];
    snprintf(log, sizeof log, "%s/lscpu.txt", o->work_dir);
    char *lscpu[] = {"lscpu", NULL};
    if (run_logged(lscpu, log, 30, NULL) == 0) {
        grep_value(log, "Model name:", info->cpu, sizeof info->cpu);
        /* the cache sizes: the same model name has covered different CPUs of this host */
        char l1[64] = "", l2[64] = "";
        grep_value(log, "L1d cache:", l1, sizeof l1);
        grep_value(log, "L2 cache:", l2, sizeof l2);
        if (l1[0] && l2[0]) snprintf(info->caches, sizeof info->caches, "L1d %s, L2 %s", l1, l2);
    }
    if (!info->cpu[0]) /* no lscpu: the kernel's name for the CPU */
        grep_value("/proc/cpuinfo", "model name\t:", info->cpu, sizeof info->cpu);
    if (!info->cpu[0])
        snprintf(info->cpu, sizeof info->cpu, "unknown CPU");

    snprintf(log, sizeof log, "%s/ppcc-version.txt", o->work_dir);
    char *ver[] = {(char *)o->ppcc, "--version", NULL};
    if (run_logged(ver, log, 30, NULL) == 0)
        last_line(log, info->ppcc_version, sizeof info->ppcc_version);
    if (!info->ppcc_version[0])
        snprintf(info->ppcc_version, sizeof info->ppcc_version, "unknown (%s --version failed)",
                 o->ppcc);
}

/* Run bench/fma_peak for the thread counts and parse its lines. */
static void fma_peak(const Options *o, BenchInfo *info)
{
    snprintf(info->fma_isa, sizeof info->fma_isa, "not measured");
    char list[64] = "", log[1024];
    for (int k = 0; k < o->n_threads; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", k ? "," : "",
                 o->threads[k]);
    snprintf(log, sizeof log, "%s/fma_peak.txt", o->work_dir);
    char *argv[] = {(char *)o->fma_peak, "--threads", list, NULL};
    printf("bench: measuring the FMA peak (%s)\n", o->fma_peak);
    if (run_logged(argv, log, 300, NULL) != 0) {
        fprintf(stderr, "bench: %s failed (see %s); %% of peak not reported\n", o->fma_peak, log);
        return;
    }
    FILE *f = fopen(log, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int t;
        double g;
        char isa[64];
        if (sscanf(line, "fma_peak threads=%d gflops=%lf", &t, &g) == 2 && info->n_peak < 8) {
            info->peak_threads[info->n_peak] = t;
            info->peak_gflops[info->n_peak++] = g;
        } else if (sscanf(line, "fma_peak: isa=%63s", isa) == 1) {
            snprintf(info->fma_isa, sizeof info->fma_isa, "%s", isa);
        }
    }
    if (f)
        fclose(f);
}

static double peak_for(const BenchInfo *info, int threads)
{
    for (int k = 0; k < info->n_peak; k++)
        if (info->peak_threads[k] == threads)
            return info->peak_gflops[k];
    return 0;
}

/* ---------------------------------------------------------------- numbers */
/* ||a - b|| / ||b|| in double; INFINITY if a has NaN/Inf or b is zero while a is not. */
static double rel_l2(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

/* Relative L2 of a float buffer against a TensorProto file's data; NaN if unreadable/mismatched. */
static double rel_l2_file(const float *a, int64_t n, const char *ref_path)
{
    Tensor *t = NULL;
    Diag d = {{0}};
    if (onnx_tensor_read_file(ref_path, &t, NULL, &d) != 0)
        return NAN;
    double r = NAN;
    if (t->dtype == DT_F32 && tensor_numel(t) == n)
        r = rel_l2(a, t->data, n);
    tensor_free(t);
    return r;
}

/* ---------------------------------------------------------------- ppcc side */
typedef struct Ppcc {
    PpcrtModel *model;
    const void *in[1];
    void *out[1];
    int64_t out_numel;
    char reason[256]; /* why ppcc is not available for this model ("" if it is) */
} Ppcc;

/* Compile MODEL with ppcc and load it; on failure fill p->reason. */
static void ppcc_prepare(const Options *o, const char *name, const char *onnx, const char *conn,
                         const Tensor *input, BenchModel *m, Ppcc *p)
{
    char so[1024], log[1024];
    snprintf(so, sizeof so, "%s/%s.so", o->work_dir, name);
    snprintf(log, sizeof log, "%s/%s.ppcc.log", o->work_dir, name);
    if (access(o->ppcc, X_OK) != 0) {
        snprintf(p->reason, sizeof p->reason, "%s not found; run make first", o->ppcc);
        return;
    }
    unlink(so); /* never measure a stale .so */
    printf("bench: %s: compiling with ppcc\n", name);
    /* MODEL@pR: pattern-pruned at connectivity R by magnitude projection (what is timed is the
     * sparsity structure; the values do not change the speed) and tuned (--tune, the timings
     * cached in WORK/tuning.cache), the pruned model saved so ORT can check the output */
    char pruned[1100];
    snprintf(pruned, sizeof pruned, "%s/%s.pruned.onnx", o->work_dir, name);
    char *argv_dense[] = {(char *)o->ppcc, (char *)onnx, "-o", so, NULL};
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/tuning.cache", o->work_dir);
    char *argv_pruned[] = {(char *)o->ppcc, (char *)onnx, "--prune", "--admm-iters", "0", "--no-refit",
                           "--connectivity", (char *)conn, "--tune", "--tuning-cache", cache,
                           "--save-pruned", pruned, "-o", so, NULL};
    char **argv = conn ? argv_pruned : argv_dense;
    double wall = 0;
    int st = run_logged(argv, log, o->compile_timeout, &wall);
    m->compile_s = wall;
    if (st != 0) {
        char last[200];
        last_line(log, last, sizeof last);
        if (st == -2)
            snprintf(p->reason, sizeof p->reason, "ppcc did not finish in %.0f s", o->compile_timeout);
        else if (st > 256)
            snprintf(p->reason, sizeof p->reason, "ppcc crashed (signal %d: %s)", st - 256,
                     strsignal(st - 256));
        else if (st == -1)
            snprintf(p->reason, sizeof p->reason, "cannot run %s", o->ppcc);
        else
            snprintf(p->reason, sizeof p->reason, "compile failed: %s", last[0] ? last : "no message");
        snprintf(m->compile_note, sizeof m->compile_note, "ppcc failed after %.1f s (log: %.200s)", wall,
                 log);
        return;
    }
    m->ppcc_compiled = 1;
    struct stat sb;
    if (stat(so, &sb) == 0)
        m->so_mb = (double)sb.st_size / 1e6;
    int st2 = ppcrt_model_load(so, &p->model);
    if (st2 != PPCRT_OK) {
        snprintf(p->reason, sizeof p->reason, "load failed: %s: %s", ppcrt_status_string(st2),
                 ppcrt_last_error());
        return;
    }
    PpcrtTensorInfo ii, oi;
    if (ppcrt_model_num_inputs(p->model) != 1 || ppcrt_model_num_outputs(p->model) < 1 ||
        ppcrt_model_input_info(p->model, 0, &ii) != PPCRT_OK ||
        ppcrt_model_output_info(p->model, 0, &oi) != PPCRT_OK) {
        snprintf(p->reason, sizeof p->reason, "compiled model has %d inputs and %d outputs",
                 ppcrt_model_num_inputs(p->model), ppcrt_model_num_outputs(p->model));
        return;
    }
    if (ii.dtype != PPCRT_DT_FLOAT || ii.nbytes != tensor_nbytes(input) ||
        oi.dtype != PPCRT_DT_FLOAT) {
        snprintf(p->reason, sizeof p->reason,
                 "compiled model's input %s is %s of %llu bytes (want float of %zu), output %s",
                 ii.name, ppcrt_dtype_name(ii.dtype), (unsigned long long)ii.nbytes,
                 tensor_nbytes(input), ppcrt_dtype_name(oi.dtype));
        return;
    }
    p->in[0] = input->data;
    p->out[0] = calloc(1, oi.nbytes ? oi.nbytes : 1);
    p->out_numel = (int64_t)(oi.nbytes / sizeof(float));
    if (!p->out[0])
        snprintf(p->reason, sizeof p->reason, "out of memory");
}

static void ppcc_release(Ppcc *p)
{
    free(p->out[0]);
    ppcrt_model_free(p->model);
    memset(p, 0, sizeof *p);
}

/* n runs of the session; times in ms into ms (NULL: untimed). Returns 0 or -1 with reason. */
static int ppcc_runs(PpcrtSession *s, Ppcc *p, int n, double *ms, char *reason, size_t rn)
{
    for (int k = 0; k < n; k++) {
        double t0 = now_s();
        int st = ppcrt_session_run(s, p->in, p->out);
        double t = (now_s() - t0) * 1e3;
        if (st != PPCRT_OK) {
            snprintf(reason, rn, "run failed: %s: %s", ppcrt_status_string(st), ppcrt_last_error());
            return -1;
        }
        if (ms)
            ms[k] = t;
    }
    return 0;
}

/* ---------------------------------------------------------------- one (model, threads) row */
/* --wait-idle: poll one-second windows until other processes use < IDLE_PCT % of the CPUs. */
static void wait_idle(const Options *o, const OrtClient *ort)
{
    if (o->wait_idle <= 0)
        return;
    double t0 = now_s(), pct = NAN;
    while (now_s() - t0 < o->wait_idle) {
        CpuSample a, b;
        if (cpuload_sample(ort->pid, &a) != 0)
            return;
        sleep(1);
        if (cpuload_sample(ort->pid, &b) != 0)
            return;
        pct = cpuload_background_pct(&a, &b);
        if (pct < IDLE_PCT)
            return;
    }
    printf("bench: the machine stayed busy (%.0f%% used by other processes) for %.0f s; measuring "
           "anyway\n", pct, o->wait_idle);
}

static int ort_runs(OrtClient *c, int n, double *ms, char *err, size_t en)
{
    /* One extra untimed run first: the batch starts warm, like ppcc's. */
    double *buf = malloc(((size_t)n + 1) * sizeof *buf);
    if (!buf)
        return snprintf(err, en, "out of memory"), -1;
    int r = ort_run(c, n + 1, buf, err, en);
    if (r == 0 && ms)
        memcpy(ms, buf + 1, (size_t)n * sizeof *ms);
    free(buf);
    return r;
}

/* Which CPUs the engines may use while a row is timed. One-thread rows run both engines on one
 * CPU (the first of the driver's own mask; they alternate, never overlap): on a virtual host one
 * CPU can run slower than the other for minutes (seen: the same model 36 ms on one, 25.8 ms on
 * the other), and ppcc here and ONNX Runtime in the child on different CPUs would compare the
 * CPUs, not the engines. Other rows get the driver's whole original mask back. Applied to every
 * thread of the child (ORT's pool exists by now) and of this process (a one-thread ppcc session
 * runs on this thread; the workers of a session with more exist by now).
 * Returns the CPU of a one-thread row, -1 for the whole mask, -2 if the mask cannot be set. */
static int pin_engines(pid_t child, int threads)
{
    static cpu_set_t all;
    static int have_all;
    if (!have_all) {
        if (sched_getaffinity(0, sizeof all, &all) != 0) return -2;
        have_all = 1;
    }
    cpu_set_t m = all;
    int cpu = -1;
    if (threads == 1) {
        for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
            if (CPU_ISSET(c, &all)) cpu = c;
        CPU_ZERO(&m);
        CPU_SET(cpu, &m);
    }
    int rc = 0;
    const pid_t procs[2] = {getpid(), child}; /* this process: ppcc's workers of an earlier session */
    for (int k = 0; k < 2; k++) {
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/task", (int)procs[k]);
        DIR *dp = procs[k] > 0 ? opendir(dir) : NULL;
        if (!dp) return -2;
        struct dirent *e;
        while ((e = readdir(dp)))
            if (e->d_name[0] != '.' && sched_setaffinity((pid_t)atoi(e->d_name), sizeof m, &m) != 0) rc = -1;
        closedir(dp);
    }
    return rc ? -2 : cpu;
}

/* ppcc's thread scaling with both sessions in one stretch of time: a one-thread and a
 * two-thread session, alternating batches (the order swapped every round), every CPU allowed.
 * The rows above time one and two threads minutes apart, and this host's speed drifts by up
 * to 1.7x over minutes: a ratio of those medians measures the drift as much as the threads.
 * Fills m->pp_alt_t1_ms / pp_alt_t2_ms (NaN when a session cannot be made or run). */
static void measure_scaling(const Options *o, OrtClient *ort, const char *name, Ppcc *p, BenchModel *m)
{
    m->pp_alt_t1_ms = m->pp_alt_t2_ms = NAN;
    if (p->reason[0]) return;
    PpcrtSession *s[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        PpcrtSessionOptions so = {0};
        so.n_threads = k + 1;
        if (ppcrt_session_create(p->model, &so, &s[k]) != PPCRT_OK) {
            ppcrt_session_free(s[0]);
            return;
        }
    }
    const int timed = o->runs;
    double *ms[2] = {calloc((size_t)timed, sizeof(double)), calloc((size_t)timed, sizeof(double))};
    char reason[256];
    int ok = ms[0] && ms[1];
    wait_idle(o, ort);
    if (!o->no_pin) pin_engines(ort->pid, 2);
    printf("bench: %s: 1 and 2 threads alternating, %d timed runs each\n", name, timed);
    fflush(stdout);
    for (int k = 0; k < 2 && ok; k++) ok = ppcc_runs(s[k], p, o->warmup, NULL, reason, sizeof reason) == 0;
    for (int done = 0, round = 0; ok && done < timed; round++) {
        const int n = timed - done < o->batch ? timed - done : o->batch;
        for (int half = 0; half < 2 && ok; half++) {
            const int k = (half + round) % 2;
            ok = ppcc_runs(s[k], p, 1, NULL, reason, sizeof reason) == 0 &&
                 ppcc_runs(s[k], p, n, ms[k] + done, reason, sizeof reason) == 0;
        }
        done += n;
    }
    if (ok) {
        m->pp_alt_t1_ms = bench_median(ms[0], timed);
        m->pp_alt_t2_ms = bench_median(ms[1], timed);
        printf("bench: %s: alternating, ppcc median %.2f ms at 1 thread, %.2f ms at 2 (%.2fx)\n", name,
               m->pp_alt_t1_ms, m->pp_alt_t2_ms, m->pp_alt_t1_ms / m->pp_alt_t2_ms);
    } else {
        fprintf(stderr, "bench: %s: alternating 1 and 2 threads: %s\n", name, reason);
    }
    free(ms[0]), free(ms[1]);
    ppcrt_session_free(s[0]);
    ppcrt_session_free(s[1]);
}

static int measure_row(const Options *o, OrtClient *ort, const char *name, const char *onnx,
                       const char *pruned, const char *input_pb, const char *ref_pb, Ppcc *p,
                       BenchModel *m, BenchRow *row, int first)
{
    char err[512], cmd[2200];
    const char *reply;
    int T = row->threads;
    int timed = o->runs;

    snprintf(row->ppcc_reason, sizeof row->ppcc_reason, "not measured: ONNX Runtime failed");
    wait_idle(o, ort);
    /* ONNX Runtime session with T threads, fed the same input file. */
    snprintf(cmd, sizeof cmd, "load %s %d", onnx, T);
    if (ort_cmd(ort, cmd, &reply, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s: ONNX Runtime cannot load the model: %s\n", name, err);
        return -1;
    }
    const char *ms_at = strstr(reply, "ms=");
    if (first && ms_at)
        m->ort_create_ms = atof(ms_at + 3);
    snprintf(cmd, sizeof cmd, "input %s", input_pb);
    if (ort_cmd(ort, cmd, &reply, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s: ONNX Runtime rejects the input: %s\n", name, err);
        return -1;
    }

    char row_reason[256] = ""; /* why ppcc failed in this row (the model itself loaded) */
    PpcrtSession *sess = NULL;
    int have_ppcc = p->reason[0] == 0;
    if (have_ppcc) {
        PpcrtSessionOptions so = {0};
        so.n_threads = T;
        int st = ppcrt_session_create(p->model, &so, &sess);
        if (st != PPCRT_OK) {
            snprintf(row_reason, sizeof row_reason, "session with %d threads: %s: %s", T,
                     ppcrt_status_string(st), ppcrt_last_error());
            have_ppcc = 0;
        }
    }
    double *ort_ms = calloc((size_t)timed, sizeof *ort_ms);
    double *pp_ms = calloc((size_t)timed, sizeof *pp_ms);
    double *pair = calloc((size_t)timed, sizeof *pair); /* per round: ORT / ppcc batch medians */
    int n_pair = 0;
    if (!ort_ms || !pp_ms || !pair) {
        free(ort_ms), free(pp_ms), free(pair);
        ppcrt_session_free(sess);
        fprintf(stderr, "bench: out of memory\n");
        return -1;
    }
    printf("bench: %s, %d thread%s: warm-up, then %d timed runs per engine%s\n", name, T,
           T == 1 ? "" : "s", timed, have_ppcc ? "" : " (ONNX Runtime only)");
    fflush(stdout);

    int ort_failed = 0;
    if (have_ppcc && ppcc_runs(sess, p, o->warmup, NULL, row_reason, sizeof row_reason) != 0)
        have_ppcc = 0;
    if (ort_runs(ort, o->warmup, NULL, err, sizeof err) != 0)
        ort_failed = 1;
    row->cpu = o->no_pin ? -2 : pin_engines(ort->pid, T);
    CpuSample load0, load1;
    int have_load = cpuload_sample(ort->pid, &load0) == 0;
    int done = 0;
    for (int round = 0; done < timed && !ort_failed; round++) {
        int n = timed - done < o->batch ? timed - done : o->batch;
        for (int half = 0; half < 2; half++) {
            int ppcc_turn = (half == 0) == (round % 2 == 0);
            if (ppcc_turn && have_ppcc) {
                if (ppcc_runs(sess, p, 1, NULL, row_reason, sizeof row_reason) != 0 ||
                    ppcc_runs(sess, p, n, pp_ms + done, row_reason, sizeof row_reason) != 0)
                    have_ppcc = 0;
            } else if (!ppcc_turn && ort_runs(ort, n, ort_ms + done, err, sizeof err) != 0) {
                ort_failed = 1;
                break;
            }
        }
        if (have_ppcc && !ort_failed)
            pair[n_pair++] = bench_median(ort_ms + done, n) / bench_median(pp_ms + done, n);
        done += n;
    }
    if (have_load && cpuload_sample(ort->pid, &load1) == 0)
        row->background_pct = cpuload_background_pct(&load0, &load1);
    if (ort_failed) {
        fprintf(stderr, "bench: %s, %d threads: ONNX Runtime run failed: %s\n", name, T, err);
    } else {
        row->ort_ok = 1;
        row->ort_ms = bench_median(ort_ms, timed);
        row->ort_min_ms = bench_min(ort_ms, timed);
    }
    row->runs = timed;

    /* Outputs of the last runs: ppcc against ORT, ORT against the exporter's torch output. */
    char ort_out[1024];
    snprintf(ort_out, sizeof ort_out, "%s/%s.ort_t%d.pb", o->work_dir, name, T);
    int have_ort_out = !ort_failed && (snprintf(cmd, sizeof cmd, "output %s", ort_out),
                                       ort_cmd(ort, cmd, &reply, err, sizeof err) == 0);
    if (!ort_failed && !have_ort_out)
        fprintf(stderr, "bench: %s: cannot get ONNX Runtime's output: %s\n", name, err);
    if (have_ort_out && first) {
        Tensor *t = NULL;
        Diag d = {{0}};
        if (onnx_tensor_read_file(ort_out, &t, NULL, &d) == 0 && t->dtype == DT_F32)
            m->ort_vs_ref = rel_l2_file(t->data, tensor_numel(t), ref_pb);
        tensor_free(t);
    }
    /* A pruned model's output is checked against ORT running the pruned model (saved by ppcc). */
    if (pruned && have_ort_out) {
        snprintf(ort_out, sizeof ort_out, "%s/%s.ort_pruned_t%d.pb", o->work_dir, name, T);
        snprintf(cmd, sizeof cmd, "load %s %d", pruned, T);
        have_ort_out = ort_cmd(ort, cmd, &reply, err, sizeof err) == 0;
        snprintf(cmd, sizeof cmd, "input %s", input_pb);
        have_ort_out = have_ort_out && ort_cmd(ort, cmd, &reply, err, sizeof err) == 0;
        have_ort_out = have_ort_out && ort_runs(ort, 1, NULL, err, sizeof err) == 0;
        snprintf(cmd, sizeof cmd, "output %s", ort_out);
        have_ort_out = have_ort_out && ort_cmd(ort, cmd, &reply, err, sizeof err) == 0;
        if (!have_ort_out) fprintf(stderr, "bench: %s: ONNX Runtime on the pruned model: %s\n", name, err);
    }
    if (have_ppcc) {
        row->ppcc_ok = 1;
        row->ppcc_ms = bench_median(pp_ms, timed);
        row->ppcc_min_ms = bench_min(pp_ms, timed);
        if (!ort_failed && n_pair > 0) row->paired = bench_median(pair, n_pair);
        row->rel_l2 = have_ort_out ? rel_l2_file(p->out[0], p->out_numel, ort_out) : NAN;
        char pp_out[1024];
        snprintf(pp_out, sizeof pp_out, "%s/%s.ppcc_t%d.pb", o->work_dir, name, T);
        int64_t dims[1] = {p->out_numel};
        Tensor *t = tensor_wrap(DT_F32, 1, dims, p->out[0]);
        Diag d = {{0}};
        onnx_tensor_write_file(pp_out, t, "output", &d);
        tensor_free(t);
    } else {
        snprintf(row->ppcc_reason, sizeof row->ppcc_reason, "%s",
                 row_reason[0] ? row_reason : p->reason);
    }
    char bg[32] = "n/a";
    if (!isnan(row->background_pct))
        snprintf(bg, sizeof bg, "%.0f%%", row->background_pct);
    printf("bench: %s, %d thread%s: background CPU %s, ORT median %.2f ms (min %.2f)", name, T,
           T == 1 ? "" : "s", bg, row->ort_ms, row->ort_min_ms);
    if (row->ppcc_ok)
        printf(", ppcc median %.2f ms (min %.2f), rel L2 %.2e, ORT/ppcc paired %.2f\n", row->ppcc_ms,
               row->ppcc_min_ms, row->rel_l2, row->paired);
    else
        printf(", ppcc: not available (%s)\n", row->ppcc_reason);
    free(ort_ms);
    free(pp_ms);
    free(pair);
    ppcrt_session_free(sess);
    return ort_failed ? -1 : 0;
}

/* ---------------------------------------------------------------- options */
static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench [options] [MODEL...]   (default: resnet18 mobilenet_v2 squeezenet1_1 vgg16)\n"
            "Benchmarks ppcc-compiled models against ONNX Runtime, alternating the two in one run.\n"
            "Latency ratios: of the medians, and paired (the median of each round's ratio of the\n"
            "two engines' batch medians); a latency target is met only when both reach it.\n"
            "MODEL@pR (e.g. resnet18@p0.72): the model pattern-pruned at connectivity R (ppcc --prune\n"
            "--admm-iters 0 --no-refit --connectivity R --tune) against ONNX Runtime on the dense model.\n"
            "  --models DIR        exported models: DIR/MODEL/model.onnx, test_data_set_0/*.pb (build/models)\n"
            "  --work DIR          compiled models, outputs and logs (build/bench)\n"
            "  --ppcc PATH         the compiler (build/bin/ppcc)\n"
            "  --node PATH         Node.js (node)\n"
            "  --runner PATH       the ONNX Runtime runner (bench/ort_runner.js)\n"
            "  --ort DIR           installed onnxruntime-node package\n"
            "                      (build/cache/ort/node_modules/onnxruntime-node; bench/setup.sh)\n"
            "  --fma-peak PATH     FMA peak micro-benchmark (build/bench/fma_peak)\n"
            "  --threads LIST      thread counts (1,2)\n"
            "  --runs N            timed runs per engine, model and thread count (30; at least 20 for\n"
            "                      published numbers)\n"
            "  --batch N           runs per alternating batch (5)\n"
            "  --warmup N          warm-up runs per engine before timing (5)\n"
            "  --compile-timeout S give up on a ppcc compile after S seconds (600)\n"
            "  --wait-idle S       before each model and thread count, wait up to S seconds for\n"
            "                      other processes to use < %d%% of the CPUs (0: no wait; default)\n"
            "  --no-pin            do not pin one-thread rows' engines to one CPU (see pin_engines)\n"
            "  --md FILE           write the Markdown report here (docs/benchmarks.md; '-' = none)\n"
            "  --command TEXT      the command to record in the report (default: this command line)\n",
            IDLE_PCT);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, Options *o)
{
    *o = (Options){.models_dir = "build/models", .work_dir = "build/bench", .ppcc = "build/bin/ppcc",
                   .node = "node", .runner = "bench/ort_runner.js",
                   .ort_pkg = "build/cache/ort/node_modules/onnxruntime-node",
                   .fma_peak = "build/bench/fma_peak", .md = "docs/benchmarks.md",
                   .threads = {1, 2}, .n_threads = 2, .runs = 30, .batch = 5, .warmup = 5,
                   .compile_timeout = 600, .wait_idle = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define STR_OPT(name, field) \
    if (!strcmp(a, name) && v) { o->field = v; i++; continue; }
        STR_OPT("--models", models_dir)
        STR_OPT("--work", work_dir)
        STR_OPT("--ppcc", ppcc)
        STR_OPT("--node", node)
        STR_OPT("--runner", runner)
        STR_OPT("--ort", ort_pkg)
        STR_OPT("--fma-peak", fma_peak)
        STR_OPT("--md", md)
        STR_OPT("--command", command)
#undef STR_OPT
        if (!strcmp(a, "--no-pin")) {
            o->no_pin = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if ((!strcmp(a, "--runs") && v && parse_int(v, 1, 100000, &o->runs) == 0) ||
            (!strcmp(a, "--batch") && v && parse_int(v, 1, 100000, &o->batch) == 0) ||
            (!strcmp(a, "--warmup") && v && parse_int(v, 0, 100000, &o->warmup) == 0)) {
            i++;
            continue;
        }
        if (!strcmp(a, "--compile-timeout") && v) {
            int s;
            if (parse_int(v, 1, 86400, &s) != 0)
                return fprintf(stderr, "bench: bad --compile-timeout '%s'\n", v), -1;
            o->compile_timeout = s;
            i++;
            continue;
        }
        if (!strcmp(a, "--wait-idle") && v) {
            int s;
            if (parse_int(v, 0, 86400, &s) != 0)
                return fprintf(stderr, "bench: bad --wait-idle '%s'\n", v), -1;
            o->wait_idle = s;
            i++;
            continue;
        }
        if (!strcmp(a, "--threads") && v) {
            o->n_threads = 0;
            char buf[128];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (o->n_threads == MAX_THREADS_LIST ||
                    parse_int(tok, 1, PPCRT_MAX_THREADS, &o->threads[o->n_threads++]) != 0)
                    return fprintf(stderr, "bench: bad --threads '%s'\n", v), -1;
            }
            if (!o->n_threads)
                return fprintf(stderr, "bench: bad --threads '%s'\n", v), -1;
            i++;
            continue;
        }
        if (a[0] == '-')
            return fprintf(stderr, "bench: unknown option or missing value: %s\n", a), -1;
        if (o->n_models == MAX_MODELS)
            return fprintf(stderr, "bench: too many models\n"), -1;
        o->models[o->n_models++] = a;
    }
    if (!o->n_models) {
        static const char *dflt[] = {"resnet18", "mobilenet_v2", "squeezenet1_1", "vgg16"};
        for (int k = 0; k < 4; k++)
            o->models[o->n_models++] = dflt[k];
    }
    return 0;
}

static int mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_markdown(const char *path, const BenchInfo *info, const BenchModel *models,
                          int n_models, const BenchRow *rows, int n_rows)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    bench_print_markdown(f, info, models, n_models, rows, n_rows);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- main */
int main(int argc, char **argv)
{
    Options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead runner shows up as a failed write, not a signal */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mkdirs(o.work_dir) != 0) {
        fprintf(stderr, "bench: cannot create %s: %s\n", o.work_dir, strerror(errno));
        return 1;
    }

    static BenchInfo info;
    info.warmup = o.warmup;
    info.runs = o.runs;
    info.batch = o.batch;
    info.wait_idle = o.wait_idle;
    size_t dl = 0; /* the command line, arguments with spaces quoted */
    for (int i = 0; i < argc && dl + 2 < sizeof info.driver; i++) {
        const char *q = argv[i][strcspn(argv[i], " \t'")] ? "\"" : "";
        dl += (size_t)snprintf(info.driver + dl, sizeof info.driver - dl, "%s%s%s%s",
                               i ? " " : "", q, argv[i], q);
    }
    snprintf(info.command, sizeof info.command, "%.500s", o.command ? o.command : info.driver);
    info.load_before = loadavg();
    machine_info(&o, &info);
    fma_peak(&o, &info);

    OrtClient ort;
    char err[512];
    const char *reply;
    if (ort_start(&ort, o.node, o.runner, o.ort_pkg, err, sizeof err) != 0 ||
        ort_cmd(&ort, "version", &reply, err, sizeof err) != 0) {
        fprintf(stderr, "bench: cannot start ONNX Runtime (%s %s --ort %s): %s\n"
                        "bench: run bench/setup.sh first (make bench does)\n",
                o.node, o.runner, o.ort_pkg, err);
        ort_stop(&ort);
        return 1;
    }
    snprintf(info.ort_version, sizeof info.ort_version, "%s",
             !strncmp(reply, "version ", 8) ? reply + 8 : reply);
    printf("bench: ONNX Runtime %s, ppcc %s, %s, %d CPUs\n", info.ort_version, info.ppcc_version,
           info.cpu, info.cpus);

    static BenchModel models[MAX_MODELS];
    static BenchRow rows[MAX_MODELS * MAX_THREADS_LIST];
    int n_models = 0, n_rows = 0, failed = 0;
    for (int mi = 0; mi < o.n_models; mi++) {
        const char *name = o.models[mi];
        /* NAME@pR: model NAME pattern-pruned at connectivity R */
        char base[256], conn_buf[32];
        const char *conn = NULL, *at = strstr(name, "@p");
        snprintf(base, sizeof base, "%.*s", at ? (int)(at - name) : (int)strlen(name), name);
        if (at) {
            snprintf(conn_buf, sizeof conn_buf, "%s", at + 2);
            conn = conn_buf;
        }
        char onnx[1024], input_pb[1024], ref_pb[1024];
        snprintf(onnx, sizeof onnx, "%s/%s/model.onnx", o.models_dir, base);
        snprintf(input_pb, sizeof input_pb, "%s/%s/test_data_set_0/input_0.pb", o.models_dir, base);
        snprintf(ref_pb, sizeof ref_pb, "%s/%s/test_data_set_0/output_0.pb", o.models_dir, base);
        BenchModel *m = &models[n_models];
        memset(m, 0, sizeof *m);
        m->name = name;
        m->ort_vs_ref = NAN;
        m->ort_create_ms = NAN;

        double macs = 0;
        int layers = 0;
        if (bench_count_macs(onnx, &macs, &layers, err, sizeof err) != 0) {
            fprintf(stderr, "bench: %s: %s: %s (export it with tests/models/export.py)\n", name,
                    onnx, err);
            failed = 1;
            continue;
        }
        m->gmacs = macs / 1e9;
        Tensor *input = NULL;
        Diag d = {{0}};
        if (onnx_tensor_read_file(input_pb, &input, NULL, &d) != 0 || input->dtype != DT_F32) {
            fprintf(stderr, "bench: %s: %s: %s\n", name, input_pb, d.msg[0] ? d.msg : "not float");
            tensor_free(input);
            failed = 1;
            continue;
        }
        n_models++;
        printf("bench: %s: %.3f GMACs in %d Conv/Gemm/MatMul layers\n", name, m->gmacs, layers);

        Ppcc p;
        memset(&p, 0, sizeof p);
        ppcc_prepare(&o, name, onnx, conn, input, m, &p);
        if (p.reason[0])
            printf("bench: %s: ppcc: not available (%s)\n", name, p.reason);
        else
            printf("bench: %s: compiled in %.2f s (%.1f MB)\n", name, m->compile_s, m->so_mb);
        char pruned[1100] = "";
        if (conn && !p.reason[0]) {
            /* the work counted for a pruned model: its non-zero MACs */
            snprintf(pruned, sizeof pruned, "%s/%s.pruned.onnx", o.work_dir, name);
            double nz = 0;
            if (bench_count_macs_nonzero(pruned, &nz, err, sizeof err) == 0) {
                m->dense_gmacs = m->gmacs;
                m->gmacs = nz / 1e9;
                printf("bench: %s: %.3f GMACs non-zero of %.3f dense\n", name, m->gmacs, m->dense_gmacs);
            } else {
                fprintf(stderr, "bench: %s: %s: %s\n", name, pruned, err);
            }
        }

        for (int ti = 0; ti < o.n_threads; ti++) {
            BenchRow *r = &rows[n_rows++];
            memset(r, 0, sizeof *r);
            r->model = name;
            r->gmacs = m->gmacs;
            r->threads = o.threads[ti];
            r->rel_l2 = NAN;
            r->paired = NAN;
            r->background_pct = NAN;
            r->cpu = -2;
            r->ort_ms = r->ort_min_ms = r->ppcc_ms = r->ppcc_min_ms = NAN;
            r->peak_gflops = peak_for(&info, r->threads);
            if (measure_row(&o, &ort, name, onnx, pruned[0] ? pruned : NULL, input_pb, ref_pb, &p, m, r,
                            ti == 0) != 0)
                failed = 1;
        }
        int has1 = 0, has2 = 0;
        for (int ti = 0; ti < o.n_threads; ti++) has1 |= o.threads[ti] == 1, has2 |= o.threads[ti] == 2;
        if (has1 && has2) measure_scaling(&o, &ort, name, &p, m);
        ort_cmd(&ort, "unload", &reply, err, sizeof err);
        ppcc_release(&p);
        tensor_free(input);
    }
    ort_stop(&ort);
    info.load_after = loadavg();

    bench_print_text(stdout, &info, models, n_models, rows, n_rows);
    if (strcmp(o.md, "-") != 0) {
        if (write_markdown(o.md, &info, models, n_models, rows, n_rows) != 0) {
            fprintf(stderr, "bench: cannot write %s: %s\n", o.md, strerror(errno));
            return 1;
        }
        printf("\nbench: wrote %s\n", o.md);
    }
    return failed;
}
