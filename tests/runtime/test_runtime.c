/* test_runtime.c — Check tests for libppcrt (runtime/), run by `make runtime-test`.
 *
 * Usage: test_runtime FIXTURE_DIR [SUITE...]. FIXTURE_DIR holds the hand-written model .so files
 * built from tests/runtime/fixture_*.c (stand-ins for ppcc's output until codegen exists). The
 * binary links libppcrt.so like an application would, plus the runtime's pool.o for direct pool
 * tests, plus alloc_count.c, which interposes malloc to prove that a run allocates nothing.
 *
 * Suites: load (introspection, every load error and its message, NULL arguments), run (thread
 * counts, concurrent sessions, caller workspace, busy sessions, failing runs, no allocation),
 * pool (range splitting through a model and directly, nesting, stress), layers (libffi invoker).
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/pool.h"
#include "runtime/ppcrt.h"
#include "tests/runtime/alloc_count.h"

#define N 1000 /* fixture_add's tensor length */
#define REPORT_LEN (4 + 2 * 256)

static const char *fixture_dir;

static void fixture_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", fixture_dir, name);
}

static PpcrtModel *load_ok(const char *name)
{
    char path[4096];
    fixture_path(path, sizeof path, name);
    PpcrtModel *m = NULL;
    int st = ppcrt_model_load(path, &m);
    ck_assert_msg(st == PPCRT_OK, "load %s: %s: %s", path, ppcrt_status_string(st),
                  ppcrt_last_error());
    ck_assert_ptr_nonnull(m);
    return m;
}

static PpcrtSession *session_ok(PpcrtModel *m, int n_threads)
{
    PpcrtSessionOptions opt = {0};
    opt.n_threads = n_threads;
    PpcrtSession *s = NULL;
    int st = ppcrt_session_create(m, &opt, &s);
    ck_assert_msg(st == PPCRT_OK, "session: %s: %s", ppcrt_status_string(st), ppcrt_last_error());
    return s;
}

static void expect_load_error(const char *path, int want, const char *substr)
{
    static int sentinel;
    PpcrtModel *m = (PpcrtModel *)&sentinel; /* must come back NULL */
    int st = ppcrt_model_load(path, &m);
    ck_assert_msg(st == want, "%s: got %s (%s), want %s", path, ppcrt_status_string(st),
                  ppcrt_last_error(), ppcrt_status_string(want));
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(ppcrt_last_error(), substr), "%s: message '%s' lacks '%s'", path,
                  ppcrt_last_error(), substr);
}

static void fill_inputs(float *a, float *b, float scale)
{
    for (int i = 0; i < N; i++) {
        a[i] = scale * ((float)(i % 37) * 0.5f - 3.0f);
        b[i] = scale * ((float)(i % 11) * 1.25f + 0.125f);
    }
}

static int run_add(PpcrtSession *s, const float *a, const float *b, float *y)
{
    const void *in[2] = {a, b};
    void *out[1] = {y};
    return ppcrt_session_run(s, in, out);
}

/* ================================================================ load */

START_TEST(load_introspect)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    ck_assert_int_eq(ppcrt_model_num_inputs(m), 2);
    ck_assert_int_eq(ppcrt_model_num_outputs(m), 1);
    PpcrtTensorInfo ti;
    ck_assert_int_eq(ppcrt_model_input_info(m, 1, &ti), PPCRT_OK);
    ck_assert_str_eq(ti.name, "b");
    ck_assert_int_eq(ti.dtype, PPCRT_DT_FLOAT);
    ck_assert_int_eq(ti.rank, 1);
    ck_assert_int_eq(ti.dims[0], N);
    ck_assert_uint_eq(ti.nbytes, N * 4);
    ck_assert_int_eq(ppcrt_model_output_info(m, 0, &ti), PPCRT_OK);
    ck_assert_str_eq(ti.name, "y");
    ck_assert_int_eq(ppcrt_model_find_input(m, "a"), 0);
    ck_assert_int_eq(ppcrt_model_find_input(m, "b"), 1);
    ck_assert_int_eq(ppcrt_model_find_input(m, "y"), -1);
    ck_assert_int_eq(ppcrt_model_find_input(m, NULL), -1);
    ck_assert_int_eq(ppcrt_model_find_output(m, "y"), 0);
    ck_assert_int_eq(ppcrt_model_find_output(m, "a"), -1);
    ck_assert_uint_eq(ppcrt_model_workspace_size(m), 8064);
    ck_assert_str_eq(ppcrt_model_producer(m), "fixture_add (hand-written)");
    ck_assert_str_eq(ppcrt_model_target(m), "x86_64-pc-linux-gnu generic");
    ck_assert_int_eq(ppcrt_model_num_layers(m), 2);
    ppcrt_model_free(m);

    /* A scalar (rank 0) description, the valid control of the broken-descriptor family. */
    m = load_ok("bad_none.so");
    ck_assert_int_eq(ppcrt_model_output_info(m, 1, &ti), PPCRT_OK);
    ck_assert_str_eq(ti.name, "y");
    ck_assert_int_eq(ti.rank, 0);
    ck_assert_int_eq(ti.dtype, PPCRT_DT_INT64);
    ck_assert_uint_eq(ti.nbytes, 8);
    ck_assert_int_eq(ppcrt_model_input_info(m, 0, &ti), PPCRT_OK);
    ck_assert_int_eq(ti.rank, 2);
    ck_assert_int_eq(ti.dims[0], 2);
    ck_assert_int_eq(ti.dims[1], 3);
    ppcrt_model_free(m);
}
END_TEST

