/* conformance.c — runs the ONNX backend test data (Debian's libonnx-testdata) through ppcc.
 *
 *   conformance [--log FILE] [--filter SUBSTR] [--min-pass N] [--timeout S] DIR...
 *
 * Each DIR holds test folders <test>/model.onnx and test_data_set_N/{input,output}_K.pb. For each
 * test: import the model (input shapes fixed from test_data_set_0's inputs), run the reference
 * interpreter on every data set and compare every output with ONNX's tolerance (rtol 1e-3,
 * atol 1e-7, NaN positions must match). A model that imports with problems of kind op,
 * attribute, dtype, value or shape is "unsupported" (the reason is logged); anything else that
 * goes wrong is a failure. A model that fails to import only because shape-determining inputs
 * (Reshape shape, Slice starts, ...) are graph inputs is compiled once per data set with its
 * integer inputs bound as constants (ppcc compiles for static shapes); the log says so. Each test runs in a child process with a time limit, so a crash or
 * hang is a failure of that test, not of the runner. Last line:
 *   conformance: N passed, M failed, K unsupported
 * Exit status 1 if M > 0 or N < --min-pass.
 */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/tool.h"

enum { R_PASS = 0, R_FAIL = 1, R_UNSUP = 2 };

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted list of entries of dir (malloc'ed strings) passing filter prefix (NULL = all). */
static char **list_dir(const char *dir, const char *prefix, int *n)
{
    DIR *dp = opendir(dir);
    *n = 0;
    if (!dp) return NULL;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix))) continue;
        v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
        v[(*n)++] = xstrdup(e->d_name);
    }
    closedir(dp);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Read test_data_set_X/{prefix}_K.pb for K = 0.. into a malloc'ed array. */
static Tensor **read_set(const char *set, const char *prefix, int *n, char *why, size_t whyn)
{
    Tensor **v = xcalloc(1, sizeof *v); /* non-NULL even for zero tensors */
    *n = 0;
    for (int k = 0;; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s_%d.pb", set, prefix, k);
        if (!exists(p)) break;
        Diag d;
        Tensor *t = NULL;
        if (onnx_tensor_read_file(p, &t, NULL, &d)) {
            snprintf(why, whyn, "cannot read %s_%d.pb: %s", prefix, k, d.msg);
            for (int i = 0; i < *n; i++) tensor_free(v[i]);
            free(v);
            return NULL;
        }
        v = xrealloc(v, (size_t)(k + 1) * sizeof *v);
        v[k] = t;
        *n = k + 1;
    }
    return v;
}

static void free_tensors(Tensor **v, int n)
{
    for (int i = 0; i < n; i++) tensor_free(v[i]);
    free(v);
}

/* Did the import fail only because shape-determining inputs are not constants? */
static int only_value_problems(const OnnxProblem *p, int n)
{
    int ok = n > 0;
    for (int i = 0; i < n; i++) ok &= !strcmp(p[i].kind, "value");
    return ok;
}

static int is_unsupported_kind(const char *k)
{
    return !strcmp(k, "op") || !strcmp(k, "attribute") || !strcmp(k, "dtype") || !strcmp(k, "value") ||
           !strcmp(k, "shape");
}

/* Names of inputs the import needs as constants, from "value" problems ("... input 'x' is
 * not a constant ..."), appended to *names (no duplicates). Returns how many were new. */
static int wanted_consts(const OnnxProblem *p, int n, char ***names, int *count)
{
    int added = 0;
    for (int i = 0; i < n; i++) {
        const char *q = strstr(p[i].msg, " input '");
        if (!q || !strstr(p[i].msg, "is not a constant")) continue;
        q += 8;
        const char *e = strchr(q, '\'');
        if (!e) continue;
        char *nm = strndup(q, (size_t)(e - q));
        int dup = 0;
        for (int k = 0; k < *count; k++) dup |= !strcmp((*names)[k], nm);
        if (dup) {
            free(nm);
            continue;
        }
        *names = xrealloc(*names, (size_t)(*count + 1) * sizeof(char *));
        (*names)[(*count)++] = nm;
        added++;
    }
    return added;
}

/* Import model with the graph inputs listed in bind_names bound to the data set's tensors of
 * the same name: ppcc compiles for static shapes, so a test whose Reshape shape or Resize
 * scales arrive as graph inputs is compiled for the values of its data set. */
static Graph *import(const char *model, Tensor **in, char **names, int nin, char **bind_names, int n_bind,
                     int *nbound, OnnxProblem **probs, int *nprobs, Diag *d)
{
    OnnxImportOptions io = {NULL, 0, probs, nprobs};
    *nbound = 0;
    if (!n_bind) return onnx_import_file(model, &io, d);
    OnnxConstInput *ci = xcalloc((size_t)nin + 1, sizeof *ci);
    for (int k = 0; k < nin; k++)
        for (int j = 0; j < n_bind; j++)
            if (names[k] && !strcmp(names[k], bind_names[j])) {
                ci[*nbound].name = names[k];
                ci[*nbound].value = in[k];
                (*nbound)++;
            }
    Graph *g = onnx_import_file_consts(model, &io, ci, *nbound, d);
    free(ci);
    return g;
}

