/* plan_memory.c — pass "plan-memory": gives every value a place at run time (docs/codegen.md §4)
 * and checks such plans (plan_memory_verify).
 *
 * Result, per value: mem_kind / mem_index / mem_offset (ir.h), and Graph.workspace_size.
 *   graph input k            MEM_INPUT, index k, offset 0
 *   constant v               MEM_CONST, index v (the constant's own value id), offset 0
 *   graph output k           MEM_OUTPUT, index k, offset 0: its producer writes straight into the
 *                            user's buffer (not for an output that is also an earlier output, a
 *                            graph input or a constant: codegen copies those at the end)
 *   other node outputs       MEM_WORKSPACE at a 64-aligned offset, or sharing a place (below)
 *   values nothing produces or reads: MEM_NONE
 *
 * Storage groups. Values that share bytes form a group (a weighted union-find: each value has
 * an offset inside its group's root storage); the group lives from its first definition to its
 * last use (graph outputs: to the end of the run; a PatternPad's input to the end of the
 * PatternConv after it, which codegen may interleave with it band by band). Walking the nodes in order:
 *   views        Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout's output 0 and a
 *                LayoutTransform whose source and result have the same bytes (src = dst, or
 *                C % 16 == 0 with all spatial dims 1) alias their input;
 *   in place     an elementwise unary/binary/variadic op, Cast or Where writes over an input of
 *                the same byte size whose group dies at this node (variadic Max/Min/Sum/Mean
 *                only over one of their first two inputs); so does a Conv over its
 *                residual (the kernels read each residual element before writing that output
 *                element), unless the residual's bytes are also read as another input;
 *   concat       a Concat whose dims before the axis are all 1 (N = 1, channel axis of a plain
 *                or blocked tensor), whose inputs are each produced by a node and used only by
 *                this Concat, and whose input byte offsets are multiples of 64, gets its inputs
 *                placed at consecutive offsets inside its own storage (the Concat is then a no-op).
 * Groups holding a graph input or constant are read-only (no in-place writes, no concat);
 * groups holding a graph output live in that output's buffer (merging two such groups, or one
 * with an input/constant group, is refused: the node then copies). Every other group gets a
 * workspace range by liveness: sweeping the nodes in order, the groups starting at node t are
 * placed (largest first, best fit into the freed ranges, else at the top), then the groups whose
 * last use is t are freed (so a node's inputs and outputs never share bytes unless in place).
 * A second placement puts the largest group first, each into the smallest gap between the groups
 * already placed whose lifetimes overlap its own (TFLite's "greedy by size"); the placement with
 * the smaller peak is kept (the second is quadratic in the groups: skipped beyond 8000).
 * Codegen must treat a view or Concat whose output already has its inputs' placement as a no-op
 * and run in-place elementwise kernels with output == input.
 *
 * plan_memory_verify checks any plan independently of how it was made: placements within their
 * buffers (workspace offsets 64-aligned), values produced into an input/constant buffer only as
 * byte-identical views of it, and for any two values whose lifetimes [definition, last use]
 * intersect and whose bytes overlap in one writable buffer: either they hold the same bytes by
 * construction (a chain of views and in-place Concat slices at exactly the right offsets), or
 * one is an elementwise node's input (or a Conv's residual, read only as that; or one of the first
 * two inputs of a variadic Max/Min/Sum/Mean, read only there) that dies there and the other that
 * node's output at the same offset and size. With ctx->verify_each the pass runs it on its own
 * result.
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static int64_t pm_align(int64_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static int64_t pm_bytes(const Value *v) { return ir_value_numel(v) * (int64_t)dtype_size(v->dtype); }

/* ---------------------------------------------------------------- op classes */

static int pm_is_view(const Graph *g, const Node *n)
{
    switch (n->op) {
    case OP_RESHAPE:
    case OP_FLATTEN:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
    case OP_IDENTITY:
    case OP_DROPOUT: return 1;
    case OP_LAYOUT_TRANSFORM: {
        if (!strcmp(ir_attr_str(n, "src", ""), ir_attr_str(n, "dst", ""))) return 1;
        /* the plain side: [N, C, 1...] with C % 16 == 0 has the blocked bytes */
        const Value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
        const Value *p = x->rank < y->rank ? x : y;
        if (p->rank < 2 || p->dims[1] % IR_LAYOUT_BLOCK) return 0;
        for (int i = 2; i < p->rank; i++)
            if (p->dims[i] != 1) return 0;
        return 1;
    }
    default: return 0;
    }
}

