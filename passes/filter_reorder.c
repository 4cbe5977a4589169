/* filter_reorder.c — pass "filter-reorder": filter kernel reordering of pattern-pruned convs
 * (issue #6; docs/codegen.md §7), before pattern-group groups them into blocks of 16.
 *
 * A pruned Conv (prune_ids/prune_patterns metadata) gets its filters sorted by kept-kernel
 * count (descending), then by pattern signature (the filter's count of kernels per pattern,
 * compared lexicographically), then by index — so the pattern kernel's blocks of 16 filters hold
 * filters of similar work and structure. The output-channel permutation is folded into the
 * consumer, never done at run time: only where the Conv's output has exactly one use, as the
 * data input of a group-1 Conv with constant weights (whose input channels are permuted the same
 * way, its prune_ids columns too), and the Conv itself has no residual input (which would need
 * permuting). Elsewhere (an output feeding a residual add, several consumers, a graph output)
 * the filters keep their order and the attribute filter_order says why; reordered convs get
 * filter_order = "reordered, absorbed by <consumer>", and the permuted output value is renamed
 * <name>_reordered (it no longer holds the source model's tensor of that name). Weights are
 * rewritten into new constants
 * (shared constants are never modified). Results are unchanged up to nothing: the same sums in
 * the same order per output channel.
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

/* The single consumer that can absorb node i's output permutation, or -1 with *why set. */
static int absorber(const Graph *g, int i, const char **why)
{
    const Node *n = &g->nodes[i];
    int y = n->out[0];
    if (n->n_in > 3 && n->in[3] >= 0) return *why = "has a residual input", -1;
    if (pass_value_is_output(g, y)) return *why = "output is a graph output", -1;
    if (ir_value_use_count(g, y) != 1) return *why = "output has several uses", -1;
    for (int j = 0; j < g->n_nodes; j++) {
        const Node *c = &g->nodes[j];
        if (c->dead) continue;
        for (int k = 0; k < c->n_in; k++) {
            if (c->in[k] != y) continue;
            if (c->op != OP_CONV || k != 0) return *why = "output feeds an op that cannot absorb a permutation", -1;
            if (ir_attr_int(c, "group", 1) != 1) return *why = "consumer conv is grouped", -1;
            if (c->n_in < 2 || !pass_value_is_const(g, c->in[1]) || g->values[c->in[1]].dtype != DT_F32 ||
                g->values[c->in[1]].rank < 3)
                return *why = "consumer conv's weights are not constant", -1;
            return j;
        }
    }
    return *why = "output unused", -1;
}

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

int pass_filter_reorder(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = &g->nodes[i];
        const Tensor *ids = n->dead || n->op != OP_CONV ? NULL : ir_attr_tensor(n, "prune_ids");
        if (!ids || ids->rank != 2 || ids->dtype != DT_I16 || n->n_in < 2 || !pass_value_is_const(g, n->in[1]))
            continue;
        const Value *w = &g->values[n->in[1]];
        const int64_t M = ids->dims[0], C = ids->dims[1];
        if (w->dtype != DT_F32 || w->rank < 3 || w->dims[0] != M || ir_attr_int(n, "group", 1) != 1) continue;
        const char *why = NULL;
        int j = absorber(g, i, &why);
        if (j < 0 || g->values[g->nodes[j].in[1]].dims[1] != M) {
            char msg[200];
            snprintf(msg, sizeof msg, "kept: %s", why ? why : "consumer's channels do not match");
            ir_node_set_str(g, i, "filter_order", msg);
            continue;
        }
        FilterKey *key = xcalloc((size_t)M, sizeof *key);
        const int16_t *id = ids->data;
        /* the signature counts patterns in their canonical order (pass_pattern_rank), not the
         * library's: the same layer gets the same order however its library was listed */
        int np = 0, rank[PRUNE_MAX_PATTERNS];
        const int64_t *masks = ir_attr_ints(n, "prune_patterns", &np);
        if (!masks || np < 1 || np > PRUNE_MAX_PATTERNS) {
            ir_node_set_str(g, i, "filter_order", "kept: no pattern library of 1 to 128 patterns");
            free(key);
            continue;
        }
        pass_pattern_rank_ids(masks, np, id, M * C, rank);
        for (int64_t m = 0; m < M; m++) {
            key[m].index = m;
            for (int64_t c = 0; c < C; c++)
                if (id[m * C + c] >= 0 && id[m * C + c] < np) key[m].count++, key[m].sig[rank[id[m * C + c]]]++;
        }
        qsort(key, (size_t)M, sizeof *key, filter_cmp);
        int64_t *perm = xmalloc((size_t)M * sizeof(int64_t));
        int moved = 0;
        for (int64_t m = 0; m < M; m++) perm[m] = key[m].index, moved |= perm[m] != m;
        free(key);
        if (moved) {
            int in[4] = {n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : -1, -1};
            in[1] = permuted_const(g, in[1], 0, perm, "_reordered");
            if (in[2] >= 0 && pass_value_is_const(g, in[2])) in[2] = permuted_const(g, in[2], 0, perm, "_reordered");
            ir_node_set_inputs(g, i, n->n_in > 2 ? 3 : 2, in);
            permute_ids(g, i, 0, perm);
            Node *c = &g->nodes[j];
            int cin[4] = {c->in[0], c->in[1], c->n_in > 2 ? c->in[2] : -1, c->n_in > 3 ? c->in[3] : -1};
            cin[1] = permuted_const(g, cin[1], 1, perm, "_inperm");
            ir_node_set_inputs(g, j, c->n_in, cin);
            permute_ids(g, j, 1, perm);
            /* the permuted output is no longer the source model's tensor of that name: a name
             * of its own, so tools matching compiled values to the interpreter's by name
             * (ppcrun --compare-layers, --trace) do not compare it channel for channel */
            ir_value_rename_suffix(g, n->out[0], "_reordered");
        }
        free(perm);
        char msg[300];
        snprintf(msg, sizeof msg, "%s, absorbed by %s", moved ? "reordered" : "already in order",
                 g->nodes[j].name ? g->nodes[j].name : "the next conv");
        ir_node_set_str(g, i, "filter_order", msg);
    }
    return 0;
}
