/* util.c — small helpers shared by the graph passes: constant tests and conversions, use
 * queries, and re-pointing a node's output to another value (how fusions keep the names of
 * later values, and of graph outputs, unchanged).
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

int pass_value_is_const(const Graph *g, int vid)
{
    return vid >= 0 && vid < g->n_values && g->values[vid].kind == VAL_CONST &&
           (g->values[vid].data || ir_value_numel(&g->values[vid]) == 0);
}

int pass_value_is_output(const Graph *g, int vid)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == vid) return 1;
    return 0;
}

int pass_value_single_use(const Graph *g, int vid)
{
    return vid >= 0 && !pass_value_is_output(g, vid) && ir_value_use_count(g, vid) == 1;
}

int pass_sole_reader(const Graph *g, int vid, int *slot)
{
    if (!pass_value_single_use(g, vid)) return -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead)
            for (int k = 0; k < g->nodes[i].n_in; k++)
                if (g->nodes[i].in[k] == vid) {
                    if (slot) *slot = k;
                    return i;
                }
    return -1;
}

double *pass_const_f64(const Graph *g, int vid)
{
    const Value *v = &g->values[vid];
    int64_t n = ir_value_numel(v);
    double *out = xmalloc(((size_t)n + 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) out[i] = elem_get_f64(v->dtype, v->data, i);
    return out;
}

int pass_const_add_f64(Graph *g, const char *base, DType t, int rank, const int64_t *dims,
                       const double *vals)
{
    int64_t n = shape_numel(rank, dims);
    void *buf = xcalloc((size_t)n + 1, dtype_size(t));
    for (int64_t i = 0; i < n; i++) elem_set_f64(t, buf, i, vals[i]);
    /* ir_value_add derives "base.N" when base is taken, which it always is here. */
    int id = ir_const_add(g, base, t, rank, dims, buf);
    free(buf);
    return id;
}

void pass_node_take_output(Graph *g, int node, int k, int vid)
{
    Node *n = &g->nodes[node];
    int old = n->out[k];
    if (old >= 0 && g->values[old].producer == node) g->values[old].producer = -1;
    n->out[k] = vid;
    g->values[vid].producer = node;
}

void pass_place_new_nodes(Graph *g, int n0, const int *before, const int *after)
{
    Node *v = xmalloc((size_t)g->n_nodes * sizeof(Node) + 1);
    int j = 0;
    for (int i = 0; i < n0; i++) {
        if (before && before[i] >= 0) v[j++] = g->nodes[before[i]];
        v[j++] = g->nodes[i];
        if (after && after[i] >= 0) v[j++] = g->nodes[after[i]];
    }
    IR_ASSERT(j == g->n_nodes);
    memcpy(g->nodes, v, (size_t)j * sizeof(Node));
    free(v);
    ir_graph_compact(g);
}
