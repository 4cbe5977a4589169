/* test_verify.c — the IR verifier (ir/verify.c): a valid graph passes (and is left unchanged),
 * and each rule of the contract in ir.h has a test that breaks exactly that rule and checks the
 * message. Graphs are written in the text IR (ir/parse.c) and then corrupted through the graph
 * API where the text cannot express the fault. Uses ops whose shape functions exist: Conv, Relu,
 * Add, Gemm, Split, Identity.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const char *base_text =
    "graph \"v\" {\n"
    "  input %x: f32[1,1,4,4]\n"
    "  const %w: f32[2,1,3,3] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    "  const %b: f32[2] = [0.5, -0.5]\n"
    "  %c: f32[1,2,4,4] = Conv(%x, %w, %b) {pads=[1,1,1,1], kernel_shape=[3,3]} @Conv_0\n"
    "  %r: f32[1,2,4,4] = Relu(%c) @Relu_1\n"
    "  %s: f32[1,2,4,4] = Add(%r, %c) @Add_2\n"
    "  output %s\n"
    "}\n";

static Graph *parse_ok(const char *text)
{
    Diag d = {{0}};
    Graph *g = ir_parse(text, &d);
    ck_assert_msg(g != NULL, "parse failed: %s", d.msg);
    return g;
}

static Graph *base(void) { return parse_ok(base_text); }

static int node_of(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return i;
    ck_abort_msg("no node %s", name);
    return -1;
}

/* ir_verify must fail with every substring in `want` (NULL-terminated) in its message. */
static void expect_fail(const Graph *g, const char *w1, const char *w2)
{
    Diag d = {{0}};
    ck_assert_msg(ir_verify(g, &d) == -1, "verifier accepted a bad graph (want '%s')", w1);
    ck_assert_msg(strstr(d.msg, w1) != NULL, "want '%s' in '%s'", w1, d.msg);
    if (w2) ck_assert_msg(strstr(d.msg, w2) != NULL, "want '%s' in '%s'", w2, d.msg);
}

static char *print_str(const Graph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print(g, f, 0);
    fclose(f);
    return buf;
}

