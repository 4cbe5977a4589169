/* native.c — nodes a lowering accepts (lowering.h): one native kernel call per node.
 *
 * Preparation (once per node): the lowering table is asked in order; the accepted call's
 * parameter struct becomes a private constant, its blobs (packed weights, ...) read-only globals
 * (the malloc'ed copies are freed at once), and a task function
 *     void task.N(void *bufs, int64_t b, int64_t e) { range_fn(&params.N, bufs, b, e); }
 * is created; range_fn is always-inlined there, so LLVM specialises the kernel on the constant
 * parameters. Nodes with the same kernel and the same parameter bytes (repeated blocks of a
 * network: ConvNeXt-T's nine stage-3 blocks, ResNet-50's bottlenecks) share one task, since the
 * task depends on nothing else (blobs and values come in bufs): LLVM compiles it once.
 * Emission (in run() and in the node's layer entry point): the buffer addresses go into a stack
 * array and host->parallel_for(host->pool, task.N, bufs, n_work, grain) runs the
 * work items; a call with no more items than its grain runs the task directly.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

/* Lowerings may only name the node's own inputs and outputs (a layer entry point has no
 * others). */
static int check_call(const Graph *g, const Node *n, const CgKernelCall *call, const char *lname, Diag *d)
{
    if (!call->range_fn || call->n_work < 0 || call->grain < 1 || call->n_bufs < 0 || call->n_bufs > CG_MAX_BUFS ||
        call->params_size > CG_MAX_PARAMS || call->n_blobs < 0 || call->n_blobs > CG_MAX_BLOBS)
        return node_error(d, n, "internal error: lowering '%s' returned an ill-formed call", lname);
    for (int k = 0; k < call->n_bufs; k++) {
        const CgBuf *b = &call->bufs[k];
        int ok = 1;
        if (b->kind == CG_BUF_VALUE) {
            ok = 0;
            for (int j = 0; j < n->n_in; j++) ok |= n->in[j] == b->value && b->value >= 0;
            for (int j = 0; j < n->n_out; j++) ok |= n->out[j] == b->value && b->value >= 0;
        } else if (b->kind == CG_BUF_BLOB) {
            ok = b->blob >= 0 && b->blob < call->n_blobs;
        } else if (b->kind != CG_BUF_NONE) {
            ok = 0;
        }
        if (!ok)
            return node_error(d, n, "internal error: lowering '%s': buffer %d is not one of the node's values or blobs",
                              lname, k);
    }
    (void)g;
    return 0;
}

