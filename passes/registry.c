/* registry.c — the table of every pass (name, one-line description, function) and the default
 * pipeline, spelled out as data.
 *
 * Why the default order is what it is:
 *   infer-shapes       every later pass reads dtypes and static shapes.
 *   fold-constants     turns shape arithmetic and weight preprocessing (Transpose/Reshape/Cast of
 *                      initializers, Shape/Size of static values) into constants, so the pattern
 *                      matchers below see constant weights.
 *   remove-identity    Identity/Dropout between a Conv and its BatchNorm or activation would hide
 *                      the adjacency the fusions look for.
 *   canonicalize-gemm  MatMul(+Add) with constant weights becomes Gemm before the fusions, so
 *                      MatMul+Add+BatchNorm+Relu chains fold and fuse like Gemm ones do.
 *   (prune)            only with ppcc --prune, inserted here: after the clean-ups (constant
 *                      weights) and before fold-batchnorm, so it prunes the model's own conv
 *                      weights, whose names are the ONNX initializers (--save-pruned); folding
 *                      BN afterwards scales whole rows and keeps the zeros.
 *   fold-batchnorm     BN sits between the Conv/Gemm and its activation (Conv-BN-Relu): it must
 *                      be folded before the activation can be fused.
 *   fuse-activation    last rewrite: a Conv/Gemm carries at most one fused activation.
 *   dce                sweeps the nodes the others left without uses.
 *
 * The code-generation pipeline (pass_codegen_pipeline) is the default one followed by:
 *   legalize           Concats of more than 15 inputs split, zero Pads folded into the Conv or
 *                      AveragePool reading them: forms the native kernels take; before layout,
 *                      which then blocks them.
 *   layout             convolution chains to NCHW16c (needs the fused Conv+BN+Relu of above).
 *   fuse-residual      Add(conv, other) -> Conv residual input; after layout, so the residual
 *                      has the Conv output's (blocked) type.
 *   fuse-activation    again: the Relu that followed the residual Add now follows the Conv.
 *   pattern-detect     convs whose weights are pattern-sparse but carry no prune metadata (a
 *                      model pruned elsewhere, or ppcc --save-pruned output) get it from their
 *                      weights; before the two passes that read it.
 *   filter-reorder     pruned convs' filters sorted (kernel count, pattern signature), one
 *                      permutation per class of channel-tied values (residual chains, pooling),
 *                      folded into the producing convs and the consuming convs and Gemms; after
 *                      the fusions, which decide who consumes what, and before pattern-group
 *                      builds blocks of 16.
 *   pattern-group      pruned convs (prune metadata) -> PatternPad + PatternConv where the
 *                      sparse kernel is predicted faster; after the fusions (it keeps the
 *                      activation and residual), then dce for the dense weights it replaced.
 *   schedule           register tiles of the blocked convs, whose shapes are now final.
 *   plan-memory        last: any later rewrite would invalidate the buffers it assigns.
 */
#include "passes/passes.h"

#include <string.h>

const PassInfo pass_registry[] = {
    {"infer-shapes", "infer dtypes and static shapes of every value", pass_infer_shapes},
    {"fold-constants", "evaluate nodes whose inputs are all constants (and Shape/Size) into constants",
     pass_fold_constants},
    {"remove-identity", "remove Identity and inference Dropout nodes", pass_remove_identity},
    {"canonicalize-gemm",
     "MatMul(+bias Add) with constant weights -> Gemm (an N-D left operand through Reshapes); constant B as "
     "[N,K] (transB=1), alpha/beta folded",
     pass_canonicalize_gemm},
    {"prune", "data-free ADMM pattern pruning of 3x3 convs on synthetic data (ppcc --prune; docs/pruning.md)",
     pass_prune},
    {"fold-batchnorm",
     "fold BatchNormalization into a preceding Conv, ConvTranspose or Gemm; one that cannot fold -> per-channel "
     "Mul + Add",
     pass_fold_batchnorm},
    {"fuse-activation", "fuse Relu/LeakyRelu/Clip/Sigmoid/Tanh/HardSigmoid/HardSwish into Conv or Gemm",
     pass_fuse_activation},
    {"dce", "remove nodes whose outputs are unused and unused optional outputs", pass_dce},
    {"legalize",
     "grouped Conv with 2-8 channels per group -> groups of 16 (block-diagonal weights); Concat of > 15 "
     "inputs -> nested Concats; zero Pad -> pads of the Conv/AveragePool reading it",
     pass_legalize},
    {"layout", "move f32 2-D convolution chains to the blocked NCHW16c layout (LayoutTransform at the borders)",
     pass_layout},
    {"fuse-residual", "fuse Add(conv_out, other) into the Conv as its residual input", pass_fuse_residual},
    {"pattern-detect",
     "attach pattern metadata (library, per-kernel ids) to convs whose weights are pattern-sparse",
     pass_pattern_detect},
    {"filter-reorder",
     "sort pruned convs' filters by kernel count and pattern signature, one order per class of channel-tied values "
     "(residual chains, pooling), folded into the producing and consuming convs and Gemms",
     pass_filter_reorder},
    {"pattern-group",
     "pattern-pruned blocked convs -> PatternPad + PatternConv (compact storage, tile, dense-or-sparse choice)",
     pass_pattern_group},
    {"schedule", "set register-tile attributes (sched_oc_tile, sched_ow_tile) of blocked convs", pass_schedule},
    {"plan-memory", "assign every value a buffer and offset (workspace by liveness, views, in place)",
     pass_plan_memory},
};
const int pass_registry_count = (int)(sizeof pass_registry / sizeof pass_registry[0]);

static const char default_pipeline[] =
    "infer-shapes,fold-constants,remove-identity,canonicalize-gemm,fold-batchnorm,fuse-activation,dce";

const PassInfo *pass_find(const char *name)
{
    for (int i = 0; i < pass_registry_count; i++)
        if (!strcmp(pass_registry[i].name, name)) return &pass_registry[i];
    return NULL;
}

const char *pass_default_pipeline(void) { return default_pipeline; }

static const char codegen_pipeline[] =
    "infer-shapes,fold-constants,remove-identity,canonicalize-gemm,fold-batchnorm,fuse-activation,dce,"
    "legalize,layout,fuse-residual,fuse-activation,pattern-detect,filter-reorder,pattern-group,dce,schedule,plan-memory";

const char *pass_codegen_pipeline(void) { return codegen_pipeline; }