START_TEST(test_verify_valid)
{
    Graph *g = base();
    char *before = print_str(g);
    Diag d = {{0}};
    ck_assert_msg(ir_verify(g, &d) == 0, "%s", d.msg);
    char *after = print_str(g);
    ck_assert_str_eq(before, after); /* the verifier does not touch the graph */
    free(before);
    free(after);
    ir_graph_free(g);

    /* omitted types + shape inference gives a graph that verifies; absent optional input ok */
    g = parse_ok("graph \"v\" {\n  input %a: f32[2,4]\n  const %w: f32[3,4] = [1,2,3,4,5,6,7,8,9,10,11,12]\n"
                 "  %y = Gemm(%a, %w, _) {transB=1}\n  %p, %q = Split(%y) {axis=1, split=[1,2]}\n"
                 "  %z = Identity(%q)\n  output %z\n  output %p\n}\n");
    ck_assert_msg(ir_verify(g, &d) == -1 && strstr(d.msg, "has no type"), "untyped graph verified: %s", d.msg);
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    ck_assert_msg(ir_verify(g, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(g->values[ir_value_find(g, "q")].dims[1], 2);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_arity)
{
    Graph *g = base();
    Node *n = &g->nodes[node_of(g, "Relu_1")];
    int in2[] = {n->in[0], n->in[0]};
    ir_node_set_inputs(g, node_of(g, "Relu_1"), 2, in2);
    expect_fail(g, "node 'Relu_1' (Relu): expects 1..1 inputs, has 2", NULL);
    ir_graph_free(g);

    g = base();
    g->nodes[node_of(g, "Add_2")].n_in = 1;
    expect_fail(g, "node 'Add_2' (Add): expects 2..2 inputs", NULL);
    ir_graph_free(g);

    g = base();
    g->nodes[node_of(g, "Conv_0")].n_out = 0;
    expect_fail(g, "node 'Conv_0' (Conv): expects 1..1 outputs, has 0", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_absent_slots)
{
    Graph *g = base();
    g->nodes[node_of(g, "Conv_0")].in[0] = -1; /* X is required */
    expect_fail(g, "node 'Conv_0' (Conv): required input 0 is absent", NULL);
    ir_graph_free(g);

    g = base();
    g->nodes[node_of(g, "Relu_1")].out[0] = -1;
    expect_fail(g, "node 'Relu_1' (Relu): required output 0 is absent", NULL);
    ir_graph_free(g);

    /* the optional bias may be absent */
    g = parse_ok("graph \"v\" {\n  input %x: f32[1,1,3,3]\n  const %w: f32[1,1,1,1] = [2]\n"
                 "  %c: f32[1,1,3,3] = Conv(%x, %w, _)\n  output %c\n}\n");
    Diag d = {{0}};
    ck_assert_msg(ir_verify(g, &d) == 0, "%s", d.msg);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_ids_in_range)
{
    Graph *g = base();
    g->nodes[node_of(g, "Relu_1")].in[0] = 999;
    expect_fail(g, "node 'Relu_1' (Relu): input 0 refers to value id 999 (out of range)", NULL);
    ir_graph_free(g);

    g = base();
    g->nodes[node_of(g, "Relu_1")].in[0] = -7;
    expect_fail(g, "input 0 refers to value id -7", NULL);
    ir_graph_free(g);

    g = base();
    g->nodes[node_of(g, "Add_2")].out[0] = g->n_values;
    expect_fail(g, "node 'Add_2' (Add): output 0 refers to value id", "out of range");
    ir_graph_free(g);

    g = base();
    g->outputs[0] = -1;
    expect_fail(g, "graph output 0 refers to value id -1 (out of range)", NULL);
    ir_graph_free(g);

    g = base();
    g->inputs[0] = 12345;
    expect_fail(g, "graph input 0 refers to value id 12345", NULL);
    ir_graph_free(g);

    g = base();
    g->nodes[0].op = OP_COUNT;
    expect_fail(g, "invalid op", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_single_definition)
{
    /* two nodes define the same value */
    Graph *g = base();
    int a = node_of(g, "Add_2");
    g->nodes[a].out[0] = g->nodes[node_of(g, "Relu_1")].out[0];
    expect_fail(g, "node 'Add_2' (Add): output 'r' is defined twice (also by node 'Relu_1' (Relu))", NULL);
    ir_graph_free(g);

    /* a node output that is a graph input */
    g = base();
    int x = ir_value_find(g, "x");
    g->nodes[node_of(g, "Relu_1")].out[0] = x;
    expect_fail(g, "node 'Relu_1' (Relu): output 'x' is defined twice (it is also a graph input)", NULL);
    ir_graph_free(g);

    /* a node output that is a constant */
    g = base();
    g->nodes[node_of(g, "Relu_1")].out[0] = ir_value_find(g, "b");
    expect_fail(g, "output 'b' is defined twice (it is also a constant)", NULL);
    ir_graph_free(g);

    /* a value both graph input and constant */
    g = base();
    ir_graph_add_input(g, ir_value_find(g, "w"));
    g->values[ir_value_find(g, "w")].kind = VAL_CONST;
    expect_fail(g, "graph input 1 ('w') is not marked as an input value (it is a constant: defined twice)", NULL);
    ir_graph_free(g);

    /* an input listed twice */
    g = base();
    ir_graph_add_input(g, ir_value_find(g, "x"));
    expect_fail(g, "graph input 'x' is listed twice", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_topological_order)
{
    /* swap Relu and Conv: Relu now reads %c before Conv defines it */
    Graph *g = base();
    Node tmp = g->nodes[0];
    g->nodes[0] = g->nodes[1];
    g->nodes[1] = tmp;
    g->values[ir_value_find(g, "c")].producer = 1;
    g->values[ir_value_find(g, "r")].producer = 0;
    expect_fail(g, "node 'Relu_1' (Relu): input 'c' used before definition (cycle or unsorted graph)",
                "defined by node 1 'Conv_0' (Conv)");
    /* toposort repairs it */
    Diag d = {{0}};
    ck_assert_msg(ir_graph_toposort(g, &d) == 0, "%s", d.msg);
    ck_assert_msg(ir_verify(g, &d) == 0, "%s", d.msg);
    ir_graph_free(g);

    /* a node reading its own output */
    g = base();
    Node *r = &g->nodes[node_of(g, "Relu_1")];
    r->in[0] = r->out[0];
    expect_fail(g, "node 'Relu_1' (Relu): input 'r' is its own output (cycle)", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_dangling)
{
    Graph *g = base();
    int ghost = ir_value_add(g, "ghost", DT_F32, 4, (const int64_t[]){1, 2, 4, 4});
    g->nodes[node_of(g, "Add_2")].in[1] = ghost;
    expect_fail(g, "node 'Add_2' (Add): input 'ghost' is never defined", NULL);
    ir_graph_free(g);

    /* a value marked as input but not in the input list is not defined either */
    g = base();
    int stray = ir_value_add(g, "stray", DT_F32, 4, (const int64_t[]){1, 2, 4, 4});
    g->values[stray].kind = VAL_INPUT;
    g->nodes[node_of(g, "Add_2")].in[1] = stray;
    expect_fail(g, "input 'stray' is never defined", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_graph_outputs)
{
    Graph *g = base();
    int ghost = ir_value_add(g, "ghost", DT_F32, 1, (const int64_t[]){1});
    ir_graph_add_output(g, ghost);
    expect_fail(g, "graph output 1 ('ghost') is never defined", NULL);
    ir_graph_free(g);

    /* a graph output produced by a node that is no longer there */
    g = base();
    g->n_nodes = 2; /* drop Add_2; %s stays listed as output */
    expect_fail(g, "graph output 0 ('s') is never defined", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_const_data_and_input_data)
{
    Graph *g = base();
    g->values[ir_value_find(g, "w")].data = NULL;
    expect_fail(g, "constant 'w' has no data", NULL);
    ir_graph_free(g);

    g = base();
    int x = ir_value_find(g, "x");
    g->values[x].data = arena_alloc(g->arena, 64);
    expect_fail(g, "graph input 'x' has data (only constants have data)", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_dims)
{
    Graph *g = base();
    g->values[ir_value_find(g, "r")].dims[2] = -4;
    expect_fail(g, "value 'r' has a bad shape: negative dimension", NULL);
    ir_graph_free(g);

    g = base();
    Value *v = &g->values[ir_value_find(g, "r")];
    v->dims[0] = (int64_t)1 << 40, v->dims[1] = (int64_t)1 << 40;
    expect_fail(g, "value 'r' has a bad shape: element count overflows", NULL);
    ir_graph_free(g);

    g = base();
    g->values[ir_value_find(g, "r")].rank = IR_MAX_RANK + 1;
    expect_fail(g, "value 'r' has a bad shape: rank out of range", NULL);
    ir_graph_free(g);

    g = base();
    g->values[ir_value_find(g, "r")].mem_offset = -64;
    expect_fail(g, "value 'r' has an invalid memory placement", NULL);
    ir_graph_free(g);

    g = base();
    g->values[ir_value_find(g, "r")].dtype = (DType)DT_COUNT;
    expect_fail(g, "value 'r' has an invalid dtype", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_typed)
{
    Graph *g = base();
    g->values[ir_value_find(g, "x")].dtype = DT_UNDEF;
    expect_fail(g, "node 'Conv_0' (Conv): input 'x' has no type (run shape inference)", NULL);
    ir_graph_free(g);

    g = base();
    g->values[ir_value_find(g, "s")].dtype = DT_UNDEF;
    expect_fail(g, "graph output 's' has no type", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_shape_agreement)
{
    /* wrong spatial size recorded on the conv output: Relu and Add repeat it, so the first
     * mismatch is the conv */
    const char *text =
        "graph \"v\" {\n"
        "  input %x: f32[1,1,4,4]\n"
        "  const %w: f32[2,1,3,3] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
        "  %c: f32[1,2,4,4] = Conv(%x, %w, _) @Conv_0\n"
        "  %r: f32[1,2,4,4] = Relu(%c) @Relu_1\n"
        "  output %r\n"
        "}\n";
    Graph *g = parse_ok(text);
    expect_fail(g, "node 'Conv_0' (Conv): output 'c' is f32[1,2,4,4] but shape inference gives f32[1,2,2,2]", NULL);
    ir_graph_free(g);

    /* dtype mismatch */
    g = base();
    g->values[ir_value_find(g, "r")].dtype = DT_F64;
    expect_fail(g, "node 'Relu_1' (Relu): output 'r' is f64[1,2,4,4] but shape inference gives f32[1,2,4,4]", NULL);
    ir_graph_free(g);

    /* rank mismatch */
    g = base();
    g->values[ir_value_find(g, "s")].rank = 3;
    expect_fail(g, "node 'Add_2' (Add): output 's' is f32[1,2,4] but shape inference gives f32[1,2,4,4]", NULL);
    ir_graph_free(g);

    /* an unused output left untyped is still checked */
    g = parse_ok("graph \"v\" {\n  input %a: f32[2,4]\n  %p: f32[2,1], %q = Split(%a) {axis=1, split=[1,3]} @sp\n"
                 "  output %p\n}\n");
    expect_fail(g, "node 'sp' (Split): output 'q' is untyped but shape inference gives f32[2,3]", NULL);
    ir_graph_free(g);

    /* shape inference itself rejects the node: its message comes through */
    g = parse_ok("graph \"v\" {\n  input %a: f32[2,4]\n  input %b: f32[3]\n"
                 "  %y: f32[2,4] = Add(%a, %b) @bad_add\n  output %y\n}\n");
    expect_fail(g, "shape inference fails: node 'bad_add' (Add)", NULL);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_verify_producer_and_attrs)
{
    Graph *g = base();
    g->values[ir_value_find(g, "r")].producer = 0;
    expect_fail(g, "node 'Relu_1' (Relu): output 'r' records producer 0, expected 1", NULL);
    ir_graph_free(g);

    g = base();
    int c = node_of(g, "Conv_0");
    ir_node_set_int(g, c, "group", 1);
    ir_node_set_int(g, c, "zz", 1);
    g->nodes[c].attrs[g->nodes[c].n_attr - 1].name = g->nodes[c].attrs[g->nodes[c].n_attr - 2].name;
    expect_fail(g, "node 'Conv_0' (Conv): attribute 'group' appears twice", NULL);
    ir_graph_free(g);

    g = base();
    c = node_of(g, "Conv_0");
    ir_node_set_ints(g, c, "strides", (const int64_t[]){1, 1}, 2);
    g->nodes[c].attrs[g->nodes[c].n_attr - 1].ints = NULL;
    expect_fail(g, "list attribute 'strides' is corrupt", NULL);
    ir_graph_free(g);
}
END_TEST

TEST_SUITE(verify)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("verify");
    tcase_add_test(tc, test_verify_valid);
    tcase_add_test(tc, test_verify_arity);
    tcase_add_test(tc, test_verify_absent_slots);
    tcase_add_test(tc, test_verify_ids_in_range);
    tcase_add_test(tc, test_verify_single_definition);
    tcase_add_test(tc, test_verify_topological_order);
    tcase_add_test(tc, test_verify_dangling);
    tcase_add_test(tc, test_verify_graph_outputs);
    tcase_add_test(tc, test_verify_const_data_and_input_data);
    tcase_add_test(tc, test_verify_dims);
    tcase_add_test(tc, test_verify_typed);
    tcase_add_test(tc, test_verify_shape_agreement);
    tcase_add_test(tc, test_verify_producer_and_attrs);
    suite_add_tcase(s, tc);
    return s;
}
