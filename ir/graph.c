/* graph.c — building and editing graphs: values, constants, nodes, inputs/outputs, cloning,
 * use counting, topological sort, compaction and dead-code elimination.
 * Invariant kept here: Value.producer is the index of the node that defines it (or -1).
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

Graph *ir_graph_new(const char *name)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->arena = arena_new();
    g->name = arena_strdup(g->arena, name ? name : "main");
    return g;
}

void ir_graph_free(Graph *g)
{
    if (!g) return;
    arena_free(g->arena);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g);
}

int ir_value_find(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (!strcmp(g->values[i].name, name)) return i;
    return -1;
}

void ir_value_rename_suffix(Graph *g, int vid, const char *suffix)
{
    const char *old = g->values[vid].name;
    size_t len = strlen(old) + strlen(suffix) + 24;
    char *fresh = xmalloc(len);
    snprintf(fresh, len, "%s%s", old, suffix);
    for (int k = 1; ir_value_find(g, fresh) >= 0; k++) snprintf(fresh, len, "%s%s.%d", old, suffix, k);
    g->values[vid].name = arena_strdup(g->arena, fresh);
    free(fresh);
}

int ir_value_add(Graph *g, const char *name, DType t, int rank, const int64_t *dims)
{
    IR_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
    char buf[64];
    if (!name || !*name || ir_value_find(g, name) >= 0) {
        /* derive a fresh name: base.N */
        const char *base = (name && *name) ? name : "t";
        size_t blen = strlen(base);
        char *tmp = xmalloc(blen + 32);
        for (int k = g->n_values;; k++) {
            snprintf(tmp, blen + 32, "%s.%d", base, k);
            if (ir_value_find(g, tmp) < 0) break;
        }
        int id = ir_value_add(g, tmp, t, rank, dims);
        free(tmp);
        return id;
    }
    (void)buf;
    if (g->n_values == g->cap_values) {
        g->cap_values = g->cap_values ? 2 * g->cap_values : 64;
        g->values = xrealloc(g->values, (size_t)g->cap_values * sizeof(Value));
    }
    Value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = arena_strdup(g->arena, name);
    v->dtype = t;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims ? dims[i] : 0;
    v->producer = -1;
    return g->n_values++;
}

int64_t ir_value_numel(const Value *v) { return shape_numel(v->rank, v->dims); }

void ir_value_set_const(Graph *g, int vid, const void *data)
{
    Value *v = &g->values[vid];
    size_t nb = (size_t)ir_value_numel(v) * dtype_size(v->dtype);
    v->data = arena_alloc(g->arena, nb);
    if (nb && data) memcpy(v->data, data, nb);
    v->kind = VAL_CONST;
    v->producer = -1;
}

int ir_const_add(Graph *g, const char *name, DType t, int rank, const int64_t *dims, const void *data)
{
    int id = ir_value_add(g, name, t, rank, dims);
    ir_value_set_const(g, id, data);
    return id;
}

Tensor ir_value_tensor(const Graph *g, int vid)
{
    const Value *v = &g->values[vid];
    Tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = v->dtype;
    t.rank = v->rank;
    memcpy(t.dims, v->dims, sizeof t.dims);
    t.data = v->data;
    return t;
}

void ir_graph_add_input(Graph *g, int vid)
{
    g->inputs = xrealloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof(int));
    g->inputs[g->n_inputs++] = vid;
    g->values[vid].kind = VAL_INPUT;
}

void ir_graph_add_output(Graph *g, int vid)
{
    g->outputs = xrealloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof(int));
    g->outputs[g->n_outputs++] = vid;
}

int ir_node_add(Graph *g, OpKind op, const char *name, int n_in, const int *in, int n_out, const int *out)
{
    if (g->n_nodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 64;
        g->nodes = xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof(Node));
    }
    int id = g->n_nodes++;
    Node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = arena_strdup(g->arena, name ? name : "");
    n->n_in = n_in;
    n->in = arena_memdup(g->arena, in, (size_t)n_in * sizeof(int));
    n->n_out = n_out;
    n->out = arena_memdup(g->arena, out, (size_t)n_out * sizeof(int));
    for (int k = 0; k < n_out; k++)
        if (out[k] >= 0) g->values[out[k]].producer = id;
    return id;
}

void ir_node_set_inputs(Graph *g, int node, int n_in, const int *in)
{
    Node *n = &g->nodes[node];
    n->n_in = n_in;
    n->in = arena_memdup(g->arena, in, (size_t)n_in * sizeof(int));
}

void ir_graph_replace_uses(Graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == from) g->nodes[i].in[k] = to;
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == from) g->outputs[k] = to;
}

int ir_value_use_count(const Graph *g, int vid)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) c += g->nodes[i].in[k] == vid;
    }
    for (int k = 0; k < g->n_outputs; k++) c += g->outputs[k] == vid;
    return c;
}

static void recompute_producers(Graph *g)
{
    for (int i = 0; i < g->n_values; i++) g->values[i].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
}

void ir_graph_compact(Graph *g)
{
    int j = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead) g->nodes[j++] = g->nodes[i];
    g->n_nodes = j;
    recompute_producers(g);
}

