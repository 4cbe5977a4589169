/* grad_plan.c — GradPlan, the batched f32 forward/backward engine of grad.h: runs many
 * independent samples of one graph input through the graph and back, with every buffer
 * allocated once at plan time (no allocation per step on the fast kinds).
 *
 * Plan (grad_plan_new):
 *   dep     values computed from the input (they get per-slot storage: slots x bytes);
 *   needed  nodes the targets depend on; needed nodes that do not depend on the input run once
 *           now with the interpreter (their outputs are shared by all samples, like constants);
 *   gpath   floating-point dep values from which a gradient can reach a target; nodes producing
 *           them run backward and must have a backward function (checked here, so the error
 *           names the node before any work is done);
 *   kinds   each needed dep node gets a dedicated f32 kernel pair when its operands allow (Conv
 *           via grad_plan_conv.c, activations, copies, broadcasting Add/Sub/Mul/Div, 2-D
 *           MaxPool/AveragePool, GlobalAverage/MaxPool, BatchNormalization with constant
 *           parameters), else GENERIC: the interpreter's kernel forward and grad_node backward
 *           on tensors that view the sample's slices (correct for every op, slower).
 * Forward of a slot writes that slot's values and per-node state (Conv pre-activations,
 * MaxPool argmax). Backward uses one sample's worth of gradient buffers, zeroed lazily on first
 * use (a flag per value), and walks the nodes in reverse.
 * Results are deterministic: everything is sequential and in a fixed order.
 */
#include "grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef int (*PlanEvalFn)(const Graph *, const Node *, Tensor **, Tensor **, Diag *);
static const PlanEvalFn plan_eval_fns[OP_COUNT] = {
#define OP(e, name, mi, ma, mo, mao, sf, ef) [OP_##e] = ef,
#include "ops.def"
#undef OP
};

typedef enum PlanKind {
    PK_GENERIC = 0,
    PK_CONV,
    PK_COPY,
    PK_ACT,
    PK_BINARY,
    PK_MAXPOOL,
    PK_AVGPOOL,
    PK_GAP,
    PK_GMP,
    PK_BN
} PlanKind;

/* Per output coordinate of a pool axis: first valid input index, valid taps, taps inside the
 * padded input (count_include_pad's divisor). */
typedef struct PoolAxis {
    int64_t *first, *count, *incl;
} PoolAxis;

typedef struct PlanNode {
    int node;
    PlanKind kind;
    int back;                   /* a gradient can reach one of its outputs */
    GradConvPlan *conv;
    int64_t images;             /* Conv: images per sample (dim 0) */
    Activation act;
    int64_t state, istate;      /* offsets into the slot's float / int32 state, -1 if none */
    /* pools */
    int64_t planes, H, W, OH, OW, dh, dw;
    int include_pad;
    int fast2x2;                /* kernel 2x2, stride 2, no dilation, no leading pads */
    PoolAxis ax[2];
    /* binary broadcast: collapsed rank, dims and element strides of A, B (0 where broadcast) */
    int rank;
    int64_t dims[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK];
    /* BatchNormalization */
    float *bn_a, *bn_b;
    int64_t bn_n, bn_c, bn_s;
} PlanNode;

struct GradPlan {
    const Graph *g;
    int xv, slots;
    char *dep, *gpath, *is_target, *gflag;
    char **buf;       /* dep values: slots * vbytes */
    size_t *vbytes;   /* bytes of a value per sample */
    char **gbuf;      /* gpath values: one sample */
    Tensor **shared;  /* input-independent values */
    char *shared_own;
    PlanNode *pn;
    int n_pn, n_fast, n_generic;
    float *state;
    int64_t state_per_slot;
    int32_t *istate;
    int64_t istate_per_slot;
    float *scratch;
    int64_t bytes;
};

/* ---------------------------------------------------------------- helpers */

static Tensor plan_view(const Graph *g, int vid, void *data)
{
    const Value *v = &g->values[vid];
    Tensor t = {.dtype = v->dtype, .rank = v->rank, .data = data, .owns = 0};
    memcpy(t.dims, v->dims, sizeof t.dims);
    return t;
}

/* Data of value vid for slot (dep values) or the shared tensor. */
static void *plan_data(const GradPlan *p, int vid, int slot)
{
    if (p->dep[vid]) return p->buf[vid] ? p->buf[vid] + (size_t)slot * p->vbytes[vid] : NULL;
    return p->shared[vid] ? p->shared[vid]->data : NULL;
}

/* Gradient buffer of an input about to receive a contribution (NULL when none is needed). */
static float *plan_grad_in(GradPlan *p, int vid)
{
    if (vid < 0 || !p->gpath[vid]) return NULL;
    if (!p->gflag[vid]) {
        memset(p->gbuf[vid], 0, p->vbytes[vid]);
        p->gflag[vid] = 1;
    }
    return (float *)p->gbuf[vid];
}

static const float *plan_grad_out(const GradPlan *p, int vid)
{
    return vid >= 0 && p->gflag[vid] ? (const float *)p->gbuf[vid] : NULL;
}

/* ---------------------------------------------------------------- kind selection */

static int is_f32(const Graph *g, int vid) { return vid >= 0 && g->values[vid].dtype == DT_F32; }

