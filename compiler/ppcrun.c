/* ppcrun.c — run a model on ONNX TensorProto inputs and write or check its outputs.
 *
 *   ppcrun MODEL.onnx|MODEL.ir|MODEL.so [-i NAME=FILE.pb | -i FILE.pb]... [--random SEED]
 *          [-o DIR] [--expect DIR] [--rtol R] [--atol A] [--rel-l2 MAX] [--shape NAME=AxBxC]...
 *          [--threads N] [--bench N]
 *   ppcrun --compare-layers MODEL.onnx MODEL.so [inputs, tolerances as above]
 *   ppcrun --trace DIR MODEL.so [inputs as above]
 *
 * Given an .onnx or .ir model it runs the reference interpreter; given a shared object compiled
 * by ppcc (recognised by its ELF header) it loads it through libppcrt and runs it in a session
 * of --threads threads. Inputs not given with -i are generated from --random SEED (an error
 * without it); the same seed gives the same inputs for a model and its compiled form. Outputs go
 * to DIR/output_K.pb (K = graph output index, the layout of the ONNX test data); --expect DIR
 * compares with DIR/output_K.pb. --bench N runs N timed runs after warm-up runs and prints
 * `latency_ms median=X min=Y max=Z runs=N`.
 *
 * Per-layer debugging needs a model compiled with ppcc --debug-layers: the layers are run one by
 * one through the runtime's libffi invoker, each on the outputs of the compiled layers before it.
 * --compare-layers compares every layer output with the interpreter's value of the same name in
 * MODEL.onnx (channel-blocked NCHW16c values are unblocked first; values ppcc renamed, such as a
 * filter-reordered conv's <name>_reordered, have no counterpart and are skipped) and reports the first layer
 * whose output diverges (relative L2 error above --rel-l2, default 1e-4; integers exactly).
 * --trace writes every layer output to DIR/NNNN_NAME.pb (NNNN = layer index).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/tool.h"
#include "runtime/ppcrt.h"

static const char *usage_text =
    "usage: ppcrun MODEL.onnx|MODEL.ir|MODEL.so [options]\n"
    "       ppcrun --compare-layers MODEL.onnx MODEL.so [options]\n"
    "       ppcrun --trace DIR MODEL.so [options]\n"
    "\n"
    "Runs a model on ONNX TensorProto (.pb) inputs: an .onnx or .ir model with ppcc's reference\n"
    "interpreter, a shared object compiled by ppcc through the runtime (libppcrt).\n"
    "\n"
    "  -i NAME=FILE.pb     bind graph input NAME to the tensor in FILE.pb\n"
    "  -i FILE.pb          bind by the tensor's own name (or, if unnamed, the next unbound input)\n"
    "  --random SEED       fill inputs not given with -i with seeded random values\n"
    "                      (floats uniform in [-1,1), integers in [0,4))\n"
    "  -o DIR              write outputs to DIR/output_K.pb (K = output index)\n"
    "  --expect DIR        compare outputs with DIR/output_K.pb; exit 1 on mismatch\n"
    "  --rtol R, --atol A  tolerance for --expect: |got-want| <= A + R*|want| (1e-3, 1e-7)\n"
    "  --rel-l2 MAX        for --expect: pass when the relative L2 error ||got-want||/||want||\n"
    "                      of each float output is <= MAX (instead of the elementwise rule);\n"
    "                      for --compare-layers the per-layer limit (default 1e-4)\n"
    "  --shape NAME=AxBxC  fix a symbolic input dimension (.onnx models)\n"
    "  --threads N         threads of a compiled model's session (default: one per core)\n"
    "  --bench N           after warm-up runs, time N runs and print\n"
    "                      latency_ms median=X min=Y max=Z runs=N\n"
    "  --compare-layers MODEL.onnx MODEL.so\n"
    "                      run the interpreter and each layer of MODEL.so (compiled with ppcc\n"
    "                      --debug-layers) side by side; report the first layer whose output\n"
    "                      diverges (name, op, error); exit 1 if one does\n"
    "  --trace DIR         run MODEL.so (compiled with --debug-layers) layer by layer and write\n"
    "                      every layer's output to DIR/NNNN_NAME.pb\n"
    "  -h, --help          this help\n";

enum {
    OPT_RANDOM = 256, OPT_EXPECT, OPT_RTOL, OPT_ATOL, OPT_SHAPE, OPT_REL_L2, OPT_THREADS, OPT_BENCH,
    OPT_COMPARE, OPT_TRACE,
};

typedef struct Options {
    const char *in_specs[256];
    int n_in_specs;
    const char *outdir, *expect, *trace_dir;
    int have_seed, threads, bench, compare;
    uint64_t seed;
    double rtol, atol, max_rel_l2;
    OnnxShapeFix fixes[64];
    int n_fixes;
} Options;

/* A graph input or output as the runner sees it (from the IR graph or the model descriptor). */
typedef struct IoSpec {
    const char *name;
    DType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
} IoSpec;

