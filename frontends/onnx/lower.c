/* lower.c — the node lowering driver of the ONNX frontend.
 *
 * Input: an ONNX GraphProto whose graph inputs and initializers are already bound to IR values
 * (model.c). The nodes are sorted topologically first (stable; cycles, duplicate producers and
 * dangling input names are errors naming the node), then each is lowered through its rule
 * (lower_ops.c) into one or more IR nodes. Every IR node is typed by shape inference right away
 * and folded to constants when it can be: all inputs constant (or Shape/Size, which only need
 * the static input shape), output not huge. That is how exporters' Shape -> Gather -> Unsqueeze
 * -> Concat -> Reshape chains become constant shape attributes. Inputs that determine shapes are
 * folded on demand even when huge. Folded nodes are marked dead; model.c compacts at the end.
 *
 * Problems: a node whose op or attribute is unsupported is always reported (also when it depends
 * on a failed node); a supported node that depends on a failed one is skipped silently, so one
 * failure does not pile up duplicate messages.
 */
#include "onnx_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FOLD_MAX_ELEMS ((int64_t)1 << 20)

/* ---------------------------------------------------------------- names and values */

static const char *out_name(const OnnxNode *N, int k)
{
    if (k < 0 || (size_t)k >= N->p->n_output) return NULL;
    const char *s = N->p->output[k];
    return s && *s ? s : NULL;
}

const Value *onnx_val(OnnxNode *N, int vid) { return &N->c->g->values[vid]; }

int onnx_out(OnnxNode *N, int k)
{
    const char *name = out_name(N, k);
    if (!name) return -1;
    int vid;
    if (strmap_get(&N->c->names, name, &vid) && vid >= 0) return vid;
    vid = ir_value_add(N->c->g, name, DT_UNDEF, 0, NULL);
    strmap_put(&N->c->names, name, vid);
    return vid;
}

int onnx_out_used(OnnxNode *N, int k)
{
    const char *name = out_name(N, k);
    if (!name) return 0;
    int n = 0;
    return strmap_get(&N->c->graph_outputs, name, NULL) || (strmap_get(&N->c->uses, name, &n) && n > 0);
}

int onnx_tmp(OnnxNode *N, const char *suffix)
{
    OnnxCtx *c = N->c;
    size_t len = strlen(N->name) + strlen(suffix) + 32;
    char *name = xmalloc(len);
    snprintf(name, len, "%s/%s", N->name, suffix);
    while (strmap_get(&c->reserved, name, NULL) || ir_value_find(c->g, name) >= 0)
        snprintf(name, len, "%s/%s.%u", N->name, suffix, ++c->tmp_counter);
    int vid = ir_value_add(c->g, name, DT_UNDEF, 0, NULL);
    free(name);
    return vid;
}

int onnx_const(OnnxNode *N, const char *suffix, DType t, int rank, const int64_t *dims, const void *data)
{
    int vid = onnx_tmp(N, suffix);
    Value *v = &N->c->g->values[vid];
    v->dtype = t;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
    ir_value_set_const(N->c->g, vid, data);
    return vid;
}

void onnx_out_const(OnnxNode *N, int k, DType t, int rank, const int64_t *dims, const void *data)
{
    int vid = onnx_out(N, k);
    if (vid < 0) return;
    Value *v = &N->c->g->values[vid];
    v->dtype = t;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
    ir_value_set_const(N->c->g, vid, data);
}

int onnx_emit(OnnxNode *N, OpKind op, const char *suffix, int n_in, const int *in, int n_out, const int *out)
{
    char buf[512];
    const char *name = N->name;
    if (suffix) {
        snprintf(buf, sizeof buf, "%s/%s", N->name, suffix);
        name = buf;
    }
    return ir_node_add(N->c->g, op, name, n_in, in, n_out, out);
}