START_TEST(load_twice_and_relative_path)
{
    PpcrtModel *m1 = load_ok("fixture_add.so");
    PpcrtModel *m2 = load_ok("fixture_add.so");
    ck_assert_ptr_ne(m1, m2);
    ppcrt_model_free(m1);
    ck_assert_int_eq(ppcrt_model_num_inputs(m2), 2); /* still mapped through m2 */
    ppcrt_model_free(m2);

    /* A bare file name means the current directory, not the library search path. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(fixture_dir), 0);
    PpcrtModel *m = NULL;
    int st = ppcrt_model_load("fixture_add.so", &m);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_msg(st == PPCRT_OK, "%s", ppcrt_last_error());
    ppcrt_model_free(m);
}
END_TEST

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

START_TEST(load_errors_files)
{
    char path[4096];
    expect_load_error("/nonexistent/model.so", PPCRT_ERR_IO, "No such file");
    expect_load_error(fixture_dir, PPCRT_ERR_IO, "is a directory");
    char tmp[] = "/tmp/ppcrt_test_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(path, sizeof path, "%s/fifo.so", tmp); /* opening it must not block */
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_load_error(path, PPCRT_ERR_IO, "not a regular file");
    snprintf(path, sizeof path, "%s/text.so", tmp);
    write_file(path, "this is not a model\n", 20);
    expect_load_error(path, PPCRT_ERR_NOT_A_MODEL, "not an ELF shared object");
    snprintf(path, sizeof path, "%s/empty.so", tmp);
    write_file(path, "", 0);
    expect_load_error(path, PPCRT_ERR_NOT_A_MODEL, "not an ELF shared object");

    /* An ELF header claiming a relocatable object (e_type 1, little endian). */
    unsigned char rel[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    rel[16] = 1;
    snprintf(path, sizeof path, "%s/object.o", tmp);
    write_file(path, rel, sizeof rel);
    expect_load_error(path, PPCRT_ERR_NOT_A_MODEL, "relocatable object");

    /* A truncated shared object: passes the header test, dlopen must reject it. */
    unsigned char dyn[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    dyn[16] = 3;
    snprintf(path, sizeof path, "%s/truncated.so", tmp);
    write_file(path, dyn, sizeof dyn);
    expect_load_error(path, PPCRT_ERR_LOAD, "");
    ck_assert_msg(strlen(ppcrt_last_error()) > 0, "dlopen's reason is reported");

    /* An executable (this test: a PIE, which dlopen refuses, or a fixed-address one). */
    PpcrtModel *m = NULL;
    int st = ppcrt_model_load("/proc/self/exe", &m);
    ck_assert_msg(st == PPCRT_ERR_LOAD || st == PPCRT_ERR_NOT_A_MODEL, "exe: %s",
                  ppcrt_status_string(st));
    ck_assert_ptr_null(m);

    snprintf(path, sizeof path, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(load_errors_models)
{
    char path[4096];
    fixture_path(path, sizeof path, "fixture_nosym.so");
    expect_load_error(path, PPCRT_ERR_NOT_A_MODEL, "does not export ppc_model_v1");
    fixture_path(path, sizeof path, "fixture_badabi.so");
    expect_load_error(path, PPCRT_ERR_ABI, "model ABI version 999, this runtime supports 1");

    static const struct {
        const char *file;
        int status;
        const char *msg;
    } bad[] = {
        {"bad_magic.so", PPCRT_ERR_NOT_A_MODEL, "bad magic 0x12345678"},
        {"bad_nulldesc.so", PPCRT_ERR_NOT_A_MODEL, "returned NULL"},
        {"bad_rank.so", PPCRT_ERR_BAD_MODEL, "input 0 'x': rank 9 (must be 0..8)"},
        {"bad_negdim.so", PPCRT_ERR_BAD_MODEL, "dimension 1 is -3"},
        {"bad_nbytes.so", PPCRT_ERR_BAD_MODEL, "nbytes 100, but its float shape needs 24"},
        {"bad_dtype.so", PPCRT_ERR_BAD_MODEL, "unsupported dtype 8"},
        {"bad_dupname.so", PPCRT_ERR_BAD_MODEL, "outputs 0 and 1 are both named"},
        {"bad_norun.so", PPCRT_ERR_BAD_MODEL, "no run entry point"},
        {"bad_signature.so", PPCRT_ERR_BAD_MODEL, "bad signature letter 'q'"},
        {"bad_nargs.so", PPCRT_ERR_BAD_MODEL, "n_args 2 does not match signature"},
        {"bad_notable.so", PPCRT_ERR_BAD_MODEL, "declares 1 inputs but no table"},
        {"bad_nooutputs.so", PPCRT_ERR_BAD_MODEL, "declares 0 outputs"},
        {"bad_overflow.so", PPCRT_ERR_BAD_MODEL, "size overflows 64 bits"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture_path(path, sizeof path, bad[i].file);
        expect_load_error(path, bad[i].status, bad[i].msg);
    }
}
END_TEST

START_TEST(null_arguments)
{
    PpcrtModel *m = NULL;
    ck_assert_int_eq(ppcrt_model_load(NULL, &m), PPCRT_ERR_ARG);
    ck_assert_str_eq(ppcrt_last_error(), "ppcrt_model_load: NULL path");
    ck_assert_int_eq(ppcrt_model_load("x.so", NULL), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_model_load("", &m), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_model_num_inputs(NULL), 0);
    ck_assert_int_eq(ppcrt_model_num_outputs(NULL), 0);
    ck_assert_int_eq(ppcrt_model_num_layers(NULL), 0);
    ck_assert_uint_eq(ppcrt_model_workspace_size(NULL), 0);
    ck_assert_str_eq(ppcrt_model_producer(NULL), "");
    ck_assert_int_eq(ppcrt_model_find_input(NULL, "a"), -1);
    PpcrtTensorInfo ti;
    ck_assert_int_eq(ppcrt_model_input_info(NULL, 0, &ti), PPCRT_ERR_ARG);
    ppcrt_model_free(NULL);
    ppcrt_session_free(NULL);
    ck_assert_int_eq(ppcrt_session_num_threads(NULL), 0);
    ck_assert_int_eq(ppcrt_session_run(NULL, NULL, NULL), PPCRT_ERR_ARG);
    PpcrtSession *s = NULL;
    ck_assert_int_eq(ppcrt_session_create(NULL, NULL, &s), PPCRT_ERR_ARG);
    ck_assert_ptr_null(s);

    m = load_ok("fixture_add.so");
    ck_assert_int_eq(ppcrt_model_input_info(m, 2, &ti), PPCRT_ERR_ARG);
    ck_assert_str_eq(ppcrt_last_error(),
                     "ppcrt_model_input_info: index 2 out of range (model has 2 inputs)");
    ck_assert_int_eq(ppcrt_model_input_info(m, -1, &ti), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_model_output_info(m, 1, &ti), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_model_input_info(m, 0, NULL), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_session_create(m, NULL, NULL), PPCRT_ERR_ARG);

    PpcrtSessionOptions opt = {0};
    opt.n_threads = -1;
    ck_assert_int_eq(ppcrt_session_create(m, &opt, &s), PPCRT_ERR_ARG);
    opt.n_threads = PPCRT_MAX_THREADS + 1;
    ck_assert_int_eq(ppcrt_session_create(m, &opt, &s), PPCRT_ERR_ARG);
    ck_assert(strstr(ppcrt_last_error(), "n_threads 257"));
    static _Alignas(64) char ws[16384];
    opt = (PpcrtSessionOptions){.n_threads = 1, .workspace = ws + 8, .workspace_size = 10000};
    ck_assert_int_eq(ppcrt_session_create(m, &opt, &s), PPCRT_ERR_ARG);
    ck_assert(strstr(ppcrt_last_error(), "not 64-byte aligned"));
    opt = (PpcrtSessionOptions){.n_threads = 1, .workspace = ws, .workspace_size = 8000};
    ck_assert_int_eq(ppcrt_session_create(m, &opt, &s), PPCRT_ERR_ARG);
    ck_assert_str_eq(ppcrt_last_error(),
                     "ppcrt_session_create: workspace of 8000 bytes, the model needs 8064");
    ck_assert_ptr_null(s);

    s = session_ok(m, 2);
    float a[N], b[N], y[N];
    fill_inputs(a, b, 1);
    const void *in[2] = {a, NULL};
    void *out[1] = {y};
    ck_assert_int_eq(ppcrt_session_run(s, NULL, out), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_ERR_ARG);
    ck_assert_str_eq(ppcrt_last_error(), "ppcrt_session_run: input 1 ('b') is NULL");
    in[1] = b;
    ck_assert_int_eq(ppcrt_session_run(s, in, NULL), PPCRT_ERR_ARG);
    out[0] = NULL;
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_ERR_ARG);
    out[0] = y;
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_OK); /* still usable */
    ppcrt_session_free(s);
    ppcrt_model_free(m);
}
END_TEST

START_TEST(status_strings)
{
    const char *seen[16];
    int n = 0;
    for (int st = PPCRT_OK; st <= PPCRT_ERR_RUN; st++) {
        const char *s = ppcrt_status_string(st);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_ne(s, "unknown status");
        for (int i = 0; i < n; i++) ck_assert_str_ne(seen[i], s);
        seen[n++] = s;
    }
    ck_assert_str_eq(ppcrt_status_string(-5), "unknown status");
    ck_assert_str_eq(ppcrt_status_string(999), "unknown status");
    ck_assert_uint_eq(ppcrt_dtype_size(PPCRT_DT_FLOAT), 4);
    ck_assert_uint_eq(ppcrt_dtype_size(PPCRT_DT_INT64), 8);
    ck_assert_uint_eq(ppcrt_dtype_size(PPCRT_DT_COMPLEX128), 16);
    ck_assert_uint_eq(ppcrt_dtype_size(8), 0);
    ck_assert_str_eq(ppcrt_dtype_name(PPCRT_DT_BFLOAT16), "bfloat16");
    ck_assert_str_eq(ppcrt_dtype_name(0), "unknown");
}
END_TEST

/* The detail message is per thread: a failure in one thread does not change another's. */
static void *fail_in_thread(void *arg)
{
    ppcrt_model_load("/nonexistent/other.so", (PpcrtModel **)arg);
    return NULL;
}

START_TEST(last_error_per_thread)
{
    PpcrtModel *m;
    ck_assert_int_eq(ppcrt_model_load(NULL, &m), PPCRT_ERR_ARG);
    pthread_t t;
    PpcrtModel *m2;
    ck_assert_int_eq(pthread_create(&t, NULL, fail_in_thread, &m2), 0);
    pthread_join(t, NULL);
    ck_assert_str_eq(ppcrt_last_error(), "ppcrt_model_load: NULL path");
}
END_TEST

/* ================================================================ run */

START_TEST(run_thread_counts)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    static float a[N], b[N], y1[N], y[N];
    fill_inputs(a, b, 1);
    PpcrtSession *s = session_ok(m, 1);
    ck_assert_int_eq(ppcrt_session_num_threads(s), 1);
    ck_assert_int_eq(run_add(s, a, b, y1), PPCRT_OK);
    ppcrt_session_free(s);
    for (int i = 0; i < N; i++) ck_assert_float_eq(y1[i], a[i] + b[i] * 2.0f);

    const int counts[] = {2, 4, 3, 7, 0};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        s = session_ok(m, counts[c]);
        for (int rep = 0; rep < 20; rep++) {
            memset(y, 0xff, sizeof y);
            ck_assert_int_eq(run_add(s, a, b, y), PPCRT_OK);
            ck_assert_msg(!memcmp(y, y1, sizeof y), "%d threads: result differs",
                          ppcrt_session_num_threads(s));
        }
        if (counts[c]) {
            ck_assert_int_eq(ppcrt_session_num_threads(s), counts[c]);
        } else {
            cpu_set_t set;
            ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
            ck_assert_int_eq(ppcrt_session_num_threads(s), CPU_COUNT(&set));
        }
        ppcrt_session_free(s);
    }
    ppcrt_model_free(m);
}
END_TEST

typedef struct {
    PpcrtModel *model;
    float scale;
    int iterations;
    int failures; /* out */
    int status;   /* out: first non-OK status */
} Worker;

static void *concurrent_worker(void *arg)
{
    Worker *w = arg;
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *y = malloc(N * sizeof *y);
    float *ref = malloc(N * sizeof *ref);
    fill_inputs(a, b, w->scale);
    for (int i = 0; i < N; i++) ref[i] = a[i] + b[i] * 2.0f;
    PpcrtSessionOptions opt = {.n_threads = 2};
    PpcrtSession *s = NULL;
    w->status = ppcrt_session_create(w->model, &opt, &s);
    for (int it = 0; it < w->iterations && w->status == PPCRT_OK; it++) {
        memset(y, 0, N * sizeof *y);
        w->status = run_add(s, a, b, y);
        if (memcmp(y, ref, N * sizeof *y)) w->failures++;
    }
    ppcrt_session_free(s);
    free(a), free(b), free(y), free(ref);
    return NULL;
}

START_TEST(run_concurrent_sessions)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    /* Reference: the same computation, one run at a time, must equal a + b * 2 exactly. */
    static float a[N], b[N], y[N];
    PpcrtSession *s = session_ok(m, 1);
    for (int k = 0; k < 4; k++) {
        fill_inputs(a, b, (float)(k + 1));
        ck_assert_int_eq(run_add(s, a, b, y), PPCRT_OK);
        for (int i = 0; i < N; i++) ck_assert_float_eq(y[i], a[i] + b[i] * 2.0f);
    }
    ppcrt_session_free(s);

    pthread_t t[4];
    Worker w[4];
    for (int k = 0; k < 4; k++) {
        w[k] = (Worker){.model = m, .scale = (float)(k + 1), .iterations = 300};
        ck_assert_int_eq(pthread_create(&t[k], NULL, concurrent_worker, &w[k]), 0);
    }
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 4; k++) {
        ck_assert_msg(w[k].status == PPCRT_OK, "thread %d: %s", k,
                      ppcrt_status_string(w[k].status));
        ck_assert_msg(w[k].failures == 0, "thread %d: %d wrong results", k, w[k].failures);
    }
    ppcrt_model_free(m);
}
END_TEST

