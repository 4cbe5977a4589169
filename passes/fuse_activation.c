/* fuse_activation.c — pass "fuse-activation": an activation that directly follows a Conv or
 * Gemm becomes part of it, through the attributes documented in docs/ir-ops.md:
 *   activation        "relu" | "leaky_relu" | "clip" | "sigmoid" | "tanh" | "hard_sigmoid" |
 *                     "hard_swish"
 *   activation_alpha  leaky_relu: alpha; clip: min; hard_sigmoid: alpha
 *   activation_beta   clip: max; hard_sigmoid: beta
 * (names and defaults from ir/activation.h; Clip's absent bounds stay absent, meaning -inf/+inf).
 * The Conv/Gemm output must have exactly that one use and
 * must not be a graph output (its value would disappear), and the Conv/Gemm must not carry an
 * activation already. The Conv/Gemm takes over the activation's output value, so the names of
 * later values and of graph outputs are unchanged.
 */
#include "passes/passes.h"

#include "ir/activation.h"

int pass_fuse_activation(Graph *g, PassContext *ctx, Diag *d)
{
    int fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *a = &g->nodes[i];
        if (a->dead) continue;
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
