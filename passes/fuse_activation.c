/* fuse_activation.c — pass "fuse-activation": an activation that directly follows a Conv or
 * Gemm becomes part of it, through the attributes documented in docs/ir-ops.md:
 *   activation        "relu" | "leaky_relu" | "clip" | "sigmoid" | "tanh" | "hard_sigmoid" |
 *                     "hard_swish" | "gelu"
 *   activation_alpha  leaky_relu: alpha; clip: min; hard_sigmoid: alpha
 *   activation_beta   clip: max; hard_sigmoid: beta
 * (names and defaults from ir/activation.h; Clip's absent bounds stay absent, meaning -inf/+inf).
 * The Conv/Gemm output must have exactly that one use and
 * must not be a graph output (its value would disappear), and the Conv/Gemm must not carry an
 * activation already. The Conv/Gemm takes over the activation's output value, so the names of
 * later values and of graph outputs are unchanged.
 *
 * GELU has no ONNX op before opset 20; exporters write the exact GELU of y as
 *   Div(y, sqrt 2) (or Mul(y, 1/sqrt 2)) -> Erf -> Add(., 1) -> Mul(y, .) -> Mul(., 0.5)
 * (operands of Add and the Muls in either order; PyTorch's nn.GELU). These five nodes fuse as
 * "gelu" when y comes from a Conv/Gemm as above, or through a Reshape of one (canonicalize-gemm
 * writes a linear layer on an N-D tensor as Reshape-Gemm-Reshape: ConvNeXt's and transformers'
 * MLPs); then the Reshape takes over the last Mul's output. Elementwise ops commute with
 * Reshape, so the values are the same; y, and every intermediate, must have no other use.
 */
#include "passes/passes.h"

#include <math.h>

#include "ir/activation.h"

/* The scalar f32 constant value of v, or NAN. */
static double scalar_const(const Graph *g, int v)
{
    if (!pass_value_is_const(g, v) || g->values[v].dtype != DT_F32 || ir_value_numel(&g->values[v]) != 1) return NAN;
    return ((const float *)g->values[v].data)[0];
}

/* Binary node n of kind op with v as one operand and a scalar constant within 1e-6 (relative)
 * of want as the other. */
static int binary_with(const Graph *g, const Node *n, OpKind op, int v, double want)
{
    if (n->dead || n->op != op || n->n_in != 2) return 0;
    const int other = n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -1;
    return other >= 0 && fabs(scalar_const(g, other) - want) <= 1e-6 * want;
}

/* The Conv/Gemm node producing v (as its output 0) without an activation, or -1. */
static int fusable_producer(const Graph *g, int v)
{
    const int p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || g->nodes[p].dead || g->nodes[p].out[0] != v) return -1;
    if (g->nodes[p].op != OP_CONV && g->nodes[p].op != OP_GEMM) return -1;
    return ir_attr_find(&g->nodes[p], "activation") ? -1 : p;
}

