/* module.c — cg_compile: builds the LLVM module of one model and hands it to output.c.
 *
 * Order: memory plan (plan.c) -> LLVM context, module, target machine (target.c) -> kernel
 * bitcode linked in (kernels.c) -> per node, how it is compiled: view, native kernel
 * (native.c, through the lowering table) or interpreter fallback (fallback.c) -> run() ->
 * per-node debug entry points (--debug-layers) -> ABI descriptor and ppc_model_v1 (abi.c) ->
 * kernels internalised, unused code deleted, CPU attributes on every function -> verifier ->
 * default<On> -> object/assembly/IR/shared object (output.c).
 *
 * run(host, inputs, outputs, workspace) computes the nodes in order; a value's address is its
 * plan's buffer plus offset. Graph outputs whose value does not already live at the start of
 * the user's output buffer (constants, graph inputs, a value listed twice, or placed elsewhere
 * by the plan) are copied there at the end. A failing fallback kernel makes run return 1.
 *
 * A layer entry point void layer(host, p1, ..., pn) computes one node on caller buffers: the
 * node's distinct non-constant inputs, then its outputs (constants are baked in).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>

#include "codegen/codegen.h"

/* ---------------------------------------------------------------- helpers for the files of codegen/ */

LLVMValueRef cg_entry_alloca(Cg *c, CgFn *f, LLVMTypeRef ty, const char *name)
{
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);
    LLVMPositionBuilderBefore(b, LLVMGetBasicBlockTerminator(f->entry));
    LLVMValueRef a = LLVMBuildAlloca(b, ty, name);
    LLVMSetAlignment(a, 64);
    LLVMDisposeBuilder(b);
    return a;
}

LLVMValueRef cg_const_data(Cg *c, LLVMValueRef init, const char *name, unsigned align)
{
    LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    if (align) LLVMSetAlignment(gv, align);
    return gv;
}

LLVMValueRef cg_bytes_global(Cg *c, const void *data, size_t n, unsigned align, const char *name, Diag *d)
{
    if (n > UINT32_MAX) {
        diag_error(d, "constant '%s' has %zu bytes; LLVM constants are limited to 4 GiB", name, n);
        return NULL;
    }
    LLVMValueRef init = LLVMConstStringInContext(c->ctx, n ? data : "", (unsigned)n, 1);
    return cg_const_data(c, init, name, align);
}

LLVMValueRef cg_cstring(Cg *c, const char *s)
{
    s = s ? s : "";
    return cg_const_data(c, LLVMConstStringInContext(c->ctx, s, (unsigned)strlen(s), 0), "str", 1);
}

LLVMValueRef cg_const_global(Cg *c, int vid)
{
    if (!c->const_gv[vid]) {
        const Value *v = &c->g->values[vid];
        char name[64];
        snprintf(name, sizeof name, "const.%d", vid);
        /* cg_compile checked every constant's size, so this cannot fail */
        c->const_gv[vid] = cg_bytes_global(c, v->data, (size_t)cg_value_bytes(v), 64, name, NULL);
        IR_ASSERT(c->const_gv[vid]);
    }
    return c->const_gv[vid];
}

CgAddr cg_static_addr(const Cg *c, int vid)
{
    if (c->g->values[vid].kind == VAL_CONST) return (CgAddr){MEM_CONST, vid, 0};
    return c->plan.addr[vid];
}

static LLVMValueRef gep_bytes(Cg *c, LLVMValueRef base, int64_t off)
{
    if (!off) return base;
    LLVMValueRef idx = LLVMConstInt(c->t_i64, (unsigned long long)off, 0);
    return LLVMBuildInBoundsGEP2(c->b, c->t_i8, base, &idx, 1, "");
}

LLVMValueRef cg_value_addr(Cg *c, CgFn *f, int vid)
{
    if (c->g->values[vid].kind == VAL_CONST) return cg_const_global(c, vid);
    if (f->is_layer) {
        for (int a = 0; a < f->n_args; a++)
            if (f->arg_vid[a] == vid) return f->arg_val[a];
        IR_ASSERT(!"value is not an argument of the layer");
    }
    CgAddr a = c->plan.addr[vid];
    LLVMValueRef base = NULL;
    switch (a.kind) {
    case MEM_CONST: base = cg_const_global(c, a.index); break;
    case MEM_INPUT: base = f->in_ptrs[a.index]; break;
    case MEM_OUTPUT: base = f->out_ptrs[a.index]; break;
    case MEM_WORKSPACE: base = f->workspace; break;
    case MEM_NONE: IR_ASSERT(!"value has no address in the memory plan");
    }
    return gep_bytes(c, base, a.offset);
}