static int plan_layout_plain(const Node *n)
{
    const char *s = ir_attr_str(n, "layout", NULL);
    return !s || !strcmp(s, "NCHW");
}

static void pool_axis_init(PoolAxis *a, int64_t out, int64_t in, int64_t k, int64_t s, int64_t dil, int64_t pb,
                           int64_t pe)
{
    a->first = xmalloc((size_t)out * sizeof(int64_t) + 1);
    a->count = xmalloc((size_t)out * sizeof(int64_t) + 1);
    a->incl = xmalloc((size_t)out * sizeof(int64_t) + 1);
    for (int64_t o = 0; o < out; o++) {
        int64_t start = o * s - pb, first = -1, cnt = 0, incl = 0;
        for (int64_t t = 0; t < k; t++) {
            int64_t i = start + t * dil;
            if (i >= 0 && i < in) {
                if (first < 0) first = i;
                cnt++;
            }
            if (i >= -pb && i < in + pe) incl++;
        }
        a->first[o] = first < 0 ? 0 : first;
        a->count[o] = cnt;
        a->incl[o] = incl;
    }
}

/* Collapse a broadcast (as interp_binary.c): drop size-1 output dims, merge dims that are
 * contiguous for both operands. */
static void plan_bcast_init(PlanNode *pn, const Value *a, const Value *b, const Value *y)
{
    int r = y->rank;
    int64_t st[2][IR_MAX_RANK];
    const Value *ops[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        int64_t own[IR_MAX_RANK];
        shape_strides(ops[k]->rank, ops[k]->dims, own);
        for (int i = 0; i < r; i++) {
            int j = i - (r - ops[k]->rank);
            st[k][i] = j < 0 || ops[k]->dims[j] == 1 ? 0 : own[j];
        }
    }
    int m = 0;
    for (int i = 0; i < r; i++) {
        if (y->dims[i] == 1) continue;
        if (m > 0 && pn->sa[m - 1] == st[0][i] * y->dims[i] && pn->sb[m - 1] == st[1][i] * y->dims[i]) {
            pn->dims[m - 1] *= y->dims[i];
            pn->sa[m - 1] = st[0][i];
            pn->sb[m - 1] = st[1][i];
        } else {
            pn->dims[m] = y->dims[i];
            pn->sa[m] = st[0][i];
            pn->sb[m] = st[1][i];
            m++;
        }
    }
    if (m == 0) pn->dims[0] = 1, pn->sa[0] = pn->sb[0] = 0, m = 1;
    pn->rank = m;
}