START_TEST(run_caller_workspace)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    size_t size = 8064;
    float *ws = aligned_alloc(64, size);
    memset(ws, 0, size);
    PpcrtSessionOptions opt = {.n_threads = 2, .workspace = ws, .workspace_size = size};
    PpcrtSession *s = NULL;
    ck_assert_int_eq(ppcrt_session_create(m, &opt, &s), PPCRT_OK);
    static float a[N], b[N], y[N];
    fill_inputs(a, b, 1.5f);
    ck_assert_int_eq(run_add(s, a, b, y), PPCRT_OK);
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(y[i], a[i] + b[i] * 2.0f);
        ck_assert_float_eq(ws[i], b[i] * 2.0f); /* the fixture keeps t at workspace offset 0 */
    }
    ppcrt_session_free(s);
    ck_assert_float_eq(ws[5], b[5] * 2.0f); /* the caller's workspace survives the session */
    free(ws);
    ppcrt_model_free(m);
}
END_TEST

START_TEST(run_after_model_free)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    PpcrtSession *s = session_ok(m, 2);
    ppcrt_model_free(m); /* the session keeps the library loaded */
    static float a[N], b[N], y[N];
    fill_inputs(a, b, 2);
    ck_assert_int_eq(run_add(s, a, b, y), PPCRT_OK);
    for (int i = 0; i < N; i++) ck_assert_float_eq(y[i], a[i] + b[i] * 2.0f);
    ppcrt_session_free(s); /* unloads */
}
END_TEST

