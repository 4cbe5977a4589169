/* test_prune_pass.c — the "prune" pass around the numerical core (passes/prune_pass.c,
 * prune_data.c, prune_stats.c) and the ONNX writer behind --save-pruned (frontends/onnx/save.c).
 *
 * A tiny conv net built with the C API (a 3-channel stem conv, two prunable 3x3 convs, a
 * depthwise conv, a strided conv without bias) is pruned and checked: which layers are chosen
 * (default, --prune-first, all, lists, bad names), that the pruned weights satisfy the pattern
 * and connectivity constraints exactly, that prune_ids and prune_patterns agree with the zeros,
 * that the original names are kept (old data under "<name>.dense"), determinism (same seed:
 * byte-identical weights; another seed: different ones) and bad options. The lockstep walk is
 * checked against an independent computation: G, YXt and ||Y||^2 handed to the solve callback
 * are recomputed by naive loops from the regenerated synthetic inputs, for X from the original
 * network and for X from the network with an already-pruned layer (error correction), and a
 * caller-supplied sample source replaces the generator. Synthetic data by model inversion (the
 * default): on a tiny classifier the walk gets exactly the images invert_synthesize makes with
 * the pass's options (seen through the save hook), the --stats report has the method,
 * self-agreement and loss curve; the fallbacks (no classifier: Gaussian or BatchNorm statistics;
 * two inputs: gaussian data, or an error with --synthetic=inverted; over the default's FLOP
 * budget: gaussian) say so in one note line; low-resolution parameters render as bilinear
 * upsampling and still reach the targets; the shipped example reaches >= 95% self-agreement
 * with the pass's default inversion options. Ranges map the gaussian/uniform generator. The ONNX
 * writer is checked by a round trip (initializer and Constant-node weights replaced, the model
 * re-imported gives the same interpreter outputs) and by its errors.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/onnx/onnx_internal.h"
#include "passes/prune_pass.h"

/* ---------------------------------------------------------------- graph building */

static unsigned long long prune_rng = 4242;

static int t_input(Graph *g, const char *name, int64_t c, int64_t h, int64_t w)
{
    int64_t dims[4] = {1, c, h, w};
    int v = ir_value_add(g, name, DT_F32, 4, dims);
    ir_graph_add_input(g, v);
    return v;
}

static int t_weight(Graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = shape_numel(rank, dims);
    float *b = xmalloc((size_t)n * sizeof(float) + 4);
    for (int64_t i = 0; i < n; i++) b[i] = test_randf(&prune_rng, -0.5f, 0.5f);
    int id = ir_const_add(g, name, DT_F32, rank, dims, b);
    free(b);
    return id;
}

static int t_conv(Graph *g, const char *name, int x, int w, int b, int64_t stride, int64_t pad, int64_t group)
{
    char out[64];
    snprintf(out, sizeof out, "%s_out", name);
    int y = ir_value_add(g, out, DT_UNDEF, 0, NULL);
    int in[3] = {x, w, b};
    int node = ir_node_add(g, OP_CONV, name, b >= 0 ? 3 : 2, in, 1, &y);
    ir_node_set_ints(g, node, "kernel_shape", (const int64_t[]){3, 3}, 2);
    ir_node_set_ints(g, node, "pads", (const int64_t[]){pad, pad, pad, pad}, 4);
    ir_node_set_ints(g, node, "strides", (const int64_t[]){stride, stride}, 2);
    if (group != 1) ir_node_set_int(g, node, "group", group);
    return y;
}

static int t_relu(Graph *g, const char *name, int x)
{
    char out[64];
    snprintf(out, sizeof out, "%s_out", name);
    int y = ir_value_add(g, out, DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_RELU, name, 1, &x, 1, &y);
    return y;
}

/* x[1,3,10,10] -> c0 (stem 3->8, bias) -> relu -> c1 (8->8, bias) -> relu -> dw (depthwise)
 * -> c2 (8->6, stride 2, no pad, no bias) -> y[1,6,4,4] */
static Graph *tiny_net(void)
{
    Graph *g = ir_graph_new("tiny");
    int x = t_input(g, "x", 3, 10, 10);
    int w0 = t_weight(g, "w0", 4, (const int64_t[]){8, 3, 3, 3}), b0 = t_weight(g, "b0", 1, (const int64_t[]){8});
    int w1 = t_weight(g, "w1", 4, (const int64_t[]){8, 8, 3, 3}), b1 = t_weight(g, "b1", 1, (const int64_t[]){8});
    int wd = t_weight(g, "wd", 4, (const int64_t[]){8, 1, 3, 3});
    int w2 = t_weight(g, "w2", 4, (const int64_t[]){6, 8, 3, 3});
    int h = t_relu(g, "r0", t_conv(g, "c0", x, w0, b0, 1, 1, 1));
    h = t_relu(g, "r1", t_conv(g, "c1", h, w1, b1, 1, 1, 1));
    h = t_conv(g, "dw", h, wd, -1, 1, 1, 8);
    int y = t_conv(g, "c2", h, w2, -1, 2, 0, 1);
    ir_graph_add_output(g, y);
    Diag d;
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    return g;
}

static int node_named(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return i;
    ck_abort_msg("no node %s", name);
    return -1;
}

static const float *node_weights(const Graph *g, const char *name)
{
    return (const float *)g->values[g->nodes[node_named(g, name)].in[1]].data;
}

/* Options for the tests of the walk and the solver: the built-in gaussian generator (the
 * default, model inversion, has its own tests below). */
static void test_opts(PruneOptions *o, int samples, int iters)
{
    prune_options_default(o);
    o->samples = samples;
    o->admm_iters = iters;
    o->synthetic = PRUNE_SYNTH_GAUSSIAN;
}

static int run_pass(Graph *g, const PruneOptions *o, uint64_t seed, Diag *d)
{
    PassContext ctx;
    pass_context_init(&ctx);
    ctx.seed = seed;
    ctx.prune = o;
    return pass_prune(g, &ctx, d);
}

static int is_pruned(const Graph *g, const char *name)
{
    return ir_attr_tensor(&g->nodes[node_named(g, name)], "prune_ids") != NULL;
}

/* ---------------------------------------------------------------- constraints and metadata */

/* Every pruned conv: patterns well formed, ids consistent with the zeros, connectivity exact. */
static void check_constraints(const Graph *g, const char *name, int K, int N, double conn)
{
    const Node *n = &g->nodes[node_named(g, name)];
    int np = 0;
    const int64_t *masks = ir_attr_ints(n, "prune_patterns", &np);
    ck_assert_ptr_nonnull(masks);
    ck_assert_int_eq(np, K);
    for (int p = 0; p < K; p++) {
        ck_assert_int_eq(__builtin_popcountll((unsigned long long)masks[p]), N);
        ck_assert(masks[p] & 16);
        ck_assert_int_lt(masks[p], 512);
        for (int q = 0; q < p; q++) ck_assert_int_ne(masks[p], masks[q]);
    }
    const Tensor *ids = ir_attr_tensor(n, "prune_ids");
    const Value *wv = &g->values[n->in[1]];
    int64_t oc = wv->dims[0], ic = wv->dims[1];
    ck_assert_ptr_nonnull(ids);
    ck_assert_int_eq(ids->dtype, DT_I16);
    ck_assert_int_eq(ids->rank, 2);
    ck_assert_int_eq(ids->dims[0], oc);
    ck_assert_int_eq(ids->dims[1], ic);
    const int16_t *id = ids->data;
    const float *w = wv->data;
    int64_t removed = 0;
    for (int64_t k = 0; k < oc * ic; k++) {
        ck_assert(id[k] >= -1 && id[k] < K);
        if (id[k] < 0) removed++;
        for (int t = 0; t < 9; t++) {
            int keep = id[k] >= 0 && ((masks[id[k]] >> t) & 1);
            if (!keep) {
                uint32_t bits;
                memcpy(&bits, &w[k * 9 + t], 4);
                ck_assert_msg(bits == 0, "%s kernel %lld tap %d: %g outside its pattern", name, (long long)k, t,
                              (double)w[k * 9 + t]);
            }
        }
    }
    ck_assert_int_eq(removed, (int64_t)llround(conn * (double)(oc * ic)));
}

