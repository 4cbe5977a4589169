#!/usr/bin/python3
"""Relative L2 error of two ONNX TensorProto files (debugging aid).

Usage: /usr/bin/python3 tests/models/rel_l2.py [--max T] A.pb B.pb

Prints ||a - b|| / ||b|| (b is the reference) and exits 1 if it is above T
(default 1e-4), 2 on bad usage or mismatched shapes.
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def load(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", help="tensor to check (e.g. ppcc's output)")
    p.add_argument("b", help="reference tensor (e.g. torch's output_0.pb)")
    p.add_argument("--max", type=float, default=1e-4,
                   help="maximum allowed relative L2 error (default 1e-4)")
    args = p.parse_args()

    a, b = load(args.a), load(args.b)
    if a.shape != b.shape:
        print("shape mismatch: %s vs %s" % (a.shape, b.shape), file=sys.stderr)
        return 2
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    num = np.linalg.norm(a - b)
    den = np.linalg.norm(b)
    if den == 0.0:
        err = 0.0 if num == 0.0 else float("inf")
    else:
        err = num / den
    if not np.isfinite(a).all():
        err = float("inf")
    ok = err <= args.max
    print("rel_l2 %.3e  max_abs %.3e  (%s, max %.1e)"
          % (err, np.max(np.abs(a - b)) if a.size else 0.0,
             "ok" if ok else "FAIL", args.max))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