static void pool_params(int64_t *p, int64_t n, int64_t grain, int64_t mode)
{
    p[0] = n, p[1] = grain, p[2] = mode, p[3] = 0;
}

typedef struct {
    PpcrtSession *s;
    int64_t *params;
    int64_t *report;
    int status;
} HeldRun;

static void *held_run(void *arg)
{
    HeldRun *h = arg;
    const void *in[1] = {h->params};
    void *out[1] = {h->report};
    h->status = ppcrt_session_run(h->s, in, out);
    return NULL;
}

static void check_report(const int64_t *report, int64_t n, int64_t grain, int threads);

START_TEST(run_busy_and_failure)
{
    PpcrtModel *m = load_ok("fixture_pool.so");
    PpcrtSession *s = session_ok(m, 2);
    static int64_t params[4], report[REPORT_LEN], report2[REPORT_LEN], params2[4];

    /* A failing run entry point. */
    pool_params(params2, -1, 1, 0);
    const void *in[1] = {params2};
    void *out[1] = {report2};
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_ERR_RUN);
    ck_assert_str_eq(ppcrt_last_error(), "the model's run entry point returned 7");

    /* Hold a run inside the model, then try the same session from this thread. */
    pool_params(params, 10, 1, 2);
    __atomic_store_n(&params[3], 1, __ATOMIC_SEQ_CST);
    HeldRun h = {.s = s, .params = params, .report = report};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, held_run, &h), 0);
    while (__atomic_load_n(&report[3], __ATOMIC_SEQ_CST) != 1) sched_yield();
    pool_params(params2, 10, 1, 0);
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_ERR_BUSY);
    ck_assert(strstr(ppcrt_last_error(), "running on another thread"));
    __atomic_store_n(&params[3], 0, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    ck_assert_int_eq(h.status, PPCRT_OK);
    check_report(report, 10, 1, 2);
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_OK); /* free again */
    check_report(report2, 10, 1, 2);
    ppcrt_session_free(s);
    ppcrt_model_free(m);
}
END_TEST

