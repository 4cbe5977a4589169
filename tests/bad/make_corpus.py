#!/usr/bin/python3
"""make_corpus.py — writes the bad-input corpus of tests/bad/corpus (committed; rerun to refresh).

Every file here must make ppcc (and ppcrun, for .pb files) fail with one clear line and exit 1,
under ASan/UBSan, leaving no output file. Run with Debian's /usr/bin/python3 (python3-onnx)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "bad", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def save(name, m):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(m.SerializeToString() if hasattr(m, "SerializeToString") else m)


def raw_tensor(name, dtype, dims, raw=None, floats=None):
    """A TensorProto built field by field (onnx.helper refuses inconsistent ones)."""
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    if floats is not None:
        t.float_data.extend(floats)
    return t


def relu_model():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu0")], [vi("x", [1, 4])], [vi("y", [1, 4])])


def main():
    os.makedirs(HERE, exist_ok=True)
    good = relu_model().SerializeToString()
    save("empty.onnx", b"")
    save("truncated.onnx", good[: len(good) // 2])
    save("garbage.onnx", bytes((i * 131 + 7) % 256 for i in range(300)))
    save("text.onnx", b"this is not an onnx model\n")
    save("png-header.onnx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    # a cycle: a -> b -> a
    save("cycle.onnx", model([helper.make_node("Relu", ["b"], ["a"], name="r1"),
                              helper.make_node("Relu", ["a"], ["b"], name="r2")],
                             [vi("x", [1, 4])], [vi("b", [1, 4])]))
    save("dangling.onnx", model([helper.make_node("Add", ["x", "nowhere"], ["y"], name="add0")],
                                [vi("x", [1, 4])], [vi("y", [1, 4])]))
    save("undefined-output.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                        [vi("x", [1, 4])], [vi("zzz", [1, 4])]))
    w = raw_tensor("w", TensorProto.FLOAT, [2, 3], raw=np.ones(5, np.float32).tobytes())
    save("init-size-mismatch.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                          [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    w = raw_tensor("w", TensorProto.FLOAT, [2, 3], floats=[1.0] * 4)
    save("init-typed-size-mismatch.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                                [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    w = raw_tensor("w", TensorProto.FLOAT, [2, -3], raw=b"")
    save("negative-dim.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                    [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    w = raw_tensor("w", TensorProto.FLOAT, [1 << 31, 1 << 31, 1 << 31], raw=b"")
    save("overflow-dim.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                    [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    save("negative-input-dim.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                          [vi("x", [1, -4])], [vi("y", [1, 4])]))
    w = helper.make_tensor("w", TensorProto.STRING, [1], [b"hello"])
    save("string-dtype.onnx", model([helper.make_node("Identity", ["w"], ["y"], name="id0")],
                                    [vi("x", [1])], [vi("y", [1], TensorProto.STRING)], [w]))
    save("f16-input.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                 [vi("x", [1, 4], TensorProto.FLOAT16)], [vi("y", [1, 4], TensorProto.FLOAT16)]))
    cw = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "cw")
    save("conv-group-zero.onnx", model([helper.make_node("Conv", ["x", "cw"], ["y"], name="conv0", group=0)],
                                       [vi("x", [1, 2, 8, 8])], [vi("y", [1, 4, 6, 6])], [cw]))
    save("conv-channel-mismatch.onnx", model([helper.make_node("Conv", ["x", "cw"], ["y"], name="conv0")],
                                             [vi("x", [1, 3, 8, 8])], [vi("y", [1, 4, 6, 6])], [cw]))
    save("conv-negative-stride.onnx", model([helper.make_node("Conv", ["x", "cw"], ["y"], name="conv0",
                                                               strides=[-1, 1])],
                                            [vi("x", [1, 2, 8, 8])], [vi("y", [1, 4, 6, 6])], [cw]))
    save("conv-kernel-too-big.onnx", model([helper.make_node("Conv", ["x", "cw"], ["y"], name="conv0")],
                                           [vi("x", [1, 2, 2, 2])], [vi("y", [1, 4, 1, 1])], [cw]))
    save("unknown-op.onnx", model([helper.make_node("FancyOp", ["x"], ["y"], name="fancy0")],
                                  [vi("x", [1, 4])], [vi("y", [1, 4])]))
    save("transpose-bad-perm.onnx", model([helper.make_node("Transpose", ["x"], ["y"], name="tr0", perm=[0, 0])],
                                          [vi("x", [2, 4])], [vi("y", [4, 2])]))
    shp = numpy_helper.from_array(np.array([3, 3], np.int64), "shp")
    save("reshape-bad-size.onnx", model([helper.make_node("Reshape", ["x", "shp"], ["y"], name="reshape0")],
                                        [vi("x", [2, 4])], [vi("y", [3, 3])], [shp]))
    save("symbolic-dim.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                    [vi("x", ["N", 4])], [vi("y", ["N", 4])]))
    # external data that escapes the model folder
    w = raw_tensor("w", TensorProto.FLOAT, [2, 3])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../../../etc/passwd"), ("offset", "0"), ("length", "24")):
        e = w.external_data.add()
        e.key, e.value = k, v
    save("external-escape.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                       [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    w = raw_tensor("w", TensorProto.FLOAT, [2, 3])
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", "/etc/passwd"
    save("external-absolute.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                         [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    w = raw_tensor("w", TensorProto.FLOAT, [2, 3])
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", "missing-weights.bin"
    save("external-missing.onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                                        [vi("x", [2, 3])], [vi("y", [2, 3])], [w]))
    # TensorProto inputs for ppcrun
    t = numpy_helper.from_array(np.ones((1, 4), np.float32), "x").SerializeToString()
    save("truncated-input.pb", t[: len(t) - 5])
    save("garbage-input.pb", bytes((i * 37 + 3) % 256 for i in range(64)))
    save("wrong-shape-input.pb", numpy_helper.from_array(np.ones((2, 4), np.float32), "x").SerializeToString())
    save("wrong-dtype-input.pb", numpy_helper.from_array(np.ones((1, 4), np.int64), "x").SerializeToString())
    save("wrong-name-input.pb", numpy_helper.from_array(np.ones((1, 4), np.float32), "nope").SerializeToString())
    save("relu-ok.onnx", relu_model())  # the model the .pb cases are fed to
    print("wrote", len(os.listdir(HERE)), "files to", HERE)


if __name__ == "__main__":
    sys.exit(main())
