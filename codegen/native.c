/* native.c — nodes a lowering accepts (lowering.h): one native kernel call per node.
 *
 * Preparation (once per node): the lowering table is asked in order; the accepted call's
 * parameter struct becomes a private constant, its blobs (packed weights, ...) read-only globals
 * (the malloc'ed copies are freed at once), and a task function
 *     void task.N(void *bufs, int64_t b, int64_t e) { range_fn(&params.N, bufs, b, e); }
 * is created; range_fn is always-inlined there, so LLVM specialises the kernel on the constant
 * parameters. Emission (in run() and in the node's layer entry point): the buffer addresses go
 * into a stack array and host->parallel_for(host->pool, task.N, bufs, n_work, grain) runs the
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
    for (; l->lower; l++) {
        cg_call_init(call, NULL);
        int r = l->lower(g, n, &c->o->target->facts, call, d);
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
    snprintf(name, sizeof name, "params.%d", i);
    LLVMValueRef params = cg_bytes_global(c, call->params, call->params_size, 64, name, d);
    if (!params) return -1;
    for (int k = 0; k < call->n_blobs; k++) {
        snprintf(name, sizeof name, "blob.%d.%d", i, k);
        int align = call->blob_align[k] > 0 ? call->blob_align[k] : 64;
        if (!(nc->blob_gv[k] = cg_bytes_global(c, call->blobs[k], call->blob_size[k], (unsigned)align, name, d)))
            return -1;
    }
    cg_call_free(call); /* LLVM has its own copy of the blobs now */

    snprintf(name, sizeof name, "task.%d", i);
    LLVMValueRef task = LLVMAddFunction(c->mod, name, c->t_task);
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
    nc->task = task;
    nc->kind = CG_CODE_NATIVE;
    return 1;
}

int cg_native_emit(Cg *c, CgFn *f, int i, Diag *d)
{
    (void)d;
    const CgNodeCode *nc = &c->code[i];
    const CgKernelCall *call = nc->call;
    if (call->n_work == 0) return 0;
    if (!f->s_bufs) f->s_bufs = cg_entry_alloca(c, f, LLVMArrayType(c->t_ptr, CG_MAX_BUFS), "bufs");
    for (int k = 0; k < call->n_bufs; k++) {
        const CgBuf *bf = &call->bufs[k];
        LLVMValueRef v = bf->kind == CG_BUF_VALUE ? cg_value_addr(c, f, bf->value)
                         : bf->kind == CG_BUF_BLOB ? nc->blob_gv[bf->blob]
                                                   : LLVMConstNull(c->t_ptr);
        LLVMValueRef idx = LLVMConstInt(c->t_i64, (unsigned long long)k, 0);
        LLVMBuildStore(c->b, v, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, f->s_bufs, &idx, 1, ""));
    }
    LLVMValueRef n_work = LLVMConstInt(c->t_i64, (unsigned long long)call->n_work, 0);
    if (call->n_work <= call->grain) {
        LLVMValueRef args[3] = {f->s_bufs, LLVMConstInt(c->t_i64, 0, 0), n_work};
        LLVMBuildCall2(c->b, c->t_task, nc->task, args, 3, "");
        return 0;
    }
    LLVMValueRef pf = LLVMBuildLoad2(c->b, c->t_ptr,
                                     LLVMBuildStructGEP2(c->b, c->t_host, f->host, 0, ""), "parallel_for");
    LLVMValueRef pool = LLVMBuildLoad2(c->b, c->t_ptr, LLVMBuildStructGEP2(c->b, c->t_host, f->host, 1, ""), "pool");
    LLVMValueRef args[5] = {pool, nc->task, f->s_bufs, n_work,
                            LLVMConstInt(c->t_i64, (unsigned long long)call->grain, 0)};
    LLVMBuildCall2(c->b, c->t_pfor, pf, args, 5, "");
    return 0;
}
