/* test_misc.c — tests of the non-convolution native kernels (codegen/kernels/misc_*.h) and
 * their lowerings (codegen/lower_misc.c), a Check program; `test_misc --bench` instead measures
 * the fully connected layers of VGG-16 and ResNet-18, two pooling layers and the streaming read
 * bandwidth, single-threaded.
 *
 * Every case builds a one-node IR graph, infers its shapes, runs the lowering and then the
 * kernel (the exported wrapper named by range_fn) over [0, n_work) cut into ranges of random
 * sizes executed in random order, on seeded random data, into output buffers pre-filled with
 * NaN; the result is compared with the reference interpreter (interp_node). NCHW16c variants
 * run the plain node in the interpreter and block its input and output with ir_layout_convert.
 * Tolerances: exact where the kernel does the same IEEE operations (binary ops, max pooling,
 * data movement, integer-valued sums); otherwise a bound derived from the f32 computation
 * (summation length times the unit roundoff, or a few ulps for the vectorised exp/tanh).
 * Lowerings must also decline (return 0) the forms their kernels do not handle.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/kernels/misc.h"
#include "codegen/lowering.h"
#include "ir/activation.h"
#include "ir/ir.h"

#define LOWERING(fn) int fn(const Graph *g, const Node *n, const CgTarget *t, CgKernelCall *call, Diag *d);
LOWERING(lower_misc_gemm)
LOWERING(lower_misc_pool)
LOWERING(lower_misc_global_pool)
LOWERING(lower_misc_unary)
LOWERING(lower_misc_binary)
LOWERING(lower_misc_softmax)
LOWERING(lower_misc_reduce)
LOWERING(lower_misc_layout)
LOWERING(lower_misc_concat)
LOWERING(lower_misc_transpose)
#undef LOWERING

typedef void (*RangeFn)(const void *, void *const *, int64_t, int64_t);

static RangeFn range_fn(const char *name)
{
    static const struct {
        const char *name;
        RangeFn fn;
    } fns[] = {{"k_gemm", k_gemm},       {"k_pool", k_pool},       {"k_global_pool", k_global_pool},
               {"k_unary", k_unary},     {"k_binary", k_binary},   {"k_softmax", k_softmax},
               {"k_layout", k_layout},   {"k_concat", k_concat},   {"k_reduce", k_reduce},
               {"k_transpose", k_transpose}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (name && !strcmp(fns[i].name, name)) return fns[i].fn;
    return NULL;
}

static const CgTarget target = {.is_x86 = 1, .vector_bits = 512, .vregs = 32, .has_fma = 1};
static const double EPS = 5.9604644775390625e-08; /* 2^-24, f32 unit roundoff */

/* ------------------------------------------------------------------ random data */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int64_t rndi(uint64_t *s, int64_t lo, int64_t hi) { return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1)); }
static float rndf(uint64_t *s, float lo, float hi) { return lo + (hi - lo) * (float)((rnd(s) >> 40) * (1.0 / 16777216.0)); }

/* n floats: uniform in [lo, hi), or integers in [lo, hi] when integral */
static float *rand_floats(uint64_t *s, int64_t n, float lo, float hi, int integral)
{
    float *p = xmalloc((size_t)n * sizeof(float) + 64);
    for (int64_t i = 0; i < n; i++) p[i] = integral ? (float)rndi(s, (int64_t)lo, (int64_t)hi) : rndf(s, lo, hi);
    return p;
}

/* ------------------------------------------------------------------ graph building */
static int g_input(Graph *g, DType t, int rank, const int64_t *dims)
{
    int v = ir_value_add(g, NULL, t, rank, dims);
    ir_graph_add_input(g, v);
    return v;
}
static int g_output(Graph *g)
{
    int v = ir_value_add(g, NULL, DT_UNDEF, 0, NULL);
    ir_graph_add_output(g, v);
    return v;
}
/* One node over the given input value ids with one inferred output. */
static int g_node(Graph *g, OpKind op, int nin, const int *in)
{
    int out = g_output(g);
    return ir_node_add(g, op, "n0", nin, in, 1, &out);
}
static void g_infer(Graph *g)
{
    Diag d;
    int rc = ir_infer_shapes(g, &d);
    ck_assert_msg(rc == 0, "shape inference: %s", d.msg);
}

/* ------------------------------------------------------------------ running */
typedef struct NativeRun {
    int accepted;  /* the lowering's result */
    CgKernelCall call;
    void *out;     /* output 0 (malloc'ed by run_native unless in place) */
} NativeRun;

/* Data of value vid: node input k's in_data[k], or the constant's data. */
static void *value_data(const Graph *g, const Node *n, int vid, void *const *in_data)
{
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] == vid && in_data[k]) return in_data[k];
    return g->values[vid].data;
}

/* Lower node `node` and run its kernel over [0, n_work) in ranges of random sizes in random
 * order. Output 0 goes to a fresh NaN-filled buffer, or with inplace = k + 1 into input k's
 * buffer (which the caller must have made a scratch copy). */
static void run_native(CgLowerFn lower, const Graph *g, int node, void *const *in_data, int inplace,
                       uint64_t *rng, NativeRun *r)
{
    const Node *n = &g->nodes[node];
    Diag d = {{0}};
    memset(r, 0, sizeof *r);
    r->accepted = lower(g, n, &target, &r->call, &d);
    ck_assert_msg(r->accepted >= 0, "lowering failed: %s", d.msg);
    if (!r->accepted) return;
    const Value *y = &g->values[n->out[0]];
    size_t ybytes = (size_t)ir_value_numel(y) * dtype_size(y->dtype);
    if (inplace) {
        r->out = in_data[inplace - 1];
    } else {
        r->out = xmalloc(ybytes + 64);
        memset(r->out, 0xff, ybytes); /* NaN for floats: unwritten elements fail */
    }
    void *bufs[CG_MAX_BUFS];
    for (int b = 0; b < r->call.n_bufs; b++) {
        const CgBuf *cb = &r->call.bufs[b];
        if (cb->kind == CG_BUF_NONE)
            bufs[b] = NULL;
        else if (cb->kind == CG_BUF_BLOB)
            bufs[b] = r->call.blobs[cb->blob];
        else if (cb->value == n->out[0])
            bufs[b] = r->out;
        else
            bufs[b] = value_data(g, n, cb->value, in_data);
        ck_assert_msg(cb->kind == CG_BUF_NONE || bufs[b], "buffer %d has no data", b);
    }
    RangeFn fn = range_fn(r->call.range_fn);
    ck_assert_msg(fn != NULL, "unknown range_fn %s", r->call.range_fn ? r->call.range_fn : "(null)");
    ck_assert(r->call.n_work >= 0 && r->call.grain >= 1);
    ck_assert(r->call.params_size > 0 && r->call.params_size <= CG_MAX_PARAMS);
    /* random ranges, shuffled */
    int64_t nw = r->call.n_work, cap = nw / 64 + 1 + r->call.grain * 2;
    int64_t *starts = xmalloc((size_t)(nw + 2) * sizeof(int64_t));
    int nr = 0;
    for (int64_t b = 0; b < nw;) {
        int64_t len = rndi(rng, 1, cap);
        if (b + len > nw) len = nw - b;
        starts[nr++] = b;
        b += len;
    }
    starts[nr] = nw;
    int *order = xmalloc((size_t)(nr + 1) * sizeof(int));
    for (int i = 0; i < nr; i++) order[i] = i;
    for (int i = nr - 1; i > 0; i--) {
        int j = (int)rndi(rng, 0, i), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int i = 0; i < nr; i++) fn(r->call.params, bufs, starts[order[i]], starts[order[i] + 1]);
    free(starts);
    free(order);
}

static void native_free(NativeRun *r, int inplace)
{
    cg_call_free(&r->call);
    if (!inplace) free(r->out);
}

/* The interpreter's output 0 of node `node` on in_data (NULL entries: constants). */
static Tensor *run_ref(const Graph *g, int node, void *const *in_data)
{
    const Node *n = &g->nodes[node];
    Tensor *ins[16], *outs[4] = {0};
    for (int k = 0; k < n->n_in; k++) {
        const Value *v = &g->values[n->in[k]];
        ins[k] = tensor_wrap(v->dtype, v->rank, v->dims, value_data(g, n, n->in[k], in_data));
    }
    Diag d;
    int rc = interp_node(g, node, ins, outs, &d);
    for (int k = 0; k < n->n_in; k++) {
        ins[k]->owns = 0;
        tensor_free(ins[k]);
    }
    ck_assert_msg(rc == 0, "interpreter: %s", d.msg);
    for (int k = 1; k < n->n_out; k++) tensor_free(outs[k]);
    return outs[0];
}

