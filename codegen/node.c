/* node.c — the code of one IR node inside run() or its layer entry point.
 *
 * Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, byte-identical
 * LayoutTransform) emit nothing in run() when the plan gave input and output the same address,
 * else a byte copy. A Concat whose inputs the plan already placed back to back inside its output
 * (channel concat in place: outer dimensions 1) emits nothing. Everything else is a native
 * kernel call (native.c) or the interpreter kernel (fallback.c). Layer entry points get distinct
 * caller buffers, so there views copy and concats run.
 */
#include <string.h>

#include "codegen/codegen.h"

/* Are node i's inputs already where its output needs them (run() only)? */
static int concat_in_place(const Cg *c, int i)
{
    const Graph *g = c->g;
    const Node *n = &g->nodes[i];
    if (n->op != OP_CONCAT || n->n_out != 1 || n->out[0] < 0) return 0;
    const Value *y = &g->values[n->out[0]];
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0) axis += y->rank;
    if (axis < 0 || axis >= y->rank) return 0;
    for (int k = 0; k < axis; k++)
        if (y->dims[k] != 1) return 0;
    CgAddr at = cg_static_addr(c, n->out[0]);
    if (at.kind == MEM_CONST || at.kind == MEM_NONE) return 0;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0) return 0;
        if (!cg_addr_equal(cg_static_addr(c, n->in[k]), at)) return 0;
        at.offset += cg_value_bytes(&g->values[n->in[k]]);
    }
    return 1;
}

/* Does node i emit no code in run()? */
static int no_code(const Cg *c, int i)
{
    const Node *n = &c->g->nodes[i];
    if (c->code[i].kind == CG_CODE_VIEW)
        return cg_addr_equal(cg_static_addr(c, n->in[0]), cg_static_addr(c, n->out[0]));
    return concat_in_place(c, i);
}

int cg_node_emit(Cg *c, CgFn *f, int i, Diag *d)
{
    const Node *n = &c->g->nodes[i];
    if (!f->is_layer && no_code(c, i)) return 0;
    switch (c->code[i].kind) {
    case CG_CODE_VIEW: {
        int64_t bytes = cg_value_bytes(&c->g->values[n->out[0]]);
        if (bytes > 0)
            LLVMBuildMemMove(c->b, cg_value_addr(c, f, n->out[0]), 1, cg_value_addr(c, f, n->in[0]), 1,
                             LLVMConstInt(c->t_i64, (unsigned long long)bytes, 0));
        return 0;
    }
    case CG_CODE_NATIVE: return cg_native_emit(c, f, i, d);
    case CG_CODE_FALLBACK: return cg_fallback_emit(c, f, i, d);
    }
    return 0;
}

const char *cg_node_describe(const Cg *c, int i, char *buf, size_t n)
{
    const CgNodeCode *nc = &c->code[i];
    if (nc->kind != CG_CODE_VIEW && no_code(c, i)) {
        snprintf(buf, n, "concat in place (no code)");
        return buf;
    }
    switch (nc->kind) {
    case CG_CODE_VIEW:
        snprintf(buf, n, "%s", no_code(c, i) ? "view: aliases its input (no code)" : "view: byte copy");
        break;
    case CG_CODE_NATIVE:
        snprintf(buf, n, "native: %s", nc->call->note[0] ? nc->call->note : nc->call->range_fn);
        break;
    case CG_CODE_FALLBACK:
        snprintf(buf, n, "fallback: %s (interpreter kernel)", cg_fallback_fn_name(c->g->nodes[i].op));
        break;
    }
    return buf;
}
