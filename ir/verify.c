/* verify.c — the IR verifier: checks the structural invariants every pass must keep and that
 * the recorded types agree with shape inference. Runs between passes in debug pipelines and
 * after the frontend and the text parser.
 *
 * Checks, in order (the first failure is reported; errors name the node as
 * "node 'NAME' (Op): ..."):
 *   1. values: dtype known or DT_UNDEF, 0 <= rank <= IR_MAX_RANK, dims >= 0, numel (and its byte
 *      size) without int64 overflow; constants have data, graph inputs have none; memory
 *      placement fields in range;
 *   2. graph inputs: ids in range, kind VAL_INPUT, listed once;
 *   3. nodes in order: op in the table, arity from ir_ops[], absent (-1) inputs/outputs only in
 *      optional slots, ids in range, every input defined earlier (by a graph input, a constant
 *      or an earlier node: a later definition means a cycle or an unsorted graph), every output
 *      defined exactly once (not also an input/constant/other output), Value.producer matches,
 *      attributes well formed;
 *   4. graph outputs: ids in range, defined;
 *   5. every used value (node input, graph output) is typed;
 *   6. a fresh shape inference on a clone (node output types erased first) gives the same dtype
 *      and shape for every node output.
 * The graph is never modified.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

enum { DEF_NONE = 0, DEF_INPUT, DEF_CONST, DEF_NODE };

typedef struct Verifier {
    const Graph *g;
    Diag *d;
    unsigned char *def;   /* per value: DEF_* (how it is defined) */
    int *def_node;        /* per value: defining node (DEF_NODE), or -1 */
} Verifier;

/* "f32[1,3]" into buf. */
static const char *verify_type_str(DType t, int rank, const int64_t *dims, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "%s[", dtype_name(t));
    for (int i = 0; i < rank && i < IR_MAX_RANK && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* 0 if the shape is valid: rank in range, dims >= 0, numel * elem_size fits in int64. */
static int verify_shape_ok(DType t, int rank, const int64_t *dims, const char **why)
{
    if (rank < 0 || rank > IR_MAX_RANK) return *why = "rank out of range", -1;
    int64_t n = 1, esz = dtype_size(t) ? (int64_t)dtype_size(t) : 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return *why = "negative dimension", -1;
        if (dims[i] && n > INT64_MAX / esz / dims[i]) return *why = "element count overflows", -1;
        n *= dims[i];
    }
    return 0;
}

/* 1. every value on its own */
static int verify_values(Verifier *V)
{
    const Graph *g = V->g;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        const char *nm = val->name ? val->name : "?";
        const char *why;
        if (!val->name) return diag_error(V->d, "value %d has no name", v);
        if ((int)val->dtype < 0 || val->dtype >= DT_COUNT)
            return diag_error(V->d, "value '%s' has an invalid dtype (%d)", nm, (int)val->dtype);
        if (verify_shape_ok(val->dtype, val->rank, val->dims, &why))
            return diag_error(V->d, "value '%s' has a bad shape: %s", nm, why);
        if (val->kind == VAL_CONST) {
            if (val->dtype == DT_UNDEF) return diag_error(V->d, "constant '%s' has no dtype", nm);
            if (!val->data) return diag_error(V->d, "constant '%s' has no data", nm);
        } else if (val->kind == VAL_INPUT) {
            if (val->data) return diag_error(V->d, "graph input '%s' has data (only constants have data)", nm);
        } else if (val->kind != VAL_INTERMEDIATE) {
            return diag_error(V->d, "value '%s' has an invalid kind (%d)", nm, (int)val->kind);
        }
        if ((int)val->mem_kind < MEM_NONE || val->mem_kind > MEM_CONST || val->mem_index < 0 || val->mem_offset < 0)
            return diag_error(V->d, "value '%s' has an invalid memory placement", nm);
    }
    return 0;
}

/* 2. graph inputs and constants are defined before any node */
static int verify_inputs(Verifier *V)
{
    const Graph *g = V->g;
    if (g->n_inputs < 0 || (g->n_inputs && !g->inputs)) return diag_error(V->d, "graph input list is corrupt");
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (v < 0 || v >= g->n_values) return diag_error(V->d, "graph input %d refers to value id %d (out of range)", k, v);
        if (g->values[v].kind != VAL_INPUT)
            return diag_error(V->d, "graph input %d ('%s') is not marked as an input value%s", k, g->values[v].name,
                              g->values[v].kind == VAL_CONST ? " (it is a constant: defined twice)" : "");
        if (V->def[v]) return diag_error(V->d, "graph input '%s' is listed twice", g->values[v].name);
        V->def[v] = DEF_INPUT;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == VAL_CONST) V->def[v] = DEF_CONST;
    return 0;
}

