/* conv_bench.c — microbenchmark of the native convolution kernels (codegen/kernels/conv.h,
 * conv_dw.h) on every distinct conv layer of resnet18 and vgg16 (224x224, batch 1) and the
 * samples of mobilenet_v2 and squeezenet1_1 layers (marked *), planned and packed exactly as the lowering does
 * (codegen/pack.c), single-threaded by default.
 *
 * Prints per layer: the kernel instance and tile, the median time in ms, GFLOP/s (2 flops per
 * multiply-add of the logical conv, padded channels not counted) and the fraction of the FMA
 * peak, which is measured first by a loop of independent 16-lane FMA chains (so it reflects
 * the clock the machine actually runs at). Single-threaded times are thread CPU times (robust on
 * a shared machine); the median and the minimum of the repeats are shown. Then the per-network totals (each layer times the
 * number of times it occurs).
 *
 *   conv_bench [--threads N] [--layer SUBSTR] [--tile OCxT] [--sweep] [--min-time SEC]
 *              [--chunk N] [--ppi N] [--dw-direct] [--model FILE.onnx [--own-tiles]]
 *     --model    instead of the built-in list: every blocked Conv of the model after ppcc's code
 *                generation passes, as lowered (schedule pass tiles; --own-tiles: the planner's)
 *     --sweep    time every compiled tile on each layer (to tune the planner's cost model)
 *     --chunk, --ppi, --dw-direct: override the planner's input-block chunk, pixels per work
 *                item, depthwise zero-padded-copy path (experiments)
 *
 * Build: make conv-bench (clang-16 -O3 -march=native, the code the LLVM pipeline also gets).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/kernels/conv.h"
#include "codegen/kernels/conv_dw.h"
#include "codegen/kernels/conv_lookup.h"
#include "codegen/lowering.h"
#include "codegen/pack.h"
#include "frontends/onnx/onnx.h"
#include "passes/passes.h"

int cg_lower_conv(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);


static const int tile_shapes[][2] = {
#define SH(OC, T, ...) {OC, T},
    KCONV_SHAPES(SH, )
#undef SH
};

/* ------------------------------------------------------------------ layers */
typedef struct Layer {
    const char *net, *name;
    int count; /* occurrences in the network */
    int ic, hw, oc, k, s, p, group;
    int plain, residual;
} Layer;

