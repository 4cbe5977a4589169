/* test_prune_core.c — unit tests of the numerical core of pattern pruning (passes/prune.h,
 * passes/prune_patterns.c, passes/prune_admm.c): pattern candidates, top-n masks, the library,
 * the projection (against brute force over every pattern choice and removal set), the ADMM
 * W-update and the refit (against dense direct solves written here, independent of LAPACK), the
 * squared error (against an explicit ||W X - Y||^2), determinism, and ADMM beating magnitude
 * projection when input channels have very different scales.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/prune.h"

/* ---------------------------------------------------------------- helpers */

static double rnd_u(unsigned long long *s) /* [0, 1) */
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static double rnd_n(unsigned long long *s) /* standard normal (Box-Muller) */
{
    double u = rnd_u(s), v = rnd_u(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static long binom(int n, int k)
{
    long r = 1;
    for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}

/* Solve A x = b in place (A m x m row-major, destroyed) by Gaussian elimination with partial
 * pivoting; independent of the LAPACK code under test. */
static void dense_solve(double *A, double *b, int m)
{
    for (int k = 0; k < m; k++) {
        int p = k;
        for (int i = k + 1; i < m; i++)
            if (fabs(A[i * m + k]) > fabs(A[p * m + k])) p = i;
        if (p != k) {
            for (int j = 0; j < m; j++) {
                double t = A[k * m + j];
                A[k * m + j] = A[p * m + j];
                A[p * m + j] = t;
            }
            double t = b[k];
            b[k] = b[p];
            b[p] = t;
        }
        for (int i = k + 1; i < m; i++) {
            double f = A[i * m + k] / A[k * m + k];
            for (int j = k; j < m; j++) A[i * m + j] -= f * A[k * m + j];
            b[i] -= f * b[k];
        }
    }
    for (int k = m - 1; k >= 0; k--) {
        double s = b[k];
        for (int j = k + 1; j < m; j++) s -= A[k * m + j] * b[j];
        b[k] = s / A[k * m + k];
    }
}

/* A random layer: X [n x P] (rows scaled per input channel by chscale, bias row of ones when
 * bias), Y = W0 X + noise * N(0,1), and its statistics. relu: X = max(X, 0) (singular-ish G). */
typedef struct Layer {
    int64_t oc, ic, n, P;
    double *X, *Y, *W0, *G, *YXt, yy;
} Layer;

static void layer_make(Layer *L, int64_t oc, int64_t ic, int bias, int64_t P, double noise, int relu, int chscale,
                       unsigned long long seed)
{
    unsigned long long s = seed;
    L->oc = oc, L->ic = ic, L->n = ic * 9 + (bias ? 1 : 0), L->P = P;
    int64_t n = L->n;
    L->X = malloc(sizeof(double) * n * P);
    L->Y = malloc(sizeof(double) * oc * P);
    L->W0 = malloc(sizeof(double) * oc * n);
    L->G = calloc(n * n, sizeof(double));
    L->YXt = calloc(oc * n, sizeof(double));
    for (int64_t c = 0; c < ic; c++) {
        double sc = chscale ? pow(10.0, 2.0 * rnd_u(&s) - 1.0) : 1.0;
        for (int t = 0; t < 9; t++)
            for (int64_t p = 0; p < P; p++) {
                double v = sc * rnd_n(&s);
                L->X[(c * 9 + t) * P + p] = relu && v < 0 ? 0.0 : v;
            }
    }
    if (bias)
        for (int64_t p = 0; p < P; p++) L->X[(n - 1) * P + p] = 1.0;
    for (int64_t i = 0; i < oc * n; i++) L->W0[i] = rnd_n(&s);
    L->yy = 0.0;
    for (int64_t o = 0; o < oc; o++)
        for (int64_t p = 0; p < P; p++) {
            double v = noise * rnd_n(&s);
            for (int64_t j = 0; j < n; j++) v += L->W0[o * n + j] * L->X[j * P + p];
            L->Y[o * P + p] = v;
            L->yy += v * v;
        }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double v = 0.0;
            for (int64_t p = 0; p < P; p++) v += L->X[i * P + p] * L->X[j * P + p];
            L->G[i * n + j] = v;
        }
    for (int64_t o = 0; o < oc; o++)
        for (int64_t j = 0; j < n; j++) {
            double v = 0.0;
            for (int64_t p = 0; p < P; p++) v += L->Y[o * P + p] * L->X[j * P + p];
            L->YXt[o * n + j] = v;
        }
}

static void layer_free(Layer *L)
{
    free(L->X), free(L->Y), free(L->W0), free(L->G), free(L->YXt);
}

/* ||W X - Y||^2 computed explicitly from the samples */
static double explicit_sq_error(const Layer *L, const double *W)
{
    double e = 0.0;
    for (int64_t o = 0; o < L->oc; o++)
        for (int64_t p = 0; p < L->P; p++) {
            double v = -L->Y[o * L->P + p];
            for (int64_t j = 0; j < L->n; j++) v += W[o * L->n + j] * L->X[j * L->P + p];
            e += v * v;
        }
    return e;
}

static double trace_over_n(const double *G, int64_t n)
{
    double t = 0.0;
    for (int64_t i = 0; i < n; i++) t += G[i * n + i];
    return t / (double)n;
}

/* The library {first k candidates of size pn, picked by stride} for small tests. */
static void lib_pick(PatternLib *lib, int pn, int k, int stride)
{
    uint16_t cand[PRUNE_MAX_PATTERNS];
    int nc = prune_pattern_candidates(pn, cand, PRUNE_MAX_PATTERNS);
    memset(lib, 0, sizeof *lib);
    lib->n = pn;
    lib->k = k;
    for (int i = 0; i < k; i++) lib->mask[i] = cand[(i * stride) % nc];
}

/* Reference masked least squares of each filter: (G_SS + eps I) w_S = YXt[o,S] + eps w0_S (the
 * refit's ridge pulls towards its starting weights w0; W0 NULL: towards 0). */
static void direct_refit(const double *G, const double *YXt, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib,
                         const int16_t *ids, double eps, const double *W0, double *W)
{
    int *S = malloc(sizeof(int) * n);
    for (int64_t o = 0; o < oc; o++) {
        int m = 0;
        for (int64_t c = 0; c < ic; c++) {
            int16_t id = ids[o * ic + c];
            if (id == PRUNE_REMOVED) continue;
            for (int t = 0; t < 9; t++)
                if (lib->mask[id] & (1u << t)) S[m++] = (int)(c * 9 + t);
        }
        for (int64_t j = ic * 9; j < n; j++) S[m++] = (int)j;
        double *A = malloc(sizeof(double) * (m * m + 1)), *b = malloc(sizeof(double) * (m + 1));
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) A[i * m + j] = G[S[i] * n + S[j]] + (i == j ? eps : 0.0);
            b[i] = YXt[o * n + S[i]] + (W0 ? eps * W0[o * n + S[i]] : 0.0);
        }
        if (m) dense_solve(A, b, m);
        for (int64_t j = 0; j < n; j++) W[o * n + j] = 0.0;
        for (int i = 0; i < m; i++) W[o * n + S[i]] = b[i];
        free(A), free(b);
    }
    free(S);
}

