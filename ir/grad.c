/* grad.c — reverse-mode gradient of a loss on one graph output with respect to one graph input,
 * over the reference interpreter (see grad.h for the rules).
 *
 * grad_input: (1) run the nodes the output depends on with interp_node, keeping every value;
 * (2) mark the active values (floating-point values computed from the input); (3) call the loss
 * on the output; (4) walk the nodes in reverse order: a node with a gradient on some output and
 * an active input gets its backward function (grad_node), which adds into lazily allocated,
 * zero-initialised gradient tensors of its active inputs. Tape-free: the graph and the kept
 * values are the tape.
 *
 * grad_node also gives blocked-layout nodes (layout="NCHW16c": Conv and the pools) a backward:
 * blocking is a linear copy whose adjoint is unblocking (and vice versa), so the node's forward
 * tensors and incoming gradients are unblocked, the plain backward runs, and the gradients of
 * blocked inputs are blocked again and added.
 */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

static GradFn grad_fn_of(OpKind op)
{
    switch (op) {
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_CLIP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_HARD_SIGMOID:
    case OP_HARD_SWISH:
    case OP_IDENTITY:
    case OP_DROPOUT: return grad_unary;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: return grad_binary;
    case OP_CONV: return grad_conv;
    case OP_GEMM: return grad_gemm;
    case OP_MATMUL: return grad_matmul;
    case OP_MAX_POOL:
    case OP_AVERAGE_POOL: return grad_pool;
    case OP_GLOBAL_AVERAGE_POOL:
    case OP_GLOBAL_MAX_POOL: return grad_global_pool;
    case OP_BATCH_NORM: return grad_batch_norm;
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX: return grad_softmax;
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE: return grad_copy;
    case OP_CONCAT: return grad_concat;
    case OP_TRANSPOSE: return grad_transpose;
    case OP_PAD: return grad_pad;
    case OP_LAYOUT_TRANSFORM: return grad_layout_transform;
    default: return NULL;
    }
}

int grad_op_supported(OpKind op) { return grad_fn_of(op) != NULL; }

void grad_acc_buf(Tensor *t, const double *buf)
{
    int64_t cnt = tensor_numel(t);
    if (t->dtype == DT_F32) {
        float *p = t->data;
        for (int64_t i = 0; i < cnt; i++) p[i] += (float)buf[i];
    } else {
        for (int64_t i = 0; i < cnt; i++) grad_acc(t, i, buf[i]);
    }
}

void grad_active_values(const Graph *g, int from, char *flags)
{
    memset(flags, 0, (size_t)g->n_values);
    if (from < 0 || from >= g->n_values || !dtype_is_float(g->values[from].dtype)) return;
    flags[from] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        int hit = 0;
        for (int k = 0; k < n->n_in && !hit; k++) hit = n->in[k] >= 0 && flags[n->in[k]];
        if (!hit) continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && dtype_is_float(g->values[n->out[k]].dtype)) flags[n->out[k]] = 1;
    }
}

/* ---------------------------------------------------------------- blocked layout */

/* Plain copy of blocked tensor t with `channels` logical channels. */
static Tensor *grad_unblock(const Tensor *t, int64_t channels)
{
    int64_t dims[IR_MAX_RANK];
    int rank;
    if (ir_layout_unblocked_dims(t->rank, t->dims, channels, &rank, dims)) return NULL;
    Tensor *p = tensor_new(t->dtype, rank, dims);
    int64_t S = shape_numel(rank - 2, dims + 2);
    ir_layout_convert(0, dtype_size(t->dtype), dims[0], channels, S, t->data, p->data);
    return p;
}

/* blocked += block(plain). */
static void grad_block_add(Tensor *blocked, const Tensor *plain)
{
    Tensor *tmp = tensor_new(blocked->dtype, blocked->rank, blocked->dims);
    int64_t S = shape_numel(plain->rank - 2, plain->dims + 2);
    ir_layout_convert(1, dtype_size(plain->dtype), plain->dims[0], plain->dims[1], S, plain->data, tmp->data);
    int64_t cnt = tensor_numel(tmp);
    for (int64_t i = 0; i < cnt; i++) grad_acc(blocked, i, grad_ld(tmp, i));
    tensor_free(tmp);
}

