/* filter_reorder.c — pass "filter-reorder": filter kernel reordering of pattern-pruned convs
 * (issue #6; docs/codegen.md §7), before pattern-group groups them into blocks of 16.
 *
 * A pruned Conv (prune_ids/prune_patterns metadata) gets its filters sorted by kept-kernel
 * count (descending), then by pattern signature (the filter's count of kernels per pattern,
 * compared lexicographically), then by index — so the pattern kernel's blocks of 16 filters hold
 * filters of similar work and structure. The output-channel permutation is never done at run
 * time; it is folded into the graph:
 *
 *   Channel classes. Values whose channels must stay in one order form a class: a conv's output
 *   and its fused residual input (the other operand of a residual add), and the input and output
 *   of ops that work channel by channel (max/average/global pooling, LayoutTransform, Relu,
 *   Identity, and a Flatten of plain [N, C, ...], where channel c becomes the features
 *   [c*S, (c+1)*S) of the S spatial positions). One permutation is chosen per class: ResNet's
 *   residual stages are one class each (the stage's downsample conv, or the stem conv through
 *   the max pool, and every block's second conv).
 *   Emitters. Every conv producing a value of the class (group 1, constant weights and bias)
 *   permutes its filters: weights and bias along the output channels, prune_ids rows.
 *   Absorbers. Every other reader permutes its input channels: a group-1 Conv with constant
 *   weights reading the class as its data input (weights and prune_ids columns), a Gemm reading
 *   it as A with a constant B (B along K, the S features of a channel moving together).
 *   A class is left in its order when any value of it is a graph output, is produced by
 *   anything but an emitter or a channel-wise op, or is read by anything else; the pruned convs
 *   producing it then get filter_order = "kept: <why>".
 *
 * The sort key of a class with several pruned emitters sums their counts and signatures per
 * channel (each in its own layer's canonical pattern order, pass_pattern_rank); with one it is
 * that conv's own. Reordered convs get filter_order = "reordered, absorbed by <readers>" (plus
 * how many convs share the order), and every value of the class is renamed <name>_reordered (it
 * no longer holds the source model's tensor of that name). Weights are rewritten into new
 * constants (shared constants are never modified). Results are unchanged: the same sums in the
 * same order per output channel.
 */
#include "passes/passes.h"
#include "passes/prune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct FilterKey {
    int64_t index, count;
    int64_t sig[PRUNE_MAX_PATTERNS]; /* kernels per pattern, in canonical order */
} FilterKey;

static int filter_cmp(const void *a, const void *b)
{
    const FilterKey *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    for (int p = 0; p < PRUNE_MAX_PATTERNS; p++)
        if (x->sig[p] != y->sig[p]) return x->sig[p] > y->sig[p] ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* ------------------------------------------------------------------ channel classes */
static int uf_find(int *parent, int v)
{
    while (parent[v] != v) v = parent[v] = parent[parent[v]];
    return v;
}

static void uf_union(int *parent, int a, int b)
{
    if (a < 0 || b < 0) return;
    a = uf_find(parent, a), b = uf_find(parent, b);
    if (a != b) parent[a < b ? b : a] = a < b ? a : b;
}

/* Is value v (maybe -1, maybe a constant added by this pass) in class root? */
static int in_class(const int *parent, int nv, int v, int root)
{
    return v >= 0 && v < nv && uf_find((int *)parent, v) == root;
}

/* Does node n map channel c of its input 0 to channel c of its output 0? */
static int channel_wise(const Graph *g, const Node *n)
{
    if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0) return 0;
    switch (n->op) {
    case OP_MAX_POOL:
        return n->n_out < 2 || n->out[1] < 0; /* no Indices */
    case OP_AVERAGE_POOL:
    case OP_GLOBAL_AVERAGE_POOL:
    case OP_GLOBAL_MAX_POOL:
    case OP_LAYOUT_TRANSFORM:
    case OP_RELU:
    case OP_IDENTITY:
        return 1;
    case OP_FLATTEN: { /* of plain [N, C, spatial...]: channel c is features [c*S, (c+1)*S) */
        const Value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
        return ir_attr_int(n, "axis", 1) == 1 && y->rank == 2 && x->rank >= 2 && x->rank <= 4;
    }
    default:
        return 0;
    }
}

