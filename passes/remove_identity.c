/* remove_identity.c — pass "remove-identity": removes Identity nodes and Dropout nodes (the IR's
 * Dropout is inference-only: output 0 is its input, the optional mask is all true).
 *
 * Uses of the node's output are rewired to its input. Graph output names are the model's
 * interface and never change, so when the output Y is a graph output the node is removed only
 * if its input X comes from a node whose output can be renamed: that node then defines Y
 * directly and X's other readers read Y. When X is a graph input, a constant or itself a graph
 * output the node stays (it is the copy the interface needs). A used Dropout mask becomes an
 * all-true constant.
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* Replace a used Dropout mask by a constant; 0 if the mask is unused or was replaced. */
static int mask_to_const(Graph *g, Node *n)
{
    if (n->n_out < 2 || n->out[1] < 0 || ir_value_use_count(g, n->out[1]) == 0) return 0;
    Value *m = &g->values[n->out[1]];
    if (m->dtype != DT_BOOL) return -1; /* untyped: leave the node */
    int64_t numel = ir_value_numel(m);
    unsigned char *ones = xmalloc((size_t)numel + 1);
    memset(ones, 1, (size_t)numel + 1);
    ir_value_set_const(g, n->out[1], ones);
    free(ones);
    return 0;
}

int pass_remove_identity(Graph *g, PassContext *ctx, Diag *d)
{
    int removed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || (n->op != OP_IDENTITY && n->op != OP_DROPOUT)) continue;
        int x = n->in[0], y = n->out[0];
        if (x < 0 || y < 0) continue;
        if (!pass_value_is_output(g, y)) {
            if (n->op == OP_DROPOUT && mask_to_const(g, n)) continue;
            ir_graph_replace_uses(g, y, x);
            n->dead = 1;
            removed++;
            continue;
        }
        int p = g->values[x].producer;
        if (p < 0 || g->nodes[p].dead || pass_value_is_output(g, x)) continue;
        if (n->op == OP_DROPOUT && mask_to_const(g, n)) continue;
        int k = 0;
        while (k < g->nodes[p].n_out && g->nodes[p].out[k] != x) k++;
        if (k == g->nodes[p].n_out) continue; /* stale producer: leave the node */
        pass_node_take_output(g, p, k, y);
        ir_graph_replace_uses(g, x, y); /* X's other readers (after P) now read Y */
        n->dead = 1;
        removed++;
    }
    if (removed) ir_graph_compact(g);
    return 0;
}