static void random_ids(int16_t *ids, int64_t count, int k, double p_removed, unsigned long long *s)
{
    for (int64_t i = 0; i < count; i++)
        ids[i] = rnd_u(s) < p_removed ? PRUNE_REMOVED : (int16_t)(rnd_u(s) * k);
}

static double max_abs_diff(const double *a, const double *b, int64_t count)
{
    double m = 0.0;
    for (int64_t i = 0; i < count; i++)
        if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
    return m;
}

static double max_abs(const double *a, int64_t count)
{
    double m = 0.0;
    for (int64_t i = 0; i < count; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

/* ---------------------------------------------------------------- patterns */

START_TEST(test_candidates)
{
    uint16_t out[PRUNE_MAX_PATTERNS];
    for (int n = 1; n <= 9; n++) {
        int c = prune_pattern_candidates(n, out, PRUNE_MAX_PATTERNS);
        ck_assert_int_eq(c, binom(8, n - 1));
        for (int i = 0; i < c; i++) {
            ck_assert(out[i] & (1u << 4));
            ck_assert_int_eq(__builtin_popcount(out[i]), n);
            ck_assert(out[i] < 512);
            if (i) ck_assert(out[i] > out[i - 1]);
        }
    }
    ck_assert_int_eq(prune_pattern_candidates(0, out, PRUNE_MAX_PATTERNS), 0);
    ck_assert_int_eq(prune_pattern_candidates(10, out, PRUNE_MAX_PATTERNS), 0);
    ck_assert_int_eq(prune_pattern_candidates(4, out, 5), 5); /* truncated to max, still the first 5 */
    ck_assert_int_eq(out[0], 0x1 | 0x2 | 0x4 | 0x10);
    ck_assert_int_eq(prune_pattern_candidates(1, out, PRUNE_MAX_PATTERNS), 1);
    ck_assert_int_eq(out[0], 0x10);
    ck_assert_int_eq(prune_pattern_candidates(9, out, PRUNE_MAX_PATTERNS), 1);
    ck_assert_int_eq(out[0], 0x1ff);
}
END_TEST

START_TEST(test_topn_mask)
{
    const float k1[9] = {1, 5, 3, -7, 0.1f, 2, 5, 0, 0};
    /* centre + |-7| (3) + 5 at 1 and 6 (tie: 1 first, then 6) */
    ck_assert_int_eq(prune_topn_mask(k1, 4), (1 << 4) | (1 << 3) | (1 << 1) | (1 << 6));
    ck_assert_int_eq(prune_topn_mask(k1, 3), (1 << 4) | (1 << 3) | (1 << 1));
    ck_assert_int_eq(prune_topn_mask(k1, 1), 1 << 4); /* the centre even though it is small */
    ck_assert_int_eq(prune_topn_mask(k1, 9), 0x1ff);
    const float k2[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}; /* all ties: lowest indices */
    ck_assert_int_eq(prune_topn_mask(k2, 4), (1 << 4) | 1 | 2 | 4);
    ck_assert_int_eq(prune_topn_mask(k2, 6), (1 << 4) | 1 | 2 | 4 | 8 | 32);
    const float k3[9] = {-2, 2, 0, 0, 9, 0, 0, 0, 2}; /* |-2| ties 2: lower indices 0, 1, then 8 */
    ck_assert_int_eq(prune_topn_mask(k3, 3), (1 << 4) | 1 | 2);
    ck_assert_int_eq(prune_topn_mask(k3, 4), (1 << 4) | 1 | 2 | (1 << 8));
    const float k4[9] = {NAN, 0, 0, 0, 0, 0, 0, 0, 3}; /* NaN ranks below 0 */
    ck_assert_int_eq(prune_topn_mask(k4, 3), (1 << 4) | (1 << 8) | 2);
}
END_TEST

/* A kernel whose top-n mask (n = 4) is exactly `mask`. */
static void kernel_for_mask(float *k9, uint16_t mask)
{
    for (int t = 0; t < 9; t++) k9[t] = (mask & (1u << t)) ? 2.0f + t : 0.5f - 0.01f * t;
}

START_TEST(test_library)
{
    uint16_t cand[PRUNE_MAX_PATTERNS];
    int nc = prune_pattern_candidates(4, cand, PRUNE_MAX_PATTERNS);
    ck_assert_int_eq(nc, 56);
    /* frequencies: cand[10] x5, cand[3] x3, cand[20] x3, cand[7] x1 */
    int which[12] = {10, 10, 3, 20, 10, 7, 20, 3, 10, 3, 20, 10};
    float w[12 * 9];
    for (int i = 0; i < 12; i++) kernel_for_mask(w + i * 9, cand[which[i]]);
    for (int i = 0; i < 12; i++) ck_assert_int_eq(prune_topn_mask(w + i * 9, 4), cand[which[i]]);
    PatternCounts pc;
    prune_pattern_counts_init(&pc, 4);
    ck_assert_int_eq(pc.n_cand, 56);
    prune_pattern_count(&pc, w, 5);
    prune_pattern_count(&pc, w + 5 * 9, 7); /* counts accumulate over calls */
    ck_assert_int_eq(pc.count[10], 5);
    ck_assert_int_eq(pc.count[3], 3);
    ck_assert_int_eq(pc.count[20], 3);
    ck_assert_int_eq(pc.count[7], 1);
    PatternLib lib;
    prune_pattern_library(&pc, 8, &lib);
    ck_assert_int_eq(lib.k, 8);
    ck_assert_int_eq(lib.n, 4);
    ck_assert_int_eq(lib.mask[0], cand[10]);
    ck_assert_int_eq(lib.mask[1], cand[3]); /* tie 3 vs 3: lower mask value first */
    ck_assert_int_eq(lib.mask[2], cand[20]);
    ck_assert_int_eq(lib.mask[3], cand[7]);
    /* filled with unused candidates in numeric order */
    ck_assert_int_eq(lib.mask[4], cand[0]);
    ck_assert_int_eq(lib.mask[5], cand[1]);
    ck_assert_int_eq(lib.mask[6], cand[2]);
    ck_assert_int_eq(lib.mask[7], cand[4]);
    prune_pattern_library(&pc, 2, &lib);
    ck_assert_int_eq(lib.k, 2);
    ck_assert_int_eq(lib.mask[1], cand[3]);
    prune_pattern_library(&pc, 100, &lib); /* clamped to the candidate count */
    ck_assert_int_eq(lib.k, 56);
    for (int i = 0; i < 56; i++)
        for (int j = 0; j < i; j++) ck_assert(lib.mask[i] != lib.mask[j]);
}
END_TEST

/* ---------------------------------------------------------------- projection */

/* Brute force: every pattern assignment (K^kernels) x every removal set of size R. Returns the
 * minimum ||V - Z||^2 and the argmin (first found in enumeration order). */
static double brute_project(const double *V, int oc, int ic, int n, const PatternLib *lib, int R, double *Zbest,
                            int16_t *idsbest)
{
    int nk = oc * ic;
    long n_assign = 1;
    for (int i = 0; i < nk; i++) n_assign *= lib->k;
    double best = INFINITY;
    double *Z = malloc(sizeof(double) * oc * n);
    int16_t ids[64];
    for (long a = 0; a < n_assign; a++)
        for (long rm = 0; rm < (1L << nk); rm++) {
            if (__builtin_popcountl((unsigned long)rm) != R) continue;
            long code = a;
            for (int k = 0; k < nk; k++) {
                ids[k] = (rm >> k) & 1 ? PRUNE_REMOVED : (int16_t)(code % lib->k);
                code /= lib->k;
            }
            double dist = 0.0;
            for (int o = 0; o < oc; o++) {
                for (int c = 0; c < ic; c++) {
                    int16_t id = ids[o * ic + c];
                    for (int t = 0; t < 9; t++) {
                        int j = o * n + c * 9 + t;
                        Z[j] = id != PRUNE_REMOVED && (lib->mask[id] & (1u << t)) ? V[j] : 0.0;
                        dist += (V[j] - Z[j]) * (V[j] - Z[j]);
                    }
                }
                for (int j = ic * 9; j < n; j++) Z[o * n + j] = V[o * n + j];
            }
            if (dist < best) {
                best = dist;
                memcpy(Zbest, Z, sizeof(double) * oc * n);
                memcpy(idsbest, ids, sizeof(int16_t) * nk);
            }
        }
    free(Z);
    return best;
}

START_TEST(test_project_bruteforce)
{
    unsigned long long s = 0x1234567ull;
    const int oc = 2, ic = 3;
    for (int bias = 0; bias <= 1; bias++)
        for (int pn = 2; pn <= 5; pn += 3)
            for (int ci = 0; ci < 4; ci++) {
                static const double conns[4] = {0.0, 0.34, 0.5, 1.0}; /* R = 0, 2, 3, 6 */
                int n = ic * 9 + bias;
                PatternLib lib;
                lib_pick(&lib, pn, 3, 7);
                for (int trial = 0; trial < 3; trial++) {
                    double V[2 * 28], Z[2 * 28], Zb[2 * 28], Va[2 * 28];
                    int16_t ids[6], idsb[6];
                    for (int i = 0; i < oc * n; i++) V[i] = rnd_n(&s);
                    int R = (int)llround(conns[ci] * oc * ic);
                    double best = brute_project(V, oc, ic, n, &lib, R, Zb, idsb);
                    prune_project(V, oc, ic, n, &lib, conns[ci], Z, ids);
                    double dist = 0.0;
                    for (int i = 0; i < oc * n; i++) dist += (V[i] - Z[i]) * (V[i] - Z[i]);
                    ck_assert_double_eq_tol(dist, best, 1e-12);
                    ck_assert_mem_eq(ids, idsb, sizeof ids); /* random data: the argmin is unique */
                    ck_assert_mem_eq(Z, Zb, sizeof(double) * oc * n);
                    int removed = 0;
                    for (int k = 0; k < 6; k++) removed += ids[k] == PRUNE_REMOVED;
                    ck_assert_int_eq(removed, R);
                    memcpy(Va, V, sizeof(double) * oc * n); /* Z may alias V */
                    prune_project(Va, oc, ic, n, &lib, conns[ci], Va, ids);
                    ck_assert_mem_eq(Va, Z, sizeof(double) * oc * n);
                }
            }
}
END_TEST

START_TEST(test_project_ties)
{
    PatternLib lib = {0};
    lib.n = 2, lib.k = 3;
    lib.mask[0] = 0x10 | 0x01; /* centre + tap 0 */
    lib.mask[1] = 0x10 | 0x02; /* centre + tap 1 */
    lib.mask[2] = 0x10 | 0x04; /* centre + tap 2 */
    /* kernel 0: taps 1 and 2 tie (id 1 wins over 2); kernel 1: taps 0,1,2 tie (id 0) */
    double V[4 * 9] = {0};
    V[0 * 9 + 1] = 3, V[0 * 9 + 2] = -3, V[0 * 9 + 4] = 1;
    V[1 * 9 + 0] = 2, V[1 * 9 + 1] = 2, V[1 * 9 + 2] = 2, V[1 * 9 + 4] = 1;
    /* kernels 2 and 3: identical kept norms; one removal must take kernel 2 (lower index) */
    V[2 * 9 + 0] = 1, V[2 * 9 + 4] = 0.5;
    V[3 * 9 + 2] = -1, V[3 * 9 + 4] = 0.5;
    double Z[36];
    int16_t ids[4];
    prune_project(V, 1, 4, 36, &lib, 0.25, Z, ids); /* OC=1, IC=4: R = 1 */
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(ids[1], 0);
    ck_assert_int_eq(ids[2], PRUNE_REMOVED);
    ck_assert_int_eq(ids[3], 2);
    for (int t = 0; t < 9; t++) ck_assert(Z[2 * 9 + t] == 0.0);
    ck_assert(Z[0 * 9 + 1] == 3 && Z[0 * 9 + 2] == 0 && Z[0 * 9 + 4] == 1);
    ck_assert(Z[3 * 9 + 2] == -1 && Z[3 * 9 + 4] == 0.5);
    /* connectivity 0.5 of 4 kernels: the two weakest (kernels 2 and 3 at 1.25 each) */
    prune_project(V, 1, 4, 36, &lib, 0.5, Z, ids);
    ck_assert_int_eq(ids[2], PRUNE_REMOVED);
    ck_assert_int_eq(ids[3], PRUNE_REMOVED);
    ck_assert_int_eq(ids[0], 1);
    /* all-zero kernels: pattern 0, and the lowest indices removed first */
    double V0[3 * 9 + 1] = {0};
    V0[27] = 4.0; /* unconstrained column copied */
    double Z0[28];
    int16_t ids0[3];
    prune_project(V0, 1, 3, 28, &lib, 0.34, Z0, ids0); /* R = round(1.02) = 1 */
    ck_assert_int_eq(ids0[0], PRUNE_REMOVED);
    ck_assert_int_eq(ids0[1], 0);
    ck_assert_int_eq(ids0[2], 0);
    ck_assert(Z0[27] == 4.0);
}
END_TEST

typedef struct RefKernel {
    double norm2;
    int index;
} RefKernel;

static int ref_kernel_cmp(const void *pa, const void *pb)
{
    const RefKernel *a = pa, *b = pb;
    if (a->norm2 != b->norm2) return a->norm2 < b->norm2 ? -1 : 1;
    return a->index - b->index;
}

/* Larger layers with heavily tied norms (values from {0, +-1, +-2}): the selection of removed
 * kernels against a full sort by (kept norm, index). */
START_TEST(test_project_connectivity_large)
{
    unsigned long long s = 4711;
    PatternLib lib;
    lib_pick(&lib, 4, 8, 7);
    for (int trial = 0; trial < 12; trial++) {
        int oc = 5 + trial, ic = 3 + 2 * trial, n = ic * 9 + 1, nk = oc * ic;
        double conn = (trial % 6) / 5.0 * 0.9 + 0.05;
        double *V = malloc(sizeof(double) * oc * n), *Z = malloc(sizeof(double) * oc * n);
        int16_t *ids = malloc(sizeof(int16_t) * nk);
        RefKernel *ref = malloc(sizeof(RefKernel) * nk);
        for (int i = 0; i < oc * n; i++) V[i] = (double)((int)(rnd_u(&s) * 5) - 2) * (trial & 1 ? 1.0 : 0.5);
        prune_project(V, oc, ic, n, &lib, conn, Z, ids);
        for (int k = 0; k < nk; k++) {
            const double *v = V + (k / ic) * n + (k % ic) * 9;
            double best = -1.0;
            int bid = 0;
            for (int p = 0; p < lib.k; p++) {
                double sum = 0.0;
                for (int t = 0; t < 9; t++)
                    if (lib.mask[p] & (1u << t)) sum += v[t] * v[t];
                if (sum > best) best = sum, bid = p;
            }
            ref[k].norm2 = best;
            ref[k].index = k;
            ck_assert(ids[k] == PRUNE_REMOVED || ids[k] == bid);
        }
        qsort(ref, nk, sizeof *ref, ref_kernel_cmp);
        int R = (int)llround(conn * nk);
        for (int i = 0; i < nk; i++) ck_assert_int_eq(ids[ref[i].index] == PRUNE_REMOVED, i < R);
        free(V), free(Z), free(ids), free(ref);
    }
}
END_TEST

/* ---------------------------------------------------------------- ADMM W-update */

START_TEST(test_w_update_direct)
{
    Layer L;
    layer_make(&L, 5, 2, 1, 40, 0.3, 1, 1, 77);
    int64_t oc = L.oc, n = L.n;
    unsigned long long s = 99;
    double *ZmU = malloc(sizeof(double) * oc * n), *W = malloc(sizeof(double) * oc * n);
    double *Wd = malloc(sizeof(double) * oc * n), *A = malloc(sizeof(double) * n * n);
    for (int64_t i = 0; i < oc * n; i++) ZmU[i] = rnd_n(&s);
    double rho = 0.7 * trace_over_n(L.G, n);
    Diag d = {{0}};
    ck_assert_int_eq(prune_admm_w_update(L.G, L.YXt, ZmU, rho, oc, n, W, &d), 0);
    /* direct: (G + rho I) w_o^T = (YXt + rho ZmU)_o^T  (G symmetric) */
    for (int64_t o = 0; o < oc; o++) {
        for (int64_t i = 0; i < n * n; i++) A[i] = L.G[i];
        for (int64_t i = 0; i < n; i++) A[i * n + i] += rho;
        for (int64_t j = 0; j < n; j++) Wd[o * n + j] = L.YXt[o * n + j] + rho * ZmU[o * n + j];
        dense_solve(A, Wd + o * n, (int)n);
    }
    ck_assert_double_le(max_abs_diff(W, Wd, oc * n), 1e-9 * max_abs(Wd, oc * n));

    /* One ADMM iteration of the layer solver (W = Z = W0, U = 0) hard-prunes Proj of that solve. */
    PatternLib lib;
    lib_pick(&lib, 4, 4, 5);
    AdmmOptions opt = {.iters = 1, .rho = 0.7, .rho_growth = 1.0, .precision = 1}; /* double throughout */
    double *Wl = malloc(sizeof(double) * oc * n), *Zd = malloc(sizeof(double) * oc * n);
    int16_t ids[10], idsd[10];
    AdmmStats st;
    for (int64_t i = 0; i < oc * n; i++) ZmU[i] = L.W0[i];
    ck_assert_int_eq(prune_admm_w_update(L.G, L.YXt, ZmU, rho, oc, n, Wd, &d), 0);
    prune_project(Wd, oc, L.ic, n, &lib, 0.3, Zd, idsd);
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, oc, L.ic, n, &lib, 0.3, &opt, 0, Wl, ids, &st, &d), 0);
    ck_assert_int_eq(st.iters_run, 1);
    ck_assert_int_eq(st.factorizations, 1);
    ck_assert_mem_eq(ids, idsd, sizeof ids);
    ck_assert_double_le(max_abs_diff(Wl, Zd, oc * n), 1e-12 * max_abs(Zd, oc * n));
    opt.precision = 0; /* automatic: float32 W-update, error bounded by ~5e-4 relative */
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, oc, L.ic, n, &lib, 0.3, &opt, 0, Wl, ids, &st, &d), 0);
    ck_assert_mem_eq(ids, idsd, sizeof ids);
    ck_assert_double_le(max_abs_diff(Wl, Zd, oc * n), 1e-4 * max_abs(Zd, oc * n));
    ck_assert_double_gt(max_abs_diff(Wl, Zd, oc * n), 0.0); /* it really ran in float32 */

    /* G + rho I not positive definite: an error, not a crash */
    for (int64_t i = 0; i < n * n; i++) A[i] = -L.G[i];
    ck_assert_int_eq(prune_admm_w_update(A, L.YXt, ZmU, rho, oc, n, W, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "positive definite"));
    free(ZmU), free(W), free(Wd), free(A), free(Wl), free(Zd);
    layer_free(&L);
}
END_TEST