/* |got - ref| <= atol + rtol*|ref| elementwise (NaN must match NaN); fails naming `what`. */
static void check_close(const float *got, const float *ref, int64_t n, double rtol, double atol, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double a = got[i], b = ref[i];
        int ok = (isnan(a) && isnan(b)) || (a == b) || fabs(a - b) <= atol + rtol * fabs(b);
        ck_assert_msg(ok, "%s: element %lld: got %.9g, expected %.9g (rtol %g atol %g)", what, (long long)i, a, b,
                      rtol, atol);
    }
}

static void check_bytes(const void *got, const void *ref, size_t n, const char *what)
{
    ck_assert_msg(memcmp(got, ref, n) == 0, "%s: bytes differ", what);
}

/* ------------------------------------------------------------------ Gemm */
/* A [M,K], B [N,K] (transB) or [K,N] constant or input, optional C of shape cdims. */
typedef struct GemmCase {
    int64_t M, N, K;
    int transb, b_const;
    int c_rank;           /* -1: no C */
    int64_t cdims[2];
    ActKind act;
    double aa, ab;        /* activation_alpha/beta (NAN: default) */
    int integral;         /* integer-valued data: exact sums */
} GemmCase;

static void gemm_case(const GemmCase *gc, uint64_t *rng, int expect_native)
{
    Graph *g = ir_graph_new("gemm");
    int64_t M = gc->M, N = gc->N, K = gc->K;
    int64_t adims[2] = {M, K}, bdims[2] = {gc->transb ? N : K, gc->transb ? K : N};
    float *A = rand_floats(rng, M * K, -3, 3, gc->integral);
    float *B = rand_floats(rng, N * K, -3, 3, gc->integral);
    int64_t cn = gc->c_rank < 0 ? 0 : shape_numel(gc->c_rank, gc->cdims);
    float *C = rand_floats(rng, cn + 1, -3, 3, gc->integral);
    int in[3];
    in[0] = g_input(g, DT_F32, 2, adims);
    in[1] = gc->b_const ? ir_const_add(g, "B", DT_F32, 2, bdims, B) : g_input(g, DT_F32, 2, bdims);
    int nin = 2;
    if (gc->c_rank >= 0) in[nin++] = ir_const_add(g, "C", DT_F32, gc->c_rank, gc->cdims, C);
    int nd = g_node(g, OP_GEMM, nin, in);
    if (gc->transb) ir_node_set_int(g, nd, "transB", 1);
    if (gc->act != ACT_NONE) {
        ir_node_set_str(g, nd, "activation", activation_name(gc->act));
        if (!isnan(gc->aa)) ir_node_set_float(g, nd, "activation_alpha", gc->aa);
        if (!isnan(gc->ab)) ir_node_set_float(g, nd, "activation_beta", gc->ab);
    }
    g_infer(g);
    void *in_data[3] = {A, gc->b_const ? NULL : B, NULL};
    NativeRun r;
    run_native(lower_misc_gemm, g, nd, in_data, 0, rng, &r);
    ck_assert_int_eq(r.accepted, expect_native);
    if (r.accepted) {
        Tensor *ref = run_ref(g, nd, in_data);
        /* bound: f32 sums of K/16 + 16 terms (+ bias) relative to sum |a*b| + |c|, then the
         * activation (a few ulps; its slope is at most max(1, |alpha|)) */
        float *got = r.out;
        const float *want = ref->data;
        double slope = gc->act == ACT_LEAKY_RELU || gc->act == ACT_HARD_SIGMOID ? fmax(1, fabs(gc->aa)) : 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double mag = 0;
                for (int64_t k = 0; k < K; k++) {
                    double b = gc->transb ? B[j * K + k] : B[k * N + j];
                    mag += fabs((double)A[i * K + k] * b);
                }
                if (cn) mag += fabs(C[cn == 1 ? 0 : j]);
                double tol = gc->integral ? 0 : (double)(K / 16 + 18) * EPS * mag * slope;
                double w = want[i * N + j], v = got[i * N + j];
                tol += 8 * EPS * fabs(w) + 1e-37;
                ck_assert_msg(fabs(v - w) <= tol, "gemm M=%lld N=%lld K=%lld act=%s [%lld,%lld]: got %.9g want %.9g tol %g",
                              (long long)M, (long long)N, (long long)K, activation_name(gc->act), (long long)i,
                              (long long)j, v, w, tol);
            }
        tensor_free(ref);
    }
    native_free(&r, 0);
    free(A), free(B), free(C);
    ir_graph_free(g);
}

START_TEST(test_gemm_shapes)
{
    uint64_t rng = 11;
    static const int64_t Ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 40, 70};
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
        for (int rep = 0; rep < 4; rep++) {
            GemmCase gc = {.M = Ms[mi], .N = rndi(&rng, 1, 75), .K = rndi(&rng, 1, 300), .transb = rep != 3,
                           .b_const = 1, .c_rank = rep % 3 == 0 ? -1 : 1, .act = ACT_NONE, .aa = NAN, .ab = NAN,
                           .integral = rep % 2};
            gc.cdims[0] = gc.N;
            if (rep == 2) gc.c_rank = 2, gc.cdims[0] = 1, gc.cdims[1] = gc.N;
            gemm_case(&gc, &rng, 1);
        }
    /* exact sums on larger shapes, both paths (the panels path in both item orders), N and K off
     * the vector multiples */
    GemmCase big1 = {.M = 1, .N = 1001, .K = 2049, .transb = 1, .b_const = 1, .c_rank = 1, .cdims = {1001},
                     .aa = NAN, .ab = NAN, .integral = 1};
    gemm_case(&big1, &rng, 1);
    GemmCase big2 = {.M = 67, .N = 97, .K = 515, .transb = 1, .b_const = 1, .c_rank = 1, .cdims = {97},
                     .aa = NAN, .ab = NAN, .integral = 1};
    gemm_case(&big2, &rng, 1);
    GemmCase big3 = {.M = 40, .N = 300, .K = 520, .transb = 1, .b_const = 1, .c_rank = 1, .cdims = {300},
                     .aa = NAN, .ab = NAN, .integral = 1}; /* B 624 KB: panel-major items */
    gemm_case(&big3, &rng, 1);
    /* bias of one element; B an input (the rows path even for many rows) */
    for (int m = 0; m < 2; m++) {
        GemmCase one = {.M = m ? 30 : 3, .N = 40, .K = 33, .transb = 1, .b_const = 1, .c_rank = 1, .cdims = {1},
                        .aa = NAN, .ab = NAN};
        gemm_case(&one, &rng, 1);
    }
    GemmCase var = {.M = 21, .N = 19, .K = 40, .transb = 1, .b_const = 0, .c_rank = -1, .aa = NAN, .ab = NAN};
    gemm_case(&var, &rng, 1);
}
END_TEST

START_TEST(test_gemm_activations)
{
    uint64_t rng = 12;
    for (int a = ACT_RELU; a < ACT_COUNT; a++)
        for (int m = 0; m < 2; m++) {
            GemmCase gc = {.M = m ? 12 : 2, .N = rndi(&rng, 1, 70), .K = rndi(&rng, 1, 100), .transb = 1,
                           .b_const = 1, .c_rank = 1, .act = (ActKind)a, .aa = NAN, .ab = NAN};
            gc.cdims[0] = gc.N;
            if (a == ACT_LEAKY_RELU) gc.aa = 0.2;
            if (a == ACT_CLIP) gc.aa = -1.5, gc.ab = 2.0;
            if (a == ACT_HARD_SIGMOID) gc.aa = 0.3, gc.ab = 0.4;
            gemm_case(&gc, &rng, 1);
            gc.aa = gc.ab = NAN; /* defaults */
            gemm_case(&gc, &rng, 1);
        }
}
END_TEST

START_TEST(test_gemm_declines)
{
    uint64_t rng = 13;
    /* C of shape [M,N]: fallback */
    GemmCase full = {.M = 3, .N = 5, .K = 7, .transb = 1, .b_const = 1, .c_rank = 2, .cdims = {3, 5}, .aa = NAN, .ab = NAN};
    gemm_case(&full, &rng, 0);
    /* transA, alpha: fallback */
    const char *attrs[] = {"transA", "alpha"};
    for (int k = 0; k < 2; k++) {
        Graph *g = ir_graph_new("gemm");
        int64_t d2[2] = {4, 4};
        int in[2] = {g_input(g, DT_F32, 2, d2), g_input(g, DT_F32, 2, d2)};
        int nd = g_node(g, OP_GEMM, 2, in);
        if (k == 0)
            ir_node_set_int(g, nd, attrs[k], 1);
        else
            ir_node_set_float(g, nd, attrs[k], 2.0);
        ir_node_set_int(g, nd, "transB", 1);
        g_infer(g);
        CgKernelCall c;
        Diag d;
        ck_assert_int_eq(lower_misc_gemm(g, &g->nodes[nd], &target, &c, &d), 0);
        ir_graph_free(g);
    }
}
END_TEST