static int verify_attrs(Verifier *V, const Node *n)
{
    if (n->n_attr < 0 || (n->n_attr && !n->attrs)) return node_error(V->d, n, "attribute list is corrupt");
    for (int k = 0; k < n->n_attr; k++) {
        const Attr *a = &n->attrs[k];
        const char *why;
        if (!a->name) return node_error(V->d, n, "attribute %d has no name", k);
        for (int j = 0; j < k; j++)
            if (n->attrs[j].name && !strcmp(n->attrs[j].name, a->name))
                return node_error(V->d, n, "attribute '%s' appears twice", a->name);
        switch (a->kind) {
        case ATTR_INT:
        case ATTR_FLOAT: break;
        case ATTR_STRING:
            if (!a->s) return node_error(V->d, n, "string attribute '%s' has no string", a->name);
            break;
        case ATTR_INTS:
        case ATTR_FLOATS:
            if (a->n < 0 || (a->n && !(a->kind == ATTR_INTS ? (const void *)a->ints : (const void *)a->floats)))
                return node_error(V->d, n, "list attribute '%s' is corrupt", a->name);
            break;
        case ATTR_TENSOR:
            if (!a->t) return node_error(V->d, n, "tensor attribute '%s' has no tensor", a->name);
            if ((int)a->t->dtype <= 0 || a->t->dtype >= DT_COUNT)
                return node_error(V->d, n, "tensor attribute '%s' has an invalid dtype", a->name);
            if (verify_shape_ok(a->t->dtype, a->t->rank, a->t->dims, &why))
                return node_error(V->d, n, "tensor attribute '%s' has a bad shape: %s", a->name, why);
            if (!a->t->data) return node_error(V->d, n, "tensor attribute '%s' has no data", a->name);
            break;
        default: return node_error(V->d, n, "attribute '%s' has an invalid kind (%d)", a->name, (int)a->kind);
        }
    }
    return 0;
}

/* Name a later definition of v for the "used before definition" message. */
static int verify_defined_later(const Verifier *V, int node, int v)
{
    const Graph *g = V->g;
    for (int j = node; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j].n_out; k++)
            if (g->nodes[j].out && g->nodes[j].out[k] == v) return j;
    return -1;
}

/* 3. nodes in order */
static int verify_node(Verifier *V, int i)
{
    const Graph *g = V->g;
    const Node *n = &g->nodes[i];
    if ((int)n->op < 0 || n->op >= OP_COUNT) return diag_error(V->d, "node %d ('%s') has an invalid op (%d)", i, n->name ? n->name : "", (int)n->op);
    if (!n->name) return diag_error(V->d, "node %d (%s) has no name string (use \"\")", i, ir_op_name(n->op));
    const OpInfo *oi = &ir_ops[n->op];
    if (n->n_in < 0 || (n->n_in && !n->in)) return node_error(V->d, n, "input list is corrupt");
    if (n->n_out < 0 || (n->n_out && !n->out)) return node_error(V->d, n, "output list is corrupt");
    if (n->n_in < oi->min_in || (oi->max_in >= 0 && n->n_in > oi->max_in)) {
        if (oi->max_in < 0) return node_error(V->d, n, "expects at least %d inputs, has %d", oi->min_in, n->n_in);
        return node_error(V->d, n, "expects %d..%d inputs, has %d", oi->min_in, oi->max_in, n->n_in);
    }
    if (n->n_out < oi->min_out || (oi->max_out >= 0 && n->n_out > oi->max_out)) {
        if (oi->max_out < 0) return node_error(V->d, n, "expects at least %d outputs, has %d", oi->min_out, n->n_out);
        return node_error(V->d, n, "expects %d..%d outputs, has %d", oi->min_out, oi->max_out, n->n_out);
    }
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v == -1) {
            if (k < oi->min_in) return node_error(V->d, n, "required input %d is absent", k);
            continue;
        }
        if (v < 0 || v >= g->n_values) return node_error(V->d, n, "input %d refers to value id %d (out of range)", k, v);
        if (V->def[v]) continue;
        int later = verify_defined_later(V, i, v);
        if (later == i) return node_error(V->d, n, "input '%s' is its own output (cycle)", g->values[v].name);
        if (later > i)
            return node_error(V->d, n, "input '%s' used before definition (cycle or unsorted graph): defined by node %d '%s' (%s)",
                              g->values[v].name, later, g->nodes[later].name ? g->nodes[later].name : "",
                              ir_op_name(g->nodes[later].op));
        return node_error(V->d, n, "input '%s' is never defined (not a graph input, a constant or a node output)",
                          g->values[v].name);
    }
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v == -1) {
            if (k < oi->min_out) return node_error(V->d, n, "required output %d is absent", k);
            continue;
        }
        if (v < 0 || v >= g->n_values) return node_error(V->d, n, "output %d refers to value id %d (out of range)", k, v);
        static const char *const how[] = {"", "a graph input", "a constant", "node"};
        if (V->def[v] == DEF_NODE) {
            const Node *o = &g->nodes[V->def_node[v]];
            return node_error(V->d, n, "output '%s' is defined twice (also by node '%s' (%s))", g->values[v].name,
                              o->name ? o->name : "", ir_op_name(o->op));
        }
        if (V->def[v]) return node_error(V->d, n, "output '%s' is defined twice (it is also %s)", g->values[v].name, how[V->def[v]]);
        if (g->values[v].kind != VAL_INTERMEDIATE)
            return node_error(V->d, n, "output '%s' is not an intermediate value", g->values[v].name);
        if (g->values[v].producer != i)
            return node_error(V->d, n, "output '%s' records producer %d, expected %d (stale Value.producer)",
                              g->values[v].name, g->values[v].producer, i);
        V->def[v] = DEF_NODE;
        V->def_node[v] = i;
    }
    return verify_attrs(V, n);
}