static int fail(const char *file, const char *msg)
{
    if (file)
        fprintf(stderr, "ppcrun: error: %s: %s\n", file, msg);
    else
        fprintf(stderr, "ppcrun: error: %s\n", msg);
    return 1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return !*s || *end || *out < 0;
}

static int parse_count(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Does the file start like an ELF object (a compiled model)? */
static int is_elf(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char h[4] = {0};
    size_t n = fread(h, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(h, "\177ELF", 4);
}

static int same_shape(const Tensor *t, const IoSpec *s)
{
    if (t->dtype != s->dtype || t->rank != s->rank) return 0;
    for (int k = 0; k < s->rank; k++)
        if (t->dims[k] != s->dims[k]) return 0;
    return 1;
}

/* Bind -i files and --random data to the inputs described by spec (inputs[k] for spec[k]). */
static int bind_inputs(const Options *o, const char *model, const IoSpec *spec, int n, Tensor **inputs)
{
    Diag d = {{0}};
    for (int s = 0; s < o->n_in_specs; s++) {
        char *arg = xstrdup(o->in_specs[s]);
        char *eq = strchr(arg, '=');
        const char *path = eq ? eq + 1 : arg;
        char *tname = NULL;
        Tensor *t = NULL;
        if (onnx_tensor_read_file(path, &t, &tname, &d)) {
            fail(path, d.msg);
            free(arg);
            return 1;
        }
        const char *want = eq ? (*eq = 0, arg) : tname;
        int slot = -1;
        for (int k = 0; k < n; k++)
            if (want && *want && !strcmp(spec[k].name, want)) slot = k;
        if (slot < 0 && !eq && !(tname && *tname))
            for (int k = 0; k < n && slot < 0; k++)
                if (!inputs[k]) slot = k;
        char msg[700];
        int bad = 0;
        if (slot < 0) {
            snprintf(msg, sizeof msg, "the model has no input named '%.200s'", want ? want : "");
            bad = 1;
        } else if (inputs[slot]) {
            snprintf(msg, sizeof msg, "input '%.200s' bound twice", spec[slot].name);
            bad = 1;
        } else if (!same_shape(t, &spec[slot])) {
            char a[128], b[128];
            snprintf(msg, sizeof msg, "input '%.200s': the model expects %s[%s], the file holds %s[%s]",
                     spec[slot].name, dtype_name(spec[slot].dtype),
                     shape_str(spec[slot].rank, spec[slot].dims, a, sizeof a), dtype_name(t->dtype),
                     shape_str(t->rank, t->dims, b, sizeof b));
            bad = 1;
        }
        if (bad) fail(path, msg);
        free(tname);
        free(arg);
        if (bad) {
            tensor_free(t);
            return 1;
        }
        inputs[slot] = t;
    }
    uint64_t state = o->seed;
    for (int k = 0; k < n; k++) {
        if (inputs[k]) continue;
        if (!o->have_seed) {
            char msg[600];
            snprintf(msg, sizeof msg, "input '%.200s' not given (use -i %.200s=FILE.pb or --random SEED)", spec[k].name,
                     spec[k].name);
            return fail(model, msg);
        }
        inputs[k] = tool_random_tensor(spec[k].dtype, spec[k].rank, spec[k].dims, &state);
    }
    return 0;
}

/* Write outputs to -o DIR and/or compare them with --expect DIR; 0 if all is well. */
static int finish_outputs(const Options *o, const char *model, const IoSpec *spec, int n, Tensor **outputs)
{
    Diag d = {{0}};
    if (o->outdir && tool_mkdirs(o->outdir, &d)) return fail(o->outdir, d.msg);
    int bad = 0;
    for (int k = 0; k < n; k++) {
        const char *name = spec[k].name;
        char path[4096];
        if (o->outdir) {
            snprintf(path, sizeof path, "%s/output_%d.pb", o->outdir, k);
            if (onnx_tensor_write_file(path, outputs[k], name, &d)) return fail(path, d.msg);
        }
        if (o->expect) {
            snprintf(path, sizeof path, "%s/output_%d.pb", o->expect, k);
            Tensor *want = NULL;
            if (onnx_tensor_read_file(path, &want, NULL, &d)) return fail(path, d.msg);
            TensorDiff td;
            int64_t nb = tool_compare(outputs[k], want, o->rtol, o->atol, &td);
            if (o->max_rel_l2 >= 0 && nb >= 0 && dtype_is_float(want->dtype)) {
                double e = tool_rel_l2(outputs[k], want);
                printf("output %d '%s': relative L2 error %.3g (max %.3g)%s\n", k, name, e, o->max_rel_l2,
                       e <= o->max_rel_l2 ? "" : " FAIL");
                bad |= !(e <= o->max_rel_l2);
            } else {
                printf("output %d '%s': %s\n", k, name, td.msg);
                bad |= nb != 0;
            }
            tensor_free(want);
        } else {
            char s[128];
            printf("output %d '%s': %s[%s]\n", k, name, dtype_name(outputs[k]->dtype),
                   shape_str(outputs[k]->rank, outputs[k]->dims, s, sizeof s));
        }
    }
    if (bad) {
        char msg[4200];
        snprintf(msg, sizeof msg, "outputs differ from %s", o->expect);
        return fail(model, msg);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_latency(double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    double med = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    printf("latency_ms median=%.3f min=%.3f max=%.3f runs=%d\n", med, ms[0], ms[n - 1], n);
}

#define WARMUP_RUNS 3

/* ---------------------------------------------------------------- interpreter */

static void graph_specs(const Graph *g, const int *ids, int n, IoSpec *spec)
{
    for (int k = 0; k < n; k++) {
        const Value *v = &g->values[ids[k]];
        spec[k] = (IoSpec){.name = v->name, .dtype = v->dtype, .rank = v->rank};
        memcpy(spec[k].dims, v->dims, sizeof v->dims);
    }
}

static int run_interpreter(const Options *o, const char *model)
{
    Diag d = {{0}};
    Graph *g = tool_load_model(model, o->fixes, o->n_fixes, &d);
    if (!g) return fail(model, d.msg);
    int rc = 1;
    IoSpec *ins = xcalloc((size_t)g->n_inputs + 1, sizeof *ins), *outs = xcalloc((size_t)g->n_outputs + 1, sizeof *outs);
    graph_specs(g, g->inputs, g->n_inputs, ins);
    graph_specs(g, g->outputs, g->n_outputs, outs);
    Tensor **inputs = xcalloc((size_t)g->n_inputs + 1, sizeof(Tensor *));
    Tensor **outputs = xcalloc((size_t)g->n_outputs + 1, sizeof(Tensor *));
    if (bind_inputs(o, model, ins, g->n_inputs, inputs)) goto out;
    int runs = o->bench ? o->bench + WARMUP_RUNS : 1;
    double *ms = xcalloc((size_t)runs + 1, sizeof *ms);
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < g->n_outputs; k++) tensor_free(outputs[k]), outputs[k] = NULL;
        double t0 = tool_now();
        if (interp_run(g, inputs, outputs, NULL, &d)) {
            free(ms);
            fail(model, d.msg);
            goto out;
        }
        ms[r] = (tool_now() - t0) * 1e3;
    }
    if (o->bench)
        print_latency(ms + WARMUP_RUNS, o->bench);
    else
        printf("ppcrun: interpreter ran in %.1f ms\n", ms[0]);
    free(ms);
    rc = finish_outputs(o, model, outs, g->n_outputs, outputs);
out:
    for (int k = 0; k < g->n_inputs; k++) tensor_free(inputs[k]);
    for (int k = 0; k < g->n_outputs; k++) tensor_free(outputs[k]);
    free(inputs), free(outputs), free(ins), free(outs);
    ir_graph_free(g);
    return rc;
}

/* ---------------------------------------------------------------- compiled models */

static int rt_fail(const char *file, int status)
{
    char msg[1200];
    const char *why = ppcrt_last_error();
    snprintf(msg, sizeof msg, "%s%s%.1000s", ppcrt_status_string(status), *why ? ": " : "", why);
    return fail(file, msg);
}

/* The runner's view of a runtime tensor description; -1 if ppcrun cannot hold its dtype. */
static int info_spec(const PpcrtTensorInfo *ti, IoSpec *s, const char *so, const char *what)
{
    s->name = ti->name;
    s->dtype = dtype_from_onnx(ti->dtype);
    s->rank = ti->rank;
    memcpy(s->dims, ti->dims, sizeof s->dims);
    if (s->dtype == DT_UNDEF) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s '%.200s' has dtype %s, which ppcrun cannot read or write", what, ti->name,
                 ppcrt_dtype_name(ti->dtype));
        return fail(so, msg);
    }
    return 0;
}

