/* fma_peak.c — measures the machine's fp32 fused-multiply-add peak, the 100% that the benchmark's
 * "% of peak" column is a fraction of. Each thread runs NCHAIN independent FMA dependency chains
 * on the widest vectors the compiler targets (build with -O2 -march=native: AVX-512 -> 16 floats,
 * AVX2+FMA -> 8, AArch64 NEON -> 4, else scalar fmaf), enough chains to cover FMA latency times
 * the number of FMA units, written out by hand so the accumulators stay in registers. The
 * multiplier and addend come from volatile globals and the accumulators are summed into a
 * volatile sink and printed, so the compiler can neither fold nor drop the work (check with
 * `objdump -d`: the loop is a run of vfmadd...ps on zmm registers on an AVX-512 host).
 *
 * The machine is shared (other processes, a hypervisor), so each thread divides its flops by its
 * own CPU time (CLOCK_THREAD_CPUTIME_ID): time it spent preempted does not count, and the peak of
 * T threads is the sum of their rates; the best of 10 trials is kept. The wall-clock rate (all
 * threads' flops over the elapsed time) is printed too; it is lower when the CPUs were shared.
 *
 *   usage: fma_peak [--threads LIST] [--seconds S]     (defaults: 1,2 and 0.2 s per trial)
 *   prints "fma_peak: isa=NAME lanes=L chains=C" and one line per thread count:
 *          "fma_peak threads=T gflops=G wall_gflops=W"   (1 FMA = 2 flops)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define ISA "avx512"
#define LANES 16
typedef __m512 vec;
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
static float vsum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX__) && defined(__FMA__)
#include <immintrin.h>
#define ISA "avx2+fma"
#define LANES 8
typedef __m256 vec;
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float vsum(vec v)
{
    float f[8];
    _mm256_storeu_ps(f, v);
    return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define ISA "neon"
#define LANES 4
typedef float32x4_t vec;
#define VSET1(x) vdupq_n_f32(x)
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
static float vsum(vec v) { return vaddvq_f32(v); }
#else
#define ISA "scalar"
#define LANES 1
typedef float vec;
#define VSET1(x) (x)
#define VFMA(a, b, c) __builtin_fmaf(a, b, c)
static float vsum(vec v) { return v; }
#endif

/* 16 chains: >= 2 FMA units x 4-5 cycles latency on current x86 and ARM cores, and 16 + 2
 * vector registers fit the 32 of AVX-512 and NEON (AVX2 has 16; a spill or two there costs
 * little against 16 FMAs per iteration). */
#define NCHAIN 16
#define FOR_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

/* acc = acc * m + a converges to a / (1 - m) = 1: no overflow, no denormals. */
static volatile float g_mul = 0.999999f;
static volatile float g_add = 1e-6f;
static volatile float g_sink;

/* Run `iters` iterations of NCHAIN independent FMAs; returns the sum so the work is used. */
static float fma_chains(long iters, float seed)
{
    const vec m = VSET1(g_mul), a = VSET1(g_add);
#define DECL(k) vec acc##k = VSET1(seed + 0.001f * (float)(k));
    FOR_CHAINS(DECL)
#undef DECL
    for (long i = 0; i < iters; i++) {
#define STEP(k) acc##k = VFMA(acc##k, m, a);
        FOR_CHAINS(STEP)
#undef STEP
    }
    float s = 0;
#define SUM(k) s += vsum(acc##k);
    FOR_CHAINS(SUM)
#undef SUM
    return s;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct Worker {
    pthread_t tid;
    pthread_barrier_t *start;
    long iters;
    float seed, result;
    double cpu_s; /* the thread's CPU time for the chains */
} Worker;

static void *worker_main(void *arg)
{
    Worker *w = arg;
    pthread_barrier_wait(w->start);
    double t0 = thread_cpu_now();
    w->result = fma_chains(w->iters, w->seed);
    w->cpu_s = thread_cpu_now() - t0;
    return NULL;
}

/* One trial: `threads` threads each run fma_chains(iters). Returns the wall seconds (-1 if a
 * thread cannot be made) and puts the sum of the threads' own rates (flops / CPU second, in
 * GFLOP/s) into *cpu_gflops. */
static double trial(int threads, long iters, double *cpu_gflops)
{
    Worker *w = calloc((size_t)threads, sizeof *w);
    pthread_barrier_t start;
    if (!w || pthread_barrier_init(&start, NULL, (unsigned)threads + 1) != 0) {
        free(w);
        return -1;
    }
    int made = 0;
    for (; made < threads; made++) {
        w[made].start = &start;
        w[made].iters = iters;
        w[made].seed = 0.5f + 0.01f * (float)made;
        if (pthread_create(&w[made].tid, NULL, worker_main, &w[made]) != 0)
            break;
    }
    if (made < threads) {
        /* Threads already started wait on the barrier forever; this is a fatal setup error. */
        fprintf(stderr, "fma_peak: cannot create thread %d\n", made);
        exit(1);
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    float s = 0;
    double rate = 0;
    for (int k = 0; k < threads; k++) {
        pthread_join(w[k].tid, NULL);
        s += w[k].result;
    }
    double t = now() - t0;
    for (int k = 0; k < threads; k++)
        rate += 2.0 * NCHAIN * LANES * (double)iters / (w[k].cpu_s > 0 ? w[k].cpu_s : t) / 1e9;
    if (cpu_gflops)
        *cpu_gflops = rate;
    g_sink = s;
    pthread_barrier_destroy(&start);
    free(w);
    return t;
}

#define TRIALS 10

/* Best per-CPU-time and wall GFLOP/s of TRIALS trials of about `seconds` each (after calibrating
 * the iteration count). Returns -1 if threads cannot be made. */
static int measure(int threads, double seconds, double *best_cpu, double *best_wall)
{
    long iters = 1 << 16;
    for (;;) { /* calibrate on one thread: double until a run takes >= 20 ms */
        double t = trial(1, iters, NULL);
        if (t < 0)
            return -1;
        if (t >= 0.02) {
            iters = (long)((double)iters * seconds / t) + 1;
            break;
        }
        iters *= 2;
    }
    *best_cpu = *best_wall = 0;
    for (int r = 0; r < TRIALS; r++) {
        double cpu;
        double t = trial(threads, iters, &cpu);
        if (t <= 0)
            return -1;
        double wall = 2.0 * NCHAIN * LANES * (double)iters * threads / t / 1e9;
        if (wall > *best_wall)
            *best_wall = wall;
        if (cpu > *best_cpu)
            *best_cpu = cpu;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: fma_peak [--threads LIST] [--seconds S]   (e.g. --threads 1,2)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *list = "1,2";
    double seconds = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            list = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds > 0 && seconds <= 60))
                usage();
        } else
            usage();
    }
    printf("fma_peak: isa=%s lanes=%d chains=%d\n", ISA, LANES, NCHAIN);
    fflush(stdout);
    const char *p = list;
    while (*p) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > 1024 || (*end && *end != ','))
            usage();
        double cpu, wall;
        if (measure((int)t, seconds, &cpu, &wall) != 0) {
            fprintf(stderr, "fma_peak: thread setup failed\n");
            return 1;
        }
        printf("fma_peak threads=%ld gflops=%.1f wall_gflops=%.1f\n", t, cpu, wall);
        fflush(stdout);
        p = *end ? end + 1 : end;
    }
    printf("fma_peak: checksum %g\n", (double)g_sink);
    return 0;
}