/* Output i depends only on element i of every same-shaped input. */
static int pm_is_elementwise(OpKind op)
{
    if (op >= OP_RELU && op <= OP_ATANH) return 1; /* ops.def: the unary rows before Not */
    switch (op) {
    case OP_NOT:
    case OP_IS_NAN:
    case OP_IS_INF:
    case OP_CAST:
    case OP_WHERE: return 1;
    default: return op >= OP_ADD && op <= OP_GREATER_OR_EQUAL;
    }
}

/* Byte offset of every input of Concat node n inside its output when the concat is one
 * contiguous range per input (all dims before the axis are 1); 0 if not. */
static int pm_concat_offsets(const Graph *g, const Node *n, int64_t *off)
{
    const Value *y = &g->values[n->out[0]];
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0) axis += y->rank;
    if (axis < 0 || axis >= y->rank) return 0;
    for (int a = 0; a < axis; a++)
        if (y->dims[a] != 1) return 0;
    int64_t o = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0) return 0;
        off[k] = o;
        o += pm_bytes(&g->values[n->in[k]]);
    }
    return o == pm_bytes(y);
}

/* ---------------------------------------------------------------- lifetimes */

/* def: producing node (-1 for inputs and constants); last: last reading node (n_nodes for
 * graph outputs, def when unused); live: referenced at all. */
typedef struct Life {
    int *def, *last;
    char *live;
} Life;

static void pm_life(const Graph *g, Life *L)
{
    int nv = g->n_values;
    L->def = xmalloc(((size_t)nv + 1) * sizeof(int));
    L->last = xmalloc(((size_t)nv + 1) * sizeof(int));
    L->live = xcalloc((size_t)nv + 1, 1);
    for (int v = 0; v < nv; v++) {
        L->def[v] = -1;
        L->last[v] = -2;
        if (g->values[v].kind != VAL_INTERMEDIATE) L->live[v] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) L->def[n->out[k]] = i, L->live[n->out[k]] = 1;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) L->last[n->in[k]] = i, L->live[n->in[k]] = 1;
    }
    for (int k = 0; k < g->n_outputs; k++) L->last[g->outputs[k]] = g->n_nodes, L->live[g->outputs[k]] = 1;
    /* a PatternPad and the PatternConv right after it that reads its copies may run interleaved,
     * band by band (codegen/lower_pattern.c): the pad's input is read until the conv ends */
    for (int i = 0; i + 1 < g->n_nodes; i++) {
        const Node *n = &g->nodes[i], *c = &g->nodes[i + 1];
        if (n->op != OP_PATTERN_PAD || c->op != OP_PATTERN_CONV || c->n_in < 1 || c->in[0] != n->out[0]) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && L->last[n->in[k]] == i) L->last[n->in[k]] = i + 1;
    }
    for (int v = 0; v < nv; v++)
        if (L->last[v] < L->def[v]) L->last[v] = L->def[v];
}

static void pm_life_free(Life *L) { free(L->def), free(L->last), free(L->live); }

/* ---------------------------------------------------------------- storage groups */

typedef struct Plan {
    const Graph *g;
    Life life;
    int *parent;
    int64_t *rel;     /* offset inside the parent's storage; inside the root's after pm_find */
    /* valid at roots: */
    MemKind *pin;     /* MEM_NONE (workspace), MEM_INPUT, MEM_CONST or MEM_OUTPUT */
    int *pin_index;
    int64_t *extent;  /* bytes from the root's start covered by members */
    int *start, *end; /* lifetime of the group */
} Plan;

static int pm_find(Plan *P, int v)
{
    int p = P->parent[v];
    if (p == v) return v;
    int r = pm_find(P, p);
    P->rel[v] += P->rel[p]; /* rel[p] is now relative to r */
    P->parent[v] = r;
    return r;
}