START_TEST(run_does_not_allocate)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    static float a[N], b[N], y[N];
    fill_inputs(a, b, 1);

    /* Positive control: the counter sees allocations made inside libppcrt.so. Valgrind replaces
     * malloc in every object, the test's interposer included, so there it cannot count. */
    alloc_count_start();
    PpcrtSession *s = session_ok(m, 4);
    long at_create = alloc_count_stop();
    const char *preload = getenv("LD_PRELOAD");
    if (at_create == 0 && preload && strstr(preload, "vgpreload")) {
        fprintf(stderr, "run_does_not_allocate: skipped under valgrind\n");
        ppcrt_session_free(s);
        ppcrt_model_free(m);
        return;
    }
    ck_assert_msg(at_create > 0, "the allocation counter does not see libppcrt's allocations");

    ck_assert_int_eq(run_add(s, a, b, y), PPCRT_OK); /* warm-up (lazy binding, first wake-ups) */
    alloc_count_start();
    int bad = 0;
    for (int i = 0; i < 200; i++) bad |= run_add(s, a, b, y);
    long during_runs = alloc_count_stop();
    ck_assert_int_eq(bad, PPCRT_OK);
    ck_assert_msg(during_runs == 0, "200 runs made %ld allocations", during_runs);
    ppcrt_session_free(s);

    /* The same through the pool model, with several chunk counts. */
    PpcrtModel *mp = load_ok("fixture_pool.so");
    s = session_ok(mp, 3);
    static int64_t params[4], report[REPORT_LEN];
    const void *in[1] = {params};
    void *out[1] = {report};
    pool_params(params, 100, 1, 1);
    ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_OK);
    alloc_count_start();
    for (int i = 0; i < 100; i++) {
        pool_params(params, i, 1 + i % 7, i % 2);
        bad |= ppcrt_session_run(s, in, out);
    }
    during_runs = alloc_count_stop();
    ck_assert_int_eq(bad, PPCRT_OK);
    ck_assert_msg(during_runs == 0, "pool runs made %ld allocations", during_runs);
    ppcrt_session_free(s);
    ppcrt_model_free(mp);
    ppcrt_model_free(m);
}
END_TEST

