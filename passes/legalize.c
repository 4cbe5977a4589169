/* legalize.c — pass "legalize" (code generation pipeline, before layout): rewrites two forms the
 * native kernels do not take into forms they do, so they do not fall back to the interpreter.
 * (Grouped convs with 2, 4 or 8 channels per group need no rewrite: layout blocks them and the
 * conv lowering widens their weights to groups of 16, codegen/lower_conv.c.)
 *
 *   Concat of many inputs     more than CONCAT_MAX inputs (the native concat takes 15, one buffer
 *                             each: codegen/kernels/misc_copy.h KM_CONCAT_MAX): the first 15 are
 *                             concatenated into a new value "<output>_part" by a Concat placed
 *                             right before, which then takes their place (repeated until it fits).
 *                             DenseNet-121's dense blocks concatenate up to 25 tensors.
 *   Pad before a window op     a constant Pad with value 0 on the spatial axes only, read only by a
 *                              Conv (as X) or an AveragePool (ceil_mode 0, no auto_pad, counting
 *                              padding or without pads of its own), is folded into the reader's
 *                              pads (the AveragePool then counts them: count_include_pad = 1), as
 *                              ONNX Runtime does. torchvision's DenseNet and Inception-v3 export
 *                              AvgPool2d(count_include_pad=True) this way; the Pad had no native
 *                              kernel.
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#define CONCAT_MAX 15

/* Fold Pad node i into its reader (header); 1 if folded. */
static int fold_pad(Graph *g, int i)
{
    const Node *n = &g->nodes[i];
    if (n->n_in < 1 || n->in[0] < 0 || n->out[0] < 0) return 0;
    const Value *x = &g->values[n->in[0]];
    const int r = x->rank, ns = r - 2;
    int cnt = 0;
    const int64_t *pads = ir_attr_ints(n, "pads", &cnt);
    if (r < 3 || !pads || cnt != 2 * r || strcmp(ir_attr_str(n, "mode", "constant"), "constant") ||
        ir_attr_float(n, "value", 0.0) != 0.0)
        return 0;
    if (pads[0] || pads[1] || pads[r] || pads[r + 1]) return 0; /* batch or channel padding */
    for (int k = 0; k < 2 * r; k++)
        if (pads[k] < 0) return 0; /* cropping */
    int slot = -1;
    const int c = pass_sole_reader(g, n->out[0], &slot);
    if (c < 0 || slot != 0) return 0; /* the reader's X */
    const Node *u = &g->nodes[c];
    if (u->op != OP_CONV && u->op != OP_AVERAGE_POOL) return 0;
    if (strcmp(ir_attr_str(u, "auto_pad", "NOTSET"), "NOTSET")) return 0;
    int ucnt = 0;
    const int64_t *up = ir_attr_ints(u, "pads", &ucnt);
    if (up && ucnt != 2 * ns) return 0;
    int own = 0;
    for (int k = 0; up && k < 2 * ns; k++) own |= up[k] != 0;
    if (u->op == OP_AVERAGE_POOL &&
        (ir_attr_int(u, "ceil_mode", 0) != 0 || (own && ir_attr_int(u, "count_include_pad", 0) != 1)))
        return 0;
    int64_t np[2 * IR_MAX_RANK];
    for (int k = 0; k < ns; k++) {
        np[k] = (up ? up[k] : 0) + pads[2 + k];
        np[ns + k] = (up ? up[ns + k] : 0) + pads[r + 2 + k];
    }
    ir_node_set_ints(g, c, "pads", np, 2 * ns);
    if (u->op == OP_AVERAGE_POOL) ir_node_set_int(g, c, "count_include_pad", 1);
    g->nodes[c].in[0] = g->nodes[i].in[0];
    g->nodes[i].dead = 1;
    return 1;
}

/* Returns the index of the Concat appended for node i's first CONCAT_MAX inputs, or -1. */
static int split_concat(Graph *g, int i)
{
    Node *n = &g->nodes[i];
    if (n->n_in <= CONCAT_MAX || n->out[0] < 0) return -1;
    const Value *y = &g->values[n->out[0]];
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0) axis += y->rank;
    if (axis < 0 || axis >= y->rank) return -1;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, y->dims, sizeof dims);
    dims[axis] = 0;
    for (int k = 0; k < CONCAT_MAX; k++) {
        if (n->in[k] < 0) return -1;
        dims[axis] += g->values[n->in[k]].dims[axis];
    }
    char name[256];
    snprintf(name, sizeof name, "%s_part", y->name);
    const int part = ir_value_add(g, name, y->dtype, y->rank, dims);
    snprintf(name, sizeof name, "%s_part", n->name);
    int *in = xmalloc((size_t)n->n_in * sizeof(int));
    memcpy(in, n->in, (size_t)n->n_in * sizeof(int));
    const int node = ir_node_add(g, OP_CONCAT, name, CONCAT_MAX, in, 1, &part);
    ir_node_set_int(g, node, "axis", axis);
    const int rest = g->nodes[i].n_in - CONCAT_MAX + 1;
    in[CONCAT_MAX - 1] = part;
    ir_node_set_inputs(g, i, rest, in + CONCAT_MAX - 1);
    free(in);
    return node;
}

int pass_legalize(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == OP_PAD) folded += fold_pad(g, i);
    if (folded) ir_graph_compact(g);
    for (int again = 1; again;) { /* one level of splitting per sweep */
        again = 0;
        const int n0 = g->n_nodes;
        int *before = xmalloc((size_t)(n0 + 1) * sizeof(int));
        for (int i = 0; i < n0; i++) {
            before[i] = -1;
            if (!g->nodes[i].dead && g->nodes[i].op == OP_CONCAT) again |= (before[i] = split_concat(g, i)) >= 0;
        }
        if (again) pass_place_new_nodes(g, n0, before, NULL);
        free(before);
    }
    return 0;
}