void cg_check_status(Cg *c, CgFn *f, LLVMValueRef status)
{
    if (!f->fail) return;
    LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntNE, status, LLVMConstInt(c->t_i32, 0, 0), "");
    LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(c->ctx, f->fn, "ok");
    LLVMBuildCondBr(c->b, bad, f->fail, cont);
    LLVMPositionBuilderAtEnd(c->b, cont);
}

/* ---------------------------------------------------------------- run() and layers */

static void fn_begin(Cg *c, CgFn *f, LLVMValueRef fn)
{
    f->fn = fn;
    f->entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, fn, "body");
    LLVMPositionBuilderAtEnd(c->b, f->entry);
    LLVMBuildBr(c->b, body);
    LLVMPositionBuilderAtEnd(c->b, body);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
}

static void copy_bytes(Cg *c, LLVMValueRef dst, LLVMValueRef src, int64_t n)
{
    if (n <= 0) return;
    LLVMBuildMemMove(c->b, dst, 1, src, 1, LLVMConstInt(c->t_i64, (unsigned long long)n, 0));
}

static LLVMValueRef emit_run(Cg *c, Diag *d)
{
    const Graph *g = c->g;
    LLVMTypeRef pt[4] = {c->t_ptr, c->t_ptr, c->t_ptr, c->t_ptr};
    LLVMValueRef fn = LLVMAddFunction(c->mod, "ppc_run", LLVMFunctionType(c->t_i32, pt, 4, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    CgFn f;
    memset(&f, 0, sizeof f);
    fn_begin(c, &f, fn);
    f.host = LLVMGetParam(fn, 0);
    f.workspace = LLVMGetParam(fn, 3);
    f.in_ptrs = xcalloc((size_t)g->n_inputs + 1, sizeof *f.in_ptrs);
    f.out_ptrs = xcalloc((size_t)g->n_outputs + 1, sizeof *f.out_ptrs);
    for (int io = 0; io < 2; io++) {
        int n = io ? g->n_outputs : g->n_inputs;
        LLVMValueRef arr = LLVMGetParam(fn, io ? 2 : 1);
        for (int k = 0; k < n; k++) {
            LLVMValueRef idx = LLVMConstInt(c->t_i64, (unsigned long long)k, 0);
            LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, c->t_ptr, arr, &idx, 1, "");
            (io ? f.out_ptrs : f.in_ptrs)[k] = LLVMBuildLoad2(c->b, c->t_ptr, p, io ? "out" : "in");
        }
    }
    f.fail = LLVMAppendBasicBlockInContext(c->ctx, fn, "fail");
    int rc = 0;
    for (int i = 0; i < g->n_nodes && !rc; i++) rc = cg_node_emit(c, &f, i, d);
    if (!rc) {
        for (int k = 0; k < g->n_outputs; k++) {
            int vid = g->outputs[k];
            if (cg_addr_equal(cg_static_addr(c, vid), (CgAddr){MEM_OUTPUT, k, 0})) continue;
            copy_bytes(c, f.out_ptrs[k], cg_value_addr(c, &f, vid), cg_value_bytes(&g->values[vid]));
        }
        LLVMBuildRet(c->b, LLVMConstInt(c->t_i32, 0, 0));
        LLVMPositionBuilderAtEnd(c->b, f.fail);
        LLVMBuildRet(c->b, LLVMConstInt(c->t_i32, 1, 0));
        if (!LLVMGetFirstUse(LLVMBasicBlockAsValue(f.fail))) LLVMDeleteBasicBlock(f.fail);
    }
    free(f.in_ptrs);
    free(f.out_ptrs);
    return rc ? NULL : fn;
}

/* The argument values of node i's layer entry point: distinct non-constant inputs, outputs. */
static int *layer_arg_vids(const Graph *g, int i, int *n)
{
    const Node *nd = &g->nodes[i];
    int *v = xmalloc(((size_t)nd->n_in + (size_t)nd->n_out + 1) * sizeof *v);
    *n = 0;
    for (int k = 0; k < nd->n_in; k++) {
        int vid = nd->in[k];
        if (vid < 0 || g->values[vid].kind == VAL_CONST) continue;
        int dup = 0;
        for (int j = 0; j < *n; j++) dup |= v[j] == vid;
        if (!dup) v[(*n)++] = vid;
    }
    for (int k = 0; k < nd->n_out; k++)
        if (nd->out[k] >= 0) v[(*n)++] = nd->out[k];
    return v;
}

static LLVMValueRef emit_layer(Cg *c, int i, const int *args, int n_args, Diag *d)
{
    LLVMTypeRef *pt = xmalloc(((size_t)n_args + 1) * sizeof *pt);
    for (int a = 0; a <= n_args; a++) pt[a] = c->t_ptr;
    char name[64];
    snprintf(name, sizeof name, "ppc_layer_%d", i);
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->t_void, pt, (unsigned)n_args + 1, 0));
    free(pt);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    CgFn f;
    memset(&f, 0, sizeof f);
    fn_begin(c, &f, fn);
    f.is_layer = 1;
    f.host = LLVMGetParam(fn, 0);
    f.n_args = n_args;
    f.arg_vid = args;
    f.arg_val = xmalloc(((size_t)n_args + 1) * sizeof *f.arg_val);
    for (int a = 0; a < n_args; a++) f.arg_val[a] = LLVMGetParam(fn, (unsigned)a + 1);
    int rc = cg_node_emit(c, &f, i, d);
    if (!rc) LLVMBuildRetVoid(c->b);
    free(f.arg_val);
    return rc ? NULL : fn;
}

