/* manager.c — the pass manager: parses a pipeline (comma-separated pass names), runs the passes
 * in order and, around each, optionally
 *   - dumps the text IR before/after it (to ctx->dump_stream with a header line, or into
 *     ctx->dump_dir as files NN-before-PASS.ir / NN-after-PASS.ir, written atomically),
 *   - times it (a table on stderr at the end),
 *   - verifies the graph (ir_verify; the error names the pass),
 *   - re-runs the interpreter on seeded random inputs and compares with the outputs of the
 *     input graph (check.c), so the first pass that changes the numerics is named.
 */
#include "passes/passes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void pass_context_init(PassContext *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->dump_stream = stderr;
    ctx->check_rtol = 1e-4;
    ctx->check_atol = 1e-5;
    ctx->seed = 1;
    ctx->target_vector_bits = 512;
    ctx->target_vregs = 32;
}

/* ---------------------------------------------------------------- pipeline strings */

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Copy the next comma-separated item of *p (trimmed) into buf; advance *p past the comma.
 * Returns 0 at the end of the string. */
static int next_item(const char **p, char *buf, size_t n)
{
    const char *s = *p;
    if (!*s) return 0;
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    s = skip_space(s);
    len -= (size_t)(s - *p);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len >= n) len = n - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    *p = e ? e + 1 : s + strlen(s);
    return 1;
}

static void valid_names(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < pass_registry_count && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", pass_registry[i].name);
}

/* Resolve a pipeline string into registry entries. An empty (or all-blank) string is the
 * empty pipeline. *out is malloc'ed. */
static int pipeline_parse(const char *pipeline, const PassInfo ***out, int *n, Diag *d)
{
    *out = NULL;
    *n = 0;
    if (!*skip_space(pipeline)) return 0;
    int cap = 8;
    const PassInfo **v = xmalloc((size_t)cap * sizeof *v);
    char name[128];
    const char *p = pipeline;
    while (next_item(&p, name, sizeof name)) {
        const PassInfo *pi = pass_find(name);
        if (!pi) {
            char names[512];
            valid_names(names, sizeof names);
            if (!*name)
                diag_error(d, "empty pass name in pipeline '%s' (valid passes: %s)", pipeline, names);
            else
                diag_error(d, "unknown pass '%s' (valid passes: %s)", name, names);
            free(v);
            return -1;
        }
        if (*n == cap) v = xrealloc(v, (size_t)(cap *= 2) * sizeof *v);
        v[(*n)++] = pi;
    }
    /* "a," leaves an empty last item that next_item never returns */
    const char *end = pipeline + strlen(pipeline);
    while (end > pipeline && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if (end > pipeline && end[-1] == ',') {
        char names[512];
        valid_names(names, sizeof names);
        free(v);
        *n = 0;
        return diag_error(d, "empty pass name in pipeline '%s' (valid passes: %s)", pipeline, names);
    }
    *out = v;
    return 0;
}

int pass_pipeline_check(const char *pipeline, Diag *d)
{
    const PassInfo **v;
    int n;
    if (pipeline_parse(pipeline ? pipeline : pass_default_pipeline(), &v, &n, d)) return -1;
    free(v);
    return 0;
}

void pass_pipeline_print(FILE *f, const char *pipeline)
{
    const char *p = pipeline ? pipeline : pass_default_pipeline();
    char name[128];
    while (next_item(&p, name, sizeof name)) {
        const PassInfo *pi = pass_find(name);
        fprintf(f, "%-18s %s\n", name, pi ? pi->desc : "(unknown pass)");
    }
}

/* Is `name` in the comma list (or is the list "all")? */
static int list_has(const char *list, const char *name)
{
    if (!list) return 0;
    char item[128];
    const char *p = list;
    while (next_item(&p, item, sizeof item))
        if (!strcmp(item, "all") || !strcmp(item, name)) return 1;
    return 0;
}

/* Every item of a dump list must be "all", a registered pass or one of `passes`: a typo would
 * otherwise silently dump nothing. */
static int dump_list_check(const char *what, const char *list, const PassInfo *const *passes, int n,
                           Diag *d)
{
    if (!list) return 0;
    char item[128];
    const char *p = list;
    while (next_item(&p, item, sizeof item)) {
        int known = !strcmp(item, "all") || pass_find(item);
        for (int i = 0; i < n && !known; i++) known = !strcmp(item, passes[i]->name);
        if (!known) {
            char names[512];
            valid_names(names, sizeof names);
            return diag_error(d, "%s: unknown pass '%s' (valid: all, %s)", what, item, names);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- dumps */

/* mkdir -p */
static int make_dirs(const char *path, Diag *d)
{
    if (!*path) return diag_error(d, "empty dump directory name");
    char *buf = xstrdup(path);
    int rc = 0;
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) {
                rc = diag_error(d, "cannot create dump directory '%s': %s", buf, strerror(errno));
                break;
            }
            *s = c;
            if (!c) break;
        }
    }
    if (!rc) {
        struct stat st;
        if (stat(path, &st) || !S_ISDIR(st.st_mode))
            rc = diag_error(d, "dump directory '%s' is not a directory", path);
    }
    free(buf);
    return rc;
}

static int dump_ir(const Graph *g, PassContext *ctx, const char *when, const char *pass, int idx,
                   int total, Diag *d)
{
    char header[256];
    snprintf(header, sizeof header, "; ---- IR %s pass '%s' (%d/%d) ----\n", when, pass, idx, total);
    if (!ctx->dump_dir) {
        FILE *f = ctx->dump_stream ? ctx->dump_stream : stderr;
        fputs(header, f);
        ir_print(g, f, IR_PRINT_ELIDE);
        fflush(f);
        return 0;
    }
    if (make_dirs(ctx->dump_dir, d)) return -1;
    int nn = ++ctx->dump_counter;
    size_t len = strlen(ctx->dump_dir) + strlen(pass) + 64;
    char *path = xmalloc(len), *tmp = xmalloc(len + 32);
    snprintf(path, len, "%s/%02d-%s-%s.ir", ctx->dump_dir, nn, when, pass);
    snprintf(tmp, len + 32, "%s/.%02d-%s-%s.ir.tmp%ld", ctx->dump_dir, nn, when, pass, (long)getpid());
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = diag_error(d, "cannot write dump file '%s': %s", tmp, strerror(errno));
    } else {
        fputs(header, f);
        ir_print(g, f, IR_PRINT_ELIDE);
        int bad = ferror(f);
        if (fclose(f) || bad) {
            rc = diag_error(d, "cannot write dump file '%s': %s", tmp, strerror(errno));
            remove(tmp);
        } else if (rename(tmp, path)) {
            rc = diag_error(d, "cannot rename dump file to '%s': %s", path, strerror(errno));
            remove(tmp);
        }
    }
    free(path), free(tmp);
    return rc;
}

