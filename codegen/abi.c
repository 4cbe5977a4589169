/* abi.c — the compiled model's binary interface (runtime/ppc_abi.h) as LLVM constants.
 *
 * The LLVM struct types below mirror PpcHost, PpcTensorDesc, PpcLayerDesc and PpcModelDesc
 * field by field; cg_abi_types checks each offset against this compiler's offsetof (x86-64 and
 * AArch64 lay them out alike). The descriptor is one private constant: magic, version,
 * producer, target ("TRIPLE CPU"), the graph inputs and outputs (names, ONNX dtype codes, dims,
 * nbytes), the workspace size, the run entry point and, with --debug-layers, one PpcLayerDesc per
 * node (signature "h" then one 'p' per buffer argument; arg_names "" for the host then the IR
 * value names; the node's output types). The only exported symbol is ppc_model_v1, a function
 * returning the descriptor's address.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "runtime/ppc_abi.h"

static void check_layout(Cg *c, LLVMTypeRef t, size_t size, const size_t *offs, unsigned n)
{
    IR_ASSERT(LLVMCountStructElementTypes(t) == n);
    IR_ASSERT(LLVMABISizeOfType(c->dl, t) == size);
    for (unsigned k = 0; k < n; k++) IR_ASSERT(LLVMOffsetOfElement(c->dl, t, k) == offs[k]);
}

void cg_abi_types(Cg *c)
{
    LLVMTypeRef i32 = c->t_i32, i64 = c->t_i64, p = c->t_ptr;
    c->t_host = LLVMStructCreateNamed(c->ctx, "PpcHost");
    LLVMTypeRef hf[4] = {p, p, i32, i32};
    LLVMStructSetBody(c->t_host, hf, 4, 0);
    size_t ho[4] = {offsetof(PpcHost, parallel_for), offsetof(PpcHost, pool), offsetof(PpcHost, n_threads),
                    offsetof(PpcHost, reserved)};
    check_layout(c, c->t_host, sizeof(PpcHost), ho, 4);

    c->t_tdesc = LLVMStructCreateNamed(c->ctx, "PpcTensorDesc");
    LLVMTypeRef tf[5] = {p, i32, i32, p, i64};
    LLVMStructSetBody(c->t_tdesc, tf, 5, 0);
    size_t to[5] = {offsetof(PpcTensorDesc, name), offsetof(PpcTensorDesc, dtype), offsetof(PpcTensorDesc, rank),
                    offsetof(PpcTensorDesc, dims), offsetof(PpcTensorDesc, nbytes)};
    check_layout(c, c->t_tdesc, sizeof(PpcTensorDesc), to, 5);

    c->t_ldesc = LLVMStructCreateNamed(c->ctx, "PpcLayerDesc");
    LLVMTypeRef lf[10] = {p, p, p, i32, i32, p, p, i32, i32, p};
    LLVMStructSetBody(c->t_ldesc, lf, 10, 0);
    size_t lo[10] = {offsetof(PpcLayerDesc, name),      offsetof(PpcLayerDesc, op),
                     offsetof(PpcLayerDesc, signature), offsetof(PpcLayerDesc, n_args),
                     offsetof(PpcLayerDesc, reserved),  offsetof(PpcLayerDesc, arg_names),
                     offsetof(PpcLayerDesc, outputs),   offsetof(PpcLayerDesc, n_outputs),
                     offsetof(PpcLayerDesc, reserved2), offsetof(PpcLayerDesc, fn)};
    check_layout(c, c->t_ldesc, sizeof(PpcLayerDesc), lo, 10);

    c->t_mdesc = LLVMStructCreateNamed(c->ctx, "PpcModelDesc");
    LLVMTypeRef mf[13] = {i32, i32, p, p, i32, i32, p, p, i64, p, i32, i32, p};
    LLVMStructSetBody(c->t_mdesc, mf, 13, 0);
    size_t mo[13] = {offsetof(PpcModelDesc, magic),          offsetof(PpcModelDesc, abi_version),
                     offsetof(PpcModelDesc, producer),       offsetof(PpcModelDesc, target),
                     offsetof(PpcModelDesc, n_inputs),       offsetof(PpcModelDesc, n_outputs),
                     offsetof(PpcModelDesc, inputs),         offsetof(PpcModelDesc, outputs),
                     offsetof(PpcModelDesc, workspace_size), offsetof(PpcModelDesc, run),
                     offsetof(PpcModelDesc, n_layers),       offsetof(PpcModelDesc, reserved),
                     offsetof(PpcModelDesc, layers)};
    check_layout(c, c->t_mdesc, sizeof(PpcModelDesc), mo, 13);
}

static LLVMValueRef i32c(Cg *c, long long v) { return LLVMConstInt(c->t_i32, (unsigned long long)v, 1); }
static LLVMValueRef i64c(Cg *c, long long v) { return LLVMConstInt(c->t_i64, (unsigned long long)v, 1); }

/* A PpcTensorDesc constant for value vid. */
static LLVMValueRef tensor_desc(Cg *c, int vid)
{
    const Value *v = &c->g->values[vid];
    LLVMValueRef dims = LLVMConstNull(c->t_ptr);
    if (v->rank > 0) {
        LLVMValueRef e[IR_MAX_RANK];
        for (int k = 0; k < v->rank; k++) e[k] = i64c(c, v->dims[k]);
        dims = cg_const_data(c, LLVMConstArray(c->t_i64, e, (unsigned)v->rank), "dims", 8);
    }
    LLVMValueRef f[5] = {cg_cstring(c, v->name), i32c(c, dtype_to_onnx(v->dtype)), i32c(c, v->rank), dims,
                         i64c(c, cg_value_bytes(v))};
    return LLVMConstNamedStruct(c->t_tdesc, f, 5);
}

