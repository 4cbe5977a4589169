/* pattern_detect.c — pass "pattern-detect": recognise pattern-pruned convolutions from their
 * weights alone, so that a model pruned elsewhere (or by `ppcc --prune --save-pruned` and
 * compiled later) gets the pattern-sparse code path too (docs/codegen.md §7).
 *
 * The prune pass leaves its metadata on every conv it prunes: prune_patterns (the library, ints:
 * kernel masks, bit kh*KW + kw) and prune_ids (i16 [M, C]: pattern index per kernel, -1 =
 * removed). An ONNX file carries only the weights. For a Conv without that metadata (group 1,
 * f32 constant 4-D weights, at most 30 taps per kernel) this pass reads each kernel's mask of
 * non-zero weights and attaches the same metadata when the layer is pattern-sparse:
 *   - N = the largest number of non-zeros in a kernel, 1 <= N < KH*KW and N <= 9;
 *   - the library = the distinct masks with N non-zeros, most frequent first (ties: lower
 *     mask), at most 16 (what the kernel handles, KPAT_KMAX);
 *   - a kernel with fewer than N non-zeros takes the most frequent library mask that contains
 *     its own (a kept weight can be exactly zero); none -> not pattern-sparse;
 *   - an all-zero kernel is removed (-1).
 * Anything else (dense weights, too many distinct masks) is left alone: the conv stays a
 * normal dense conv, and nothing is recorded on it. Detected convs also get the attribute
 * pattern_detected = 1 so dumps show where the metadata came from. Nothing else changes: the
 * weights are untouched, so the pass is numerically the identity; filter-reorder and
 * pattern-group do the rest.
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/kernels/pattern_plan.h"
#include "passes/prune.h"

#define DETECT_MAX_TAPS 30

void pass_pattern_rank(const int64_t *masks, const int64_t *count, int k, int *rank)
{
    for (int p = 0; p < k; p++) {
        int r = 0;
        for (int q = 0; q < k; q++)
            r += count[q] > count[p] || (count[q] == count[p] && (masks[q] < masks[p] || (masks[q] == masks[p] && q < p)));
        rank[p] = r;
    }
}

int pass_pattern_rank_ids(const int64_t *masks, int k, const int16_t *ids, int64_t n, int *rank)
{
    int64_t count[PRUNE_MAX_PATTERNS] = {0};
    if (k > PRUNE_MAX_PATTERNS) k = PRUNE_MAX_PATTERNS;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < k) count[ids[i]]++;
    pass_pattern_rank(masks, count, k, rank);
    int used = 0;
    for (int p = 0; p < k; p++) used += count[p] > 0;
    return used;
}

/* The metadata of conv node i from its weights; 1 if attached, 0 if not pattern-sparse. */
static int detect(Graph *g, int i)
{
    const Node *n = &g->nodes[i];
    if (ir_attr_tensor(n, "prune_ids") || ir_attr_int(n, "group", 1) != 1) return 0;
    if (n->n_in < 2 || n->in[1] < 0 || !pass_value_is_const(g, n->in[1])) return 0;
    const Value *w = &g->values[n->in[1]];
    if (w->dtype != DT_F32 || w->rank != 4 || !w->data) return 0;
    const int64_t M = w->dims[0], C = w->dims[1], kk = w->dims[2] * w->dims[3];
    if (M < 1 || C < 1 || kk < 2 || kk > DETECT_MAX_TAPS) return 0;
    const float *wd = w->data;
    const int64_t nk = M * C;
    int64_t *mask = xmalloc((size_t)nk * sizeof(int64_t));
    int N = 0;
    for (int64_t k = 0; k < nk; k++) {
        int64_t m = 0;
        for (int64_t t = 0; t < kk; t++)
            if (wd[k * kk + t] != 0.0f) m |= (int64_t)1 << t;
        mask[k] = m;
        int pc = __builtin_popcountll((unsigned long long)m);
        if (pc > N) N = pc;
    }
    int ok = N >= 1 && N < kk && N <= KPAT_NTMAX;
    /* the library: distinct N-masks with their counts, most frequent first */
    int64_t lib[KPAT_KMAX], cnt[KPAT_KMAX];
    int K = 0;
    for (int64_t k = 0; ok && k < nk; k++) {
        if (__builtin_popcountll((unsigned long long)mask[k]) != N) continue;
        int p = 0;
        while (p < K && lib[p] != mask[k]) p++;
        if (p == K) {
            if (K == KPAT_KMAX) {
                ok = 0;
                break;
            }
            lib[K] = mask[k], cnt[K++] = 0;
        }
        cnt[p]++;
    }
    if (ok) { /* the canonical order: count desc, mask asc */
        int rank[KPAT_KMAX];
        int64_t sorted[KPAT_KMAX];
        pass_pattern_rank(lib, cnt, K, rank);
        for (int p = 0; p < K; p++) sorted[rank[p]] = lib[p];
        memcpy(lib, sorted, (size_t)K * sizeof lib[0]);
    }
    int16_t *ids = ok ? xmalloc((size_t)nk * sizeof(int16_t)) : NULL;
    for (int64_t k = 0; ok && k < nk; k++) {
        int id = -1;
        if (mask[k]) {
            for (int p = 0; p < K && id < 0; p++)
                if ((mask[k] & ~lib[p]) == 0) id = p;
            if (id < 0) ok = 0;
        }
        if (ok) ids[k] = (int16_t)id;
    }
    if (ok) {
        ir_node_set_ints(g, i, "prune_patterns", lib, K);
        Tensor it;
        memset(&it, 0, sizeof it);
        it.dtype = DT_I16;
        it.rank = 2;
        it.dims[0] = M, it.dims[1] = C;
        it.data = ids;
        ir_node_set_tensor(g, i, "prune_ids", &it);
        ir_node_set_int(g, i, "pattern_detected", 1);
    }
    free(ids);
    free(mask);
    return ok;
}

int pass_pattern_detect(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && g->nodes[i].op == OP_CONV) detect(g, i);
    return 0;
}