void onnx_alias(OnnxNode *N, int k, int vid)
{
    const char *name = out_name(N, k);
    if (!name) return;
    OnnxCtx *c = N->c;
    if (!strmap_get(&c->graph_outputs, name, NULL)) {
        strmap_put(&c->names, name, vid);
        return;
    }
    /* graph outputs keep their ONNX names: copy a constant, else an Identity node */
    const Value *src = &c->g->values[vid];
    if (src->kind == VAL_CONST) {
        int o = onnx_out(N, k);
        Value s = *src; /* values may move when o was added */
        Value *v = &c->g->values[o];
        v->dtype = s.dtype;
        v->rank = s.rank;
        memcpy(v->dims, s.dims, sizeof v->dims);
        ir_value_set_const(c->g, o, s.data);
        return;
    }
    int o = onnx_out(N, k);
    int node = onnx_emit(N, OP_IDENTITY, NULL, 1, &vid, 1, &o);
    onnx_finish(N, node);
}

int onnx_node_problem(OnnxNode *N, const char *kind, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return onnx_problem(N->c, kind, N->name, N->op, "node '%s' (%s): %s", N->name, N->op, msg);
}

int onnx_copy_attr(OnnxNode *N, int node, const OnnxAttr *a, const char *as)
{
    Graph *g = N->c->g;
    const char *name = as ? as : a->name;
    switch (onnx_attr_type(a)) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: ir_node_set_int(g, node, name, a->i); return 0;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: ir_node_set_float(g, node, name, a->f); return 0;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        char *s = xmalloc(a->s.len + 1);
        if (a->s.len) memcpy(s, a->s.data, a->s.len);
        s[a->s.len] = 0;
        ir_node_set_str(g, node, name, s);
        free(s);
        return 0;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        ir_node_set_ints(g, node, name, a->ints, (int)a->n_ints);
        return 0;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
        double *f = xmalloc((a->n_floats + 1) * sizeof(double));
        for (size_t i = 0; i < a->n_floats; i++) f[i] = a->floats[i];
        ir_node_set_floats(g, node, name, f, (int)a->n_floats);
        free(f);
        return 0;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        char what[300];
        snprintf(what, sizeof what, "node '%s' (%s): attribute '%s'", N->name, N->op, a->name);
        OnnxTensorData td;
        const char *kind;
        Diag d;
        if (onnx_tensor_decode(a->t, g->arena, N->c->base_dir, what, &td, &kind, &d))
            return onnx_problem(N->c, kind, N->name, N->op, "%s", d.msg);
        Tensor t = {.dtype = td.dtype, .rank = td.rank, .data = td.data};
        memcpy(t.dims, td.dims, sizeof t.dims);
        ir_node_set_tensor(g, node, name, &t);
        return 0;
    }
    default:
        return onnx_node_problem(N, "attribute", "attribute '%s' has an unsupported type (%d)", a->name,
                                 onnx_attr_type(a));
    }
}

/* ---------------------------------------------------------------- folding */

/* Evaluate node with the interpreter and turn its outputs into constants. Returns 1 if folded.
 * Without force, nodes with non-constant inputs (except Shape/Size) or huge outputs are kept. */
static int fold_node(OnnxCtx *c, int node, int force)
{
    Graph *g = c->g;
    Node *n = &g->nodes[node];
    if (n->dead) return 1;
    int shape_only = n->op == OP_SHAPE || n->op == OP_SIZE;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0) continue;
        if (g->values[v].dtype == DT_UNDEF) return 0;
        if (!shape_only && g->values[v].kind != VAL_CONST) return 0;
    }
    int64_t total = 0;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) total += ir_value_numel(&g->values[n->out[k]]);
    if (total > FOLD_MAX_ELEMS && !force) return 0;

    Tensor **in = xcalloc((size_t)n->n_in + 1, sizeof(Tensor *));
    Tensor **out = xcalloc((size_t)n->n_out + 1, sizeof(Tensor *));
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0) continue;
        const Value *val = &g->values[v];
        in[k] = tensor_wrap(val->dtype, val->rank, val->dims, val->kind == VAL_CONST ? val->data : NULL);
    }
    Diag d;
    d.msg[0] = 0;
    int rc = interp_node(g, node, in, out, &d);
    for (int k = 0; k < n->n_in; k++) tensor_free(in[k]); /* wrappers: data not owned */
    free(in);
    if (rc) {
        snprintf(c->fold_error, sizeof c->fold_error, "evaluating node '%.100s' (%s) failed: %.300s",
                 n->name, ir_op_name(n->op), d.msg);
        free(out);
        return 0;
    }
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] >= 0 && out[k]) ir_value_set_const(g, n->out[k], out[k]->data);
        tensor_free(out[k]);
    }
    free(out);
    n->dead = 1;
    return 1;
}

