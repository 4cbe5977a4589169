/* interp.c — the reference interpreter driver: binds inputs, runs nodes in order through the
 * per-op kernels named in ops.def (interp_*.c), frees intermediates after their last use and
 * returns copies of the graph outputs. Kernels receive outputs pre-allocated with the shapes
 * and dtypes recorded in the graph by shape inference.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

typedef int (*EvalFn)(const Graph *, const Node *, Tensor **, Tensor **, Diag *);
static const EvalFn eval_fns[OP_COUNT] = {
#define OP(e, name, mi, ma, mo, mao, sf, ef) [OP_##e] = ef,
#include "ops.def"
#undef OP
};

static Tensor *alloc_value(const Graph *g, int vid)
{
    const Value *v = &g->values[vid];
    return tensor_new(v->dtype, v->rank, v->dims);
}

int interp_node(const Graph *g, int node, Tensor **in, Tensor **out, Diag *d)
{
    const Node *n = &g->nodes[node];
    for (int k = 0; k < n->n_out; k++) out[k] = n->out[k] >= 0 ? alloc_value(g, n->out[k]) : NULL;
    int rc = eval_fns[n->op](g, n, in, out, d);
    if (rc) {
        for (int k = 0; k < n->n_out; k++) {
            tensor_free(out[k]);
            out[k] = NULL;
        }
    }
    return rc;
}

int interp_run(const Graph *g, Tensor *const *inputs, Tensor **outputs, const InterpOptions *opt,
               Diag *d)
{
    int nv = g->n_values, rc = -1;
    Tensor **val = xcalloc((size_t)nv + 1, sizeof(Tensor *));
    char *borrowed = xcalloc((size_t)nv + 1, 1);
    int *last_use = xmalloc(((size_t)nv + 1) * sizeof(int));
    for (int i = 0; i < nv; i++) last_use[i] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) last_use[g->nodes[i].in[k]] = i;
    for (int k = 0; k < g->n_outputs; k++) last_use[g->outputs[k]] = g->n_nodes; /* keep */

    for (int i = 0; i < nv; i++) {
        const Value *v = &g->values[i];
        if (v->kind == VAL_CONST) {
            val[i] = tensor_wrap(v->dtype, v->rank, v->dims, v->data);
            borrowed[i] = 1;
        }
    }
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        const Tensor *t = inputs[k];
        int same = t && t->dtype == v->dtype && t->rank == v->rank;
        for (int j = 0; same && j < v->rank; j++) same = t->dims[j] == v->dims[j];
        if (!same) {
            char a[128], b[128];
            diag_error(d, "input '%s': expected %s[%s], got %s[%s]", v->name, dtype_name(v->dtype),
                       shape_str(v->rank, v->dims, a, sizeof a), t ? dtype_name(t->dtype) : "none",
                       t ? shape_str(t->rank, t->dims, b, sizeof b) : "");
            goto out;
        }
        val[g->inputs[k]] = tensor_wrap(t->dtype, t->rank, t->dims, t->data);
        borrowed[g->inputs[k]] = 1;
    }

    Tensor *ins[64], *outs[64];
    Tensor **inp = ins, **outp = outs;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        inp = n->n_in > 64 ? xmalloc((size_t)n->n_in * sizeof(Tensor *)) : ins;
        outp = n->n_out > 64 ? xmalloc((size_t)n->n_out * sizeof(Tensor *)) : outs;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            inp[k] = v >= 0 ? val[v] : NULL;
            if (v >= 0 && !val[v]) {
                diag_error(d, "node '%s' (%s): input '%s' has no value", n->name, ir_op_name(n->op),
                           g->values[v].name);
                goto node_fail;
            }
        }
        if (interp_node(g, i, inp, outp, d)) goto node_fail;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) {
                tensor_free(val[n->out[k]]);
                val[n->out[k]] = outp[k];
            }
        if (opt && opt->hook && opt->hook(opt->hook_ctx, g, i, outp)) {
            diag_error(d, "run stopped by hook at node '%s'", n->name);
            goto node_fail;
        }
        if (!(opt && opt->keep_all))
            for (int k = 0; k < n->n_in; k++) {
                int v = n->in[k];
                if (v >= 0 && last_use[v] == i && !borrowed[v] && val[v]) {
                    tensor_free(val[v]);
                    val[v] = NULL;
                }
            }
        if (inp != ins) free(inp);
        if (outp != outs) free(outp);
        continue;
    node_fail:
        if (inp != ins) free(inp);
        if (outp != outs) free(outp);
        goto out;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        Tensor *t = val[g->outputs[k]];
        outputs[k] = t ? tensor_clone(t) : NULL;
    }
    rc = 0;
out:
    for (int i = 0; i < nv; i++) {
        if (borrowed[i]) {
            val[i]->owns = 0;
        }
        tensor_free(val[i]);
    }
    free(val), free(borrowed), free(last_use);
    return rc;
}