/* Put group root c inside group root r at byte offset off (roots differ; pins compatible). */
static void pm_attach(Plan *P, int c, int r, int64_t off)
{
    P->parent[c] = r;
    P->rel[c] = off;
    if (P->pin[r] == MEM_NONE) P->pin[r] = P->pin[c], P->pin_index[r] = P->pin_index[c];
    if (off + P->extent[c] > P->extent[r]) P->extent[r] = off + P->extent[c];
    if (P->start[c] < P->start[r]) P->start[r] = P->start[c];
    if (P->end[c] > P->end[r]) P->end[r] = P->end[c];
}

/* Can group root rx (holding x at its offset) take y's group root ry, pinned or not? */
static int pm_pins_compatible(Plan *P, int rx, int x, int ry, int64_t ybytes)
{
    if (P->pin[rx] != MEM_NONE && P->pin[ry] != MEM_NONE) return 0;
    /* a group moving into an output buffer must be exactly that buffer */
    if (P->pin[ry] == MEM_OUTPUT) return P->rel[x] == 0 && P->extent[rx] == ybytes;
    return 1;
}

static void pm_view(Plan *P, int x, int y)
{
    int rx = pm_find(P, x), ry = pm_find(P, y);
    if (rx == ry || ry != y || !pm_pins_compatible(P, rx, x, ry, pm_bytes(&P->g->values[y]))) return;
    pm_attach(P, ry, rx, P->rel[x]);
}

/* Conv's residual (input 3) is read at exactly the output element it produces. */
/* The residual input slot of a Conv (3) or PatternConv (5) that has one, else -1. */
static int pm_residual_slot(const Node *n)
{
    if (n->op == OP_CONV && n->n_in > 3 && n->in[3] >= 0) return 3;
    if (n->op == OP_PATTERN_CONV && n->n_in > 5 && n->in[5] >= 0) return 5;
    return -1;
}
static int pm_conv_residual(const Node *n) { return pm_residual_slot(n) >= 0; }

/* May node n write its output over its input k (given the byte sizes match and k dies there)?
 * Elementwise ops: any input, except that variadic Max/Min/Sum/Mean fold their inputs into the
 * output one after the other, so only the first two; Conv, PatternConv: only the residual. */
static int pm_inplace_slot(const Node *n, int k)
{
    if (pm_conv_residual(n)) return k == pm_residual_slot(n);
    if (!pm_is_elementwise(n->op)) return 0;
    if (n->op == OP_MAX || n->op == OP_MIN || n->op == OP_SUM || n->op == OP_MEAN) return k < 2;
    return 1;
}

/* Node `node` writes y over one of its inputs x (elementwise ops: any input of y's byte size;
 * Conv: its residual) whose group dies here. Other inputs in x's group must be elsewhere in the
 * group, or the same bytes as x in a slot that may be overwritten too; for a Conv not in the
 * group at all. */
static int pm_inplace(Plan *P, int node, int y)
{
    const Graph *g = P->g;
    const Node *n = &g->nodes[node];
    int64_t yb = pm_bytes(&g->values[y]);
    int conv = pm_conv_residual(n);
    for (int k = 0; k < n->n_in; k++) {
        int x = n->in[k];
        if (x < 0 || !pm_inplace_slot(n, k) || pm_bytes(&g->values[x]) != yb) continue;
        int rx = pm_find(P, x), ry = pm_find(P, y), ok = 1;
        if (rx == ry || P->pin[rx] != MEM_NONE || P->end[rx] != node) continue;
        if (!pm_pins_compatible(P, rx, x, ry, yb)) continue;
        for (int j = 0; ok && j < n->n_in; j++) {
            int u = n->in[j];
            if (j == k || u < 0 || pm_find(P, u) != rx) continue;
            int64_t ru = P->rel[u], rxo = P->rel[x];
            int disjoint = ru + pm_bytes(&g->values[u]) <= rxo || rxo + yb <= ru;
            /* the same bytes are fine where an elementwise op reads element i before writing
             * it; not where they are read after the output was written (a fold's later inputs) */
            ok = !conv && (disjoint || (ru == rxo && pm_inplace_slot(n, j)));
        }
        if (!ok) continue;
        pm_attach(P, ry, rx, P->rel[x]);
        return 1;
    }
    return 0;
}

