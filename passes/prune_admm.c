/* prune_admm.c — the numerical half of pattern pruning (issue #4, passes/prune.h): layer-wise
 * ADMM on the data statistics G = X X^T and YXt = Y X^T, the masked least-squares refit of the
 * surviving weights, and the reconstruction error ||W X - Y||^2.
 *
 * ADMM (scaled form) for  min ||W X - Y||^2  s.t.  W in S:
 *     W <- (YXt + rho (Z - U)) (G + rho I)^-1      Cholesky of G + rho I (LAPACK potrf), one
 *                                                 solve for all OC right-hand sides (potrs);
 *                                                 refactorised only when rho changes
 *     Z <- Proj_S(W + U)                          prune_project (prune_patterns.c)
 *     U <- U + W - Z
 * rho = opt->rho * trace(G)/n, multiplied by opt->rho_growth every opt->rho_every iterations; U
 * is divided by the same factor (it is the dual scaled by 1/rho). Stop after opt->iters, or when
 * ||W - Z|| / ||W|| < opt->tol and the pattern ids did not change in the last 2 iterations.
 * Then W <- Z (hard prune) and optionally the refit.
 *
 * Precision: the factorisation and the W-updates run in float32 (spotrf/spotrs, twice the speed)
 * when cond(G + rho I) <= (trace(G) + rho)/rho is at most 8192, which bounds their relative error
 * by about 5e-4: the W-update only steers which pattern each kernel gets, and the refit recomputes
 * the surviving weights. Everything that is reported or returned as a solution (errors, refit
 * residuals and objective, direct solves) is computed in double. opt->precision = 1 forces double.
 *
 * Refit: per filter, the masked normal equations (G_SS + eps I) w_S = YXt[o,S] + eps w0_S with
 * eps = 1e-8 trace(G)/n (by default) and w0 the weights the refit starts from: a ridge towards the
 * start rather than towards 0, so that where the synthetic data do not determine the weights
 * (P < k samples, dead channels: G_SS singular) they keep their ADMM values instead of collapsing
 * to the minimum-norm solution. A direct Cholesky per filter costs k^3/3 with k up to 4*512+1
 * and 512 filters per layer (1.5e12 flops for one 512->512 layer), so filters with large supports
 * run preconditioned conjugate gradients together: each iteration multiplies the stacked search
 * directions of the unconverged filters by G in one GEMM (rows are zero off each filter's support,
 * so the product restricted to the support is exactly G_SS p_S; float32 products in the automatic
 * mode, vectors and residuals in double); the preconditioner is block Jacobi with one block per
 * kept kernel (taps of one input channel are strongly correlated), factorised once per (input
 * channel, pattern). Warm start: the hard-pruned ADMM weights. Filters whose supports are small
 * (connectivity pruning) are solved directly, which is then cheaper than the CG iterations.
 *
 * The statistics' objective values come out of the refit's first and last GEMM (exact, double).
 * Everything is sequential; OpenBLAS runs on one thread (prune_linalg_init), so identical inputs
 * give bit-identical results.
 */
#include "passes/prune.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* LAPACK (Fortran ABI, in libopenblas); the trailing size_t is the hidden CHARACTER length. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b,
                    const int *ldb, int *info, size_t uplo_len);
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda, float *b,
                    const int *ldb, int *info, size_t uplo_len);
/* OpenBLAS (declared here too in case the system cblas.h is another implementation's). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
/* Present only in DYNAMIC_ARCH builds of OpenBLAS (Debian's): weak so other builds still link. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

#define PRUNE_REFIT_RIDGE 1e-8

/* ------------------------------------------------------------------ OpenBLAS set-up */

#if defined(__x86_64__)
/* OpenBLAS kernel sets (as openblas_get_corename spells them) that use AVX2 or better. */
static int prune_core_is_modern(const char *core)
{
    static const char *const modern[] = {"Haswell", "SkylakeX", "Cooperlake", "SapphireRapids", "Zen"};
    for (size_t i = 0; i < sizeof modern / sizeof modern[0]; i++)
        if (!strcasecmp(core, modern[i])) return 1;
    return 0;
}

/* Re-run OpenBLAS's kernel selection with OPENBLAS_CORETYPE set, when its detection did not know
 * this CPU and fell back to SSE3 kernels. The variable is removed again afterwards so that child
 * processes do not inherit it. */
static void prune_blas_fix_core(void)
{
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    const char *core = openblas_get_corename();
    if (!core || prune_core_is_modern(core)) return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}