int cg_native_prepare(Cg *c, int i, Diag *d)
{
    const Graph *g = c->g;
    const Node *n = &g->nodes[i];
    CgKernelCall *call = xmalloc(sizeof *call);
    const CgLowering *l = cg_lowerings;
    CgTarget t = c->o->target->facts;
    t.band_bytes = c->o->debug_layers ? 0 : c->o->pattern_band_bytes; /* layers run one node at a time */
    t.winograd = c->o->no_winograd == 1 ? 0 : c->o->no_winograd == 2 ? 2 : 1;
    for (; l->lower; l++) {
        cg_call_init(call, NULL);
        int r = l->lower(g, n, &t, call, d);
        if (r == 1) break;
        cg_call_free(call);
        if (r < 0) {
            free(call);
            return -1;
        }
    }
    if (!l->lower) {
        free(call);
        return 0;
    }
    CgNodeCode *nc = &c->code[i];
    nc->call = call;
    if (check_call(g, n, call, l->name, d)) return -1;
    LLVMValueRef range = cg_kernels_range_fn(c, call->range_fn, d);
    if (!range) return -1;
    char name[64];
    LLVMValueRef task = NULL;
    for (int j = 0; j < i && !task; j++) { /* an earlier node's identical task */
        const CgNodeCode *o = &c->code[j];
        if (o->kind == CG_CODE_NATIVE && o->call && o->task && !strcmp(o->call->range_fn, call->range_fn) &&
            o->call->params_size == call->params_size && !memcmp(o->call->params, call->params, call->params_size))
            task = o->task;
    }
    for (int k = 0; k < call->n_blobs; k++) {
        snprintf(name, sizeof name, "blob.%d.%d", i, k);
        int align = call->blob_align[k] > 0 ? call->blob_align[k] : 64;
        if (!(nc->blob_gv[k] = cg_bytes_global(c, call->blobs[k], call->blob_size[k], (unsigned)align, name, d)))
            return -1;
    }
    cg_call_free(call); /* LLVM has its own copy of the blobs now */

    if (!task) {
        snprintf(name, sizeof name, "params.%d", i);
        LLVMValueRef params = cg_bytes_global(c, call->params, call->params_size, 64, name, d);
        if (!params) return -1;
        snprintf(name, sizeof name, "task.%d", i);
        task = LLVMAddFunction(c->mod, name, c->t_task);
        LLVMSetLinkage(task, LLVMInternalLinkage);
        LLVMAddAttributeAtIndex(task, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
        LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c->ctx, task, "entry");
        LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);
        LLVMPositionBuilderAtEnd(b, bb);
        LLVMValueRef args[4] = {params, LLVMGetParam(task, 0), LLVMGetParam(task, 1), LLVMGetParam(task, 2)};
        LLVMBuildCall2(b, c->t_range, range, args, 4, "");
        LLVMBuildRetVoid(b);
        LLVMDisposeBuilder(b);
    }
    nc->task = task;
    nc->kind = CG_CODE_NATIVE;
    if (nc->call->n_bands > 0) { /* the banded wrapper: the range offset comes in bufs[CG_MAX_BUFS-1] */
        snprintf(name, sizeof name, "task.%d.band", i);
        LLVMValueRef tw = LLVMAddFunction(c->mod, name, c->t_task);
        LLVMSetLinkage(tw, LLVMInternalLinkage);
        LLVMBuilderRef bw = LLVMCreateBuilderInContext(c->ctx);
        LLVMPositionBuilderAtEnd(bw, LLVMAppendBasicBlockInContext(c->ctx, tw, "entry"));
        LLVMValueRef last = LLVMConstInt(c->t_i64, CG_MAX_BUFS - 1, 0);
        LLVMValueRef off = LLVMBuildPtrToInt(
            bw, LLVMBuildLoad2(bw, c->t_ptr, LLVMBuildInBoundsGEP2(bw, c->t_ptr, LLVMGetParam(tw, 0), &last, 1, ""), ""),
            c->t_i64, "off");
        LLVMValueRef wargs[3] = {LLVMGetParam(tw, 0), LLVMBuildAdd(bw, LLVMGetParam(tw, 1), off, ""),
                                 LLVMBuildAdd(bw, LLVMGetParam(tw, 2), off, "")};
        LLVMBuildCall2(bw, c->t_task, task, wargs, 3, "");
        LLVMBuildRetVoid(bw);
        LLVMDisposeBuilder(bw);
        nc->task_off = tw;
    }
    return 1;
}

/* Work items [lo, hi) of node i: its buffers into the bufs array, then the task (directly when
 * the range is no larger than the grain, else through host->parallel_for). banded: through the
 * banded wrapper task, which gets [0, hi - lo) and adds lo (passed in bufs[CG_MAX_BUFS-1]). */