/* ---------------------------------------------------------------- refit */

START_TEST(test_refit_direct)
{
    for (int trial = 0; trial < 6; trial++) {
        Layer L;
        int relu = trial & 1, bias = trial != 2;
        layer_make(&L, 6, 4, bias, trial == 4 ? 20 : 120, 0.5, relu, trial >= 3, 1000 + trial);
        int64_t oc = L.oc, ic = L.ic, n = L.n;
        unsigned long long s = 31 + trial;
        PatternLib lib;
        lib_pick(&lib, trial == 5 ? 6 : 4, 5, 3);
        int16_t ids[24];
        random_ids(ids, oc * ic, lib.k, trial == 0 ? 0.0 : 0.4, &s);
        if (trial == 1) /* a filter with nothing but its bias column left */
            for (int64_t c = 0; c < ic; c++) ids[c] = PRUNE_REMOVED;
        double eps = 1e-8 * trace_over_n(L.G, n);
        double *Wd = malloc(sizeof(double) * oc * n), *W = malloc(sizeof(double) * oc * n);
        double *W1 = malloc(sizeof(double) * oc * n);
        direct_refit(L.G, L.YXt, oc, ic, n, &lib, ids, eps, NULL, Wd);
        double e_direct = explicit_sq_error(&L, Wd);
        Diag d = {{0}};
        for (int method = 1; method <= 2; method++) { /* CG (double products), direct */
            for (int64_t i = 0; i < oc * n; i++) W[i] = rnd_n(&s); /* a poor warm start, off-support junk */
            direct_refit(L.G, L.YXt, oc, ic, n, &lib, ids, eps, W, W1); /* the same ridge centre */
            RefitOptions ro = {.tol = 1e-13, .max_iters = 1000, .method = method, .precision = 1};
            RefitStats rs;
            ck_assert_int_eq(prune_refit_ex(L.G, L.YXt, oc, ic, n, &lib, ids, &ro, W, &rs, &d), 0);
            double e = explicit_sq_error(&L, W);
            if (method == 2) ck_assert_int_eq(rs.cg_filters, 0);
            if (method == 1) ck_assert_int_ge(rs.cg_filters, oc - 1); /* all but the empty filter */
            if (trial != 4) { /* well-posed: the solutions themselves agree */
                ck_assert_int_eq(rs.unconverged, 0);
                ck_assert_double_le(max_abs_diff(W, W1, oc * n), 1e-7 * max_abs(W1, oc * n));
            } else if (method == 2) { /* singular G_SS: direct still matches its reference */
                ck_assert_double_le(max_abs_diff(W, W1, oc * n), 1e-6 * max_abs(W1, oc * n));
            }
            /* always: the same error (also with P = 20 < n, singular G) */
            ck_assert_double_le(fabs(e - e_direct), 1e-7 * L.yy);
            for (int64_t o = 0; o < oc; o++) /* off-support weights are zero */
                for (int64_t c = 0; c < ic; c++)
                    for (int t = 0; t < 9; t++) {
                        int16_t id = ids[o * ic + c];
                        if (id == PRUNE_REMOVED || !(lib.mask[id] & (1u << t)))
                            ck_assert(W[o * n + c * 9 + t] == 0.0);
                    }
            /* the objective bookkeeping matches the explicit errors */
            ck_assert_double_le(fabs(rs.obj_after + L.yy - e), 1e-8 * L.yy);
        }
        /* CG with float32 products (the automatic precision for large layers) from a near start */
        for (int64_t i = 0; i < oc * n; i++) W[i] = Wd[i] * (1.0 + 0.05 * rnd_n(&s));
        RefitOptions rf = {.tol = 1e-6, .max_iters = 200, .method = 1, .precision = 0};
        ck_assert_int_eq(prune_refit_ex(L.G, L.YXt, oc, ic, n, &lib, ids, &rf, W, NULL, &d), 0);
        ck_assert_double_le(explicit_sq_error(&L, W) - e_direct, 1e-6 * L.yy);
        /* default options (the ones the layer solver uses) */
        for (int64_t i = 0; i < oc * n; i++) W[i] = Wd[i] * (1.0 + 0.01 * rnd_n(&s));
        ck_assert_int_eq(prune_refit(L.G, L.YXt, oc, ic, n, &lib, ids, W, &d), 0);
        ck_assert_double_le(explicit_sq_error(&L, W) - e_direct, 1e-6 * L.yy);
        free(Wd), free(W), free(W1);
        layer_free(&L);
    }
}
END_TEST