/* ---------------------------------------------------------------- setup and teardown */

static void diag_handler(LLVMDiagnosticInfoRef di, void *ctx)
{
    Cg *c = ctx;
    if (LLVMGetDiagInfoSeverity(di) != LLVMDSError || c->diag_msg[0]) return;
    char *msg = LLVMGetDiagInfoDescription(di);
    snprintf(c->diag_msg, sizeof c->diag_msg, "%s", msg);
    LLVMDisposeMessage(msg);
}

static void basic_types(Cg *c)
{
    c->t_void = LLVMVoidTypeInContext(c->ctx);
    c->t_i8 = LLVMInt8TypeInContext(c->ctx);
    c->t_i32 = LLVMInt32TypeInContext(c->ctx);
    c->t_i64 = LLVMInt64TypeInContext(c->ctx);
    c->t_f64 = LLVMDoubleTypeInContext(c->ctx);
    c->t_ptr = LLVMPointerTypeInContext(c->ctx, 0);
    LLVMTypeRef task[3] = {c->t_ptr, c->t_i64, c->t_i64};
    c->t_task = LLVMFunctionType(c->t_void, task, 3, 0);
    LLVMTypeRef pfor[5] = {c->t_ptr, c->t_ptr, c->t_ptr, c->t_i64, c->t_i64};
    c->t_pfor = LLVMFunctionType(c->t_void, pfor, 5, 0);
    LLVMTypeRef range[4] = {c->t_ptr, c->t_ptr, c->t_i64, c->t_i64};
    c->t_range = LLVMFunctionType(c->t_void, range, 4, 0);
    LLVMTypeRef eval[5] = {c->t_ptr, c->t_ptr, c->t_ptr, c->t_ptr, c->t_ptr};
    c->t_eval = LLVMFunctionType(c->t_i32, eval, 5, 0);
}

static void print_stats(Cg *c)
{
    FILE *s = c->o->stats;
    const Graph *g = c->g;
    int count[3] = {0};
    for (int i = 0; i < g->n_nodes; i++) count[c->code[i].kind]++;
    fprintf(s, "stats: codegen for %s (cpu %s, %d-bit vectors): %d layers: %d native, %d fallback, %d views\n",
            c->o->target->triple, c->o->target->cpu, c->o->target->facts.vector_bits, g->n_nodes,
            count[CG_CODE_NATIVE], count[CG_CODE_FALLBACK], count[CG_CODE_VIEW]);
    for (int i = 0; i < g->n_nodes; i++) {
        char buf[256];
        fprintf(s, "stats:   layer %-4d %-28s %-18s %s\n", i, g->nodes[i].name, ir_op_name(g->nodes[i].op),
                cg_node_describe(c, i, buf, sizeof buf));
    }
    fprintf(s, "stats: workspace peak %lld bytes (%.2f MB) vs %lld bytes (%.2f MB) for all intermediate tensors "
            "(plan: %s)\n", (long long)c->plan.workspace, (double)c->plan.workspace / 1e6,
            (long long)c->plan.tensor_bytes, (double)c->plan.tensor_bytes / 1e6,
            c->plan.from_pass ? "plan-memory pass" : "codegen, one slot per value");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check_input(const Cg *c, Diag *d)
{
    const Graph *g = c->g;
    const CgOptions *o = c->o;
    if (o->emit == CG_EMIT_SO && !o->target->is_host_arch)
        return diag_error(d, "--emit=so links with this machine's C compiler; for target %s use --emit=obj",
                          o->target->triple);
    if (g->n_outputs < 1) return diag_error(d, "the graph has no outputs");
    /* the values the code touches (passes may leave orphans behind) */
    char *used = xcalloc((size_t)g->n_values + 1, 1);
    for (int k = 0; k < g->n_inputs; k++) used[g->inputs[k]] = 1;
    for (int k = 0; k < g->n_outputs; k++) used[g->outputs[k]] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) used[g->nodes[i].in[k]] = 1;
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) used[g->nodes[i].out[k]] = 1;
    }
    int rc = 0;
    for (int v = 0; v < g->n_values && !rc; v++) {
        const Value *val = &g->values[v];
        if (!used[v]) continue;
        if (val->dtype == DT_UNDEF)
            rc = diag_error(d, "value '%s' has no type (shape inference has not run)", val->name);
        else if (val->kind == VAL_CONST && (uint64_t)cg_value_bytes(val) > UINT32_MAX)
            rc = diag_error(d, "constant '%s' has %lld bytes; LLVM constants are limited to 4 GiB", val->name,
                            (long long)cg_value_bytes(val));
    }
    free(used);
    return rc;
}