typedef struct Compiled {
    PpcrtModel *model;
    PpcrtSession *sess;
    int n_in, n_out;
    IoSpec *ins, *outs;
} Compiled;

static void compiled_close(Compiled *c)
{
    ppcrt_session_free(c->sess);
    ppcrt_model_free(c->model);
    free(c->ins), free(c->outs);
    memset(c, 0, sizeof *c);
}

static int compiled_open(const Options *o, const char *so, Compiled *c)
{
    memset(c, 0, sizeof *c);
    int st = ppcrt_model_load(so, &c->model);
    if (st) return rt_fail(so, st);
    c->n_in = ppcrt_model_num_inputs(c->model);
    c->n_out = ppcrt_model_num_outputs(c->model);
    c->ins = xcalloc((size_t)c->n_in + 1, sizeof *c->ins);
    c->outs = xcalloc((size_t)c->n_out + 1, sizeof *c->outs);
    for (int io = 0; io < 2; io++)
        for (int k = 0; k < (io ? c->n_out : c->n_in); k++) {
            PpcrtTensorInfo ti;
            st = io ? ppcrt_model_output_info(c->model, k, &ti) : ppcrt_model_input_info(c->model, k, &ti);
            if (st) {
                rt_fail(so, st);
                compiled_close(c);
                return 1;
            }
            if (info_spec(&ti, io ? &c->outs[k] : &c->ins[k], so, io ? "output" : "input")) {
                compiled_close(c);
                return 1;
            }
        }
    PpcrtSessionOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.n_threads = o->threads;
    if ((st = ppcrt_session_create(c->model, &opt, &c->sess))) {
        rt_fail(so, st);
        compiled_close(c);
        return 1;
    }
    return 0;
}