/* Pick the kind of needed dep node pn->node and set up its data. */
static int plan_node_setup(GradPlan *p, PlanNode *pn, Diag *d)
{
    const Graph *g = p->g;
    const Node *n = &g->nodes[pn->node];
    pn->state = pn->istate = -1;
    pn->kind = PK_GENERIC;
    int x = n->n_in > 0 ? n->in[0] : -1, y = n->n_out > 0 ? n->out[0] : -1;
    int binary = n->op == OP_ADD || n->op == OP_SUB || n->op == OP_MUL || n->op == OP_DIV;
    if (!plan_layout_plain(n) || !is_f32(g, x) || !is_f32(g, y) || (!p->dep[x] && !binary)) return 0;
    const Value *xv = &g->values[x], *yv = &g->values[y];
    int one_out = n->n_out == 1 || (n->n_out == 2 && n->out[1] < 0);
    switch (n->op) {
    case OP_CONV: {
        int w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1, r = n->n_in > 3 ? n->in[3] : -1;
        if (p->dep[w] || (b >= 0 && p->dep[b]) || (r >= 0 && !is_f32(g, r)) || xv->rank != 4) return 0;
        Tensor xt = plan_view(g, x, NULL), wt = *p->shared[w], yt = plan_view(g, y, NULL);
        xt.dims[0] = yt.dims[0] = 1;
        pn->conv = grad_conv_plan_new(n, &xt, &wt, b >= 0 ? p->shared[b] : NULL, &yt, d);
        if (!pn->conv) return 0;
        pn->images = xv->dims[0];
        int64_t st = grad_conv_plan_state(pn->conv) * pn->images;
        if (st) pn->state = p->state_per_slot, p->state_per_slot += st;
        pn->kind = PK_CONV;
        return 0;
    }
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_CLIP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_HARD_SIGMOID:
    case OP_HARD_SWISH:
        grad_unary_activation(n, &pn->act);
        /* Clip with min > max is constant max in ONNX but not in the fused form: leave it generic */
        if (pn->act.kind == ACT_CLIP && pn->act.alpha > pn->act.beta) return 0;
        pn->kind = PK_ACT;
        return 0;
    case OP_IDENTITY:
    case OP_DROPOUT:
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
        if (one_out) pn->kind = PK_COPY;
        return 0;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: {
        int b = n->in[1];
        if (!is_f32(g, b) || xv->rank > yv->rank || g->values[b].rank > yv->rank) return 0;
        plan_bcast_init(pn, xv, &g->values[b], yv);
        pn->kind = PK_BINARY;
        return 0;
    }
    case OP_MAX_POOL:
    case OP_AVERAGE_POOL: {
        if (xv->rank != 4 || !one_out) return 0;
        ConvGeom geo;
        if (ir_conv_geometry(n, 4, xv->dims, NULL, &geo, d)) return -1;
        pn->planes = xv->dims[0] * xv->dims[1];
        pn->H = geo.in[0], pn->W = geo.in[1], pn->OH = geo.out[0], pn->OW = geo.out[1];
        pn->dh = geo.dilation[0], pn->dw = geo.dilation[1];
        pn->include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
        pn->fast2x2 = 1;
        for (int a = 0; a < 2; a++)
            pn->fast2x2 &= geo.kernel[a] == 2 && geo.stride[a] == 2 && geo.dilation[a] == 1 && geo.pad_begin[a] == 0;
        for (int a = 0; a < 2; a++)
            pool_axis_init(&pn->ax[a], geo.out[a], geo.in[a], geo.kernel[a], geo.stride[a], geo.dilation[a],
                           geo.pad_begin[a], geo.pad_end[a]);
        if (n->op == OP_MAX_POOL) {
            pn->istate = p->istate_per_slot;
            p->istate_per_slot += pn->planes * pn->OH * pn->OW;
            pn->kind = PK_MAXPOOL;
        } else {
            pn->kind = PK_AVGPOOL;
        }
        return 0;
    }
    case OP_GLOBAL_AVERAGE_POOL:
    case OP_GLOBAL_MAX_POOL:
        if (xv->rank < 3) return 0;
        pn->planes = xv->dims[0] * xv->dims[1];
        pn->H = shape_numel(xv->rank - 2, xv->dims + 2);
        pn->kind = n->op == OP_GLOBAL_AVERAGE_POOL ? PK_GAP : PK_GMP;
        return 0;
    case OP_BATCH_NORM: {
        for (int k = 1; k < 5; k++)
            if (p->dep[n->in[k]] || !dtype_is_float(g->values[n->in[k]].dtype)) return 0;
        if (xv->rank < 2) return 0;
        pn->bn_n = xv->dims[0], pn->bn_c = xv->dims[1], pn->bn_s = shape_numel(xv->rank - 2, xv->dims + 2);
        for (int k = 1; k < 5; k++)
            if (tensor_numel(p->shared[n->in[k]]) != pn->bn_c) return 0;
        double eps = ir_attr_float(n, "epsilon", 1e-5);
        pn->bn_a = xmalloc((size_t)pn->bn_c * sizeof(float) + 1);
        pn->bn_b = xmalloc((size_t)pn->bn_c * sizeof(float) + 1);
        for (int64_t c = 0; c < pn->bn_c; c++) {
            double a = grad_ld(p->shared[n->in[1]], c) / sqrt(grad_ld(p->shared[n->in[4]], c) + eps);
            pn->bn_a[c] = (float)a;
            pn->bn_b[c] = (float)(grad_ld(p->shared[n->in[2]], c) - grad_ld(p->shared[n->in[3]], c) * a);
        }
        pn->kind = PK_BN;
        return 0;
    }
    default: return 0;
    }
}

/* ---------------------------------------------------------------- plan construction */

void grad_plan_free(GradPlan *p)
{
    if (!p) return;
    const Graph *g = p->g;
    for (int i = 0; i < p->n_pn; i++) {
        PlanNode *pn = &p->pn[i];
        grad_conv_plan_free(pn->conv);
        for (int a = 0; a < 2; a++) free(pn->ax[a].first), free(pn->ax[a].count), free(pn->ax[a].incl);
        free(pn->bn_a), free(pn->bn_b);
    }
    for (int v = 0; v < g->n_values; v++) {
        free(p->buf[v]);
        free(p->gbuf[v]);
        if (p->shared[v]) {
            if (!p->shared_own[v]) p->shared[v]->owns = 0;
            tensor_free(p->shared[v]);
        }
    }
    free(p->dep), free(p->gpath), free(p->is_target), free(p->gflag), free(p->buf), free(p->vbytes);
    free(p->gbuf), free(p->shared), free(p->shared_own), free(p->pn), free(p->state), free(p->istate);
    free(p->scratch);
    free(p);
}