static void pm_concat(Plan *P, int node)
{
    const Graph *g = P->g;
    const Node *n = &g->nodes[node];
    int y = n->out[0];
    int64_t *off = xmalloc(((size_t)n->n_in + 1) * sizeof(int64_t));
    int ok = pm_concat_offsets(g, n, off) && pm_find(P, y) == y;
    for (int k = 0; ok && k < n->n_in; k++) {
        int x = n->in[k], rx = pm_find(P, x);
        ok = g->values[x].producer >= 0 && pass_value_single_use(g, x) && off[k] % ALIGN == 0 &&
             P->pin[rx] == MEM_NONE && P->rel[x] == 0 && P->extent[rx] == pm_bytes(&g->values[x]);
        for (int j = 0; ok && j < k; j++) ok = pm_find(P, n->in[j]) != rx;
    }
    for (int k = 0; ok && k < n->n_in; k++) pm_attach(P, pm_find(P, n->in[k]), y, off[k]);
    free(off);
}

/* ---------------------------------------------------------------- workspace ranges */

typedef struct Range {
    int64_t off, size;
} Range;

typedef struct Arena64 {
    Range *free;  /* sorted by offset, coalesced */
    int n, cap;
    int64_t top;  /* high-water mark */
} Arena64;

static int64_t pm_alloc(Arena64 *A, int64_t size)
{
    int best = -1;
    for (int i = 0; i < A->n; i++)
        if (A->free[i].size >= size && (best < 0 || A->free[i].size < A->free[best].size)) best = i;
    if (best >= 0) {
        int64_t off = A->free[best].off;
        A->free[best].off += size;
        A->free[best].size -= size;
        if (!A->free[best].size) {
            memmove(&A->free[best], &A->free[best + 1], (size_t)(A->n - best - 1) * sizeof(Range));
            A->n--;
        }
        return off;
    }
    /* grow from a free range that ends at the top, else at the top */
    if (A->n && A->free[A->n - 1].off + A->free[A->n - 1].size == A->top) {
        int64_t off = A->free[--A->n].off;
        A->top = off + size;
        return off;
    }
    int64_t off = A->top;
    A->top += size;
    return off;
}

static void pm_release(Arena64 *A, int64_t off, int64_t size)
{
    if (A->n == A->cap) A->free = xrealloc(A->free, (size_t)(A->cap = A->cap ? 2 * A->cap : 16) * sizeof(Range));
    int i = 0;
    while (i < A->n && A->free[i].off < off) i++;
    memmove(&A->free[i + 1], &A->free[i], (size_t)(A->n - i) * sizeof(Range));
    A->free[i] = (Range){off, size};
    A->n++;
    if (i + 1 < A->n && A->free[i].off + A->free[i].size == A->free[i + 1].off) {
        A->free[i].size += A->free[i + 1].size;
        memmove(&A->free[i + 1], &A->free[i + 2], (size_t)(A->n - i - 2) * sizeof(Range));
        A->n--;
    }
    if (i > 0 && A->free[i - 1].off + A->free[i - 1].size == A->free[i].off) {
        A->free[i - 1].size += A->free[i].size;
        memmove(&A->free[i], &A->free[i + 1], (size_t)(A->n - i - 1) * sizeof(Range));
        A->n--;
    }
}

/* A group to place: sorted by start, then largest first. */
typedef struct PlaceItem {
    int start;
    int64_t size;
    int root;
} PlaceItem;

static int pm_cmp_item(const void *a, const void *b)
{
    const PlaceItem *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->root - y->root;
}

static int64_t pm_group_size(const Plan *P, int r) { return pm_align(P->extent[r] > 0 ? P->extent[r] : 1); }

static int pm_cmp_size(const void *a, const void *b)
{
    const PlaceItem *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->root - y->root;
}