static int run_compiled(const Options *o, const char *so)
{
    Compiled c;
    if (compiled_open(o, so, &c)) return 1;
    int rc = 1;
    Tensor **inputs = xcalloc((size_t)c.n_in + 1, sizeof(Tensor *));
    Tensor **outputs = xcalloc((size_t)c.n_out + 1, sizeof(Tensor *));
    const void **in_ptrs = xcalloc((size_t)c.n_in + 1, sizeof *in_ptrs);
    void **out_ptrs = xcalloc((size_t)c.n_out + 1, sizeof *out_ptrs);
    double *ms = NULL;
    if (bind_inputs(o, so, c.ins, c.n_in, inputs)) goto out;
    for (int k = 0; k < c.n_in; k++) in_ptrs[k] = inputs[k]->data;
    for (int k = 0; k < c.n_out; k++) {
        outputs[k] = tensor_new(c.outs[k].dtype, c.outs[k].rank, c.outs[k].dims);
        out_ptrs[k] = outputs[k]->data;
    }
    int runs = o->bench ? o->bench + WARMUP_RUNS : 1;
    ms = xcalloc((size_t)runs + 1, sizeof *ms);
    for (int r = 0; r < runs; r++) {
        double t0 = tool_now();
        int st = ppcrt_session_run(c.sess, in_ptrs, out_ptrs);
        ms[r] = (tool_now() - t0) * 1e3;
        if (st) {
            rt_fail(so, st);
            goto out;
        }
    }
    if (o->bench)
        print_latency(ms + WARMUP_RUNS, o->bench);
    else
        printf("ppcrun: compiled model ran in %.3f ms (%d thread%s)\n", ms[0], ppcrt_session_num_threads(c.sess),
               ppcrt_session_num_threads(c.sess) == 1 ? "" : "s");
    rc = finish_outputs(o, so, c.outs, c.n_out, outputs);
out:
    for (int k = 0; k < c.n_in; k++) tensor_free(inputs[k]);
    for (int k = 0; k < c.n_out; k++) tensor_free(outputs[k]);
    free(inputs), free(outputs), free(in_ptrs), free(out_ptrs), free(ms);
    compiled_close(&c);
    return rc;
}