static int grad_node_blocked(const Graph *g, const Node *n, GradFn fn, Tensor **in, Tensor **out, Tensor **gout,
                             Tensor **gin, Diag *d)
{
    int64_t in_ch[8] = {0}, out_ch[8] = {0};
    if (n->n_in > 8 || n->n_out > 8) return node_error(d, n, "too many operands for a blocked op");
    if (n->op == OP_CONV) {
        const Tensor *x = in[0], *w = in[1];
        if (w->rank < 2) return node_error(d, n, "W must have rank >= 2");
        int64_t C = w->dims[1] * ir_attr_int(n, "group", 1), M = w->dims[0];
        in_ch[0] = x->rank == w->rank + 1 ? C : 0;
        if (n->n_in > 3) in_ch[3] = M;
        out_ch[0] = M;
    } else if (n->op == OP_MAX_POOL || n->op == OP_AVERAGE_POOL || n->op == OP_GLOBAL_AVERAGE_POOL ||
               n->op == OP_GLOBAL_MAX_POOL) {
        if (in[0]->rank < 3 || n->n_out > 1)
            return node_error(d, n, "blocked pool needs an NCHW16c input and one output");
        in_ch[0] = out_ch[0] = in[0]->dims[1] * IR_LAYOUT_BLOCK;
    } else {
        return node_error(d, n, "no gradient for op %s with layout NCHW16c at node '%s'", ir_op_name(n->op),
                          n->name);
    }
    Tensor *pin[8], *pout[8], *pgout[8], *pgin[8];
    Tensor *own[32];
    int nown = 0, rc = -1;
    for (int k = 0; k < n->n_in; k++) {
        pin[k] = in[k];
        pgin[k] = gin[k];
        if (!in[k] || in_ch[k] <= 0) continue;
        if (!(pin[k] = own[nown++] = grad_unblock(in[k], in_ch[k]))) {
            node_error(d, n, "input %d is not NCHW16c", k);
            goto out;
        }
        if (gin[k]) pgin[k] = own[nown++] = tensor_new(pin[k]->dtype, pin[k]->rank, pin[k]->dims);
    }
    for (int k = 0; k < n->n_out; k++) {
        pout[k] = out[k];
        pgout[k] = gout[k];
        if (!out[k] || out_ch[k] <= 0) continue;
        if (!(pout[k] = own[nown++] = grad_unblock(out[k], out_ch[k]))) {
            node_error(d, n, "output %d is not NCHW16c", k);
            goto out;
        }
        if (gout[k]) pgout[k] = own[nown++] = grad_unblock(gout[k], out_ch[k]);
    }
    if (fn(g, n, pin, pout, pgout, pgin, d)) goto out;
    for (int k = 0; k < n->n_in; k++)
        if (gin[k] && pgin[k] != gin[k]) grad_block_add(gin[k], pgin[k]);
    rc = 0;
out:
    for (int i = 0; i < nown; i++) tensor_free(own[i]);
    return rc;
}

int grad_node(const Graph *g, const Node *n, Tensor **in, Tensor **out, Tensor **gout, Tensor **gin, Diag *d)
{
    GradFn fn = grad_fn_of(n->op);
    if (!fn) return node_error(d, n, "no gradient for op %s at node '%s'", ir_op_name(n->op), n->name);
    int blocked = ir_node_layout(n, d);
    if (blocked < 0) return -1;
    if (blocked && n->op != OP_LAYOUT_TRANSFORM) return grad_node_blocked(g, n, fn, in, out, gout, gin, d);
    return fn(g, n, in, out, gout, gin, d);
}

/* ---------------------------------------------------------------- whole graph */

static int grad_check_input(const Graph *g, int k, const Tensor *t, Diag *d)
{
    const Value *v = &g->values[g->inputs[k]];
    int same = t && t->dtype == v->dtype && t->rank == v->rank;
    for (int j = 0; same && j < v->rank; j++) same = t->dims[j] == v->dims[j];
    if (same) return 0;
    char a[128], b[128];
    return diag_error(d, "input '%s': expected %s[%s], got %s[%s]", v->name, dtype_name(v->dtype),
                      shape_str(v->rank, v->dims, a, sizeof a), t ? dtype_name(t->dtype) : "none",
                      t ? shape_str(t->rank, t->dims, b, sizeof b) : "");
}

/* Gradient tensor of value vid (allocated zero on first use). */
static Tensor *grad_of(const Graph *g, Tensor **gv, int vid)
{
    if (!gv[vid]) {
        const Value *v = &g->values[vid];
        gv[vid] = tensor_new(v->dtype, v->rank, v->dims);
    }
    return gv[vid];
}