#else
static void prune_blas_fix_core(void)
{
}
#endif

void prune_linalg_init(void)
{
    static int core_checked;
    if (!core_checked) {
        core_checked = 1;
        prune_blas_fix_core();
    }
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

static double prune_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------------ small helpers */

static double prune_trace(const double *G, int64_t n)
{
    double t = 0.0;
    for (int64_t i = 0; i < n; i++) t += G[i * n + i];
    return t;
}

static int prune_all_finite(const double *a, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

static double prune_norm2(const double *a, size_t count)
{
    double s = 0.0;
    for (size_t i = 0; i < count; i++) s += a[i] * a[i];
    return s;
}

/* Relative error from a squared error (absolute when ||Y|| = 0). */
static double prune_rel(double sq, double Yt_norm2)
{
    if (sq < 0.0) sq = 0.0;
    return Yt_norm2 > 0.0 ? sqrt(sq / Yt_norm2) : sqrt(sq);
}

/* Sizes that LAPACK's 32-bit integers and our size_t products can hold. */
static int prune_check_dims(int64_t oc, int64_t n, Diag *d)
{
    if (oc < 1 || n < 1) return diag_error(d, "prune: empty layer (%lld filters, %lld columns)", (long long)oc,
                                           (long long)n);
    if (n > 65536 || oc > INT_MAX / 4 || (double)oc * (double)n > 1e10)
        return diag_error(d, "prune: layer too large for the solver (%lld filters, %lld columns)", (long long)oc,
                          (long long)n);
    return 0;
}

/* ------------------------------------------------------------------ Cholesky of G + rho I */

/* float32 W-updates are used when cond(G + rho I) <= (trace(G) + rho) / rho stays below this
 * bound: the solve's relative error is then about 2^13 * 2^-24 = 5e-4, far below what decides a
 * kernel's pattern in the projection (the refit recomputes the surviving weights anyway), and
 * spotrf/spotrs run at twice the speed of their double versions. */
#define PRUNE_F32_COND_MAX 8192.0

typedef struct PruneChol {
    double *a;  /* n x n, factor in LAPACK's lower triangle (column-major = row-major upper) */
    float *af;  /* the same in float32 when f32 */
    float *bf;  /* float32 right-hand sides [nrhs x n] */
    int n;
    int f32;
    double shift;
} PruneChol;

static void prune_chol_free(PruneChol *f)
{
    free(f->a), free(f->af), free(f->bf);
    memset(f, 0, sizeof *f);
}

/* Factorise G + shift I; in float32 if want_f32 (falling back to double if that fails). */
static int prune_chol_factor(PruneChol *f, const double *G, int64_t n, double shift, int want_f32, Diag *d)
{
    int nn = (int)n, info = 0;
    f->n = nn;
    f->shift = shift;
    if (want_f32) {
        if (!f->af) f->af = xmalloc(sizeof(float) * (size_t)(n * n));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) f->af[i * n + j] = (float)(G[i * n + j] + (i == j ? shift : 0.0));
        spotrf_("L", &nn, f->af, &nn, &info, 1);
        if (info == 0) {
            f->f32 = 1;
            return 0;
        }
    }
    f->f32 = 0;
    if (!f->a) f->a = xmalloc(sizeof(double) * (size_t)(n * n));
    memcpy(f->a, G, sizeof(double) * (size_t)(n * n));
    for (int64_t i = 0; i < n; i++) f->a[i * n + i] += shift;
    dpotrf_("L", &nn, f->a, &nn, &info, 1);
    if (info != 0)
        return diag_error(d, "prune: G + rho I is not positive definite (LAPACK dpotrf info %d): the layer "
                             "statistics are not a Gram matrix", info);
    return 0;
}

/* B [nrhs x n] row-major <- B (G + shift I)^-1 (row-major B is column-major B^T, ld n). */
static void prune_chol_solve(PruneChol *f, double *B, int64_t nrhs)
{
    int nr = (int)nrhs, info = 0;
    size_t count = (size_t)nrhs * (size_t)f->n;
    if (f->f32) {
        if (!f->bf) f->bf = xmalloc(sizeof(float) * count);
        for (size_t i = 0; i < count; i++) f->bf[i] = (float)B[i];
        spotrs_("L", &f->n, &nr, f->af, &f->n, f->bf, &f->n, &info, 1);
        for (size_t i = 0; i < count; i++) B[i] = (double)f->bf[i];
    } else {
        dpotrs_("L", &f->n, &nr, f->a, &f->n, B, &f->n, &info, 1);
    }
    IR_ASSERT(info == 0);
}

int prune_admm_w_update(const double *G, const double *YXt, const double *ZmU, double rho, int64_t oc, int64_t n,
                        double *W, Diag *d)
{
    if (prune_check_dims(oc, n, d)) return -1;
    prune_linalg_init();
    PruneChol f = {0};
    int rc = prune_chol_factor(&f, G, n, rho, 0, d);
    if (!rc) {
        for (size_t i = 0; i < (size_t)(oc * n); i++) W[i] = YXt[i] + rho * ZmU[i];
        prune_chol_solve(&f, W, oc);
    }
    prune_chol_free(&f);
    return rc;
}

/* ------------------------------------------------------------------ error */

double prune_sq_error(const double *G, const double *YXt, double Yt_norm2, const double *W, int64_t oc, int64_t n)
{
    prune_linalg_init();
    double *T = xmalloc(sizeof(double) * (size_t)(oc * n));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)oc, (int)n, (int)n, 1.0, W, (int)n, G, (int)n, 0.0,
                T, (int)n);
    double s = 0.0;
    for (int64_t o = 0; o < oc; o++) {
        double so = 0.0;
        for (int64_t j = 0; j < n; j++) so += W[o * n + j] * (T[o * n + j] - 2.0 * YXt[o * n + j]);
        s += so;
    }
    free(T);
    s += Yt_norm2;
    return s > 0.0 ? s : 0.0;
}