static const Layer layers[] = {
    {"resnet18", "conv1 7x7/2 3->64", 1, 3, 224, 64, 7, 2, 3, 1, 1, 0},
    {"resnet18", "l1 3x3 64->64 @56", 4, 64, 56, 64, 3, 1, 1, 1, 0, 0},
    {"resnet18", "l2 3x3/2 64->128", 1, 64, 56, 128, 3, 2, 1, 1, 0, 0},
    {"resnet18", "l2 3x3 128->128 @28", 3, 128, 28, 128, 3, 1, 1, 1, 0, 0},
    {"resnet18", "l2 1x1/2 64->128", 1, 64, 56, 128, 1, 2, 0, 1, 0, 0},
    {"resnet18", "l3 3x3/2 128->256", 1, 128, 28, 256, 3, 2, 1, 1, 0, 0},
    {"resnet18", "l3 3x3 256->256 @14", 3, 256, 14, 256, 3, 1, 1, 1, 0, 0},
    {"resnet18", "l3 1x1/2 128->256", 1, 128, 28, 256, 1, 2, 0, 1, 0, 0},
    {"resnet18", "l4 3x3/2 256->512", 1, 256, 14, 512, 3, 2, 1, 1, 0, 0},
    {"resnet18", "l4 3x3 512->512 @7", 3, 512, 7, 512, 3, 1, 1, 1, 0, 0},
    {"resnet18", "l4 1x1/2 256->512", 1, 256, 14, 512, 1, 2, 0, 1, 0, 0},
    {"vgg16", "c1 3x3 3->64 @224", 1, 3, 224, 64, 3, 1, 1, 1, 1, 0},
    {"vgg16", "c2 3x3 64->64 @224", 1, 64, 224, 64, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c3 3x3 64->128 @112", 1, 64, 112, 128, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c4 3x3 128->128 @112", 1, 128, 112, 128, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c5 3x3 128->256 @56", 1, 128, 56, 256, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c6 3x3 256->256 @56", 2, 256, 56, 256, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c8 3x3 256->512 @28", 1, 256, 28, 512, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c9 3x3 512->512 @28", 2, 512, 28, 512, 3, 1, 1, 1, 0, 0},
    {"vgg16", "c11 3x3 512->512 @14", 3, 512, 14, 512, 3, 1, 1, 1, 0, 0},
    {"mobilenet_v2*", "dw 3x3 32 @112", 1, 32, 112, 32, 3, 1, 1, 32, 0, 0},
    {"mobilenet_v2*", "dw 3x3/2 96 @112", 1, 96, 112, 96, 3, 2, 1, 96, 0, 0},
    {"mobilenet_v2*", "dw 3x3 144 @56", 1, 144, 56, 144, 3, 1, 1, 144, 0, 0},
    {"mobilenet_v2*", "dw 3x3 192 @28", 2, 192, 28, 192, 3, 1, 1, 192, 0, 0},
    {"mobilenet_v2*", "dw 3x3 576 @14", 2, 576, 14, 576, 3, 1, 1, 576, 0, 0},
    {"mobilenet_v2*", "dw 3x3 960 @7", 2, 960, 7, 960, 3, 1, 1, 960, 0, 0},
    {"mobilenet_v2*", "pw 1x1 144->24 @56", 1, 144, 56, 24, 1, 1, 0, 1, 0, 1},
    {"mobilenet_v2*", "pw 1x1 24->144 @56", 1, 24, 56, 144, 1, 1, 0, 1, 0, 0},
    {"mobilenet_v2*", "pw 1x1 96->576 @14", 2, 96, 14, 576, 1, 1, 0, 1, 0, 0},
    {"mobilenet_v2*", "pw 1x1 960->320 @7", 1, 960, 7, 320, 1, 1, 0, 1, 0, 0},
    {"squeezenet1_1*", "conv1 3x3/2 3->64 p0", 1, 3, 224, 64, 3, 2, 0, 1, 1, 0},
    {"squeezenet1_1*", "squeeze 1x1 128->16 @55", 1, 128, 55, 16, 1, 1, 0, 1, 0, 0},
    {"squeezenet1_1*", "expand 3x3 16->64 @55", 1, 16, 55, 64, 3, 1, 1, 1, 0, 0},
    {"squeezenet1_1*", "classifier 1x1 512->1000", 1, 512, 13, 1000, 1, 1, 0, 1, 0, 0},
};

/* ------------------------------------------------------------------ timing */
/* Single-threaded runs are timed by the thread's CPU time, which does not advance while other
 * processes have the core (the reference machine is shared); multi-threaded ones by wall time. */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static double now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Peak f32 FMA throughput of one core in GFLOP/s: 16 independent chains of 16-lane FMAs. */
static double __attribute__((noinline)) fma_chains(int64_t iters, float seed)
{
    kc_v16 acc[16], a = kc_splat(0.999999f), b = kc_splat(seed);
    for (int k = 0; k < 16; k++) acc[k] = kc_splat(seed + (float)k);
    for (int64_t i = 0; i < iters; i++) {
        for (int k = 0; k < 16; k++) acc[k] = acc[k] * a + b;
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]), "+v"(acc[4]),
                         "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]));
        __asm__ volatile("" : "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]), "+v"(acc[12]),
                         "+v"(acc[13]), "+v"(acc[14]), "+v"(acc[15]));
    }
    float s = 0;
    for (int k = 0; k < 16; k++) s += acc[k][0];
    return s;
}