/* ================================================================ pool */

/* Check a report from fixture_pool: ranges cover [0, n) exactly and respect grain; one range
 * when n < 2 * grain or on one thread, otherwise at least min(threads, n / grain) (the chunks;
 * runtime/pool.c runs them in shrinking blocks and lets threads steal blocks of each other's),
 * and no more than the fixture records (256). */
static void check_report(const int64_t *report, int64_t n, int64_t grain, int threads)
{
    int count = (int)report[0];
    int64_t g = grain < 1 ? 1 : grain;
    int want = n <= 0 ? 0 : (int)(n / g < 1 ? 1 : (n / g < threads ? n / g : threads));
    if (want <= 1)
        ck_assert_msg(count == want, "n=%lld grain=%lld threads=%d: %d ranges, want %d", (long long)n,
                      (long long)grain, threads, count, want);
    else
        ck_assert_msg(count >= want && count <= 256, "n=%lld grain=%lld threads=%d: %d ranges, want %d..256",
                      (long long)n, (long long)grain, threads, count, want);
    ck_assert_int_eq(report[1], threads);
    int64_t b[256], e[256];
    for (int i = 0; i < count; i++) b[i] = report[4 + 2 * i], e[i] = report[5 + 2 * i];
    for (int i = 1; i < count; i++) /* insertion sort by begin */
        for (int j = i; j > 0 && b[j] < b[j - 1]; j--) {
            int64_t tb = b[j], te = e[j];
            b[j] = b[j - 1], e[j] = e[j - 1], b[j - 1] = tb, e[j - 1] = te;
        }
    int64_t at = 0;
    for (int i = 0; i < count; i++) {
        ck_assert_msg(b[i] == at, "range %d starts at %lld, want %lld", i, (long long)b[i],
                      (long long)at);
        ck_assert(e[i] > b[i]);
        if (count > 1) ck_assert_msg(e[i] - b[i] >= g, "range smaller than grain");
        at = e[i];
    }
    if (count) ck_assert_int_eq(at, n);
}