/* Run one data set against g: inputs are matched to graph inputs by name when the data set
 * names them, else by position. */
static int run_set(Graph *g, const char *setname, Tensor **in, char **names, int nin, Tensor **want, int nout,
                   char *why, size_t whyn)
{
    Diag d = {{0}};
    if (nout != g->n_outputs) {
        snprintf(why, whyn, "%s: data set has %d outputs, model %d", setname, nout, g->n_outputs);
        return R_FAIL;
    }
    Tensor **bound = xcalloc((size_t)g->n_inputs + 1, sizeof(Tensor *));
    int used = 0;
    for (int k = 0; k < g->n_inputs; k++) {
        const char *gn = g->values[g->inputs[k]].name;
        for (int j = 0; j < nin; j++)
            if (names[j] && !strcmp(names[j], gn)) bound[k] = in[j];
        if (!bound[k] && k < nin && (!names[k] || !names[k][0])) bound[k] = in[k];
        used += bound[k] != NULL;
        if (!bound[k]) {
            snprintf(why, whyn, "%s: no data for graph input '%s'", setname, gn);
            free(bound);
            return R_FAIL;
        }
    }
    Tensor **got = xcalloc((size_t)nout + 1, sizeof(Tensor *));
    int result = R_PASS;
    if (interp_run(g, bound, got, NULL, &d)) {
        snprintf(why, whyn, "%s: run: %s", setname, d.msg);
        result = R_FAIL;
    } else {
        for (int k = 0; k < nout && result == R_PASS; k++) {
            TensorDiff td;
            if (tool_compare(got[k], want[k], 1e-3, 1e-7, &td)) {
                snprintf(why, whyn, "%s: output %d '%s': %s", setname, k, g->values[g->outputs[k]].name, td.msg);
                result = R_FAIL;
            }
        }
    }
    free_tensors(got, nout);
    free(bound);
    return result;
}

/* Run one test in this process; returns R_* and writes a reason. */
static int run_test(const char *tdir, char *why, size_t whyn)
{
    char model[4200];
    snprintf(model, sizeof model, "%.4000s/model.onnx", tdir);
    int nsets;
    char **sets = list_dir(tdir, "test_data_set_", &nsets);
    if (!nsets) {
        snprintf(why, whyn, "no test data sets");
        return R_FAIL;
    }
    int result = R_PASS, any_bound = 0, n_bind = 0;
    char **bind_names = NULL;
    /* Import once without data: an unsupported model is reported as such before its data
     * (which may hold sequences, strings or float16) is read. */
    Graph *g = NULL;
    OnnxProblem *probs = NULL;
    int nprobs = 0, nb = 0;
    Diag d = {{0}};
    g = import(model, NULL, NULL, 0, NULL, 0, &nb, &probs, &nprobs, &d);
    if (!g && !(only_value_problems(probs, nprobs) && wanted_consts(probs, nprobs, &bind_names, &n_bind))) {
        int unsup = nprobs > 0;
        for (int i = 0; i < nprobs; i++) unsup &= is_unsupported_kind(probs[i].kind);
        if (nprobs)
            snprintf(why, whyn, "%s: %s%s%.400s%s", probs[0].kind, probs[0].op, probs[0].op[0] ? ": " : "",
                     probs[0].msg, nprobs > 1 ? " (and more)" : "");
        else
            snprintf(why, whyn, "import: %.900s", d.msg);
        free(probs);
        free_list(sets, nsets);
        return unsup ? R_UNSUP : R_FAIL;
    }
    free(probs);
    for (int s = 0; s < nsets && result == R_PASS; s++) {
        char set[8200];
        snprintf(set, sizeof set, "%.4000s/%.4000s", tdir, sets[s]);
        int nin = 0, nout = 0;
        Tensor **in = read_set(set, "input", &nin, why, whyn);
        Tensor **want = in ? read_set(set, "output", &nout, why, whyn) : NULL;
        if (!in || !want) {
            if (in) free_tensors(in, nin);
            result = R_FAIL;
            break;
        }
        char **names = xcalloc((size_t)nin + 1, sizeof(char *));
        for (int k = 0; k < nin; k++) {
            char p[8300];
            snprintf(p, sizeof p, "%s/input_%d.pb", set, k);
            Tensor *t = NULL;
            Diag d2;
            if (!onnx_tensor_read_file(p, &t, &names[k], &d2)) tensor_free(t);
        }
        for (int round = 0; n_bind && round < 4; round++) {
            ir_graph_free(g);
            probs = NULL;
            nprobs = 0;
            int nbound = 0;
            g = import(model, in, names, nin, bind_names, n_bind, &nbound, &probs, &nprobs, &d);
            any_bound |= nbound > 0;
            if (!g && only_value_problems(probs, nprobs) && wanted_consts(probs, nprobs, &bind_names, &n_bind)) {
                free(probs);
                continue; /* bind the newly named inputs too */
            }
            if (!g) {
                int unsup = nprobs > 0;
                for (int i = 0; i < nprobs; i++) unsup &= is_unsupported_kind(probs[i].kind);
                if (nprobs)
                    snprintf(why, whyn, "%s: %s%s%.400s%s", probs[0].kind, probs[0].op, probs[0].op[0] ? ": " : "",
                             probs[0].msg, nprobs > 1 ? " (and more)" : "");
                else
                    snprintf(why, whyn, "import: %.900s", d.msg);
                result = unsup ? R_UNSUP : R_FAIL;
            }
            free(probs);
            break;
        }
        if (g) result = run_set(g, sets[s], in, names, nin, want, nout, why, whyn);
        for (int k = 0; k < nin; k++) free(names[k]);
        free(names);
        free_tensors(in, nin);
        free_tensors(want, nout);
    }
    if (result == R_PASS) {
        int k = snprintf(why, whyn, "%d data set%s", nsets, nsets == 1 ? "" : "s");
        for (int i = 0; any_bound && i < n_bind && k < (int)whyn - 64; i++)
            k += snprintf(why + k, whyn - (size_t)k, "%s%.40s", i ? ", " : " (bound as constants: ", bind_names[i]);
        if (any_bound) snprintf(why + k, whyn - (size_t)k, ")");
    }
    for (int i = 0; i < n_bind; i++) free(bind_names[i]);
    free(bind_names);
    ir_graph_free(g);
    free_list(sets, nsets);
    return result;
}

