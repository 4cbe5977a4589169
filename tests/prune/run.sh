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
#   5. a failed compile after --save-pruned leaves no file behind;
#   6. model inversion (the default synthetic data; small sample/step counts to stay fast):
#      --stats reports method, self-agreement, loss curve and time, no note for a classifier;
#      --save-synthetic writes synthetic_K.pb (TensorProto of the input, in the given range) and
#      a PNG grid; same seed, same bytes (pruned model and synthetic inputs);
#   7. a model without a classifier head: one note line on stderr saying what inversion fell back
#      to, and --stats says it too;
#   8. the classifier refit (inverted data): --stats reports it and the head's logit error goes
#      down, --save-pruned carries the refit head (same outputs as the pruned IR), --no-classifier-refit and gaussian data leave the head alone, --classifier-ridge
#      is range-checked (one-line errors).
# Checks 1-5 use --synthetic=gaussian: they test the pass around the data, not the data.
# Usage: tests/prune/run.sh [BUILD]   (BUILD defaults to build)
BUILD=${1:-build}
PPCC=$BUILD/bin/ppcc
PPCRUN=$BUILD/bin/ppcrun
PY=/usr/bin/python3
M=examples/mnist/mnist_cnn.onnx
G=--synthetic=gaussian
INV="--synthetic-samples 12 --inversion-steps 30 --synthetic-range 0,1"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# 1. round trip (connectivity 0.5: whole kernels removed too)
if "$PPCC" "$M" --prune $G --connectivity 0.5 --emit=ir -o "$TMP/p.ir" --save-pruned "$TMP/p.onnx" 2> "$TMP/err"; then
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
if "$PPCC" "$M" --prune $G --connectivity 0.5 -o "$TMP/p.so" 2> "$TMP/err"; then
  "$PPCRUN" "$TMP/p.onnx" --random 5 -o "$TMP/ref5" > /dev/null 2>&1
  if "$PPCRUN" "$TMP/p.so" --random 5 --threads 1 --expect "$TMP/ref5" --rtol 1e-4 --atol 1e-5 > "$TMP/out" 2>&1; then ok; else
    bad "compiled pruned model differs from the saved model"; cat "$TMP/out"; fi
else
  bad "ppcc --prune --emit=so"; cat "$TMP/err"
fi

# 3. determinism (data path: ADMM + refit on synthetic data)
for s in 1 2; do
  "$PPCC" "$M" --prune $G --connectivity 0.3 --seed 5 --emit=ir -o /dev/null --save-pruned "$TMP/d$s.onnx" 2> "$TMP/err" ||
    { bad "ppcc --prune (determinism run $s)"; cat "$TMP/err"; }
done
"$PPCC" "$M" --prune $G --connectivity 0.3 --seed 6 --emit=ir -o /dev/null --save-pruned "$TMP/d3.onnx" 2> /dev/null
if [ -s "$TMP/d1.onnx" ] && cmp -s "$TMP/d1.onnx" "$TMP/d2.onnx"; then ok; else bad "same seed, different --save-pruned bytes"; fi
if [ -s "$TMP/d3.onnx" ] && ! cmp -s "$TMP/d1.onnx" "$TMP/d3.onnx"; then ok; else bad "another seed gives the same weights"; fi
"$PPCC" "$M" --prune --synthetic-source=original --synthetic=uniform --seed 5 --emit=ir -o "$TMP/u1.ir" 2> /dev/null
"$PPCC" "$M" --prune --synthetic-source=original --synthetic=uniform --seed 5 --emit=ir -o "$TMP/u2.ir" 2> /dev/null
if [ -s "$TMP/u1.ir" ] && cmp -s "$TMP/u1.ir" "$TMP/u2.ir"; then ok; else bad "uniform/original: not deterministic"; fi