/* The best of many short runs: on a shared machine some of them get the core to themselves. */
static double measure_peak(void)
{
    int64_t iters = 100 * 1000;
    double best = 0, sink = 0;
    for (int r = 0; r < 400; r++) {
        double t0 = now();
        sink += fma_chains(iters, 1e-3f * (float)r);
        double t = now() - t0, g = 16.0 * 16 * 2 * (double)iters / t * 1e-9;
        if (g > best) best = g;
    }
    if (sink == 12345.0) printf(" ");
    return best;
}

/* ------------------------------------------------------------------ running a kernel */
typedef struct Job {
    KConvRangeFn fn;
    const void *params;
    void *const *bufs;
    int64_t begin, end;
} Job;

static void *job_run(void *arg)
{
    Job *j = arg;
    j->fn(j->params, j->bufs, j->begin, j->end);
    return NULL;
}

static void run_kernel(KConvRangeFn fn, const void *params, void *const *bufs, int64_t n, int threads)
{
    if (threads <= 1) {
        fn(params, bufs, 0, n);
        return;
    }
    pthread_t th[16];
    Job jobs[16];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (Job){fn, params, bufs, n * t / threads, n * (t + 1) / threads};
        if (t) pthread_create(&th[t], NULL, job_run, &jobs[t]);
    }
    job_run(&jobs[0]);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
}

static float *alloc_rand(size_t n, unsigned *seed)
{
    float *p = NULL;
    if (posix_memalign((void **)&p, 64, (n ? n : 1) * sizeof(float))) abort();
    for (size_t i = 0; i < n; i++) p[i] = (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
    return p;
}

/* Planner overrides for experiments (0 = as planned). */
static int force_chunk, force_ppi, force_dw_direct;

typedef struct Result {
    double ms, ms_min, gflops, gflops_best;
    double eff; /* median fraction of the FMA peak measured right after each repeat */
    char note[128];
} Result;

/* Plan (optionally forcing a tile), pack, time one layer. Returns 0 if not plannable. */
static int bench_layer(const Layer *L, int oc_tile, int ow_tile, int threads, double min_time, Result *res)
{
    int64_t oh = (L->hw + 2 * L->p - L->k) / L->s + 1;
    CgConvDesc c = {.n = 1, .ic = L->ic, .ih = L->hw, .iw = L->hw, .oc = L->oc, .oh = oh, .ow = oh,
                    .kh = L->k, .kw = L->k, .sh = L->s, .sw = L->s, .dh = 1, .dw = 1, .ph = L->p, .pw = L->p,
                    .group = L->group, .blocked_in = !L->plain, .act = KC_ACT_RELU, .alpha = 0, .beta = 0,
                    .has_res = L->residual, .oc_tile = oc_tile, .ow_tile = ow_tile};
    CgTarget tg = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1};
    CgConvPlan plan;
    if (!cg_conv_plan(&c, &tg, &plan)) return 0;
    if (oc_tile && (plan.depthwise || plan.conv.oc_tile != oc_tile || plan.conv.ow_tile != ow_tile)) return 0;
    if (!plan.depthwise && force_chunk) plan.conv.icb_chunk = force_chunk < plan.conv.icb_g ? force_chunk : plan.conv.icb_g;
    if (!plan.depthwise && force_ppi) {
        KConvParams *q = &plan.conv;
        q->pix_per_item = force_ppi;
        q->n_pg = ((int64_t)q->oh * q->ow + force_ppi - 1) / force_ppi;
        plan.n_work = q->n_work = q->n_og * q->n_pg;
    }
    if (plan.depthwise && force_dw_direct && plan.dw.scr_rows) {
        KDwParams *d = &plan.dw;
        d->scr_rows = d->scr_w = 0;
        d->pix_per_item = d->ow >= d->tile ? d->ow : d->ow * ((d->tile + d->ow - 1) / d->ow);
        d->n_pg = ((int64_t)d->oh * d->ow + d->pix_per_item - 1) / d->pix_per_item;
        plan.n_work = d->n_work = d->n_cb * d->n_pg;
    }
    KConvRangeFn fn = kconv_find_range(plan.range_fn);
    if (!fn) {
        fprintf(stderr, "conv_bench: no kernel %s\n", plan.range_fn);
        exit(1);
    }
    unsigned seed = 1;
    int64_t icb = (L->ic + 15) / 16, ocb = (L->oc + 15) / 16;
    size_t nx = L->plain ? (size_t)L->ic * L->hw * L->hw : (size_t)icb * 16 * L->hw * L->hw;
    size_t ny = (size_t)ocb * 16 * oh * oh;
    size_t nw = (size_t)L->oc * (L->ic / L->group) * L->k * L->k;
    float *x = alloc_rand(nx, &seed), *w = alloc_rand(nw, &seed), *b = alloc_rand((size_t)L->oc, &seed);
    float *r = L->residual ? alloc_rand(ny, &seed) : NULL, *y = alloc_rand(ny, &seed);
    float *wp = alloc_rand(plan.w_floats, &seed), *bp = alloc_rand(plan.b_floats, &seed);
    cg_conv_pack_weights(&c, &plan, w, wp);
    cg_conv_pack_bias(&c, &plan, b, bp);
    void *bufs[5] = {x, wp, bp, r, y};
    const void *params = plan.depthwise ? (const void *)&plan.dw : (const void *)&plan.conv;
    /* Each repeat is followed by a short FMA-chain run: the ratio of the two speeds is the
     * fraction of peak at the clock of that moment (the clock moves with the other core's load). */
    double times[1000], effs[1000], sink = 0;
    int n = 0;
    double flops = 2.0 * (double)L->oc * (double)(L->ic / L->group) * L->k * L->k * (double)(oh * oh);
    double start = wall();
    run_kernel(fn, params, bufs, plan.n_work, threads); /* warm-up */
    while (n < 1000 && (n < 5 || wall() - start < min_time)) {
        double t0 = now();
        run_kernel(fn, params, bufs, plan.n_work, threads);
        double t1 = now();
        sink += fma_chains(50000, 1e-3f);
        double t2 = now();
        times[n] = t1 - t0;
        effs[n++] = (flops / (t1 - t0)) / (16.0 * 16 * 2 * 50000 / (t2 - t1) * threads);
    }
    if (sink == 12345.0) printf(" ");
    qsort(times, (size_t)n, sizeof times[0], cmp_double);
    qsort(effs, (size_t)n, sizeof effs[0], cmp_double);
    double t = times[n / 2];
    res->ms = t * 1e3;
    res->ms_min = times[0] * 1e3;
    res->gflops = flops / t * 1e-9;
    res->gflops_best = flops / times[0] * 1e-9;
    res->eff = effs[n / 2];
    snprintf(res->note, sizeof res->note, "%s", plan.note);
    free(x), free(w), free(b), free(r), free(y), free(wp), free(bp);
    return 1;
}