static int pm_cmp_range(const void *a, const void *b)
{
    const Range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Largest group first, each into the smallest gap left by the already placed groups whose
 * lifetimes overlap its own (else above them all). Returns the peak. */
static int64_t pm_place_by_size(const Plan *P, PlaceItem *items, int nr, int64_t *base)
{
    qsort(items, (size_t)nr, sizeof(PlaceItem), pm_cmp_size);
    Range *busy = xmalloc(((size_t)nr + 1) * sizeof(Range));
    int64_t peak = 0;
    for (int i = 0; i < nr; i++) {
        int r = items[i].root, nb = 0;
        int64_t size = pm_group_size(P, r);
        for (int j = 0; j < i; j++) {
            int q = items[j].root;
            if (P->start[q] <= P->end[r] && P->start[r] <= P->end[q]) busy[nb++] = (Range){base[q], pm_group_size(P, q)};
        }
        qsort(busy, (size_t)nb, sizeof(Range), pm_cmp_range);
        int64_t at = -1, best = -1, pos = 0;
        for (int j = 0; j <= nb; j++) {
            int64_t gap_end = j < nb ? busy[j].off : INT64_MAX;
            if (gap_end - pos >= size && (at < 0 || gap_end - pos < best)) at = pos, best = gap_end - pos;
            if (j < nb && busy[j].off + busy[j].size > pos) pos = busy[j].off + busy[j].size;
        }
        base[r] = at;
        if (at + size > peak) peak = at + size;
    }
    free(busy);
    return peak;
}

/* Workspace offsets of the unpinned roots (base[r]); returns the peak. Two placements are made
 * (the liveness sweep with best fit into freed ranges, and largest-first into gaps) and the one
 * with the smaller peak kept. */
static int64_t pm_place(Plan *P, int64_t *base)
{
    const Graph *g = P->g;
    int nv = g->n_values, nr = 0;
    PlaceItem *items = xmalloc(((size_t)nv + 1) * sizeof(PlaceItem));
    for (int v = 0; v < nv; v++)
        if (P->life.live[v] && pm_find(P, v) == v && P->pin[v] == MEM_NONE)
            items[nr++] = (PlaceItem){P->start[v], P->extent[v], v};
    qsort(items, (size_t)nr, sizeof(PlaceItem), pm_cmp_item);
    int64_t *base2 = xmalloc(((size_t)nv + 1) * sizeof(int64_t));
    PlaceItem *items2 = xmalloc(((size_t)nr + 1) * sizeof(PlaceItem));
    memcpy(items2, items, (size_t)nr * sizeof(PlaceItem));
    /* quadratic in the number of groups: only for graphs of ordinary size */
    int64_t peak2 = nr <= 8000 ? pm_place_by_size(P, items2, nr, base2) : INT64_MAX;
    Arena64 A = {0};
    int next = 0;
    int *active = xmalloc(((size_t)nr + 1) * sizeof(int));
    int na = 0;
    for (int t = 0; t <= g->n_nodes; t++) {
        while (next < nr && items[next].start <= t) {
            int r = items[next++].root;
            base[r] = pm_alloc(&A, pm_align(P->extent[r] > 0 ? P->extent[r] : 1));
            active[na++] = r;
        }
        for (int j = 0; j < na;) {
            int r = active[j];
            if (P->end[r] <= t) {
                pm_release(&A, base[r], pm_align(P->extent[r] > 0 ? P->extent[r] : 1));
                active[j] = active[--na];
            } else {
                j++;
            }
        }
    }
    int64_t peak = A.top;
    if (peak2 < peak) {
        for (int i = 0; i < nr; i++) base[items[i].root] = base2[items[i].root];
        peak = peak2;
    }
    free(items), free(items2), free(base2), free(active), free(A.free);
    return peak;
}

/* ---------------------------------------------------------------- the pass */

int pass_plan_memory(Graph *g, PassContext *ctx, Diag *d)
{
    int nv = g->n_values;
    Plan P = {.g = g};
    pm_life(g, &P.life);
    P.parent = xmalloc(((size_t)nv + 1) * sizeof(int));
    P.rel = xcalloc((size_t)nv + 1, sizeof(int64_t));
    P.pin = xcalloc((size_t)nv + 1, sizeof(MemKind));
    P.pin_index = xcalloc((size_t)nv + 1, sizeof(int));
    P.extent = xmalloc(((size_t)nv + 1) * sizeof(int64_t));
    P.start = xmalloc(((size_t)nv + 1) * sizeof(int));
    P.end = xmalloc(((size_t)nv + 1) * sizeof(int));
    for (int v = 0; v < nv; v++) {
        P.parent[v] = v;
        P.extent[v] = pm_bytes(&g->values[v]);
        P.start[v] = P.life.def[v];
        P.end[v] = P.life.last[v];
        if (g->values[v].kind == VAL_CONST) P.pin[v] = MEM_CONST, P.pin_index[v] = v;
    }
    for (int k = 0; k < g->n_inputs; k++) P.pin[g->inputs[k]] = MEM_INPUT, P.pin_index[g->inputs[k]] = k;
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (g->values[v].producer >= 0 && P.pin[v] == MEM_NONE) P.pin[v] = MEM_OUTPUT, P.pin_index[v] = k;
    }

    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->n_out < 1 || n->out[0] < 0) continue;
        if (pm_is_view(g, n) && n->in[0] >= 0 && pm_bytes(&g->values[n->in[0]]) == pm_bytes(&g->values[n->out[0]]))
            pm_view(&P, n->in[0], n->out[0]);
        else if (n->n_out == 1 && (pm_is_elementwise(n->op) || pm_conv_residual(n)))
            pm_inplace(&P, i, n->out[0]);
        else if (n->op == OP_CONCAT)
            pm_concat(&P, i);
    }

    int64_t *base = xcalloc((size_t)nv + 1, sizeof(int64_t));
    int64_t peak = pm_place(&P, base);
    for (int v = 0; v < nv; v++) {
        Value *val = &g->values[v];
        val->mem_kind = MEM_NONE;
        val->mem_index = 0;
        val->mem_offset = 0;
        if (!P.life.live[v]) {
            if (val->kind == VAL_CONST) val->mem_kind = MEM_CONST, val->mem_index = v;
            continue;
        }
        int r = pm_find(&P, v);
        val->mem_kind = P.pin[r] == MEM_NONE ? MEM_WORKSPACE : P.pin[r];
        val->mem_index = P.pin[r] == MEM_NONE ? 0 : P.pin_index[r];
        val->mem_offset = (P.pin[r] == MEM_NONE ? base[r] : 0) + P.rel[v];
    }
    g->workspace_size = pm_align(peak);
    free(base), free(P.parent), free(P.rel), free(P.pin), free(P.pin_index), free(P.extent);
    free(P.start), free(P.end);
    pm_life_free(&P.life);
    if (ctx && ctx->verify_each) {
        Diag sub;
        if (plan_memory_verify(g, &sub)) return diag_error(d, "plan-memory produced a bad plan: %s", sub.msg);
    }
    return 0;
}