/* Where the data say nothing (a dead input channel: its rows and columns of G are 0), the refit
 * keeps the incoming weights instead of zeroing them; elsewhere it still solves the problem. */
START_TEST(test_refit_ridge_centre)
{
    Layer L;
    layer_make(&L, 4, 3, 1, 200, 0.2, 1, 0, 77);
    int64_t oc = L.oc, ic = L.ic, n = L.n;
    for (int64_t j = 0; j < n; j++) /* channel 1 dead */
        for (int t = 9; t < 18; t++) L.G[j * n + t] = L.G[t * n + j] = 0.0;
    for (int64_t o = 0; o < oc; o++)
        for (int t = 9; t < 18; t++) L.YXt[o * n + t] = 0.0;
    PatternLib lib;
    lib_pick(&lib, 4, 4, 3);
    int16_t ids[12] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
    for (int method = 1; method <= 2; method++) {
        double *W = malloc(sizeof(double) * oc * n), *Wstart = malloc(sizeof(double) * oc * n);
        double *Wd = malloc(sizeof(double) * oc * n);
        memcpy(W, L.W0, sizeof(double) * oc * n);
        memcpy(Wstart, L.W0, sizeof(double) * oc * n);
        RefitOptions ro = {.tol = 1e-12, .max_iters = 500, .method = method, .precision = 1};
        Diag d = {{0}};
        ck_assert_int_eq(prune_refit_ex(L.G, L.YXt, oc, ic, n, &lib, ids, &ro, W, NULL, &d), 0);
        for (int64_t o = 0; o < oc; o++)
            for (int t = 0; t < 9; t++)
                if (lib.mask[ids[o * ic + 1]] & (1u << t))
                    ck_assert_double_eq_tol(W[o * n + 9 + t], Wstart[o * n + 9 + t], 1e-9);
        direct_refit(L.G, L.YXt, oc, ic, n, &lib, ids, 1e-8 * trace_over_n(L.G, n), Wstart, Wd);
        ck_assert_double_le(max_abs_diff(W, Wd, oc * n), 1e-7 * max_abs(Wd, oc * n));
        free(W), free(Wstart), free(Wd);
    }
    /* no data at all: the weights stay (masked) */
    memset(L.G, 0, sizeof(double) * n * n);
    memset(L.YXt, 0, sizeof(double) * oc * n);
    double *W = malloc(sizeof(double) * oc * n);
    memcpy(W, L.W0, sizeof(double) * oc * n);
    Diag d = {{0}};
    ck_assert_int_eq(prune_refit(L.G, L.YXt, oc, ic, n, &lib, ids, W, &d), 0);
    for (int64_t o = 0; o < oc; o++)
        for (int64_t c = 0; c < ic; c++)
            for (int t = 0; t < 9; t++) {
                double want = (lib.mask[ids[o * ic + c]] & (1u << t)) ? L.W0[o * n + c * 9 + t] : 0.0;
                ck_assert_double_eq_tol(W[o * n + c * 9 + t], want, 1e-12);
            }
    free(W);
    layer_free(&L);
}
END_TEST