/* The skip path (KM_GEMM_SKIP): one row of A from a ReLU and a B of at least 4 MB. The graph
 * is X -> Relu -> [Flatten] -> Gemm; the Gemm's A is fed directly (zeros, negatives, and in one
 * case a NaN, which must reach every output). Integer-valued data: the sums are exact. The path
 * must not be taken when A does not come from a ReLU, when B has an infinity (0 * inf would be
 * skipped) or when A has two rows. */
typedef struct SkipCase {
    int64_t M, N, K;
    int relu, flatten; /* A's producer chain */
    int transb;
    int inf_in_b, nan_in_a;
    ActKind act;
    int expect_skip;
} SkipCase;

static void gemm_skip_case(const SkipCase *sc, uint64_t *rng)
{
    Graph *g = ir_graph_new("gemm_skip");
    int64_t M = sc->M, N = sc->N, K = sc->K;
    int64_t xdims[4] = {M, K, 1, 1}, bdims[2] = {sc->transb ? N : K, sc->transb ? K : N}, cdims[1] = {N};
    float *A = rand_floats(rng, M * K, -3, 3, 1);
    for (int64_t i = 0; i < M * K; i++)
        if (rndi(rng, 0, 9) < 4) A[i] = 0.0f; /* 40% zeros, as after a ReLU */
    if (sc->nan_in_a) A[rndi(rng, 0, M * K - 1)] = NAN;
    float *B = rand_floats(rng, N * K, -3, 3, 1);
    if (sc->inf_in_b) B[rndi(rng, 0, N * K - 1)] = INFINITY;
    float *C = rand_floats(rng, N, -3, 3, 1);
    int x = g_input(g, DT_F32, sc->flatten ? 4 : 2, xdims);
    int a = x;
    if (sc->relu) {
        int out = ir_value_add(g, NULL, DT_UNDEF, 0, NULL);
        ir_node_add(g, OP_RELU, "relu", 1, &x, 1, &out);
        a = out;
    }
    if (sc->flatten) {
        int out = ir_value_add(g, NULL, DT_UNDEF, 0, NULL);
        ir_node_add(g, OP_FLATTEN, "flatten", 1, &a, 1, &out);
        a = out;
    }
    int in[3] = {a, ir_const_add(g, "B", DT_F32, 2, bdims, B), ir_const_add(g, "C", DT_F32, 1, cdims, C)};
    int nd = g_node(g, OP_GEMM, 3, in);
    if (sc->transb) ir_node_set_int(g, nd, "transB", 1);
    if (sc->act != ACT_NONE) ir_node_set_str(g, nd, "activation", activation_name(sc->act));
    g_infer(g);
    void *in_data[3] = {A, NULL, NULL};
    NativeRun r;
    run_native(lower_misc_gemm, g, nd, in_data, 0, rng, &r);
    ck_assert_int_eq(r.accepted, 1);
    int skip = strstr(r.call.note, "skip") != NULL;
    ck_assert_msg(skip == sc->expect_skip, "M=%lld relu=%d inf=%d: skip path %d, expected %d (%s)", (long long)M,
                  sc->relu, sc->inf_in_b, skip, sc->expect_skip, r.call.note);
    Tensor *ref = run_ref(g, nd, in_data);
    check_close(r.out, ref->data, M * N, 0, 0, "gemm skip"); /* exact (integers), NaN where NaN */
    if (sc->nan_in_a)
        for (int64_t j = 0; j < N; j++) ck_assert_msg(isnan(((float *)r.out)[j]), "NaN in A lost at column %lld", (long long)j);
    tensor_free(ref);
    native_free(&r, 0);
    free(A), free(B), free(C);
    ir_graph_free(g);
}

START_TEST(test_gemm_skip)
{
    uint64_t rng = 14;
    /* 1001 x 1100 floats = 4.4 MB: panels of 512 (the last one 489 columns wide) */
    SkipCase base = {.M = 1, .N = 1001, .K = 1100, .relu = 1, .transb = 1, .act = ACT_RELU, .expect_skip = 1};
    gemm_skip_case(&base, &rng);
    SkipCase flat = base;
    flat.flatten = 1, flat.act = ACT_NONE, flat.K = 1029, flat.N = 2050; /* 3 panels; through Flatten */
    gemm_skip_case(&flat, &rng);
    SkipCase kn = base;
    kn.transb = 0, kn.N = 1040, kn.K = 1009; /* B [K,N]: transposed at compile time */
    gemm_skip_case(&kn, &rng);
    SkipCase nan = base;
    nan.nan_in_a = 1, nan.act = ACT_NONE;
    gemm_skip_case(&nan, &rng);
    /* not taken: no ReLU before A, an infinity in B, two rows of A */
    SkipCase norelu = base;
    norelu.relu = 0, norelu.expect_skip = 0;
    gemm_skip_case(&norelu, &rng);
    SkipCase inf = base;
    inf.inf_in_b = 1, inf.expect_skip = 0;
    gemm_skip_case(&inf, &rng);
    SkipCase two = base;
    two.M = 2, two.expect_skip = 0;
    gemm_skip_case(&two, &rng);
}
END_TEST

/* ------------------------------------------------------------------ pooling */
typedef struct PoolCase {
    OpKind op;
    int64_t N, C, H, W; /* H = 0: 1-D */
    int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    int ceil_mode, include_pad;
    const char *auto_pad;
} PoolCase;

/* Block a plain [N, C, S] f32 buffer (new allocation). */
static float *block(const float *x, int64_t N, int64_t C, int64_t S)
{
    int64_t CB = (C + 15) / 16;
    float *b = xmalloc((size_t)(N * CB * S * 16) * sizeof(float) + 64);
    ir_layout_convert(1, sizeof(float), N, C, S, x, b);
    return b;
}

/* Run the plain node in the interpreter; run the kernel on the plain node and on the NCHW16c
 * form of the same node (built by hand: blocked input and output dims, layout attribute). */
static void pool_check(Graph *g, int nd, float *x, int integral, double tol_per_tap, uint64_t *rng)
{
    const Node *n = &g->nodes[nd];
    const Value *X = &g->values[n->in[0]], *Y = &g->values[n->out[0]];
    void *in_data[1] = {x};
    Tensor *ref = run_ref(g, nd, in_data);
    int64_t yn = ir_value_numel(Y);
    int64_t taps = 1;
    const int64_t *ks = ir_attr_ints(n, "kernel_shape", NULL);
    for (int a = 2; a < X->rank; a++) taps *= n->op == OP_GLOBAL_AVERAGE_POOL || n->op == OP_GLOBAL_MAX_POOL ? X->dims[a] : ks[a - 2];
    double tol = integral ? 0 : tol_per_tap * (double)(taps + 2) * EPS;
    double rtol = integral ? 2 * EPS : 0; /* quotient rounded from double vs f32 */
    CgLowerFn lower = n->op == OP_MAX_POOL || n->op == OP_AVERAGE_POOL ? lower_misc_pool : lower_misc_global_pool;
    char what[256];
    snprintf(what, sizeof what, "%s plain X=[%lld,%lld,...]", ir_op_name(n->op), (long long)X->dims[0],
             (long long)X->dims[1]);
    NativeRun r;
    run_native(lower, g, nd, in_data, 0, rng, &r);
    ck_assert_int_eq(r.accepted, 1);
    check_close(r.out, ref->data, yn, rtol, tol, what);
    native_free(&r, 0);

    /* blocked: the expected output is the plain op over all 16*CB lanes of the blocked input
     * (padded lanes are zero channels), blocked again */
    int64_t N = X->dims[0], C = X->dims[1], S = ir_value_numel(X) / (N * C), So = yn / (N * C);
    int64_t C16 = (C + 15) / 16 * 16;
    int64_t bx[IR_MAX_RANK], by[IR_MAX_RANK];
    int rx, ry;
    ck_assert(ir_layout_blocked_dims(X->rank, X->dims, &rx, bx) == 0 && ir_layout_blocked_dims(Y->rank, Y->dims, &ry, by) == 0);
    Graph *gb = ir_graph_clone(g);
    int vx = ir_value_add(gb, "xb", DT_F32, rx, bx), vy = ir_value_add(gb, "yb", DT_F32, ry, by);
    Node *nb = &gb->nodes[nd];
    nb->in[0] = vx, nb->out[0] = vy;
    ir_node_set_str(gb, nd, "layout", "NCHW16c");
    float *xb = block(x, N, C, S), *x16 = xmalloc((size_t)(N * C16 * S) * sizeof(float) + 64);
    ir_layout_convert(0, sizeof(float), N, C16, S, xb, x16);
    Graph *g16 = ir_graph_clone(g);
    g16->values[n->in[0]].dims[1] = C16, g16->values[n->out[0]].dims[1] = C16;
    void *in16[1] = {x16};
    Tensor *ref16 = run_ref(g16, nd, in16);
    float *yb = block(ref16->data, N, C16, So);
    tensor_free(ref16);
    ir_graph_free(g16);
    free(x16);
    void *bin[1] = {xb};
    run_native(lower, gb, nd, bin, 0, rng, &r);
    ck_assert_int_eq(r.accepted, 1);
    snprintf(what + strlen(what), sizeof what - strlen(what), " NCHW16c");
    check_close(r.out, yb, ir_value_numel(&gb->values[vy]), rtol, tol, what);
    native_free(&r, 0);
    free(xb), free(yb);
    ir_graph_free(gb);
    tensor_free(ref);
}