/* ------------------------------------------------------------------ refit */

/* Cost model of the refit (measured on the reference machine, one core): dpotrf of a k x k
 * matrix runs at about 25 GFLOP/s, dgemm at 70 and sgemm at 140. A CG iteration costs a filter
 * 2 n^2 flops of GEMM, a direct solve k^3/3 flops of dpotrf; direct is chosen when it is cheaper
 * than max_iters CG iterations. */
#define PRUNE_DIRECT_VS_GEMM_F64 0.36
#define PRUNE_DIRECT_VS_GEMM_F32 0.18

void prune_refit_options_default(RefitOptions *ro)
{
    memset(ro, 0, sizeof *ro);
    ro->tol = 1e-6;
    ro->max_iters = 20;
}

/* Block-Jacobi preconditioner: for each (input channel c, library pattern p) the Cholesky factor
 * of G's block on the pattern's taps of channel c (plus eps); a scalar for unconstrained columns. */
typedef struct PrunePrecond {
    int64_t ic, n, k;
    int taps[PRUNE_MAX_PATTERNS][9]; /* tap list of each pattern */
    int ntaps[PRUNE_MAX_PATTERNS];
    double *L;          /* [ic][k][9*9] lower factors */
    uint8_t *diag_only; /* [ic][k]: factorisation failed (rounding on a singular block): 1/diag */
    double *dinv;       /* [n]: 1 / (G_jj + eps) */
} PrunePrecond;

static void prune_precond_init(PrunePrecond *pc, const double *G, int64_t ic, int64_t n, const PatternLib *lib,
                               double eps)
{
    pc->ic = ic;
    pc->n = n;
    pc->k = lib->k;
    for (int p = 0; p < lib->k; p++) {
        int m = 0;
        for (int t = 0; t < 9; t++)
            if (lib->mask[p] & (1u << t)) pc->taps[p][m++] = t;
        pc->ntaps[p] = m;
    }
    pc->dinv = xmalloc(sizeof(double) * (size_t)n);
    for (int64_t j = 0; j < n; j++) {
        double g = G[j * n + j] + eps;
        pc->dinv[j] = g > 0.0 ? 1.0 / g : 1.0;
    }
    pc->L = xmalloc(sizeof(double) * (size_t)(ic * lib->k * 81));
    pc->diag_only = xcalloc((size_t)(ic * lib->k), 1);
    for (int64_t c = 0; c < ic; c++)
        for (int p = 0; p < lib->k; p++) {
            double *L = pc->L + (c * lib->k + p) * 81;
            int m = pc->ntaps[p], ok = 1;
            const int *tp = pc->taps[p];
            for (int i = 0; i < m && ok; i++)
                for (int j = 0; j <= i && ok; j++) {
                    double s = G[(c * 9 + tp[i]) * n + c * 9 + tp[j]] + (i == j ? eps : 0.0);
                    for (int q = 0; q < j; q++) s -= L[i * 9 + q] * L[j * 9 + q];
                    if (i != j)
                        L[i * 9 + j] = s / L[j * 9 + j];
                    else if (s > 0.0)
                        L[i * 9 + i] = sqrt(s);
                    else
                        ok = 0;
                }
            pc->diag_only[c * lib->k + p] = !ok;
        }
}