# 4. metadata in --stats and dumps
"$PPCC" "$M" --prune $G --patterns 6 --connectivity 0.5 --stats --dump-after prune --emit=ir -o /dev/null 2> "$TMP/stats"
if grep -q "^prune: pattern library" "$TMP/stats" && [ "$(grep -c '^prune:   p[0-9]' "$TMP/stats")" = 6 ] &&
   [ "$(grep -c '^prune: /features/features\.[0-9]*/Conv ' "$TMP/stats")" = 4 ] &&
   grep -q "^prune: 4 layers, 7680/15360 kernels kept" "$TMP/stats" &&
   grep -q 'prune_patterns=\[[0-9,]*\], prune_ids=i16\[32,32\] <1024 values' "$TMP/stats"; then ok; else
  bad "--stats / dump output"; grep "^prune" "$TMP/stats" | head -20; fi

# 5. a failing compile after --save-pruned removes the saved file again
"$PPCC" "$M" --prune $G --emit=ir -o "$TMP/no/such/dir/out.ir" --save-pruned "$TMP/left.onnx" 2> /dev/null
if [ $? = 1 ] && [ ! -e "$TMP/left.onnx" ]; then ok; else bad "--save-pruned file left after a failed compile"; fi

# 6. model inversion
# shellcheck disable=SC2086
for s in 1 2; do
  "$PPCC" "$M" --prune $INV --connectivity 0.5 --seed 4 --stats --emit=ir -o /dev/null --save-pruned "$TMP/i$s.onnx" \
    --save-synthetic "$TMP/syn$s" 2> "$TMP/istats$s" || { bad "ppcc --prune (inverted data, run $s)"; cat "$TMP/istats$s"; }
done
if grep -q "^prune: K=8 patterns of N=4, connectivity 0.5, ADMM, 12 inverted synthetic samples" "$TMP/istats1" &&
   grep -q "^prune: inversion: classifier: Gemm '/classifier/Gemm' gives 10 classes; 30 steps, .*range \[0, 1\]; [0-9.]* s$" "$TMP/istats1" &&
   grep -q "^prune: inversion: self-agreement [0-9.]*% " "$TMP/istats1" &&
   grep -q "^prune: inversion: loss every 10 steps: [0-9.e+-]* [0-9.e+-]* [0-9.e+-]*; final [0-9.e+-]*$" "$TMP/istats1" &&
   ! grep -q "note" "$TMP/istats1"; then ok; else bad "--stats with inverted data"; grep "^prune" "$TMP/istats1" | head; fi
n=$(ls "$TMP/syn1" | grep -c '^synthetic_[0-9]*\.pb$')
if [ "$n" = 12 ] && [ -s "$TMP/syn1/synthetic.png" ] && $PY - "$TMP/syn1" > "$TMP/py" 2>&1 <<'EOF'
import sys, struct
import numpy as np
import onnx
from onnx import numpy_helper
d = sys.argv[1]
for k in range(12):
    t = onnx.load_tensor("%s/synthetic_%d.pb" % (d, k))
    x = numpy_helper.to_array(t)
    assert t.name == "input" and x.shape == (1, 1, 28, 28) and x.dtype == np.float32, (t.name, x.shape, x.dtype)
    assert x.min() >= 0 and x.max() <= 1 and x.std() > 0.01, (k, x.min(), x.max(), x.std())
png = open(d + "/synthetic.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", png[16:24])
assert (w, h) == (4 * 57 + 1, 3 * 57 + 1), (w, h)  # 4x3 tiles of 2x28 pixels, 1-pixel gaps and border
EOF
then ok; else bad "--save-synthetic files ($n .pb)"; cat "$TMP/py"; fi
if [ -s "$TMP/i1.onnx" ] && cmp -s "$TMP/i1.onnx" "$TMP/i2.onnx" && cmp -s "$TMP/syn1/synthetic_7.pb" "$TMP/syn2/synthetic_7.pb" &&
   cmp -s "$TMP/syn1/synthetic.png" "$TMP/syn2/synthetic.png"; then ok; else bad "inverted data: not deterministic"; fi

