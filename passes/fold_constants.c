/* fold_constants.c — pass "fold-constants": evaluates, with the reference interpreter, every
 * node whose inputs are all constants (nodes without inputs such as ConstantOfShape and Range
 * included), and Shape/Size of any typed value (shapes are static), and turns its outputs
 * into constants. Nodes are visited in topological order, so whole constant subgraphs fold in
 * one run. Output values keep their ids and names (graph outputs may become constants).
 * Nodes with an output larger than FOLD_MAX_NUMEL elements are left alone: folding would only
 * trade a cheap runtime op (Expand, Tile, ConstantOfShape, ...) for a huge weight blob.
 * Inputs left without uses are removed later by "dce".
 */
#include "passes/passes.h"

#include <stdlib.h>

#define FOLD_MAX_NUMEL (16LL * 1024 * 1024)

/* Can node i be evaluated now? */
static int foldable(const Graph *g, const Node *n)
{
    if (n->op == OP_SHAPE || n->op == OP_SIZE)
        return n->n_in == 1 && n->in[0] >= 0 && g->values[n->in[0]].dtype != DT_UNDEF;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !pass_value_is_const(g, n->in[k])) return 0;
    return 1;
}

static int fold_node(Graph *g, int i, Diag *d)
{
    Node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v < 0) continue;
        if (g->values[v].dtype == DT_UNDEF && ir_infer_node(g, i, d)) return -1;
        if (ir_value_numel(&g->values[v]) > FOLD_MAX_NUMEL) return 0;
    }
    Tensor *ins[64], *outs[64];
    if (n->n_in > 64 || n->n_out > 64) return 0;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        const Value *x = v >= 0 ? &g->values[v] : NULL;
        /* Shape/Size read only the dims: a non-constant input is passed without data */
        ins[k] = x ? tensor_wrap(x->dtype, x->rank, x->dims, x->kind == VAL_CONST ? x->data : NULL)
                   : NULL;
    }
    int rc = interp_node(g, i, ins, outs, d);
    for (int k = 0; k < n->n_in; k++) tensor_free(ins[k]); /* borrowed: frees the struct only */
    if (rc) return -1;
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        ir_value_set_const(g, n->out[k], outs[k]->data);
        tensor_free(outs[k]);
    }
    n->dead = 1;
    return 0;
}

int pass_fold_constants(Graph *g, PassContext *ctx, Diag *d)
{
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        if (n->dead || !foldable(g, n)) continue;
        if (fold_node(g, i, d)) return -1;
        folded += n->dead;
    }
    if (folded) ir_graph_compact(g);
    return 0;
}