static void pool_case(const PoolCase *pc, uint64_t *rng, int integral)
{
    Graph *g = ir_graph_new("pool");
    int nsp = pc->H ? 2 : 1;
    int64_t dims[4] = {pc->N, pc->C, pc->H ? pc->H : pc->W, pc->W};
    int x = g_input(g, DT_F32, 2 + nsp, dims);
    int nd = g_node(g, pc->op, 1, &x);
    int64_t k[2] = {pc->kh, pc->kw}, s[2] = {pc->sh, pc->sw}, dl[2] = {pc->dh, pc->dw};
    int64_t pads[4] = {pc->pt, pc->pl, pc->pb, pc->pr}, pads1[2] = {pc->pl, pc->pr};
    ir_node_set_ints(g, nd, "kernel_shape", nsp == 2 ? k : k + 1, nsp);
    ir_node_set_ints(g, nd, "strides", nsp == 2 ? s : s + 1, nsp);
    if (pc->op == OP_MAX_POOL || pc->dh > 1 || pc->dw > 1) ir_node_set_ints(g, nd, "dilations", nsp == 2 ? dl : dl + 1, nsp);
    if (pc->auto_pad)
        ir_node_set_str(g, nd, "auto_pad", pc->auto_pad);
    else
        ir_node_set_ints(g, nd, "pads", nsp == 2 ? pads : pads1, 2 * nsp);
    if (pc->ceil_mode) ir_node_set_int(g, nd, "ceil_mode", 1);
    if (pc->include_pad) ir_node_set_int(g, nd, "count_include_pad", 1);
    Diag d;
    if (ir_infer_shapes(g, &d)) { /* geometry the op rejects (e.g. pads too large): skip */
        ir_graph_free(g);
        return;
    }
    int64_t n = shape_numel(2 + nsp, dims);
    float *xd = rand_floats(rng, n, integral ? -20 : -1, integral ? 20 : 1, integral);
    if (!integral && rndi(rng, 0, 3) == 0) xd[rndi(rng, 0, n - 1)] = NAN; /* NaN propagates */
    pool_check(g, nd, xd, integral, 1.0, rng);
    free(xd);
    ir_graph_free(g);
}

START_TEST(test_pool_random)
{
    uint64_t rng = 21;
    for (int it = 0; it < 400; it++) {
        PoolCase pc;
        memset(&pc, 0, sizeof pc);
        pc.op = it % 2 ? OP_AVERAGE_POOL : OP_MAX_POOL;
        pc.N = rndi(&rng, 1, 2), pc.C = rndi(&rng, 1, 35);
        pc.H = it % 5 == 4 ? 0 : rndi(&rng, 1, 20);
        pc.W = rndi(&rng, 1, 45);
        pc.kh = rndi(&rng, 1, 4), pc.kw = rndi(&rng, 1, 4);
        pc.sh = rndi(&rng, 1, 3), pc.sw = it % 3 ? 1 : rndi(&rng, 1, 3);
        pc.dh = pc.op == OP_MAX_POOL && it % 7 == 1 ? 2 : 1;
        pc.dw = pc.op == OP_MAX_POOL && it % 11 == 3 ? 2 : 1;
        pc.pt = rndi(&rng, 0, pc.kh - 1), pc.pb = rndi(&rng, 0, pc.kh - 1);
        pc.pl = rndi(&rng, 0, pc.kw - 1), pc.pr = rndi(&rng, 0, pc.kw - 1);
        if (!pc.H) pc.kh = pc.sh = pc.dh = 1, pc.pt = pc.pb = 0;
        pc.ceil_mode = it % 4 == 3;
        pc.include_pad = pc.op == OP_AVERAGE_POOL && it % 4 >= 2;
        if (it % 13 == 5) pc.auto_pad = it % 2 ? "SAME_UPPER" : "SAME_LOWER";
        pool_case(&pc, &rng, it % 3 == 0);
    }
}
END_TEST