static void prune_precond_free(PrunePrecond *pc)
{
    free(pc->L), free(pc->diag_only), free(pc->dinv);
}

/* z = M^-1 r for one filter (ids_o: its kernels' pattern ids; removed kernels stay zero). */
static void prune_precond_apply(const PrunePrecond *pc, const int16_t *ids_o, const uint8_t *mask_o, const double *r,
                                double *z)
{
    for (int64_t c = 0; c < pc->ic; c++) {
        int16_t id = ids_o[c];
        const double *rc = r + c * 9;
        double *zc = z + c * 9;
        for (int t = 0; t < 9; t++) zc[t] = 0.0;
        if (id == PRUNE_REMOVED) continue;
        int m = pc->ntaps[id];
        const int *tp = pc->taps[id];
        if (pc->diag_only[c * pc->k + id]) {
            for (int i = 0; i < m; i++) zc[tp[i]] = rc[tp[i]] * pc->dinv[c * 9 + tp[i]];
            continue;
        }
        const double *L = pc->L + (c * pc->k + id) * 81;
        double y[9];
        for (int i = 0; i < m; i++) { /* L y = r */
            double s = rc[tp[i]];
            for (int q = 0; q < i; q++) s -= L[i * 9 + q] * y[q];
            y[i] = s / L[i * 9 + i];
        }
        for (int i = m - 1; i >= 0; i--) { /* L^T x = y */
            double s = y[i];
            for (int q = i + 1; q < m; q++) s -= L[q * 9 + i] * y[q];
            y[i] = s / L[i * 9 + i];
        }
        for (int i = 0; i < m; i++) zc[tp[i]] = y[i];
    }
    for (int64_t j = pc->ic * 9; j < pc->n; j++) z[j] = mask_o[j] ? r[j] * pc->dinv[j] : 0.0;
}

static double prune_dot(const double *a, const double *b, int64_t n)
{
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += a[j] * b[j];
    return s;
}

/* Products of listed rows of P [.. x n] with G, packed into out [m x n]: in double with G, or in
 * float32 with Gf (then pf/qf are m x n float scratch). */
typedef struct PruneGemm {
    const double *G;
    float *Gf; /* NULL: double */
    int64_t n;
    double *pack;
    float *pf, *qf;
} PruneGemm;

static void prune_rows_times_g(PruneGemm *gm, const double *P, const int64_t *rows, int64_t m, double *out)
{
    int64_t n = gm->n;
    if (m == 0) return;
    if (gm->Gf) {
        for (int64_t a = 0; a < m; a++)
            for (int64_t j = 0; j < n; j++) gm->pf[a * n + j] = (float)P[rows[a] * n + j];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0f, gm->pf, (int)n, gm->Gf,
                    (int)n, 0.0f, gm->qf, (int)n);
        for (int64_t i = 0; i < m * n; i++) out[i] = (double)gm->qf[i];
        return;
    }
    for (int64_t a = 0; a < m; a++) memcpy(gm->pack + a * n, P + rows[a] * n, sizeof(double) * (size_t)n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0, gm->pack, (int)n, gm->G,
                (int)n, 0.0, out, (int)n);
}

static int prune_check_ids(const int16_t *ids, int64_t count, const PatternLib *lib, Diag *d)
{
    for (int64_t i = 0; i < count; i++)
        if (ids[i] != PRUNE_REMOVED && (ids[i] < 0 || ids[i] >= lib->k))
            return diag_error(d, "prune: kernel %lld has pattern id %d outside the library of %d", (long long)i,
                              ids[i], lib->k);
    return 0;
}

static int prune_check_lib(const PatternLib *lib, Diag *d)
{
    if (lib->k < 1 || lib->k > PRUNE_MAX_PATTERNS)
        return diag_error(d, "prune: pattern library size %d outside 1..%d", lib->k, PRUNE_MAX_PATTERNS);
    for (int p = 0; p < lib->k; p++)
        if (lib->mask[p] == 0 || lib->mask[p] >= 512)
            return diag_error(d, "prune: pattern %d has invalid 3x3 mask 0x%x", p, lib->mask[p]);
    return 0;
}

