/* check.c — check-each: catches the first pass that changes what the model computes.
 *
 * Before the pipeline, the reference interpreter runs the graph on pseudo-random inputs made
 * from the context's seed (a splitmix64 stream: identical on every machine) and the outputs
 * are kept. If that run fails and the graph has integer inputs (likely indices out of range),
 * it is retried once with those inputs all zero. After every pass the graph runs again on the same inputs and every output is
 * compared element-wise: |a - b| <= atol + rtol * |b| (b = reference), NaN only where the
 * reference has NaN. Output names, dtypes and shapes are the model's interface and must not
 * change at all.
 */
#include "passes/passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct PassCheck {
    int n_in;
    Tensor **inputs;
    int n_out;
    Tensor **ref;
    char **names;
    double rtol, atol;
};

void pass_random_fill(Tensor *t, uint64_t *state)
{
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = ir_rand_next(state);
        if (dtype_is_float(t->dtype)) {
            /* 24 random bits: exact in f32, so the value stays inside [-1, 1) */
            double u = (double)(r >> 40) * (1.0 / 16777216.0);
            tensor_set_f64(t, i, 2.0 * u - 1.0);
        } else if (t->dtype == DT_BOOL) {
            tensor_set_i64(t, i, (int64_t)(r >> 63));
        } else {
            tensor_set_i64(t, i, (int64_t)(r >> 62)); /* 0..3 */
        }
    }
}

void pass_check_free(PassCheck *c)
{
    if (!c) return;
    for (int k = 0; k < c->n_in; k++) tensor_free(c->inputs[k]);
    for (int k = 0; k < c->n_out; k++) {
        tensor_free(c->ref[k]);
        free(c->names[k]);
    }
    free(c->inputs), free(c->ref), free(c->names);
    free(c);
}

static int graph_is_typed(const Graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int v = g->nodes[i].out[k];
            if (v >= 0 && g->values[v].dtype == DT_UNDEF) return 0;
        }
    return 1;
}

PassCheck *pass_check_new(const Graph *g, const PassContext *ctx, Diag *d)
{
    PassCheck *c = xcalloc(1, sizeof *c);
    c->rtol = ctx->check_rtol;
    c->atol = ctx->check_atol;
    c->n_in = g->n_inputs;
    c->inputs = xcalloc((size_t)g->n_inputs + 1, sizeof(Tensor *));
    uint64_t state = ctx->seed;
    for (int k = 0; k < g->n_inputs; k++) {
        const Value *v = &g->values[g->inputs[k]];
        if (v->dtype == DT_UNDEF) {
            diag_error(d, "check-each: graph input '%s' has no type", v->name);
            pass_check_free(c);
            return NULL;
        }
        c->inputs[k] = tensor_new(v->dtype, v->rank, v->dims);
        pass_random_fill(c->inputs[k], &state);
    }
    c->n_out = g->n_outputs;
    c->ref = xcalloc((size_t)g->n_outputs + 1, sizeof(Tensor *));
    c->names = xcalloc((size_t)g->n_outputs + 1, sizeof(char *));
    for (int k = 0; k < g->n_outputs; k++) c->names[k] = xstrdup(g->values[g->outputs[k]].name);

    Diag sub;
    Graph *typed = NULL;
    const Graph *run = g;
    if (!graph_is_typed(g)) {
        typed = ir_graph_clone(g);
        if (ir_infer_shapes(typed, &sub)) {
            diag_error(d, "check-each: shape inference failed on the input graph: %s", sub.msg);
            goto fail;
        }
        run = typed;
    }
    if (interp_run(run, c->inputs, c->ref, NULL, &sub)) {
        /* Random integers in [0, 4) may be out of range where an input holds indices (Gather
         * on an axis shorter than 4): retry with integer inputs all 0, always a valid index. */
        int ints = 0;
        for (int k = 0; k < c->n_in; k++)
            if (!dtype_is_float(c->inputs[k]->dtype)) {
                memset(c->inputs[k]->data, 0, tensor_nbytes(c->inputs[k]));
                ints = 1;
            }
        Diag again;
        if (!ints || interp_run(run, c->inputs, c->ref, NULL, &again)) {
            diag_error(d, "check-each: interpreter failed on the input graph: %s", sub.msg);
            goto fail;
        }
    }
    ir_graph_free(typed);
    return c;
fail:
    ir_graph_free(typed);
    pass_check_free(c);
    return NULL;
}

/* Compare one output; returns 0 or -1 with d set. */
static int compare_tensor(const PassCheck *c, const Tensor *a, const Tensor *b, const char *pass,
                          const char *name, Diag *d)
{
    if (!a || !b)
        return diag_error(d, "after pass '%s': graph output '%s' is not computed", pass, name);
    int same = a->dtype == b->dtype && a->rank == b->rank;
    for (int j = 0; same && j < a->rank; j++) same = a->dims[j] == b->dims[j];
    if (!same) {
        char sa[128], sb[128];
        return diag_error(d, "pass '%s' changed output '%s' from %s[%s] to %s[%s]", pass, name,
                          dtype_name(b->dtype), shape_str(b->rank, b->dims, sb, sizeof sb),
                          dtype_name(a->dtype), shape_str(a->rank, a->dims, sa, sizeof sa));
    }
    int64_t n = tensor_numel(a), bad = -1;
    double worst = -1;
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get_f64(a, i), y = tensor_get_f64(b, i);
        double err;
        if (isnan(x) || isnan(y)) {
            if (isnan(x) && isnan(y)) continue;
            err = INFINITY; /* a NaN where the reference has none, or the reverse */
        } else if (x == y) {
            continue; /* also equal infinities */
        } else {
            err = fabs(x - y);
            if (err <= c->atol + c->rtol * fabs(y)) continue;
        }
        if (err > worst) {
            worst = err;
            bad = i;
        }
    }
    if (bad < 0) return 0;
    return diag_error(d,
                      "pass '%s' changed output '%s' beyond tolerance: max abs err %g at index %lld "
                      "(rtol %g, atol %g)",
                      pass, name, worst, (long long)bad, c->rtol, c->atol);
}

int pass_check_compare(PassCheck *c, const Graph *g, const char *pass_name, Diag *d)
{
    if (g->n_outputs != c->n_out)
        return diag_error(d, "pass '%s' changed the number of graph outputs from %d to %d", pass_name,
                          c->n_out, g->n_outputs);
    for (int k = 0; k < c->n_out; k++)
        if (strcmp(g->values[g->outputs[k]].name, c->names[k]))
            return diag_error(d, "pass '%s' renamed graph output '%s' to '%s'", pass_name, c->names[k],
                              g->values[g->outputs[k]].name);
    Tensor **out = xcalloc((size_t)c->n_out + 1, sizeof(Tensor *));
    Diag sub;
    int rc = 0;
    if (interp_run(g, c->inputs, out, NULL, &sub)) {
        rc = diag_error(d, "check-each: interpreter failed after pass '%s': %s", pass_name, sub.msg);
    } else {
        for (int k = 0; k < c->n_out && !rc; k++)
            rc = compare_tensor(c, out[k], c->ref[k], pass_name, c->names[k], d);
    }
    for (int k = 0; k < c->n_out; k++) tensor_free(out[k]);
    free(out);
    return rc;
}