START_TEST(test_pool_cnn_layers)
{
    uint64_t rng = 22;
    /* resnet18 stem max pool, vgg 2x2 max pool, squeezenet 3x3 s2 ceil max pool, 3x3 s1 avg */
    PoolCase cases[] = {
        {OP_MAX_POOL, 1, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, NULL},
        {OP_MAX_POOL, 1, 64, 56, 56, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, NULL},
        {OP_MAX_POOL, 1, 96, 55, 55, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0, NULL},
        {OP_AVERAGE_POOL, 2, 40, 17, 35, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, NULL},
        {OP_AVERAGE_POOL, 2, 40, 17, 35, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) pool_case(&cases[i], &rng, 0);
}
END_TEST

START_TEST(test_global_pool)
{
    uint64_t rng = 23;
    for (int it = 0; it < 60; it++) {
        Graph *g = ir_graph_new("gp");
        int rank = it % 6 == 5 ? 3 : 4;
        int64_t dims[4] = {rndi(&rng, 1, 2), rndi(&rng, 1, 40), rndi(&rng, 1, 15), rndi(&rng, 1, 15)};
        if (it == 0) dims[0] = 1, dims[1] = 512, dims[2] = 7, dims[3] = 7;
        int x = g_input(g, DT_F32, rank, dims);
        int nd = g_node(g, it % 2 ? OP_GLOBAL_AVERAGE_POOL : OP_GLOBAL_MAX_POOL, 1, &x);
        g_infer(g);
        int integral = it % 3 == 0;
        float *xd = rand_floats(&rng, shape_numel(rank, dims), integral ? -50 : -1, integral ? 50 : 1, integral);
        pool_check(g, nd, xd, integral, 1.0, &rng);
        free(xd);
        ir_graph_free(g);
    }
}
END_TEST

START_TEST(test_pool_declines)
{
    Graph *g = ir_graph_new("mp");
    int64_t dims[4] = {1, 3, 8, 8}, k[2] = {2, 2};
    int x = g_input(g, DT_F32, 4, dims);
    int outs[2] = {g_output(g), g_output(g)};
    int nd = ir_node_add(g, OP_MAX_POOL, "mp", 1, &x, 2, outs);
    ir_node_set_ints(g, nd, "kernel_shape", k, 2);
    g_infer(g);
    CgKernelCall c;
    Diag d;
    ck_assert_int_eq(lower_misc_pool(g, &g->nodes[nd], &target, &c, &d), 0); /* Indices */
    ir_graph_free(g);
    /* 3-D pooling and LpPool are not native */
    g = ir_graph_new("p3");
    int64_t d5[5] = {1, 2, 4, 4, 4}, k3[3] = {2, 2, 2};
    x = g_input(g, DT_F32, 5, d5);
    nd = g_node(g, OP_AVERAGE_POOL, 1, &x);
    ir_node_set_ints(g, nd, "kernel_shape", k3, 3);
    g_infer(g);
    ck_assert_int_eq(lower_misc_pool(g, &g->nodes[nd], &target, &c, &d), 0);
    ir_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ elementwise unary */
typedef struct UnaryCase {
    OpKind op;
    float lo, hi;     /* input range */
    double ulps;      /* tolerance in units of 2^-24 relative */
    double atol;
    const char *a1; double v1;
    const char *a2; double v2;
} UnaryCase;

START_TEST(test_unary)
{
    uint64_t rng = 31;
    const UnaryCase cases[] = {
        {OP_RELU, -5, 5, 0, 0, NULL, 0, NULL, 0},
        {OP_LEAKY_RELU, -5, 5, 1, 0, NULL, 0, NULL, 0},
        {OP_LEAKY_RELU, -5, 5, 1, 0, "alpha", 0.3, NULL, 0},
        {OP_CLIP, -8, 8, 0, 0, "min", 0, "max", 6},
        {OP_CLIP, -8, 8, 0, 0, "max", 1.5, NULL, 0},
        {OP_SIGMOID, -30, 30, 6, 1e-37, NULL, 0, NULL, 0},
        {OP_TANH, -12, 12, 6, 1e-37, NULL, 0, NULL, 0},
        {OP_TANH, -0.8f, 0.8f, 6, 1e-37, NULL, 0, NULL, 0},
        {OP_HARD_SIGMOID, -8, 8, 2, 1e-7, NULL, 0, NULL, 0},
        {OP_HARD_SIGMOID, -8, 8, 2, 1e-7, "alpha", 0.25, "beta", 0.6},
        {OP_HARD_SWISH, -8, 8, 4, 1e-7, NULL, 0, NULL, 0},
        {OP_EXP, -100, 88, 4, 1e-44, NULL, 0, NULL, 0},
        {OP_LOG, 1e-3f, 100, 2, 0, NULL, 0, NULL, 0},
        {OP_SQRT, 0, 100, 1, 0, NULL, 0, NULL, 0},
        {OP_RECIPROCAL, 0.5f, 100, 1, 0, NULL, 0, NULL, 0},
        {OP_NEG, -5, 5, 0, 0, NULL, 0, NULL, 0},
        {OP_ABS, -5, 5, 0, 0, NULL, 0, NULL, 0},
        {OP_ELU, -10, 5, 4, 1e-37, NULL, 0, NULL, 0},
        {OP_ELU, -10, 5, 4, 1e-37, "alpha", 0.5, NULL, 0},
        {OP_SOFTPLUS, -30, 30, 6, 1e-37, NULL, 0, NULL, 0},
        {OP_ERF, -4, 4, 4, 1e-37, NULL, 0, NULL, 0},
        {OP_FLOOR, -50, 50, 0, 0, NULL, 0, NULL, 0},
        {OP_CEIL, -50, 50, 0, 0, NULL, 0, NULL, 0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int rep = 0; rep < 4; rep++) {
            const UnaryCase *uc = &cases[ci];
            Graph *g = ir_graph_new("u");
            int rank = (int)rndi(&rng, 1, 4);
            int64_t dims[4];
            for (int i = 0; i < rank; i++) dims[i] = rndi(&rng, 1, rep == 3 ? 40 : 12);
            int x = g_input(g, DT_F32, rank, dims);
            int nd = g_node(g, uc->op, 1, &x);
            if (uc->a1) ir_node_set_float(g, nd, uc->a1, uc->v1);
            if (uc->a2) ir_node_set_float(g, nd, uc->a2, uc->v2);
            g_infer(g);
            int64_t n = shape_numel(rank, dims);
            float *xd = rand_floats(&rng, n, uc->lo, uc->hi, 0);
            if (n > 3 && uc->op != OP_LOG && uc->op != OP_SQRT) xd[1] = NAN, xd[2] = 0.0f, xd[3] = -0.0f;
            void *in_data[1] = {xd};
            Tensor *ref = run_ref(g, nd, in_data);
            int inplace = rep % 2;
            float *scratch = NULL;
            if (inplace) {
                scratch = xmalloc((size_t)n * sizeof(float) + 64);
                memcpy(scratch, xd, (size_t)n * sizeof(float));
                in_data[0] = scratch;
            }
            NativeRun r;
            run_native(lower_misc_unary, g, nd, in_data, inplace, &rng, &r);
            ck_assert_int_eq(r.accepted, 1);
            char what[96];
            snprintf(what, sizeof what, "%s%s", ir_op_name(uc->op), inplace ? " in place" : "");
            check_close(r.out, ref->data, n, uc->ulps * 2 * EPS, uc->atol, what);
            native_free(&r, inplace);
            free(scratch), free(xd);
            tensor_free(ref);
            ir_graph_free(g);
        }
    /* not native: Sin, and any non-f32 unary */
    Graph *g = ir_graph_new("u");
    int64_t dims[1] = {8};
    int x = g_input(g, DT_F32, 1, dims);
    int nd = g_node(g, OP_SIN, 1, &x);
    int xi = g_input(g, DT_I64, 1, dims);
    int ndi = g_node(g, OP_RELU, 1, &xi);
    g_infer(g);
    CgKernelCall c;
    Diag d;
    ck_assert_int_eq(lower_misc_unary(g, &g->nodes[nd], &target, &c, &d), 0);
    ck_assert_int_eq(lower_misc_unary(g, &g->nodes[ndi], &target, &c, &d), 0);
    ir_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ elementwise binary */
static void binary_case(OpKind op, int ra, const int64_t *da, int rb, const int64_t *db, int b_const, int inplace,
                        uint64_t *rng)
{
    Graph *g = ir_graph_new("b");
    int64_t na = shape_numel(ra, da), nb = shape_numel(rb, db);
    float *A = rand_floats(rng, na, -4, 4, 0), *B = rand_floats(rng, nb, op == OP_DIV ? 0.5f : -4, 4, 0);
    if (op == OP_MAX || op == OP_MIN) {
        if (na > 2) A[2] = NAN;
        if (nb > 1) B[1] = NAN;
    }
    int in[2] = {g_input(g, DT_F32, ra, da), b_const ? ir_const_add(g, "B", DT_F32, rb, db, B) : g_input(g, DT_F32, rb, db)};
    int nd = g_node(g, op, 2, in);
    g_infer(g);
    const Value *Y = &g->values[g->nodes[nd].out[0]];
    int64_t yn = ir_value_numel(Y);
    void *in_data[2] = {A, b_const ? NULL : B};
    Tensor *ref = run_ref(g, nd, in_data);
    float *scratch = NULL;
    if (inplace) { /* output into A's buffer: A must have the output's shape */
        ck_assert_int_eq(na, yn);
        scratch = xmalloc((size_t)na * sizeof(float) + 64);
        memcpy(scratch, A, (size_t)na * sizeof(float));
        in_data[0] = scratch;
    }
    NativeRun r;
    run_native(lower_misc_binary, g, nd, in_data, inplace, rng, &r);
    ck_assert_int_eq(r.accepted, 1);
    char what[160], s1[64], s2[64];
    snprintf(what, sizeof what, "%s %s op %s%s", ir_op_name(op), shape_str(ra, da, s1, sizeof s1),
             shape_str(rb, db, s2, sizeof s2), inplace ? " in place" : "");
    check_close(r.out, ref->data, yn, 0, 0, what);
    native_free(&r, inplace);
    free(scratch), free(A), free(B);
    tensor_free(ref);
    ir_graph_free(g);
}

/* Pow: exponent 2 (the x * x path, exact) and general exponents (powf against the interpreter's
 * double pow: within an ulp or two), as a constant scalar and as a full tensor. */
START_TEST(test_pow)
{
    uint64_t rng = 43;
    for (int rep = 0; rep < 8; rep++) {
        Graph *g = ir_graph_new("p");
        int64_t dims[2] = {rndi(&rng, 1, 7), rndi(&rng, 1, 40)}, one[1] = {1};
        const int64_t n = dims[0] * dims[1];
        float *A = rand_floats(&rng, n, rep & 1 ? 0.1f : -4.0f, 4, 0), two = 2.0f;
        float *B = rand_floats(&rng, n, -3, 3, 0);
        const int full = rep >= 4;
        int in[2] = {g_input(g, DT_F32, 2, dims), full ? g_input(g, DT_F32, 2, dims)
                                                       : ir_const_add(g, "B", DT_F32, 1, one, rep & 2 ? B : &two)};
        int nd = g_node(g, OP_POW, 2, in);
        g_infer(g);
        void *in_data[2] = {A, full ? B : NULL};
        Tensor *ref = run_ref(g, nd, in_data);
        NativeRun r;
        run_native(lower_misc_binary, g, nd, in_data, 0, &rng, &r);
        ck_assert_int_eq(r.accepted, 1);
        const int exact = !full && !(rep & 2);
        check_close(r.out, ref->data, n, exact ? 0 : 4 * EPS, exact ? 0 : 1e-37, exact ? "Pow x^2" : "Pow");
        native_free(&r, 0);
        free(A), free(B);
        tensor_free(ref);
        ir_graph_free(g);
    }
}
END_TEST

/* Erf over a dense sweep of [-5, 5] and near 0, against libm's double erf rounded to f32. */
START_TEST(test_erf_sweep)
{
    Graph *g = ir_graph_new("e");
    int64_t dims[1] = {200001};
    int x = g_input(g, DT_F32, 1, dims);
    int nd = g_node(g, OP_ERF, 1, &x);
    g_infer(g);
    float *xd = xmalloc((size_t)dims[0] * sizeof(float));
    for (int64_t i = 0; i < dims[0]; i++) xd[i] = i < 100000 ? -5.0f + 1e-4f * (float)i : ldexpf(1.0f, -(int)(i % 120)) * (i & 1 ? -1.3f : 1.7f);
    void *in_data[1] = {xd};
    uint64_t rng = 47;
    NativeRun r;
    run_native(lower_misc_unary, g, nd, in_data, 0, &rng, &r);
    ck_assert_int_eq(r.accepted, 1);
    double worst = 0;
    for (int64_t i = 0; i < dims[0]; i++) {
        const double want = (float)erf((double)xd[i]), err = fabs((double)((const float *)r.out)[i] - want) / fmax(fabs(want), 1e-30);
        if (err > worst) worst = err;
    }
    ck_assert_msg(worst <= 4 * EPS, "erf: worst relative error %.3g (limit %.3g)", worst, 4 * EPS);
    native_free(&r, 0);
    free(xd);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_binary)
{
    uint64_t rng = 41;
    const OpKind ops[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_PRELU, OP_MAX, OP_MIN};
    for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
        for (int rep = 0; rep < 12; rep++) {
            OpKind op = ops[oi];
            int64_t N = rndi(&rng, 1, 2), C = rndi(&rng, 1, 40), H = rndi(&rng, 1, 9), W = rndi(&rng, 1, 30);
            int64_t x4[4] = {N, C, H, W}, ch[3] = {C, 1, 1}, one[1] = {1}, row[1] = {W}, full1[4] = {1, C, H, W};
            int64_t CB = (C + 15) / 16, xb[5] = {N, CB, H, W, 16}, chb[5] = {1, CB, 1, 1, 16};
            int64_t nw[3] = {N, 1, W}, c1[3] = {1, C, 1};
            int inplace = rep % 2;
            switch (rep / 2) {
            case 0: binary_case(op, 4, x4, 4, x4, 0, inplace, &rng); break;          /* same shape */
            case 1: binary_case(op, 4, x4, 3, ch, 1, inplace, &rng); break;          /* per channel */
            case 2: binary_case(op, 5, xb, 5, chb, 1, inplace, &rng); break;         /* blocked per channel */
            case 3: binary_case(op, 4, x4, rep % 2 ? 0 : 1, one, 1, inplace, &rng); break; /* scalar */
            case 4: binary_case(op, 4, x4, 1, row, 0, inplace, &rng); break;         /* row */
            default:
                if (op == OP_PRELU) { /* PRelu's slope broadcasts to X only */
                    binary_case(op, 4, x4, 4, full1, 0, inplace, &rng);
                } else {
                    binary_case(op, 3, ch, 4, x4, 0, 0, &rng); /* A broadcast */
                    binary_case(op, 3, nw, 3, c1, 0, 0, &rng); /* both broadcast */
                }
            }
        }
}
END_TEST

/* ------------------------------------------------------------------ softmax */
START_TEST(test_softmax)
{
    uint64_t rng = 51;
    for (int it = 0; it < 48; it++) {
        Graph *g = ir_graph_new("s");
        int rank = (int)rndi(&rng, 1, 3);
        int64_t dims[3];
        for (int i = 0; i < rank; i++) dims[i] = rndi(&rng, 1, 6);
        dims[rank - 1] = it < 4 ? 1000 : rndi(&rng, 1, it % 2 ? 40 : 1100);
        OpKind op = it % 4 < 2 ? OP_SOFTMAX : OP_LOG_SOFTMAX;
        int x = g_input(g, DT_F32, rank, dims);
        int nd = g_node(g, op, 1, &x);
        if (it % 3 == 1) ir_node_set_int(g, nd, "axis", rank - 1);
        g_infer(g);
        int64_t n = shape_numel(rank, dims), L = dims[rank - 1];
        float scale = it % 5 == 0 ? 40.0f : 4.0f;
        float *xd = rand_floats(&rng, n, -scale, scale, 0);
        void *in_data[1] = {xd};
        Tensor *ref = run_ref(g, nd, in_data);
        NativeRun r;
        run_native(lower_misc_softmax, g, nd, in_data, 0, &rng, &r);
        ck_assert_int_eq(r.accepted, 1);
        /* exp within a few ulps; the sum of L/16 + 16 terms; the division */
        double rel = (double)(L / 16 + 16 + 8) * EPS;
        float *got = r.out;
        const float *want = ref->data;
        for (int64_t row = 0; row < n / L; row++) {
            double mx = -INFINITY, mn = INFINITY;
            for (int64_t k = 0; k < L; k++) mx = fmax(mx, xd[row * L + k]), mn = fmin(mn, xd[row * L + k]);
            double ls = log(0.0 + (double)L); /* bound on |log(sum)| (sum in [1, L]) */
            for (int64_t k = 0; k < L; k++) {
                int64_t i = row * L + k;
                /* x - max rounded in f32: a relative error up to EPS*|x - max| in exp(x - max),
                 * and up to EPS*(max - min) in the sum */
                double arg = EPS * (fabs(xd[i] - mx) + (mx - mn));
                double tol = op == OP_SOFTMAX ? (rel + arg) * fabs(want[i]) + 1e-44
                                              : rel + arg + 4 * EPS * (fabs(xd[i] - mx) + ls + fabs(want[i]));
                ck_assert_msg(fabs(got[i] - want[i]) <= tol, "%s L=%lld [%lld]: got %.9g want %.9g", ir_op_name(op),
                              (long long)L, (long long)i, got[i], want[i]);
            }
        }
        native_free(&r, 0);
        free(xd);
        tensor_free(ref);
        ir_graph_free(g);
    }
    /* axis other than the last: fallback */
    Graph *g = ir_graph_new("s");
    int64_t dims[2] = {3, 4};
    int x = g_input(g, DT_F32, 2, dims);
    int nd = g_node(g, OP_SOFTMAX, 1, &x);
    ir_node_set_int(g, nd, "axis", 0);
    g_infer(g);
    CgKernelCall c;
    Diag d;
    ck_assert_int_eq(lower_misc_softmax(g, &g->nodes[nd], &target, &c, &d), 0);
    ir_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ ReduceSum, ReduceMean */
START_TEST(test_reduce)
{
    uint64_t rng = 53;
    for (int it = 0; it < 40; it++) {
        Graph *g = ir_graph_new("r");
        const int rank = (int)rndi(&rng, 1, 4);
        int64_t dims[4];
        for (int i = 0; i < rank; i++) dims[i] = rndi(&rng, 1, 7);
        dims[rank - 1] = rndi(&rng, 1, it % 2 ? 40 : 400);
        const OpKind op = it % 2 ? OP_REDUCE_SUM : OP_REDUCE_MEAN;
        const int nred = (int)rndi(&rng, 1, rank); /* the last nred axes */
        int x = g_input(g, DT_F32, rank, dims);
        int nd = g_node(g, op, 1, &x);
        int64_t axes[4];
        for (int i = 0; i < nred; i++) axes[i] = it % 3 ? rank - nred + i : i - nred; /* also negative */
        if (!(it % 7 == 0 && nred == rank)) ir_node_set_ints(g, nd, "axes", axes, nred); /* none: every axis */
        ir_node_set_int(g, nd, "keepdims", it % 4 < 2);
        g_infer(g);
        const int64_t n = shape_numel(rank, dims);
        int64_t L = 1;
        for (int i = rank - nred; i < rank; i++) L *= dims[i];
        float *xd = rand_floats(&rng, n, -4, 4, 0);
        void *in_data[1] = {xd};
        Tensor *ref = run_ref(g, nd, in_data);
        NativeRun r;
        run_native(lower_misc_reduce, g, nd, in_data, 0, &rng, &r);
        ck_assert_int_eq(r.accepted, 1);
        const float *got = r.out, *want = ref->data;
        for (int64_t row = 0; row < n / L; row++) {
            double abs_sum = 0;
            for (int64_t k = 0; k < L; k++) abs_sum += fabs(xd[row * L + k]);
            /* f32 partial sums: at most L/64 + 16 + 4 roundings of running sums <= sum |x|; the
             * mean's scale 1/L rounded and the product */
            const double scale = op == OP_REDUCE_MEAN ? 1.0 / (double)L : 1.0;
            const double tol = (double)(L / 64 + 20) * EPS * abs_sum * scale + 3 * EPS * fabs(want[row]);
            ck_assert_msg(fabs(got[row] - want[row]) <= tol, "%s L=%lld row %lld: got %.9g want %.9g",
                          ir_op_name(op), (long long)L, (long long)row, got[row], want[row]);
        }
        native_free(&r, 0);
        free(xd);
        tensor_free(ref);
        ir_graph_free(g);
    }
    /* not the trailing axes, the identity (noop_with_empty_axes), ReduceMax: fallback */
    for (int k = 0; k < 3; k++) {
        Graph *g = ir_graph_new("r");
        int64_t dims[3] = {3, 4, 5}, axes[1] = {1};
        int x = g_input(g, DT_F32, 3, dims);
        int nd = g_node(g, k == 2 ? OP_REDUCE_MAX : OP_REDUCE_MEAN, 1, &x);
        if (k == 0) ir_node_set_ints(g, nd, "axes", axes, 1);
        if (k == 1) ir_node_set_int(g, nd, "noop_with_empty_axes", 1);
        g_infer(g);
        CgKernelCall c;
        Diag d;
        ck_assert_int_eq(lower_misc_reduce(g, &g->nodes[nd], &target, &c, &d), 0);
        ir_graph_free(g);
    }
}
END_TEST

/* ------------------------------------------------------------------ LayoutTransform */
START_TEST(test_layout_transform)
{
    uint64_t rng = 61;
    for (int it = 0; it < 60; it++) {
        int to_blocked = it % 2 == 0;
        int rank = it % 7 == 6 ? 3 : 4;
        int64_t N = rndi(&rng, 1, 2), C = rndi(&rng, 1, 50), H = rndi(&rng, 1, 20), W = rndi(&rng, 1, 30);
        if (it < 2) N = 1, C = 64, H = 56, W = 56;
        int64_t plain[4] = {N, C, H, W}, bd[IR_MAX_RANK];
        int rb;
        ck_assert(ir_layout_blocked_dims(rank, plain, &rb, bd) == 0);
        Graph *g = ir_graph_new("lt");
        int x = to_blocked ? g_input(g, DT_F32, rank, plain) : g_input(g, DT_F32, rb, bd);
        int nd = g_node(g, OP_LAYOUT_TRANSFORM, 1, &x);
        ir_node_set_str(g, nd, "src", to_blocked ? "NCHW" : "NCHW16c");
        ir_node_set_str(g, nd, "dst", to_blocked ? "NCHW16c" : "NCHW");
        if (!to_blocked) ir_node_set_int(g, nd, "channels", C);
        g_infer(g);
        int64_t S = shape_numel(rank - 2, plain + 2);
        float *xd;
        if (to_blocked) {
            xd = rand_floats(&rng, N * C * S, -1, 1, 0);
        } else { /* a valid blocked tensor: padded lanes zero */
            float *p = rand_floats(&rng, N * C * S, -1, 1, 0);
            xd = block(p, N, C, S);
            free(p);
        }
        void *in_data[1] = {xd};
        Tensor *ref = run_ref(g, nd, in_data);
        NativeRun r;
        run_native(lower_misc_layout, g, nd, in_data, 0, &rng, &r);
        ck_assert_int_eq(r.accepted, 1);
        check_bytes(r.out, ref->data, tensor_nbytes(ref), to_blocked ? "NCHW -> NCHW16c" : "NCHW16c -> NCHW");
        native_free(&r, 0);
        free(xd);
        tensor_free(ref);
        ir_graph_free(g);
    }
}
END_TEST

/* ------------------------------------------------------------------ Concat */
START_TEST(test_concat)
{
    uint64_t rng = 71;
    const DType types[] = {DT_F32, DT_I64, DT_U8};
    for (int it = 0; it < 60; it++) {
        DType t = types[it % 3];
        size_t es = dtype_size(t);
        int rank = (int)rndi(&rng, 1, 4), nin = (int)rndi(&rng, 1, 6);
        int axis = (int)rndi(&rng, 0, rank - 1);
        int64_t dims[4];
        for (int i = 0; i < rank; i++) dims[i] = rndi(&rng, 1, 9);
        if (it < 3) rank = 4, axis = 1, nin = 2, dims[0] = 1, dims[1] = 64, dims[2] = 55, dims[3] = 55; /* fire */
        Graph *g = ir_graph_new("c");
        int in[8];
        void *in_data[8];
        for (int k = 0; k < nin; k++) {
            int64_t d[4];
            memcpy(d, dims, sizeof d);
            d[axis] = it >= 3 ? rndi(&rng, k == 1 ? 0 : 1, 12) : dims[axis];
            in[k] = g_input(g, t, rank, d);
            size_t nbytes = (size_t)shape_numel(rank, d) * es;
            unsigned char *p = xmalloc(nbytes + 64);
            for (size_t b = 0; b < nbytes; b++) p[b] = (unsigned char)rnd(&rng);
            in_data[k] = p;
        }
        int nd = g_node(g, OP_CONCAT, nin, in);
        ir_node_set_int(g, nd, "axis", it % 2 ? axis - rank : axis);
        g_infer(g);
        Tensor *ref = run_ref(g, nd, in_data);
        NativeRun r;
        run_native(lower_misc_concat, g, nd, in_data, 0, &rng, &r);
        ck_assert_int_eq(r.accepted, 1);
        check_bytes(r.out, ref->data, tensor_nbytes(ref), "concat");
        native_free(&r, 0);
        for (int k = 0; k < nin; k++) free(in_data[k]);
        tensor_free(ref);
        ir_graph_free(g);
    }
}
END_TEST

/* ------------------------------------------------------------------ Transpose */
START_TEST(test_transpose)
{
    /* random permutations of ranks 1-5 (size-1 axes, merged axes, the last axis kept or moved,
     * dims around the 16x16 tile), ConvNeXt's NCHW <-> NHWC; bytes must equal the interpreter's */
    uint64_t rng = 89;
    const DType types[] = {DT_F32, DT_I32};
    for (int it = 0; it < 80; it++) {
        const DType t = types[it % 2];
        int rank = (int)rndi(&rng, 1, 5);
        int64_t dims[5], perm[5];
        for (int i = 0; i < rank; i++) dims[i] = rndi(&rng, 1, it % 3 ? 7 : 40), perm[i] = i;
        for (int i = rank - 1; i > 0; i--) { /* Fisher-Yates */
            const int j = (int)rndi(&rng, 0, i);
            const int64_t tmp = perm[i];
            perm[i] = perm[j], perm[j] = tmp;
        }
        if (it < 2) { /* NCHW <-> NHWC of a 96-channel 56x56 map, as ConvNeXt-T */
            rank = 4, dims[0] = 1, dims[1] = it ? 56 : 96, dims[2] = 56, dims[3] = it ? 96 : 56;
            perm[0] = 0, perm[1] = it ? 3 : 2, perm[2] = it ? 1 : 3, perm[3] = it ? 2 : 1;
        }
        Graph *g = ir_graph_new("t");
        int x = g_input(g, t, rank, dims);
        int nd = g_node(g, OP_TRANSPOSE, 1, &x);
        if (it % 5) ir_node_set_ints(g, nd, "perm", perm, rank); /* none: reversed */
        g_infer(g);
        const size_t nbytes = (size_t)shape_numel(rank, dims) * 4;
        unsigned char *xd = xmalloc(nbytes + 64);
        for (size_t b = 0; b < nbytes; b++) xd[b] = (unsigned char)rnd(&rng);
        void *in_data[1] = {xd};
        Tensor *ref = run_ref(g, nd, in_data);
        NativeRun r;
        run_native(lower_misc_transpose, g, nd, in_data, 0, &rng, &r);
        ck_assert_int_eq(r.accepted, 1);
        check_bytes(r.out, ref->data, tensor_nbytes(ref), "transpose");
        native_free(&r, 0);
        free(xd);
        tensor_free(ref);
        ir_graph_free(g);
    }
    /* 8-byte elements: fallback */
    Graph *g = ir_graph_new("t");
    int64_t dims[2] = {3, 4};
    int x = g_input(g, DT_I64, 2, dims);
    int nd = g_node(g, OP_TRANSPOSE, 1, &x);
    g_infer(g);
    CgKernelCall c;
    Diag d;
    ck_assert_int_eq(lower_misc_transpose(g, &g->nodes[nd], &target, &c, &d), 0);
    ir_graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ benchmarks */
static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* (the Check assertions only work inside tests) */
static int bench_infer(Graph *g)
{
    Diag d;
    if (!ir_infer_shapes(g, &d)) return 0;
    fprintf(stderr, "bench: shape inference: %s\n", d.msg);
    ir_graph_free(g);
    return -1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Lower node nd of g (inputs: in_data) and time its kernel over [0, n_work) in one call
 * (single thread); prints median and min wall time, the least thread CPU time (the machine may be
 * shared), and GB/s of `bytes` and GFLOP/s of `flops` when > 0. */
static void bench_node(const char *name, CgLowerFn lower, Graph *g, int nd, void *const *in_data, double bytes,
                       double flops, int reps)
{
    const Node *n = &g->nodes[nd];
    CgKernelCall call;
    Diag d;
    if (lower(g, n, &target, &call, &d) != 1) {
        printf("%-40s not lowered\n", name);
        return;
    }
    const Value *y = &g->values[n->out[0]];
    void *out = xcalloc((size_t)ir_value_numel(y) + 16, dtype_size(y->dtype));
    void *bufs[CG_MAX_BUFS];
    for (int b = 0; b < call.n_bufs; b++) {
        const CgBuf *cb = &call.bufs[b];
        bufs[b] = cb->kind == CG_BUF_NONE ? NULL
                  : cb->kind == CG_BUF_BLOB ? call.blobs[cb->blob]
                  : cb->value == n->out[0] ? out
                                            : value_data(g, n, cb->value, in_data);
    }
    RangeFn fn = range_fn(call.range_fn);
    double *t = xmalloc((size_t)reps * sizeof(double)), *tc = xmalloc((size_t)reps * sizeof(double));
    fn(call.params, bufs, 0, call.n_work); /* warm-up */
    for (int i = 0; i < reps; i++) {
        double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        fn(call.params, bufs, 0, call.n_work);
        t[i] = now_s(CLOCK_MONOTONIC) - t0;
        tc[i] = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_d);
    qsort(tc, (size_t)reps, sizeof(double), cmp_d);
    printf("%-38s median %8.3f ms  min %8.3f ms  (cpu min %8.3f ms)", name, t[reps / 2] * 1e3, t[0] * 1e3,
           tc[0] * 1e3);
    if (bytes > 0) printf("  %6.2f GB/s (median) %6.2f (min)", bytes / t[reps / 2] * 1e-9, bytes / t[0] * 1e-9);
    if (flops > 0) printf("  %6.1f GFLOP/s (min)", flops / t[0] * 1e-9);
    printf("  [%s]\n", call.note);
    free(t), free(tc);
    free(out);
    cg_call_free(&call);
}

static void bench_fc(const char *name, int64_t M, int64_t N, int64_t K, int reps, uint64_t *rng)
{
    Graph *g = ir_graph_new("fc");
    int64_t ad[2] = {M, K}, bd[2] = {N, K}, cd[1] = {N};
    float *B = rand_floats(rng, N * K, -1, 1, 0), *C = rand_floats(rng, N, -1, 1, 0), *A = rand_floats(rng, M * K, -1, 1, 0);
    int in[3] = {g_input(g, DT_F32, 2, ad), ir_const_add(g, "B", DT_F32, 2, bd, B), ir_const_add(g, "C", DT_F32, 1, cd, C)};
    free(B), free(C);
    int nd = g_node(g, OP_GEMM, 3, in);
    ir_node_set_int(g, nd, "transB", 1);
    ir_node_set_str(g, nd, "activation", "relu");
    if (bench_infer(g)) {
        free(A);
        return;
    }
    void *in_data[3] = {A, NULL, NULL};
    bench_node(name, lower_misc_gemm, g, nd, in_data, (double)(N * K + M * K + M * N) * 4, 2.0 * M * N * K, reps);
    free(A);
    ir_graph_free(g);
}

static void bench_pool(const char *name, OpKind op, int64_t C, int64_t H, int64_t k, int64_t s, int64_t p, int reps,
                       uint64_t *rng)
{
    int64_t CB = (C + 15) / 16, xd[5] = {1, CB, H, H, 16};
    Graph *g = ir_graph_new("pool");
    int x = g_input(g, DT_F32, 5, xd);
    int nd = g_node(g, op, 1, &x);
    ir_node_set_str(g, nd, "layout", "NCHW16c");
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
    int64_t oh = op == OP_GLOBAL_AVERAGE_POOL ? 1 : (H + 2 * p - k) / s + 1;
    if (op != OP_GLOBAL_AVERAGE_POOL) {
        ir_node_set_ints(g, nd, "kernel_shape", ks, 2);
        ir_node_set_ints(g, nd, "strides", st, 2);
        ir_node_set_ints(g, nd, "pads", pads, 4);
    }
    /* output type by hand (shape inference of blocked pools is not needed here) */
    Value *y = &g->values[g->nodes[nd].out[0]];
    int64_t yd[5] = {1, CB, oh, oh, 16};
    y->dtype = DT_F32, y->rank = 5;
    memcpy(y->dims, yd, sizeof yd);
    float *xdat = rand_floats(rng, CB * H * H * 16, -1, 1, 0);
    void *in_data[1] = {xdat};
    double bytes = (double)(CB * H * H * 16 + CB * oh * oh * 16) * 4;
    bench_node(name, op == OP_GLOBAL_AVERAGE_POOL ? lower_misc_global_pool : lower_misc_pool, g, nd, in_data, bytes,
               0, reps);
    free(xdat);
    ir_graph_free(g);
}

/* A plain streaming read: GlobalAveragePool over one plane of n floats (vector sums). */
static void bench_read(int64_t n, int reps, uint64_t *rng)
{
    Graph *g = ir_graph_new("read");
    int64_t xd[3] = {1, 1, n};
    int x = g_input(g, DT_F32, 3, xd);
    int nd = g_node(g, OP_GLOBAL_AVERAGE_POOL, 1, &x);
    if (bench_infer(g)) return;
    float *xdat = rand_floats(rng, n, -1, 1, 0);
    void *in_data[1] = {xdat};
    bench_node("streaming read (411 MB, vector sum)", lower_misc_global_pool, g, nd, in_data, (double)n * 4, 0, reps);
    free(xdat);
    ir_graph_free(g);
}

/* Elementwise and layout layers on a [1, C, H, H] tensor: Relu, a same-shape Add, NCHW ->
 * NCHW16c and back. */
static void bench_eltwise(int64_t C, int64_t H, int reps, uint64_t *rng)
{
    int64_t d[4] = {1, C, H, H}, n = C * H * H, bd[5] = {1, (C + 15) / 16, H, H, 16};
    float *x = rand_floats(rng, n, -1, 1, 0), *y = rand_floats(rng, n, -1, 1, 0);
    float *xb = block(x, 1, C, H * H);
    char name[96];
    for (int k = 0; k < 4; k++) {
        Graph *g = ir_graph_new("e");
        int in[2] = {g_input(g, DT_F32, k == 3 ? 5 : 4, k == 3 ? bd : d), g_input(g, DT_F32, 4, d)};
        int nd = g_node(g, k == 0 ? OP_RELU : k == 1 ? OP_ADD : OP_LAYOUT_TRANSFORM, k == 1 ? 2 : 1, in);
        if (k >= 2) {
            ir_node_set_str(g, nd, "src", k == 2 ? "NCHW" : "NCHW16c");
            ir_node_set_str(g, nd, "dst", k == 2 ? "NCHW16c" : "NCHW");
            ir_node_set_int(g, nd, "channels", C);
        }
        if (bench_infer(g)) break;
        void *in_data[2] = {k == 3 ? xb : x, y};
        static const char *what[] = {"relu", "add", "NCHW -> NCHW16c", "NCHW16c -> NCHW"};
        snprintf(name, sizeof name, "%s %lldx%lldx%lld", what[k], (long long)C, (long long)H, (long long)H);
        bench_node(name, k == 0 ? lower_misc_unary : k == 1 ? lower_misc_binary : lower_misc_layout, g, nd, in_data,
                   (double)n * 4 * (k == 1 ? 3 : 2), 0, reps);
        ir_graph_free(g);
    }
    free(x), free(y), free(xb);
}

static int run_bench(void)
{
    uint64_t rng = 99;
    printf("single thread, kernels compiled natively; GB/s = bytes of A, B, Y per run / time\n");
    bench_read(4096LL * 25088, 5, &rng);
    bench_fc("vgg16 fc6 (1x25088 -> 4096)", 1, 4096, 25088, 5, &rng);
    bench_fc("vgg16 fc7 (1x4096 -> 4096)", 1, 4096, 4096, 20, &rng);
    bench_fc("vgg16 fc8 (1x4096 -> 1000)", 1, 1000, 4096, 50, &rng);
    bench_fc("resnet18 fc (1x512 -> 1000)", 1, 1000, 512, 200, &rng);
    bench_fc("fc batch 64 (64x4096 -> 4096, panels)", 64, 4096, 4096, 5, &rng);
    bench_fc("fc batch 64 (64x4000 -> 4096, panels)", 64, 4096, 4000, 5, &rng);
    bench_pool("resnet18 maxpool 3x3 s2 (64x112x112)", OP_MAX_POOL, 64, 112, 3, 2, 1, 100, &rng);
    bench_pool("vgg16 maxpool 2x2 s2 (64x224x224)", OP_MAX_POOL, 64, 224, 2, 2, 0, 20, &rng);
    bench_pool("resnet18 global avgpool (512x7x7)", OP_GLOBAL_AVERAGE_POOL, 512, 7, 0, 0, 0, 1000, &rng);
    bench_eltwise(64, 56, 200, &rng);
    bench_eltwise(3, 224, 100, &rng);
    bench_eltwise(512, 7, 1000, &rng);
    return 0;
}

/* ------------------------------------------------------------------ main */
static Suite *misc_suite(void)
{
    Suite *s = suite_create("kernels_misc");
    TCase *tc = tcase_create("misc");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gemm_shapes);
    tcase_add_test(tc, test_gemm_activations);
    tcase_add_test(tc, test_gemm_declines);
    tcase_add_test(tc, test_gemm_skip);
    tcase_add_test(tc, test_pool_random);
    tcase_add_test(tc, test_pool_cnn_layers);
    tcase_add_test(tc, test_global_pool);
    tcase_add_test(tc, test_pool_declines);
    tcase_add_test(tc, test_unary);
    tcase_add_test(tc, test_binary);
    tcase_add_test(tc, test_pow);
    tcase_add_test(tc, test_erf_sweep);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_reduce);
    tcase_add_test(tc, test_layout_transform);
    tcase_add_test(tc, test_concat);
    tcase_add_test(tc, test_transpose);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--bench")) return run_bench();
    SRunner *sr = srunner_create(misc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