START_TEST(pool_through_model)
{
    PpcrtModel *m = load_ok("fixture_pool.so");
    static int64_t params[4], report[REPORT_LEN];
    const void *in[1] = {params};
    void *out[1] = {report};
    static const struct {
        int64_t n, grain;
    } cases[] = {{0, 1},    {1, 1},     {3, 1},     {4, 1},    {5, 1},  {1000, 100},
                 {1000, 400}, {399, 400}, {800, 400}, {7, 0},   {7, -3}, {1001, 1},
                 {2, 1000},  {100000, 1}};
    const int threads[] = {1, 2, 4, 5};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        PpcrtSession *s = session_ok(m, threads[t]);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            pool_params(params, cases[c].n, cases[c].grain, 0);
            ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_OK);
            check_report(report, cases[c].n, cases[c].grain, threads[t]);
        }
        /* Work stealing: the range holding iteration 0 waits until the other threads have run
         * more than their own chunks, i.e. taken iterations of its chunk (times out otherwise). */
        if (threads[t] > 1) {
            pool_params(params, 1000, 1, 3);
            ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_OK);
            ck_assert_msg(report[3] != -1, "threads=%d: no thread took iterations of a slow chunk", threads[t]);
            check_report(report, 1000, 1, threads[t]);
            ck_assert_int_eq(report[2], 1000);
        }
        /* Nested parallel_for runs inline and still covers every iteration. */
        pool_params(params, 1000, 10, 1);
        ck_assert_int_eq(ppcrt_session_run(s, in, out), PPCRT_OK);
        check_report(report, 1000, 10, threads[t]);
        ck_assert_int_eq(report[2], 1000);
        ppcrt_session_free(s);
    }
    ppcrt_model_free(m);
}
END_TEST

START_TEST(pool_chunk_math)
{
    ck_assert_int_eq(ppcrt_pool_chunk_count(4, 0, 1), 0);
    ck_assert_int_eq(ppcrt_pool_chunk_count(4, -5, 1), 0);
    ck_assert_int_eq(ppcrt_pool_chunk_count(4, 1, 1), 1);
    ck_assert_int_eq(ppcrt_pool_chunk_count(4, 3, 1), 3);
    ck_assert_int_eq(ppcrt_pool_chunk_count(4, 1000, 300), 3);
    ck_assert_int_eq(ppcrt_pool_chunk_count(4, 1000, 2000), 1);
    ck_assert_int_eq(ppcrt_pool_chunk_count(256, INT64_MAX, 1), 256);
    /* Huge n: ranges are contiguous and end at n without overflow (UBSan watches). */
    int64_t at = 0;
    for (int i = 0; i < 7; i++) {
        int64_t b, e;
        ppcrt_pool_chunk_range(INT64_MAX, 7, i, &b, &e);
        ck_assert_int_eq(b, at);
        at = e;
    }
    ck_assert_int_eq(at, INT64_MAX);
    PpcrtPool *p = NULL;
    ck_assert_int_eq(ppcrt_pool_create(0, &p), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_pool_create(PPCRT_MAX_THREADS + 1, &p), PPCRT_ERR_ARG);
    ck_assert_ptr_null(p);
    ppcrt_pool_free(NULL);
}
END_TEST

typedef struct {
    _Atomic int64_t total;
    _Atomic int hits[64];
} Cover;