START_TEST(test_prune_constraints)
{
    Graph *g = tiny_net();
    PruneOptions o;
    test_opts(&o, 3, 8);
    o.patterns = 4;
    o.connectivity = 0.5;
    PruneResult res;
    memset(&res, 0, sizeof res);
    o.result = &res;
    Diag d;
    ck_assert_msg(run_pass(g, &o, 7, &d) == 0, "%s", d.msg);
    /* default selection: c1 and c2; not the stem (3-channel graph input) nor the depthwise conv */
    ck_assert(!is_pruned(g, "c0"));
    ck_assert(is_pruned(g, "c1"));
    ck_assert(!is_pruned(g, "dw"));
    ck_assert(is_pruned(g, "c2"));
    check_constraints(g, "c1", 4, 4, 0.5);
    check_constraints(g, "c2", 4, 4, 0.5);
    /* names kept; the dense data is still there under <name>.dense */
    ck_assert_str_eq(g->values[g->nodes[node_named(g, "c1")].in[1]].name, "w1");
    ck_assert_str_eq(g->values[g->nodes[node_named(g, "c1")].in[2]].name, "b1");
    ck_assert_str_eq(g->values[g->nodes[node_named(g, "c2")].in[1]].name, "w2");
    ck_assert_int_ge(ir_value_find(g, "w1.dense"), 0);
    ck_assert_int_ge(ir_value_find(g, "b1.dense"), 0);
    /* the result: two layers, the replaced constants (c1: weight and refit bias; c2: weight) */
    ck_assert_int_eq(res.n_layers, 2);
    ck_assert_int_eq(res.lib.k, 4);
    ck_assert_int_eq(res.n_changed, 3);
    ck_assert_str_eq(res.changed[0].name, "w1");
    ck_assert_str_eq(res.changed[1].name, "b1");
    ck_assert_str_eq(res.changed[2].name, "w2");
    ck_assert_int_eq(memcmp(res.changed[0].t->data, node_weights(g, "c1"), 8 * 8 * 9 * sizeof(float)), 0);
    int64_t hist = 0;
    for (int p = 0; p < 4; p++) hist += res.layers[0].hist[p];
    ck_assert_int_eq(hist, res.layers[0].kept);
    ck_assert_int_eq(res.layers[0].kept, 32);
    ck_assert(res.layers[0].bias_refit && !res.layers[1].bias_refit);
    ck_assert(res.layers[0].has_data);
    /* the library is data-free: the K most frequent top-4 masks of c1's and c2's kernels */
    PatternCounts pc;
    prune_pattern_counts_init(&pc, 4);
    prune_pattern_count(&pc, (const float *)g->values[ir_value_find(g, "w1.dense")].data, 64);
    prune_pattern_count(&pc, (const float *)g->values[ir_value_find(g, "w2.dense")].data, 48);
    PatternLib lib;
    prune_pattern_library(&pc, 4, &lib);
    for (int p = 0; p < 4; p++) ck_assert_int_eq(res.lib.mask[p], lib.mask[p]);
    /* the graph is still valid, runs, and prints/parses with the metadata */
    ck_assert_msg(ir_verify(g, &d) == 0, "%s", d.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print(g, f, 0);
    fclose(f);
    Graph *back = ir_parse(buf, &d);
    ck_assert_msg(back != NULL, "%s", d.msg);
    const Tensor *ids2 = ir_attr_tensor(&back->nodes[node_named(back, "c1")], "prune_ids");
    ck_assert_ptr_nonnull(ids2);
    ck_assert_int_eq(memcmp(ids2->data, ir_attr_tensor(&g->nodes[node_named(g, "c1")], "prune_ids")->data, 64 * 2), 0);
    free(buf);
    /* dumps summarise the large ids tensor like a constant */
    buf = NULL;
    f = open_memstream(&buf, &len);
    ir_print(g, f, IR_PRINT_ELIDE);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "prune_ids=i16[8,8] <64 values"));
    free(buf);
    ir_graph_free(back);
    prune_result_clear(&res);
    ir_graph_free(g);
}
END_TEST

