/* prune_opts.c — ppcc's pruning options (see prune_opts.h): strict number parsing with one-line
 * range errors, the combination checks, the pipeline with "prune" inserted before
 * fold-batchnorm, --save-synthetic (the pass hands its synthetic inputs to save_synthetic,
 * which writes them as TensorProto files and one PNG grid) and --save-pruned
 * (frontends/onnx/save.c with the constants the pass replaced, which keep their ONNX names).
 */
#include "compiler/prune_opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/tool.h"
#include "frontends/onnx/onnx.h"
#include "passes/png.h"

void prune_cli_init(PruneCli *c)
{
    memset(c, 0, sizeof *c);
    prune_options_default(&c->opt);
}

static int parse_int(const char *opt, const char *arg, long lo, long hi, int *out, Diag *d)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || errno || v < lo || v > hi)
        return diag_error(d, "%s: expected an integer from %ld to %ld, got '%s'", opt, lo, hi, arg);
    *out = (int)v;
    return 0;
}

static int parse_double(const char *opt, const char *arg, double *out, Diag *d)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (!*arg || *end || errno || !isfinite(v)) return diag_error(d, "%s: expected a number, got '%s'", opt, arg);
    *out = v;
    return 0;
}

/* A number in [lo, hi] (lo_open: lo itself excluded), for the option `opt`. */
static int parse_range(const char *opt, const char *arg, double lo, int lo_open, double hi, double *out, Diag *d)
{
    if (parse_double(opt, arg, out, d)) return -1;
    if (*out < lo || (lo_open && *out == lo) || *out > hi)
        return diag_error(d, "%s: expected a number with %g %s X <= %g, got '%s'", opt, lo, lo_open ? "<" : "<=", hi,
                          arg);
    return 0;
}

/* --synthetic-range LO,HI */
static int parse_pair(const char *opt, const char *arg, double *lo, double *hi, Diag *d)
{
    const char *comma = strchr(arg, ',');
    char *end;
    if (!comma) return diag_error(d, "%s: expected LO,HI (e.g. 0,1), got '%s'", opt, arg);
    char *a = xstrdup(arg);
    a[comma - arg] = 0;
    const char *b = a + (comma - arg) + 1;
    errno = 0;
    *lo = strtod(a, &end);
    int bad = !*a || *end || errno || !isfinite(*lo);
    if (!bad) {
        *hi = strtod(b, &end);
        bad = !*b || *end || errno || !isfinite(*hi);
    }
    free(a);
    if (bad) return diag_error(d, "%s: expected LO,HI (two numbers, e.g. 0,1), got '%s'", opt, arg);
    if (!(*lo < *hi)) return diag_error(d, "%s: expected LO < HI, got '%s'", opt, arg);
    return 0;
}

