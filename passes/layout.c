/* layout.c — pass "layout": moves convolution chains to the channel-blocked layout NCHW16c
 * (docs/codegen.md §1). Numerics are unchanged (the interpreter defines a blocked op as
 * unblock-run-block), so --check-each checks it like any other pass.
 *
 * Walks the nodes in order, deciding per node (all tensors f32; "4-D" is the logical shape):
 *   Conv             blocked (layout="NCHW16c", output [N, ceil(M/16), OH, OW, 16]) when 2-D with
 *                    constant W (and B), any fused activation (where act(0) != 0 the kernels
 *                    zero the padded lanes, codegen/lower_conv.c keep_lanes), and group 1,
 *                    depthwise (group = C = M), a group size that is a multiple of 16 in and
 *                    out, or narrow groups (w = C/group = M/group channels in and out with
 *                    16 % w == 0, which the lowering widens to groups of 16, codegen/lower_conv.c;
 *                    legalize already did so when C % 16 == 0). Its input is read blocked if it
 *                    already is; a plain input with C < 16 channels (the first layer) of a group-1 Conv
 *                    is read as it is (the dense kernel's plain-input class); any other plain
 *                    input gets a LayoutTransform to NCHW16c.
 *   Relu, LeakyRelu, Tanh, HardSwish, Clip with min <= 0 <= max, Erf, Abs, Elu, Sqrt
 *                    blocked when the input is (f(+0) = +0 keeps the padded lanes zero);
 *   Sigmoid, HardSigmoid, Exp, Softplus, Neg (-0), Clip
 *                    the same when C % 16 == 0 (no padded lanes: EfficientNet's SiLU).
 *   Add, Sub, Mul, Div
 *                    blocked when one operand is blocked and each operand is either a 4-D
 *                    non-constant of the output's shape or of shape [N, C, 1, 1] (a per-channel
 *                    factor, e.g. squeeze-and-excitation), or a constant per channel ([C, 1, 1],
 *                    [1, C, 1, 1]: blocked here, once, with zeros in the padded lanes) or scalar;
 *                    Div, and Add/Sub of a scalar, only when C % 16 == 0 (padded lanes would not
 *                    stay zero). The other non-constant operands get LayoutTransforms.
 *   Concat           on axis 1 of 4-D tensors that all have C % 16 == 0, when one input is
 *                    blocked and none is a constant (the others get transforms); axis 1 of the
 *                    blocked tensor is then the channel-block axis.
 *   MaxPool (one output), AveragePool, GlobalAveragePool, GlobalMaxPool
 *                    blocked (layout="NCHW16c") when the input is, 2-D, and every pooling window
 *                    covers at least one input pixel (so padded lanes pool to zero).
 *   anything else    reads plain tensors: a blocked input gets one LayoutTransform to NCHW, shared
 *                    by all plain readers and placed before the first of them.
 * A blocked value keeps its name and id and changes its type to the blocked shape; its plain copy
 * is a new value "<name>_nchw". A graph output stays plain with its name and type: the producer
 * writes a new blocked value "<name>_nchw16c" and a LayoutTransform right after it writes the
 * output. New nodes are placed in the node order right before the node that needs them.
 * The pass runs once: a graph that already has blocked nodes or LayoutTransforms is left as is.
 */
#include "passes/passes.h"

#include "ir/activation.h"

#include <stdlib.h>
#include <string.h>

#define BLK IR_LAYOUT_BLOCK

typedef struct Layout {
    Graph *g;
    int nv0;       /* values before the pass: the logical tensors */
    Value *orig;   /* their types before the pass (shallow copies) */
    int *blk;      /* per logical value: id of its blocked form, or -1 */
    int *pln;      /* per logical value: id of its plain form, or -1 */
    int *order;    /* the new node order (node indices) */
    int n_order, cap_order;
} Layout;

static void lay_emit(Layout *L, int node)
{
    if (L->n_order == L->cap_order) {
        L->cap_order = L->cap_order ? 2 * L->cap_order : 64;
        L->order = xrealloc(L->order, (size_t)L->cap_order * sizeof(int));
    }
    L->order[L->n_order++] = node;
}

/* A logical value that is f32 and 4-D (before the pass). */
static int lay_is_4d(const Layout *L, int v)
{
    return v >= 0 && v < L->nv0 && L->orig[v].dtype == DT_F32 && L->orig[v].rank == 4;
}

