#!/bin/sh
# run.sh — `make prune-test`: the prune pass end to end through ppcc on the shipped MNIST example
# (part of `make test`; about 10 s). Checks:
#   1. --save-pruned round trip: the saved ONNX model, imported again by ppcc's frontend, gives the
#      same interpreter outputs as the pruned IR (|diff| <= 1e-6), and the same graph as the
#      original (python3-onnx: same nodes, inputs, outputs and initializer names/shapes; only the
#      pruned initializers' data changed, to exactly the 3x3 pattern structure);
#   2. the compiled pruned model (--prune --emit=so) matches the saved ONNX model run by the
#      interpreter (rtol 1e-4, atol 1e-5);
#   3. determinism: the same options and seed give byte-identical --save-pruned files; another
#      seed gives different weights;
#   4. metadata: --stats prints the library and per-layer rows, dumps summarise prune_ids;
#   5. a failed compile after --save-pruned leaves no file behind.
# Usage: tests/prune/run.sh [BUILD]   (BUILD defaults to build)
BUILD=${1:-build}
PPCC=$BUILD/bin/ppcc
PPCRUN=$BUILD/bin/ppcrun
PY=/usr/bin/python3
M=examples/mnist/mnist_cnn.onnx
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# 1. round trip (connectivity 0.5: whole kernels removed too)
if "$PPCC" "$M" --prune --connectivity 0.5 --emit=ir -o "$TMP/p.ir" --save-pruned "$TMP/p.onnx" 2> "$TMP/err"; then
  ok
  "$PPCRUN" "$TMP/p.onnx" --random 3 -o "$TMP/ref" > /dev/null 2>&1 || bad "ppcrun on the saved model"
  if "$PPCRUN" "$TMP/p.ir" --random 3 --expect "$TMP/ref" --rtol 0 --atol 1e-6 > "$TMP/out" 2>&1; then ok; else
    bad "saved model and pruned IR differ"; cat "$TMP/out"; fi
  "$PPCRUN" "$M" --random 3 -o "$TMP/dense" > /dev/null 2>&1
  if "$PPCRUN" "$TMP/p.ir" --random 3 --expect "$TMP/dense" --rtol 0 --atol 1e-6 > /dev/null 2>&1; then
    bad "the pruned model computes the same as the dense one (nothing was pruned?)"; else ok; fi
  if $PY - "$M" "$TMP/p.onnx" > "$TMP/py" 2>&1 <<'EOF'
import sys
import numpy as np
import onnx
from onnx import numpy_helper
a, b = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
onnx.checker.check_model(b)
assert [n.SerializeToString() for n in a.graph.node] == [n.SerializeToString() for n in b.graph.node], "nodes differ"
assert a.graph.input == b.graph.input and a.graph.output == b.graph.output, "graph inputs/outputs differ"
assert a.opset_import == b.opset_import and a.ir_version == b.ir_version, "opset/ir_version differ"
ia = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
ib = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
assert list(ia) == list(ib), "initializer names differ"
changed = [k for k in ia if ia[k].shape != ib[k].shape or not np.array_equal(ia[k], ib[k])]
for k in ia:
    assert ia[k].shape == ib[k].shape and ia[k].dtype == ib[k].dtype, k
w3 = [k for k in changed if ib[k].ndim == 4]
assert len(w3) == 4, "expected the 4 non-stem 3x3 weights to change, got %s" % changed
for k in w3:
    w = ib[k].reshape(-1, 9)
    nz = (w != 0).sum(1)
    assert set(nz.tolist()) <= {0, 1, 2, 3, 4}, (k, sorted(set(nz.tolist())))
    removed = (nz == 0).mean()
    assert abs(removed - 0.5) < 0.01, (k, removed)
stem = [k for k in ia if ia[k].ndim == 4 and ia[k].shape[1] == 1]
assert stem and all(k not in changed for k in stem), "the stem conv must stay dense"
print("saved model: same graph,", len(changed), "initializers changed")
EOF
  then ok; else bad "saved ONNX model check"; cat "$TMP/py"; fi
else
  bad "ppcc --prune --save-pruned"; cat "$TMP/err"
fi

# 2. the compiled pruned model against the saved model (interpreter)
if "$PPCC" "$M" --prune --connectivity 0.5 -o "$TMP/p.so" 2> "$TMP/err"; then
  "$PPCRUN" "$TMP/p.onnx" --random 5 -o "$TMP/ref5" > /dev/null 2>&1
  if "$PPCRUN" "$TMP/p.so" --random 5 --threads 1 --expect "$TMP/ref5" --rtol 1e-4 --atol 1e-5 > "$TMP/out" 2>&1; then ok; else
    bad "compiled pruned model differs from the saved model"; cat "$TMP/out"; fi
else
  bad "ppcc --prune --emit=so"; cat "$TMP/err"
fi

# 3. determinism (data path: ADMM + refit on synthetic data)
for s in 1 2; do
  "$PPCC" "$M" --prune --connectivity 0.3 --seed 5 --emit=ir -o /dev/null --save-pruned "$TMP/d$s.onnx" 2> "$TMP/err" ||
    { bad "ppcc --prune (determinism run $s)"; cat "$TMP/err"; }
done
"$PPCC" "$M" --prune --connectivity 0.3 --seed 6 --emit=ir -o /dev/null --save-pruned "$TMP/d3.onnx" 2> /dev/null
if [ -s "$TMP/d1.onnx" ] && cmp -s "$TMP/d1.onnx" "$TMP/d2.onnx"; then ok; else bad "same seed, different --save-pruned bytes"; fi
if [ -s "$TMP/d3.onnx" ] && ! cmp -s "$TMP/d1.onnx" "$TMP/d3.onnx"; then ok; else bad "another seed gives the same weights"; fi
"$PPCC" "$M" --prune --synthetic-source=original --synthetic=uniform --seed 5 --emit=ir -o "$TMP/u1.ir" 2> /dev/null
"$PPCC" "$M" --prune --synthetic-source=original --synthetic=uniform --seed 5 --emit=ir -o "$TMP/u2.ir" 2> /dev/null
if [ -s "$TMP/u1.ir" ] && cmp -s "$TMP/u1.ir" "$TMP/u2.ir"; then ok; else bad "uniform/original: not deterministic"; fi

# 4. metadata in --stats and dumps
"$PPCC" "$M" --prune --patterns 6 --connectivity 0.5 --stats --dump-after prune --emit=ir -o /dev/null 2> "$TMP/stats"
if grep -q "^prune: pattern library" "$TMP/stats" && [ "$(grep -c '^prune:   p[0-9]' "$TMP/stats")" = 6 ] &&
   [ "$(grep -c '^prune: /features/features\.[0-9]*/Conv ' "$TMP/stats")" = 4 ] &&
   grep -q "^prune: 4 layers, 1920/3840 kernels kept" "$TMP/stats" &&
   grep -q 'prune_patterns=\[[0-9,]*\], prune_ids=i16\[32,32\] <1024 values' "$TMP/stats"; then ok; else
  bad "--stats / dump output"; grep "^prune" "$TMP/stats" | head -20; fi

# 5. a failing compile after --save-pruned removes the saved file again
"$PPCC" "$M" --prune --emit=ir -o "$TMP/no/such/dir/out.ir" --save-pruned "$TMP/left.onnx" 2> /dev/null
if [ $? = 1 ] && [ ! -e "$TMP/left.onnx" ]; then ok; else bad "--save-pruned file left after a failed compile"; fi

echo "prune tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