int prune_cli_option(PruneCli *c, int code, const char *arg, Diag *d)
{
    PruneOptions *o = &c->opt;
    static const char *const names[] = {"--prune", "--patterns", "--pattern-size", "--connectivity", "--admm-iters",
                                        "--admm-rho", "--synthetic-samples", "--synthetic", "--synthetic-source",
                                        "--no-refit", "--prune-layers", "--prune-first", "--save-pruned",
                                        "--inversion-steps", "--inversion-lr", "--inversion-tv", "--inversion-l2",
                                        "--inversion-l1", "--inversion-resolution",
                                        "--inversion-coverage", "--inversion-coverage-pick", "--inversion-jitter", "--synthetic-range", "--save-synthetic",
                                        "--classifier-ridge", "--no-classifier-refit"};
    _Static_assert(sizeof names / sizeof names[0] == PRUNE_OPT_END - PRUNE_OPT_BASE, "one name per option");
    const char *name = names[code - PRUNE_OPT_BASE];
    if (code != PRUNE_OPT_PRUNE) {
        c->given = 1;
        c->given_name = name;
    }
    if (code >= PRUNE_OPT_INV_STEPS && code <= PRUNE_OPT_INV_JITTER) {
        c->inversion_given = 1;
        c->inversion_name = name;
    }
    switch (code) {
    case PRUNE_OPT_PRUNE: c->enabled = 1; return 0;
    case PRUNE_OPT_PATTERNS: return parse_int(name, arg, 1, 56, &o->patterns, d);
    case PRUNE_OPT_PATTERN_SIZE: return parse_int(name, arg, 1, 9, &o->pattern_size, d);
    case PRUNE_OPT_CONNECTIVITY:
        if (parse_double(name, arg, &o->connectivity, d)) return -1;
        if (!(o->connectivity >= 0.0 && o->connectivity < 1.0))
            return diag_error(d, "%s: expected a number with 0 <= R < 1, got '%s'", name, arg);
        return 0;
    case PRUNE_OPT_ADMM_ITERS:
        if (parse_int(name, arg, 0, 100000, &o->admm_iters, d)) return -1;
        o->admm_iters_inverted = o->admm_iters;
        return 0;
    case PRUNE_OPT_ADMM_RHO:
        if (parse_double(name, arg, &o->admm_rho, d)) return -1;
        if (!(o->admm_rho > 0.0 && o->admm_rho <= 1e6))
            return diag_error(d, "%s: expected a number with 0 < rho <= 1e6, got '%s'", name, arg);
        return 0;
    case PRUNE_OPT_SAMPLES: return parse_int(name, arg, 1, 4096, &o->samples, d);
    case PRUNE_OPT_SYNTHETIC:
        o->synthetic_strict = 0;
        if (!strcmp(arg, "gaussian")) {
            o->synthetic = PRUNE_SYNTH_GAUSSIAN;
        } else if (!strcmp(arg, "uniform")) {
            o->synthetic = PRUNE_SYNTH_UNIFORM;
        } else if (!strcmp(arg, "inverted")) {
            o->synthetic = PRUNE_SYNTH_INVERTED;
            o->synthetic_strict = 1;
        } else {
            return diag_error(d, "%s: expected inverted, gaussian or uniform, got '%s'", name, arg);
        }
        return 0;
    case PRUNE_OPT_INV_STEPS: return parse_int(name, arg, 0, 100000, &o->inv_steps, d);
    case PRUNE_OPT_INV_LR: return parse_range(name, arg, 0, 1, 1e3, &o->inv_lr, d);
    case PRUNE_OPT_INV_TV: return parse_range(name, arg, 0, 0, 1e6, &o->inv_tv, d);
    case PRUNE_OPT_INV_L2: return parse_range(name, arg, 0, 0, 1e6, &o->inv_l2, d);
    case PRUNE_OPT_INV_L1: return parse_range(name, arg, 0, 0, 1e6, &o->inv_l1, d);
    case PRUNE_OPT_INV_RES: return parse_range(name, arg, 0, 1, 1, &o->inv_resolution, d);
    case PRUNE_OPT_INV_COVER: return parse_range(name, arg, 0, 0, 1e6, &o->inv_coverage, d);
    case PRUNE_OPT_INV_COVER_PICK:
        if (!strcmp(arg, "greedy") || !strcmp(arg, "random")) {
            o->inv_coverage_greedy = !strcmp(arg, "greedy");
            return 0;
        }
        return diag_error(d, "%s: expected greedy or random, got '%s'", name, arg);
    case PRUNE_OPT_INV_JITTER: return parse_int(name, arg, 0, 1000, &o->inv_jitter, d);
    case PRUNE_OPT_RANGE:
        if (parse_pair(name, arg, &o->range_lo, &o->range_hi, d)) return -1;
        o->has_range = 1;
        return 0;
    case PRUNE_OPT_SAVE_SYNTH:
        if (!*arg) return diag_error(d, "%s: expected a directory name", name);
        c->synth_dir = arg;
        return 0;
    case PRUNE_OPT_SOURCE:
        if (!strcmp(arg, "pruned"))
            o->source = PRUNE_SOURCE_PRUNED;
        else if (!strcmp(arg, "original"))
            o->source = PRUNE_SOURCE_ORIGINAL;
        else
            return diag_error(d, "%s: expected original or pruned, got '%s'", name, arg);
        return 0;
    case PRUNE_OPT_NO_REFIT: o->refit = 0; return 0;
    case PRUNE_OPT_CLS_RIDGE:
        if (parse_double(name, arg, &o->head_ridge, d)) return -1;
        if (!(o->head_ridge > 0.0 && o->head_ridge <= 1e6))
            return diag_error(d, "%s: expected a number with 0 < X <= 1e6, got '%s'", name, arg);
        c->ridge_given = 1;
        return 0;
    case PRUNE_OPT_NO_CLS_REFIT: c->no_head = 1; return 0;
    case PRUNE_OPT_LAYERS:
        if (!*arg || strspn(arg, ",") == strlen(arg))
            return diag_error(d, "%s: expected 'all' or a comma-separated list of Conv node or weight names", name);
        o->layers = arg;
        return 0;
    case PRUNE_OPT_FIRST: o->prune_first = 1; return 0;
    case PRUNE_OPT_SAVE:
        if (!*arg) return diag_error(d, "%s: expected an output file name", name);
        c->save_path = arg;
        return 0;
    default: return diag_error(d, "internal error: unknown pruning option %d", code);
    }
}

/* PruneSaveFn for --save-synthetic: DIR/synthetic_K.pb (TensorProto named after the input) and
 * DIR/synthetic.png; for a model with several inputs, synthetic_in<I>_K.pb and
 * synthetic_in<I>.png. DIR is created if missing (its parent must exist). */
