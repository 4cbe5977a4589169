/* ppcc.c — the compiler driver: option parsing, diagnostics, pipeline set-up.
 *
 *   ppcc MODEL.onnx|MODEL.ir [options] -o OUT     compile (--emit=so|obj|asm|llvm|ir)
 *   ppcc check MODEL.onnx [--shape ...] [--json]  list everything that blocks compilation
 *
 * Native output: the code generation pipeline (pass_codegen_pipeline: the default pipeline, then
 * layout, residual fusion, schedule, memory plan; or --passes LIST plus the code generation
 * passes LIST lacks), with the target's vector facts in the PassContext, then codegen/
 * (cg_compile). --emit=so links with the system C compiler driver `cc` and the
 * interpreter kernels of libppcfallback.a, found at <directory of ppcc>/../lib.
 *
 * Every user-facing error is one line "ppcc: error: FILE: what, where" with exit status 1;
 * output files are written atomically, so a failed run never leaves a partial file.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <llvm-c/Core.h>

#include "codegen/codegen.h"
#include "codegen/kernels/pattern_plan.h"
#include "compiler/prune_opts.h"
#include "compiler/tool.h"
#include "compiler/tune.h"
#include "frontends/onnx/onnx.h"
#include "passes/passes.h"

#define PPCC_VERSION "0.1.0"

static const char *usage_text =
    "usage: ppcc MODEL.onnx|MODEL.ir [options] -o OUT\n"
    "       ppcc check MODEL.onnx [--shape NAME=AxBxC]... [--json]\n"
    "\n"
    "Compiles an ONNX model (or ppcc's text IR) ahead of time.\n"
    "\n"
    "Output:\n"
    "  -o FILE               output file ('-' for standard output with --emit=ir|asm|llvm)\n"
    "  --emit=KIND           so (default): a shared object for the runtime (libppcrt), linked by\n"
    "                        the system C compiler driver `cc` with ppcc's libppcfallback.a (from\n"
    "                        <directory of ppcc>/../lib) and -lm; obj: an object file (link it\n"
    "                        with libppcfallback.a yourself); asm: assembly; llvm: LLVM IR text;\n"
    "                        ir: the optimised text IR (docs/ir.md)\n"
    "Code generation:\n"
    "  -O0..-O3              LLVM optimisation level of the generated code (default -O2)\n"
    "  --target TRIPLE       generate code for TRIPLE (x86_64-linux-gnu, aarch64-linux-gnu, ...;\n"
    "                        default: this machine). --emit=so needs this machine's architecture\n"
    "  --cpu NAME            LLVM CPU name (e.g. skylake-avx512, neoverse-n1, host); default: this\n"
    "                        machine's CPU and features, or a generic CPU with --target\n"
    "  --winograd=MODE       3x3 stride-1 convs: auto (default) computes them with the Winograd\n"
    "                        kernels where they apply: F(4x4,3x3) up to 128 input channels on\n"
    "                        images of 16 or more 4x4 tiles (4x fewer multiply-adds; rounding\n"
    "                        differs from direct convolution by up to about 5e-6 of the largest\n"
    "                        output), F(2x2,3x3) elsewhere (2.25x fewer, about 5e-7); a conv of\n"
    "                        up to 128 input channels with at most 40% of its kernels non-zero\n"
    "                        (connectivity-pruned) takes sparse F(4x4,3x3), which skips the zero\n"
    "                        kernels; 2x2: F(2x2,3x3) only; off: direct convolution only\n"
    "                        (docs/codegen.md)\n"
    "  --pattern-conv=MODE   pattern-pruned convs (ppcc --prune): auto (default) uses the sparse\n"
    "                        kernel where its cost model predicts it faster than the dense one,\n"
    "                        sparse everywhere it applies, dense never (docs/codegen.md)\n"
    "  --pattern-band KB     run a pattern conv whose input copies exceed KB KiB in bands of\n"
    "                        rows whose copies fit KB KiB (L2), pad and conv band by band\n"
    "                        (default 1024; 0: never; off with --debug-layers; docs/codegen.md)\n"
    "  --pattern-tile F,R,U  every sparse pattern conv with this compiled register tile (F 1: flat,\n"
    "                        1 x U vectors; F 0: rows, R x U) instead of the cost model's choice,\n"
    "                        for experiments and tests (tiles: codegen/kernels/pattern_plan.h)\n"
    "  --tune                time the cost model's best schedules of each pruned conv (and the\n"
    "                        dense conv) on this machine and keep the fastest (--emit=so, host)\n"
    "  --tuning-cache FILE   with --tune: reuse and extend the measurements in FILE (keyed by\n"
    "                        CPU, layer shape, sparsity and kernel version), so the next compile\n"
    "                        measures nothing\n"
    "  --debug-layers        also export every layer as its own entry point (ppcrun\n"
    "                        --compare-layers, --trace)\n"
    "Input:\n"
    "  --shape NAME=AxBxC    fix the shape of graph input NAME (needed for symbolic dims)\n"
    "Passes:\n"
    "  --passes LIST         run this comma-separated pass list instead of the default pipeline\n"
    "                        (native output: followed by the code generation passes LIST lacks)\n"
    "  --print-pipeline      print the pass pipeline (with descriptions) and exit\n"
    "  --dump-before P|all   print the IR before pass P (comma list) or every pass, to stderr\n"
    "  --dump-after P|all    print the IR after pass P (comma list) or every pass, to stderr\n"
    "  --dump-dir DIR        write dumps to DIR/NN-{before,after}-PASS.ir instead of stderr\n"
    "  --time-passes         print the time each pass took\n"
    "  --verify-each         run the IR verifier after every pass\n"
    "  --check-each          run the interpreter on seeded random inputs before and after every\n"
    "                        pass; name the first pass whose outputs drift beyond tolerance\n"
    "  --seed N              seed for --check-each inputs and pruning's synthetic data (default 1)\n"
    "  --stats               print graph statistics (ops, parameters) to stderr; with native\n"
    "                        output also each layer's kernel (native or interpreter fallback)\n"
    "                        and the peak workspace against the sum of all tensors\n"
    PRUNE_USAGE
    "Other:\n"
    "  --json                (check) machine-readable report\n"
    "  -h, --help            this help\n"
    "  --version             print the version\n";

enum {
    OPT_EMIT = 256, OPT_SHAPE, OPT_PASSES, OPT_PRINT_PIPELINE, OPT_DUMP_BEFORE, OPT_DUMP_AFTER,
    OPT_DUMP_DIR, OPT_TIME_PASSES, OPT_VERIFY_EACH, OPT_CHECK_EACH, OPT_SEED, OPT_STATS, OPT_JSON,
    OPT_VERSION, OPT_TARGET, OPT_CPU, OPT_DEBUG_LAYERS, OPT_PATTERN_CONV, OPT_WINOGRAD, OPT_PATTERN_BAND, OPT_PATTERN_TILE, OPT_TUNE, OPT_TUNING_CACHE,
};

static const struct option long_opts[] = {
    {"emit", required_argument, 0, OPT_EMIT},
    {"shape", required_argument, 0, OPT_SHAPE},
    {"passes", required_argument, 0, OPT_PASSES},
    {"print-pipeline", no_argument, 0, OPT_PRINT_PIPELINE},
    {"dump-before", required_argument, 0, OPT_DUMP_BEFORE},
    {"dump-after", required_argument, 0, OPT_DUMP_AFTER},
    {"dump-dir", required_argument, 0, OPT_DUMP_DIR},
    {"time-passes", no_argument, 0, OPT_TIME_PASSES},
    {"verify-each", no_argument, 0, OPT_VERIFY_EACH},
    {"check-each", no_argument, 0, OPT_CHECK_EACH},
    {"seed", required_argument, 0, OPT_SEED},
    {"stats", no_argument, 0, OPT_STATS},
    {"json", no_argument, 0, OPT_JSON},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, OPT_VERSION},
    {"target", required_argument, 0, OPT_TARGET},
    {"cpu", required_argument, 0, OPT_CPU},
    {"debug-layers", no_argument, 0, OPT_DEBUG_LAYERS},
    {"pattern-conv", required_argument, 0, OPT_PATTERN_CONV},
    {"winograd", required_argument, 0, OPT_WINOGRAD},
    {"pattern-band", required_argument, 0, OPT_PATTERN_BAND},
    {"pattern-tile", required_argument, 0, OPT_PATTERN_TILE},
    {"tune", no_argument, 0, OPT_TUNE},
    {"tuning-cache", required_argument, 0, OPT_TUNING_CACHE},
    PRUNE_LONG_OPTIONS
    {0, 0, 0, 0},
};

typedef struct Options {
    const char *input, *output, *emit, *passes, *target, *cpu;
    int check_mode, json, print_pipeline, stats, opt_level, debug_layers, tune;
    OnnxShapeFix shapes[64];
    int n_shapes;
    PassContext pc;
    PruneCli prune; /* --prune and its options (prune_opts.h) */
} Options;