/* Make value vid a constant if it can be computed at import time (folding its producers on
 * demand, however large). Returns 1 if it is constant now. */
static int make_const(OnnxCtx *c, int vid, int depth)
{
    Graph *g = c->g;
    if (g->values[vid].kind == VAL_CONST) return 1;
    int p = g->values[vid].producer;
    if (p < 0 || depth > 10000) return 0;
    Node *n = &g->nodes[p];
    if (n->op != OP_SHAPE && n->op != OP_SIZE)
        for (int k = 0; k < n->n_in; k++) {
            int v = g->nodes[p].in[k];
            if (v >= 0 && !make_const(c, v, depth + 1)) return 0;
        }
    return fold_node(c, p, 1) && g->values[vid].kind == VAL_CONST;
}

int onnx_const_input(OnnxNode *N, int k, const char *what, Tensor *t)
{
    if (!onnx_has_input(N, k)) return 0;
    OnnxCtx *c = N->c;
    int vid = N->in[k];
    c->fold_error[0] = 0;
    if (!make_const(c, vid, 0)) {
        const char *iname = N->p->input[k];
        if (c->fold_error[0])
            onnx_problem(c, "value", N->name, N->op,
                         "%s '%s': %s input '%s' is not a constant (%s)", N->op, N->name, what, iname,
                         c->fold_error);
        else
            onnx_problem(c, "value", N->name, N->op,
                         "%s '%s': %s input '%s' is not a constant (dynamic shapes are not supported)",
                         N->op, N->name, what, iname);
        return -1;
    }
    *t = ir_value_tensor(c->g, vid);
    return 1;
}

int onnx_finish(OnnxNode *N, int node)
{
    OnnxCtx *c = N->c;
    Diag d;
    if (ir_infer_node(c->g, node, &d)) {
        c->g->nodes[node].dead = 1;
        return onnx_problem(c, "shape", N->name, N->op, "%s", d.msg);
    }
    fold_node(c, node, 0);
    return 0;
}

/* ---------------------------------------------------------------- one node */

static int domain_is_default(const char *dom) { return !dom || !*dom || !strcmp(dom, "ai.onnx"); }

static void fail_outputs(OnnxCtx *c, const Onnx__NodeProto *p)
{
    for (size_t k = 0; k < p->n_output; k++)
        if (p->output[k] && *p->output[k]) strmap_put(&c->names, p->output[k], ONNX_FAILED);
}

static const char *node_label(const Onnx__NodeProto *p)
{
    if (p->name && *p->name) return p->name;
    for (size_t k = 0; k < p->n_output; k++)
        if (p->output[k] && *p->output[k]) return p->output[k];
    return p->op_type ? p->op_type : "?";
}

/* Static checks: domain, op, attributes. Independent of the inputs' state. */
static const OnnxOpRule *check_node(OnnxCtx *c, const Onnx__NodeProto *p, const char *name)
{
    const char *op = p->op_type ? p->op_type : "";
    if (!domain_is_default(p->domain)) {
        onnx_problem(c, "op", name, op, "node '%s': unsupported op '%s' (domain '%s')", name, op, p->domain);
        return NULL;
    }
    if (c->opset <= 0) {
        onnx_problem(c, "op", name, op,
                     "node '%s': op '%s' of domain 'ai.onnx', which the model does not import", name, op);
        return NULL;
    }
    const OnnxOpRule *r = onnx_rule_find(op);
    if (!r) {
        onnx_problem(c, "op", name, op, "node '%s': unsupported op '%s' (domain 'ai.onnx', opset %lld)", name,
                     op, (long long)c->opset);
        return NULL;
    }
    int bad = 0;
    for (size_t i = 0; i < p->n_attribute; i++) {
        const OnnxAttr *a = p->attribute[i];
        const char *an = a->name ? a->name : "";
        if (a->ref_attr_name && *a->ref_attr_name) {
            onnx_problem(c, "attribute", name, op, "node '%s' (%s): attribute '%s' refers to a function attribute",
                         name, op, an);
            bad = 1;
            continue;
        }
        if (onnx_name_in_list(r->pass, an) || onnx_name_in_list(r->handled, an) ||
            !strcmp(an, "consumed_inputs"))
            continue;
        onnx_problem(c, "attribute", name, op, "node '%s' (%s): unsupported attribute '%s'", name, op, an);
        bad = 1;
    }
    return bad ? NULL : r;
}