/* Direct solve of one filter: (G_SS + eps I) w_S = b_S by Cholesky of the gathered submatrix.
 * Returns 0, or -1 if the factorisation fails (rounding on a singular G_SS; CG takes over). */
static int prune_refit_direct(const double *G, const double *b, int64_t n, const uint8_t *mask_o, double eps,
                              int *S, double *A, double *x, double *w)
{
    int k = 0;
    for (int64_t j = 0; j < n; j++)
        if (mask_o[j]) S[k++] = (int)j;
    for (int i = 0; i < k; i++) {
        const double *gr = G + (int64_t)S[i] * n;
        for (int j = 0; j <= i; j++) A[(int64_t)i * k + j] = gr[S[j]];
        A[(int64_t)i * k + i] += eps;
        x[i] = b[S[i]];
    }
    int info = 0, one = 1;
    /* row-major lower triangle = column-major upper */
    dpotrf_("U", &k, A, &k, &info, 1);
    if (info != 0) return -1;
    dpotrs_("U", &k, &one, A, &k, x, &k, &info, 1);
    IR_ASSERT(info == 0);
    for (int64_t j = 0; j < n; j++) w[j] = 0.0;
    for (int i = 0; i < k; i++) w[S[i]] = x[i];
    return 0;
}

int prune_refit_ex(const double *G, const double *YXt, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib,
                   const int16_t *ids, const RefitOptions *ro, double *W, RefitStats *rs, Diag *d)
{
    RefitStats st = {0};
    if (prune_check_dims(oc, n, d) || prune_check_lib(lib, d)) return -1;
    if (ic < 1 || ic * 9 > n)
        return diag_error(d, "prune: %lld input channels do not fit %lld weight columns", (long long)ic, (long long)n);
    if (prune_check_ids(ids, oc * ic, lib, d)) return -1;
    if (!(ro->tol >= 0.0) || ro->max_iters < 0 || !(ro->ridge >= 0.0) || !isfinite(ro->ridge) || ro->method < 0 ||
        ro->method > 2 || ro->precision < 0 || ro->precision > 1)
        return diag_error(d, "prune: invalid refit options");
    prune_linalg_init();

    size_t on = (size_t)(oc * n);
    double tr = prune_trace(G, n);
    double ridge = ro->ridge > 0.0 ? ro->ridge : PRUNE_REFIT_RIDGE;
    double eps = tr > 0.0 ? ridge * tr / (double)n : 1.0;
    int f32 = ro->precision == 0 && ro->tol >= 1e-6;
    double direct_ratio = f32 ? PRUNE_DIRECT_VS_GEMM_F32 : PRUNE_DIRECT_VS_GEMM_F64;
    uint8_t *mask = xmalloc(on), *how = xmalloc((size_t)oc); /* how: 0 zero, 1 direct, 2 CG */
    double *R = xcalloc(on, sizeof(double)), *Zr = xcalloc(on, sizeof(double)), *P = xcalloc(on, sizeof(double));
    double *Q = xmalloc(sizeof(double) * on), *B = xcalloc(on, sizeof(double));
    double *rz = xmalloc(sizeof(double) * (size_t)oc), *bn = xmalloc(sizeof(double) * (size_t)oc);
    int64_t *active = xmalloc(sizeof(int64_t) * (size_t)oc), *all = xmalloc(sizeof(int64_t) * (size_t)oc);
    int64_t kmax = 0;
    PruneGemm gm = {G, NULL, n, xmalloc(sizeof(double) * on), NULL, NULL};

    /* support masks (W restricted to them), |b|, and the method per filter */
    for (int64_t o = 0; o < oc; o++) {
        uint8_t *mo = mask + o * n;
        const double *bo = YXt + o * n;
        for (int64_t c = 0; c < ic; c++) {
            int16_t id = ids[o * ic + c];
            for (int t = 0; t < 9; t++) mo[c * 9 + t] = id != PRUNE_REMOVED && (lib->mask[id] & (1u << t));
        }
        for (int64_t j = ic * 9; j < n; j++) mo[j] = 1;
        int64_t k = 0;
        double b2 = 0.0;
        for (int64_t j = 0; j < n; j++) {
            if (mo[j]) { /* right-hand side with the ridge towards the start: b + eps w_start */
                k++;
                B[o * n + j] = bo[j] + eps * W[o * n + j];
                b2 += B[o * n + j] * B[o * n + j];
            } else {
                W[o * n + j] = 0.0;
            }
        }
        bn[o] = sqrt(b2);
        double kd = (double)k, direct_flops = kd * kd * kd / 3.0;
        double cg_flops = (double)ro->max_iters * 2.0 * (double)n * (double)n;
        if (k == 0 || b2 == 0.0)
            how[o] = 0;
        else if (ro->method == 2 || (ro->method == 0 && direct_flops <= direct_ratio * cg_flops))
            how[o] = 1;
        else
            how[o] = 2;
        if (how[o] == 1 && k > kmax) kmax = k;
        all[o] = o;
    }

    /* objective of the warm start; residuals r = b + eps w_start - (G_SS + eps) w of the CG filters */
    prune_rows_times_g(&gm, W, all, oc, Q);
    for (int64_t o = 0; o < oc; o++) {
        const uint8_t *mo = mask + o * n;
        const double *wo = W + o * n, *qo = Q + o * n, *bo = YXt + o * n, *bp = B + o * n;
        double *ro_ = R + o * n, obj = 0.0;
        for (int64_t j = 0; j < n; j++)
            if (mo[j]) {
                obj += wo[j] * (qo[j] - 2.0 * bo[j]);
                ro_[j] = bp[j] - qo[j] - eps * wo[j];
            }
        st.obj_before += obj;
    }

    /* trivial and direct filters */
    if (kmax > 0) {
        int *S = xmalloc(sizeof(int) * (size_t)n);
        double *A = xmalloc(sizeof(double) * (size_t)(kmax * kmax)), *x = xmalloc(sizeof(double) * (size_t)kmax);
        for (int64_t o = 0; o < oc; o++)
            if (how[o] == 1 && prune_refit_direct(G, B + o * n, n, mask + o * n, eps, S, A, x, W + o * n))
                how[o] = 2;
        free(S), free(A), free(x);
    }
    for (int64_t o = 0; o < oc; o++)
        if (how[o] == 0) memset(W + o * n, 0, sizeof(double) * (size_t)n);

    /* CG on the rest */
    PrunePrecond pc;
    prune_precond_init(&pc, G, ic, n, lib, eps);
    int64_t m = 0;
    for (int64_t o = 0; o < oc; o++) {
        if (how[o] != 2) continue;
        st.cg_filters++;
        double *ro_ = R + o * n;
        if (sqrt(prune_norm2(ro_, (size_t)n)) <= ro->tol * bn[o]) continue;
        prune_precond_apply(&pc, ids + o * ic, mask + o * n, ro_, Zr + o * n);
        memcpy(P + o * n, Zr + o * n, sizeof(double) * (size_t)n);
        rz[o] = prune_dot(ro_, Zr + o * n, n);
        active[m++] = o;
    }
    if (m > 0 && f32) {
        gm.Gf = xmalloc(sizeof(float) * (size_t)(n * n));
        for (int64_t i = 0; i < n * n; i++) gm.Gf[i] = (float)G[i];
        gm.pf = xmalloc(sizeof(float) * (size_t)(m * n));
        gm.qf = xmalloc(sizeof(float) * (size_t)(m * n));
    }
    for (int it = 1; m > 0 && it <= ro->max_iters; it++) {
        prune_rows_times_g(&gm, P, active, m, Q);
        int64_t keep = 0;
        for (int64_t a = 0; a < m; a++) {
            int64_t o = active[a];
            const uint8_t *mo = mask + o * n;
            double *qo = Q + a * n, *po = P + o * n, *ro_ = R + o * n, *wo = W + o * n, *zo = Zr + o * n;
            double pq = 0.0;
            for (int64_t j = 0; j < n; j++) {
                qo[j] = mo[j] ? qo[j] + eps * po[j] : 0.0;
                pq += po[j] * qo[j];
            }
            if (!(pq > 0.0)) continue; /* exact solution reached, or breakdown: stop this filter */
            double alpha = rz[o] / pq;
            for (int64_t j = 0; j < n; j++) {
                wo[j] += alpha * po[j];
                ro_[j] -= alpha * qo[j];
            }
            if (sqrt(prune_norm2(ro_, (size_t)n)) <= ro->tol * bn[o]) continue;
            prune_precond_apply(&pc, ids + o * ic, mo, ro_, zo);
            double rz_new = prune_dot(ro_, zo, n);
            double beta = rz_new / rz[o];
            rz[o] = rz_new;
            for (int64_t j = 0; j < n; j++) po[j] = zo[j] + beta * po[j];
            active[keep++] = o;
        }
        m = keep;
        st.iters = it;
    }
    st.unconverged = m;
    prune_precond_free(&pc);
    free(gm.Gf), free(gm.pf), free(gm.qf);
    gm.Gf = NULL;

    /* objective and residuals of the result, in double: exactly from a GEMM for the CG filters;
     * a direct solve satisfies G_SS w = b + eps w_start - eps w to rounding, so its objective
     * w G w - 2 b.w = w.(b + eps w_start) - eps |w|^2 - 2 b.w needs no product with G */
    int64_t ncg = 0;
    for (int64_t o = 0; o < oc; o++)
        if (how[o] == 2) active[ncg++] = o;
    prune_rows_times_g(&gm, W, active, ncg, Q);
    for (int64_t o = 0, a = 0; o < oc; o++) {
        const uint8_t *mo = mask + o * n;
        const double *wo = W + o * n, *bo = YXt + o * n, *bp = B + o * n;
        double obj = 0.0, r2 = 0.0;
        if (how[o] == 2) {
            const double *qo = Q + a++ * n;
            for (int64_t j = 0; j < n; j++)
                if (mo[j]) {
                    double r = bp[j] - qo[j] - eps * wo[j];
                    obj += wo[j] * (qo[j] - 2.0 * bo[j]);
                    r2 += r * r;
                }
            if (bn[o] > 0.0 && sqrt(r2) / bn[o] > st.max_residual) st.max_residual = sqrt(r2) / bn[o];
        } else {
            for (int64_t j = 0; j < n; j++)
                if (mo[j]) obj += wo[j] * (bp[j] - eps * wo[j] - 2.0 * bo[j]);
        }
        st.obj_after += obj;
    }

    free(mask), free(how), free(B), free(R), free(Zr), free(P), free(Q), free(rz), free(bn), free(active), free(all);
    free(gm.pack);
    if (rs) *rs = st;
    return 0;
}