# 7. no classifier head: inversion falls back (Gaussian inputs) and says so in one line
if $PY - "$TMP/nocls.onnx" > "$TMP/py" 2>&1 <<'EOF'
import sys
import numpy as np
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(1)
w = lambda n, *s: numpy_helper.from_array(rng.uniform(-0.5, 0.5, s).astype(np.float32), n)
nodes = [helper.make_node("Conv", ["x", "w0"], ["h0"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["h0"], ["r0"]),
         helper.make_node("Conv", ["r0", "w1"], ["y"], pads=[1, 1, 1, 1])]
g = helper.make_graph(nodes, "nocls", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
                      [w("w0", 8, 3, 3, 3), w("w1", 8, 8, 3, 3)])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
open(sys.argv[1], "wb").write(m.SerializeToString())
EOF
then
  "$PPCC" "$TMP/nocls.onnx" --prune --synthetic-samples 4 --emit=ir -o /dev/null 2> "$TMP/note"
  "$PPCC" "$TMP/nocls.onnx" --prune --synthetic-samples 4 --stats --emit=ir -o /dev/null 2> "$TMP/nstats"
  if [ "$(wc -l < "$TMP/note")" = 1 ] &&
     grep -q "^prune: note: model inversion fell back to Gaussian inputs: Gaussian inputs (the last op Conv" "$TMP/note" &&
     grep -q "^prune: synthetic data: model inversion fell back to Gaussian inputs" "$TMP/nstats"; then ok; else
    bad "fallback note"; cat "$TMP/note"; fi
else
  bad "writing the test model"; cat "$TMP/py"
fi

# 8. the classifier refit
"$PPCC" "$M" --prune $INV --connectivity 0.5 --stats --emit=ir -o "$TMP/c1.ir" --save-pruned "$TMP/c1.onnx" 2> "$TMP/c1"
"$PPCRUN" "$TMP/c1.onnx" --random 5 -o "$TMP/c1ref" > /dev/null 2>&1 || bad "ppcrun on the saved model (classifier refit)"
if "$PPCRUN" "$TMP/c1.ir" --random 5 --expect "$TMP/c1ref" --rtol 0 --atol 1e-6 > "$TMP/out" 2>&1; then ok; else
  bad "saved model (with the refit classifier) and pruned IR differ"; cat "$TMP/out"; fi
"$PPCC" "$M" --prune $INV --connectivity 0.5 --no-classifier-refit --stats --emit=ir -o "$TMP/c2.ir" 2> "$TMP/c2"
"$PPCC" "$M" --prune $G --connectivity 0.5 --stats --emit=ir -o "$TMP/c3.ir" 2> "$TMP/c3"
if awk '/^prune: classifier refit: \/classifier\/Gemm \(10x128, ridge 0.03\): logit error on the synthetic data/ {
          if ($(NF-2) + 0 > $NF + 0) ok = 1 } END { exit !ok }' "$TMP/c1" &&
   ! grep -q "classifier refit" "$TMP/c2" && ! grep -q "classifier refit" "$TMP/c3"; then ok; else
  bad "classifier refit report"; grep "classifier" "$TMP/c1" "$TMP/c2" "$TMP/c3"; fi
for args in "--classifier-ridge 0" "--classifier-ridge 2e6" "--classifier-ridge x" "--classifier-ridge 1 --no-classifier-refit"; do
  # shellcheck disable=SC2086
  if "$PPCC" "$M" --prune $args --emit=ir -o "$TMP/c4.ir" 2> "$TMP/c4"; then bad "accepted: $args"; continue; fi
  if [ "$(wc -l < "$TMP/c4")" = 1 ] && grep -q "^ppcc: error: --classifier-ridge" "$TMP/c4" && [ ! -e "$TMP/c4.ir" ]; then ok; else
    bad "error for $args"; cat "$TMP/c4"; fi
done

echo "prune tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
