#!/usr/bin/python3
"""Make the benchmark self-test's model: a Gemm (y = x W + b, x [1,256], W [256,512]) with
seeded random weights, as an exported model directory (the layout of tests/models/export.py)
plus a C header with the same weights for fixture.c, the hand-written "compiled" version.

Usage: /usr/bin/python3 bench/selftest/gen_fixture.py OUTDIR
writes OUTDIR/models/gemm/{model.onnx,test_data_set_0/input_0.pb,test_data_set_0/output_0.pb}
and OUTDIR/weights.h.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

K, N = 256, 512


def main(out):
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((K, N)) / 16).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    x = rng.standard_normal((1, K)).astype(np.float32)
    data = os.path.join(out, "models", "gemm", "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["input", "W", "B"], ["output"], name="fc")], "gemm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, K])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, N])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, os.path.join(out, "models", "gemm", "model.onnx"))
    y = (x.astype(np.float64) @ w + b).astype(np.float32)
    for name, arr, key in (("input_0.pb", x, "input"), ("output_0.pb", y, "output")):
        with open(os.path.join(data, name), "wb") as f:
            f.write(numpy_helper.from_array(arr, key).SerializeToString())
    with open(os.path.join(out, "weights.h"), "w") as f:
        f.write("#define K %d\n#define N %d\n" % (K, N))
        for name, arr in (("W", w), ("B", b)):
            f.write("static const float %s[%d] = {%s};\n" % (
                name, arr.size, ",".join(float(v).hex() + "f" for v in arr.ravel())))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