static int lower_node(OnnxCtx *c, const Onnx__NodeProto *p)
{
    const char *name = node_label(p);
    const OnnxOpRule *r = check_node(c, p, name);
    if (!r) {
        fail_outputs(c, p);
        return -1;
    }
    OnnxNode N = {.c = c, .p = p, .name = name, .op = p->op_type, .opset = c->opset};
    N.n_in = (int)p->n_input;
    N.n_out = (int)p->n_output;
    N.in = xmalloc(((size_t)N.n_in + 1) * sizeof(int));
    int poisoned = 0;
    for (int k = 0; k < N.n_in; k++) {
        const char *in = p->input[k];
        int vid = -1;
        if (in && *in && (!strmap_get(&c->names, in, &vid) || vid < 0)) poisoned = 1;
        N.in[k] = in && *in ? vid : -1;
    }
    while (N.n_in > 0 && N.in[N.n_in - 1] < 0 && !(p->input[N.n_in - 1] && *p->input[N.n_in - 1]))
        N.n_in--; /* trailing absent optional inputs */
    int rc = -1;
    if (!poisoned) {
        int before = c->n_problems;
        rc = onnx_rule_lower(&N, r);
        if (!rc && c->n_problems != before) rc = -1;
        for (int k = 0; !rc && k < N.n_out; k++) {
            const char *o = out_name(&N, k);
            int vid;
            if (!o) continue;
            int defined = strmap_get(&c->names, o, &vid) && vid >= 0 &&
                          (c->g->values[vid].kind != VAL_INTERMEDIATE || c->g->values[vid].producer >= 0);
            if (!defined && onnx_out_used(&N, k)) {
                onnx_node_problem(&N, "op", "output %d ('%s') is not supported", k, o);
                rc = -1;
            }
        }
    }
    if (rc) fail_outputs(c, p);
    free(N.in);
    return rc;
}

/* ---------------------------------------------------------------- ordering and the graph */

/* Min-heap of node indices (stable topological order). */
typedef struct Heap {
    int *a;
    int n;
} Heap;

static void heap_push(Heap *h, int x)
{
    int i = h->n++;
    h->a[i] = x;
    while (i > 0 && h->a[(i - 1) / 2] > h->a[i]) {
        int p = (i - 1) / 2, t = h->a[p];
        h->a[p] = h->a[i];
        h->a[i] = t;
        i = p;
    }
}

static int heap_pop(Heap *h)
{
    int top = h->a[0];
    h->a[0] = h->a[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->a[l] < h->a[m]) m = l;
        if (r < h->n && h->a[r] < h->a[m]) m = r;
        if (m == i) break;
        int t = h->a[m];
        h->a[m] = h->a[i];
        h->a[i] = t;
        i = m;
    }
    return top;
}

/* Order the nodes topologically. Nodes with structural errors (duplicate output, undefined
 * input, cycle) get bad[i] = 1 after a problem is recorded. Returns the order (n entries, bad
 * nodes included so that later nodes can be checked too). */
