/* prune_patterns.c — the combinatorial half of pattern pruning (issue #4, passes/prune.h):
 * pattern candidates, top-n magnitude masks, the frequency-ordered pattern library, and the
 * Euclidean projection onto the constraint set S (one library pattern per kept 3x3 kernel, a
 * fixed number of kernels removed per layer).
 *
 * Why the projection is exact: for a fixed choice of removed kernels, ||V - Z||^2 splits into a
 * sum over kernels, each minimised by its best pattern (largest kept norm); the total equals
 * ||V||^2 minus the kept norms of the kept kernels, so the removed kernels must be those whose
 * best kept norm is smallest. Norms are compared as squared sums accumulated in tap order (bit
 * order of the mask), which makes ties and their resolution exactly reproducible.
 *
 * Everything here is deterministic and single-threaded; no floating-point reduction depends on
 * anything but the input values.
 */
#include "passes/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_CENTRE_BIT 4

/* All 9-bit masks with n bits including the centre, increasing. */
int prune_pattern_candidates(int n, uint16_t *out, int max)
{
    int count = 0;
    if (n < 1 || n > 9) return 0;
    for (int m = 0; m < 512 && count < max; m++) {
        if (!(m & (1 << PRUNE_CENTRE_BIT))) continue;
        if (__builtin_popcount((unsigned)m) != n) continue;
        out[count++] = (uint16_t)m;
    }
    return count;
}

/* Magnitude used for ranking taps: NaN ranks below everything so a corrupt weight is never
 * preferred over a real one (and the result stays deterministic). */
static float prune_tap_magnitude(float v)
{
    return isnan(v) ? -1.0f : fabsf(v);
}

uint16_t prune_topn_mask(const float *k9, int n)
{
    uint16_t mask = 1u << PRUNE_CENTRE_BIT;
    if (n < 1) n = 1;
    if (n > 9) n = 9;
    /* n-1 rounds of "largest not yet taken, lowest index on ties" over the 8 outer taps */
    for (int r = 1; r < n; r++) {
        int best = -1;
        float best_mag = 0.0f;
        for (int t = 0; t < 9; t++) {
            if (mask & (1u << t)) continue;
            float m = prune_tap_magnitude(k9[t]);
            if (best < 0 || m > best_mag) {
                best = t;
                best_mag = m;
            }
        }
        mask |= (uint16_t)(1u << best);
    }
    return mask;
}

void prune_pattern_counts_init(PatternCounts *c, int n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->n_cand = prune_pattern_candidates(n, c->cand, PRUNE_MAX_PATTERNS);
}

/* Index of mask in the sorted candidate list, or -1. */
static int prune_candidate_index(const PatternCounts *c, uint16_t mask)
{
    int lo = 0, hi = c->n_cand - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->cand[mid] == mask) return mid;
        if (c->cand[mid] < mask)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

void prune_pattern_count(PatternCounts *c, const float *w, int64_t n_kernels)
{
    for (int64_t k = 0; k < n_kernels; k++) {
        int idx = prune_candidate_index(c, prune_topn_mask(w + k * 9, c->n));
        if (idx >= 0) c->count[idx]++;
    }
}

/* Order for the library: count descending, then mask ascending (so never-seen candidates come
 * last in numeric order, which is exactly the documented filling rule). */
static int prune_library_before(const PatternCounts *c, int a, int b)
{
    if (c->count[a] != c->count[b]) return c->count[a] > c->count[b];
    return c->cand[a] < c->cand[b];
}

