/* fuse_residual.c — pass "fuse-residual": a residual Add becomes the 4th input of the Conv that
 * produces one of its operands (docs/codegen.md §2), so the addition happens in the Conv's
 * epilogue: Add(conv_out, other) -> Conv(x, W, B, residual=other), y = act(conv + B + other).
 *
 * Conditions: conv_out is the Conv's output, has this Add as its only use and is not a graph
 * output; the Conv has no fused activation yet (act(conv) + other is not act(conv + other)) and
 * no residual; both operands and the Add's output have one dtype (float) and identical shapes
 * (no broadcasting; blocked operands are rank-5 and qualify like plain ones); `other` is a
 * different value. When both operands qualify, the Conv that comes later in the node order
 * takes the other one as its residual. The Conv takes over the Add's output value (names of
 * later values and graph outputs are unchanged) and moves to the Add's place in the node order,
 * where `other` is defined (its own inputs are defined earlier; its output had no other use).
 * An activation after the Add fuses afterwards: run fuse-activation after this pass.
 */
#include "passes/passes.h"

#include <string.h>

/* Is operand value v of an Add a Conv output that can take a residual? Returns its producer
 * node or -1. */
static int residual_conv(const Graph *g, int v, int other)
{
    if (v < 0 || v == other) return -1;
    int p = g->values[v].producer;
    if (p < 0 || g->nodes[p].dead) return -1;
    const Node *c = &g->nodes[p];
    if (c->op != OP_CONV || c->out[0] != v || !pass_value_single_use(g, v)) return -1;
    if (ir_attr_find(c, "activation")) return -1;
    if (c->n_in > 3 && c->in[3] >= 0) return -1;
    return p;
}

static int same_type(const Value *a, const Value *b)
{
    return a->dtype == b->dtype && a->rank == b->rank && !memcmp(a->dims, b->dims, (size_t)a->rank * sizeof(int64_t));
}

int pass_fuse_residual(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    int fused = 0;
    for (int a = 0; a < g->n_nodes; a++) {
        Node *add = &g->nodes[a];
        if (add->dead || add->op != OP_ADD || add->n_in != 2 || add->out[0] < 0) continue;
        int x0 = add->in[0], x1 = add->in[1], y = add->out[0];
        if (x0 < 0 || x1 < 0) continue;
        const Value *v0 = &g->values[x0], *v1 = &g->values[x1], *vy = &g->values[y];
        if (!dtype_is_float(vy->dtype) || !same_type(v0, vy) || !same_type(v1, vy)) continue;
        int p0 = residual_conv(g, x0, x1), p1 = residual_conv(g, x1, x0);
        if (p0 < 0 && p1 < 0) continue;
        int p = p0 > p1 ? p0 : p1, other = p == p0 ? x1 : x0;
        Node *c = &g->nodes[p];
        int in[4] = {c->in[0], c->in[1], c->n_in > 2 ? c->in[2] : -1, other};
        ir_node_set_inputs(g, p, 4, in);
        pass_node_take_output(g, p, 0, y);
        /* the Conv moves into the Add's slot; its own slot dies */
        g->nodes[a] = g->nodes[p];
        g->nodes[p].dead = 1;
        g->values[y].producer = a;
        fused++;
    }
    if (fused) ir_graph_compact(g);
    return 0;
}
