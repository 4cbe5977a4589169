/* prune_opts.c — ppcc's pruning options (see prune_opts.h): strict number parsing with one-line
 * range errors, the combination checks, the pipeline with "prune" inserted before
 * fold-batchnorm, and --save-pruned (frontends/onnx/save.c with the constants the pass
 * replaced, which keep their ONNX names).
 */
#include "compiler/prune_opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/tool.h"
#include "frontends/onnx/onnx.h"

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

int prune_cli_option(PruneCli *c, int code, const char *arg, Diag *d)
{
    PruneOptions *o = &c->opt;
    static const char *const names[] = {"--prune", "--patterns", "--pattern-size", "--connectivity", "--admm-iters",
                                        "--admm-rho", "--synthetic-samples", "--synthetic", "--synthetic-source",
                                        "--no-refit", "--prune-layers", "--prune-first", "--save-pruned"};
    const char *name = names[code - PRUNE_OPT_BASE];
    if (code != PRUNE_OPT_PRUNE) {
        c->given = 1;
        c->given_name = name;
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
    case PRUNE_OPT_ADMM_ITERS: return parse_int(name, arg, 0, 100000, &o->admm_iters, d);
    case PRUNE_OPT_ADMM_RHO:
        if (parse_double(name, arg, &o->admm_rho, d)) return -1;
        if (!(o->admm_rho > 0.0 && o->admm_rho <= 1e6))
            return diag_error(d, "%s: expected a number with 0 < rho <= 1e6, got '%s'", name, arg);
        return 0;
    case PRUNE_OPT_SAMPLES: return parse_int(name, arg, 1, 4096, &o->samples, d);
    case PRUNE_OPT_SYNTHETIC:
        if (!strcmp(arg, "gaussian"))
            o->synthetic = PRUNE_SYNTH_GAUSSIAN;
        else if (!strcmp(arg, "uniform"))
            o->synthetic = PRUNE_SYNTH_UNIFORM;
        else
            return diag_error(d, "%s: expected gaussian or uniform, got '%s'", name, arg);
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

int prune_cli_finish(PruneCli *c, PassContext *pc, int stats, const char *input, Diag *d)
{
    if (!c->enabled) {
        if (c->given) return diag_error(d, "%s needs --prune", c->given_name);
        return 0;
    }
    if (prune_options_check(&c->opt, d)) return -1;
    if (c->save_path && input && tool_is_ir_path(input))
        return diag_error(d, "--save-pruned needs an ONNX model as input (it rewrites the model's initializers)");
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