START_TEST(test_refit_bad_input)
{
    Layer L;
    layer_make(&L, 2, 2, 1, 30, 0.1, 0, 0, 5);
    PatternLib lib;
    lib_pick(&lib, 4, 3, 1);
    int16_t ids[4] = {0, 1, 3, PRUNE_REMOVED}; /* id 3 is outside the library */
    double W[2 * 19] = {0};
    Diag d = {{0}};
    ck_assert_int_eq(prune_refit(L.G, L.YXt, 2, 2, 19, &lib, ids, W, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "pattern id"));
    ids[2] = 2;
    ck_assert_int_eq(prune_refit(L.G, L.YXt, 2, 3, 19, &lib, ids, W, &d), -1); /* 27 > 19 columns */
    ck_assert_int_eq(prune_refit(L.G, L.YXt, 2, 2, 19, &lib, ids, W, &d), 0);
    layer_free(&L);
}
END_TEST

/* ---------------------------------------------------------------- error */

START_TEST(test_sq_error_explicit)
{
    for (int trial = 0; trial < 3; trial++) {
        Layer L;
        layer_make(&L, 7, 3, trial != 1, 50, 1.0, trial == 2, trial == 2, 300 + trial);
        unsigned long long s = 17 + trial;
        double *W = malloc(sizeof(double) * L.oc * L.n);
        for (int64_t i = 0; i < L.oc * L.n; i++) W[i] = rnd_n(&s);
        double e = prune_sq_error(L.G, L.YXt, L.yy, W, L.oc, L.n);
        double x = explicit_sq_error(&L, W);
        ck_assert_double_le(fabs(e - x), 1e-10 * (x + L.yy));
        /* W0 itself: the error is the noise only, computed as a small difference */
        e = prune_sq_error(L.G, L.YXt, L.yy, L.W0, L.oc, L.n);
        x = explicit_sq_error(&L, L.W0);
        ck_assert_double_le(fabs(e - x), 1e-10 * L.yy);
        ck_assert_double_ge(e, 0.0);
        free(W);
        layer_free(&L);
    }
    /* exact fit: rounding cannot make it negative */
    Layer L;
    layer_make(&L, 3, 2, 1, 40, 0.0, 0, 0, 8);
    ck_assert_double_ge(prune_sq_error(L.G, L.YXt, L.yy, L.W0, L.oc, L.n), 0.0);
    ck_assert_double_le(prune_sq_error(L.G, L.YXt, L.yy, L.W0, L.oc, L.n), 1e-10 * L.yy);
    layer_free(&L);
}
END_TEST