static int fail(const char *file, const char *msg)
{
    if (file)
        fprintf(stderr, "ppcc: error: %s: %s\n", file, msg);
    else
        fprintf(stderr, "ppcc: error: %s\n", msg);
    return 1;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ppcc check: collect every problem. */
static int run_check(Options *o)
{
    OnnxProblem *probs = NULL;
    int n = 0;
    Diag d = {{0}};
    OnnxImportOptions io = {o->shapes, o->n_shapes, &probs, &n};
    Graph *g = onnx_import_file(o->input, &io, &d);
    if (!g && n == 0) {
        /* a problem that stopped the import before collection (unreadable file, ...) */
        probs = xcalloc(1, sizeof *probs);
        snprintf(probs[0].kind, sizeof probs[0].kind, "model");
        snprintf(probs[0].msg, sizeof probs[0].msg, "%.500s", d.msg);
        n = 1;
    }
    if (o->json) {
        printf("{\"file\": ");
        json_str(stdout, o->input);
        printf(", \"ok\": %s, \"problems\": [", n ? "false" : "true");
        for (int i = 0; i < n; i++) {
            printf("%s\n  {\"kind\": ", i ? "," : "");
            json_str(stdout, probs[i].kind);
            printf(", \"node\": ");
            json_str(stdout, probs[i].node);
            printf(", \"op\": ");
            json_str(stdout, probs[i].op);
            printf(", \"message\": ");
            json_str(stdout, probs[i].msg);
            printf("}");
        }
        printf("%s]", n ? "\n" : "");
        if (g) printf(", \"nodes\": %d", g->n_nodes);
        printf("}\n");
    } else {
        for (int i = 0; i < n; i++) {
            if (probs[i].node[0] || probs[i].op[0])
                printf("%s: %s: node '%s' (%s): %s\n", o->input, probs[i].kind, probs[i].node, probs[i].op,
                       probs[i].msg);
            else
                printf("%s: %s: %s\n", o->input, probs[i].kind, probs[i].msg);
        }
        if (n)
            printf("%s: %d problem%s block compilation\n", o->input, n, n == 1 ? "" : "s");
        else
            printf("%s: ok: %d nodes, all supported\n", o->input, g ? g->n_nodes : 0);
    }
    free(probs);
    ir_graph_free(g);
    return n ? 1 : 0;
}

static void print_stats(const Graph *g)
{
    int count[OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) count[g->nodes[i].op]++;
    int64_t params = 0, bytes = 0;
    char *used = xcalloc((size_t)g->n_values + 1, 1);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) used[g->nodes[i].in[k]] = 1;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == VAL_CONST && used[v]) {
            params += ir_value_numel(&g->values[v]);
            bytes += ir_value_numel(&g->values[v]) * (int64_t)dtype_size(g->values[v].dtype);
        }
    free(used);
    fprintf(stderr, "stats: %d nodes, %d inputs, %d outputs, %lld constant elements (%.2f MB)\n", g->n_nodes,
            g->n_inputs, g->n_outputs, (long long)params, (double)bytes / 1e6);
    for (int op = 0; op < OP_COUNT; op++)
        if (count[op]) fprintf(stderr, "stats:   %-22s %d\n", ir_op_name((OpKind)op), count[op]);
    /* pattern-group's choice per pruned conv (docs/codegen.md §7) */
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        const char *sparse = ir_attr_str(n, "pattern_stats", NULL), *dense = ir_attr_str(n, "pattern_dense", NULL);
        const char *order = ir_attr_str(n, "filter_order", NULL);
        if (n->op == OP_PATTERN_CONV && sparse)
            fprintf(stderr, "stats: pattern %s: sparse: %s\n", n->name ? n->name : "?", sparse);
        else if (dense)
            fprintf(stderr, "stats: pattern %s: dense: %s\n", n->name ? n->name : "?", dense);
        if (order) fprintf(stderr, "stats: pattern %s: filters %s\n", n->name ? n->name : "?", order);
    }
}

