#!/usr/bin/python3
"""Generate the "real architectures" test data for ppcc.

Usage: /usr/bin/python3 tests/models/export.py OUTDIR [MODEL...]

MODEL is one of: resnet18, mobilenet_v2, squeezenet1_1, vgg16, efficientnet_b0,
densenet121, regnet_y_400mf, resnext50_32x4d, convnext_tiny
(default: resnet18 mobilenet_v2 squeezenet1_1).

For each model this writes, in the layout of the ONNX backend test data:

    OUTDIR/NAME/model.onnx                     opset 13, input "input"
                                               [1,3,224,224] f32, output "output"
    OUTDIR/NAME/test_data_set_0/input_0.pb     TensorProto "input"
    OUTDIR/NAME/test_data_set_0/output_0.pb    TensorProto "output" (torch's result)

The weights are random (torchvision architecture with weights=None, seeded),
BatchNorm statistics and affine parameters are randomised a little (seeded) so
that BN is not the identity. Everything is deterministic.

A model whose three files exist and are newer than this script is skipped
(make-style caching). Needs Debian's python3-torch, python3-torchvision,
python3-onnx and python3-numpy, i.e. run it with /usr/bin/python3.
"""

import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torchvision

MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1", "vgg16",
          # architectures beyond the benchmark's, compiled by tests/codegen/run.sh
          "efficientnet_b0", "densenet121", "regnet_y_400mf", "resnext50_32x4d", "convnext_tiny",
          # and timed against ONNX Runtime by make bench-zoo
          "resnet50", "googlenet", "inception_v3", "mobilenet_v3_small", "shufflenet_v2_x1_0",
          "mnasnet1_0"]
DEFAULT_MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1"]

OPSET = 13
MODEL_SEED = 0
BN_SEED = 0
INPUT_SEED = 1
INPUT_SHAPE = (1, 3, 224, 224)

FILES = ("model.onnx",
         os.path.join("test_data_set_0", "input_0.pb"),
         os.path.join("test_data_set_0", "output_0.pb"))


def usage(msg=None):
    if msg:
        print("export.py: " + msg, file=sys.stderr)
    print("usage: /usr/bin/python3 tests/models/export.py OUTDIR [MODEL...]\n"
          "models: " + ", ".join(MODELS) +
          " (default: " + " ".join(DEFAULT_MODELS) + ")", file=sys.stderr)
    sys.exit(2)


def up_to_date(model_dir):
    """True if all output files exist and are newer than this script."""
    script_mtime = os.path.getmtime(os.path.abspath(__file__))
    for rel in FILES:
        path = os.path.join(model_dir, rel)
        if not os.path.isfile(path) or os.path.getmtime(path) <= script_mtime:
            return False
    return True


def randomise_batchnorm(model):
    """Give every BatchNorm layer non-trivial (seeded) statistics/affine."""
    gen = torch.Generator().manual_seed(BN_SEED)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                n = mod.num_features
                mod.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                mod.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                if mod.affine:
                    mod.weight.copy_(1.0 + 0.1 * torch.randn(n, generator=gen))
                    mod.bias.copy_(0.1 * torch.randn(n, generator=gen))


def build(name):
    torch.manual_seed(MODEL_SEED)
    model = getattr(torchvision.models, name)(weights=None)
    randomise_batchnorm(model)
    model.eval()
    return model


def write_tensor(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def export_one(name, outdir):
    model_dir = os.path.join(outdir, name)
    data_dir = os.path.join(model_dir, "test_data_set_0")
    if up_to_date(model_dir):
        print("%-14s up to date, skipped" % name, flush=True)
        return

    t0 = time.time()
    os.makedirs(data_dir, exist_ok=True)
    model = build(name)

    torch.manual_seed(INPUT_SEED)
    x = torch.randn(*INPUT_SHAPE, dtype=torch.float32)

    with torch.no_grad():
        y = model(x)
    y = y.detach().numpy().astype(np.float32)

    # Write everything to temporary names first, then rename, so an
    # interrupted run never leaves files that look up to date.
    tmp = {rel: os.path.join(model_dir, rel) + ".tmp" for rel in FILES}
    with torch.no_grad():
        torch.onnx.export(
            model, x, tmp["model.onnx"],
            input_names=["input"], output_names=["output"],
            opset_version=OPSET, do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL,
            export_params=True)
    # Keep the weights inline: reload and check nothing went external.
    m = onnx.load(tmp["model.onnx"], load_external_data=False)
    for init in m.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise RuntimeError("%s: initializer %s stored externally"
                               % (name, init.name))

    write_tensor(tmp[FILES[1]], x.numpy().astype(np.float32), "input")
    write_tensor(tmp[FILES[2]], y, "output")
    for rel in FILES:
        os.replace(tmp[rel], os.path.join(model_dir, rel))

    size = os.path.getsize(os.path.join(model_dir, "model.onnx"))
    print("%-14s exported in %6.1fs  (model.onnx %.1f MB, output %s)"
          % (name, time.time() - t0, size / 1e6, list(y.shape)), flush=True)


def main(argv):
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        usage()
    outdir, names = args[0], args[1:] or DEFAULT_MODELS
    for n in names:
        if n not in MODELS:
            usage("unknown model '%s'" % n)

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    for n in names:
        export_one(n, outdir)


if __name__ == "__main__":
    main(sys.argv)