/* ---------------------------------------------------------------- layer by layer */

/* Values by name: the compiled layers' outputs (and the graph inputs). */
typedef struct NamedTensors {
    int n, cap;
    char **names;
    Tensor **t;
} NamedTensors;

static Tensor *nt_find(const NamedTensors *m, const char *name)
{
    for (int i = m->n - 1; i >= 0; i--)
        if (!strcmp(m->names[i], name)) return m->t[i];
    return NULL;
}

static void nt_put(NamedTensors *m, const char *name, Tensor *t)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->names = xrealloc(m->names, (size_t)m->cap * sizeof *m->names);
        m->t = xrealloc(m->t, (size_t)m->cap * sizeof *m->t);
    }
    m->names[m->n] = xstrdup(name);
    m->t[m->n++] = t;
}

static void nt_free(NamedTensors *m)
{
    for (int i = 0; i < m->n; i++) free(m->names[i]), tensor_free(m->t[i]);
    free(m->names), free(m->t);
}

/* The interpreter's value of every node output, by value id (InterpOptions hook). */
typedef struct InterpValues {
    Tensor **val;
} InterpValues;

static int keep_hook(void *ctx, const Graph *g, int node, Tensor **out)
{
    InterpValues *iv = ctx;
    const Node *n = &g->nodes[node];
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && out[k]) iv->val[n->out[k]] = tensor_clone(out[k]);
    return 0;
}

/* got (compiled) as the shape of want (interpreter): the same tensor, or a channel-blocked
 * NCHW16c form of it (unblocked into a new tensor). NULL if they do not correspond. */
static Tensor *as_reference_layout(const Tensor *got, const Tensor *want, int *owned)
{
    *owned = 0;
    if (got->dtype != want->dtype) return NULL;
    if (got->rank == want->rank) {
        for (int k = 0; k < got->rank; k++)
            if (got->dims[k] != want->dims[k]) return NULL;
        return (Tensor *)got;
    }
    int64_t bd[IR_MAX_RANK];
    int br;
    if (got->rank != want->rank + 1 || ir_layout_blocked_dims(want->rank, want->dims, &br, bd) || br != got->rank)
        return NULL;
    for (int k = 0; k < br; k++)
        if (bd[k] != got->dims[k]) return NULL;
    Tensor *plain = tensor_new(want->dtype, want->rank, want->dims);
    int64_t S = 1;
    for (int k = 2; k < want->rank; k++) S *= want->dims[k];
    ir_layout_convert(0, dtype_size(want->dtype), want->dims[0], want->dims[1], S, got->data, plain->data);
    *owned = 1;
    return plain;
}

