/* conformance.c — runs the ONNX backend test data (Debian's libonnx-testdata) through ppcc.
 *
 *   conformance [--log FILE] [--filter SUBSTR] [--min-pass N] [--timeout S] [--jobs J]
 *               [--compiled PPCC [--opt -ON]] DIR...
 *
 * Each DIR holds test folders <test>/model.onnx and test_data_set_N/{input,output}_K.pb. For each
 * test: import the model (input shapes fixed from test_data_set_0's inputs), run the reference
 * interpreter on every data set and compare every output with ONNX's tolerance (rtol 1e-3,
 * atol 1e-7, NaN positions must match). A model that imports with problems of kind op,
 * attribute, dtype, value or shape is "unsupported" (the reason is logged); anything else that
 * goes wrong is a failure. A model that fails to import only because shape-determining inputs
 * (Reshape shape, Slice starts, ...) are graph inputs is compiled once per data set with its
 * integer inputs bound as constants (ppcc compiles for static shapes); the log says so. Each test runs in a child process with a time limit, so a crash or
 * hang is a failure of that test, not of the runner; --jobs J runs J tests at once. Last line:
 *   conformance: N passed, M failed, K unsupported
 * Exit status 1 if M > 0 or N < --min-pass.
 *
 * Compiled mode (--compiled PPCC): every test the interpreter passes is also compiled by the
 * ppcc binary PPCC (--emit=so, -O2 unless --opt says otherwise, into a temp directory): the
 * model.onnx itself, or, for a test whose shape inputs were bound as constants, the imported
 * graph written as text IR (once per data set). The .so is loaded through libppcrt and run on
 * every data set (one thread), compared like the interpreter's outputs. The last line then reads
 *   conformance (compiled): N passed, M failed, K unsupported
 * where passed means both the interpreter and the compiled model pass. (Compile time is mostly
 * process start-up and linking: -O1 is not measurably faster, so the default level is tested.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/tool.h"
#include "runtime/ppcrt.h"

enum { R_PASS = 0, R_FAIL = 1, R_UNSUP = 2 };

extern char **environ;

/* Compiled mode: the ppcc binary and its optimisation flag (NULL = interpreter only). */
static const char *g_ppcc, *g_opt = "-O2";

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
    for (int k = 0; k < g->n_inputs; k++) {
        const char *gn = g->values[g->inputs[k]].name;
        for (int j = 0; j < nin; j++)
            if (names[j] && !strcmp(names[j], gn)) bound[k] = in[j];
        if (!bound[k] && k < nin && (!names[k] || !names[k][0])) bound[k] = in[k];
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

/* ---------------------------------------------------------------- compiled mode */

/* Run `ppcc src --emit=so OPT -o so`; on failure the first line of its stderr goes to why. */
static int ppcc_compile(const char *src, const char *so, const char *tmpdir, char *why, size_t whyn)
{
    char log[4200];
    snprintf(log, sizeof log, "%s/ppcc.log", tmpdir);
    const char *argv[] = {g_ppcc, src, "--emit=so", g_opt, "-o", so, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int e = posix_spawn(&pid, g_ppcc, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) {
        snprintf(why, whyn, "compiled: cannot run %s: %s", g_ppcc, strerror(e));
        return -1;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char line[1024] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    if (WIFSIGNALED(status))
        snprintf(why, whyn, "compiled: ppcc died of %s: %.800s", strsignal(WTERMSIG(status)), line);
    else
        snprintf(why, whyn, "compiled: ppcc failed: %.900s", line);
    return -1;
}

/* Run the compiled model so on one data set (inputs matched by name, else position) and
 * compare like run_set. */
static int run_set_compiled(const char *so, const char *setname, Tensor **in, char **names, int nin,
                            Tensor **want, int nout, char *why, size_t whyn)
{
    PpcrtModel *m = NULL;
    PpcrtSession *sess = NULL;
    int st = ppcrt_model_load(so, &m);
    PpcrtSessionOptions opt = {1, NULL, 0};
    if (!st) st = ppcrt_session_create(m, &opt, &sess);
    if (st) {
        snprintf(why, whyn, "compiled: %s: %s: %.800s", setname, ppcrt_status_string(st), ppcrt_last_error());
        ppcrt_model_free(m);
        return R_FAIL;
    }
    int n_in = ppcrt_model_num_inputs(m), n_out = ppcrt_model_num_outputs(m), result = R_PASS;
    const void **ip = xcalloc((size_t)n_in + 1, sizeof *ip);
    void **op = xcalloc((size_t)n_out + 1, sizeof *op);
    Tensor **got = xcalloc((size_t)n_out + 1, sizeof *got);
    if (n_out != nout) {
        snprintf(why, whyn, "compiled: %s: data set has %d outputs, model %d", setname, nout, n_out);
        result = R_FAIL;
    }
    for (int k = 0; k < n_in && result == R_PASS; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_input_info(m, k, &ti);
        const Tensor *t = NULL;
        for (int j = 0; j < nin; j++)
            if (names[j] && !strcmp(names[j], ti.name)) t = in[j];
        if (!t && k < nin && (!names[k] || !names[k][0])) t = in[k];
        int ok = t && dtype_to_onnx(t->dtype) == ti.dtype && t->rank == ti.rank;
        for (int d = 0; ok && d < ti.rank; d++) ok = t->dims[d] == ti.dims[d];
        if (!ok) {
            snprintf(why, whyn, "compiled: %s: no matching data for input '%.200s'", setname, ti.name);
            result = R_FAIL;
        } else {
            ip[k] = t->data;
        }
    }
    for (int k = 0; k < n_out && result == R_PASS; k++) {
        PpcrtTensorInfo ti;
        ppcrt_model_output_info(m, k, &ti);
        got[k] = tensor_new(dtype_from_onnx(ti.dtype), ti.rank, ti.dims);
        op[k] = got[k]->data;
    }
    if (result == R_PASS && (st = ppcrt_session_run(sess, ip, op))) {
        snprintf(why, whyn, "compiled: %s: run: %s: %.800s", setname, ppcrt_status_string(st), ppcrt_last_error());
        result = R_FAIL;
    }
    for (int k = 0; k < nout && result == R_PASS; k++) {
        TensorDiff td;
        PpcrtTensorInfo ti;
        ppcrt_model_output_info(m, k, &ti);
        if (tool_compare(got[k], want[k], 1e-3, 1e-7, &td)) {
            snprintf(why, whyn, "compiled: %s: output %d '%s': %s", setname, k, ti.name, td.msg);
            result = R_FAIL;
        }
    }
    for (int k = 0; k < n_out; k++) tensor_free(got[k]);
    free(got), free(ip), free(op);
    ppcrt_session_free(sess);
    ppcrt_model_free(m);
    return result;
}

/* Remove the temp directory of a compiled test (only files ppcc_compile/compile_set made). */
static void remove_tmpdir(const char *dir)
{
    int n;
    char **v = list_dir(dir, NULL, &n);
    for (int i = 0; i < n; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, v[i]);
        unlink(p);
    }
    free_list(v, n);
    rmdir(dir);
}

/* Compile data set s's graph (model.onnx itself unless inputs were bound as constants: then g as
 * text IR) into tmpdir, once for model.onnx. Writes the .so path to so. */
static int compile_set(const char *model, Graph *g, int bound, int s, const char *tmpdir, char *so, size_t son,
                       char *why, size_t whyn)
{
    if (!bound) {
        snprintf(so, son, "%s/model.so", tmpdir);
        if (exists(so)) return 0;
        return ppcc_compile(model, so, tmpdir, why, whyn);
    }
    char ir[4200];
    snprintf(ir, sizeof ir, "%s/set%d.ir", tmpdir, s);
    snprintf(so, son, "%s/set%d.so", tmpdir, s);
    FILE *f = fopen(ir, "w");
    if (!f) {
        snprintf(why, whyn, "compiled: cannot write %.3900s", ir);
        return -1;
    }
    ir_print(g, f, 0);
    if (fclose(f)) {
        snprintf(why, whyn, "compiled: cannot write %.3900s", ir);
        return -1;
    }
    return ppcc_compile(ir, so, tmpdir, why, whyn);
}

/* Run one test in this process; returns R_* and writes a reason. tmpdir (compiled mode) is an
 * empty directory for the compiled models. */
static int run_test(const char *tdir, const char *tmpdir, char *why, size_t whyn)
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
        if (g && result == R_PASS && tmpdir) {
            char so[4200];
            if (compile_set(model, g, n_bind > 0, s, tmpdir, so, sizeof so, why, whyn))
                result = R_FAIL;
            else
                result = run_set_compiled(so, sets[s], in, names, nin, want, nout, why, whyn);
        }
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

/* A test running in a child process. */
typedef struct Job {
    pid_t pid;
    int fd;             /* read end of the result pipe */
    int index;          /* into the test list */
    char tmpdir[64];    /* compiled mode: made before the fork, removed after the child ended */
} Job;

/* Fork a child that runs the test under a time limit and writes "R reason" to a pipe. */
static int job_start(Job *j, const char *tdir, int timeout, char *why, size_t whyn)
{
    int fd[2];
    j->tmpdir[0] = 0;
    if (g_ppcc) {
        snprintf(j->tmpdir, sizeof j->tmpdir, "/tmp/ppcc-conf-XXXXXX");
        if (!mkdtemp(j->tmpdir)) {
            snprintf(why, whyn, "cannot create a temp directory: %s", strerror(errno));
            j->tmpdir[0] = 0;
            return -1;
        }
    }
    if (pipe(fd)) {
        snprintf(why, whyn, "pipe failed");
        if (j->tmpdir[0]) remove_tmpdir(j->tmpdir);
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        alarm((unsigned)timeout);
        char buf[4096];
        int r = run_test(tdir, j->tmpdir[0] ? j->tmpdir : NULL, buf, sizeof buf);
        char out[4200];
        int n = snprintf(out, sizeof out, "%d %s", r, buf);
        if (write(fd[1], out, (size_t)n) < 0) _exit(3);
        _exit(0);
    }
    close(fd[1]);
    j->pid = pid;
    j->fd = fd[0];
    return 0;
}

/* Collect the result of a child that has exited with status. */
static int job_finish(Job *j, int status, char *why, size_t whyn)
{
    char buf[4400];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(j->fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(j->fd);
    if (j->tmpdir[0]) remove_tmpdir(j->tmpdir);
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
    int min_pass = 0, timeout = 120, jobs = 1;
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
        else if (!strcmp(argv[argi], "--jobs") && argi + 1 < argc && atoi(argv[argi + 1]) >= 1)
            jobs = atoi(argv[++argi]);
        else if (!strcmp(argv[argi], "--compiled") && argi + 1 < argc)
            g_ppcc = argv[++argi];
        else if (!strcmp(argv[argi], "--opt") && argi + 1 < argc)
            g_opt = argv[++argi];
        else {
            fprintf(stderr, "usage: conformance [--log FILE] [--filter SUBSTR] [--min-pass N] [--timeout S] "
                            "[--jobs J] [--compiled PPCC [--opt -ON]] DIR...\n");
            return 2;
        }
    }
    if (argi >= argc) {
        fprintf(stderr, "conformance: no test directory given\n");
        return 2;
    }
    if (g_ppcc && access(g_ppcc, X_OK)) {
        fprintf(stderr, "conformance: --compiled %s: not an executable\n", g_ppcc);
        return 2;
    }
    FILE *log = logpath ? fopen(logpath, "w") : NULL;
    if (logpath && !log) {
        fprintf(stderr, "conformance: cannot write %s\n", logpath);
        return 2;
    }
    /* every test folder with a model.onnx, in order; a DIR holds test folders or folders of them
     * (/usr/share/libonnx-testdata/data: node, pytorch-converted, ...) */
    char **tdirs = NULL;
    int ntests = 0;
    for (; argi < argc; argi++) {
        int n;
        char **tests = list_dir(argv[argi], NULL, &n);
        if (!tests) {
            fprintf(stderr, "conformance: cannot read directory %s\n", argv[argi]);
            return 2;
        }
        for (int i = 0; i < n; i++) {
            char tdir[4096], model[4200];
            snprintf(tdir, sizeof tdir, "%.2000s/%.1000s", argv[argi], tests[i]);
            snprintf(model, sizeof model, "%s/model.onnx", tdir);
            int nsub = 0;
            char **sub = exists(model) ? NULL : list_dir(tdir, NULL, &nsub);
            for (int k = -1; k < nsub; k++) {
                char t[4096];
                if (k < 0 && sub) continue;
                if (k >= 0) snprintf(t, sizeof t, "%.2000s/%.1000s", tdir, sub[k]);
                else snprintf(t, sizeof t, "%s", tdir);
                snprintf(model, sizeof model, "%s/model.onnx", t);
                if ((filter && !strstr(t, filter)) || !exists(model)) continue;
                tdirs = xrealloc(tdirs, (size_t)(ntests + 1) * sizeof *tdirs);
                tdirs[ntests++] = xstrdup(t);
            }
            free_list(sub, nsub);
        }
        free_list(tests, n);
    }
    int *res = xcalloc((size_t)ntests + 1, sizeof *res);
    char **whys = xcalloc((size_t)ntests + 1, sizeof *whys);
    Job *run = xcalloc((size_t)jobs, sizeof *run);
    int running = 0, next = 0;
    double t0 = tool_now();
    while (next < ntests || running > 0) {
        char why[4096];
        if (next < ntests && running < jobs) {
            Job *j = &run[running];
            j->index = next++;
            if (job_start(j, tdirs[j->index], timeout, why, sizeof why)) {
                res[j->index] = R_FAIL;
                whys[j->index] = xstrdup(why);
            } else {
                running++;
            }
            continue;
        }
        int status = 0;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "conformance: waitpid: %s\n", strerror(errno));
            return 2;
        }
        for (int k = 0; k < running; k++) {
            if (run[k].pid != pid) continue;
            int idx = run[k].index;
            res[idx] = job_finish(&run[k], status, why, sizeof why);
            whys[idx] = xstrdup(why);
            if (res[idx] == R_FAIL) printf("FAIL %s: %s\n", tdirs[idx], why);
            run[k] = run[--running];
            break;
        }
    }
    int count[3] = {0};
    static const char *tag[] = {"PASS", "FAIL", "UNSUPPORTED"};
    for (int i = 0; i < ntests; i++) {
        count[res[i]]++;
        if (log) fprintf(log, "%-11s %s: %s\n", tag[res[i]], tdirs[i], whys[i] ? whys[i] : "");
        free(tdirs[i]), free(whys[i]);
    }
    free(tdirs), free(whys), free(res), free(run);
    const char *mode = g_ppcc ? " (compiled)" : "";
    if (log) {
        fprintf(log, "conformance%s: %d passed, %d failed, %d unsupported\n", mode, count[0], count[1], count[2]);
        fclose(log);
    }
    printf("conformance%s: %d passed, %d failed, %d unsupported (%.1f s)\n", mode, count[0], count[1], count[2],
           tool_now() - t0);
    if (min_pass && count[0] < min_pass) printf("conformance: fewer than %d tests passed\n", min_pass);
    return (count[1] || count[0] < min_pass) ? 1 : 0;
}