/* Is pass `name` in the comma-separated list? */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

/* The pass list to run (malloc'ed): --emit=ir: --passes LIST or the default pipeline; native
 * output: the code generation pipeline, or LIST followed by the passes of the code generation
 * pipeline's tail (after the default pipeline's passes) that LIST does not name. */
static char *pipeline_for(const Options *o)
{
    int native = strcmp(o->emit, "ir") != 0;
    if (!native) return xstrdup(o->passes ? o->passes : pass_default_pipeline());
    const char *full = pass_codegen_pipeline();
    if (!o->passes) return xstrdup(full);
    size_t n = strlen(o->passes) + strlen(full) + 2;
    char *list = xmalloc(n);
    snprintf(list, n, "%s", o->passes);
    const char *dflt = pass_default_pipeline();
    const char *tail = strncmp(full, dflt, strlen(dflt)) ? full : full + strlen(dflt);
    char *names = xstrdup(tail);
    for (char *save = NULL, *p = strtok_r(names, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (!in_list(list, p)) snprintf(list + strlen(list), n - strlen(list), "%s%s", list[0] ? "," : "", p);
    free(names);
    return list;
}

/* <directory of this executable>/../lib/libppcfallback.a */
static int fallback_lib(char *buf, size_t n, Diag *d)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return diag_error(d, "cannot find ppcc's own path (/proc/self/exe) to locate libppcfallback.a");
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(buf, n, "%s/../lib/libppcfallback.a", exe);
    if (access(buf, R_OK)) return diag_error(d, "cannot read %s (ppcc's interpreter kernels, needed for --emit=so)", buf);
    return 0;
}

/* The schedule pass asks the conv kernels' cost model for register tiles (see passes.h). */
static int conv_tile_hook(void *ctx, const Graph *g, const Node *n, int *oc_tile, int *ow_tile)
{
    return cg_conv_choose_tile(g, n, (const CgTarget *)ctx, oc_tile, ow_tile);
}

static int compile(Options *o)
{
    Diag d = {{0}};
    int native = strcmp(o->emit, "ir") != 0;
    if (!o->output) return fail(o->input, "no output file given (use -o FILE)");
    if (native && !strcmp(o->output, "-") && (!strcmp(o->emit, "so") || !strcmp(o->emit, "obj")))
        return fail(NULL, "-o -: standard output takes only text (--emit=ir, asm or llvm)");
    if (o->passes && pass_pipeline_check(o->passes, &d)) return fail(NULL, d.msg);
    CgTargetDesc td;
    memset(&td, 0, sizeof td);
    char fallback[4200] = "";
    if (native || o->target || o->cpu) {
        if (cg_target_resolve(o->target, o->cpu, &td, &d)) return fail(NULL, d.msg);
        o->pc.target_vector_bits = td.facts.vector_bits;
        o->pc.target_vregs = td.facts.vregs;
        o->pc.conv_tile = conv_tile_hook;
        o->pc.conv_tile_ctx = &td.facts;
    }
    int rc = 1;
    Graph *g = NULL;
    if (!strcmp(o->emit, "so") && !td.is_host_arch) {
        fail(NULL, "--emit=so links with this machine's C compiler; for another architecture use --emit=obj");
        goto out;
    }
    if (!strcmp(o->emit, "so") && fallback_lib(fallback, sizeof fallback, &d)) {
        fail(NULL, d.msg);
        goto out;
    }
    if (!(g = tool_load_model(o->input, o->shapes, o->n_shapes, &d))) {
        fail(o->input, d.msg);
        goto out;
    }
    TuneCtx tune = {0};
    if (o->tune) { /* candidates are compiled like the model and run here: this machine only */
        if (!td.is_host_arch || strcmp(o->emit, "so") || (o->cpu && strcmp(o->cpu, "host"))) {
            fail(NULL, "--tune times code on this machine: it needs --emit=so and the host CPU (no --cpu)");
            goto out;
        }
        if (tune_init(&tune, &td, fallback, &d)) {
            fail(NULL, d.msg);
            goto out;
        }
        tune.band_bytes = o->pc.pattern_band_bytes;
        tune.no_winograd = o->pc.no_winograd;
        o->pc.pattern_tune = 1;
        o->pc.pattern_time = tune_time_graphs;
        o->pc.pattern_time_ctx = &tune;
        o->pc.target_cpu = td.cpu;
    }
    char *pipeline = prune_cli_pipeline(&o->prune, pipeline_for(o));
    int bad = pass_pipeline_run(g, pipeline, &o->pc, &d);
    free(pipeline);
    if (o->tune) tune_fini(&tune);
    if (bad) {
        fail(o->input, d.msg);
        goto out;
    }
    if (prune_cli_save(&o->prune, o->input, &d)) { /* --save-pruned (removed again on a later failure) */
        fail(o->input, d.msg);
        goto out;
    }
    if (o->stats) print_stats(g);
    if (native) {
        static const char *const emits[] = {"so", "obj", "asm", "llvm"};
        CgOptions co;
        memset(&co, 0, sizeof co);
        for (int k = 0; k < 4; k++)
            if (!strcmp(o->emit, emits[k])) co.emit = (CgEmit)k;
        co.target = &td;
        co.opt_level = o->opt_level;
        co.debug_layers = o->debug_layers;
        co.pattern_band_bytes = o->pc.pattern_band_bytes;
        co.no_winograd = o->pc.no_winograd;
        co.fallback_lib = fallback[0] ? fallback : NULL;
        co.producer = "ppcc " PPCC_VERSION;
        co.stats = o->stats ? stderr : NULL;
        if (cg_compile(g, &co, o->output, &d)) {
            fail(o->input, d.msg);
            goto out;
        }
        rc = 0;
        goto out;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ir_print(g, m, 0);
    fclose(m);
    rc = tool_write_file_atomic(o->output, buf, len, &d) ? fail(o->output, d.msg) : 0;
    free(buf);
out:
    if (rc) prune_cli_discard(&o->prune);
    prune_cli_free(&o->prune);
    ir_graph_free(g);
    cg_target_release(&td);
    return rc;
}

int main(int argc, char **argv)
{
    Options o;
    memset(&o, 0, sizeof o);
    o.emit = "so";
    o.opt_level = 2;
    pass_context_init(&o.pc);
    o.pc.pattern_band_bytes = 1024 * 1024;
    prune_cli_init(&o.prune);
    Diag d = {{0}};
    int argi = 1;
    if (argc > 1 && !strcmp(argv[1], "check")) {
        o.check_mode = 1;
        argi = 2;
    }
    optind = argi;
    opterr = 0; /* we print our own one-line errors */
    int c;
    while ((c = getopt_long(argc, argv, "o:hO:", long_opts, NULL)) != -1) {
        if (prune_cli_is_option(c)) {
            if (prune_cli_option(&o.prune, c, optarg, &d)) return fail(NULL, d.msg);
            continue;
        }
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case OPT_VERSION: {
            /* with the default target, as code is generated for it (the tuning cache keys on
             * the CPU name too) */
            CgTargetDesc td;
            Diag vd = {{0}};
            if (cg_target_resolve(NULL, NULL, &td, &vd) == 0) {
                printf("ppcc %s (LLVM %d, default target %s, CPU %s)\n", PPCC_VERSION, LLVM_VERSION_MAJOR, td.triple,
                       td.cpu);
                cg_target_release(&td);
            } else {
                printf("ppcc %s (LLVM %d)\n", PPCC_VERSION, LLVM_VERSION_MAJOR);
            }
            return 0;
        }
        case OPT_EMIT:
            if (strcmp(optarg, "ir") && strcmp(optarg, "so") && strcmp(optarg, "obj") && strcmp(optarg, "asm") &&
                strcmp(optarg, "llvm"))
                return fail(NULL, "--emit: expected ir, so, obj, asm or llvm");
            o.emit = optarg;
            break;
        case OPT_SHAPE:
            if (o.n_shapes == 64) return fail(NULL, "too many --shape options");
            if (tool_parse_shape(optarg, &o.shapes[o.n_shapes], &d)) return fail(NULL, d.msg);
            o.n_shapes++;
            break;
        case OPT_PASSES: o.passes = optarg; break;
        case OPT_PRINT_PIPELINE: o.print_pipeline = 1; break;
        case OPT_DUMP_BEFORE: o.pc.dump_before = optarg; break;
        case OPT_DUMP_AFTER: o.pc.dump_after = optarg; break;
        case OPT_DUMP_DIR: o.pc.dump_dir = optarg; break;
        case OPT_TIME_PASSES: o.pc.time_passes = 1; break;
        case OPT_VERIFY_EACH: o.pc.verify_each = 1; break;
        case OPT_CHECK_EACH: o.pc.check_each = 1; break;
        case OPT_SEED: {
            char *end;
            o.pc.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) return fail(NULL, "--seed expects a non-negative integer");
            break;
        }
        case OPT_STATS: o.stats = 1; break;
        case OPT_JSON: o.json = 1; break;
        case OPT_TARGET: o.target = optarg; break;
        case OPT_CPU: o.cpu = optarg; break;
        case OPT_DEBUG_LAYERS: o.debug_layers = 1; break;
        case OPT_PATTERN_CONV:
            if (!strcmp(optarg, "auto")) o.pc.pattern_mode = 0;
            else if (!strcmp(optarg, "sparse")) o.pc.pattern_mode = 1;
            else if (!strcmp(optarg, "dense")) o.pc.pattern_mode = -1;
            else return fail(NULL, "--pattern-conv expects auto, sparse or dense");
            break;
        case OPT_WINOGRAD:
            if (!strcmp(optarg, "auto")) o.pc.no_winograd = 0;
            else if (!strcmp(optarg, "off")) o.pc.no_winograd = 1;
            else if (!strcmp(optarg, "2x2")) o.pc.no_winograd = 2;
            else return fail(NULL, "--winograd expects auto, 2x2 or off");
            break;
        case OPT_PATTERN_BAND: {
            char *end;
            long kb = strtol(optarg, &end, 10);
            if (!*optarg || *end || kb < 0 || kb > (1L << 30)) return fail(NULL, "--pattern-band expects KiB, 0 or more");
            o.pc.pattern_band_bytes = (int64_t)kb * 1024;
            break;
        }
        case OPT_PATTERN_TILE: {
            int f = -1, r = 0, u = 0;
            char tail = 0;
            if (sscanf(optarg, "%d,%d,%d%c", &f, &r, &u, &tail) != 3 || kpat_tile_index(f, r, u) < 0) return fail(NULL, "--pattern-tile expects a compiled tile F,R,U (codegen/kernels/pattern_plan.h KPAT_TILES)");
            o.pc.pattern_tile[0] = f, o.pc.pattern_tile[1] = r, o.pc.pattern_tile[2] = u;
            break;
        }
        case OPT_TUNE: o.tune = 1; break;
        case OPT_TUNING_CACHE:
            if (!*optarg || ir_path_is_special(optarg)) return fail(NULL, "--tuning-cache expects a regular file path");
            o.pc.tuning_cache = optarg;
            break;
        case 'O': /* optimisation level for code generation */
            if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '3')
                return fail(NULL, "-O expects 0, 1, 2 or 3");
            o.opt_level = optarg[0] - '0';
            break;
        default:
            if (optopt && optopt < 256)
                fprintf(stderr, "ppcc: error: option -%c: unknown or missing its argument (see ppcc --help)\n", optopt);
            else
                fprintf(stderr, "ppcc: error: option '%s': unknown or missing its argument (see ppcc --help)\n",
                        argv[optind - 1]);
            return 1;
        }
    }
    if (prune_cli_finish(&o.prune, &o.pc, o.stats, optind < argc ? argv[optind] : NULL, &d)) return fail(NULL, d.msg);
    if (o.pc.tuning_cache && !o.tune) return fail(NULL, "--tuning-cache needs --tune");
    if (o.pc.pattern_tile[2] && o.tune) return fail(NULL, "--pattern-tile forces the tile that --tune would choose: use one");
    if (o.print_pipeline) {
        if (o.passes && pass_pipeline_check(o.passes, &d)) return fail(NULL, d.msg);
        char *pipeline = prune_cli_pipeline(&o.prune, pipeline_for(&o));
        pass_pipeline_print(stdout, pipeline);
        free(pipeline);
        return 0;
    }
    if (optind >= argc) return fail(NULL, "no input model (see ppcc --help)");
    if (optind + 1 < argc) return fail(NULL, "more than one input model given");
    o.input = argv[optind];
    if (o.check_mode) return run_check(&o);
    return compile(&o);
}