/* --admm-iters 0 --no-refit is plain magnitude projection of the original weights, no data. */
START_TEST(test_prune_magnitude)
{
    Graph *g = tiny_net();
    Graph *orig = ir_graph_clone(g);
    PruneOptions o;
    test_opts(&o, 2, 0);
    o.refit = 0;
    o.connectivity = 0.25;
    o.layers = "all";
    PruneResult res;
    memset(&res, 0, sizeof res);
    o.result = &res;
    Diag d;
    ck_assert_msg(run_pass(g, &o, 1, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(res.samples, 0);
    ck_assert_int_eq(res.n_layers, 3);
    ck_assert(!res.layers[0].has_data);
    const char *names[3] = {"c0", "c1", "c2"};
    for (int l = 0; l < 3; l++) {
        const Value *wv = &orig->values[orig->nodes[node_named(orig, names[l])].in[1]];
        int64_t oc = wv->dims[0], ic = wv->dims[1], n = ic * 9;
        double *V = xmalloc((size_t)(oc * n) * sizeof(double)), *Z = xmalloc((size_t)(oc * n) * sizeof(double));
        int16_t *ids = xmalloc((size_t)(oc * ic) * sizeof(int16_t));
        for (int64_t k = 0; k < oc * n; k++) V[k] = ((const float *)wv->data)[k];
        prune_project(V, oc, ic, n, &res.lib, 0.25, Z, ids);
        const float *w = node_weights(g, names[l]);
        for (int64_t k = 0; k < oc * n; k++) ck_assert_float_eq(w[k], (float)Z[k]);
        ck_assert_int_eq(memcmp(ids, ir_attr_tensor(&g->nodes[node_named(g, names[l])], "prune_ids")->data,
                                (size_t)(oc * ic) * 2), 0);
        free(V), free(Z), free(ids);
        check_constraints(g, names[l], 8, 4, 0.25);
    }
    /* biases untouched without refit */
    ck_assert_str_eq(g->values[g->nodes[node_named(g, "c0")].in[2]].name, "b0");
    ck_assert_int_lt(ir_value_find(g, "b0.dense"), 0);
    prune_result_clear(&res);
    ir_graph_free(orig);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_prune_selection)
{
    Diag d;
    struct {
        const char *layers;
        int first;
        int c0, c1, c2;
    } cases[] = {
        {NULL, 0, 0, 1, 1}, {NULL, 1, 1, 1, 1}, {"all", 0, 1, 1, 1}, {"c2", 0, 0, 0, 1}, {"w1", 0, 0, 1, 0},
        {"c0,w2", 0, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Graph *g = tiny_net();
        PruneOptions o;
        test_opts(&o, 2, 0);
        o.refit = 0;
        o.layers = cases[i].layers;
        o.prune_first = cases[i].first;
        ck_assert_msg(run_pass(g, &o, 1, &d) == 0, "%s", d.msg);
        ck_assert_int_eq(is_pruned(g, "c0"), cases[i].c0);
        ck_assert_int_eq(is_pruned(g, "c1"), cases[i].c1);
        ck_assert_int_eq(is_pruned(g, "c2"), cases[i].c2);
        ck_assert(!is_pruned(g, "dw"));
        ir_graph_free(g);
    }
    /* bad lists */
    const char *bad[] = {"nope", "dw", "c1,nope"};
    const char *want[] = {"no Conv node or Conv weight is named 'nope'", "Conv 'dw' cannot be pruned",
                          "no Conv node or Conv weight is named 'nope'"};
    for (int i = 0; i < 3; i++) {
        Graph *g = tiny_net();
        PruneOptions o;
        test_opts(&o, 2, 0);
        o.layers = bad[i];
        ck_assert_int_eq(run_pass(g, &o, 1, &d), -1);
        ck_assert_msg(strstr(d.msg, want[i]) != NULL, "%s", d.msg);
        ck_assert(!is_pruned(g, "c1"));
        ir_graph_free(g);
    }
    /* a weight shared by two convs is never pruned (its other user would change too) */
    Graph *g = ir_graph_new("shared");
    int x = t_input(g, "x", 4, 6, 6);
    int w = t_weight(g, "w", 4, (const int64_t[]){4, 4, 3, 3});
    int y = t_conv(g, "a", t_conv(g, "b", x, w, -1, 1, 1, 1), w, -1, 1, 1, 1);
    ir_graph_add_output(g, y);
    ck_assert(ir_infer_shapes(g, &d) == 0);
    ck_assert(!prune_conv_eligible(g, 0) && !prune_conv_eligible(g, 1));
    ir_graph_free(g);
}
END_TEST

START_TEST(test_prune_bad_options)
{
    Diag d;
    PruneOptions o;
    prune_options_default(&o);
    ck_assert_int_eq(prune_options_check(&o, &d), 0);
#define EXPECT_BAD(field, value, want)                                  \
    do {                                                                \
        prune_options_default(&o);                                      \
        o.field = value;                                                \
        ck_assert_int_eq(prune_options_check(&o, &d), -1);              \
        ck_assert_msg(strstr(d.msg, want) != NULL, "%s", d.msg);        \
    } while (0)
    EXPECT_BAD(patterns, 0, "--patterns");
    EXPECT_BAD(patterns, 57, "--patterns");
    EXPECT_BAD(pattern_size, 0, "--pattern-size");
    EXPECT_BAD(pattern_size, 10, "--pattern-size");
    EXPECT_BAD(connectivity, 1.0, "--connectivity");
    EXPECT_BAD(connectivity, -0.01, "--connectivity");
    EXPECT_BAD(connectivity, NAN, "--connectivity");
    EXPECT_BAD(admm_iters, -1, "--admm-iters");
    EXPECT_BAD(admm_rho, 0.0, "--admm-rho");
    EXPECT_BAD(samples, -1, "--synthetic-samples");
    EXPECT_BAD(samples, 4097, "--synthetic-samples");
    EXPECT_BAD(synthetic, (PruneSynthetic)7, "--synthetic");
    EXPECT_BAD(inv_steps, -1, "--inversion-steps");
    EXPECT_BAD(inv_lr, 0.0, "--inversion-lr");
    EXPECT_BAD(inv_lr, NAN, "--inversion-lr");
    EXPECT_BAD(inv_tv, -1.0, "--inversion-tv");
    EXPECT_BAD(inv_l2, INFINITY, "--inversion-l2");
    EXPECT_BAD(inv_l1, -0.5, "--inversion-l1");
    EXPECT_BAD(inv_coverage, -0.1, "--inversion-coverage");
    EXPECT_BAD(inv_resolution, 0.0, "--inversion-resolution");
    EXPECT_BAD(inv_resolution, 1.5, "--inversion-resolution");
    EXPECT_BAD(inv_jitter, -1, "--inversion-jitter");
    prune_options_default(&o);
    o.has_range = 1, o.range_lo = 1, o.range_hi = 1;
    ck_assert_int_eq(prune_options_check(&o, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "--synthetic-range"));
    o.range_lo = 0;
    ck_assert_int_eq(prune_options_check(&o, &d), 0);
    o.samples = 0; /* 0: the default for the kind of data */
    ck_assert_int_eq(prune_options_check(&o, &d), 0);
    EXPECT_BAD(layers, "", "--prune-layers");
    /* K is bounded by the number of candidates C(8, N-1): 8 for N=2, 1 for N=9 */
    prune_options_default(&o);
    o.pattern_size = 2;
    o.patterns = 8;
    ck_assert_int_eq(prune_options_check(&o, &d), 0);
    o.patterns = 9;
    ck_assert_int_eq(prune_options_check(&o, &d), -1);
    o.pattern_size = 9;
    o.patterns = 1;
    ck_assert_int_eq(prune_options_check(&o, &d), 0);
    /* the pass refuses them too and leaves the graph alone */
    Graph *g = tiny_net();
    prune_options_default(&o);
    o.connectivity = 1.5;
    ck_assert_int_eq(run_pass(g, &o, 1, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "--connectivity"));
    ck_assert(!is_pruned(g, "c1"));
    ck_assert_int_lt(ir_value_find(g, "w1.dense"), 0);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- determinism */

static void prune_copy(const Graph *src, uint64_t seed, PruneSource source, float **w1, float **w2, float **b1)
{
    Graph *g = ir_graph_clone(src);
    PruneOptions o;
    test_opts(&o, 3, 5);
    o.connectivity = 0.3;
    o.source = source;
    Diag d;
    ck_assert_msg(run_pass(g, &o, seed, &d) == 0, "%s", d.msg);
    *w1 = xmalloc(8 * 8 * 9 * sizeof(float));
    *w2 = xmalloc(6 * 8 * 9 * sizeof(float));
    *b1 = xmalloc(8 * sizeof(float));
    memcpy(*w1, node_weights(g, "c1"), 8 * 8 * 9 * sizeof(float));
    memcpy(*w2, node_weights(g, "c2"), 6 * 8 * 9 * sizeof(float));
    memcpy(*b1, g->values[g->nodes[node_named(g, "c1")].in[2]].data, 8 * sizeof(float));
    ir_graph_free(g);
}

START_TEST(test_prune_determinism)
{
    Graph *g = tiny_net();
    for (int src = 0; src < 2; src++) {
        float *a1, *a2, *ab, *c1, *c2, *cb, *e1, *e2, *eb;
        prune_copy(g, 11, (PruneSource)src, &a1, &a2, &ab);
        prune_copy(g, 11, (PruneSource)src, &c1, &c2, &cb);
        prune_copy(g, 12, (PruneSource)src, &e1, &e2, &eb);
        ck_assert_int_eq(memcmp(a1, c1, 8 * 8 * 9 * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(a2, c2, 6 * 8 * 9 * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(ab, cb, 8 * sizeof(float)), 0);
        /* the seed matters: other synthetic data give other refit weights */
        ck_assert(memcmp(a1, e1, 8 * 8 * 9 * sizeof(float)) || memcmp(a2, e2, 6 * 8 * 9 * sizeof(float)) ||
                  memcmp(ab, eb, 8 * sizeof(float)));
        free(a1), free(a2), free(ab), free(c1), free(c2), free(cb), free(e1), free(e2), free(eb);
    }
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- synthetic data */

START_TEST(test_prune_synthetic)
{
    int64_t dims[1] = {200000};
    Tensor *t = tensor_new(DT_F32, 1, dims), *u = tensor_new(DT_F32, 1, dims);
    uint64_t s1 = prune_synthetic_state(5, 0, 0), s2 = prune_synthetic_state(5, 0, 0);
    ck_assert(s1 == s2);
    ck_assert(prune_synthetic_state(5, 1, 0) != s1 && prune_synthetic_state(5, 0, 1) != s1 &&
              prune_synthetic_state(6, 0, 0) != s1);
    prune_synthetic_fill(t, PRUNE_SYNTH_GAUSSIAN, &s1);
    prune_synthetic_fill(u, PRUNE_SYNTH_GAUSSIAN, &s2);
    ck_assert_int_eq(memcmp(t->data, u->data, tensor_nbytes(t)), 0);
    double m = 0, v = 0, m4 = 0;
    const float *x = t->data;
    for (int64_t i = 0; i < dims[0]; i++) m += x[i];
    m /= (double)dims[0];
    for (int64_t i = 0; i < dims[0]; i++) v += (x[i] - m) * (x[i] - m), m4 += pow(x[i] - m, 4);
    v /= (double)dims[0];
    m4 /= (double)dims[0];
    ck_assert_msg(fabs(m) < 0.01 && fabs(v - 1.0) < 0.02 && fabs(m4 / (v * v) - 3.0) < 0.1, "mean %g var %g kurt %g", m,
                  v, m4 / (v * v));
    uint64_t s3 = prune_synthetic_state(5, 0, 0);
    prune_synthetic_fill(u, PRUNE_SYNTH_UNIFORM, &s3);
    const float *y = u->data;
    double mu = 0, lo = 1, hi = 0;
    for (int64_t i = 0; i < dims[0]; i++) {
        ck_assert(y[i] >= 0.0f && y[i] < 1.0f);
        mu += y[i];
        lo = fmin(lo, y[i]), hi = fmax(hi, y[i]);
    }
    mu /= (double)dims[0];
    ck_assert_msg(fabs(mu - 0.5) < 0.005 && lo < 1e-4 && hi > 1 - 1e-4, "mean %g", mu);
    tensor_free(t), tensor_free(u);
}
END_TEST

/* ---------------------------------------------------------------- the lockstep walk, independently */

/* Plain 3x3 conv of one image in double: x [IC,H,W] -> out [OC,OH,OW] (pre-bias if b NULL). */
static void ref_conv(const float *x, int64_t IC, int64_t H, int64_t W, const float *w, int64_t OC, int64_t stride,
                     int64_t pad, int64_t OH, int64_t OW, double *out)
{
    for (int64_t o = 0; o < OC; o++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                double s = 0;
                for (int64_t c = 0; c < IC; c++)
                    for (int64_t kh = 0; kh < 3; kh++)
                        for (int64_t kw = 0; kw < 3; kw++) {
                            int64_t ih = oh * stride + kh - pad, iw = ow * stride + kw - pad;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                s += (double)w[((o * IC + c) * 3 + kh) * 3 + kw] * (double)x[(c * H + ih) * W + iw];
                        }
                out[(o * OH + oh) * OW + ow] = s;
            }
}

/* Column p of the unfolded input (rows c*9+kh*3+kw, then a 1 if ones). */
static void ref_col(const float *x, int64_t IC, int64_t H, int64_t W, int64_t stride, int64_t pad, int64_t OW,
                    int64_t p, int ones, double *col)
{
    int64_t oh = p / OW, ow = p % OW;
    for (int64_t c = 0; c < IC; c++)
        for (int64_t kh = 0; kh < 3; kh++)
            for (int64_t kw = 0; kw < 3; kw++) {
                int64_t ih = oh * stride + kh - pad, iw = ow * stride + kw - pad;
                col[c * 9 + kh * 3 + kw] = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[(c * H + ih) * W + iw] : 0.0;
            }
    if (ones) col[IC * 9] = 1.0;
}

typedef struct WalkCheck {
    uint64_t seed;
    int samples;
    PruneSynthetic kind;
    float *w0_orig, *b0_orig, *w0_new; /* c0's weights before/after its "pruning" */
    int x_original;                     /* c1's X must come from the original network */
    int calls;
} WalkCheck;

static double rel_diff(const double *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    return sqrt(num / (den > 0 ? den : 1));
}

/* Replace the node's weight by `data` (a stand-in for a real solve). */
static void set_weight(Graph *g, int node, const float *data)
{
    int old = g->nodes[node].in[1];
    int64_t dims[4];
    memcpy(dims, g->values[old].dims, sizeof dims);
    int nv = ir_const_add(g, "new_w", DT_F32, 4, dims, data);
    int in[3];
    memcpy(in, g->nodes[node].in, (size_t)g->nodes[node].n_in * sizeof(int));
    in[1] = nv;
    ir_node_set_inputs(g, node, g->nodes[node].n_in, in);
}

/* Solve callback of the walk test: at c0 (reads the graph input), check G and YXt against the
 * regenerated inputs and halve the weights; at c1, check that X comes from the network with the
 * halved c0 (PRUNED source) while Y is the original c1 output. */
static int check_solve(void *vctx, Graph *g, int node, const PruneLayerData *ld, Diag *d)
{
    WalkCheck *c = vctx;
    c->calls++;
    int64_t n = ld->n, oc = ld->oc;
    double *G = xcalloc((size_t)(n * n), sizeof(double)), *YXt = xcalloc((size_t)(oc * n), sizeof(double));
    double yy = 0, *col = xmalloc((size_t)n * sizeof(double));
    double *h0o = xmalloc(8 * 100 * sizeof(double)), *h0p = xmalloc(8 * 100 * sizeof(double));
    double *y = xmalloc(8 * 100 * sizeof(double));
    float *a0o = xmalloc(8 * 100 * sizeof(float)), *a0p = xmalloc(8 * 100 * sizeof(float));
    const Node *nd = &g->nodes[node];
    int64_t dims[4] = {1, 3, 10, 10};
    Tensor *x = tensor_new(DT_F32, 4, dims);
    for (int s = 0; s < c->samples; s++) {
        uint64_t st = prune_synthetic_state(c->seed, s, 0);
        prune_synthetic_fill(x, c->kind, &st);
        const float *xd = x->data;
        if (!strcmp(nd->name, "c0")) {
            ck_assert_int_eq(n, 3 * 9 + 1);
            ref_conv(xd, 3, 10, 10, c->w0_orig, 8, 1, 1, 10, 10, y);
            for (int64_t p = 0; p < 100; p++) {
                ref_col(xd, 3, 10, 10, 1, 1, 10, p, 1, col);
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < n; j++) G[i * n + j] += col[i] * col[j];
                for (int64_t o = 0; o < oc; o++) {
                    for (int64_t j = 0; j < n; j++) YXt[o * n + j] += y[o * 100 + p] * col[j];
                    yy += y[o * 100 + p] * y[o * 100 + p];
                }
            }
        } else {
            ck_assert_str_eq(nd->name, "c1");
            ck_assert_int_eq(n, 8 * 9 + 1);
            /* layer c0 (then relu) in the original and in the pruned network, rounded to f32 */
            ref_conv(xd, 3, 10, 10, c->w0_orig, 8, 1, 1, 10, 10, h0o);
            ref_conv(xd, 3, 10, 10, c->x_original ? c->w0_orig : c->w0_new, 8, 1, 1, 10, 10, h0p);
            for (int64_t k = 0; k < 800; k++) {
                float vo = (float)(h0o[k] + c->b0_orig[k / 100]), vp = (float)(h0p[k] + c->b0_orig[k / 100]);
                a0o[k] = vo > 0 ? vo : 0;
                a0p[k] = vp > 0 ? vp : 0;
            }
            const float *w1 = (const float *)g->values[nd->in[1]].data;
            ref_conv(a0o, 8, 10, 10, w1, 8, 1, 1, 10, 10, y);
            for (int64_t p = 0; p < 100; p++) {
                ref_col(a0p, 8, 10, 10, 1, 1, 10, p, 1, col);
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < n; j++) G[i * n + j] += col[i] * col[j];
                for (int64_t o = 0; o < oc; o++) {
                    for (int64_t j = 0; j < n; j++) YXt[o * n + j] += y[o * 100 + p] * col[j];
                    yy += y[o * 100 + p] * y[o * 100 + p];
                }
            }
        }
    }
    ck_assert_msg(rel_diff(ld->G, G, n * n) < 1e-12, "%s: G differs by %g", nd->name, rel_diff(ld->G, G, n * n));
    ck_assert_msg(rel_diff(ld->YXt, YXt, oc * n) < 1e-12, "%s: YXt differs by %g", nd->name,
                  rel_diff(ld->YXt, YXt, oc * n));
    ck_assert_msg(fabs(ld->yy - yy) <= 1e-12 * yy, "%s: ||Y||^2 %g, expected %g", nd->name, ld->yy, yy);
    ck_assert(ld->bias_col);
    /* W0: the node's weights, bias column 0 */
    const float *w = (const float *)g->values[nd->in[1]].data;
    for (int64_t o = 0; o < oc; o++) {
        for (int64_t j = 0; j + 1 < n; j++) ck_assert(ld->W0[o * n + j] == (double)w[o * (n - 1) + j]);
        ck_assert(ld->W0[o * n + n - 1] == 0.0);
    }
    if (!strcmp(nd->name, "c0")) set_weight(g, node, c->w0_new);
    tensor_free(x);
    free(G), free(YXt), free(col), free(h0o), free(h0p), free(y), free(a0o), free(a0p);
    (void)d;
    return 0;
}

START_TEST(test_prune_walk)
{
    for (int kind = 0; kind < 2; kind++) {
        Graph *g = tiny_net();
        WalkCheck c;
        memset(&c, 0, sizeof c);
        c.seed = 99;
        c.samples = 3;
        c.kind = (PruneSynthetic)kind;
        int c0 = node_named(g, "c0");
        c.w0_orig = xmalloc(8 * 27 * sizeof(float));
        c.w0_new = xmalloc(8 * 27 * sizeof(float));
        c.b0_orig = xmalloc(8 * sizeof(float));
        memcpy(c.w0_orig, node_weights(g, "c0"), 8 * 27 * sizeof(float));
        memcpy(c.b0_orig, g->values[g->nodes[c0].in[2]].data, 8 * sizeof(float));
        for (int k = 0; k < 8 * 27; k++) c.w0_new[k] = k % 3 ? 0.5f * c.w0_orig[k] : 0.0f;
        char *sel = xcalloc((size_t)g->n_nodes, 1);
        sel[c0] = sel[node_named(g, "c1")] = 1;
        PruneOptions o;
        test_opts(&o, 3, 5);
        o.synthetic = c.kind;
        o.source = PRUNE_SOURCE_PRUNED;
        double fwd = -1;
        Diag d;
        ck_assert_msg(prune_data_run(g, sel, &o, 99, check_solve, &c, &fwd, &d) == 0, "%s", d.msg);
        ck_assert_int_eq(c.calls, 2);
        ck_assert(fwd >= 0);
        free(sel), free(c.w0_orig), free(c.w0_new), free(c.b0_orig);
        ir_graph_free(g);
    }
}
END_TEST

/* With --synthetic-source=original, c1's X is the original network's although c0 was changed. */
START_TEST(test_prune_walk_original)
{
    Graph *g = tiny_net();
    WalkCheck c;
    memset(&c, 0, sizeof c);
    c.seed = 5;
    c.samples = 2;
    c.kind = PRUNE_SYNTH_GAUSSIAN;
    int c0 = node_named(g, "c0");
    c.w0_orig = xmalloc(8 * 27 * sizeof(float));
    c.w0_new = xmalloc(8 * 27 * sizeof(float));
    c.b0_orig = xmalloc(8 * sizeof(float));
    memcpy(c.w0_orig, node_weights(g, "c0"), 8 * 27 * sizeof(float));
    memcpy(c.b0_orig, g->values[g->nodes[c0].in[2]].data, 8 * sizeof(float));
    for (int k = 0; k < 8 * 27; k++) c.w0_new[k] = 0.25f * c.w0_orig[k];
    c.x_original = 1;
    char *sel = xcalloc((size_t)g->n_nodes, 1);
    sel[c0] = sel[node_named(g, "c1")] = 1;
    PruneOptions o;
    test_opts(&o, 2, 5);
    o.source = PRUNE_SOURCE_ORIGINAL;
    double fwd;
    Diag d;
    ck_assert_msg(prune_data_run(g, sel, &o, 5, check_solve, &c, &fwd, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(c.calls, 2);
    free(sel), free(c.w0_orig), free(c.w0_new), free(c.b0_orig);
    ir_graph_free(g);
}
END_TEST

/* A caller-supplied sample source (PruneOptions.sample_fn) replaces the built-in generator. */
static int const_samples(void *ctx, const Graph *g, int sample, int input, Tensor *t, Diag *d)
{
    int *calls = ctx;
    (*calls)++;
    if (sample == 99) return diag_error(d, "sample source failed");
    for (int64_t i = 0; i < tensor_numel(t); i++) tensor_set_f64(t, i, sample + 1.0);
    return 0;
}

static int check_const_solve(void *ctx, Graph *g, int node, const PruneLayerData *ld, Diag *d)
{
    /* c0 reads the input directly: tap (0,0) of channel 0 is valid at 9x9 of the 10x10
     * positions (pad 1), and sample s holds s+1 everywhere */
    ck_assert_str_eq(g->nodes[node].name, "c0");
    ck_assert(ld->G[0] == (1.0 + 4.0 + 9.0) * 81.0);
    ck_assert(ld->G[(ld->n - 1) * ld->n + ld->n - 1] == 3.0 * 100.0); /* the ones row */
    (*(int *)ctx)++;
    return 0;
}

START_TEST(test_prune_sample_fn)
{
    Graph *g = tiny_net();
    char *sel = xcalloc((size_t)g->n_nodes, 1);
    sel[node_named(g, "c0")] = 1;
    PruneOptions o;
    test_opts(&o, 3, 5);
    int calls = 0, solves = 0;
    o.sample_fn = const_samples;
    o.sample_ctx = &calls;
    double fwd;
    Diag d;
    ck_assert_msg(prune_data_run(g, sel, &o, 1, check_const_solve, &solves, &fwd, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(solves, 1);
    o.samples = 100; /* sample 99 fails: the walk stops with its error */
    ck_assert_int_eq(prune_data_run(g, sel, &o, 1, check_const_solve, &solves, &fwd, &d), -1);
    ck_assert_str_eq(d.msg, "sample source failed");
    ck_assert_int_eq(solves, 1);
    free(sel);
    ir_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- ranges and model inversion */

/* --synthetic-range maps the built-in generator: uniform onto [lo, hi), gaussian to
 * mid + (hi - lo)/4 z clamped into [lo, hi]. */
START_TEST(test_prune_synthetic_range)
{
    int64_t dims[1] = {100000};
    Tensor *t = tensor_new(DT_F32, 1, dims), *raw = tensor_new(DT_F32, 1, dims);
    PruneOptions o;
    prune_options_default(&o);
    o.has_range = 1, o.range_lo = -2, o.range_hi = 3;
    for (int kind = 0; kind < 2; kind++) {
        o.synthetic = (PruneSynthetic)kind;
        prune_synthetic_sample(&o, 9, 4, 1, t);
        uint64_t st = prune_synthetic_state(9, 4, 1);
        prune_synthetic_fill(raw, (PruneSynthetic)kind, &st);
        double mean = 0;
        int clamped = 0;
        for (int64_t i = 0; i < dims[0]; i++) {
            double v = ((const float *)t->data)[i], r = ((const float *)raw->data)[i];
            ck_assert(v >= -2 && v <= 3);
            double want = kind == PRUNE_SYNTH_UNIFORM ? -2 + 5 * r : fmin(3, fmax(-2, 0.5 + 1.25 * r));
            ck_assert_msg(fabs(v - want) <= 1e-6 * (1 + fabs(want)), "%g vs %g", v, want);
            clamped += v == -2 || v == 3;
            mean += v;
        }
        mean /= (double)dims[0];
        ck_assert_msg(fabs(mean - 0.5) < 0.02, "mean %g", mean);
        if (kind == PRUNE_SYNTH_GAUSSIAN) /* 2 sigma: about 4.6% clamped */
            ck_assert_msg(clamped > dims[0] / 50 && clamped < dims[0] / 15, "%d clamped", clamped);
    }
    /* the inverted kind falls back to the gaussian generator here (the pass inverts first) */
    o.synthetic = PRUNE_SYNTH_INVERTED;
    prune_synthetic_sample(&o, 9, 4, 1, raw);
    o.synthetic = PRUNE_SYNTH_GAUSSIAN;
    prune_synthetic_sample(&o, 9, 4, 1, t);
    ck_assert_int_eq(memcmp(t->data, raw->data, tensor_nbytes(t)), 0);
    tensor_free(t), tensor_free(raw);
}
END_TEST

/* x[1,1,12,12] -> c0 (1->4, stem) -> relu -> c1 (4->6) -> relu -> GAP -> flatten -> Gemm (6->3)
 * -> logits[1,3]; bn: a BatchNormalization between c1 and its relu; logits: keep the classifier
 * head (else the graph ends at the GAP). */
static Graph *cls_net(int bn, int logits)
{
    Graph *g = ir_graph_new("cls");
    int x = t_input(g, "x", 1, 12, 12);
    int w0 = t_weight(g, "w0", 4, (const int64_t[]){4, 1, 3, 3}), b0 = t_weight(g, "b0", 1, (const int64_t[]){4});
    int w1 = t_weight(g, "w1", 4, (const int64_t[]){6, 4, 3, 3}), b1 = t_weight(g, "b1", 1, (const int64_t[]){6});
    int h = t_relu(g, "r0", t_conv(g, "c0", x, w0, b0, 1, 1, 1));
    h = t_conv(g, "c1", h, w1, b1, 1, 1, 1);
    if (bn) {
        const char *nm[4] = {"bn_s", "bn_b", "bn_m", "bn_v"};
        int in[5] = {h};
        for (int k = 0; k < 4; k++) {
            float v[6];
            for (int c = 0; c < 6; c++) v[c] = k == 3 ? 0.5f + 0.1f * (float)c : test_randf(&prune_rng, -0.5f, 0.5f);
            in[k + 1] = ir_const_add(g, nm[k], DT_F32, 1, (const int64_t[]){6}, v);
        }
        int y = ir_value_add(g, "bn_out", DT_UNDEF, 0, NULL);
        int nb = ir_node_add(g, OP_BATCH_NORM, "bn", 5, in, 1, &y);
        ir_node_set_float(g, nb, "epsilon", 1e-5);
        h = y;
    }
    h = t_relu(g, "r1", h);
    int p = ir_value_add(g, "gap", DT_UNDEF, 0, NULL);
    ir_node_add(g, OP_GLOBAL_AVERAGE_POOL, "gap", 1, &h, 1, &p);
    if (logits) {
        int f = ir_value_add(g, "flat", DT_UNDEF, 0, NULL);
        ir_node_set_int(g, ir_node_add(g, OP_FLATTEN, "flatten", 1, &p, 1, &f), "axis", 1);
        int wf = t_weight(g, "wf", 2, (const int64_t[]){3, 6}), bf = t_weight(g, "bf", 1, (const int64_t[]){3});
        int z = ir_value_add(g, "logits", DT_UNDEF, 0, NULL);
        int gin[3] = {f, wf, bf};
        ir_node_set_int(g, ir_node_add(g, OP_GEMM, "fc", 3, gin, 1, &z), "transB", 1);
        p = z;
    }
    ir_graph_add_output(g, p);
    Diag d;
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    return g;
}

/* PruneSaveFn that keeps copies of the samples. */
typedef struct Saved {
    int calls, n;
    Tensor **t;
} Saved;

static int keep_samples(void *ctx, const Graph *g, int input, Tensor *const *samples, int n, Diag *d)
{
    Saved *sv = ctx;
    sv->calls++;
    ck_assert_int_eq(input, 0);
    sv->n = n;
    sv->t = xcalloc((size_t)n, sizeof(Tensor *));
    for (int s = 0; s < n; s++) sv->t[s] = tensor_clone(samples[s]);
    return 0;
}

static void saved_free(Saved *sv)
{
    for (int s = 0; s < sv->n; s++) tensor_free(sv->t[s]);
    free(sv->t);
    memset(sv, 0, sizeof *sv);
}

/* Inversion options as the pass derives them from PruneOptions (prune_data_invert). */
static void invert_opts_of(const PruneOptions *o, uint64_t seed, InvertOptions *io)
{
    invert_options_default(io);
    io->samples = o->samples;
    io->steps = o->inv_steps;
    io->lr = o->inv_lr;
    io->tv_weight = o->inv_tv;
    io->l2_weight = o->inv_l2;
    io->l1_weight = o->inv_l1;
    io->resolution = o->inv_resolution;
    io->jitter = o->inv_jitter;
    io->coverage = o->inv_coverage;
    io->coverage_greedy = o->inv_coverage_greedy;
    io->seed = seed;
    io->has_range = o->has_range;
    io->range_lo = o->range_lo;
    io->range_hi = o->range_hi;
}

/* The default: the walk runs on the images model inversion makes from the unpruned graph. */
START_TEST(test_prune_inverted)
{
    Graph *g = cls_net(0, 1);
    Graph *orig = ir_graph_clone(g);
    PruneOptions o;
    prune_options_default(&o);
    ck_assert_int_eq(o.synthetic, PRUNE_SYNTH_INVERTED);
    o.samples = 6;
    o.inv_steps = 30;
    o.has_range = 1, o.range_lo = 0, o.range_hi = 1;
    o.connectivity = 0.5;
    PruneResult res;
    memset(&res, 0, sizeof res);
    Saved sv;
    memset(&sv, 0, sizeof sv);
    o.result = &res;
    o.save_fn = keep_samples;
    o.save_ctx = &sv;
    char *notes = NULL, *stats = NULL;
    size_t nl = 0, sl = 0;
    o.notes = open_memstream(&notes, &nl);
    o.stats = open_memstream(&stats, &sl);
    Diag d;
    ck_assert_msg(run_pass(g, &o, 21, &d) == 0, "%s", d.msg);
    fclose(o.notes), fclose(o.stats);
    ck_assert_str_eq(notes, ""); /* a classifier: nothing to note */
    ck_assert(res.inverted);
    ck_assert_int_eq(res.synthetic, PRUNE_SYNTH_INVERTED);
    ck_assert_int_eq(res.inversion.method, INVERT_CLASSIFIER);
    ck_assert_int_eq(res.inversion.classes, 3);
    ck_assert_str_eq(res.fallback, "");
    ck_assert_int_eq(res.samples, 6);
    ck_assert(is_pruned(g, "c1") && !is_pruned(g, "c0"));
    check_constraints(g, "c1", 8, 4, 0.5);
    /* the walk saw exactly what invert_synthesize makes of the original graph */
    InvertOptions io;
    invert_opts_of(&o, 21, &io);
    Tensor **im = NULL;
    InvertStats st;
    ck_assert_msg(invert_synthesize(orig, &io, &im, &st, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(sv.calls, 1);
    ck_assert_int_eq(sv.n, 6);
    for (int s = 0; s < 6; s++) {
        ck_assert_int_eq(memcmp(sv.t[s]->data, im[s]->data, tensor_nbytes(im[s])), 0);
        for (int64_t i = 0; i < tensor_numel(im[s]); i++)
            ck_assert(tensor_get_f64(im[s], i) >= 0 && tensor_get_f64(im[s], i) <= 1);
    }
    ck_assert(st.self_agreement == res.inversion.self_agreement);
    ck_assert_int_eq(st.n_curve, res.inversion.n_curve);
    ck_assert(st.curve[st.n_curve - 1] == res.inversion.curve[res.inversion.n_curve - 1]);
    /* the report */
    ck_assert_ptr_nonnull(strstr(stats, "6 inverted synthetic samples"));
    ck_assert_ptr_nonnull(strstr(stats, "prune: inversion: classifier: Gemm 'fc' gives 3 classes; 30 steps"));
    ck_assert_ptr_nonnull(strstr(stats, "range [0, 1]"));
    ck_assert_ptr_nonnull(strstr(stats, "prune: inversion: self-agreement "));
    ck_assert_ptr_nonnull(strstr(stats, "prune: inversion: loss every 10 steps: "));
    invert_images_free(im, 6);
    invert_stats_free(&st);
    saved_free(&sv);
    free(notes), free(stats);
    prune_result_clear(&res);
    ir_graph_free(orig);
    ir_graph_free(g);
}
END_TEST

/* Run the pass with inverted (default) data; returns its status, the note text in *notes. */
static int run_inverted(Graph *g, int strict, int samples, int steps, PruneResult *res, char **notes, Diag *d)
{
    PruneOptions o;
    prune_options_default(&o);
    o.synthetic_strict = strict;
    o.samples = samples;
    o.inv_steps = steps;
    o.result = res;
    size_t nl = 0;
    o.notes = open_memstream(notes, &nl);
    int rc = run_pass(g, &o, 3, d);
    fclose(o.notes);
    return rc;
}

START_TEST(test_prune_inverted_fallbacks)
{
    Diag d;
    PruneResult res;
    memset(&res, 0, sizeof res);
    char *notes = NULL;
    /* no classifier, no BatchNorm: inversion's Gaussian inputs, one note line */
    Graph *g = cls_net(0, 0);
    ck_assert_msg(run_inverted(g, 0, 4, 5, &res, &notes, &d) == 0, "%s", d.msg);
    ck_assert(res.inverted && res.inversion.method == INVERT_GAUSSIAN);
    ck_assert_ptr_nonnull(strstr(res.fallback, "model inversion fell back to Gaussian inputs"));
    ck_assert_msg(!strncmp(notes, "prune: note: model inversion fell back", 38) &&
                      strchr(notes, '\n') == notes + strlen(notes) - 1,
                  "%s", notes);
    ck_assert(is_pruned(g, "c1"));
    free(notes), prune_result_clear(&res), ir_graph_free(g);
    /* no classifier but BatchNorm: its statistics are matched */
    g = cls_net(1, 0);
    ck_assert_msg(run_inverted(g, 0, 4, 5, &res, &notes, &d) == 0, "%s", d.msg);
    ck_assert(res.inverted && res.inversion.method == INVERT_BN_STATS);
    ck_assert_ptr_nonnull(strstr(res.fallback, "matching BatchNorm statistics"));
    ck_assert_ptr_nonnull(strstr(notes, "BatchNorm statistics of 1 node"));
    free(notes), prune_result_clear(&res), ir_graph_free(g);
    /* two graph inputs: no inversion; gaussian data (16 samples by default), or an error when
     * inversion was asked for */
    for (int strict = 0; strict < 2; strict++) {
        g = cls_net(0, 1);
        int e = t_input(g, "extra", 1, 2, 2);
        (void)e;
        int rc = run_inverted(g, strict, 0, 5, &res, &notes, &d);
        if (strict) {
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(strstr(d.msg, "--synthetic=inverted: inversion: the model has 2 inputs") != NULL, "%s",
                          d.msg);
            ck_assert(!is_pruned(g, "c1"));
        } else {
            ck_assert_msg(rc == 0, "%s", d.msg);
            ck_assert(!res.inverted && res.synthetic == PRUNE_SYNTH_GAUSSIAN);
            ck_assert_int_eq(res.samples, PRUNE_SAMPLES_NOISE);
            ck_assert_ptr_nonnull(
                strstr(res.fallback, "model inversion is not possible (inversion: the model has 2 inputs"));
            ck_assert_ptr_nonnull(strstr(notes, "gaussian synthetic data instead"));
            ck_assert(is_pruned(g, "c1"));
        }
        free(notes), prune_result_clear(&res), ir_graph_free(g);
    }
    /* the default's budget: 2 x (Conv and Gemm multiply-adds) x 2 per sample and step */
    g = cls_net(0, 1);
    double per = 2.0 * 2.0 * (144.0 * 4 * 9 + 144.0 * 6 * 36 + 3.0 * 6);
    ck_assert_msg(fabs(prune_invert_flops(g) - per) < 1e-6, "%g vs %g", prune_invert_flops(g), per);
    int steps = (int)(PRUNE_INVERT_BUDGET / (per * 4096)) + 1; /* just over the budget */
    ck_assert_msg(run_inverted(g, 0, 4096, steps, &res, &notes, &d) == 0, "%s", d.msg);
    ck_assert(!res.inverted && res.synthetic == PRUNE_SYNTH_GAUSSIAN && res.samples == 4096);
    ck_assert_ptr_nonnull(strstr(res.fallback, "over the default's budget of 10 TFLOP"));
    ck_assert_ptr_nonnull(strstr(notes, "(--synthetic=inverted forces inversion)"));
    free(notes), prune_result_clear(&res), ir_graph_free(g);
}
END_TEST

/* Low-resolution parameters: every image is a bilinear upsampling (half-pixel centres) of a
 * 6x6 one, and the optimisation still reaches its targets; the L1 term shrinks the images. */
START_TEST(test_prune_invert_resolution)
{
    Graph *g = cls_net(0, 1);
    InvertOptions io;
    invert_options_default(&io);
    io.samples = 6;
    io.steps = 100;
    io.lr = 0.3;
    io.tv_weight = io.l2_weight = 0.01;
    io.resolution = 0.5;
    io.jitter = 0;
    Tensor **im = NULL;
    InvertStats st;
    Diag d;
    ck_assert_msg(invert_synthesize(g, &io, &im, &st, &d) == 0, "%s", d.msg);
    for (int s = 0; s < 6; s++) {
        const float *x = im[s]->data;
        for (int line = 0; line < 12; line++)
            for (int dir = 0; dir < 2; dir++) {
                /* along a row (dir 0) or column: out[2k+1] = .75 v_k + .25 v_k+1,
                 * out[2k+2] = .25 v_k + .75 v_k+1, out[0] = v_0, out[11] = v_5 */
                double v[6], o[12], big = 0;
                for (int i = 0; i < 12; i++) {
                    o[i] = dir ? x[i * 12 + line] : x[line * 12 + i];
                    big = fmax(big, fabs(o[i]));
                }
                v[0] = o[0];
                for (int k = 0; k < 5; k++) v[k + 1] = 4 * o[2 * k + 1] - 3 * v[k];
                double tol = 1e-6 * 243 * (1 + big); /* f32 rounding, amplified 3x per step of v */
                for (int k = 0; k < 5; k++)
                    ck_assert_msg(fabs(o[2 * k + 2] - (0.25 * v[k] + 0.75 * v[k + 1])) < tol, "sample %d line %d", s,
                                  line);
                ck_assert(fabs(o[11] - v[5]) < tol);
            }
    }
    ck_assert_msg(st.self_agreement >= 5.0 / 6 && st.init_agreement < 1 && st.curve[st.n_curve - 1] < 0.9 * st.curve[0],
                  "agreement %g (initially %g), loss %g -> %g", st.self_agreement, st.init_agreement, st.curve[0],
                  st.curve[st.n_curve - 1]);
    double l1a = 0, l1b = 0;
    for (int s = 0; s < 6; s++)
        for (int64_t i = 0; i < 144; i++) l1a += fabs(tensor_get_f64(im[s], i));
    invert_images_free(im, 6);
    invert_stats_free(&st);
    io.l1_weight = 20;
    ck_assert_msg(invert_synthesize(g, &io, &im, &st, &d) == 0, "%s", d.msg);
    for (int s = 0; s < 6; s++)
        for (int64_t i = 0; i < 144; i++) l1b += fabs(tensor_get_f64(im[s], i));
    ck_assert_msg(l1b < 0.7 * l1a, "mean |x| %g with the L1 term, %g without", l1b / 864, l1a / 864);
    invert_images_free(im, 6);
    invert_stats_free(&st);
    io.resolution = 0;
    ck_assert_int_eq(invert_synthesize(g, &io, &im, &st, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "resolution must be in (0, 1]"));
    ir_graph_free(g);
}
END_TEST

/* 6 -> 12 bilinear upsampling with half-pixel centres along one axis (weights of v_k, v_k+1). */
static void up12(const double *v, double *o, int stride)
{
    o[0] = v[0], o[11 * stride] = v[5 * stride];
    for (int k = 0; k < 5; k++) {
        o[(2 * k + 1) * stride] = 0.75 * v[k * stride] + 0.25 * v[(k + 1) * stride];
        o[(2 * k + 2) * stride] = 0.25 * v[k * stride] + 0.75 * v[(k + 1) * stride];
    }
}

/* Its inverse from the odd samples (exact for upsampled data). */
static void down12(const double *o, double *v, int stride)
{
    v[0] = o[0];
    for (int k = 0; k < 5; k++) v[(k + 1) * stride] = 4 * o[(2 * k + 1) * stride] - 3 * v[k * stride];
}

/* Cross-entropy of the model's logits on x against class t. */
static double ce_of(const Graph *g, const double *x, int t)
{
    int64_t dims[4] = {1, 1, 12, 12};
    Tensor *in = tensor_new(DT_F32, 4, dims), *y = NULL;
    for (int i = 0; i < 144; i++) ((float *)in->data)[i] = (float)x[i];
    Diag d;
    ck_assert_msg(interp_run(g, &in, &y, NULL, &d) == 0, "%s", d.msg);
    double mx = -1e300, s = 0;
    for (int k = 0; k < 3; k++) mx = fmax(mx, tensor_get_f64(y, k));
    for (int k = 0; k < 3; k++) s += exp(tensor_get_f64(y, k) - mx);
    double ce = log(s) + mx - tensor_get_f64(y, t);
    tensor_free(in), tensor_free(y);
    return ce;
}

/* The gradient that reaches low-resolution parameters: Adam's first step moves every
 * parameter by -lr * sign(dL/dp) (unless |dL/dp| is near Adam's epsilon), so the step's image
 * difference, mapped back to the 6x6 grid, gives the signs, which must match finite differences
 * of the model's cross-entropy along each parameter's upsampled basis image. */
START_TEST(test_prune_invert_param_gradient)
{
    Graph *g = cls_net(0, 1);
    InvertOptions io;
    invert_options_default(&io);
    io.samples = 3;
    io.steps = 0;
    io.resolution = 0.5;
    io.jitter = 0;
    io.tv_weight = io.l2_weight = 0;
    io.lr = 0.1; /* large enough that the step survives f32 rounding through down12's 3^5 */
    Tensor **x0 = NULL, **x1 = NULL;
    Diag d;
    ck_assert_msg(invert_synthesize(g, &io, &x0, NULL, &d) == 0, "%s", d.msg);
    io.steps = 1;
    ck_assert_msg(invert_synthesize(g, &io, &x1, NULL, &d) == 0, "%s", d.msg);
    int checked = 0;
    for (int s = 0; s < 3; s++) {
        double dx[144], rows[72], sgn[36], x[144];
        for (int i = 0; i < 144; i++) {
            x[i] = tensor_get_f64(x0[s], i);
            dx[i] = (tensor_get_f64(x0[s], i) - tensor_get_f64(x1[s], i)) / io.lr; /* U sign(g) */
        }
        for (int i = 0; i < 12; i++) down12(dx + i * 12, rows + i * 6, 1);
        for (int k = 0; k < 6; k++) down12(rows + k, sgn + k, 6);
        double fd[36], big = 0;
        for (int k = 0; k < 36; k++) {
            double e[36] = {0}, r[72], b[144], xp[144], xm[144];
            e[k] = 1;
            for (int j = 0; j < 6; j++) up12(e + j, r + j, 6);
            for (int i = 0; i < 12; i++) up12(r + i * 6, b + i * 12, 1);
            for (int i = 0; i < 144; i++) xp[i] = x[i] + 1e-2 * b[i], xm[i] = x[i] - 1e-2 * b[i];
            fd[k] = (ce_of(g, xp, s % 3) - ce_of(g, xm, s % 3)) / 2e-2;
            big = fmax(big, fabs(fd[k]));
        }
        for (int k = 0; k < 36; k++) {
            /* |g| / (|g| + 1e-8): less than lr only for gradients near Adam's epsilon */
            ck_assert_msg(fabs(sgn[k]) < 1.05, "sample %d parameter %d moved by %g lr", s, k, sgn[k]);
            if (fabs(fd[k]) < 0.05 * big || fabs(sgn[k]) < 0.5) continue; /* too flat for a reliable sign */
            ck_assert_msg((sgn[k] > 0) == (fd[k] > 0), "sample %d parameter %d: step sign %g, gradient %g", s, k,
                          sgn[k], fd[k]);
            checked++;
        }
    }
    ck_assert_int_ge(checked, 30);
    invert_images_free(x0, 3), invert_images_free(x1, 3);
    ir_graph_free(g);
}
END_TEST

/* The shipped example with the pass's inversion defaults (16 samples instead of 128, and the
 * example's input range): >= 95% self-agreement, pixels in range. */
START_TEST(test_prune_invert_mnist)
{
    Diag d;
    Graph *g = onnx_import_file("examples/mnist/mnist_cnn.onnx", NULL, &d);
    ck_assert_msg(g != NULL, "%s (run the unit tests from the repository root)", d.msg);
    PruneOptions o;
    prune_options_default(&o);
    o.samples = 16;
    o.has_range = 1, o.range_lo = 0, o.range_hi = 1;
    Tensor **im = NULL;
    PruneResult res;
    memset(&res, 0, sizeof res);
    ck_assert_msg(prune_data_invert(g, &o, 1, &im, &res, &d) == 0, "%s", d.msg);
    ck_assert_ptr_nonnull(im);
    ck_assert(res.inverted && res.inversion.method == INVERT_CLASSIFIER);
    ck_assert_msg(res.inversion.self_agreement >= 0.95, "self-agreement %g", res.inversion.self_agreement);
    for (int s = 0; s < 16; s++)
        for (int64_t i = 0; i < 784; i++) ck_assert(tensor_get_f64(im[s], i) >= 0 && tensor_get_f64(im[s], i) <= 1);
    invert_images_free(im, 16);
    prune_result_clear(&res);
    ir_graph_free(g);
}
END_TEST

/* The classifier refit: with inverted data the head Gemm is refit after the last pruned layer
 * (its B and C replaced under their names, the logit error on the synthetic data goes down);
 * --no-classifier-refit (head_ridge < 0) leaves it alone; the ridge is range-checked. */
START_TEST(test_prune_classifier_refit)
{
    Diag d;
    for (int pass = 0; pass < 2; pass++) {
        Graph *g = onnx_import_file("examples/mnist/mnist_cnn.onnx", NULL, &d);
        ck_assert_msg(g != NULL, "%s (run the unit tests from the repository root)", d.msg);
        PruneOptions o;
        prune_options_default(&o);
        o.samples = 24;
        o.inv_steps = 20;
        o.connectivity = 0.5;
        o.has_range = 1, o.range_lo = 0, o.range_hi = 1;
        if (pass) o.head_ridge = -1;
        PruneResult res;
        memset(&res, 0, sizeof res);
        o.result = &res;
        ck_assert_int_eq(prune_head_node(g), node_named(g, "/classifier/Gemm"));
        ck_assert_msg(run_pass(g, &o, 1, &d) == 0, "%s", d.msg);
        ck_assert_int_eq(res.n_layers, 4);
        if (!pass) {
            ck_assert_ptr_nonnull(res.head_node);
            ck_assert_str_eq(res.head_node, "/classifier/Gemm");
            ck_assert_int_eq(res.head_n, 10);
            ck_assert_int_eq(res.head_k, 128); /* the example's 128 features */
            ck_assert_msg(res.head_err_refit < res.head_err_dense, "%g vs %g", res.head_err_refit, res.head_err_dense);
            ck_assert_int_eq(res.n_changed, 10);
            const Node *h = &g->nodes[node_named(g, "/classifier/Gemm")];
            ck_assert_str_eq(g->values[h->in[1]].name, "classifier.weight");
            ck_assert_int_ge(ir_value_find(g, "classifier.weight.dense"), 0);
        } else {
            ck_assert_ptr_null(res.head_node);
            ck_assert_int_eq(res.n_changed, 8);
            ck_assert_int_lt(ir_value_find(g, "classifier.weight.dense"), 0);
        }
        prune_result_clear(&res);
        ir_graph_free(g);
    }
    PruneOptions o;
    prune_options_default(&o);
    o.head_ridge = 0;
    ck_assert_int_eq(prune_options_check(&o, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "--classifier-ridge"));
    /* ADMM iterations: 20 on inverted images, 10 on gaussian/uniform data, both range-checked */
    prune_options_default(&o);
    ck_assert_int_eq(o.admm_iters, 10);
    ck_assert_int_eq(o.admm_iters_inverted, 20);
    o.admm_iters_inverted = -1;
    ck_assert_int_eq(prune_options_check(&o, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "--admm-iters"));
}
END_TEST

/* ---------------------------------------------------------------- --save-pruned (save.c) */

/* A model whose weight "w" is a Constant node (typed float_data) and whose bias "b" is an
 * initializer (raw_data): x[1,2,5,5] -> Conv(x, w[3,2,3,3], b) pads 1 -> y. */
static char *write_const_model(void)
{
    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto op = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *ops[1] = {&op};
    op.domain = "";
    op.has_version = 1;
    op.version = 13;
    mp.has_ir_version = 1;
    mp.ir_version = 7;
    mp.n_opset_import = 1;
    mp.opset_import = ops;
    mp.producer_name = "prune-test";
    mp.graph = &gp;
    gp.name = "g";
    float wdata[54], bdata[3] = {0.1f, -0.2f, 0.3f};
    for (int i = 0; i < 54; i++) wdata[i] = (float)((i * 7) % 11 - 5) / 8.0f;
    Onnx__TensorProto wt = ONNX__TENSOR_PROTO__INIT, bt = ONNX__TENSOR_PROTO__INIT;
    int64_t wdims[4] = {3, 2, 3, 3}, bdims[1] = {3};
    wt.n_dims = 4, wt.dims = wdims, wt.has_data_type = 1, wt.data_type = 1, wt.n_float_data = 54, wt.float_data = wdata;
    wt.name = "w";
    bt.n_dims = 1, bt.dims = bdims, bt.has_data_type = 1, bt.data_type = 1, bt.name = "b";
    bt.has_raw_data = 1, bt.raw_data.len = sizeof bdata, bt.raw_data.data = (uint8_t *)bdata;
    Onnx__TensorProto *inits[1] = {&bt};
    gp.n_initializer = 1, gp.initializer = inits;
    Onnx__AttributeProto val = ONNX__ATTRIBUTE_PROTO__INIT, pads = ONNX__ATTRIBUTE_PROTO__INIT;
    val.name = "value", val.has_type = 1, val.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, val.t = &wt;
    int64_t padv[4] = {1, 1, 1, 1};
    pads.name = "pads", pads.has_type = 1, pads.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    pads.n_ints = 4, pads.ints = padv;
    Onnx__AttributeProto *cattrs[1] = {&val}, *vattrs[1] = {&pads};
    Onnx__NodeProto cn = ONNX__NODE_PROTO__INIT, vn = ONNX__NODE_PROTO__INIT;
    char *cout[1] = {"w"}, *vin[3] = {"x", "w", "b"}, *vout[1] = {"y"};
    cn.op_type = "Constant", cn.name = "const_w", cn.n_output = 1, cn.output = cout, cn.n_attribute = 1;
    cn.attribute = cattrs;
    vn.op_type = "Conv", vn.name = "conv", vn.n_input = 3, vn.input = vin, vn.n_output = 1, vn.output = vout;
    vn.n_attribute = 1, vn.attribute = vattrs;
    Onnx__NodeProto *nodes[2] = {&cn, &vn};
    gp.n_node = 2, gp.node = nodes;
    Onnx__TensorShapeProto__Dimension dx[4], dy[4];
    Onnx__TensorShapeProto__Dimension *pdx[4], *pdy[4];
    int64_t xd[4] = {1, 2, 5, 5}, yd[4] = {1, 3, 5, 5};
    for (int i = 0; i < 4; i++) {
        onnx__tensor_shape_proto__dimension__init(&dx[i]);
        onnx__tensor_shape_proto__dimension__init(&dy[i]);
        dx[i].value_case = dy[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dx[i].dim_value = xd[i], dy[i].dim_value = yd[i];
        pdx[i] = &dx[i], pdy[i] = &dy[i];
    }
    Onnx__TensorShapeProto sx = ONNX__TENSOR_SHAPE_PROTO__INIT, sy = ONNX__TENSOR_SHAPE_PROTO__INIT;
    sx.n_dim = 4, sx.dim = pdx, sy.n_dim = 4, sy.dim = pdy;
    Onnx__TypeProto__Tensor tx = ONNX__TYPE_PROTO__TENSOR__INIT, ty = ONNX__TYPE_PROTO__TENSOR__INIT;
    tx.has_elem_type = ty.has_elem_type = 1, tx.elem_type = ty.elem_type = 1, tx.shape = &sx, ty.shape = &sy;
    Onnx__TypeProto tpx = ONNX__TYPE_PROTO__INIT, tpy = ONNX__TYPE_PROTO__INIT;
    tpx.value_case = tpy.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tpx.tensor_type = &tx, tpy.tensor_type = &ty;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "x", vx.type = &tpx, vy.name = "y", vy.type = &tpy;
    Onnx__ValueInfoProto *gin[1] = {&vx}, *gout[1] = {&vy};
    gp.n_input = 1, gp.input = gin, gp.n_output = 1, gp.output = gout;
    size_t len = onnx__model_proto__get_packed_size(&mp);
    uint8_t *buf = xmalloc(len);
    onnx__model_proto__pack(&mp, buf);
    char *path = xstrdup("/tmp/ppcc_prune_modelXXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    free(buf);
    return path;
}

START_TEST(test_prune_save_constant)
{
    char *src = write_const_model();
    Diag d;
    Graph *g = onnx_import_file(src, NULL, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    /* the frontend keeps the Constant's output name for the weight */
    int w = ir_value_find(g, "w"), b = ir_value_find(g, "b");
    ck_assert_int_ge(w, 0);
    ck_assert_int_ge(b, 0);
    float nw[54], nb[3] = {1.5f, 2.5f, -3.5f};
    for (int i = 0; i < 54; i++) nw[i] = i % 4 ? 0.0f : (float)i / 16.0f;
    Tensor tw = {DT_F32, 4, {3, 2, 3, 3}, nw, 0}, tb = {DT_F32, 1, {3}, nb, 0};
    OnnxReplacement rep[2] = {{"w", &tw}, {"b", &tb}};
    char dst[] = "/tmp/ppcc_prune_savedXXXXXX";
    int fd = mkstemp(dst);
    close(fd);
    ck_assert_msg(onnx_save_replaced(src, dst, rep, 2, &d) == 0, "%s", d.msg);
    Graph *h = onnx_import_file(dst, NULL, &d);
    ck_assert_msg(h != NULL, "%s", d.msg);
    ck_assert_int_eq(memcmp(h->values[ir_value_find(h, "w")].data, nw, sizeof nw), 0);
    ck_assert_int_eq(memcmp(h->values[ir_value_find(h, "b")].data, nb, sizeof nb), 0);
    ck_assert_int_eq(h->n_nodes, g->n_nodes);
    /* errors: unknown name, wrong size, wrong dtype; the output is left alone */
    unlink(dst);
    OnnxReplacement bad1[1] = {{"nope", &tw}};
    ck_assert_int_eq(onnx_save_replaced(src, dst, bad1, 1, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "'nope' is neither an initializer nor a Constant"));
    OnnxReplacement bad2[1] = {{"b", &tw}};
    ck_assert_int_eq(onnx_save_replaced(src, dst, bad2, 1, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "has 3 elements, the replacement 54"));
    int64_t ib[3] = {1, 2, 3};
    Tensor ti = {DT_I64, 1, {3}, ib, 0};
    OnnxReplacement bad3[1] = {{"b", &ti}};
    ck_assert_int_eq(onnx_save_replaced(src, dst, bad3, 1, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "not float32"));
    ck_assert_int_eq(onnx_save_replaced("/tmp/ppcc_prune_no_such_file.onnx", dst, rep, 2, &d), -1);
    ck_assert_int_eq(onnx_save_replaced(src, "/tmp/ppcc_prune_no_such_dir/out.onnx", rep, 2, &d), -1);
    ck_assert_int_ne(access(dst, F_OK), 0);
    unlink(src);
    free(src);
    ir_graph_free(g);
    ir_graph_free(h);
}
END_TEST

/* The shipped example: prune, save, re-import; the interpreter agrees with the pruned IR. */
START_TEST(test_prune_save_roundtrip)
{
    const char *src = "examples/mnist/mnist_cnn.onnx";
    Diag d;
    Graph *g = onnx_import_file(src, NULL, &d);
    ck_assert_msg(g != NULL, "%s (run the unit tests from the repository root)", d.msg);
    PruneOptions o;
    test_opts(&o, 2, 3);
    o.connectivity = 0.5;
    PruneResult res;
    memset(&res, 0, sizeof res);
    o.result = &res;
    ck_assert_msg(run_pass(g, &o, 3, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(res.n_layers, 4); /* the 1-channel stem conv is kept dense */
    ck_assert_int_eq(res.n_changed, 8); /* gaussian data: the classifier is not refit */
    OnnxReplacement *rep = xcalloc((size_t)res.n_changed, sizeof *rep);
    for (int i = 0; i < res.n_changed; i++) rep[i].name = res.changed[i].name, rep[i].t = res.changed[i].t;
    char dst[] = "/tmp/ppcc_prune_mnistXXXXXX";
    int fd = mkstemp(dst);
    close(fd);
    ck_assert_msg(onnx_save_replaced(src, dst, rep, res.n_changed, &d) == 0, "%s", d.msg);
    Graph *h = onnx_import_file(dst, NULL, &d);
    ck_assert_msg(h != NULL, "%s", d.msg);
    int64_t dims[4] = {1, 1, 28, 28};
    Tensor *x = tensor_new(DT_F32, 4, dims);
    for (int i = 0; i < 784; i++) ((float *)x->data)[i] = test_randf(&prune_rng, 0.0f, 1.0f);
    Tensor *ya = NULL, *yb = NULL;
    ck_assert_msg(interp_run(g, &x, &ya, NULL, &d) == 0, "%s", d.msg);
    ck_assert_msg(interp_run(h, &x, &yb, NULL, &d) == 0, "%s", d.msg);
    for (int64_t i = 0; i < tensor_numel(ya); i++)
        ck_assert_msg(fabs(tensor_get_f64(ya, i) - tensor_get_f64(yb, i)) <= 1e-6, "logit %lld: %g vs %g", (long long)i,
                      tensor_get_f64(ya, i), tensor_get_f64(yb, i));
    /* the saved weights are the pruned ones, byte for byte */
    for (int i = 0; i < res.n_changed; i++) {
        int v = ir_value_find(h, res.changed[i].name);
        ck_assert_int_ge(v, 0);
        ck_assert_int_eq(memcmp(h->values[v].data, res.changed[i].t->data, tensor_nbytes(res.changed[i].t)), 0);
    }
    unlink(dst);
    tensor_free(x), tensor_free(ya), tensor_free(yb);
    free(rep);
    prune_result_clear(&res);
    ir_graph_free(g);
    ir_graph_free(h);
}
END_TEST

TEST_SUITE(prune_pass)
{
    Suite *s = suite_create("prune_pass");
    TCase *tc = tcase_create("prune_pass");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_prune_constraints);
    tcase_add_test(tc, test_prune_magnitude);
    tcase_add_test(tc, test_prune_selection);
    tcase_add_test(tc, test_prune_bad_options);
    tcase_add_test(tc, test_prune_determinism);
    tcase_add_test(tc, test_prune_synthetic);
    tcase_add_test(tc, test_prune_walk);
    tcase_add_test(tc, test_prune_walk_original);
    tcase_add_test(tc, test_prune_sample_fn);
    tcase_add_test(tc, test_prune_save_constant);
    tcase_add_test(tc, test_prune_save_roundtrip);
    tcase_add_test(tc, test_prune_synthetic_range);
    tcase_add_test(tc, test_prune_inverted);
    tcase_add_test(tc, test_prune_inverted_fallbacks);
    tcase_add_test(tc, test_prune_invert_resolution);
    tcase_add_test(tc, test_prune_invert_param_gradient);
    tcase_add_test(tc, test_prune_invert_mnist);
    tcase_add_test(tc, test_prune_classifier_refit);
    suite_add_tcase(s, tc);
    return s;
}
