/* tool.c — shared helpers of the command-line tools; see tool.h. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


int tool_parse_shape(char *arg, OnnxShapeFix *fix, Diag *d)
{
    char *eq = strrchr(arg, '=');
    if (!eq || eq == arg) return diag_error(d, "--shape expects NAME=AxBxC, got '%s'", arg);
    *eq = 0;
    memset(fix, 0, sizeof *fix);
    fix->name = arg;
    char *p = eq + 1;
    if (!*p) return 0; /* scalar */
    for (;;) {
        if (fix->rank == IR_MAX_RANK) return diag_error(d, "--shape %s: more than %d dims", arg, IR_MAX_RANK);
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > (1LL << 40))
            return diag_error(d, "--shape %s: bad dimension '%s' (expected AxBxC with non-negative integers)", arg, p);
        fix->dims[fix->rank++] = v;
        if (*end == 0) break;
        if (*end != 'x' && *end != 'X' && *end != ',')
            return diag_error(d, "--shape %s: bad separator '%c' (expected AxBxC)", arg, *end);
        p = end + 1;
    }
    return 0;
}

int tool_is_ir_path(const char *path)
{
    size_t n = strlen(path);
    return n >= 3 && !strcmp(path + n - 3, ".ir");
}

Graph *tool_load_model(const char *path, const OnnxShapeFix *fixes, int n_fixes, Diag *d)
{
    if (!tool_is_ir_path(path)) {
        OnnxImportOptions o = {0};
        o.shapes = fixes;
        o.n_shapes = n_fixes;
        return onnx_import_file(path, &o, d);
    }
    Graph *g = ir_parse_file(path, d);
    if (!g) return NULL;
    /* Types written in the text are claims: inference must agree with them. */
    int nv = g->n_values;
    Value *declared = xmalloc(((size_t)nv + 1) * sizeof(Value));
    memcpy(declared, g->values, (size_t)nv * sizeof(Value));
    int rc = ir_infer_shapes(g, d);
    for (int v = 0; !rc && v < nv; v++) {
        const Value *a = &declared[v], *b = &g->values[v];
        if (a->dtype == DT_UNDEF || b->producer < 0) continue;
        if (a->dtype != b->dtype || a->rank != b->rank || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank)) {
            char s1[128], s2[128];
            const Node *n = &g->nodes[b->producer];
            rc = diag_error(d, "value '%s' is declared %s[%s] but node '%s' (%s) produces %s[%s]", a->name,
                            dtype_name(a->dtype), shape_str(a->rank, a->dims, s1, sizeof s1), n->name,
                            ir_op_name(n->op), dtype_name(b->dtype), shape_str(b->rank, b->dims, s2, sizeof s2));
        }
    }
    free(declared);
    if (rc || ir_verify(g, d)) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

Tensor *tool_random_tensor(DType t, int rank, const int64_t *dims, uint64_t *state)
{
    Tensor *x = tensor_new(t, rank, dims);
    int64_t n = tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = ir_rand_next(state);
        if (dtype_is_float(t))
            tensor_set_f64(x, i, -1.0 + 2.0 * (double)(r >> 11) * (1.0 / 9007199254740992.0));
        else if (t == DT_BOOL)
            tensor_set_i64(x, i, (int64_t)(r >> 63));
        else
            tensor_set_i64(x, i, (int64_t)(r >> 62));
    }
    return x;
}

int64_t tool_compare(const Tensor *got, const Tensor *want, double rtol, double atol, TensorDiff *o)
{
    memset(o, 0, sizeof *o);
    o->worst_index = -1;
    char a[128], b[128];
    if (got->dtype != want->dtype || got->rank != want->rank ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank)) {
        snprintf(o->msg, sizeof o->msg, "type mismatch: got %s[%s], expected %s[%s]", dtype_name(got->dtype),
                 shape_str(got->rank, got->dims, a, sizeof a), dtype_name(want->dtype),
                 shape_str(want->rank, want->dims, b, sizeof b));
        o->n_bad = -1;
        return -1;
    }
    int64_t n = tensor_numel(got);
    double worst = -1;
    for (int64_t i = 0; i < n; i++) {
        int bad;
        double err = 0, rel = 0;
        if (dtype_is_float(got->dtype)) {
            double x = tensor_get_f64(got, i), y = tensor_get_f64(want, i);
            if (isnan(x) || isnan(y)) {
                bad = isnan(x) != isnan(y);
                err = bad ? INFINITY : 0;
            } else if (isinf(x) || isinf(y)) {
                bad = x != y;
                err = bad ? INFINITY : 0;
            } else {
                err = fabs(x - y);
                rel = y != 0 ? err / fabs(y) : (err ? INFINITY : 0);
                bad = err > atol + rtol * fabs(y);
            }
        } else {
            bad = tensor_get_i64(got, i) != tensor_get_i64(want, i);
            err = bad ? fabs((double)tensor_get_i64(got, i) - (double)tensor_get_i64(want, i)) : 0;
        }
        if (err > o->max_abs_err) o->max_abs_err = err;
        if (rel > o->max_rel_err && isfinite(rel)) o->max_rel_err = rel;
        if (bad) {
            o->n_bad++;
            if (err > worst) {
                worst = err;
                o->worst_index = i;
            }
        }
    }
    if (o->n_bad) {
        int64_t i = o->worst_index;
        snprintf(o->msg, sizeof o->msg, "%lld of %lld elements differ; worst at index %lld: got %.9g, expected %.9g",
                 (long long)o->n_bad, (long long)n, (long long)i, tensor_get_f64(got, i), tensor_get_f64(want, i));
    } else {
        snprintf(o->msg, sizeof o->msg, "ok (max abs err %.3g)", o->max_abs_err);
    }
    return o->n_bad;
}

double tool_rel_l2(const Tensor *got, const Tensor *want)
{
    int64_t n = tensor_numel(want);
    if (tensor_numel(got) != n) return INFINITY;
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get_f64(got, i), y = tensor_get_f64(want, i);
        num += (x - y) * (x - y);
        den += y * y;
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

int tool_write_file_atomic(const char *path, const void *data, size_t len, Diag *d)
{
    if (!strcmp(path, "-")) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout))
            return diag_error(d, "cannot write to standard output");
        return 0;
    }
    return ir_write_file_atomic(path, data, len, d);
}

char *tool_read_file(const char *path, size_t *len, Diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) || S_ISDIR(st.st_mode)) {
        fclose(f);
        diag_error(d, "not a regular file");
        return NULL;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0) break;
        n += r;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        diag_error(d, "read error");
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int tool_mkdirs(const char *path, Diag *d)
{
    char *p = xstrdup(path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST) {
                diag_error(d, "cannot create directory '%s': %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return 0;
}

double tool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