/* 4 and 5. graph outputs defined; used values typed */
static int verify_outputs_and_types(Verifier *V)
{
    const Graph *g = V->g;
    if (g->n_outputs < 0 || (g->n_outputs && !g->outputs)) return diag_error(V->d, "graph output list is corrupt");
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (v < 0 || v >= g->n_values) return diag_error(V->d, "graph output %d refers to value id %d (out of range)", k, v);
        if (!V->def[v]) return diag_error(V->d, "graph output %d ('%s') is never defined", k, g->values[v].name);
        if (g->values[v].dtype == DT_UNDEF) return diag_error(V->d, "graph output '%s' has no type", g->values[v].name);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && g->values[v].dtype == DT_UNDEF)
                return node_error(V->d, n, "input '%s' has no type (run shape inference)", g->values[v].name);
        }
    }
    return 0;
}

/* 6. types and shapes agree with a fresh shape inference */
static int verify_against_inference(Verifier *V)
{
    const Graph *g = V->g;
    Graph *c = ir_graph_clone(g);
    for (int i = 0; i < c->n_nodes; i++)
        for (int k = 0; k < c->nodes[i].n_out; k++) {
            int v = c->nodes[i].out[k];
            if (v < 0) continue;
            c->values[v].dtype = DT_UNDEF;
            c->values[v].rank = 0;
            memset(c->values[v].dims, 0, sizeof c->values[v].dims);
        }
    Diag d2 = {{0}};
    if (ir_infer_shapes(c, &d2)) {
        ir_graph_free(c);
        return diag_error(V->d, "shape inference fails: %s", d2.msg);
    }
    int rc = 0;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out && !rc; k++) {
            int v = n->out[k];
            if (v < 0) continue;
            const Value *a = &g->values[v], *b = &c->values[v];
            int same = a->dtype == b->dtype && a->rank == b->rank &&
                       !memcmp(a->dims, b->dims, (size_t)a->rank * sizeof(int64_t));
            if (!same) {
                char ta[160], tb[160];
                rc = node_error(V->d, n, "output '%s' is %s but shape inference gives %s", a->name,
                                a->dtype == DT_UNDEF ? "untyped" : verify_type_str(a->dtype, a->rank, a->dims, ta, sizeof ta),
                                verify_type_str(b->dtype, b->rank, b->dims, tb, sizeof tb));
            }
        }
    }
    ir_graph_free(c);
    return rc;
}

int ir_verify(const Graph *g, Diag *d)
{
    if (!g) return diag_error(d, "no graph");
    if (g->n_values < 0 || g->n_nodes < 0 || (g->n_values && !g->values) || (g->n_nodes && !g->nodes))
        return diag_error(d, "graph value/node arrays are corrupt");
    Verifier V = {g, d, xcalloc((size_t)g->n_values + 1, 1), xmalloc(((size_t)g->n_values + 1) * sizeof(int))};
    for (int v = 0; v < g->n_values; v++) V.def_node[v] = -1;
    int rc = verify_values(&V) || verify_inputs(&V);
    for (int i = 0; i < g->n_nodes && !rc; i++) rc = verify_node(&V, i);
    if (!rc) rc = verify_outputs_and_types(&V);
    if (!rc) rc = verify_against_inference(&V);
    free(V.def);
    free(V.def_node);
    return rc ? -1 : 0;
}
