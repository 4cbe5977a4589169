/* prune.h — data-free ADMM pattern pruning (issue #4): the numerical core shared by the prune
 * pass (passes/prune_pass.c and friends) and its tests.
 *
 * Notation for one 3x3 convolution layer with OC filters and IC input channels (group 1):
 *   n = IC*9 (+1 when the bias is refit: the unfolded input X gets a row of ones),
 *   X  [n x P]  unfolded (im2col) synthetic inputs over P = samples*OH*OW output positions,
 *   Y  [OC x P] target outputs (the ORIGINAL layer's outputs, without bias/activation),
 *   G  = X X^T [n x n] and YXt = Y X^T [OC x n], both accumulated in double.
 * The layer's weights W are [OC x n] (row o = filter o, column ic*9 + kh*3 + kw, then bias).
 * We minimise ||W X - Y||^2 subject to W in S (pattern + connectivity constraints), i.e.
 * tr(W G W^T) - 2 tr(W YXt^T) + const, which needs only G and YXt.
 *
 * Patterns are 9-bit masks over a 3x3 kernel (bit kh*3+kw), the centre (bit 4) always set.
 * A kernel's pattern id is an index into the layer's library, or PRUNE_REMOVED.
 */
#ifndef PPCC_PRUNE_H
#define PPCC_PRUNE_H

#include <stdint.h>

#include "ir/ir.h"

#define PRUNE_MAX_PATTERNS 128
#define PRUNE_REMOVED (-1)

typedef struct PatternLib {
    int k;                              /* number of patterns in the library */
    int n;                              /* non-zeros per pattern (incl. the centre) */
    uint16_t mask[PRUNE_MAX_PATTERNS];  /* 9-bit masks, most frequent first */
} PatternLib;

/* All C(8, n-1) masks with n bits that include the centre, in increasing numeric order.
 * Returns the count (<= max). */
int prune_pattern_candidates(int n, uint16_t *out, int max);

/* Top-n magnitude mask of one 3x3 kernel (9 floats), centre forced in: the centre plus the
 * n-1 largest |w| among the other 8 (ties broken by lower index). */
uint16_t prune_topn_mask(const float *k9, int n);

/* Library: the K most frequent top-n masks over all given kernels (counts[] per candidate
 * accumulated by the caller via prune_pattern_count); ties broken by lower mask value; if fewer
 * than K masks occur, the rest are filled with unused candidates in numeric order. */
typedef struct PatternCounts {
    int n;
    int n_cand;
    uint16_t cand[PRUNE_MAX_PATTERNS];
    int64_t count[PRUNE_MAX_PATTERNS];
} PatternCounts;
void prune_pattern_counts_init(PatternCounts *c, int n);
void prune_pattern_count(PatternCounts *c, const float *w, int64_t n_kernels); /* w: n_kernels*9 */
void prune_pattern_library(const PatternCounts *c, int k, PatternLib *lib);

/* Projection onto S. V [OC x n] (row layout above; columns >= IC*9 are unconstrained and copied).
 * Per kernel: the library pattern keeping the largest L2 norm of V's kernel (ties: lower id);
 * then connectivity: the round(conn * OC*IC) kernels with the smallest kept norm over the whole
 * layer are removed (ties: lower kernel index removed first). Writes Z (may alias V) and ids
 * [OC*IC] (pattern index or PRUNE_REMOVED). */
void prune_project(const double *V, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib, double conn,
                   double *Z, int16_t *ids);

typedef struct AdmmOptions {
    int iters;       /* max ADMM iterations (e.g. 30) */
    double rho;      /* initial rho, relative to trace(G)/n (e.g. 1.0) */
    double rho_growth; /* multiply rho by this every `rho_every` iterations (e.g. 1.3, every 5) */
    int rho_every;
    double tol;      /* stop when ||W - Z||_F / ||W||_F < tol (and ids stable) */
    /* additions; 0 selects the default, so a zero-initialised struct keeps working */
    int refit_iters; /* max conjugate-gradient iterations of the refit (0: 20) */
    int precision;   /* 0: automatic (float32 products where the error bound allows, see
                        prune_admm.c), 1: double throughout */
    double refit_ridge; /* the refit's ridge relative to trace(G)/n (0: 1e-8), see RefitOptions */
} AdmmOptions;

typedef struct AdmmStats {
    int iters_run;
    double primal_residual;   /* final ||W - Z||_F / ||W||_F */
    double dual_residual;     /* final rho * ||Z - Z_prev||_F / ||W||_F, rho relative (as opt->rho) */
    double err_dense;         /* relative reconstruction error of W0 on the data: ||W0 X - Y|| / ||Y|| */
    double err_projected;     /* of the hard-pruned ADMM result before refit */
    double err_refit;         /* after the masked least-squares refit (== err_projected without) */
    double seconds;
    int factorizations;       /* Cholesky factorisations of G + rho I (one per distinct rho) */
    int refit_iters;          /* conjugate-gradient iterations of the refit (0 without refit) */
    double refit_residual;    /* largest final ||b - A w|| / ||b|| of the refit's CG filters */
} AdmmStats;

