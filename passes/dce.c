/* dce.c — pass "dce": dead-code elimination.
 *
 * Removes every node none of whose outputs reaches a graph output (ir_graph_dce), then drops
 * unused trailing optional outputs (Dropout's mask, MaxPool's indices) so later passes and
 * codegen do not compute them. Values are never removed (value ids are stable); constants and
 * intermediates left without uses stay in the value array and the printer skips them.
 */
#include "passes/passes.h"

int pass_dce(Graph *g, PassContext *ctx, Diag *d)
{
    ir_graph_dce(g);
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        int min_out = ir_ops[n->op].min_out;
        while (n->n_out > min_out && n->n_out > 1) {
            int v = n->out[n->n_out - 1];
            if (v >= 0 && ir_value_use_count(g, v) > 0) break;
            if (v >= 0 && g->values[v].producer == i) g->values[v].producer = -1;
            n->n_out--;
        }
    }
    return 0;
}
