/* prune_opts.h — ppcc's pruning options (--prune and friends, including the synthetic data and
 * model inversion options, docs/pruning.md): parsing with range checks, hooking the options
 * into the pass pipeline ("prune" before fold-batchnorm) and the PassContext, --save-synthetic
 * (a PruneSaveFn the pass calls with its synthetic inputs) and --save-pruned after the
 * pipeline.
 *
 * ppcc.c adds PRUNE_LONG_OPTIONS to its getopt_long table, PRUNE_USAGE to its help, hands every
 * option code for which prune_cli_is_option() holds to prune_cli_option(), calls
 * prune_cli_finish() once the command line is read, passes its pipeline through
 * prune_cli_pipeline(), calls prune_cli_save() right after the pipeline, prune_cli_discard() if
 * the compile fails later, and prune_cli_free().
 */
#ifndef PPCC_PRUNE_OPTS_H
#define PPCC_PRUNE_OPTS_H

#include <getopt.h>

#include "passes/prune_pass.h"

enum {
    PRUNE_OPT_BASE = 0x1000,
    PRUNE_OPT_PRUNE = PRUNE_OPT_BASE,
    PRUNE_OPT_PATTERNS,
    PRUNE_OPT_PATTERN_SIZE,
    PRUNE_OPT_CONNECTIVITY,
    PRUNE_OPT_ADMM_ITERS,
    PRUNE_OPT_ADMM_RHO,
    PRUNE_OPT_SAMPLES,
    PRUNE_OPT_SYNTHETIC,
    PRUNE_OPT_SOURCE,
    PRUNE_OPT_NO_REFIT,
    PRUNE_OPT_LAYERS,
    PRUNE_OPT_FIRST,
    PRUNE_OPT_SAVE,
    PRUNE_OPT_INV_STEPS,
    PRUNE_OPT_INV_LR,
    PRUNE_OPT_INV_TV,
    PRUNE_OPT_INV_L2,
    PRUNE_OPT_INV_L1,
    PRUNE_OPT_INV_RES,
    PRUNE_OPT_INV_COVER,
    PRUNE_OPT_INV_COVER_PICK,
    PRUNE_OPT_INV_JITTER,
    PRUNE_OPT_RANGE,
    PRUNE_OPT_SAVE_SYNTH,
    PRUNE_OPT_CLS_RIDGE,
    PRUNE_OPT_NO_CLS_REFIT,
    PRUNE_OPT_END
};

#define PRUNE_LONG_OPTIONS                                                  \
    {"prune", no_argument, 0, PRUNE_OPT_PRUNE},                             \
    {"patterns", required_argument, 0, PRUNE_OPT_PATTERNS},                 \
    {"pattern-size", required_argument, 0, PRUNE_OPT_PATTERN_SIZE},         \
    {"connectivity", required_argument, 0, PRUNE_OPT_CONNECTIVITY},         \
    {"admm-iters", required_argument, 0, PRUNE_OPT_ADMM_ITERS},             \
    {"admm-rho", required_argument, 0, PRUNE_OPT_ADMM_RHO},                 \
    {"synthetic-samples", required_argument, 0, PRUNE_OPT_SAMPLES},         \
    {"synthetic", required_argument, 0, PRUNE_OPT_SYNTHETIC},               \
    {"synthetic-source", required_argument, 0, PRUNE_OPT_SOURCE},           \
    {"no-refit", no_argument, 0, PRUNE_OPT_NO_REFIT},                       \
    {"prune-layers", required_argument, 0, PRUNE_OPT_LAYERS},               \
    {"prune-first", no_argument, 0, PRUNE_OPT_FIRST},                       \
    {"save-pruned", required_argument, 0, PRUNE_OPT_SAVE},                 \
    {"inversion-steps", required_argument, 0, PRUNE_OPT_INV_STEPS},         \
    {"inversion-lr", required_argument, 0, PRUNE_OPT_INV_LR},               \
    {"inversion-tv", required_argument, 0, PRUNE_OPT_INV_TV},               \
    {"inversion-l2", required_argument, 0, PRUNE_OPT_INV_L2},               \
    {"inversion-l1", required_argument, 0, PRUNE_OPT_INV_L1},               \
    {"inversion-resolution", required_argument, 0, PRUNE_OPT_INV_RES},      \
    {"inversion-coverage", required_argument, 0, PRUNE_OPT_INV_COVER},      \
    {"inversion-coverage-pick", required_argument, 0, PRUNE_OPT_INV_COVER_PICK}, \
    {"inversion-jitter", required_argument, 0, PRUNE_OPT_INV_JITTER},       \
    {"synthetic-range", required_argument, 0, PRUNE_OPT_RANGE},             \
    {"save-synthetic", required_argument, 0, PRUNE_OPT_SAVE_SYNTH},         \
    {"classifier-ridge", required_argument, 0, PRUNE_OPT_CLS_RIDGE},        \
    {"no-classifier-refit", no_argument, 0, PRUNE_OPT_NO_CLS_REFIT},