/* A Conv whose filters can be permuted: group 1, constant f32 weights of rank >= 3. */
static int conv_permutable(const Graph *g, const Node *n)
{
    return n->op == OP_CONV && ir_attr_int(n, "group", 1) == 1 && n->n_in >= 2 && pass_value_is_const(g, n->in[1]) &&
           g->values[n->in[1]].dtype == DT_F32 && g->values[n->in[1]].rank >= 3;
}

/* A conv that can permute its filters for its output's class: permutable, with no bias or a
 * constant one (a bias computed at run time cannot be permuted with the filters). */
static int conv_emits(const Graph *g, const Node *n)
{
    return conv_permutable(g, n) && (n->n_in < 3 || n->in[2] < 0 || pass_value_is_const(g, n->in[2]));
}

/* Can reader c's input slot k absorb a permutation of `channels` channels? Returns 1 (absorbs:
 * a Conv's X or a Gemm's A), 2 (tied: a channel-wise op's input, a conv's residual input), or 0. */
static int reader_kind(const Graph *g, const Node *c, int k, int64_t channels)
{
    if (k == 0 && channel_wise(g, c)) return 2;
    if (c->op == OP_CONV && k == 3) return 2;
    if (c->op == OP_CONV && k == 0 && conv_permutable(g, c) && g->values[c->in[1]].dims[1] == channels) return 1;
    if (c->op == OP_GEMM && k == 0 && c->n_in >= 2 && pass_value_is_const(g, c->in[1]) &&
        g->values[c->in[1]].dtype == DT_F32 && g->values[c->in[1]].rank == 2 && g->values[c->in[0]].rank == 2 &&
        ir_attr_int(c, "transA", 0) == 0) {
        const int64_t K = ir_attr_int(c, "transB", 0) ? g->values[c->in[1]].dims[1] : g->values[c->in[1]].dims[0];
        return channels > 0 && K % channels == 0; /* K = channels x the flattened spatial size */
    }
    return 0;
}

/* ------------------------------------------------------------------ rewriting */
/* A new constant: value vid (f32 or i16 [A, B, rest...]) permuted along axis 0 (axis = 0) or 1. */
static int permuted_const(Graph *g, int vid, int axis, const int64_t *perm, const char *suffix)
{
    const Value *v = &g->values[vid];
    const size_t es = dtype_size(v->dtype);
    int64_t outer = axis ? v->dims[0] : 1, n = v->dims[axis], inner = 1;
    for (int r = axis + 1; r < v->rank; r++) inner *= v->dims[r];
    char *buf = xmalloc((size_t)(outer * n * inner) * es + 1);
    const char *src = v->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < n; k++)
            memcpy(buf + ((o * n + k) * inner) * (int64_t)es, src + ((o * n + perm[k]) * inner) * (int64_t)es,
                   (size_t)inner * es);
    char name[300];
    snprintf(name, sizeof name, "%s%s", v->name ? v->name : "w", suffix);
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, v->dims, (size_t)v->rank * sizeof(int64_t));
    int id = ir_const_add(g, name, v->dtype, v->rank, dims, buf);
    free(buf);
    return id;
}

/* The same for a node's tensor attribute (prune_ids [M, C]), in place on the node. */
static void permute_ids(Graph *g, int node, int axis, const int64_t *perm)
{
    const Tensor *t = ir_attr_tensor(&g->nodes[node], "prune_ids");
    if (!t || t->rank != 2 || t->dtype != DT_I16) return;
    const int16_t *src = t->data;
    int64_t M = t->dims[0], C = t->dims[1];
    int16_t *buf = xmalloc((size_t)(M * C) * sizeof(int16_t) + 1);
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++)
            buf[m * C + c] = axis ? src[m * C + perm[c]] : src[perm[m] * C + c];
    int64_t dims[2] = {M, C};
    Tensor *nt = tensor_wrap(DT_I16, 2, dims, buf);
    ir_node_set_tensor(g, node, "prune_ids", nt);
    free(nt);
    free(buf);
}