int cg_compile(const Graph *g, const CgOptions *o, const char *out_path, Diag *d)
{
    double t0 = now_s();
    Cg c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.o = o;
    if (check_input(&c, d) || cg_plan_build(g, &c.plan, d)) return -1;
    int rc = -1;
    LLVMValueRef *layers = NULL;
    int **layer_args = NULL, *n_layer_args = NULL;
    c.ctx = LLVMContextCreate();
    LLVMContextSetDiagnosticHandler(c.ctx, diag_handler, &c);
    c.mod = LLVMModuleCreateWithNameInContext(g->name && *g->name ? g->name : "model", c.ctx);
    c.b = LLVMCreateBuilderInContext(c.ctx);
    c.const_gv = xcalloc((size_t)g->n_values + 1, sizeof *c.const_gv);
    c.code = xcalloc((size_t)g->n_nodes + 1, sizeof *c.code);
    if (!(c.tm = cg_target_machine(o->target, o->opt_level, d))) goto out;
    LLVMSetTarget(c.mod, o->target->triple);
    c.dl = LLVMCreateTargetDataLayout(c.tm);
    LLVMSetModuleDataLayout(c.mod, c.dl);
    basic_types(&c);
    cg_fallback_types(&c);
    cg_abi_types(&c);
    if (cg_kernels_link(&c, d)) goto out;

    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->n_in + n->n_out > c.max_tensors) c.max_tensors = n->n_in + n->n_out;
        if (cg_node_is_view(g, n)) {
            c.code[i].kind = CG_CODE_VIEW;
            continue;
        }
        if (cg_native_prepare(&c, i, d) < 0) goto out;
    }
    LLVMValueRef run = emit_run(&c, d);
    if (!run) goto out;
    if (o->debug_layers) {
        layers = xcalloc((size_t)g->n_nodes + 1, sizeof *layers);
        layer_args = xcalloc((size_t)g->n_nodes + 1, sizeof *layer_args);
        n_layer_args = xcalloc((size_t)g->n_nodes + 1, sizeof *n_layer_args);
        for (int i = 0; i < g->n_nodes; i++) {
            layer_args[i] = layer_arg_vids(g, i, &n_layer_args[i]);
            if (!(layers[i] = emit_layer(&c, i, layer_args[i], n_layer_args[i], d))) goto out;
        }
    }
    if (cg_abi_emit(&c, run, layers, layer_args, n_layer_args, d)) goto out;
    if (o->stats) print_stats(&c);
    double t_built = now_s();
    cg_kernels_finish(&c);
    cg_target_set_attributes(&c);
    char *err = NULL;
    if (LLVMVerifyModule(c.mod, LLVMReturnStatusAction, &err)) {
        diag_error(d, "internal error: the generated module does not verify: %.300s", err ? err : "");
        LLVMDisposeMessage(err);
        goto out;
    }
    LLVMDisposeMessage(err);
    if (cg_output_optimise(&c, d)) goto out;
    double t_opt = now_s();
    if (cg_output_write(&c, out_path, d)) goto out;
    if (o->stats)
        fprintf(o->stats, "stats: codegen time: module %.2f s, LLVM %s %.2f s, output %.2f s\n", t_built - t0,
                (const char *[]){"default<O0>", "default<O1>", "default<O2>", "default<O3>"}[o->opt_level & 3],
                t_opt - t_built, now_s() - t_opt);
    rc = 0;
out:
    for (int i = 0; i < g->n_nodes; i++) {
        if (c.code[i].call) cg_call_free(c.code[i].call);
        free(c.code[i].call);
        if (layer_args) free(layer_args[i]);
    }
    free(layers), free(layer_args), free(n_layer_args);
    for (int k = 0; k < c.n_kernel_fns; k++) free(c.kernel_fns[k]);
    free(c.kernel_fns);
    free(c.code);
    free(c.const_gv);
    LLVMDisposeBuilder(c.b);
    LLVMDisposeModule(c.mod);
    if (c.dl) LLVMDisposeTargetData(c.dl);
    if (c.tm) LLVMDisposeTargetMachine(c.tm);
    LLVMContextDispose(c.ctx);
    cg_plan_free(&c.plan);
    return rc;
}