int prune_refit(const double *G, const double *YXt, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib,
                const int16_t *ids, double *W, Diag *d)
{
    RefitOptions ro;
    prune_refit_options_default(&ro);
    return prune_refit_ex(G, YXt, oc, ic, n, lib, ids, &ro, W, NULL, d);
}

/* ------------------------------------------------------------------ ADMM */

static int prune_check_layer(const double *G, const double *YXt, double Yt_norm2, const double *W0, int64_t oc,
                             int64_t ic, int64_t n, const PatternLib *lib, double conn, const AdmmOptions *opt, Diag *d)
{
    if (prune_check_dims(oc, n, d) || prune_check_lib(lib, d)) return -1;
    if (ic < 1 || ic * 9 > n)
        return diag_error(d, "prune: %lld input channels do not fit %lld weight columns", (long long)ic, (long long)n);
    if (!(conn >= 0.0 && conn <= 1.0)) return diag_error(d, "prune: connectivity %g outside [0, 1]", conn);
    if (opt->iters < 0) return diag_error(d, "prune: negative ADMM iteration count %d", opt->iters);
    if (!(opt->rho > 0.0) || !isfinite(opt->rho)) return diag_error(d, "prune: ADMM rho %g must be positive", opt->rho);
    if (opt->rho_every > 0 && (!(opt->rho_growth > 0.0) || !isfinite(opt->rho_growth)))
        return diag_error(d, "prune: ADMM rho growth %g must be positive", opt->rho_growth);
    if (!(opt->tol >= 0.0)) return diag_error(d, "prune: ADMM tolerance %g must be >= 0", opt->tol);
    if (opt->refit_iters < 0) return diag_error(d, "prune: negative refit iteration count %d", opt->refit_iters);
    if (!(opt->refit_ridge >= 0.0) || !isfinite(opt->refit_ridge))
        return diag_error(d, "prune: refit ridge %g must be >= 0", opt->refit_ridge);
    if (opt->precision != 0 && opt->precision != 1)
        return diag_error(d, "prune: precision %d is not 0 or 1", opt->precision);
    if (!isfinite(Yt_norm2) || Yt_norm2 < 0.0) return diag_error(d, "prune: invalid ||Y||^2 = %g", Yt_norm2);
    if (!prune_all_finite(G, (size_t)(n * n)) || !prune_all_finite(YXt, (size_t)(oc * n)))
        return diag_error(d, "prune: the layer's synthetic-data statistics contain NaN or Inf");
    if (!prune_all_finite(W0, (size_t)(oc * n))) return diag_error(d, "prune: the layer's weights contain NaN or Inf");
    return 0;
}