/* ---------------------------------------------------------------- verification */

static int pm_same_place(const Value *a, const Value *b)
{
    return a->mem_kind == b->mem_kind && a->mem_index == b->mem_index && a->mem_offset == b->mem_offset;
}

/* Byte-identity classes: weighted union-find where crel[v] is v's byte offset in its class. */
static int vf_find(int *par, int64_t *crel, int v)
{
    int p = par[v];
    if (p == v) return v;
    int r = vf_find(par, crel, p);
    crel[v] += crel[p];
    par[v] = r;
    return r;
}

/* Record that v's bytes are u's bytes shifted by off (v at u + off). */
static void vf_union(int *par, int64_t *crel, int u, int v, int64_t off)
{
    int ru = vf_find(par, crel, u), rv = vf_find(par, crel, v);
    if (ru == rv) return;
    /* rv goes under ru: pos(v) = pos(u) + off, pos(v) = crel[v] + pos(rv) */
    par[rv] = ru;
    crel[rv] = crel[u] + off - crel[v];
}

/* Size of the buffer a placement refers to, or -1 if the placement is invalid. */
static int64_t vf_buffer_size(const Graph *g, const Value *v)
{
    switch (v->mem_kind) {
    case MEM_WORKSPACE: return g->workspace_size;
    case MEM_INPUT:
        return v->mem_index >= 0 && v->mem_index < g->n_inputs ? pm_bytes(&g->values[g->inputs[v->mem_index]]) : -1;
    case MEM_OUTPUT:
        return v->mem_index >= 0 && v->mem_index < g->n_outputs ? pm_bytes(&g->values[g->outputs[v->mem_index]]) : -1;
    case MEM_CONST:
        return v->mem_index >= 0 && v->mem_index < g->n_values && g->values[v->mem_index].kind == VAL_CONST
                   ? pm_bytes(&g->values[v->mem_index])
                   : -1;
    default: return -1;
    }
}