GradPlan *grad_plan_new(const Graph *g, Tensor *const *inputs, int input_index, const int *targets,
                        int n_targets, int slots, Diag *d)
{
    if (input_index < 0 || input_index >= g->n_inputs) {
        diag_error(d, "gradient plan: input index %d out of range (graph has %d inputs)", input_index,
                   g->n_inputs);
        return NULL;
    }
    int xv = g->inputs[input_index], nv = g->n_values;
    if (g->values[xv].dtype != DT_F32) {
        diag_error(d, "gradient plan: input '%s' is %s, the batched engine needs f32", g->values[xv].name,
                   dtype_name(g->values[xv].dtype));
        return NULL;
    }
    if (slots < 1 || n_targets < 1) {
        diag_error(d, "gradient plan: needs at least one slot and one target");
        return NULL;
    }
    GradPlan *p = xcalloc(1, sizeof *p);
    p->g = g, p->xv = xv, p->slots = slots;
    p->dep = xcalloc((size_t)nv + 1, 1), p->gpath = xcalloc((size_t)nv + 1, 1);
    p->is_target = xcalloc((size_t)nv + 1, 1), p->gflag = xcalloc((size_t)nv + 1, 1);
    p->buf = xcalloc((size_t)nv + 1, sizeof(char *)), p->gbuf = xcalloc((size_t)nv + 1, sizeof(char *));
    p->vbytes = xcalloc((size_t)nv + 1, sizeof(size_t));
    p->shared = xcalloc((size_t)nv + 1, sizeof(Tensor *)), p->shared_own = xcalloc((size_t)nv + 1, 1);
    char *needv = xcalloc((size_t)nv + 1, 1), *run = xcalloc((size_t)g->n_nodes + 1, 1);
    Tensor *ins[64], *outs[64];

    p->dep[xv] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        int hit = 0;
        for (int k = 0; k < n->n_in && !hit; k++) hit = n->in[k] >= 0 && p->dep[n->in[k]];
        for (int k = 0; hit && k < n->n_out; k++)
            if (n->out[k] >= 0) p->dep[n->out[k]] = 1;
    }
    for (int t = 0; t < n_targets; t++) {
        int v = targets[t];
        if (v < 0 || v >= nv) {
            diag_error(d, "gradient plan: target value id %d out of range", v);
            goto fail;
        }
        if (!p->dep[v]) {
            diag_error(d, "gradient plan: target '%s' does not depend on input '%s'", g->values[v].name,
                       g->values[xv].name);
            goto fail;
        }
        if (g->values[v].dtype != DT_F32) {
            diag_error(d, "gradient plan: target '%s' is %s, not f32", g->values[v].name,
                       dtype_name(g->values[v].dtype));
            goto fail;
        }
        p->is_target[v] = needv[v] = p->gpath[v] = 1;
    }
    /* needed nodes (ancestors of the targets) and the gradient path */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        int back = 0;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) {
                run[i] |= needv[n->out[k]];
                back |= p->gpath[n->out[k]];
            }
        if (!run[i]) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) needv[n->in[k]] = 1;
        for (int k = 0; k < n->n_out; k++) /* every output of a run node gets storage */
            if (n->out[k] >= 0) needv[n->out[k]] = 1;
        int any_active = 0;
        for (int k = 0; back && k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && p->dep[v] && dtype_is_float(g->values[v].dtype)) p->gpath[v] = 1, any_active = 1;
        }
        if (any_active && !grad_op_supported(n->op)) {
            node_error(d, n, "no gradient for op %s at node '%s'", ir_op_name(n->op), n->name);
            goto fail;
        }
        if (any_active) run[i] = 2; /* runs backward */
    }
    /* shared values: constants, the other inputs, input-independent nodes */
    for (int v = 0; v < nv; v++) {
        const Value *val = &g->values[v];
        if (val->kind == VAL_CONST) p->shared[v] = tensor_wrap(val->dtype, val->rank, val->dims, val->data);
    }
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (k == input_index || !needv[v]) continue;
        const Tensor *t = inputs ? inputs[k] : NULL;
        const Value *val = &g->values[v];
        int same = t && t->dtype == val->dtype && t->rank == val->rank;
        for (int j = 0; same && j < val->rank; j++) same = t->dims[j] == val->dims[j];
        if (!same) {
            char a[128];
            diag_error(d, "gradient plan: input '%s' needs a fixed %s[%s] tensor", val->name, dtype_name(val->dtype),
                       shape_str(val->rank, val->dims, a, sizeof a));
            goto fail;
        }
        p->shared[v] = tensor_wrap(t->dtype, t->rank, t->dims, t->data);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (!run[i]) continue;
        int is_dep = 0;
        for (int k = 0; k < n->n_out; k++) is_dep |= n->out[k] >= 0 && p->dep[n->out[k]];
        if (is_dep) {
            p->n_pn++;
            continue;
        }
        if (n->n_in > 64 || n->n_out > 64) {
            node_error(d, n, "gradient plan: too many operands");
            goto fail;
        }
        for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k] >= 0 ? p->shared[n->in[k]] : NULL;
        if (interp_node(g, i, ins, outs, d)) goto fail;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) p->shared[n->out[k]] = outs[k], p->shared_own[n->out[k]] = 1;
    }
    /* storage */
    for (int v = 0; v < nv; v++) {
        if (!p->dep[v] || !needv[v]) continue;
        p->vbytes[v] = (size_t)ir_value_numel(&g->values[v]) * dtype_size(g->values[v].dtype);
        p->buf[v] = xcalloc((size_t)slots * p->vbytes[v] + 1, 1);
        p->bytes += (int64_t)((size_t)slots * p->vbytes[v]);
        if (p->gpath[v]) {
            p->gbuf[v] = xcalloc(p->vbytes[v] + 1, 1);
            p->bytes += (int64_t)p->vbytes[v];
        }
    }
    /* kinds */
    p->pn = xcalloc((size_t)p->n_pn + 1, sizeof(PlanNode));
    int64_t scratch = 0;
    p->n_pn = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (!run[i]) continue;
        int is_dep = 0;
        for (int k = 0; k < n->n_out; k++) is_dep |= n->out[k] >= 0 && p->dep[n->out[k]];
        if (!is_dep) continue;
        PlanNode *pn = &p->pn[p->n_pn++];
        pn->node = i;
        pn->back = run[i] == 2;
        if (plan_node_setup(p, pn, d)) goto fail;
        if (pn->kind == PK_GENERIC) {
            p->n_generic++;
        } else {
            p->n_fast++;
            if (pn->conv && grad_conv_plan_scratch(pn->conv) > scratch) scratch = grad_conv_plan_scratch(pn->conv);
        }
    }
    p->state = xcalloc((size_t)(slots * p->state_per_slot) + 1, sizeof(float));
    p->istate = xcalloc((size_t)(slots * p->istate_per_slot) + 1, sizeof(int32_t));
    p->scratch = xcalloc((size_t)scratch + 1, sizeof(float));
    p->bytes += (slots * p->state_per_slot + scratch) * (int64_t)sizeof(float) +
                slots * p->istate_per_slot * (int64_t)sizeof(int32_t);
    free(needv), free(run);
    return p;
