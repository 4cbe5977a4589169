/* ppcrun.c — run a model on ONNX TensorProto inputs and write or check its outputs.
 *
 *   ppcrun MODEL.onnx|MODEL.ir [-i NAME=FILE.pb | -i FILE.pb]... [--random SEED] [-o DIR]
 *          [--expect DIR] [--rtol R] [--atol A] [--shape NAME=AxBxC]...
 *
 * Given an .onnx or .ir model it runs the reference interpreter. Inputs not given with -i are
 * generated from --random SEED (an error without it). Outputs go to DIR/output_K.pb (K = graph
 * output index, the layout of the ONNX test data); --expect DIR compares with DIR/output_K.pb.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/tool.h"

static const char *usage_text =
    "usage: ppcrun MODEL.onnx|MODEL.ir [options]\n"
    "\n"
    "Runs a model with ppcc's reference interpreter on ONNX TensorProto (.pb) inputs.\n"
    "\n"
    "  -i NAME=FILE.pb     bind graph input NAME to the tensor in FILE.pb\n"
    "  -i FILE.pb          bind by the tensor's own name (or, if unnamed, the next unbound input)\n"
    "  --random SEED       fill inputs not given with -i with seeded random values\n"
    "                      (floats uniform in [-1,1), integers in [0,4))\n"
    "  -o DIR              write outputs to DIR/output_K.pb (K = output index)\n"
    "  --expect DIR        compare outputs with DIR/output_K.pb; exit 1 on mismatch\n"
    "  --rtol R, --atol A  tolerance for --expect: |got-want| <= A + R*|want| (1e-3, 1e-7)\n"
    "  --rel-l2 MAX        for --expect: pass when the relative L2 error ||got-want||/||want||\n"
    "                      of each float output is <= MAX (instead of the elementwise rule)\n"
    "  --shape NAME=AxBxC  fix a symbolic input dimension\n"
    "  -h, --help          this help\n";

enum { OPT_RANDOM = 256, OPT_EXPECT, OPT_RTOL, OPT_ATOL, OPT_SHAPE, OPT_REL_L2 };

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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"random", required_argument, 0, OPT_RANDOM}, {"expect", required_argument, 0, OPT_EXPECT},
        {"rtol", required_argument, 0, OPT_RTOL},     {"atol", required_argument, 0, OPT_ATOL},
        {"shape", required_argument, 0, OPT_SHAPE},   {"help", no_argument, 0, 'h'},
        {"rel-l2", required_argument, 0, OPT_REL_L2},
        {0, 0, 0, 0},
    };
    const char *in_specs[256];
    int n_in_specs = 0;
    const char *outdir = NULL, *expect = NULL;
    int have_seed = 0;
    uint64_t seed = 0;
    double rtol = 1e-3, atol = 1e-7, max_rel_l2 = -1;
    OnnxShapeFix fixes[64];
    int n_fixes = 0;
    Diag d = {{0}};
    int c;
    opterr = 0; /* we print our own one-line errors */
    while ((c = getopt_long(argc, argv, "i:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (n_in_specs == 256) return fail(NULL, "too many -i options");
            in_specs[n_in_specs++] = optarg;
            break;
        case 'o': outdir = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case OPT_RANDOM: {
            char *end;
            seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) return fail(NULL, "--random expects a non-negative integer seed");
            have_seed = 1;
            break;
        }
        case OPT_EXPECT: expect = optarg; break;
        case OPT_RTOL:
            if (parse_double(optarg, &rtol)) return fail(NULL, "--rtol expects a non-negative number");
            break;
        case OPT_ATOL:
            if (parse_double(optarg, &atol)) return fail(NULL, "--atol expects a non-negative number");
            break;
        case OPT_REL_L2:
            if (parse_double(optarg, &max_rel_l2)) return fail(NULL, "--rel-l2 expects a non-negative number");
            break;
        case OPT_SHAPE:
            if (n_fixes == 64) return fail(NULL, "too many --shape options");
            if (tool_parse_shape(optarg, &fixes[n_fixes], &d)) return fail(NULL, d.msg);
            n_fixes++;
            break;
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
    if (optind >= argc) return fail(NULL, "no model given (see ppcrun --help)");
    if (optind + 1 < argc) return fail(NULL, "more than one model given");
    const char *model = argv[optind];
    Graph *g = tool_load_model(model, fixes, n_fixes, &d);
    if (!g) return fail(model, d.msg);

    int rc = 1;
    Tensor **inputs = xcalloc((size_t)g->n_inputs + 1, sizeof(Tensor *));
    Tensor **outputs = xcalloc((size_t)g->n_outputs + 1, sizeof(Tensor *));
    for (int s = 0; s < n_in_specs; s++) {
        char *spec = xstrdup(in_specs[s]);
        char *eq = strchr(spec, '=');
        const char *path = eq ? eq + 1 : spec;
        char *tname = NULL;
        Tensor *t = NULL;
        if (onnx_tensor_read_file(path, &t, &tname, &d)) {
            fail(path, d.msg);
            free(spec);
            goto out;
        }
        const char *want = eq ? (*eq = 0, spec) : tname;
        int slot = -1;
        for (int k = 0; k < g->n_inputs; k++)
            if (want && *want && !strcmp(g->values[g->inputs[k]].name, want)) slot = k;
        if (slot < 0 && !eq && !(tname && *tname))
            for (int k = 0; k < g->n_inputs && slot < 0; k++)
                if (!inputs[k]) slot = k;
        if (slot < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "the model has no input named '%s'", want ? want : "");
            fail(path, msg);
            free(tname), free(spec), tensor_free(t);
            goto out;
        }
        if (inputs[slot]) {
            fail(path, "input bound twice");
            free(tname), free(spec), tensor_free(t);
            goto out;
        }
        inputs[slot] = t;
        free(tname);
        free(spec);
    }
    uint64_t state = seed;
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        if (inputs[k]) continue;
        if (!have_seed) {
            char msg[512];
            snprintf(msg, sizeof msg, "input '%s' not given (use -i %s=FILE.pb or --random SEED)", v->name, v->name);
            fail(model, msg);
            goto out;
        }
        inputs[k] = tool_random_tensor(v->dtype, v->rank, v->dims, &state);
    }
    double t0 = tool_now();
    if (interp_run(g, inputs, outputs, NULL, &d)) {
        fail(model, d.msg);
        goto out;
    }
    double ms = (tool_now() - t0) * 1e3;
    printf("ppcrun: interpreter ran in %.1f ms\n", ms);
    if (outdir && tool_mkdirs(outdir, &d)) {
        fail(outdir, d.msg);
        goto out;
    }
    int bad = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        const char *name = g->values[g->outputs[k]].name;
        char path[4096];
        if (outdir) {
            snprintf(path, sizeof path, "%s/output_%d.pb", outdir, k);
            if (onnx_tensor_write_file(path, outputs[k], name, &d)) {
                fail(path, d.msg);
                goto out;
            }
        }
        if (expect) {
            snprintf(path, sizeof path, "%s/output_%d.pb", expect, k);
            Tensor *want = NULL;
            if (onnx_tensor_read_file(path, &want, NULL, &d)) {
                fail(path, d.msg);
                goto out;
            }
            TensorDiff td;
            int64_t nb = tool_compare(outputs[k], want, rtol, atol, &td);
            if (max_rel_l2 >= 0 && nb >= 0 && dtype_is_float(want->dtype)) {
                double e = tool_rel_l2(outputs[k], want);
                printf("output %d '%s': relative L2 error %.3g (max %.3g)%s\n", k, name, e, max_rel_l2,
                       e <= max_rel_l2 ? "" : " FAIL");
                bad |= !(e <= max_rel_l2);
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
    rc = bad ? 1 : 0;
    if (bad) fprintf(stderr, "ppcrun: error: %s: outputs differ from %s\n", model, expect);
out:
    for (int k = 0; k < g->n_inputs; k++) tensor_free(inputs[k]);
    for (int k = 0; k < g->n_outputs; k++) tensor_free(outputs[k]);
    free(inputs), free(outputs);
    ir_graph_free(g);
    return rc;
}
