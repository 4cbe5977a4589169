/* plan.c — where every value lives while run() executes (docs/codegen.md §4).
 *
 * When the plan-memory pass has run, its plan (Value.mem_kind/mem_index/mem_offset and
 * Graph.workspace_size) is used after a consistency check (every buffer inside its region);
 * values it left unplanned that a node still writes (an unused optional output) get extra
 * workspace slots after its peak. Without that pass, codegen plans simply: graph inputs are read
 * in place, the producer of a graph output writes straight into the user's output buffer, views
 * alias their input, and every other intermediate value gets its own 64-byte aligned workspace
 * slot (no reuse: the workspace is the sum of the intermediate tensors).
 *
 * Constants are always their own read-only global (CgAddr MEM_CONST, index = the value id).
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

#define ALIGN64(x) (((x) + 63) & ~(int64_t)63)

int64_t cg_value_bytes(const Value *v) { return ir_value_numel(v) * (int64_t)dtype_size(v->dtype); }

int cg_addr_equal(CgAddr a, CgAddr b) { return a.kind == b.kind && a.index == b.index && a.offset == b.offset; }

int cg_node_is_view(const Graph *g, const Node *n)
{
    switch (n->op) {
    case OP_RESHAPE:
    case OP_FLATTEN:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
    case OP_IDENTITY:
    case OP_DROPOUT: /* inference: output 0 is the input; a mask output is not a view */
        break;
    case OP_LAYOUT_TRANSFORM: {
        if (n->n_in < 1 || n->in[0] < 0 || n->out[0] < 0) return 0;
        const char *src = ir_attr_str(n, "src", ""), *dst = ir_attr_str(n, "dst", "");
        if (!strcmp(src, dst)) break;
        /* [N,C,1..] and [N,C/16,1..,16] have the same bytes when C % 16 == 0 */
        const Value *x = &g->values[n->in[0]];
        const Value *y = &g->values[n->out[0]];
        const Value *plain = !strcmp(src, "NCHW") ? x : y;
        if (plain->rank < 2 || plain->dims[1] % IR_LAYOUT_BLOCK) return 0;
        for (int i = 2; i < plain->rank; i++)
            if (plain->dims[i] != 1) return 0;
        break;
    }
    default:
        return 0;
    }
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k] >= 0) return 0;
    return n->n_in >= 1 && n->in[0] >= 0 && n->n_out >= 1 && n->out[0] >= 0 &&
           g->values[n->in[0]].dtype == g->values[n->out[0]].dtype &&
           cg_value_bytes(&g->values[n->in[0]]) == cg_value_bytes(&g->values[n->out[0]]);
}

static int has_pass_plan(const Graph *g)
{
    if (g->workspace_size > 0) return 1;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].mem_kind != MEM_NONE) return 1;
    return 0;
}

static int64_t intermediate_bytes(const Graph *g)
{
    int64_t sum = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) sum += ALIGN64(cg_value_bytes(&g->values[g->nodes[i].out[k]]));
    return sum;
}