fail:
    free(needv), free(run);
    grad_plan_free(p);
    return NULL;
}

void grad_plan_info(const GradPlan *p, GradPlanInfo *info)
{
    info->n_nodes = p->n_pn;
    info->n_fast = p->n_fast;
    info->n_generic = p->n_generic;
    info->bytes = p->bytes;
}

int64_t grad_plan_numel(const GradPlan *p, int vid)
{
    return vid >= 0 && vid < p->g->n_values ? ir_value_numel(&p->g->values[vid]) : 0;
}

const float *grad_plan_value(const GradPlan *p, int slot, int vid)
{
    if (vid < 0 || vid >= p->g->n_values || slot < 0 || slot >= p->slots || !p->dep[vid] || !p->buf[vid])
        return NULL;
    return (const float *)(p->buf[vid] + (size_t)slot * p->vbytes[vid]);
}

void grad_plan_zero(GradPlan *p) { memset(p->gflag, 0, (size_t)p->g->n_values); }

float *grad_plan_seed(GradPlan *p, int vid)
{
    if (vid < 0 || vid >= p->g->n_values || !p->is_target[vid]) return NULL;
    return plan_grad_in(p, vid);
}

/* ---------------------------------------------------------------- fast kernels */

/* One pool output (any window): max with the first-argmax rule, or the average. */
static void pool_one(const PlanNode *pn, int is_max, const float *xp, int64_t oy, int64_t ox, float *yo,
                     int32_t *ao)
{
    const PoolAxis *ay = &pn->ax[0], *ax = &pn->ax[1];
    int64_t ny = ay->count[oy], nx = ax->count[ox];
    const float *base = xp + ay->first[oy] * pn->W + ax->first[ox];
    if (is_max) {
        float bv = -INFINITY;
        int32_t best = -1;
        for (int64_t a = 0; a < ny; a++)
            for (int64_t b = 0; b < nx; b++) {
                int64_t off = a * pn->dh * pn->W + b * pn->dw;
                float v = base[off];
                if (best < 0 || v > bv || (isnan(v) && !isnan(bv))) bv = v, best = (int32_t)(base - xp + off);
            }
        *yo = bv;
        *ao = best;
    } else {
        double s = 0;
        for (int64_t a = 0; a < ny; a++)
            for (int64_t b = 0; b < nx; b++) s += base[a * pn->dh * pn->W + b * pn->dw];
        int64_t div = pn->include_pad ? ay->incl[oy] * ax->incl[ox] : ny * nx;
        *yo = div > 0 ? (float)(s / (double)div) : NAN;
    }
}

/* 2x2 stride-2 max over n full windows of rows r0/r1 (r1 = r0 + W), 4 outputs per step with
 * vector selects: y, and the argmax as offsets from off0 (the plane offset of r0[0]). The
 * candidates are visited in row-major window order; a later one wins only if greater (or NaN
 * over a number), as in the interpreter. */
static void maxpool2x2_row(const float *r0, const float *r1, int64_t n, int32_t off0, int32_t W, float *y,
                           int32_t *arg)
{
    int64_t i = 0;
    const GradV4i step = {0, 2, 4, 6};
    for (; i + 4 <= n; i += 4) {
        const float *p0 = r0 + 2 * i, *p1 = r1 + 2 * i;
        GradV4f c[4] = {{p0[0], p0[2], p0[4], p0[6]}, {p0[1], p0[3], p0[5], p0[7]},
                        {p1[0], p1[2], p1[4], p1[6]}, {p1[1], p1[3], p1[5], p1[7]}};
        GradV4i base = off0 + (int32_t)(2 * i) + step;
        const int32_t coff[4] = {0, 1, W, W + 1};
        GradV4f bv = c[0];
        GradV4i bi = base;
        for (int q = 1; q < 4; q++) {
            GradV4i up = (c[q] > bv) | ((c[q] != c[q]) & (bv == bv));
            bv = (GradV4f)(((GradV4i)c[q] & up) | ((GradV4i)bv & ~up));
            bi = ((base + coff[q]) & up) | (bi & ~up);
        }
        grad_v4_store(y + i, bv);
        memcpy(arg + i, &bi, sizeof bi);
    }
    for (; i < n; i++) {
        const float cand[4] = {r0[2 * i], r0[2 * i + 1], r1[2 * i], r1[2 * i + 1]};
        const int32_t coff[4] = {0, 1, W, W + 1};
        float bv = cand[0];
        int32_t bi = off0 + (int32_t)(2 * i);
        for (int q = 1; q < 4; q++)
            if (cand[q] > bv || (isnan(cand[q]) && !isnan(bv))) bv = cand[q], bi = off0 + (int32_t)(2 * i) + coff[q];
        y[i] = bv;
        arg[i] = bi;
    }
}