/* ---------------------------------------------------------------- layer solver */

START_TEST(test_admm_deterministic)
{
    Layer L;
    layer_make(&L, 16, 8, 1, 400, 0.5, 1, 1, 4242);
    int64_t oc = L.oc, ic = L.ic, n = L.n;
    PatternLib lib;
    lib_pick(&lib, 4, 8, 7);
    AdmmOptions opt = {.iters = 30, .rho = 1.0, .rho_growth = 1.3, .rho_every = 5, .tol = 1e-3};
    double *W1 = malloc(sizeof(double) * oc * n), *W2 = malloc(sizeof(double) * oc * n);
    int16_t ids1[128], ids2[128];
    AdmmStats s1, s2;
    Diag d = {{0}};
    /* second run on separately allocated copies of the inputs */
    double *G2 = malloc(sizeof(double) * n * n), *Y2 = malloc(sizeof(double) * oc * n);
    double *W02 = malloc(sizeof(double) * oc * n);
    memcpy(G2, L.G, sizeof(double) * n * n);
    memcpy(Y2, L.YXt, sizeof(double) * oc * n);
    memcpy(W02, L.W0, sizeof(double) * oc * n);
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, oc, ic, n, &lib, 0.5, &opt, 1, W1, ids1, &s1, &d), 0);
    ck_assert_int_eq(prune_admm_layer(G2, Y2, L.yy, W02, oc, ic, n, &lib, 0.5, &opt, 1, W2, ids2, &s2, &d), 0);
    ck_assert_mem_eq(W1, W2, sizeof(double) * oc * n);
    ck_assert_mem_eq(ids1, ids2, sizeof ids1);
    ck_assert_int_eq(s1.iters_run, s2.iters_run);
    ck_assert(s1.err_refit == s2.err_refit && s1.primal_residual == s2.primal_residual);
    /* the statistics agree with explicit errors; the refit does not make things worse */
    ck_assert_double_le(fabs(s1.err_refit - sqrt(explicit_sq_error(&L, W1) / L.yy)), 1e-7);
    ck_assert_double_le(fabs(s1.err_dense - sqrt(explicit_sq_error(&L, L.W0) / L.yy)), 1e-7);
    ck_assert_double_le(s1.err_refit, s1.err_projected + 1e-12);
    ck_assert_int_ge(s1.iters_run, 1);
    ck_assert_int_le(s1.iters_run, 30);
    int removed = 0;
    for (int k = 0; k < 128; k++) removed += ids1[k] == PRUNE_REMOVED;
    ck_assert_int_eq(removed, 64);
    /* without refit: the hard-pruned weights, whose error is the refit run's err_projected */
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, oc, ic, n, &lib, 0.5, &opt, 0, W2, ids2, &s2, &d), 0);
    ck_assert_mem_eq(ids1, ids2, sizeof ids1);
    ck_assert(s2.err_refit == s2.err_projected);
    ck_assert_int_eq(s2.refit_iters, 0);
    ck_assert_double_le(fabs(s2.err_projected - sqrt(explicit_sq_error(&L, W2) / L.yy)), 1e-7);
    ck_assert_double_le(fabs(s1.err_projected - s2.err_projected), 1e-7);
    ck_assert_double_le(s1.err_refit, s2.err_projected);
    free(W1), free(W2), free(G2), free(Y2), free(W02);
    layer_free(&L);
}
END_TEST

