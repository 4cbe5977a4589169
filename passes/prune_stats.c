/* prune_stats.c — the prune pass's options and result: defaults, range checks (the messages
 * name the options as ppcc's command line spells them), freeing the result, and the --stats
 * report (the synthetic data: kind, inversion method, self-agreement, loss curve and time; the
 * pattern library; then per layer: kernels kept, pattern histogram, relative
 * reconstruction error on the synthetic data dense / after ADMM / after refit, ADMM residuals,
 * iterations, seconds spent on the layer's data (G, YXt, its outputs) and in the solver).
 */
#include "passes/prune_pass.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void prune_options_default(PruneOptions *o)
{
    memset(o, 0, sizeof *o);
    o->patterns = 8;
    o->pattern_size = 4;
    o->connectivity = 0.0;
    o->admm_iters = 10;
    o->admm_iters_inverted = 20;
    o->admm_rho = 1.0;
    o->samples = 0;
    o->synthetic = PRUNE_SYNTH_INVERTED;
    o->source = PRUNE_SOURCE_PRUNED;
    o->refit = 1;
    o->inv_steps = 200;
    o->inv_lr = 0.15;
    o->inv_tv = 1.0;
    o->inv_l2 = 0.0;
    o->inv_l1 = 4.0;
    o->inv_resolution = 0.55;
    o->inv_jitter = 2;
    o->inv_coverage = 0.6;
    o->inv_coverage_greedy = 0;
    o->head_ridge = 0.03;
}

const char *prune_synthetic_name(PruneSynthetic s)
{
    return s == PRUNE_SYNTH_UNIFORM ? "uniform" : s == PRUNE_SYNTH_INVERTED ? "inverted" : "gaussian";
}

/* C(8, k) */
static int choose8(int k)
{
    int c = 1;
    for (int i = 0; i < k; i++) c = c * (8 - i) / (i + 1);
    return c;
}

int prune_options_check(const PruneOptions *o, Diag *d)
{
    if (o->pattern_size < 1 || o->pattern_size > 9)
        return diag_error(d, "--pattern-size: expected an integer from 1 to 9, got %d", o->pattern_size);
    int cands = choose8(o->pattern_size - 1);
    if (o->patterns < 1 || o->patterns > cands)
        return diag_error(d, "--patterns: expected an integer from 1 to %d (the number of %d-entry masks that keep the centre), got %d",
                          cands, o->pattern_size, o->patterns);
    if (!(o->connectivity >= 0.0 && o->connectivity < 1.0))
        return diag_error(d, "--connectivity: expected a number with 0 <= R < 1, got %g", o->connectivity);
    if (o->admm_iters < 0 || o->admm_iters > 100000)
        return diag_error(d, "--admm-iters: expected an integer from 0 to 100000, got %d", o->admm_iters);
    if (o->admm_iters_inverted < 0 || o->admm_iters_inverted > 100000)
        return diag_error(d, "--admm-iters: expected an integer from 0 to 100000, got %d", o->admm_iters_inverted);
    if (!(o->admm_rho > 0.0 && o->admm_rho <= 1e6))
        return diag_error(d, "--admm-rho: expected a number with 0 < rho <= 1e6, got %g", o->admm_rho);
    if (o->samples < 0 || o->samples > 4096)
        return diag_error(d, "--synthetic-samples: expected an integer from 1 to 4096, got %d", o->samples);
    if (o->synthetic != PRUNE_SYNTH_GAUSSIAN && o->synthetic != PRUNE_SYNTH_UNIFORM &&
        o->synthetic != PRUNE_SYNTH_INVERTED)
        return diag_error(d, "--synthetic: expected inverted, gaussian or uniform");
    if (o->inv_steps < 0 || o->inv_steps > 100000)
        return diag_error(d, "--inversion-steps: expected an integer from 0 to 100000, got %d", o->inv_steps);
    if (!(o->inv_lr > 0.0 && o->inv_lr <= 1e3))
        return diag_error(d, "--inversion-lr: expected a number with 0 < lr <= 1000, got %g", o->inv_lr);
    if (!(o->inv_tv >= 0.0 && o->inv_tv <= 1e6))
        return diag_error(d, "--inversion-tv: expected a number from 0 to 1e6, got %g", o->inv_tv);
    if (!(o->inv_l2 >= 0.0 && o->inv_l2 <= 1e6))
        return diag_error(d, "--inversion-l2: expected a number from 0 to 1e6, got %g", o->inv_l2);
    if (!(o->inv_l1 >= 0.0 && o->inv_l1 <= 1e6))
        return diag_error(d, "--inversion-l1: expected a number from 0 to 1e6, got %g", o->inv_l1);
    if (!(o->inv_resolution > 0.0 && o->inv_resolution <= 1.0))
        return diag_error(d, "--inversion-resolution: expected a number with 0 < R <= 1, got %g", o->inv_resolution);
    if (!(o->head_ridge < 0 || (o->head_ridge > 0.0 && o->head_ridge <= 1e6)))
        return diag_error(d, "--classifier-ridge: expected a number with 0 < X <= 1e6, got %g", o->head_ridge);
    if (!(o->inv_coverage >= 0.0 && o->inv_coverage <= 1e6))
        return diag_error(d, "--inversion-coverage: expected a number from 0 to 1e6, got %g", o->inv_coverage);
    if (o->inv_jitter < 0 || o->inv_jitter > 1000)
        return diag_error(d, "--inversion-jitter: expected an integer from 0 to 1000, got %d", o->inv_jitter);
    if (o->has_range && !(isfinite(o->range_lo) && isfinite(o->range_hi) && o->range_lo < o->range_hi))
        return diag_error(d, "--synthetic-range: expected LO,HI with LO < HI, got %g,%g", o->range_lo, o->range_hi);
    if (o->source != PRUNE_SOURCE_PRUNED && o->source != PRUNE_SOURCE_ORIGINAL)
        return diag_error(d, "--synthetic-source: expected original or pruned");
    if (o->layers && !*o->layers) return diag_error(d, "--prune-layers: expected 'all' or a comma-separated list of Conv names");
    return 0;
}