static void pool_forward(const PlanNode *pn, int is_max, const float *x, float *y, int32_t *arg)
{
    int64_t plane = pn->H * pn->W, oplane = pn->OH * pn->OW;
    /* rows/columns whose window is a full, unpadded 2x2 at stride 2 take the vector path */
    int64_t fy = 0, fx = 0;
    if (is_max && pn->fast2x2) fy = pn->H / 2 < pn->OH ? pn->H / 2 : pn->OH, fx = pn->W / 2 < pn->OW ? pn->W / 2 : pn->OW;
    for (int64_t k = 0; k < pn->planes; k++) {
        const float *xp = x + k * plane;
        float *yp = y + k * oplane;
        int32_t *ap = arg ? arg + k * oplane : NULL;
        for (int64_t oy = 0; oy < pn->OH; oy++) {
            int64_t ox = 0;
            if (oy < fy) {
                maxpool2x2_row(xp + 2 * oy * pn->W, xp + (2 * oy + 1) * pn->W, fx, (int32_t)(2 * oy * pn->W),
                               (int32_t)pn->W, yp + oy * pn->OW, ap + oy * pn->OW);
                ox = fx;
            }
            for (; ox < pn->OW; ox++)
                pool_one(pn, is_max, xp, oy, ox, yp + oy * pn->OW + ox, ap ? ap + oy * pn->OW + ox : NULL);
        }
    }
}

static void avgpool_backward(const PlanNode *pn, const float *gy, float *gx)
{
    int64_t plane = pn->H * pn->W, oplane = pn->OH * pn->OW;
    const PoolAxis *ay = &pn->ax[0], *ax = &pn->ax[1];
    for (int64_t k = 0; k < pn->planes; k++)
        for (int64_t oy = 0; oy < pn->OH; oy++)
            for (int64_t ox = 0; ox < pn->OW; ox++) {
                int64_t ny = ay->count[oy], nx = ax->count[ox];
                int64_t div = pn->include_pad ? ay->incl[oy] * ax->incl[ox] : ny * nx;
                if (div <= 0) continue;
                float gv = gy[k * oplane + oy * pn->OW + ox] / (float)div;
                float *base = gx + k * plane + ay->first[oy] * pn->W + ax->first[ox];
                for (int64_t a = 0; a < ny; a++)
                    for (int64_t b = 0; b < nx; b++) base[a * pn->dh * pn->W + b * pn->dw] += gv;
            }
}

/* y = a op b over the collapsed broadcast of pn (innermost dim as a strided run). */
static void binary_forward(const PlanNode *pn, OpKind op, const float *a, const float *b, float *y)
{
    int r = pn->rank;
    int64_t inner = pn->dims[r - 1], sa = pn->sa[r - 1], sb = pn->sb[r - 1];
    int64_t outer = 1, idx[IR_MAX_RANK] = {0}, ia = 0, ib = 0;
    for (int i = 0; i < r - 1; i++) outer *= pn->dims[i];
    for (int64_t o = 0; o < outer; o++) {
        float *yr = y + o * inner;
        const float *ar = a + ia, *br = b + ib;
        switch (op) {
        case OP_ADD:
            for (int64_t j = 0; j < inner; j++) yr[j] = ar[j * sa] + br[j * sb];
            break;
        case OP_SUB:
            for (int64_t j = 0; j < inner; j++) yr[j] = ar[j * sa] - br[j * sb];
            break;
        case OP_MUL:
            for (int64_t j = 0; j < inner; j++) yr[j] = ar[j * sa] * br[j * sb];
            break;
        default:
            for (int64_t j = 0; j < inner; j++) yr[j] = ar[j * sa] / br[j * sb];
            break;
        }
        for (int k = r - 2; k >= 0; k--) {
            ia += pn->sa[k], ib += pn->sb[k];
            if (++idx[k] < pn->dims[k]) break;
            ia -= pn->sa[k] * pn->dims[k], ib -= pn->sb[k] * pn->dims[k];
            idx[k] = 0;
        }
    }
}

static void binary_backward(const PlanNode *pn, OpKind op, const float *a, const float *b, const float *gy,
                            float *ga, float *gb)
{
    int r = pn->rank;
    int64_t inner = pn->dims[r - 1], sa = pn->sa[r - 1], sb = pn->sb[r - 1];
    int64_t outer = 1, idx[IR_MAX_RANK] = {0}, ia = 0, ib = 0;
    for (int i = 0; i < r - 1; i++) outer *= pn->dims[i];
    for (int64_t o = 0; o < outer; o++) {
        const float *gr = gy + o * inner;
        for (int64_t j = 0; j < inner; j++) {
            float gv = gr[j];
            int64_t xa = ia + j * sa, xb = ib + j * sb;
            switch (op) {
            case OP_ADD:
                if (ga) ga[xa] += gv;
                if (gb) gb[xb] += gv;
                break;
            case OP_SUB:
                if (ga) ga[xa] += gv;
                if (gb) gb[xb] -= gv;
                break;
            case OP_MUL:
                if (ga) ga[xa] += gv * b[xb];
                if (gb) gb[xb] += gv * a[xa];
                break;
            default:
                if (ga) ga[xa] += gv / b[xb];
                if (gb) gb[xb] -= gv * a[xa] / (b[xb] * b[xb]);
                break;
            }
        }
        for (int k = r - 2; k >= 0; k--) {
            ia += pn->sa[k], ib += pn->sb[k];
            if (++idx[k] < pn->dims[k]) break;
            ia -= pn->sa[k] * pn->dims[k], ib -= pn->sb[k] * pn->dims[k];
            idx[k] = 0;
        }
    }
}