static int save_synthetic(void *ctx, const Graph *g, int input, Tensor *const *samples, int n, Diag *d)
{
    PruneCli *c = ctx;
    const char *dir = c->synth_dir;
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return diag_error(d, "--save-synthetic: cannot create directory '%s': %s", dir, strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return diag_error(d, "--save-synthetic: '%s' is not a directory", dir);
    size_t len = strlen(dir) + 64;
    char *path = xmalloc(len), tag[32] = "", png[40] = "synthetic.png";
    if (g->n_inputs > 1) {
        snprintf(tag, sizeof tag, "in%d_", input);
        snprintf(png, sizeof png, "synthetic_in%d.png", input);
    }
    const char *name = g->values[g->inputs[input]].name;
    int rc = 0;
    for (int s = 0; s < n && !rc; s++) {
        snprintf(path, len, "%s/synthetic_%s%d.pb", dir, tag, s);
        rc = onnx_tensor_write_file(path, samples[s], name, d);
    }
    if (!rc) {
        const Tensor *t = samples[0];
        int64_t side = t->rank >= 2 ? (t->dims[t->rank - 1] > t->dims[t->rank - 2] ? t->dims[t->rank - 1]
                                                                                   : t->dims[t->rank - 2])
                                    : 0;
        int scale = side > 0 && side < 32 ? 2 : 1; /* small images (MNIST) at twice their size */
        snprintf(path, len, "%s/%s", dir, png);
        if (t->rank >= 2) rc = png_write_grid(path, samples, n, scale, d); /* no picture of vectors */
    }
    if (rc) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d->msg);
        diag_error(d, "--save-synthetic: %s", msg);
    }
    free(path);
    return rc;
}

int prune_cli_finish(PruneCli *c, PassContext *pc, int stats, const char *input, Diag *d)
{
    if (!c->enabled) {
        if (c->given) return diag_error(d, "%s needs --prune", c->given_name);
        return 0;
    }
    if (prune_options_check(&c->opt, d)) return -1;
    if (c->save_path && input && tool_is_ir_path(input))
        return diag_error(d, "--save-pruned needs an ONNX model as input (it rewrites the model's initializers)");
    if (c->inversion_given && c->opt.synthetic != PRUNE_SYNTH_INVERTED)
        return diag_error(d, "%s needs --synthetic=inverted (model inversion), not --synthetic=%s", c->inversion_name,
                          prune_synthetic_name(c->opt.synthetic));
    if (c->ridge_given && c->no_head)
        return diag_error(d, "--classifier-ridge and --no-classifier-refit contradict each other");
    if (c->no_head) c->opt.head_ridge = -1;
    if (c->synth_dir && c->opt.admm_iters == 0 && !c->opt.refit)
        return diag_error(d, "--save-synthetic: --admm-iters 0 --no-refit uses no synthetic data");
    if (c->synth_dir) {
        c->opt.save_fn = save_synthetic;
        c->opt.save_ctx = c;
    }
    c->opt.notes = stderr;
    c->opt.stats = stats ? stderr : NULL;
    c->opt.result = &c->result;
    pc->prune = &c->opt;
    return 0;
}

/* Is `name` an item of the comma-separated list? */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - s) == n && !strncmp(s, name, n)) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

char *prune_cli_pipeline(const PruneCli *c, char *pipeline)
{
    if (!c->enabled || list_has(pipeline, "prune")) return pipeline;
    size_t n = strlen(pipeline) + 8;
    char *buf = xmalloc(n);
    buf[0] = 0;
    int inserted = 0;
    for (const char *p = pipeline; *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (!inserted && (size_t)(e - s) == strlen("fold-batchnorm") && !strncmp(s, "fold-batchnorm", 14)) {
            strcat(buf, buf[0] ? ",prune" : "prune");
            inserted = 1;
        }
        if (buf[0]) strcat(buf, ",");
        strncat(buf, p, len);
        p += len;
        if (*p) p++;
    }
    if (!inserted) strcat(buf, buf[0] ? ",prune" : "prune");
    free(pipeline);
    return buf;
}

int prune_cli_save(PruneCli *c, const char *input, Diag *d)
{
    if (!c->enabled || !c->save_path) return 0;
    OnnxReplacement *rep = xcalloc((size_t)c->result.n_changed + 1, sizeof *rep);
    for (int i = 0; i < c->result.n_changed; i++) {
        rep[i].name = c->result.changed[i].name;
        rep[i].t = c->result.changed[i].t;
    }
    int rc = onnx_save_replaced(input, c->save_path, rep, c->result.n_changed, d);
    free(rep);
    if (rc) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d->msg);
        diag_error(d, "--save-pruned: %s", msg);
    }
    c->saved = !rc && !ir_path_is_special(c->save_path);
    return rc;
}

void prune_cli_discard(PruneCli *c)
{
    if (c->saved) unlink(c->save_path);
    c->saved = 0;
}

void prune_cli_free(PruneCli *c) { prune_result_clear(&c->result); }