int prune_admm_layer(const double *G, const double *YXt, double Yt_norm2, const double *W0, int64_t oc, int64_t ic,
                     int64_t n, const PatternLib *lib, double conn, const AdmmOptions *opt, int refit, double *W,
                     int16_t *ids, AdmmStats *st, Diag *d)
{
    double t0 = prune_now();
    AdmmStats s = {0};
    if (prune_check_layer(G, YXt, Yt_norm2, W0, oc, ic, n, lib, conn, opt, d)) return -1;
    prune_linalg_init();

    size_t on = (size_t)(oc * n);
    double tr = prune_trace(G, n);
    double scale = tr > 0.0 ? tr / (double)n : 1.0;
    double rho = opt->rho * scale;
    s.err_dense = prune_rel(prune_sq_error(G, YXt, Yt_norm2, W0, oc, n), Yt_norm2);

    double *Z = xmalloc(sizeof(double) * on), *Zp = xmalloc(sizeof(double) * on);
    double *U = xcalloc(on, sizeof(double));
    int16_t *ids_prev = xmalloc(sizeof(int16_t) * (size_t)(oc * ic));
    PruneChol f = {0};
    int rc = 0, stable = 0, factored = 0;
    int f32 = opt->precision == 0 && (tr + rho) / rho <= PRUNE_F32_COND_MAX;
    memcpy(Z, W0, sizeof(double) * on);

    for (int it = 1; it <= opt->iters; it++) {
        if (!factored || f.shift != rho) {
            if ((rc = prune_chol_factor(&f, G, n, rho, f32, d))) break;
            factored = 1;
            s.factorizations++;
        }
        for (size_t i = 0; i < on; i++) W[i] = YXt[i] + rho * (Z[i] - U[i]);
        prune_chol_solve(&f, W, oc);

        double *t = Zp;
        Zp = Z, Z = t;
        for (size_t i = 0; i < on; i++) Z[i] = W[i] + U[i];
        prune_project(Z, oc, ic, n, lib, conn, Z, ids);
        double w2 = 0.0, primal2 = 0.0, dual2 = 0.0;
        for (size_t i = 0; i < on; i++) {
            double r = W[i] - Z[i], dz = Z[i] - Zp[i];
            U[i] += r;
            w2 += W[i] * W[i];
            primal2 += r * r;
            dual2 += dz * dz;
        }
        double wn = w2 > 0.0 ? sqrt(w2) : 1.0;
        s.primal_residual = sqrt(primal2) / wn;
        s.dual_residual = rho / scale * sqrt(dual2) / wn;
        if (it > 1 && !memcmp(ids, ids_prev, sizeof(int16_t) * (size_t)(oc * ic)))
            stable++;
        else
            stable = 0;
        memcpy(ids_prev, ids, sizeof(int16_t) * (size_t)(oc * ic));
        s.iters_run = it;
        if (s.primal_residual < opt->tol && stable >= 2) break;
        if (opt->rho_every > 0 && it % opt->rho_every == 0 && opt->rho_growth != 1.0) {
            rho *= opt->rho_growth;
            for (size_t i = 0; i < on; i++) U[i] /= opt->rho_growth;
        }
    }
    prune_chol_free(&f);
    free(Zp), free(U), free(ids_prev);
    if (rc) {
        free(Z);
        return -1;
    }

    /* hard prune to Z's support (the magnitude projection of W0 when no iteration ran) */
    if (s.iters_run == 0) prune_project(W0, oc, ic, n, lib, conn, Z, ids);
    memcpy(W, Z, sizeof(double) * on);
    free(Z);

    if (refit) {
        RefitOptions ro;
        RefitStats rs;
        prune_refit_options_default(&ro);
        if (opt->refit_iters > 0) ro.max_iters = opt->refit_iters;
        ro.precision = opt->precision;
        ro.ridge = opt->refit_ridge;
        if (prune_refit_ex(G, YXt, oc, ic, n, lib, ids, &ro, W, &rs, d)) return -1;
        s.err_projected = prune_rel(rs.obj_before + Yt_norm2, Yt_norm2);
        s.err_refit = prune_rel(rs.obj_after + Yt_norm2, Yt_norm2);
        s.refit_iters = rs.iters;
        s.refit_residual = rs.max_residual;
    } else {
        s.err_projected = prune_rel(prune_sq_error(G, YXt, Yt_norm2, W, oc, n), Yt_norm2);
        s.err_refit = s.err_projected;
    }
    s.seconds = prune_now() - t0;
    if (st) *st = s;
    return 0;
}