/* ---------------------------------------------------------------- running */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_times(const PassInfo *const *passes, const double *ms, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) total += ms[i];
    fprintf(stderr, "%-20s %10s %7s\n", "pass", "ms", "%");
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%-20s %10.3f %6.1f%%\n", passes[i]->name, ms[i],
                total > 0 ? 100.0 * ms[i] / total : 0.0);
    fprintf(stderr, "%-20s %10.3f %6.1f%%\n", "total", total, 100.0);
}

int pass_pipeline_run_passes(Graph *g, const PassInfo *const *passes, int n, PassContext *ctx,
                             Diag *d)
{
    PassContext dflt;
    if (!ctx) {
        pass_context_init(&dflt);
        ctx = &dflt;
    }
    if (dump_list_check("dump-before", ctx->dump_before, passes, n, d) ||
        dump_list_check("dump-after", ctx->dump_after, passes, n, d))
        return -1;
    PassCheck *check = NULL;
    if (ctx->check_each && !(check = pass_check_new(g, ctx, d))) return -1;
    double *ms = xcalloc((size_t)n + 1, sizeof(double));
    int rc = 0, ran = 0;
    for (int i = 0; i < n && !rc; i++) {
        const PassInfo *p = passes[i];
        Diag sub;
        if (list_has(ctx->dump_before, p->name) &&
            (rc = dump_ir(g, ctx, "before", p->name, i + 1, n, d)))
            break;
        double t0 = now_ms();
        rc = p->run(g, ctx, d);
        ms[i] = now_ms() - t0;
        ran = i + 1;
        if (rc) break;
        if (list_has(ctx->dump_after, p->name) &&
            (rc = dump_ir(g, ctx, "after", p->name, i + 1, n, d)))
            break;
        if (ctx->verify_each && ir_verify(g, &sub)) {
            rc = diag_error(d, "after pass '%s': %s", p->name, sub.msg);
            break;
        }
        if (check) rc = pass_check_compare(check, g, p->name, d);
    }
    if (ctx->time_passes) print_times(passes, ms, ran);
    free(ms);
    pass_check_free(check);
    return rc ? -1 : 0;
}

int pass_pipeline_run(Graph *g, const char *pipeline, PassContext *ctx, Diag *d)
{
    const PassInfo **v;
    int n;
    if (pipeline_parse(pipeline ? pipeline : pass_default_pipeline(), &v, &n, d)) return -1;
    int rc = pass_pipeline_run_passes(g, v, n, ctx, d);
    free(v);
    return rc;
}