/* Replace input slot k of node i by a permuted copy of its constant along axis. */
static void permute_input(Graph *g, int i, int k, int axis, const int64_t *perm, const char *suffix)
{
    Node *n = &g->nodes[i];
    int in[8]; /* Conv and Gemm have at most 4 */
    IR_ASSERT(n->n_in <= 8);
    memcpy(in, n->in, (size_t)n->n_in * sizeof(int));
    in[k] = permuted_const(g, in[k], axis, perm, suffix);
    ir_node_set_inputs(g, i, n->n_in, in);
}

/* The pruned conv's metadata, or NULL: prune_ids [M, C] and its pattern library. */
static const Tensor *pruned_ids(const Graph *g, const Node *n, const int64_t **masks, int *np)
{
    const Tensor *ids = n->dead || n->op != OP_CONV ? NULL : ir_attr_tensor(n, "prune_ids");
    if (!ids || ids->rank != 2 || ids->dtype != DT_I16 || !conv_permutable(g, n) ||
        g->values[n->in[1]].dims[0] != ids->dims[0])
        return NULL;
    *masks = ir_attr_ints(n, "prune_patterns", np);
    return *masks && *np >= 1 && *np <= PRUNE_MAX_PATTERNS ? ids : NULL;
}

/* Reorder class `root` (parent[] the union-find over the graph's first nv values: constants this
 * pass adds are in no class); sets filter_order on its pruned emitters either way. */