/* Add "<name><suffix>" typed like logical v, blocked or plain. */
static int lay_new_value(Layout *L, int v, const char *suffix, int blocked)
{
    const Value *o = &L->orig[v];
    int64_t dims[IR_MAX_RANK];
    int rank = o->rank;
    memcpy(dims, o->dims, sizeof dims);
    if (blocked) ir_layout_blocked_dims(o->rank, o->dims, &rank, dims);
    size_t len = strlen(o->name) + strlen(suffix) + 1;
    char *name = xmalloc(len);
    snprintf(name, len, "%s%s", o->name, suffix);
    int id = ir_value_add(L->g, name, o->dtype, rank, dims);
    free(name);
    return id;
}

/* Append a LayoutTransform src -> dst converting logical value v; returns the node index (not
 * yet in the order). */
static int lay_transform(Layout *L, int v, int src, int dst, int to_blocked)
{
    const char *suffix = to_blocked ? "/to_nchw16c" : "/to_nchw";
    size_t len = strlen(L->orig[v].name) + strlen(suffix) + 1;
    char *name = xmalloc(len);
    snprintf(name, len, "%s%s", L->orig[v].name, suffix);
    int node = ir_node_add(L->g, OP_LAYOUT_TRANSFORM, name, 1, &src, 1, &dst);
    free(name);
    ir_node_set_str(L->g, node, "src", to_blocked ? "NCHW" : "NCHW16c");
    ir_node_set_str(L->g, node, "dst", to_blocked ? "NCHW16c" : "NCHW");
    ir_node_set_int(L->g, node, "channels", L->orig[v].dims[1]);
    return node;
}

/* The blocked form of logical value v, converting (before the current node) if needed. */
static int lay_get_blocked(Layout *L, int v)
{
    if (L->blk[v] >= 0) return L->blk[v];
    int b = lay_new_value(L, v, "_nchw16c", 1);
    lay_emit(L, lay_transform(L, v, L->pln[v], b, 1));
    return L->blk[v] = b;
}

/* The plain form of value v (any value; new ones are their own plain form). */
static int lay_get_plain(Layout *L, int v)
{
    if (v < 0 || v >= L->nv0) return v;
    if (L->pln[v] >= 0) return L->pln[v]; /* itself, or the copy an earlier plain reader made */
    int p = lay_new_value(L, v, "_nchw", 0);
    lay_emit(L, lay_transform(L, v, L->blk[v], p, 0));
    return L->pln[v] = p;
}

/* Output k of node i becomes blocked. Returns the node index of a transform that must follow
 * the node (graph outputs), or -1. */
static int lay_block_output(Layout *L, int i, int k)
{
    int v = L->g->nodes[i].out[k];
    if (pass_value_is_output(L->g, v)) {
        int b = lay_new_value(L, v, "_nchw16c", 1);
        pass_node_take_output(L->g, i, k, b);
        L->blk[v] = b;
        L->pln[v] = v;
        return lay_transform(L, v, b, v, 0);
    }
    Value *val = &L->g->values[v];
    ir_layout_blocked_dims(L->orig[v].rank, L->orig[v].dims, &val->rank, val->dims);
    L->blk[v] = v;
    L->pln[v] = -1;
    return -1;
}

/* ---------------------------------------------------------------- decisions */

static int lay_conv_ok(const Layout *L, const Node *n)
{
    int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
    if (!lay_is_4d(L, x) || !lay_is_4d(L, n->out[0]) || !pass_value_is_const(L->g, w)) return 0;
    if (b >= 0 && !pass_value_is_const(L->g, b)) return 0;
    if (n->n_in > 3 && n->in[3] >= 0 && !lay_is_4d(L, n->in[3])) return 0;
    Activation act;
    int64_t group = ir_attr_int(n, "group", 1), C = L->orig[x].dims[1], M = L->orig[n->out[0]].dims[1];
    if (activation_from_node(n, &act, NULL)) return 0;
    if (group == 1) return 1;
    if (group == C && M == C) return 1; /* depthwise */
    if (C / group == M / group && C / group > 1 && BLK % (C / group) == 0) return 1; /* narrow groups, lower_conv.c */
    return (C / group) % BLK == 0 && (M / group) % BLK == 0;
}

/* Every window of a MaxPool/AveragePool covers an input pixel on every axis. */
static int lay_pool_windows_ok(const Layout *L, const Node *n)
{
    const Value *x = &L->orig[n->in[0]];
    ConvGeom geo;
    if (ir_conv_geometry(n, x->rank, x->dims, NULL, &geo, NULL)) return 0;
    for (int a = 0; a < geo.nsp; a++)
        for (int64_t o = 0; o < geo.out[a]; o++) {
            int hit = 0;
            for (int64_t t = 0; t < geo.kernel[a] && !hit; t++) {
                int64_t i = o * geo.stride[a] + t * geo.dilation[a] - geo.pad_begin[a];
                hit = i >= 0 && i < geo.in[a];
            }
            if (!hit) return 0;
        }
    return 1;
}