/* May a and b (overlapping in time and bytes) legally share these bytes? */
static int vf_legal(const Graph *g, const Life *L, int *par, int64_t *crel, int a, int b)
{
    const Value *va = &g->values[a], *vb = &g->values[b];
    if (vf_find(par, crel, a) == vf_find(par, crel, b) && va->mem_offset - vb->mem_offset == crel[a] - crel[b])
        return 1;
    for (int s = 0; s < 2; s++) {
        int x = s ? b : a, y = s ? a : b; /* x dies where y is made, in place */
        const Value *vx = &g->values[x], *vy = &g->values[y];
        int node = L->def[y];
        if (node < 0 || L->last[x] != node) continue;
        if (vx->mem_offset != vy->mem_offset || pm_bytes(vx) != pm_bytes(vy)) continue;
        const Node *n = &g->nodes[node];
        /* x must sit only in slots that may be overwritten (a Conv's residual must not also be
         * read as X, W or B; a fold's input not also as a later one) */
        int ok = 0, bad = 0;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == x) {
                if (pm_inplace_slot(n, k)) ok = 1;
                else bad = 1;
            }
        if (ok && !bad) return 1;
    }
    return 0;
}

/* A placed value for the overlap sweep, ordered by buffer then offset. */
typedef struct VfItem {
    MemKind kind;
    int index;
    int64_t offset;
    int v;
} VfItem;

static int vf_cmp(const void *x, const void *y)
{
    const VfItem *a = x, *b = y;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return a->v - b->v;
}