void prune_pattern_library(const PatternCounts *c, int k, PatternLib *lib)
{
    int order[PRUNE_MAX_PATTERNS];
    int nc = c->n_cand;
    memset(lib, 0, sizeof *lib);
    lib->n = c->n;
    for (int i = 0; i < nc; i++) order[i] = i;
    /* insertion sort: at most 70 candidates, and stable by construction */
    for (int i = 1; i < nc; i++) {
        int v = order[i], j = i - 1;
        while (j >= 0 && prune_library_before(c, v, order[j])) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
    if (k > nc) k = nc;
    if (k > PRUNE_MAX_PATTERNS) k = PRUNE_MAX_PATTERNS;
    if (k < 0) k = 0;
    lib->k = k;
    for (int i = 0; i < k; i++) lib->mask[i] = c->cand[order[i]];
}

/* One kernel's candidate for the projection: its best kept squared norm and kernel index. */
typedef struct PruneKernelNorm {
    double norm2;
    int64_t index;
} PruneKernelNorm;

/* The total order of the connectivity step: ascending kept norm, lower kernel index first on
 * ties. Keys are unique (indices are), so "the r smallest" is a well-defined set. */
static int prune_kernel_norm_less(const PruneKernelNorm *a, const PruneKernelNorm *b)
{
    return a->norm2 < b->norm2 || (a->norm2 == b->norm2 && a->index < b->index);
}

static void prune_kernel_norm_swap(PruneKernelNorm *a, PruneKernelNorm *b)
{
    PruneKernelNorm t = *a;
    *a = *b;
    *b = t;
}

/* Rearrange kn[0..count) so that kn[0..r) holds the r smallest keys (in some order): quickselect
 * with a median-of-three pivot, O(count) on average (a full sort of 262144 kernels per ADMM
 * iteration would cost more than everything else in the projection). */
static void prune_select_smallest(PruneKernelNorm *kn, int64_t count, int64_t r)
{
    int64_t lo = 0, hi = count - 1, k = r - 1;
    if (r <= 0 || r >= count) return;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (prune_kernel_norm_less(&kn[mid], &kn[lo])) prune_kernel_norm_swap(&kn[mid], &kn[lo]);
        if (prune_kernel_norm_less(&kn[hi], &kn[lo])) prune_kernel_norm_swap(&kn[hi], &kn[lo]);
        if (prune_kernel_norm_less(&kn[hi], &kn[mid])) prune_kernel_norm_swap(&kn[hi], &kn[mid]);
        PruneKernelNorm pivot = kn[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (prune_kernel_norm_less(&kn[i], &pivot)) i++;
            while (prune_kernel_norm_less(&pivot, &kn[j])) j--;
            if (i <= j) {
                prune_kernel_norm_swap(&kn[i], &kn[j]);
                i++;
                j--;
            }
        }
        /* now kn[lo..j] <= pivot <= kn[i..hi], and kn[j+1..i-1] == pivot */
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
}

/* Tap lists of the library's patterns (the projection's inner loop adds only kept taps). */
typedef struct PruneTaps {
    int count[PRUNE_MAX_PATTERNS];
    int tap[PRUNE_MAX_PATTERNS][9];
} PruneTaps;

static void prune_taps_init(PruneTaps *tp, const PatternLib *lib)
{
    for (int p = 0; p < lib->k; p++) {
        tp->count[p] = 0;
        for (int t = 0; t < 9; t++)
            if (lib->mask[p] & (1u << t)) tp->tap[p][tp->count[p]++] = t;
    }
}

/* Best library pattern of one kernel's 9 values: returns its id, writes its kept squared norm
 * (summed in tap order). Strict '>' keeps the lower id on ties. */
static int prune_kernel_best_pattern(const double *v9, const PatternLib *lib, const PruneTaps *tp, double *norm2)
{
    double sq[9];
    for (int t = 0; t < 9; t++) sq[t] = v9[t] * v9[t];
    int best = 0;
    double best_norm2 = 0.0;
    for (int p = 0; p < lib->k; p++) {
        double s = 0.0;
        for (int i = 0; i < tp->count[p]; i++) s += sq[tp->tap[p][i]];
        if (p == 0 || s > best_norm2) {
            best = p;
            best_norm2 = s;
        }
    }
    *norm2 = best_norm2;
    return best;
}

/* Number of kernels connectivity pruning removes: round(conn * total), clamped to [0, total]. */
static int64_t prune_removed_count(double conn, int64_t total)
{
    if (!(conn > 0.0)) return 0; /* also NaN */
    if (conn >= 1.0) return total;
    int64_t r = (int64_t)llround(conn * (double)total);
    return r < 0 ? 0 : r > total ? total : r;
}

void prune_project(const double *V, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib, double conn,
                   double *Z, int16_t *ids)
{
    int64_t total = oc * ic;
    int64_t removed = prune_removed_count(conn, total);
    PruneKernelNorm *kn = removed > 0 ? xmalloc(sizeof *kn * (size_t)(total > 0 ? total : 1)) : NULL;
    PruneTaps tp;
    IR_ASSERT(lib->k >= 1 && lib->k <= PRUNE_MAX_PATTERNS);
    prune_taps_init(&tp, lib);

    /* 1. best pattern per kernel (reads V only; Z may alias V) */
    for (int64_t o = 0; o < oc; o++)
        for (int64_t c = 0; c < ic; c++) {
            double norm2;
            int64_t k = o * ic + c;
            ids[k] = (int16_t)prune_kernel_best_pattern(V + o * n + c * 9, lib, &tp, &norm2);
            if (kn) {
                kn[k].norm2 = norm2;
                kn[k].index = k;
            }
        }
    /* 2. connectivity: the `removed` weakest kernels go */
    if (kn) {
        prune_select_smallest(kn, total, removed);
        for (int64_t i = 0; i < removed; i++) ids[kn[i].index] = PRUNE_REMOVED;
        free(kn);
    }
    /* 3. write Z: masked kernels, zeroed removed ones, unconstrained columns copied */
    for (int64_t o = 0; o < oc; o++) {
        const double *vr = V + o * n;
        double *zr = Z + o * n;
        for (int64_t c = 0; c < ic; c++) {
            int16_t id = ids[o * ic + c];
            unsigned mask = id == PRUNE_REMOVED ? 0u : lib->mask[id];
            for (int t = 0; t < 9; t++) zr[c * 9 + t] = (mask & (1u << t)) ? vr[c * 9 + t] : 0.0;
        }
        for (int64_t j = ic * 9; j < n; j++) zr[j] = vr[j];
    }
}