/* The GELU subgraph (header) whose Erf is node ei, fused into its Conv/Gemm; 1 if it was. */
static int fuse_gelu(Graph *g, int ei)
{
    const int dv = g->nodes[ei].in[0];
    const int di = dv >= 0 ? g->values[dv].producer : -1;
    if (di < 0 || g->nodes[di].dead || !pass_value_single_use(g, dv) || g->nodes[di].n_in != 2) return 0;
    const Node *dn = &g->nodes[di];
    int y = -1; /* Div(y, sqrt 2), Mul(y, 1/sqrt 2) or Mul(1/sqrt 2, y) */
    if (binary_with(g, dn, OP_DIV, dn->in[0], 1.41421356237309505) && dn->in[1] != dn->in[0]) y = dn->in[0];
    for (int k = 0; k < 2 && y < 0; k++)
        if (!pass_value_is_const(g, dn->in[k]) && binary_with(g, dn, OP_MUL, dn->in[k], 0.70710678118654752))
            y = dn->in[k];
    if (y < 0) return 0;
    const int ev = g->nodes[ei].out[0], ai = pass_sole_reader(g, ev, NULL);
    if (ai < 0 || !binary_with(g, &g->nodes[ai], OP_ADD, ev, 1.0)) return 0;
    const int av = g->nodes[ai].out[0], m1 = pass_sole_reader(g, av, NULL);
    if (m1 < 0 || g->nodes[m1].op != OP_MUL || g->nodes[m1].n_in != 2) return 0;
    const Node *mn = &g->nodes[m1];
    if (!((mn->in[0] == y && mn->in[1] == av) || (mn->in[1] == y && mn->in[0] == av))) return 0;
    const int mv = mn->out[0], m2 = pass_sole_reader(g, mv, NULL);
    if (m2 < 0 || !binary_with(g, &g->nodes[m2], OP_MUL, mv, 0.5)) return 0;
    if (pass_value_is_output(g, y) || ir_value_use_count(g, y) != 2) return 0;
    const int o = g->nodes[m2].out[0];
    if (g->values[y].dtype != DT_F32 || g->values[o].dtype != DT_F32) return 0;
    int p = fusable_producer(g, y), taker = p;
    if (p < 0) { /* through a Reshape of the Conv/Gemm output */
        const int r = g->values[y].producer;
        if (r < 0 || g->nodes[r].dead || g->nodes[r].op != OP_RESHAPE || g->nodes[r].out[0] != y) return 0;
        const int x = g->nodes[r].in[0];
        if ((p = fusable_producer(g, x)) < 0 || !pass_value_single_use(g, x)) return 0;
        taker = r;
    }
    ir_node_set_str(g, p, "activation", activation_name(ACT_GELU));
    pass_node_take_output(g, taker, 0, o);
    g->nodes[di].dead = g->nodes[ei].dead = g->nodes[ai].dead = g->nodes[m1].dead = g->nodes[m2].dead = 1;
    return 1;
}

int pass_fuse_activation(Graph *g, PassContext *ctx, Diag *d)
{
    int fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *a = &g->nodes[i];
        if (a->dead) continue;
        if (a->op == OP_ERF) {
            fused += fuse_gelu(g, i);
            continue;
        }
        ActKind kind;
        switch (a->op) {
        case OP_RELU: kind = ACT_RELU; break;
        case OP_SIGMOID: kind = ACT_SIGMOID; break;
        case OP_TANH: kind = ACT_TANH; break;
        case OP_HARD_SWISH: kind = ACT_HARD_SWISH; break;
        case OP_LEAKY_RELU: kind = ACT_LEAKY_RELU; break;
        case OP_HARD_SIGMOID: kind = ACT_HARD_SIGMOID; break;
        case OP_CLIP: kind = ACT_CLIP; break;
        default: continue;
        }
        int x = a->in[0], y = a->out[0];
        if (x < 0 || y < 0) continue;
        int p = g->values[x].producer;
        if (p < 0 || g->nodes[p].dead || g->nodes[p].out[0] != x) continue;
        if (g->nodes[p].op != OP_CONV && g->nodes[p].op != OP_GEMM) continue;
        if (ir_attr_find(&g->nodes[p], "activation") || !pass_value_single_use(g, x)) continue;
        if (g->values[x].dtype != g->values[y].dtype || !dtype_is_float(g->values[x].dtype)) continue;
        ir_node_set_str(g, p, "activation", activation_name(kind));
        if (kind == ACT_LEAKY_RELU)
            ir_node_set_float(g, p, "activation_alpha", ir_attr_float(a, "alpha", 0.01));
        if (kind == ACT_HARD_SIGMOID) {
            ir_node_set_float(g, p, "activation_alpha", ir_attr_float(a, "alpha", 0.2));
            ir_node_set_float(g, p, "activation_beta", ir_attr_float(a, "beta", 0.5));
        }
        if (kind == ACT_CLIP && ir_attr_find(a, "min"))
            ir_node_set_float(g, p, "activation_alpha", ir_attr_float(a, "min", 0));
        if (kind == ACT_CLIP && ir_attr_find(a, "max"))
            ir_node_set_float(g, p, "activation_beta", ir_attr_float(a, "max", 0));
        pass_node_take_output(g, p, 0, y);
        a->dead = 1;
        fused++;
    }
    if (fused) ir_graph_compact(g);
    return 0;
}