static void emit_range(Cg *c, CgFn *f, int i, int64_t lo, int64_t hi, int banded)
{
    const CgNodeCode *nc = &c->code[i];
    const CgKernelCall *call = nc->call;
    if (!f->s_bufs) f->s_bufs = cg_entry_alloca(c, f, LLVMArrayType(c->t_ptr, CG_MAX_BUFS), "bufs");
    for (int k = 0; k < call->n_bufs; k++) {
        const CgBuf *bf = &call->bufs[k];
        LLVMValueRef v = bf->kind == CG_BUF_VALUE ? cg_value_addr(c, f, bf->value)
                         : bf->kind == CG_BUF_BLOB ? nc->blob_gv[bf->blob]
                                                   : LLVMConstNull(c->t_ptr);
        LLVMValueRef idx = LLVMConstInt(c->t_i64, (unsigned long long)k, 0);
        LLVMBuildStore(c->b, v, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, f->s_bufs, &idx, 1, ""));
    }
    LLVMValueRef task = nc->task;
    if (banded) {
        LLVMValueRef idx = LLVMConstInt(c->t_i64, CG_MAX_BUFS - 1, 0);
        LLVMBuildStore(c->b, LLVMConstIntToPtr(LLVMConstInt(c->t_i64, (unsigned long long)lo, 0), c->t_ptr),
                       LLVMBuildInBoundsGEP2(c->b, c->t_ptr, f->s_bufs, &idx, 1, ""));
        task = nc->task_off, hi -= lo, lo = 0;
    }
    LLVMValueRef b = LLVMConstInt(c->t_i64, (unsigned long long)lo, 0), e = LLVMConstInt(c->t_i64, (unsigned long long)hi, 0);
    if (hi - lo <= call->grain) {
        LLVMValueRef args[3] = {f->s_bufs, b, e};
        LLVMBuildCall2(c->b, c->t_task, task, args, 3, "");
        return;
    }
    LLVMValueRef pf = LLVMBuildLoad2(c->b, c->t_ptr,
                                     LLVMBuildStructGEP2(c->b, c->t_host, f->host, 0, ""), "parallel_for");
    LLVMValueRef pool = LLVMBuildLoad2(c->b, c->t_ptr, LLVMBuildStructGEP2(c->b, c->t_host, f->host, 1, ""), "pool");
    LLVMValueRef args[5] = {pool, task, f->s_bufs, e, LLVMConstInt(c->t_i64, (unsigned long long)call->grain, 0)};
    LLVMBuildCall2(c->b, c->t_pfor, pf, args, 5, "");
}

int cg_native_emit(Cg *c, CgFn *f, int i, Diag *d)
{
    const CgKernelCall *call = c->code[i].call;
    if (call->n_work == 0) return 0;
    if (call->n_bands == 0 || f->is_layer) {
        /* a layer entry point runs one node: only compiles without banding have them */
        if (call->n_bands) return diag_error(d, "internal error: banded node %d in a layer entry point", i);
        emit_range(c, f, i, 0, call->n_work, 0);
        return 0;
    }
    /* a banded pair: the PatternPad (i) emits both itself and its PatternConv (i + 1), band by
     * band; the conv's own turn emits nothing */
    const Graph *g = c->g;
    const Node *n = &g->nodes[i];
    if (n->op == OP_PATTERN_CONV) {
        const CgKernelCall *pad = i > 0 && c->code[i - 1].kind == CG_CODE_NATIVE ? c->code[i - 1].call : NULL;
        if (pad && pad->n_bands == call->n_bands && g->nodes[i - 1].op == OP_PATTERN_PAD) return 0;
        return diag_error(d, "internal error: banded PatternConv %d without its PatternPad", i);
    }
    const CgKernelCall *conv = i + 1 < g->n_nodes && c->code[i + 1].kind == CG_CODE_NATIVE ? c->code[i + 1].call : NULL;
    if (n->op != OP_PATTERN_PAD || !conv || conv->n_bands != call->n_bands || g->nodes[i + 1].op != OP_PATTERN_CONV)
        return diag_error(d, "internal error: banded PatternPad %d without its PatternConv", i);
    for (int k = 0; k < call->n_bands; k++) {
        emit_range(c, f, i, call->band_lo[k], call->band_hi[k], 1);
        emit_range(c, f, i + 1, conv->band_lo[k], conv->band_hi[k], 1);
    }
    return 0;
}