static int lay_unary_ok(const Layout *L, const Node *n, int x)
{
    const int full = L->orig[x].dims[1] % BLK == 0; /* no padded lanes */
    switch (n->op) {
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_TANH:
    case OP_HARD_SWISH:
    case OP_ERF:
    case OP_ABS:
    case OP_ELU:
    case OP_SQRT: return 1;
    case OP_CLIP:
        return full || (ir_attr_float(n, "min", -1.0) <= 0.0 && ir_attr_float(n, "max", 1.0) >= 0.0);
    case OP_NEG: /* -0.0 in the padded lanes: the rule says +0.0 */
    case OP_SIGMOID:
    case OP_HARD_SIGMOID:
    case OP_EXP:
    case OP_SOFTPLUS: return full;
    default: return 0;
    }
}

/* A constant operand of an elementwise op on [N, C, H, W] that the blocked op can read: one
 * value per channel (returns 1: blocked by lay_blocked_const) or a scalar (returns 2: read as
 * it is). 0 otherwise. */
static int lay_const_kind(const Layout *L, int v, int64_t C)
{
    const Value *o = &L->orig[v];
    if (o->dtype != DT_F32 || o->rank > 4) return 0;
    if (ir_value_numel(o) == 1) return 2;
    if (o->rank < 3 || o->dims[o->rank - 3] != C || ir_value_numel(o) != C) return 0;
    return 1;
}

/* A per-channel constant as a new constant [1, ceil(C/16), 1, 1, 16], zeros in the padded lanes
 * (made once per constant). */
static int lay_blocked_const(Layout *L, int v, int64_t C)
{
    if (L->blk[v] >= 0) return L->blk[v];
    const int64_t cb = (C + BLK - 1) / BLK, dims[5] = {1, cb, 1, 1, BLK};
    float *d = xcalloc((size_t)(cb * BLK), sizeof(float));
    memcpy(d, L->g->values[v].data, (size_t)C * sizeof(float));
    size_t len = strlen(L->orig[v].name) + 10;
    char *name = xmalloc(len);
    snprintf(name, len, "%s_nchw16c", L->orig[v].name);
    L->blk[v] = ir_const_add(L->g, name, DT_F32, 5, dims, d);
    free(name), free(d);
    return L->blk[v];
}

/* Add/Sub/Mul/Div on [N, C, H, W] (the file comment says which operands qualify). */
static int lay_binary_ok(const Layout *L, const Node *n)
{
    const int64_t *od = L->orig[n->out[0]].dims, C = od[1];
    const int full = C % BLK == 0;
    if (n->op == OP_DIV && !full) return 0;
    int any = 0;
    for (int k = 0; k < 2; k++) {
        const int v = n->in[k];
        if (v < 0) return 0;
        if (pass_value_is_const(L->g, v)) {
            const int kind = lay_const_kind(L, v, C);
            if (!kind || (kind == 2 && n->op != OP_MUL && !full)) return 0;
            continue;
        }
        if (!lay_is_4d(L, v)) return 0;
        const int64_t *d = L->orig[v].dims;
        if (memcmp(d, od, 4 * sizeof(int64_t)) && !(d[0] == od[0] && d[1] == C && d[2] == 1 && d[3] == 1)) return 0;
        any |= L->blk[v] >= 0;
    }
    return any;
}

typedef enum LayKind { LAY_PLAIN, LAY_CONV, LAY_POOL, LAY_UNARY, LAY_MULTI } LayKind;

/* How node i is treated (see the file comment). */
static LayKind lay_decide(const Layout *L, int i)
{
    const Node *n = &L->g->nodes[i];
    if (n->n_out < 1 || n->out[0] < 0 || !lay_is_4d(L, n->out[0])) return LAY_PLAIN;
    int x = n->n_in > 0 ? n->in[0] : -1;
    if (n->op == OP_CONV) return lay_conv_ok(L, n) ? LAY_CONV : LAY_PLAIN;
    if (x < 0 || !lay_is_4d(L, x)) return LAY_PLAIN;
    if (lay_unary_ok(L, n, x)) return L->blk[x] >= 0 ? LAY_UNARY : LAY_PLAIN;
    switch (n->op) {
    case OP_MAX_POOL:
        if (n->n_out > 1 && n->out[1] >= 0) return LAY_PLAIN;
        /* fall through */
    case OP_AVERAGE_POOL:
        return L->blk[x] >= 0 && lay_pool_windows_ok(L, n) ? LAY_POOL : LAY_PLAIN;
    case OP_GLOBAL_AVERAGE_POOL:
    case OP_GLOBAL_MAX_POOL: return L->blk[x] >= 0 ? LAY_POOL : LAY_PLAIN;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: return n->n_in == 2 && lay_binary_ok(L, n) ? LAY_MULTI : LAY_PLAIN;
    case OP_CONCAT: {
        int64_t axis = ir_attr_int(n, "axis", 0);
        if (axis != 1 && axis != -3) return LAY_PLAIN;
        int any = 0;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (!lay_is_4d(L, v) || L->orig[v].dims[1] % BLK || pass_value_is_const(L->g, v)) return LAY_PLAIN;
            any |= L->blk[v] >= 0;
        }
        return any ? LAY_MULTI : LAY_PLAIN;
    }
    default: return LAY_PLAIN;
    }
}