/* Check the pass's plan and copy it; unplanned node outputs get slots after its peak. */
static int take_pass_plan(const Graph *g, CgPlan *p, Diag *d)
{
    int64_t ws = ALIGN64(g->workspace_size);
    for (int vid = 0; vid < g->n_values; vid++) {
        const Value *v = &g->values[vid];
        CgAddr *a = &p->addr[vid];
        int64_t bytes = cg_value_bytes(v);
        if (v->kind == VAL_CONST) {
            *a = (CgAddr){MEM_CONST, vid, 0};
            continue;
        }
        *a = (CgAddr){v->mem_kind, v->mem_index, v->mem_offset};
        const char *bad = NULL;
        switch (v->mem_kind) {
        case MEM_NONE: break;
        case MEM_WORKSPACE:
            if (v->mem_offset < 0 || v->mem_offset % 64 || v->mem_offset + bytes > ws) bad = "outside the workspace";
            break;
        case MEM_INPUT:
        case MEM_OUTPUT: {
            int n = v->mem_kind == MEM_INPUT ? g->n_inputs : g->n_outputs;
            const int *ids = v->mem_kind == MEM_INPUT ? g->inputs : g->outputs;
            if (v->mem_index < 0 || v->mem_index >= n || v->mem_offset < 0 ||
                v->mem_offset + bytes > cg_value_bytes(&g->values[ids[v->mem_index]]))
                bad = v->mem_kind == MEM_INPUT ? "outside its input buffer" : "outside its output buffer";
            break;
        }
        case MEM_CONST: {
            int c = v->mem_index;
            if (c < 0 || c >= g->n_values || g->values[c].kind != VAL_CONST || v->mem_offset < 0 ||
                v->mem_offset + bytes > cg_value_bytes(&g->values[c]))
                bad = "not inside a constant";
            break;
        }
        }
        if (bad)
            return diag_error(d, "internal error: memory plan puts value '%s' (%lld bytes at %lld) %s", v->name,
                              (long long)bytes, (long long)v->mem_offset, bad);
    }
    for (int k = 0; k < g->n_inputs; k++) {
        CgAddr *a = &p->addr[g->inputs[k]];
        if (a->kind == MEM_NONE) *a = (CgAddr){MEM_INPUT, k, 0};
        if (!(a->kind == MEM_INPUT && a->index == k && a->offset == 0))
            return diag_error(d, "internal error: memory plan moves graph input '%s'", g->values[g->inputs[k]].name);
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int o = g->nodes[i].out[k];
            if (o < 0 || p->addr[o].kind != MEM_NONE) continue;
            p->addr[o] = (CgAddr){MEM_WORKSPACE, 0, ws};
            ws += ALIGN64(cg_value_bytes(&g->values[o]));
        }
    /* every value a node reads now has a place (produced, graph input or constant) */
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v >= 0 && p->addr[v].kind == MEM_NONE)
                return diag_error(d, "internal error: node '%s' reads value '%s', which has no producer and no place",
                                  g->nodes[i].name, g->values[v].name);
        }
    p->workspace = ws;
    p->from_pass = 1;
    return 0;
}

static void simple_plan(const Graph *g, CgPlan *p)
{
    for (int vid = 0; vid < g->n_values; vid++)
        if (g->values[vid].kind == VAL_CONST) p->addr[vid] = (CgAddr){MEM_CONST, vid, 0};
    for (int k = 0; k < g->n_inputs; k++) p->addr[g->inputs[k]] = (CgAddr){MEM_INPUT, k, 0};
    for (int k = 0; k < g->n_outputs; k++) {
        int o = g->outputs[k];
        if (p->addr[o].kind == MEM_NONE) p->addr[o] = (CgAddr){MEM_OUTPUT, k, 0};
    }
    int64_t ws = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            int o = n->out[k];
            if (o < 0 || p->addr[o].kind != MEM_NONE) continue;
            if (k == 0 && cg_node_is_view(g, n) && p->addr[n->in[0]].kind != MEM_NONE) {
                p->addr[o] = p->addr[n->in[0]];
                continue;
            }
            p->addr[o] = (CgAddr){MEM_WORKSPACE, 0, ws};
            ws += ALIGN64(cg_value_bytes(&g->values[o]));
        }
    }
    p->workspace = ws;
    p->from_pass = 0;
}

int cg_plan_build(const Graph *g, CgPlan *p, Diag *d)
{
    memset(p, 0, sizeof *p);
    p->addr = xcalloc((size_t)g->n_values + 1, sizeof *p->addr);
    p->tensor_bytes = intermediate_bytes(g);
    if (has_pass_plan(g)) {
        if (take_pass_plan(g, p, d)) {
            cg_plan_free(p);
            return -1;
        }
    } else {
        simple_plan(g, p);
    }
    return 0;
}

void cg_plan_free(CgPlan *p)
{
    free(p->addr);
    p->addr = NULL;
}