/* One layer: ADMM from W = Z = W0, U = 0, with W-update
 *   W <- (YXt + rho (Z - U)) (G + rho I)^-1   (Cholesky; in float32 when opt->precision is 0 and
 *                                             trace(G)/rho bounds its error, else double)
 * Z <- Proj_S(W + U), U <- U + W - Z; then W <- Z (hard prune to Z's support) and, if refit,
 * the masked least-squares refit of the surviving weights (and the unconstrained columns).
 * W0 and W are [OC x n]; ids [OC*IC] out. Yt_norm2 = ||Y||_F^2 (for relative errors). */
int prune_admm_layer(const double *G, const double *YXt, double Yt_norm2, const double *W0, int64_t oc, int64_t ic,
                     int64_t n, const PatternLib *lib, double conn, const AdmmOptions *opt, int refit, double *W,
                     int16_t *ids, AdmmStats *st, Diag *d);

/* Masked least squares: for each filter o, minimise ||w_o X - y_o||^2 over the weights its mask
 * keeps (mask from ids; columns >= IC*9 always kept), others zero. W in/out [OC x n] (the
 * incoming W is the start and the centre of the tiny ridge, see prune_refit_ex). */
int prune_refit(const double *G, const double *YXt, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib,
                const int16_t *ids, double *W, Diag *d);

/* ||W X - Y||^2 from G, YXt and ||Y||^2 (= tr(W G W^T) - 2 tr(W YXt^T) + ||Y||^2). */
double prune_sq_error(const double *G, const double *YXt, double Yt_norm2, const double *W, int64_t oc, int64_t n);

/* ---- additions (prune_admm.c) ----
 * G is used as a full symmetric matrix (both triangles filled). All BLAS/LAPACK work runs on one
 * thread; identical inputs give bit-identical outputs on one machine. */

/* OpenBLAS set-up, called by every function here before it uses BLAS (idempotent, cheap): sets
 * OpenBLAS to one thread, and, once per process, if OpenBLAS's run-time CPU detection fell back to
 * a pre-AVX2 kernel set on a CPU that has AVX2/AVX-512 (Debian's OpenBLAS 0.3.21 reports
 * "Prescott" on Sapphire/Emerald Rapids, 4-5x slower) and OPENBLAS_CORETYPE is not set, re-selects
 * the Haswell or SkylakeX kernels. Call it before your own BLAS calls to get the same speed. */
void prune_linalg_init(void);

/* One ADMM W-update on its own (for tests and experiments): W = (YXt + rho ZmU)(G + rho I)^-1
 * with rho absolute, ZmU = Z - U [OC x n]; W [OC x n] out. -1 with d set if G + rho I is not
 * positive definite. */
int prune_admm_w_update(const double *G, const double *YXt, const double *ZmU, double rho, int64_t oc, int64_t n,
                        double *W, Diag *d);

/* The refit's solver: per filter o, (G_SS + eps I) w_S = YXt[o,S] + eps w0_S with S the filter's
 * support, eps = ridge * trace(G)/n and w0 the incoming W (a ridge towards the starting weights, so
 * that directions the synthetic data do not determine keep them; with the default ridge 1e-8 it
 * changes nothing measurable where the data do determine them). Small supports (k^3 below the cost of max_iters CG iterations) are solved
 * directly (Cholesky of the gathered G_SS); the others by preconditioned conjugate gradients on all
 * of them at once (one GEMM with G per iteration for the filters not yet converged; block-Jacobi
 * preconditioner with one block per kept kernel), warm-started from W. */
typedef struct RefitOptions {
    double tol;    /* per filter: stop CG when ||b - A w|| <= tol ||b|| */
    int max_iters; /* per filter */
    int method;    /* 0: automatic, 1: CG for every filter, 2: direct for every filter */
    int precision; /* 0: automatic (CG products in float32, residuals in double), 1: double */
    double ridge;  /* relative to trace(G)/n; 0: 1e-8 */
} RefitOptions;
typedef struct RefitStats {
    int iters;             /* CG iterations run (the slowest filter's) */
    int64_t cg_filters;    /* filters solved by CG (the others directly or trivially) */
    int64_t unconverged;   /* CG filters stopped by max_iters */
    double max_residual;   /* largest final ||b - A w|| / ||b|| of the CG filters (recomputed in
                              double; direct solves are exact to rounding) */
    double obj_before;     /* sum_o w_o G w_o^T - 2 w_o . YXt[o]: add ||Y||^2 for ||W X - Y||^2 */
    double obj_after;      /*   (before: of W masked to the support; after: of the result) */
} RefitStats;
void prune_refit_options_default(RefitOptions *ro); /* tol 1e-6, max_iters 20, automatic */
int prune_refit_ex(const double *G, const double *YXt, int64_t oc, int64_t ic, int64_t n, const PatternLib *lib,
                   const int16_t *ids, const RefitOptions *ro, double *W, RefitStats *rs, Diag *d);

#endif
