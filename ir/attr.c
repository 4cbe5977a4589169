/* attr.c — node attributes: lookup with defaults, and setters that copy into the arena. */
#include "ir.h"

#include <string.h>

const Attr *ir_attr_find(const Node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt)
{
    const Attr *a = ir_attr_find(n, name);
    if (!a) return dflt;
    if (a->kind == ATTR_INT) return a->i;
    if (a->kind == ATTR_FLOAT) return (int64_t)a->f;
    return dflt;
}

double ir_attr_float(const Node *n, const char *name, double dflt)
{
    const Attr *a = ir_attr_find(n, name);
    if (!a) return dflt;
    if (a->kind == ATTR_FLOAT) return a->f;
    if (a->kind == ATTR_INT) return (double)a->i;
    return dflt;
}

const char *ir_attr_str(const Node *n, const char *name, const char *dflt)
{
    const Attr *a = ir_attr_find(n, name);
    return (a && a->kind == ATTR_STRING) ? a->s : dflt;
}

const int64_t *ir_attr_ints(const Node *n, const char *name, int *count)
{
    const Attr *a = ir_attr_find(n, name);
    if (!a || a->kind != ATTR_INTS) {
        if (count) *count = 0;
        return NULL;
    }
    if (count) *count = a->n;
    static const int64_t empty[1];
    return a->ints ? a->ints : empty;
}

const double *ir_attr_floats(const Node *n, const char *name, int *count)
{
    const Attr *a = ir_attr_find(n, name);
    if (!a || a->kind != ATTR_FLOATS) {
        if (count) *count = 0;
        return NULL;
    }
    if (count) *count = a->n;
    static const double empty[1];
    return a->floats ? a->floats : empty;
}

const Tensor *ir_attr_tensor(const Node *n, const char *name)
{
    const Attr *a = ir_attr_find(n, name);
    return (a && a->kind == ATTR_TENSOR) ? a->t : NULL;
}

/* Find or append the attribute slot `name` of node, reset to kind. */
static Attr *slot(Graph *g, int node, const char *name, AttrKind kind)
{
    Node *n = &g->nodes[node];
    Attr *a = (Attr *)ir_attr_find(n, name);
    if (!a) {
        Attr *na = arena_alloc(g->arena, (size_t)(n->n_attr + 1) * sizeof(Attr));
        if (n->n_attr) memcpy(na, n->attrs, (size_t)n->n_attr * sizeof(Attr));
        n->attrs = na;
        a = &n->attrs[n->n_attr++];
        a->name = arena_strdup(g->arena, name);
    }
    char *nm = a->name;
    memset(a, 0, sizeof *a);
    a->name = nm;
    a->kind = kind;
    return a;
}

void ir_node_set_int(Graph *g, int node, const char *name, int64_t v) { slot(g, node, name, ATTR_INT)->i = v; }
void ir_node_set_float(Graph *g, int node, const char *name, double v) { slot(g, node, name, ATTR_FLOAT)->f = v; }

void ir_node_set_str(Graph *g, int node, const char *name, const char *v)
{
    slot(g, node, name, ATTR_STRING)->s = arena_strdup(g->arena, v);
}

void ir_node_set_ints(Graph *g, int node, const char *name, const int64_t *v, int n)
{
    Attr *a = slot(g, node, name, ATTR_INTS);
    a->n = n;
    a->ints = arena_memdup(g->arena, v, (size_t)n * sizeof(int64_t));
}

void ir_node_set_floats(Graph *g, int node, const char *name, const double *v, int n)
{
    Attr *a = slot(g, node, name, ATTR_FLOATS);
    a->n = n;
    a->floats = arena_memdup(g->arena, v, (size_t)n * sizeof(double));
}

void ir_node_set_tensor(Graph *g, int node, const char *name, const Tensor *t)
{
    Attr *a = slot(g, node, name, ATTR_TENSOR);
    a->t = arena_memdup(g->arena, t, sizeof(Tensor));
    a->t->data = arena_memdup(g->arena, t->data, tensor_nbytes(t));
    a->t->owns = 0;
}

void ir_node_remove_attr(Graph *g, int node, const char *name)
{
    Node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attrs[i].name, name)) {
            memmove(&n->attrs[i], &n->attrs[i + 1], (size_t)(n->n_attr - i - 1) * sizeof(Attr));
            n->n_attr--;
            return;
        }
}