/* ------------------------------------------------------------------ a whole model */
/* Every blocked Conv of an ONNX model after ppcc's code generation passes, lowered by
 * cg_lower_conv (with the schedule pass's tiles, or the planner's own with own_tiles) and timed
 * like the layers above. */
static int bench_model(const char *path, int own_tiles, int threads, double min_time, double peak)
{
    Diag d = {{0}};
    Graph *g = onnx_import_file(path, NULL, &d);
    if (!g) {
        fprintf(stderr, "conv_bench: %s\n", d.msg);
        return 1;
    }
    PassContext pc;
    pass_context_init(&pc);
    pc.target_vector_bits = 512, pc.target_vregs = 32;
    if (pass_pipeline_run(g, pass_codegen_pipeline(), &pc, &d)) {
        fprintf(stderr, "conv_bench: %s\n", d.msg);
        ir_graph_free(g);
        return 1;
    }
    CgTarget tg = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1};
    double total_ms = 0, total_norm = 0, total_flop = 0;
    unsigned seed = 1;
    printf("%-40s %-38s %8s %8s %7s %6s\n", "node", "kernel", "ms(med)", "ms(min)", "GF/s", "peak*");
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || n->op != OP_CONV) continue;
        if (own_tiles) {
            ir_node_remove_attr(g, i, "sched_oc_tile");
            ir_node_remove_attr(g, i, "sched_ow_tile");
        }
        CgKernelCall call;
        int rc = cg_lower_conv(g, n, &tg, &call, &d);
        if (rc != 1) {
            printf("%-40.40s (not native%s%s)\n", n->name, rc < 0 ? ": " : "", rc < 0 ? d.msg : "");
            continue;
        }
        KConvRangeFn fn = kconv_find_range(call.range_fn);
        void *bufs[CG_MAX_BUFS];
        void *owned[CG_MAX_BUFS];
        int n_owned = 0;
        for (int k = 0; k < call.n_bufs; k++) {
            const CgBuf *b = &call.bufs[k];
            bufs[k] = NULL;
            if (b->kind == CG_BUF_BLOB) bufs[k] = call.blobs[b->blob];
            if (b->kind == CG_BUF_VALUE)
                bufs[k] = owned[n_owned++] = alloc_rand((size_t)ir_value_numel(&g->values[b->value]), &seed);
        }
        const Value *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
        int64_t group = ir_attr_int(n, "group", 1);
        /* logical MACs: OC * IC/group * KH * KW * N * OH * OW */
        double flops = 2.0 * (double)w->dims[0] * (double)w->dims[1] * (double)(w->dims[2] * w->dims[3]) *
                       (double)(y->dims[0] * y->dims[2] * y->dims[3]);
        (void)group;
        double times[1000], effs[1000], sink = 0;
        int cnt = 0;
        double start = wall();
        run_kernel(fn, call.params, bufs, call.n_work, threads);
        while (cnt < 1000 && (cnt < 5 || wall() - start < min_time)) {
            double t0 = now();
            run_kernel(fn, call.params, bufs, call.n_work, threads);
            double t1 = now();
            sink += fma_chains(50000, 1e-3f);
            double t2 = now();
            times[cnt] = t1 - t0;
            effs[cnt++] = (flops / (t1 - t0)) / (16.0 * 16 * 2 * 50000 / (t2 - t1) * threads);
        }
        if (sink == 12345.0) printf(" ");
        qsort(times, (size_t)cnt, sizeof times[0], cmp_double);
        qsort(effs, (size_t)cnt, sizeof effs[0], cmp_double);
        double ms = times[cnt / 2] * 1e3, eff = effs[cnt / 2];
        printf("%-40.40s %-38.38s %8.3f %8.3f %7.1f %5.1f%%\n", n->name, call.note, ms, times[0] * 1e3,
               flops / times[cnt / 2] * 1e-9, 100 * eff);
        total_ms += ms;
        total_flop += flops;
        total_norm += flops / eff;
        for (int k = 0; k < n_owned; k++) free(owned[k]);
        cg_call_free(&call);
    }
    printf("\nall native convs: %.2f ms median, %.1f GFLOP/s, %.1f%% of peak, %.1f%% peak*\n", total_ms,
           total_flop / (total_ms * 1e-3) * 1e-9, 100 * total_flop / (total_ms * 1e-3) * 1e-9 / peak,
           100 * total_flop / total_norm);
    ir_graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 1, sweep = 0, oc_tile = 0, ow_tile = 0;
    const char *only = NULL, *model = NULL;
    int own_tiles = 0;
    double min_time = 0.3;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--layer") && a + 1 < argc)
            only = argv[++a];
        else if (!strcmp(argv[a], "--tile") && a + 1 < argc)
            sscanf(argv[++a], "%dx%d", &oc_tile, &ow_tile);
        else if (!strcmp(argv[a], "--chunk") && a + 1 < argc)
            force_chunk = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--model") && a + 1 < argc)
            model = argv[++a];
        else if (!strcmp(argv[a], "--own-tiles"))
            own_tiles = 1;
        else if (!strcmp(argv[a], "--dw-direct"))
            force_dw_direct = 1;
        else if (!strcmp(argv[a], "--ppi") && a + 1 < argc)
            force_ppi = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--sweep"))
            sweep = 1;
        else if (!strcmp(argv[a], "--min-time") && a + 1 < argc)
            min_time = atof(argv[++a]);
        else {
            fprintf(stderr, "usage: conv_bench [--threads N] [--layer SUBSTR] [--tile OCxT] [--sweep] [--min-time SEC]\n"
                            "                  [--chunk N] [--ppi N] [--dw-direct] [--model FILE.onnx [--own-tiles]]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 16) threads = 1;
    if (threads > 1) bench_clock = CLOCK_MONOTONIC;
    double peak = measure_peak() * threads;
    printf("FMA peak (measured, %d thread%s): %.1f GFLOP/s\n\n", threads, threads > 1 ? "s" : "", peak);
    if (model) return bench_model(model, own_tiles, threads, min_time, peak);
    double load = 0;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = 0;
        fclose(lf);
    }
    if (load > 1.0)
        printf("note: load average %.2f — other processes share the cores; the min columns estimate\n"
               "      the undisturbed speed\n\n", load);
    printf("%-13s %-24s %-32s %8s %8s %7s %6s %6s\n", "net", "layer", "kernel", "ms(med)", "ms(min)", "GF/s",
           "peak", "peak*");
    const char *nets[] = {"resnet18", "vgg16", "mobilenet_v2*", "squeezenet1_1*"};
    double net_ms[4] = {0}, net_ms_min[4] = {0}, net_flop[4] = {0}, net_norm[4] = {0};
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++) {
        const Layer *L = &layers[k];
        if (only && !strstr(L->name, only) && !strstr(L->net, only)) continue;
        Result r;
        if (sweep) {
            for (size_t s = 0; s < sizeof tile_shapes / sizeof tile_shapes[0]; s++)
                if (bench_layer(L, tile_shapes[s][0], tile_shapes[s][1], threads, min_time / 3, &r))
                    printf("%-13s %-24s %-32s %8.3f %8.3f %7.1f %5.1f%% %5.1f%%\n", L->net, L->name, r.note, r.ms,
                           r.ms_min, r.gflops, 100 * r.gflops / peak, 100 * r.eff);
        }
        if (!bench_layer(L, oc_tile, ow_tile, threads, min_time, &r)) {
            printf("%-13s %-24s (no such tile)\n", L->net, L->name);
            continue;
        }
        printf("%-13s %-24s %-32s %8.3f %8.3f %7.1f %5.1f%% %5.1f%%%s\n", L->net, L->name, r.note, r.ms, r.ms_min,
               r.gflops, 100 * r.gflops / peak, 100 * r.eff, sweep ? "  <- planned" : "");
        for (int nn = 0; nn < 4; nn++)
            if (!strcmp(L->net, nets[nn])) {
                double fl = r.gflops * 1e9 * r.ms * 1e-3;
                net_ms[nn] += r.ms * L->count;
                net_ms_min[nn] += r.ms_min * L->count;
                net_flop[nn] += fl * L->count;
                net_norm[nn] += fl / r.eff * L->count; /* flops at peak speed */
            }
    }
    printf("\npeak: fraction of the FMA peak measured at the start; peak*: median over the repeats of\n"
           "the fraction of an FMA-chain run right after each repeat (robust to clock changes)\n\n");
    for (int nn = 0; nn < 4; nn++)
        if (net_ms[nn] > 0)
            printf("%-13s listed convs x occurrences: %8.2f ms median (min %.2f), %6.1f GFLOP/s, %5.1f%% of peak, "
                   "%5.1f%% peak*\n",
                   nets[nn], net_ms[nn], net_ms_min[nn], net_flop[nn] / (net_ms[nn] * 1e-3) * 1e-9,
                   100 * net_flop[nn] / (net_ms[nn] * 1e-3) * 1e-9 / peak, 100 * net_flop[nn] / net_norm[nn]);
    return 0;
}