/* Rewrite node i according to its kind, emitting it (and the transforms it needs) in order. */
static void lay_node(Layout *L, int i)
{
    LayKind kind = lay_decide(L, i);
    Graph *g = L->g;
    int n_in = g->nodes[i].n_in;
    if (kind == LAY_PLAIN) {
        for (int k = 0; k < n_in; k++) {
            int p = lay_get_plain(L, g->nodes[i].in[k]);
            g->nodes[i].in[k] = p;
        }
        lay_emit(L, i);
        return;
    }
    if (kind == LAY_CONV) {
        int x = g->nodes[i].in[0];
        int plain_ok = L->orig[x].dims[1] < BLK && ir_attr_int(&g->nodes[i], "group", 1) == 1;
        int nx = L->blk[x] >= 0 ? L->blk[x] : plain_ok ? lay_get_plain(L, x) : lay_get_blocked(L, x);
        g->nodes[i].in[0] = nx;
        for (int k = 1; k < n_in && k < 3; k++) {
            int p = lay_get_plain(L, g->nodes[i].in[k]);
            g->nodes[i].in[k] = p;
        }
        if (n_in > 3 && g->nodes[i].in[3] >= 0) {
            int r = lay_get_blocked(L, g->nodes[i].in[3]);
            g->nodes[i].in[3] = r;
        }
    } else {
        const int64_t C = L->orig[g->nodes[i].out[0]].dims[1];
        for (int k = 0; k < n_in; k++) {
            const int v = g->nodes[i].in[k];
            int b;
            if (!pass_value_is_const(g, v))
                b = lay_get_blocked(L, v);
            else /* a constant operand of Add/Sub/Mul/Div (lay_binary_ok) */
                b = lay_const_kind(L, v, C) == 1 ? lay_blocked_const(L, v, C) : v;
            g->nodes[i].in[k] = b;
        }
    }
    if (kind == LAY_CONV || kind == LAY_POOL) ir_node_set_str(g, i, "layout", "NCHW16c");
    if (g->nodes[i].op == OP_CONCAT) ir_node_set_int(g, i, "axis", 1);
    int after = lay_block_output(L, i, 0);
    lay_emit(L, i);
    if (after >= 0) lay_emit(L, after);
}

/* Put the nodes in L->order (a permutation of all nodes) and recompute producers. */
static void lay_reorder(Layout *L)
{
    Graph *g = L->g;
    IR_ASSERT(L->n_order == g->n_nodes);
    Node *nodes = xmalloc((size_t)g->n_nodes * sizeof(Node) + 1);
    for (int i = 0; i < g->n_nodes; i++) nodes[i] = g->nodes[L->order[i]];
    if (g->n_nodes) memcpy(g->nodes, nodes, (size_t)g->n_nodes * sizeof(Node));
    free(nodes);
    ir_graph_compact(g);
}

int pass_layout(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == OP_LAYOUT_TRANSFORM || ir_attr_find(&g->nodes[i], "layout")) return 0;
    Layout L = {.g = g, .nv0 = g->n_values};
    L.orig = xmalloc(((size_t)g->n_values + 1) * sizeof(Value));
    memcpy(L.orig, g->values, (size_t)g->n_values * sizeof(Value));
    L.blk = xmalloc(((size_t)g->n_values + 1) * sizeof(int));
    L.pln = xmalloc(((size_t)g->n_values + 1) * sizeof(int));
    for (int v = 0; v < g->n_values; v++) L.blk[v] = -1, L.pln[v] = v;
    int n0 = g->n_nodes;
    for (int i = 0; i < n0; i++) lay_node(&L, i);
    /* blocked graph outputs were handled at their producers; nothing else reads blocked */
    lay_reorder(&L);
    free(L.orig), free(L.blk), free(L.pln), free(L.order);
    Diag sub;
    if (ir_infer_shapes(g, &sub)) return diag_error(d, "layout: %s", sub.msg);
    return 0;
}