static int *order_nodes(OnnxCtx *c, StrMap *producer, char *bad)
{
    const Onnx__GraphProto *gp = c->gp;
    int n = (int)gp->n_node;
    for (int i = 0; i < n; i++) {
        const Onnx__NodeProto *p = gp->node[i];
        for (size_t k = 0; k < p->n_output; k++) {
            const char *o = p->output[k];
            if (!o || !*o) continue;
            int prev;
            if (strmap_get(&c->names, o, &prev)) {
                onnx_problem(c, "model", node_label(p), p->op_type,
                             "node '%s' (%s): output '%s' is also a graph input or initializer",
                             node_label(p), p->op_type, o);
                bad[i] = 1;
            } else if (strmap_get(producer, o, &prev)) {
                onnx_problem(c, "model", node_label(p), p->op_type,
                             "node '%s' (%s): output '%s' is already produced by node '%s'",
                             node_label(p), p->op_type, o, node_label(gp->node[prev]));
                bad[i] = 1;
            } else {
                strmap_put(producer, o, i);
                strmap_put(&c->reserved, o, 1);
            }
        }
    }
    int *indeg = xcalloc((size_t)n + 1, sizeof(int));
    int *n_users = xcalloc((size_t)n + 1, sizeof(int));
    int **users = xcalloc((size_t)n + 1, sizeof(int *));
    for (int i = 0; i < n; i++) {
        const Onnx__NodeProto *p = gp->node[i];
        for (size_t k = 0; k < p->n_input; k++) {
            const char *in = p->input[k];
            if (!in || !*in) continue;
            int src;
            if (strmap_get(producer, in, &src)) {
                indeg[i]++;
                users[src] = xrealloc(users[src], (size_t)(n_users[src] + 1) * sizeof(int));
                users[src][n_users[src]++] = i;
            } else if (!strmap_get(&c->names, in, NULL)) {
                onnx_problem(c, "model", node_label(p), p->op_type, "node '%s' (%s): input '%s' is not defined",
                             node_label(p), p->op_type, in);
                bad[i] = 1;
            }
        }
    }
    Heap h = {xmalloc(((size_t)n + 1) * sizeof(int)), 0};
    int *order = xmalloc(((size_t)n + 1) * sizeof(int));
    char *done = xcalloc((size_t)n + 1, 1);
    int cnt = 0;
    for (int i = 0; i < n; i++)
        if (!indeg[i]) heap_push(&h, i);
    while (h.n) {
        int i = heap_pop(&h);
        done[i] = 1;
        order[cnt++] = i;
        for (int u = 0; u < n_users[i]; u++)
            if (--indeg[users[i][u]] == 0) heap_push(&h, users[i][u]);
    }
    int reported = 0;
    for (int i = 0; i < n; i++)
        if (!done[i]) {
            if (!reported)
                onnx_problem(c, "model", node_label(gp->node[i]), gp->node[i]->op_type,
                             "graph has a cycle through node '%s' (%s)", node_label(gp->node[i]),
                             gp->node[i]->op_type);
            reported = 1;
            bad[i] = 1;
            order[cnt++] = i;
        }
    for (int i = 0; i < n; i++) free(users[i]);
    free(users), free(n_users), free(indeg), free(h.a), free(done);
    return order;
}

int onnx_lower_graph(OnnxCtx *c)
{
    const Onnx__GraphProto *gp = c->gp;
    int n = (int)gp->n_node;
    for (size_t k = 0; k < gp->n_output; k++)
        if (gp->output[k]->name) strmap_put(&c->graph_outputs, gp->output[k]->name, 1);

    StrMap *uses = &c->uses;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < gp->node[i]->n_input; k++) {
            const char *in = gp->node[i]->input[k];
            if (!in || !*in) continue;
            int u = 0;
            strmap_get(uses, in, &u);
            strmap_put(uses, in, u + 1);
        }

    StrMap producer;
    strmap_init(&producer);
    char *bad = xcalloc((size_t)n + 1, 1);
    int *order = order_nodes(c, &producer, bad);
    for (int k = 0; k < n && !onnx_should_stop(c); k++) {
        const Onnx__NodeProto *p = gp->node[order[k]];
        if (bad[order[k]]) {
            /* still report an unsupported op here; structural error already recorded */
            check_node(c, p, node_label(p));
            fail_outputs(c, p);
            continue;
        }
        lower_node(c, p);
    }
    free(order);
    free(bad);
    strmap_free(&producer);
    if (onnx_should_stop(c)) return -1;

    for (size_t k = 0; k < gp->n_output; k++) {
        const char *name = gp->output[k]->name ? gp->output[k]->name : "";
        int vid;
        if (!strmap_get(&c->names, name, &vid) || vid == ONNX_UNDEF) {
            onnx_problem(c, "model", NULL, NULL, "graph output '%s' is not produced by any node", name);
            if (onnx_should_stop(c)) return -1;
            continue;
        }
        if (vid < 0) continue; /* its producer failed: already reported */
        ir_graph_add_output(c->g, vid);
    }
    return c->n_problems ? -1 : 0;
}