int grad_input(const Graph *g, Tensor *const *inputs, int input_index, int output_index, GradLossFn loss,
               void *ctx, double *loss_out, Tensor **grad_out, Diag *d)
{
    *grad_out = NULL;
    if (input_index < 0 || input_index >= g->n_inputs)
        return diag_error(d, "gradient: input index %d out of range (graph has %d inputs)", input_index,
                          g->n_inputs);
    if (output_index < 0 || output_index >= g->n_outputs)
        return diag_error(d, "gradient: output index %d out of range (graph has %d outputs)", output_index,
                          g->n_outputs);
    int xv = g->inputs[input_index], yv = g->outputs[output_index];
    if (!dtype_is_float(g->values[xv].dtype))
        return diag_error(d, "gradient: input '%s' is %s, not floating-point", g->values[xv].name,
                          dtype_name(g->values[xv].dtype));
    if (!dtype_is_float(g->values[yv].dtype))
        return diag_error(d, "gradient: output '%s' is %s, not floating-point", g->values[yv].name,
                          dtype_name(g->values[yv].dtype));
    for (int k = 0; k < g->n_inputs; k++)
        if (grad_check_input(g, k, inputs[k], d)) return -1;

    int nv = g->n_values, rc = -1;
    Tensor **val = xcalloc((size_t)nv + 1, sizeof(Tensor *));
    Tensor **gv = xcalloc((size_t)nv + 1, sizeof(Tensor *));
    char *borrowed = xcalloc((size_t)nv + 1, 1), *active = xcalloc((size_t)nv + 1, 1);
    char *needed = xcalloc((size_t)nv + 1, 1), *run = xcalloc((size_t)g->n_nodes + 1, 1);
    Tensor *dy = NULL, *ins[64], *outs[64], *gouts[64], *gins[64];

    /* nodes the output depends on */
    needed[yv] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out && !run[i]; k++) run[i] = n->out[k] >= 0 && needed[n->out[k]];
        if (run[i])
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0) needed[n->in[k]] = 1;
    }
    grad_active_values(g, xv, active);

    for (int i = 0; i < nv; i++) {
        const Value *v = &g->values[i];
        if (v->kind == VAL_CONST) val[i] = tensor_wrap(v->dtype, v->rank, v->dims, v->data), borrowed[i] = 1;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        const Tensor *t = inputs[k];
        tensor_free(val[g->inputs[k]]);
        val[g->inputs[k]] = tensor_wrap(t->dtype, t->rank, t->dims, t->data);
        borrowed[g->inputs[k]] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (!run[i]) continue;
        if (n->n_in > 64 || n->n_out > 64) {
            node_error(d, n, "gradient: too many operands");
            goto out;
        }
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            ins[k] = v >= 0 ? val[v] : NULL;
            if (v >= 0 && !val[v]) {
                diag_error(d, "node '%s' (%s): input '%s' has no value", n->name, ir_op_name(n->op),
                           g->values[v].name);
                goto out;
            }
        }
        if (interp_node(g, i, ins, outs, d)) goto out;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) {
                if (!borrowed[n->out[k]]) tensor_free(val[n->out[k]]);
                val[n->out[k]] = outs[k];
                borrowed[n->out[k]] = 0;
            }
    }
    if (!val[yv]) {
        diag_error(d, "gradient: output '%s' has no value", g->values[yv].name);
        goto out;
    }

    dy = tensor_new(val[yv]->dtype, val[yv]->rank, val[yv]->dims);
    double L = 0;
    if (loss(ctx, val[yv], dy, &L, d)) goto out;
    if (loss_out) *loss_out = L;
    if (active[yv]) {
        gv[yv] = dy;
        dy = NULL;
    }

    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        if (!run[i]) continue;
        int any_out = 0, any_in = 0;
        for (int k = 0; k < n->n_out; k++) {
            gouts[k] = n->out[k] >= 0 ? gv[n->out[k]] : NULL;
            any_out |= gouts[k] != NULL;
        }
        for (int k = 0; k < n->n_in; k++) any_in |= n->in[k] >= 0 && active[n->in[k]];
        if (!any_out || !any_in) continue;
        if (!grad_op_supported(n->op)) {
            node_error(d, n, "no gradient for op %s at node '%s'", ir_op_name(n->op), n->name);
            goto out;
        }
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            ins[k] = v >= 0 ? val[v] : NULL;
            gins[k] = v >= 0 && active[v] ? grad_of(g, gv, v) : NULL;
        }
        for (int k = 0; k < n->n_out; k++) outs[k] = n->out[k] >= 0 ? val[n->out[k]] : NULL;
        if (grad_node(g, n, ins, outs, gouts, gins, d)) goto out;
    }
    *grad_out = gv[xv] ? gv[xv] : grad_of(g, gv, xv);
    gv[xv] = NULL;
    rc = 0;
out:
    for (int i = 0; i < nv; i++) {
        if (val[i] && borrowed[i]) val[i]->owns = 0;
        tensor_free(val[i]);
        tensor_free(gv[i]);
    }
    tensor_free(dy);
    free(val), free(gv), free(borrowed), free(active), free(needed), free(run);
    return rc;
}