/* Input channels with scales spread over two decades: magnitude picks taps by |w| alone, ADMM by
 * their effect on the output. Same constraint set, refit applied to both. */
START_TEST(test_admm_beats_magnitude)
{
    for (int trial = 0; trial < 4; trial++) {
        Layer L;
        layer_make(&L, 12, 6, 1, 300, 0.2, trial & 1, 1, 900 + trial);
        int64_t oc = L.oc, ic = L.ic, n = L.n;
        PatternLib lib;
        lib_pick(&lib, 4, 8, 5);
        double conn = trial < 2 ? 0.5 : 0.72;
        AdmmOptions admm = {.iters = 40, .rho = 1.0, .rho_growth = 1.3, .rho_every = 5, .tol = 1e-4};
        AdmmOptions mag = {.iters = 0, .rho = 1.0, .rho_growth = 1.3, .rho_every = 5, .tol = 1e-4};
        double *Wa = malloc(sizeof(double) * oc * n), *Wm = malloc(sizeof(double) * oc * n);
        double *Zm = malloc(sizeof(double) * oc * n);
        int16_t ida[72], idm[72], idz[72];
        AdmmStats sa, sm;
        Diag d = {{0}};
        const double *G = L.G, *YXt = L.YXt, *W0 = L.W0;
        ck_assert_int_eq(prune_admm_layer(G, YXt, L.yy, W0, oc, ic, n, &lib, conn, &admm, 1, Wa, ida, &sa, &d), 0);
        ck_assert_int_eq(prune_admm_layer(G, YXt, L.yy, W0, oc, ic, n, &lib, conn, &mag, 1, Wm, idm, &sm, &d), 0);
        /* iters 0 is exactly the magnitude projection */
        prune_project(L.W0, oc, ic, n, &lib, conn, Zm, idz);
        ck_assert_mem_eq(idm, idz, sizeof idm);
        ck_assert_int_eq(sm.iters_run, 0);
        ck_assert_int_eq(sm.factorizations, 0);
        double ea = explicit_sq_error(&L, Wa), em = explicit_sq_error(&L, Wm);
        ck_assert_double_le(ea, 0.9 * em);
        ck_assert_double_le(fabs(sa.err_refit - sqrt(ea / L.yy)), 1e-7);
        ck_assert_double_le(fabs(sm.err_refit - sqrt(em / L.yy)), 1e-7);
        ck_assert(memcmp(ida, idm, sizeof ida) != 0); /* the supports differ */
        free(Wa), free(Wm), free(Zm);
        layer_free(&L);
    }
}
END_TEST