/* A constant array of descriptors (NULL pointer when n == 0). */
static LLVMValueRef table(Cg *c, LLVMTypeRef t, LLVMValueRef *e, int n, const char *name)
{
    if (n <= 0) return LLVMConstNull(c->t_ptr);
    return cg_const_data(c, LLVMConstArray(t, e, (unsigned)n), name, 8);
}

static LLVMValueRef tensor_table(Cg *c, const int *vids, int n, const char *name)
{
    LLVMValueRef *e = xmalloc(((size_t)n + 1) * sizeof *e);
    for (int k = 0; k < n; k++) e[k] = tensor_desc(c, vids[k]);
    LLVMValueRef t = table(c, c->t_tdesc, e, n, name);
    free(e);
    return t;
}

static LLVMValueRef layer_desc(Cg *c, int i, LLVMValueRef fn, const int *args, int n_args)
{
    const Node *n = &c->g->nodes[i];
    char *sig = xmalloc((size_t)n_args + 2);
    sig[0] = 'h';
    for (int a = 0; a < n_args; a++) sig[a + 1] = 'p';
    sig[n_args + 1] = 0;
    LLVMValueRef *names = xmalloc(((size_t)n_args + 1) * sizeof *names);
    names[0] = cg_cstring(c, "");
    for (int a = 0; a < n_args; a++) names[a + 1] = cg_cstring(c, c->g->values[args[a]].name);
    LLVMValueRef name_tab = table(c, c->t_ptr, names, n_args + 1, "layer.args");
    int *outs = xmalloc(((size_t)n->n_out + 1) * sizeof *outs), n_outs = 0;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) outs[n_outs++] = n->out[k];
    char label[64];
    if (!n->name || !*n->name) snprintf(label, sizeof label, "node%d", i);
    LLVMValueRef f[10] = {cg_cstring(c, n->name && *n->name ? n->name : label),
                          cg_cstring(c, ir_op_name(n->op)),
                          cg_cstring(c, sig),
                          i32c(c, n_args + 1),
                          i32c(c, 0),
                          name_tab,
                          tensor_table(c, outs, n_outs, "layer.outputs"),
                          i32c(c, n_outs),
                          i32c(c, 0),
                          fn};
    free(sig), free(names), free(outs);
    return LLVMConstNamedStruct(c->t_ldesc, f, 10);
}

int cg_abi_emit(Cg *c, LLVMValueRef run, LLVMValueRef *layers, int *const *layer_args, const int *n_layer_args,
                Diag *d)
{
    (void)d;
    const Graph *g = c->g;
    const CgTargetDesc *td = c->o->target;
    LLVMValueRef layer_tab = LLVMConstNull(c->t_ptr);
    int n_layers = layers ? g->n_nodes : 0;
    if (n_layers) {
        LLVMValueRef *e = xmalloc((size_t)n_layers * sizeof *e);
        for (int i = 0; i < n_layers; i++) e[i] = layer_desc(c, i, layers[i], layer_args[i], n_layer_args[i]);
        layer_tab = table(c, c->t_ldesc, e, n_layers, "layers");
        free(e);
    }
    char target[256];
    snprintf(target, sizeof target, "%s %s", td->triple, td->cpu);
    LLVMValueRef f[13] = {
        i32c(c, (long long)PPC_ABI_MAGIC),
        i32c(c, PPC_ABI_VERSION),
        cg_cstring(c, c->o->producer ? c->o->producer : "ppcc"),
        cg_cstring(c, target),
        i32c(c, g->n_inputs),
        i32c(c, g->n_outputs),
        tensor_table(c, g->inputs, g->n_inputs, "inputs"),
        tensor_table(c, g->outputs, g->n_outputs, "outputs"),
        i64c(c, c->plan.workspace),
        run,
        i32c(c, n_layers),
        i32c(c, 0),
        layer_tab,
    };
    LLVMValueRef desc = cg_const_data(c, LLVMConstNamedStruct(c->t_mdesc, f, 13), "ppc_model_desc", 8);

    LLVMValueRef get = LLVMAddFunction(c->mod, PPC_MODEL_SYMBOL, LLVMFunctionType(c->t_ptr, NULL, 0, 0));
    LLVMSetLinkage(get, LLVMExternalLinkage);
    LLVMSetVisibility(get, LLVMDefaultVisibility);
    LLVMAddAttributeAtIndex(get, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c->ctx, get, "entry"));
    LLVMBuildRet(b, desc);
    LLVMDisposeBuilder(b);
    return 0;
}