static double max_abs_diff(const Tensor *a, const Tensor *b)
{
    double m = 0;
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        double x = tensor_get_f64(a, i), y = tensor_get_f64(b, i);
        double e = fabs(x - y);
        if (isnan(x) != isnan(y)) e = INFINITY;
        if (e > m || isnan(e)) m = e;
    }
    return m;
}

static void file_safe(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++) {
        char ch = *s;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                 ch == '.' || ch == '_';
        out[k++] = ok ? ch : '_';
    }
    out[k] = 0;
}

/* --compare-layers (onnx != NULL) or --trace (o->trace_dir): run the layers of so in order. */
static int run_layers(const Options *o, const char *onnx, const char *so)
{
    Diag d = {{0}};
    Graph *g = NULL;
    InterpValues iv = {NULL};
    Compiled c;
    NamedTensors vals = {0};
    memset(&c, 0, sizeof c);
    int rc = 1, n_inputs = 0;
    Tensor **inputs = NULL;
    if (o->trace_dir && tool_mkdirs(o->trace_dir, &d)) return fail(o->trace_dir, d.msg);
    if (compiled_open(o, so, &c)) return 1;
    int n_layers = ppcrt_model_num_layers(c.model);
    if (n_layers == 0) {
        fail(so, "the model has no per-layer entry points (compile it with ppcc --debug-layers)");
        goto out;
    }
    if (onnx) {
        if (!(g = tool_load_model(onnx, o->fixes, o->n_fixes, &d))) {
            fail(onnx, d.msg);
            goto out;
        }
        IoSpec *ins = xcalloc((size_t)g->n_inputs + 1, sizeof *ins);
        graph_specs(g, g->inputs, g->n_inputs, ins);
        n_inputs = g->n_inputs;
        inputs = xcalloc((size_t)n_inputs + 1, sizeof *inputs);
        int bad = bind_inputs(o, onnx, ins, n_inputs, inputs);
        for (int k = 0; k < n_inputs && !bad; k++) {
            int j = ppcrt_model_find_input(c.model, ins[k].name);
            if (j < 0 || !same_shape(inputs[k], &c.ins[j])) {
                char msg[600];
                snprintf(msg, sizeof msg, "input '%.200s' of %.200s has no input of the same name and type in the "
                         "compiled model", ins[k].name, onnx);
                bad = fail(so, msg);
            }
        }
        free(ins);
        if (bad) goto out;
        iv.val = xcalloc((size_t)g->n_values + 1, sizeof *iv.val);
        InterpOptions io = {keep_hook, &iv, 0};
        Tensor **gout = xcalloc((size_t)g->n_outputs + 1, sizeof *gout);
        int ran = interp_run(g, inputs, gout, &io, &d);
        for (int k = 0; k < g->n_outputs; k++) tensor_free(gout[k]);
        free(gout);
        if (ran) {
            fail(onnx, d.msg);
            goto out;
        }
    } else {
        n_inputs = c.n_in;
        inputs = xcalloc((size_t)n_inputs + 1, sizeof *inputs);
        if (bind_inputs(o, so, c.ins, c.n_in, inputs)) goto out;
    }
    for (int k = 0; k < n_inputs; k++) {
        nt_put(&vals, onnx ? g->values[g->inputs[k]].name : c.ins[k].name, inputs[k]);
        inputs[k] = NULL; /* owned by vals now */
    }
    double limit = o->max_rel_l2 >= 0 ? o->max_rel_l2 : 1e-4;
    int compared = 0;
    for (int l = 0; l < n_layers; l++) {
        PpcrtLayerInfo li;
        int st = ppcrt_model_layer_info(c.model, l, &li);
        if (st) {
            rt_fail(so, st);
            goto out;
        }
        void **bufs = xcalloc((size_t)li.n_args + 1, sizeof *bufs);
        Tensor **outs = xcalloc((size_t)li.n_outputs + 1, sizeof *outs);
        IoSpec *ospec = xcalloc((size_t)li.n_outputs + 1, sizeof *ospec);
        int bad = 0;
        for (int j = 0; j < li.n_outputs && !bad; j++) {
            PpcrtTensorInfo ti;
            if ((st = ppcrt_model_layer_output_info(c.model, l, j, &ti))) bad = rt_fail(so, st);
            else if (info_spec(&ti, &ospec[j], so, "layer output")) bad = 1;
            else outs[j] = tensor_new(ospec[j].dtype, ospec[j].rank, ospec[j].dims);
        }
        for (int a = 0; a < li.n_args && !bad; a++) {
            const char *an = li.arg_names[a];
            if (li.signature[a] != 'p' || !*an) continue;
            for (int j = 0; j < li.n_outputs && !bufs[a]; j++)
                if (!strcmp(ospec[j].name, an)) bufs[a] = outs[j]->data;
            Tensor *t = bufs[a] ? NULL : nt_find(&vals, an);
            if (t) bufs[a] = t->data;
            if (!bufs[a]) {
                char msg[600];
                snprintf(msg, sizeof msg, "layer %d '%.200s' reads '%.200s', which no earlier layer wrote", l, li.name, an);
                bad = fail(so, msg);
            }
        }
        if (!bad && (st = ppcrt_layer_invoke(c.sess, l, bufs))) bad = rt_fail(so, st);
        for (int j = 0; j < li.n_outputs && !bad; j++) {
            if (o->trace_dir) {
                char safe[200], path[4400];
                file_safe(ospec[j].name, safe, sizeof safe);
                snprintf(path, sizeof path, "%s/%04d_%s.pb", o->trace_dir, l, safe);
                if (onnx_tensor_write_file(path, outs[j], ospec[j].name, &d)) bad = fail(path, d.msg);
            }
            int vid = g ? ir_value_find(g, ospec[j].name) : -1;
            const Tensor *want = vid >= 0 ? iv.val[vid] : NULL;
            int owned = 0;
            Tensor *got = want ? as_reference_layout(outs[j], want, &owned) : NULL;
            if (got && !bad) {
                compared++;
                double err = dtype_is_float(want->dtype) ? tool_rel_l2(got, want) : 0;
                int differs = dtype_is_float(want->dtype) ? !(err <= limit) || isnan(err)
                                                          : tool_compare(got, want, 0, 0, &(TensorDiff){0}) != 0;
                if (differs) {
                    printf("layer %d '%s' (%s): output '%s' diverges: relative L2 error %.3g (max %.3g), "
                           "max abs error %.3g\n", l, li.name, li.op, ospec[j].name, err, limit,
                           max_abs_diff(got, want));
                    fprintf(stderr, "ppcrun: error: %s: first diverging layer: %d '%s' (%s)\n", so, l, li.name, li.op);
                    bad = 2;
                }
            }
            if (owned) tensor_free(got);
        }
        for (int j = 0; j < li.n_outputs; j++) {
            if (!bad && outs[j]) nt_put(&vals, ospec[j].name, outs[j]);
            else tensor_free(outs[j]);
        }
        free(bufs), free(outs), free(ospec);
        if (bad) goto out;
    }
    if (onnx)
        printf("compare-layers: %d layers run, %d outputs compared with the interpreter, none diverges "
               "(relative L2 <= %.3g)\n", n_layers, compared, limit);
    else
        printf("trace: %d layers written to %s\n", n_layers, o->trace_dir);
    rc = 0;
out:
    for (int k = 0; inputs && k < n_inputs; k++) tensor_free(inputs[k]);
    free(inputs);
    if (g && iv.val)
        for (int v = 0; v < g->n_values; v++) tensor_free(iv.val[v]);
    free(iv.val);
    nt_free(&vals);
    ir_graph_free(g);
    compiled_close(&c);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"random", required_argument, 0, OPT_RANDOM},   {"expect", required_argument, 0, OPT_EXPECT},
        {"rtol", required_argument, 0, OPT_RTOL},       {"atol", required_argument, 0, OPT_ATOL},
        {"shape", required_argument, 0, OPT_SHAPE},     {"help", no_argument, 0, 'h'},
        {"rel-l2", required_argument, 0, OPT_REL_L2},   {"threads", required_argument, 0, OPT_THREADS},
        {"bench", required_argument, 0, OPT_BENCH},     {"compare-layers", no_argument, 0, OPT_COMPARE},
        {"trace", required_argument, 0, OPT_TRACE},     {0, 0, 0, 0},
    };
    Options o;
    memset(&o, 0, sizeof o);
    o.rtol = 1e-3, o.atol = 1e-7, o.max_rel_l2 = -1;
    Diag d = {{0}};
    int c;
    opterr = 0; /* we print our own one-line errors */
    while ((c = getopt_long(argc, argv, "i:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (o.n_in_specs == 256) return fail(NULL, "too many -i options");
            o.in_specs[o.n_in_specs++] = optarg;
            break;
        case 'o': o.outdir = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case OPT_RANDOM: {
            char *end;
            o.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) return fail(NULL, "--random expects a non-negative integer seed");
            o.have_seed = 1;
            break;
        }
        case OPT_EXPECT: o.expect = optarg; break;
        case OPT_RTOL:
            if (parse_double(optarg, &o.rtol)) return fail(NULL, "--rtol expects a non-negative number");
            break;
        case OPT_ATOL:
            if (parse_double(optarg, &o.atol)) return fail(NULL, "--atol expects a non-negative number");
            break;
        case OPT_REL_L2:
            if (parse_double(optarg, &o.max_rel_l2)) return fail(NULL, "--rel-l2 expects a non-negative number");
            break;
        case OPT_SHAPE:
            if (o.n_fixes == 64) return fail(NULL, "too many --shape options");
            if (tool_parse_shape(optarg, &o.fixes[o.n_fixes], &d)) return fail(NULL, d.msg);
            o.n_fixes++;
            break;
        case OPT_THREADS:
            if (parse_count(optarg, 1, PPCRT_MAX_THREADS, &o.threads))
                return fail(NULL, "--threads expects a number of threads from 1 to 256");
            break;
        case OPT_BENCH:
            if (parse_count(optarg, 1, 1000000, &o.bench)) return fail(NULL, "--bench expects a positive number of runs");
            break;
        case OPT_COMPARE: o.compare = 1; break;
        case OPT_TRACE: o.trace_dir = optarg; break;
        default:
            if (optopt && optopt < 256)
                fprintf(stderr, "ppcrun: error: option -%c: unknown or missing its argument (see ppcrun --help)\n",
                        optopt);
            else
                fprintf(stderr, "ppcrun: error: option '%s': unknown or missing its argument (see ppcrun --help)\n",
                        argv[optind - 1]);
            return 1;
        }
    }
    int n_models = argc - optind;
    if (o.compare) {
        if (n_models != 2) return fail(NULL, "--compare-layers expects MODEL.onnx MODEL.so");
        if (o.trace_dir || o.bench || o.outdir || o.expect)
            return fail(NULL, "--compare-layers does not combine with --trace, --bench, -o or --expect");
        if (is_elf(argv[optind])) return fail(argv[optind], "--compare-layers expects the ONNX (or .ir) model first");
        if (!is_elf(argv[optind + 1]))
            return fail(argv[optind + 1], "not a compiled model (expected the .so made by ppcc --debug-layers)");
        return run_layers(&o, argv[optind], argv[optind + 1]);
    }
    if (n_models < 1) return fail(NULL, "no model given (see ppcrun --help)");
    if (n_models > 1) return fail(NULL, "more than one model given");
    const char *model = argv[optind];
    size_t len = strlen(model);
    int compiled = is_elf(model) || (len > 3 && !strcmp(model + len - 3, ".so"));
    if (o.trace_dir) {
        if (!compiled) return fail(model, "--trace needs a model compiled by ppcc --debug-layers (.so)");
        if (o.bench || o.outdir || o.expect) return fail(NULL, "--trace does not combine with --bench, -o or --expect");
        return run_layers(&o, NULL, model);
    }
    if (compiled) {
        if (o.n_fixes) return fail(model, "--shape applies to .onnx models; a compiled model has fixed shapes");
        return run_compiled(&o, model);
    }
    if (o.threads > 1) return fail(model, "--threads applies to compiled models (the interpreter runs on one thread)");
    return run_interpreter(&o, model);
}