/* Fork, run, collect the result through a pipe, enforce the time limit. */
static int run_isolated(const char *tdir, int timeout, char *why, size_t whyn)
{
    int fd[2];
    if (pipe(fd)) {
        snprintf(why, whyn, "pipe failed");
        return R_FAIL;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        alarm((unsigned)timeout);
        char buf[4096];
        int r = run_test(tdir, buf, sizeof buf);
        char out[4200];
        int n = snprintf(out, sizeof out, "%d %s", r, buf);
        if (write(fd[1], out, (size_t)n) < 0) _exit(3);
        _exit(0);
    }
    close(fd[1]);
    char buf[4400];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(why, whyn, "%s", sig == SIGALRM ? "timed out" : strsignal(sig));
        return R_FAIL;
    }
    int res = R_FAIL;
    if (len < 2 || sscanf(buf, "%d", &res) != 1) {
        snprintf(why, whyn, "child exited without a result (status %d)", WEXITSTATUS(status));
        return R_FAIL;
    }
    snprintf(why, whyn, "%.4000s", buf + 2);
    return res;
}

int main(int argc, char **argv)
{
    const char *logpath = NULL, *filter = NULL;
    int min_pass = 0, timeout = 120;
    int argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        if (!strcmp(argv[argi], "--log") && argi + 1 < argc)
            logpath = argv[++argi];
        else if (!strcmp(argv[argi], "--filter") && argi + 1 < argc)
            filter = argv[++argi];
        else if (!strcmp(argv[argi], "--min-pass") && argi + 1 < argc)
            min_pass = atoi(argv[++argi]);
        else if (!strcmp(argv[argi], "--timeout") && argi + 1 < argc)
            timeout = atoi(argv[++argi]);
        else {
            fprintf(stderr, "usage: conformance [--log FILE] [--filter SUBSTR] [--min-pass N] [--timeout S] DIR...\n");
            return 2;
        }
    }
    if (argi >= argc) {
        fprintf(stderr, "conformance: no test directory given\n");
        return 2;
    }
    FILE *log = logpath ? fopen(logpath, "w") : NULL;
    if (logpath && !log) {
        fprintf(stderr, "conformance: cannot write %s\n", logpath);
        return 2;
    }
    int count[3] = {0};
    double t0 = tool_now();
    for (; argi < argc; argi++) {
        int n;
        char **tests = list_dir(argv[argi], NULL, &n);
        if (!tests) {
            fprintf(stderr, "conformance: cannot read directory %s\n", argv[argi]);
            return 2;
        }
        for (int i = 0; i < n; i++) {
            if (filter && !strstr(tests[i], filter)) continue;
            char tdir[4096], model[4200];
            snprintf(tdir, sizeof tdir, "%.2000s/%.1000s", argv[argi], tests[i]);
            snprintf(model, sizeof model, "%s/model.onnx", tdir);
            if (!exists(model)) continue;
            char why[4096];
            int r = run_isolated(tdir, timeout, why, sizeof why);
            count[r]++;
            static const char *tag[] = {"PASS", "FAIL", "UNSUPPORTED"};
            if (log) fprintf(log, "%-11s %s: %s\n", tag[r], tdir, why);
            if (r == R_FAIL) printf("FAIL %s: %s\n", tdir, why);
        }
        free_list(tests, n);
    }
    if (log) {
        fprintf(log, "conformance: %d passed, %d failed, %d unsupported\n", count[0], count[1], count[2]);
        fclose(log);
    }
    printf("conformance: %d passed, %d failed, %d unsupported (%.1f s)\n", count[0], count[1], count[2],
           tool_now() - t0);
    if (min_pass && count[0] < min_pass) printf("conformance: fewer than %d tests passed\n", min_pass);
    return (count[1] || count[0] < min_pass) ? 1 : 0;
}