static void reorder_class(Graph *g, const int *parent, int nv, int root)
{
    const char *why = NULL;
    int64_t channels = -1;
    int n_emit = 0; /* the caller found a pruned conv producing the class */
    /* emitters; producers that are not emitters or channel-wise ops */
    for (int v = 0; v < nv && !why; v++) {
        if (!in_class(parent, nv, v, root)) continue;
        if (pass_value_is_output(g, v)) why = "output is a graph output";
        const int p = g->values[v].producer;
        if (why || p < 0) {
            if (!why && ir_value_use_count(g, v) > 0) why = "channels come from a graph input or constant";
            continue;
        }
        const Node *n = &g->nodes[p];
        if (n->out[0] == v && conv_emits(g, n)) {
            const int64_t m = g->values[n->in[1]].dims[0];
            if (channels >= 0 && channels != m) why = "convs of different widths share the channels";
            channels = m, n_emit++;
        } else if (!(n->out[0] == v && channel_wise(g, n))) {
            why = "channels come from an op that cannot permute them";
        }
    }
    /* readers */
    char absorbed[400] = "";
    int n_abs = 0;
    for (int j = 0; j < g->n_nodes && !why; j++) {
        const Node *c = &g->nodes[j];
        if (c->dead) continue;
        for (int k = 0; k < c->n_in && !why; k++) {
            if (!in_class(parent, nv, c->in[k], root)) continue;
            const int kind = reader_kind(g, c, k, channels);
            if (!kind) {
                why = c->op == OP_CONV && k == 0 && ir_attr_int(c, "group", 1) != 1 ? "consumer conv is grouped"
                                                                                    : "output feeds an op that cannot absorb a permutation";
            } else if (kind == 1) {
                size_t len = strlen(absorbed);
                if (n_abs < 4)
                    snprintf(absorbed + len, sizeof absorbed - len, "%s%s", n_abs ? ", " : "",
                             c->name ? c->name : "a conv");
                else if (n_abs == 4)
                    snprintf(absorbed + len, sizeof absorbed - len, ", ...");
                n_abs++;
            }
        }
    }
    if (!why && !n_abs) why = "output unused";

    /* the key: counts and signatures summed over the class's pruned emitters */
    FilterKey *key = why ? NULL : xcalloc((size_t)channels, sizeof *key);
    for (int i = 0; key && i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        int np = 0;
        const int64_t *masks = NULL;
        const Tensor *ids = n->dead || n->n_out < 1 || !in_class(parent, nv, n->out[0], root)
                                ? NULL
                                : pruned_ids(g, n, &masks, &np);
        if (!ids) continue;
        const int16_t *id = ids->data;
        const int64_t M = ids->dims[0], C = ids->dims[1];
        int rank[PRUNE_MAX_PATTERNS];
        /* the signature counts patterns in their canonical order (pass_pattern_rank), not the
         * library's: the same layer gets the same order however its library was listed */
        pass_pattern_rank_ids(masks, np, id, M * C, rank);
        for (int64_t m = 0; m < M; m++) {
            key[m].index = m;
            for (int64_t c = 0; c < C; c++)
                if (id[m * C + c] >= 0 && id[m * C + c] < np) key[m].count++, key[m].sig[rank[id[m * C + c]]]++;
        }
    }
    int64_t *perm = NULL;
    int moved = 0;
    if (key) {
        qsort(key, (size_t)channels, sizeof *key, filter_cmp);
        perm = xmalloc((size_t)channels * sizeof(int64_t));
        for (int64_t m = 0; m < channels; m++) perm[m] = key[m].index, moved |= perm[m] != m;
        free(key);
    }
    if (moved) {
        const int n0 = g->n_nodes;
        for (int i = 0; i < n0; i++) {
            Node *n = &g->nodes[i];
            if (n->dead) continue;
            if (n->n_out >= 1 && in_class(parent, nv, n->out[0], root) && conv_emits(g, n)) {
                permute_input(g, i, 1, 0, perm, "_reordered");
                n = &g->nodes[i];
                if (n->n_in > 2 && n->in[2] >= 0) permute_input(g, i, 2, 0, perm, "_reordered");
                permute_ids(g, i, 0, perm);
            }
            n = &g->nodes[i];
            if (n->n_in >= 1 && in_class(parent, nv, n->in[0], root) &&
                reader_kind(g, n, 0, channels) == 1) {
                if (n->op == OP_CONV) {
                    permute_input(g, i, 1, 1, perm, "_inperm");
                    permute_ids(g, i, 1, perm);
                } else { /* Gemm: B [N, K] (transB) or [K, N], K = channels x S (Flatten) */
                    const int axis = ir_attr_int(n, "transB", 0) ? 1 : 0;
                    const int64_t K = g->values[n->in[1]].dims[axis], S = K / channels;
                    int64_t *pk = xmalloc((size_t)K * sizeof(int64_t));
                    for (int64_t k = 0; k < K; k++) pk[k] = perm[k / S] * S + k % S;
                    permute_input(g, i, 1, axis, pk, "_inperm");
                    free(pk);
                }
            }
        }
        /* the permuted values are no longer the source model's tensors of those names: names of
         * their own, so tools matching compiled values to the interpreter's by name (ppcrun
         * --compare-layers, --trace) do not compare them channel for channel */
        for (int v = 0; v < nv; v++)
            if (in_class(parent, nv, v, root) && g->values[v].producer >= 0) ir_value_rename_suffix(g, v, "_reordered");
    }
    free(perm);
    char msg[600];
    if (why)
        snprintf(msg, sizeof msg, "kept: %s", why);
    else if (n_emit > 1)
        snprintf(msg, sizeof msg, "%s, absorbed by %s (one order for the %d convs whose outputs residual adds tie)",
                 moved ? "reordered" : "already in order", absorbed, n_emit);
    else
        snprintf(msg, sizeof msg, "%s, absorbed by %s", moved ? "reordered" : "already in order", absorbed);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        int np = 0;
        const int64_t *masks = NULL;
        if (!n->dead && n->n_out >= 1 && in_class(parent, nv, n->out[0], root) &&
            pruned_ids(g, n, &masks, &np))
            ir_node_set_str(g, i, "filter_order", msg);
    }
}

int pass_filter_reorder(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    const int nv = g->n_values;
    int *parent = xmalloc((size_t)(nv + 1) * sizeof(int));
    for (int v = 0; v < nv; v++) parent[v] = v;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || n->n_out < 1 || n->out[0] < 0) continue;
        if (n->op == OP_CONV && n->n_in > 3) uf_union(parent, n->out[0], n->in[3]); /* residual */
        if (channel_wise(g, n)) uf_union(parent, n->out[0], n->in[0]);
    }
    /* every class with a pruned conv among its producers, in node order */
    char *done = xcalloc((size_t)(nv + 1), 1);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        int np = 0;
        const int64_t *masks = NULL;
        if (n->dead || n->n_out < 1 || n->out[0] < 0 || !pruned_ids(g, n, &masks, &np)) continue;
        const int root = uf_find(parent, n->out[0]);
        if (done[root]) continue;
        done[root] = 1;
        reorder_class(g, parent, nv, root);
    }
    free(done);
    free(parent);
    return 0;
}