static void cover_task(void *arg, int64_t b, int64_t e)
{
    Cover *c = arg;
    atomic_fetch_add(&c->total, e - b);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

START_TEST(pool_stress_direct)
{
    for (int threads = 1; threads <= 6; threads++) {
        PpcrtPool *p = NULL;
        ck_assert_int_eq(ppcrt_pool_create(threads, &p), PPCRT_OK);
        ck_assert_int_eq(ppcrt_pool_num_threads(p), threads);
        for (int it = 0; it < 3000; it++) {
            Cover c;
            memset(&c, 0, sizeof c);
            int64_t n = it % 65;
            ppcrt_pool_parallel_for(p, cover_task, &c, n, 1 + it % 3);
            ck_assert_int_eq(atomic_load(&c.total), n);
            for (int64_t i = 0; i < n; i++)
                ck_assert_msg(atomic_load(&c.hits[i]) == 1, "threads %d it %d: index %lld hit %d",
                              threads, it, (long long)i, atomic_load(&c.hits[i]));
            if (it % 500 == 0) usleep(2000); /* let the workers fall asleep now and then */
        }
        ppcrt_pool_free(p);
    }
    /* Create and destroy right away, and with many more threads than cores. */
    for (int i = 0; i < 20; i++) {
        PpcrtPool *p = NULL;
        ck_assert_int_eq(ppcrt_pool_create(16, &p), PPCRT_OK);
        if (i % 2) {
            Cover c;
            memset(&c, 0, sizeof c);
            ppcrt_pool_parallel_for(p, cover_task, &c, 64, 1);
            ck_assert_int_eq(atomic_load(&c.total), 64);
        }
        ppcrt_pool_free(p);
    }
}
END_TEST

/* ================================================================ layers */

START_TEST(layers_info_and_invoke)
{
    PpcrtModel *m = load_ok("fixture_add.so");
    PpcrtLayerInfo li;
    ck_assert_int_eq(ppcrt_model_layer_info(m, 0, &li), PPCRT_OK);
    ck_assert_str_eq(li.name, "mul2_0");
    ck_assert_str_eq(li.op, "Mul");
    ck_assert_str_eq(li.signature, "hppp");
    ck_assert_int_eq(li.n_args, 4);
    ck_assert_str_eq(li.arg_names[1], "b");
    ck_assert_str_eq(li.arg_names[2], "t");
    ck_assert_str_eq(li.arg_names[3], "");
    ck_assert_int_eq(li.n_outputs, 1);
    PpcrtTensorInfo ti;
    ck_assert_int_eq(ppcrt_model_layer_output_info(m, 0, 0, &ti), PPCRT_OK);
    ck_assert_str_eq(ti.name, "t");
    ck_assert_uint_eq(ti.nbytes, N * 4);
    ck_assert_int_eq(ppcrt_model_layer_output_info(m, 0, 1, &ti), PPCRT_ERR_ARG);
    ck_assert_int_eq(ppcrt_model_layer_info(m, 2, &li), PPCRT_ERR_ARG);
    ck_assert_str_eq(ppcrt_last_error(),
                     "ppcrt_model_layer_info: layer 2 out of range (model has 2 layers)");
    ck_assert_int_eq(ppcrt_model_layer_info(m, 1, NULL), PPCRT_ERR_ARG);

    static float a[N], b[N], t[N], y[N], y_run[N];
    fill_inputs(a, b, 0.75f);
    for (int threads = 1; threads <= 4; threads *= 2) {
        PpcrtSession *s = session_ok(m, threads);
        ck_assert_int_eq(run_add(s, a, b, y_run), PPCRT_OK);
        /* Layer by layer, the intermediate t in a caller buffer, the scratch from the session. */
        memset(t, 0, sizeof t);
        memset(y, 0, sizeof y);
        void *args0[4] = {NULL, b, t, NULL};
        ck_assert_int_eq(ppcrt_layer_invoke(s, 0, args0), PPCRT_OK);
        for (int i = 0; i < N; i++) ck_assert_float_eq(t[i], b[i] * 2.0f);
        void *args1[4] = {NULL, a, t, y};
        ck_assert_int_eq(ppcrt_layer_invoke(s, 1, args1), PPCRT_OK);
        ck_assert(!memcmp(y, y_run, sizeof y));

        void *missing[4] = {NULL, a, NULL, y}; /* 't' has a name: NULL is an error */
        ck_assert_int_eq(ppcrt_layer_invoke(s, 1, missing), PPCRT_ERR_ARG);
        ck_assert_str_eq(ppcrt_last_error(),
                         "ppcrt_layer_invoke: layer 'add_1' argument 2 ('t') is NULL");
        ck_assert_int_eq(ppcrt_layer_invoke(s, 1, NULL), PPCRT_ERR_ARG);
        ck_assert_int_eq(ppcrt_layer_invoke(s, -1, args1), PPCRT_ERR_ARG);
        ck_assert_int_eq(ppcrt_layer_invoke(s, 2, args1), PPCRT_ERR_ARG);
        ppcrt_session_free(s);
    }
    ck_assert_int_eq(ppcrt_layer_invoke(NULL, 0, NULL), PPCRT_ERR_ARG);

    /* A model without debug layers. */
    PpcrtModel *mp = load_ok("fixture_pool.so");
    ck_assert_int_eq(ppcrt_model_num_layers(mp), 0);
    PpcrtSession *s = session_ok(mp, 1);
    ck_assert_int_eq(ppcrt_layer_invoke(s, 0, NULL), PPCRT_ERR_ARG);
    ppcrt_session_free(s);
    ppcrt_model_free(mp);
    ppcrt_model_free(m);
}
END_TEST

/* ================================================================ main */

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    struct {
        const char *name;
        const TTest *tests[8];
    } groups[] = {
        {"load", {load_introspect, load_twice_and_relative_path, load_errors_files,
                  load_errors_models, null_arguments, status_strings, last_error_per_thread}},
        {"run", {run_thread_counts, run_concurrent_sessions, run_caller_workspace,
                 run_after_model_free, run_busy_and_failure, run_does_not_allocate}},
        {"pool", {pool_through_model, pool_chunk_math, pool_stress_direct}},
        {"layers", {layers_info_and_invoke}},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        TCase *tc = tcase_create(groups[g].name);
        tcase_set_timeout(tc, 300); /* valgrind and sanitizer runs are slow */
        for (int i = 0; i < 8 && groups[g].tests[i]; i++) tcase_add_test(tc, groups[g].tests[i]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(int argc, char **argv)
{
    fixture_dir = argc > 1 ? argv[1] : getenv("PPCRT_FIXTURES");
    if (!fixture_dir) {
        fprintf(stderr, "usage: test_runtime FIXTURE_DIR [TCASE]\n");
        return 2;
    }
    SRunner *sr = srunner_create(runtime_suite());
    srunner_run(sr, NULL, argc > 2 ? argv[2] : NULL, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
