/* shape.c — shape inference driver: dispatches to the per-op shape functions named in ops.def,
 * plus shared helpers (setting output types, node-prefixed errors, numpy broadcasting).
 * Per-op shape functions live in shape_*.c grouped by op family.
 */
#include "ir.h"

#include <stdarg.h>
#include <string.h>

typedef int (*ShapeFn)(Graph *, Node *, Diag *);
static const ShapeFn shape_fns[OP_COUNT] = {
#define OP(e, name, mi, ma, mo, mao, sf, ef) [OP_##e] = sf,
#include "ops.def"
#undef OP
};

int node_error(Diag *d, const Node *n, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return diag_error(d, "node '%s' (%s): %s", n->name, ir_op_name(n->op), buf);
}

void shape_set_out(Graph *g, Node *n, int k, DType t, int rank, const int64_t *dims)
{
    if (k >= n->n_out || n->out[k] < 0) return;
    Value *v = &g->values[n->out[k]];
    v->dtype = t;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
}

int shape_broadcast2(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
        if (da != db && da != 1 && db != 1) return -1;
        out[i] = da == 1 ? db : da;
    }
    *rout = r;
    return 0;
}

int ir_infer_node(Graph *g, int node, Diag *d)
{
    Node *n = &g->nodes[node];
    const OpInfo *oi = &ir_ops[n->op];
    if (n->n_in < oi->min_in || (oi->max_in >= 0 && n->n_in > oi->max_in))
        return node_error(d, n, "expects %d..%d inputs, has %d", oi->min_in, oi->max_in, n->n_in);
    if (n->n_out < oi->min_out || (oi->max_out >= 0 && n->n_out > oi->max_out))
        return node_error(d, n, "expects %d..%d outputs, has %d", oi->min_out, oi->max_out, n->n_out);
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0) continue;
        if (v >= g->n_values) return node_error(d, n, "input %d refers to unknown value", k);
        if (g->values[v].dtype == DT_UNDEF)
            return node_error(d, n, "input '%s' has no type (used before definition?)", g->values[v].name);
    }
    return shape_fns[n->op](g, n, d);
}

int ir_infer_shapes(Graph *g, Diag *d)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (ir_infer_node(g, i, d)) return -1;
    return 0;
}