void prune_result_clear(PruneResult *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_layers; i++) {
        free(r->layers[i].node);
        free(r->layers[i].weight);
    }
    free(r->layers);
    free(r->head_node);
    for (int i = 0; i < r->n_changed; i++) {
        free(r->changed[i].name);
        tensor_free(r->changed[i].t);
    }
    free(r->changed);
    invert_stats_free(&r->inversion);
    memset(r, 0, sizeof *r);
}

/* A 9-bit mask as three rows of '#' (kept) and '.', e.g. ".#./###/..." */
static void mask_str(uint16_t m, char *buf)
{
    int k = 0;
    for (int t = 0; t < 9; t++) {
        if (t && t % 3 == 0) buf[k++] = '/';
        buf[k++] = (m >> t) & 1 ? '#' : '.';
    }
    buf[k] = 0;
}

static void print_err(FILE *f, int has, double e)
{
    if (has && isfinite(e))
        fprintf(f, " %9.4f", e);
    else
        fprintf(f, " %9s", "-");
}

/* The synthetic data: range, inversion report (method, self-agreement, compact loss curve,
 * time) or why there was none. */
static void print_synthetic(const PruneResult *r, const PruneOptions *o, FILE *f)
{
    char range[80] = "no range";
    if (o->has_range) snprintf(range, sizeof range, "range [%g, %g]", o->range_lo, o->range_hi);
    if (r->fallback[0]) fprintf(f, "prune: synthetic data: %s\n", r->fallback);
    if (!r->inverted) {
        fprintf(f, "prune: synthetic data: %s, %s\n", prune_synthetic_name(r->synthetic), range);
        return;
    }
    const InvertStats *st = &r->inversion;
    fprintf(f,
            "prune: inversion: %s; %d steps, lr %g, tv %g, l2 %g, l1 %g, resolution %g, jitter %d, coverage %g (%s, %d "
            "conv inputs), %s; %.3f s\n",
            st->note, o->inv_steps, o->inv_lr, o->inv_tv, o->inv_l2, o->inv_l1, o->inv_resolution, o->inv_jitter,
            o->inv_coverage, o->inv_coverage_greedy ? "greedy" : "random", st->cover_values, range, st->seconds);
    if (st->method == INVERT_CLASSIFIER)
        fprintf(f, "prune: inversion: self-agreement %.1f%% (images the model assigns their target class i mod %d; "
                   "initially %.1f%%)\n",
                100.0 * st->self_agreement, st->classes, 100.0 * st->init_agreement);
    if (st->n_curve > 1) {
        /* at most 11 points: every `every` steps, then the final loss */
        int stride = (st->n_curve - 2) / 10 + 1, every = stride * st->curve_every;
        fprintf(f, "prune: inversion: loss every %d steps:", every);
        for (int k = 0; k < st->n_curve - 1; k += stride) fprintf(f, " %.3g", st->curve[k]);
        fprintf(f, "; final %.3g\n", st->curve[st->n_curve - 1]);
    }
}