#define PRUNE_USAGE                                                                                  \
    "Pruning (data-free: no data is read, see docs/pruning.md):\n"                                   \
    "  --prune               prune 3x3 convs to pattern sparsity by ADMM on synthetic inputs\n"      \
    "                        (pass 'prune', before fold-batchnorm)\n"                                \
    "  --patterns K          pattern library size (default 8; at most C(8,N-1), 56 for N=4)\n"       \
    "  --pattern-size N      weights kept per 3x3 kernel, centre included (1..9, default 4)\n"       \
    "  --connectivity R      fraction of each layer's kernels removed, 0 <= R < 1 (default 0)\n"     \
    "  --admm-iters N        ADMM iterations (default 20 on inverted images, 10 on gaussian/uniform\n" \
    "                        data; 0: magnitude projection, no ADMM)\n"                            \
    "  --admm-rho X          ADMM penalty relative to trace(G)/n, fixed (default 1)\n"               \
    "  --synthetic=KIND      inverted (default: model inversion, images the model itself\n"         \
    "                        classifies; falls back to BatchNorm statistics or gaussian and says\n"  \
    "                        so; gaussian when it would exceed 10 TFLOP unless given explicitly),\n" \
    "                        gaussian (N(0,1)) or uniform ([0,1))\n"                                 \
    "  --synthetic-samples S synthetic inputs (default 256 inverted, 16 gaussian/uniform)\n"         \
    "  --synthetic-range LO,HI  the model's input range: inversion starts in and stays within it,\n" \
    "                        gaussian/uniform values are mapped into it (default: none; the\n"       \
    "                        MNIST example expects 0,1)\n"                                           \
    "  --inversion-steps N   Adam steps of model inversion (default 200)\n"                          \
    "  --inversion-lr X      its learning rate (default 0.15)\n"                                     \
    "  --inversion-tv X      total-variation weight (default 1)\n"                                   \
    "  --inversion-l2 X      L2 weight (default 0)\n"                                                \
    "  --inversion-l1 X      L1 weight (default 4)\n"                                                \
    "  --inversion-resolution R  optimise images at R x the input's size, upsampled (default 0.55)\n" \
    "  --inversion-coverage X  weight of the channel-coverage term: each image also excites one\n"   \
    "                        channel of one pruned layer's input (default 0.6; 0: off)\n"           \
    "  --inversion-coverage-pick=P  which channel: random (default, drawn per image) or greedy\n"   \
    "                        (after the first 64 images, the least excited so far)\n"                \
    "  --inversion-jitter P  random shift of up to P pixels per step (default 2)\n"                  \
    "  --save-synthetic DIR  write the synthetic inputs as DIR/synthetic_K.pb and a grid PNG\n"       \
    "                        DIR/synthetic.png\n"                                                    \
    "  --synthetic-source=S  which network's activations feed each layer: pruned (default: the\n"    \
    "                        already-pruned layers, error correction) or original\n"                 \
    "  --no-refit            skip the masked least-squares refit after ADMM\n"                       \
    "  --no-classifier-refit keep the classifier head (the final Gemm) as it is; by default, on\n"  \
    "                        inverted data, it is refit to the original logits after the last\n"   \
    "                        pruned layer\n"                                                        \
    "  --classifier-ridge X  that refit's ridge towards the original weights, relative to\n"       \
    "                        trace(G)/n (0 < X <= 1e6, default 0.03)\n"                           \
    "  --prune-layers=LIST   'all' or comma-separated Conv node/weight names (default: every\n"      \
    "                        3x3 group-1 f32 conv except one reading a <=3-channel graph input)\n"   \
    "  --prune-first         also prune that first conv\n"                                           \
    "  --save-pruned F.onnx  write the model with its pruned weights (same graph) as ONNX\n"         \
    "  (--seed N seeds the synthetic data; --stats prints the per-layer pruning report)\n"

typedef struct PruneCli {
    int enabled;             /* --prune */
    int given;               /* some pruning option other than --prune was given */
    const char *given_name;  /* its spelling, for the error */
    PruneOptions opt;
    int inversion_given;     /* an --inversion-* option was given (needs --synthetic=inverted) */
    const char *inversion_name;
    const char *synth_dir;   /* --save-synthetic */
    const char *save_path;   /* --save-pruned */
    int saved;               /* save_path (a regular file) was written by prune_cli_save */
    int ridge_given;         /* --classifier-ridge */
    int no_head;             /* --no-classifier-refit */
    PruneResult result;
} PruneCli;

void prune_cli_init(PruneCli *c);
/* Is this getopt_long code one of PRUNE_LONG_OPTIONS? */
static inline int prune_cli_is_option(int code) { return code >= PRUNE_OPT_BASE && code < PRUNE_OPT_END; }
/* Parse one option (range errors are one line naming the option). */
int prune_cli_option(PruneCli *c, int code, const char *arg, Diag *d);
/* After the command line: check the combination (pruning options need --prune, --save-pruned
 * needs an .onnx input, --inversion-* options need inverted synthetic data, --save-synthetic
 * needs synthetic data), point pc->prune at the options, send the report to stderr with
 * --stats and notes (inversion fell back) to stderr always. input may be NULL
 * (--print-pipeline). */
int prune_cli_finish(PruneCli *c, PassContext *pc, int stats, const char *input, Diag *d);
/* The pipeline to run: `pipeline` (malloc'ed, consumed) with "prune" inserted before the first
 * fold-batchnorm (appended when there is none) if --prune is on and the list lacks it.
 * Returns a malloc'ed string. */
char *prune_cli_pipeline(const PruneCli *c, char *pipeline);
/* --save-pruned: the ONNX input re-read with the pruned initializers replaced. */
int prune_cli_save(PruneCli *c, const char *input, Diag *d);
/* The compile failed after prune_cli_save: remove the file it wrote (not a special file), so a
 * failed run leaves no output. */
void prune_cli_discard(PruneCli *c);
void prune_cli_free(PruneCli *c);

#endif