int plan_memory_verify(const Graph *g, Diag *d)
{
    int nv = g->n_values, rc = -1, nw;
    VfItem *sorted = xmalloc(((size_t)nv + 1) * sizeof(VfItem));
    Life L;
    pm_life(g, &L);
    int *par = xmalloc(((size_t)nv + 1) * sizeof(int));
    int64_t *crel = xcalloc((size_t)nv + 1, sizeof(int64_t));
    for (int v = 0; v < nv; v++) par[v] = v;
    /* identity edges: views and Concat slices placed exactly */
    int64_t *off = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->n_out < 1 || n->out[0] < 0) continue;
        const Value *y = &g->values[n->out[0]];
        if (pm_is_view(g, n) && n->in[0] >= 0 && pm_same_place(y, &g->values[n->in[0]]) &&
            pm_bytes(y) == pm_bytes(&g->values[n->in[0]]))
            vf_union(par, crel, n->in[0], n->out[0], 0);
        if (n->op == OP_CONCAT) {
            off = xrealloc(off, ((size_t)n->n_in + 1) * sizeof(int64_t));
            if (!pm_concat_offsets(g, n, off)) continue;
            for (int k = 0; k < n->n_in; k++) {
                const Value *x = &g->values[n->in[k]];
                if (x->mem_kind == y->mem_kind && x->mem_index == y->mem_index && x->mem_offset == y->mem_offset + off[k])
                    vf_union(par, crel, n->out[0], n->in[k], off[k]);
            }
        }
    }
    /* every value on its own */
    for (int v = 0; v < nv; v++) {
        const Value *val = &g->values[v];
        if (!L.live[v]) continue;
        const char *why = NULL;
        int64_t bs = vf_buffer_size(g, val);
        if (val->kind == VAL_INPUT && (val->mem_kind != MEM_INPUT || val->mem_index < 0 ||
                                       val->mem_index >= g->n_inputs || g->inputs[val->mem_index] != v ||
                                       val->mem_offset != 0))
            why = "graph input not in its input buffer";
        else if (val->kind == VAL_CONST && (val->mem_kind != MEM_CONST || val->mem_index != v || val->mem_offset != 0))
            why = "constant not in its constant data";
        else if (bs < 0) why = "no valid placement";
        else if (val->mem_offset < 0 || val->mem_offset + pm_bytes(val) > bs) why = "placement outside its buffer";
        else if (val->mem_kind == MEM_WORKSPACE && val->mem_offset % ALIGN) why = "workspace offset not 64-aligned";
        else if (val->producer >= 0 && (val->mem_kind == MEM_INPUT || val->mem_kind == MEM_CONST)) {
            int owner = val->mem_kind == MEM_INPUT ? g->inputs[val->mem_index] : val->mem_index;
            if (vf_find(par, crel, owner) != vf_find(par, crel, v) || crel[v] - crel[owner] != val->mem_offset)
                why = "node output written into a read-only input or constant buffer";
        }
        if (!why && val->mem_kind == MEM_OUTPUT) {
            const Value *o = &g->values[g->outputs[val->mem_index]];
            if (o->mem_kind != MEM_OUTPUT || o->mem_index != val->mem_index || o->mem_offset != 0)
                why = "output buffer used but the graph output is not placed in it";
        }
        if (why) {
            diag_error(d, "value '%s': %s", val->name, why);
            goto out;
        }
    }
    /* pairs sharing bytes of a writable buffer while both live: sweep the values sorted by
     * buffer and offset, comparing each with the later ones that start inside it */
    nw = 0;
    for (int v = 0; v < nv; v++) {
        const Value *val = &g->values[v];
        if (L.live[v] && (val->mem_kind == MEM_WORKSPACE || val->mem_kind == MEM_OUTPUT) && pm_bytes(val) > 0)
            sorted[nw++] = (VfItem){val->mem_kind, val->mem_index, val->mem_offset, v};
    }
    qsort(sorted, (size_t)nw, sizeof(VfItem), vf_cmp);
    for (int i = 0; i < nw; i++) {
        int a = sorted[i].v;
        const Value *va = &g->values[a];
        int64_t end = va->mem_offset + pm_bytes(va);
        for (int j = i + 1; j < nw && sorted[j].kind == sorted[i].kind && sorted[j].index == sorted[i].index &&
                            sorted[j].offset < end;
             j++) {
            int b = sorted[j].v;
            if (L.def[a] > L.last[b] || L.def[b] > L.last[a]) continue;
            if (!vf_legal(g, &L, par, crel, a, b)) {
                diag_error(d, "values '%s' and '%s' overlap in the %s while both are live", va->name,
                           g->values[b].name, va->mem_kind == MEM_WORKSPACE ? "workspace" : "output buffer");
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(off), free(par), free(crel), free(sorted);
    pm_life_free(&L);
    return rc;
}

/* ---------------------------------------------------------------- statistics */

void pass_plan_memory_stats(const Graph *g, FILE *f)
{
    int n_inter = 0, views = 0, inplace = 0, concats = 0, outs_direct = 0, n_ws = 0;
    int64_t sum_all = 0, sum_ws = 0;
    for (int v = 0; v < g->n_values; v++) {
        const Value *val = &g->values[v];
        if (val->producer < 0) continue;
        n_inter++;
        sum_all += pm_bytes(val);
        if (val->mem_kind == MEM_WORKSPACE) n_ws++, sum_ws += pm_bytes(val);
    }
    int64_t *off = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->n_out < 1 || n->out[0] < 0 || n->n_in < 1 || n->in[0] < 0) continue;
        const Value *y = &g->values[n->out[0]];
        if (y->mem_kind == MEM_NONE) continue;
        if (pm_is_view(g, n)) {
            views += pm_same_place(y, &g->values[n->in[0]]);
        } else if (pm_is_elementwise(n->op) || pm_conv_residual(n)) {
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0 && pm_same_place(y, &g->values[n->in[k]])) {
                    inplace++;
                    break;
                }
        } else if (n->op == OP_CONCAT) {
            off = xrealloc(off, ((size_t)n->n_in + 1) * sizeof(int64_t));
            int all = pm_concat_offsets(g, n, off);
            for (int k = 0; all && k < n->n_in; k++) {
                const Value *x = &g->values[n->in[k]];
                all = x->mem_kind == y->mem_kind && x->mem_index == y->mem_index && x->mem_offset == y->mem_offset + off[k];
            }
            concats += all;
        }
    }
    free(off);
    for (int k = 0; k < g->n_outputs; k++) {
        const Value *o = &g->values[g->outputs[k]];
        outs_direct += o->producer >= 0 && o->mem_kind == MEM_OUTPUT && o->mem_index == k;
    }
    double mb = 1024.0 * 1024.0;
    fprintf(f, "memory: workspace %lld bytes (%.2f MB) peak; %d intermediate tensors sum to %.2f MB",
            (long long)g->workspace_size, g->workspace_size / mb, n_inter, sum_all / mb);
    if (g->workspace_size > 0) fprintf(f, " (%.1fx the peak)", (double)sum_all / (double)g->workspace_size);
    fprintf(f, "\nmemory: %d in the workspace (%.2f MB); %d views aliased, %d in place, %d concats in place, "
               "%d/%d outputs written in place\n",
            n_ws, sum_ws / mb, views, inplace, concats, outs_direct, g->n_outputs);
}