/* ---------------------------------------------------------------- forward */

static int plan_generic_forward(GradPlan *p, const Node *n, int slot, Diag *d)
{
    const Graph *g = p->g;
    Tensor tin[16], tout[16], *ins[16], *outs[16];
    if (n->n_in > 16 || n->n_out > 16) return node_error(d, n, "gradient plan: too many operands");
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0) {
            ins[k] = NULL;
            continue;
        }
        if (p->dep[v]) {
            tin[k] = plan_view(g, v, plan_data(p, v, slot));
            ins[k] = &tin[k];
        } else {
            ins[k] = p->shared[v];
        }
    }
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v < 0 || !p->buf[v]) {
            outs[k] = NULL;
            if (v >= 0) return node_error(d, n, "gradient plan: output %d has no storage", k);
            continue;
        }
        void *data = plan_data(p, v, slot);
        memset(data, 0, p->vbytes[v]);
        tout[k] = plan_view(g, v, data);
        outs[k] = &tout[k];
    }
    return plan_eval_fns[n->op](g, n, ins, outs, d);
}

int grad_plan_forward(GradPlan *p, int slot, const float *x, Diag *d)
{
    if (slot < 0 || slot >= p->slots) return diag_error(d, "gradient plan: slot %d out of range", slot);
    const Graph *g = p->g;
    memcpy(plan_data(p, p->xv, slot), x, p->vbytes[p->xv]);
    float *st = p->state + slot * p->state_per_slot;
    int32_t *ist = p->istate + slot * p->istate_per_slot;
    for (int i = 0; i < p->n_pn; i++) {
        const PlanNode *pn = &p->pn[i];
        const Node *n = &g->nodes[pn->node];
        if (pn->kind == PK_GENERIC) {
            if (plan_generic_forward(p, n, slot, d)) return -1;
            continue;
        }
        const float *x0 = plan_data(p, n->in[0], slot);
        float *y = plan_data(p, n->out[0], slot);
        int64_t cnt = ir_value_numel(&g->values[n->out[0]]);
        switch (pn->kind) {
        case PK_CONV: {
            const float *res = n->n_in > 3 && n->in[3] >= 0 ? plan_data(p, n->in[3], slot) : NULL;
            int64_t xi = ir_value_numel(&g->values[n->in[0]]) / pn->images, yi = cnt / pn->images;
            int64_t si = grad_conv_plan_state(pn->conv);
            for (int64_t im = 0; im < pn->images; im++)
                grad_conv_plan_forward(pn->conv, x0 + im * xi, res ? res + im * yi : NULL, y + im * yi,
                                       pn->state >= 0 ? st + pn->state + im * si : NULL, p->scratch);
            break;
        }
        case PK_ACT:
            if (pn->act.kind == ACT_RELU)
                grad_vec_relu(y, x0, cnt);
            else
                for (int64_t j = 0; j < cnt; j++) y[j] = (float)activation_apply(&pn->act, x0[j]);
            break;
        case PK_COPY: memcpy(y, x0, (size_t)cnt * sizeof(float)); break;
        case PK_BINARY: binary_forward(pn, n->op, x0, plan_data(p, n->in[1], slot), y); break;
        case PK_MAXPOOL: pool_forward(pn, 1, x0, y, ist + pn->istate); break;
        case PK_AVGPOOL: pool_forward(pn, 0, x0, y, NULL); break;
        case PK_GAP:
        case PK_GMP:
            for (int64_t k = 0; k < pn->planes; k++) {
                const float *xp = x0 + k * pn->H;
                if (pn->kind == PK_GAP) {
                    double s = 0;
                    for (int64_t j = 0; j < pn->H; j++) s += xp[j];
                    y[k] = pn->H ? (float)(s / (double)pn->H) : NAN;
                } else {
                    float m = pn->H ? xp[0] : -INFINITY;
                    for (int64_t j = 1; j < pn->H; j++)
                        if (xp[j] > m) m = xp[j];
                    y[k] = m;
                }
            }
            break;
        case PK_BN:
            for (int64_t b = 0; b < pn->bn_n; b++)
                for (int64_t c = 0; c < pn->bn_c; c++) {
                    const float *xp = x0 + (b * pn->bn_c + c) * pn->bn_s;
                    float *yp = y + (b * pn->bn_c + c) * pn->bn_s, a = pn->bn_a[c], bb = pn->bn_b[c];
                    for (int64_t j = 0; j < pn->bn_s; j++) yp[j] = (float)((double)xp[j] * a + bb);
                }
            break;
        default: break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- backward */

static int plan_generic_backward(GradPlan *p, const Node *n, int slot, Diag *d)
{
    const Graph *g = p->g;
    Tensor tin[16], tout[16], tgo[16], tgi[16], *ins[16], *outs[16], *gouts[16], *gins[16];
    if (n->n_in > 16 || n->n_out > 16) return node_error(d, n, "gradient plan: too many operands");
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        outs[k] = gouts[k] = NULL;
        if (v < 0) continue;
        tout[k] = plan_view(g, v, plan_data(p, v, slot));
        outs[k] = &tout[k];
        const float *go = plan_grad_out(p, v);
        if (go) {
            tgo[k] = plan_view(g, v, (void *)go);
            gouts[k] = &tgo[k];
        }
    }
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        ins[k] = gins[k] = NULL;
        if (v < 0) continue;
        if (p->dep[v]) {
            tin[k] = plan_view(g, v, plan_data(p, v, slot));
            ins[k] = &tin[k];
        } else {
            ins[k] = p->shared[v];
        }
        float *gi = plan_grad_in(p, v);
        if (gi) {
            tgi[k] = plan_view(g, v, gi);
            gins[k] = &tgi[k];
        }
    }
    return grad_node(g, n, ins, outs, gouts, gins, d);
}

int grad_plan_backward(GradPlan *p, int slot, float *gx, Diag *d)
{
    if (slot < 0 || slot >= p->slots) return diag_error(d, "gradient plan: slot %d out of range", slot);
    const Graph *g = p->g;
    const float *st = p->state + slot * p->state_per_slot;
    const int32_t *ist = p->istate + slot * p->istate_per_slot;
    for (int i = p->n_pn - 1; i >= 0; i--) {
        const PlanNode *pn = &p->pn[i];
        const Node *n = &g->nodes[pn->node];
        if (!pn->back) continue;
        int any = 0;
        for (int k = 0; k < n->n_out && !any; k++) any = plan_grad_out(p, n->out[k]) != NULL;
        if (!any) continue;
        if (pn->kind == PK_GENERIC) {
            if (plan_generic_backward(p, n, slot, d)) return -1;
            continue;
        }
        const float *gy = plan_grad_out(p, n->out[0]);
        const float *x0 = plan_data(p, n->in[0], slot);
        int64_t cnt = ir_value_numel(&g->values[n->out[0]]);
        if (pn->kind == PK_BINARY) {
            float *ga = plan_grad_in(p, n->in[0]), *gb = plan_grad_in(p, n->in[1]);
            binary_backward(pn, n->op, x0, plan_data(p, n->in[1], slot), gy, ga, gb);
            continue;
        }
        if (pn->kind == PK_CONV) {
            float *gres = n->n_in > 3 ? plan_grad_in(p, n->in[3]) : NULL;
            float *gxi = plan_grad_in(p, n->in[0]);
            int64_t xi = ir_value_numel(&g->values[n->in[0]]) / pn->images, yi = cnt / pn->images;
            int64_t si = grad_conv_plan_state(pn->conv);
            for (int64_t im = 0; im < pn->images; im++)
                grad_conv_plan_backward(pn->conv, gy + im * yi, pn->state >= 0 ? st + pn->state + im * si : NULL,
                                        gxi ? gxi + im * xi : NULL, gres ? gres + im * yi : NULL, p->scratch);
            continue;
        }
        float *g0 = plan_grad_in(p, n->in[0]);
        if (!g0) continue;
        switch (pn->kind) {
        case PK_ACT:
            if (pn->act.kind == ACT_RELU)
                grad_vec_relu_back(g0, gy, x0, cnt, 1);
            else
                for (int64_t j = 0; j < cnt; j++) g0[j] += gy[j] * (float)activation_grad(&pn->act, x0[j]);
            break;
        case PK_COPY: grad_vec_add(g0, gy, cnt); break;
        case PK_MAXPOOL: {
            const int32_t *arg = ist + pn->istate;
            int64_t plane = pn->H * pn->W, oplane = pn->OH * pn->OW;
            for (int64_t k = 0; k < pn->planes; k++)
                for (int64_t o = 0; o < oplane; o++) {
                    int32_t a = arg[k * oplane + o];
                    if (a >= 0) g0[k * plane + a] += gy[k * oplane + o];
                }
            break;
        }
        case PK_AVGPOOL: avgpool_backward(pn, gy, g0); break;
        case PK_GAP:
            for (int64_t k = 0; k < pn->planes; k++) {
                float gv = gy[k] / (float)pn->H;
                for (int64_t j = 0; j < pn->H; j++) g0[k * pn->H + j] += gv;
            }
            break;
        case PK_GMP:
            for (int64_t k = 0; k < pn->planes; k++) {
                const float *xp = x0 + k * pn->H;
                int64_t best = 0;
                for (int64_t j = 1; j < pn->H; j++)
                    if (xp[j] > xp[best]) best = j;
                if (pn->H) g0[k * pn->H + best] += gy[k];
            }
            break;
        case PK_BN:
            for (int64_t b = 0; b < pn->bn_n; b++)
                for (int64_t c = 0; c < pn->bn_c; c++) {
                    int64_t off = (b * pn->bn_c + c) * pn->bn_s;
                    float a = pn->bn_a[c];
                    for (int64_t j = 0; j < pn->bn_s; j++) g0[off + j] += gy[off + j] * a;
                }
            break;
        default: break;
        }
    }
    const float *gin = plan_grad_out(p, p->xv);
    if (gin)
        memcpy(gx, gin, p->vbytes[p->xv]);
    else
        memset(gx, 0, p->vbytes[p->xv]);
    return 0;
}
