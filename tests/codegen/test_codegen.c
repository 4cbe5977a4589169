/* test_codegen.c — the code generator through its C interface, without ppcc's pipeline.
 *
 *   test_codegen LIBPPCFALLBACK.a FILE.ir...
 *
 * For each text-IR model: shape inference only (no layout, fusion or memory-plan passes), so
 * cg_compile plans memory itself (codegen's one-slot-per-value plan: views alias their input,
 * producers of graph outputs write into the user's buffers); the shared object is loaded through
 * libppcrt and its outputs compared with the interpreter's on seeded random inputs (|diff| <=
 * 1e-7 + 1e-6 |want|); the descriptor must list one debug layer per node with an 'h' first.
 * Then the plan checks: a plan-memory style placement outside the workspace must be refused
 * with an internal-error diagnostic, and no output file left behind.
 * Prints one line per check and "test_codegen: N passed, M failed"; exit 1 on any failure.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "compiler/tool.h"
#include "runtime/ppcrt.h"

static int n_pass, n_fail;

static void check(int ok, const char *what, const char *detail)
{
    if (ok) {
        n_pass++;
        printf("ok   %s\n", what);
    } else {
        n_fail++;
        printf("FAIL %s: %s\n", what, detail);
    }
}

/* Compile g to so (host target, -O1, debug layers) with the given fallback library. */
static int compile(const Graph *g, const char *fallback, const char *so, Diag *d)
{
    CgTargetDesc td;
    if (cg_target_resolve(NULL, NULL, &td, d)) return -1;
    CgOptions o;
    memset(&o, 0, sizeof o);
    o.emit = CG_EMIT_SO;
    o.target = &td;
    o.opt_level = 1;
    o.debug_layers = 1;
    o.fallback_lib = fallback;
    o.producer = "test_codegen";
    int rc = cg_compile(g, &o, so, d);
    cg_target_release(&td);
    return rc;
}

/* Run so on seeded inputs and compare with the interpreter on g. */
static void run_and_compare(const Graph *g, const char *so, const char *name)
{
    char what[600], msg[1024] = "";
    PpcrtModel *m = NULL;
    PpcrtSession *s = NULL;
    int st = ppcrt_model_load(so, &m);
    PpcrtSessionOptions opt = {2, NULL, 0};
    if (!st) st = ppcrt_session_create(m, &opt, &s);
    snprintf(what, sizeof what, "%s: load and run", name);
    if (st) {
        snprintf(msg, sizeof msg, "%s: %.900s", ppcrt_status_string(st), ppcrt_last_error());
        check(0, what, msg);
        ppcrt_model_free(m);
        return;
    }
    uint64_t seed = 42;
    Tensor **in = xcalloc((size_t)g->n_inputs + 1, sizeof *in), **want = xcalloc((size_t)g->n_outputs + 1, sizeof *want);
    Tensor **got = xcalloc((size_t)g->n_outputs + 1, sizeof *got);
    const void **ip = xcalloc((size_t)g->n_inputs + 1, sizeof *ip);
    void **op = xcalloc((size_t)g->n_outputs + 1, sizeof *op);
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        in[k] = tool_random_tensor(v->dtype, v->rank, v->dims, &seed);
        ip[k] = in[k]->data;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *v = &g->values[g->outputs[k]];
        got[k] = tensor_new(v->dtype, v->rank, v->dims);
        op[k] = got[k]->data;
    }
    Diag d = {{0}};
    int ok = interp_run(g, in, want, NULL, &d) == 0;
    if (!ok) snprintf(msg, sizeof msg, "interpreter: %.900s", d.msg);
    if (ok && (st = ppcrt_session_run(s, ip, op))) {
        ok = 0;
        snprintf(msg, sizeof msg, "run: %.900s", ppcrt_last_error());
    }
    check(ok, what, msg);
    for (int k = 0; ok && k < g->n_outputs; k++) {
        TensorDiff td;
        snprintf(what, sizeof what, "%s: output %d '%s' matches the interpreter", name, k,
                 g->values[g->outputs[k]].name);
        check(tool_compare(got[k], want[k], 1e-6, 1e-7, &td) == 0, what, td.msg);
    }
    /* one debug layer per node, host first */
    int layers_ok = ppcrt_model_num_layers(m) == g->n_nodes;
    for (int l = 0; layers_ok && l < g->n_nodes; l++) {
        PpcrtLayerInfo li;
        layers_ok = ppcrt_model_layer_info(m, l, &li) == 0 && li.signature[0] == 'h' &&
                    !strcmp(li.op, ir_op_name(g->nodes[l].op));
    }
    snprintf(what, sizeof what, "%s: one debug layer per node", name);
    check(layers_ok, what, "layer table does not match the graph");
    for (int k = 0; k < g->n_inputs; k++) tensor_free(in[k]);
    for (int k = 0; k < g->n_outputs; k++) tensor_free(want[k]), tensor_free(got[k]);
    free(in), free(want), free(got), free(ip), free(op);
    ppcrt_session_free(s);
    ppcrt_model_free(m);
}

/* A placement outside the workspace is refused and leaves no file. */
static void bad_plan(const Graph *src, const char *fallback, const char *so, const char *name)
{
    Graph *g = ir_graph_clone(src);
    int victim = -1;
    for (int i = 0; i < g->n_nodes && victim < 0; i++)
        if (g->nodes[i].out[0] >= 0 && cg_value_bytes(&g->values[g->nodes[i].out[0]]) > 0) victim = g->nodes[i].out[0];
    if (victim < 0) {
        ir_graph_free(g);
        return;
    }
    g->workspace_size = 64;
    g->values[victim].mem_kind = MEM_WORKSPACE;
    g->values[victim].mem_offset = 1 << 20;
    Diag d = {{0}};
    unlink(so);
    int rc = compile(g, fallback, so, &d);
    char what[600];
    snprintf(what, sizeof what, "%s: a placement outside the workspace is an internal error", name);
    check(rc != 0 && strstr(d.msg, "memory plan") && access(so, F_OK) != 0, what, rc ? d.msg : "compiled");
    ir_graph_free(g);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_codegen LIBPPCFALLBACK.a FILE.ir...\n");
        return 2;
    }
    char dir[] = "/tmp/ppcc-test-codegen-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char so[sizeof dir + 16];
    snprintf(so, sizeof so, "%s/model.so", dir);
    for (int a = 2; a < argc; a++) {
        Diag d = {{0}};
        const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        Graph *g = tool_load_model(argv[a], NULL, 0, &d);
        char what[600];
        snprintf(what, sizeof what, "%s: load", name);
        check(g != NULL, what, d.msg);
        if (!g) continue;
        snprintf(what, sizeof what, "%s: compiles without a plan-memory pass", name);
        int rc = compile(g, argv[1], so, &d);
        check(rc == 0, what, d.msg);
        if (rc == 0) run_and_compare(g, so, name);
        bad_plan(g, argv[1], so, name);
        ir_graph_free(g);
    }
    unlink(so);
    rmdir(dir);
    printf("test_codegen: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