void prune_result_print(const PruneResult *r, const PruneOptions *o, FILE *f)
{
    int64_t kept = 0, total = 0;
    for (int i = 0; i < r->n_layers; i++) kept += r->layers[i].kept, total += r->layers[i].total;
    fprintf(f, "prune: K=%d patterns of N=%d, connectivity %.3g, %s, ", o->patterns, o->pattern_size,
            o->connectivity, r->admm_iters ? "ADMM" : "magnitude projection");
    if (r->samples)
        fprintf(f, "%d %s synthetic samples (%s source), %s\n", r->samples,
                o->sample_fn ? "caller-supplied" : prune_synthetic_name(r->synthetic),
                o->source == PRUNE_SOURCE_ORIGINAL ? "original" : "pruned", o->refit ? "refit" : "no refit");
    else
        fprintf(f, "no synthetic data\n");
    if (r->samples && !o->sample_fn) print_synthetic(r, o, f);
    if (r->n_layers == 0) {
        fprintf(f, "prune: no layer selected (3x3, group-1, f32 Convs with their own constant weights; see --prune-layers)\n");
        return;
    }
    fprintf(f, "prune: pattern library (most frequent top-%d masks of the pruned layers' kernels):\n", r->lib.n);
    for (int p = 0; p < r->lib.k; p++) {
        char ms[16];
        mask_str(r->lib.mask[p], ms);
        int64_t used = 0;
        for (int i = 0; i < r->n_layers; i++) used += r->layers[i].hist[p];
        fprintf(f, "prune:   p%-2d 0x%03x %s  %lld kernels\n", p, r->lib.mask[p], ms, (long long)used);
    }
    fprintf(f, "prune: %-28s %9s %13s %9s %9s %9s %9s %9s %5s %7s %7s\n", "layer (node)", "OCxIC", "kernels kept",
            "err dense", "err admm", "err refit", "primal", "dual", "iters", "data s", "solve s");
    for (int i = 0; i < r->n_layers; i++) {
        const PruneLayerStats *L = &r->layers[i];
        char shape[48], keptb[48];
        snprintf(shape, sizeof shape, "%lldx%lld", (long long)L->oc, (long long)L->ic);
        snprintf(keptb, sizeof keptb, "%lld/%lld", (long long)L->kept, (long long)L->total);
        fprintf(f, "prune: %-28.28s %9s %13s", L->node, shape, keptb);
        print_err(f, L->has_data, L->admm.err_dense);
        print_err(f, L->has_data, L->admm.err_projected);
        print_err(f, L->has_data && o->refit, L->admm.err_refit);
        print_err(f, r->admm_iters > 0, L->admm.primal_residual);
        print_err(f, r->admm_iters > 0, L->admm.dual_residual);
        fprintf(f, " %5d %7.3f %7.3f\n", L->admm.iters_run, L->data_seconds, L->admm.seconds);
        fprintf(f, "prune:   patterns:");
        for (int p = 0; p < r->lib.k; p++) fprintf(f, " p%d=%lld", p, (long long)L->hist[p]);
        fprintf(f, "  removed=%lld%s\n", (long long)(L->total - L->kept), L->bias_refit ? "  (bias refit)" : "");
    }
    if (r->head_node)
        fprintf(f, "prune: classifier refit: %s (%lldx%lld, ridge %g): logit error on the synthetic data %.4f -> %.4f\n",
                r->head_node, (long long)r->head_n, (long long)r->head_k, o->head_ridge, r->head_err_dense,
                r->head_err_refit);
    double w_dense = 9.0 * (double)total, w_kept = (double)r->lib.n * (double)kept;
    double data = r->forward_seconds, solve = 0.0;
    for (int i = 0; i < r->n_layers; i++) data += r->layers[i].data_seconds, solve += r->layers[i].admm.seconds;
    char inv[64] = "";
    if (r->inverted) snprintf(inv, sizeof inv, "model inversion %.3f s, ", r->inversion.seconds);
    fprintf(f, "prune: %d layers, %lld/%lld kernels kept, 3x3 weights %.0f -> %.0f (%.2fx fewer); %.3f s: %ssynthetic "
               "data %.3f s (%.3f s in other layers), ADMM/refit %.3f s\n",
            r->n_layers, (long long)kept, (long long)total, w_dense, w_kept, w_kept > 0 ? w_dense / w_kept : 0.0,
            r->seconds, inv, data, r->forward_seconds, solve);
}