int ir_graph_toposort(Graph *g, Diag *d)
{
    int n = g->n_nodes;
    recompute_producers(g);
    /* Kahn's algorithm, picking the lowest original index first (stable). */
    int *indeg = xcalloc((size_t)n + 1, sizeof(int));
    int *order = xmalloc(((size_t)n + 1) * sizeof(int));
    char *done = xcalloc((size_t)n + 1, 1);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v >= 0 && g->values[v].producer >= 0) indeg[i]++;
        }
    int cnt = 0, lo = 0;
    while (cnt < n) {
        int pick = -1;
        for (int i = lo; i < n; i++)
            if (!done[i] && indeg[i] == 0) {
                pick = i;
                break;
            }
        if (pick < 0) {
            int bad = 0;
            while (bad < n && done[bad]) bad++;
            diag_error(d, "graph has a cycle through node '%s' (%s)", g->nodes[bad].name,
                       ir_op_name(g->nodes[bad].op));
            free(indeg), free(order), free(done);
            return -1;
        }
        done[pick] = 1;
        order[cnt++] = pick;
        for (int k = 0; k < g->nodes[pick].n_out; k++) {
            int v = g->nodes[pick].out[k];
            if (v < 0) continue;
            for (int i = 0; i < n; i++)
                for (int m = 0; m < g->nodes[i].n_in; m++)
                    if (g->nodes[i].in[m] == v) {
                        indeg[i]--;
                        if (i < lo) lo = i;
                    }
        }
        while (lo < n && done[lo]) lo++;
    }
    Node *sorted = xmalloc(((size_t)n + 1) * sizeof(Node));
    for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
    if (n) memcpy(g->nodes, sorted, (size_t)n * sizeof(Node));
    free(sorted), free(indeg), free(order), free(done);
    recompute_producers(g);
    return 0;
}

int ir_graph_dce(Graph *g)
{
    recompute_producers(g);
    char *live = xcalloc((size_t)g->n_values + 1, 1);
    for (int k = 0; k < g->n_outputs; k++) live[g->outputs[k]] = 1;
    int removed = 0;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        Node *n = &g->nodes[i];
        int used = 0;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && live[n->out[k]]) used = 1;
        if (!used) {
            n->dead = 1;
            removed++;
            continue;
        }
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) live[n->in[k]] = 1;
    }
    free(live);
    if (removed) ir_graph_compact(g);
    return removed;
}

static void clone_attr(Arena *a, Attr *dst, const Attr *src)
{
    *dst = *src;
    dst->name = arena_strdup(a, src->name);
    dst->s = arena_strdup(a, src->s);
    if (src->ints) dst->ints = arena_memdup(a, src->ints, (size_t)src->n * sizeof(int64_t));
    if (src->floats) dst->floats = arena_memdup(a, src->floats, (size_t)src->n * sizeof(double));
    if (src->t) {
        dst->t = arena_memdup(a, src->t, sizeof(Tensor));
        dst->t->data = arena_memdup(a, src->t->data, tensor_nbytes(src->t));
        dst->t->owns = 0;
    }
}

Graph *ir_graph_clone(const Graph *g)
{
    Graph *c = ir_graph_new(g->name);
    Arena *a = c->arena;
    c->n_values = c->cap_values = g->n_values;
    c->values = xcalloc((size_t)g->n_values + 1, sizeof(Value));
    for (int i = 0; i < g->n_values; i++) {
        c->values[i] = g->values[i];
        c->values[i].name = arena_strdup(a, g->values[i].name);
        if (g->values[i].data)
            c->values[i].data = arena_memdup(
                a, g->values[i].data,
                (size_t)ir_value_numel(&g->values[i]) * dtype_size(g->values[i].dtype));
    }
    c->n_nodes = c->cap_nodes = g->n_nodes;
    c->nodes = xcalloc((size_t)g->n_nodes + 1, sizeof(Node));
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *s = &g->nodes[i];
        Node *n = &c->nodes[i];
        *n = *s;
        n->name = arena_strdup(a, s->name);
        n->in = arena_memdup(a, s->in, (size_t)s->n_in * sizeof(int));
        n->out = arena_memdup(a, s->out, (size_t)s->n_out * sizeof(int));
        n->attrs = arena_alloc(a, (size_t)s->n_attr * sizeof(Attr));
        for (int k = 0; k < s->n_attr; k++) clone_attr(a, &n->attrs[k], &s->attrs[k]);
    }
    c->workspace_size = g->workspace_size;
    c->n_inputs = g->n_inputs;
    c->inputs = xmalloc(((size_t)g->n_inputs + 1) * sizeof(int));
    if (g->n_inputs) memcpy(c->inputs, g->inputs, (size_t)g->n_inputs * sizeof(int));
    c->n_outputs = g->n_outputs;
    c->outputs = xmalloc(((size_t)g->n_outputs + 1) * sizeof(int));
    if (g->n_outputs) memcpy(c->outputs, g->outputs, (size_t)g->n_outputs * sizeof(int));
    return c;
}