START_TEST(test_admm_bad_input)
{
    Layer L;
    layer_make(&L, 2, 2, 1, 30, 0.1, 0, 0, 6);
    PatternLib lib;
    lib_pick(&lib, 4, 3, 1);
    AdmmOptions opt = {.iters = 5, .rho = 1.0, .rho_growth = 1.3, .rho_every = 5, .tol = 1e-3};
    double W[2 * 19];
    int16_t ids[4];
    Diag d = {{0}};
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, 2, 2, 19, &lib, 1.5, &opt, 1, W, ids, NULL, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "connectivity"));
    opt.rho = 0.0;
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, 2, 2, 19, &lib, 0.5, &opt, 1, W, ids, NULL, &d), -1);
    opt.rho = 1.0;
    double g3 = L.G[3];
    L.G[3] = NAN;
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, 2, 2, 19, &lib, 0.5, &opt, 1, W, ids, NULL, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "NaN"));
    L.G[3] = g3;
    for (int64_t i = 0; i < 19; i++) L.G[i * 19 + i] = -1.0 - L.G[i * 19 + i] * 10; /* not PSD */
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, 2, 2, 19, &lib, 0.5, &opt, 1, W, ids, NULL, &d), -1);
    ck_assert_ptr_nonnull(strstr(d.msg, "positive definite"));
    lib.k = 0;
    ck_assert_int_eq(prune_admm_layer(L.G, L.YXt, L.yy, L.W0, 2, 2, 19, &lib, 0.5, &opt, 1, W, ids, NULL, &d), -1);
    layer_free(&L);
}
END_TEST

TEST_SUITE(prune_core)
{
    Suite *s = suite_create("prune_core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_candidates);
    tcase_add_test(tc, test_topn_mask);
    tcase_add_test(tc, test_library);
    tcase_add_test(tc, test_project_bruteforce);
    tcase_add_test(tc, test_project_ties);
    tcase_add_test(tc, test_project_connectivity_large);
    tcase_add_test(tc, test_w_update_direct);
    tcase_add_test(tc, test_refit_direct);
    tcase_add_test(tc, test_refit_ridge_centre);
    tcase_add_test(tc, test_refit_bad_input);
    tcase_add_test(tc, test_sq_error_explicit);
    tcase_add_test(tc, test_admm_deterministic);
    tcase_add_test(tc, test_admm_beats_magnitude);
    tcase_add_test(tc, test_admm_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
