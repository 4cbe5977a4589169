#!/bin/sh
# accuracy.sh — `make accuracy` (not part of `make test`; a few minutes for MNIST, plus the
# pruning-time runs): the measurements of docs/pruning.md.
#
#   1. MNIST (examples/mnist): top-1 on the 500 held-out digits of the dense model and of the
#      model pruned with K=8 patterns of N=4 at connectivity 0, 0.5 and 0.72 (2.25x, 4.5x and
#      about 8x fewer 3x3 weights), for ADMM on synthetic data (gaussian/uniform, inputs from the
#      pruned/original network, with and without the refit), projection + refit, and plain
#      magnitude projection (--admm-iters 0 --no-refit: no ADMM, no synthetic data). Every pruned
#      model is classified by build/examples/mnist_demo (reference interpreter) from ppcc's
#      --emit=ir output.
#   2. Pruning time of torchvision resnet18 and vgg16 (tests/models/export.py writes them to
#      BUILD/models; vgg16 is 553 MB) with default options on one core (taskset -c 0; ppcc's
#      --stats gives the split into synthetic data and ADMM/refit; user+sys CPU time is printed
#      too because other processes on the machine inflate the wall time).
#   3. If ONNX Runtime is installed (make bench-setup), the --save-pruned model run by ORT against
#      the pruned model compiled by ppcc.
# The markdown tables are printed and written to OUT (default BUILD/pruning-accuracy.md).
# Usage: tests/prune/accuracy.sh [BUILD] [OUT]      PRUNE_TIME_MODELS="resnet18 vgg16" to choose
BUILD=${1:-build}
OUT=${2:-$BUILD/pruning-accuracy.md}
PPCC=$BUILD/bin/ppcc
DEMO=$BUILD/examples/mnist_demo
M=examples/mnist
TIME_MODELS=${PRUNE_TIME_MODELS-resnet18 vgg16}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
set -e

top1() { # MODEL -> "99.60"
  "$DEMO" "$1" "$M/digits.pb" "$M/labels.pb" | sed -n 's/.*top-1 accuracy \([0-9.]*\)%.*/\1/p'
}

"$PPCC" "$M/mnist_cnn.onnx" --emit=ir -o "$TMP/dense.ir"
DENSE=$(top1 "$TMP/dense.ir")
{
  echo "MNIST example, 500 held-out digits: dense top-1 **$DENSE%**. Pruned: K=8 patterns of N=4,"
  echo "default options unless listed (16 samples, seed 1, 30 ADMM iterations, refit on, first conv dense)."
  echo
  echo "| method | options | conn 0 (2.25x) | conn 0.5 (4.5x) | conn 0.72 (8x) |"
  echo "|---|---|---|---|---|"
} > "$TMP/table.md"

row() { # LABEL OPTIONS...
  label=$1
  shift
  line="| $label | \`${*:-(defaults)}\` |"
  for c in 0 0.5 0.72; do
    # shellcheck disable=SC2086
    "$PPCC" "$M/mnist_cnn.onnx" --prune --connectivity $c "$@" --emit=ir -o "$TMP/p.ir"
    a=$(top1 "$TMP/p.ir")
    d=$(echo "$DENSE $a" | awk '{printf "%+.1f", $2 - $1}')
    line="$line $a% ($d) |"
  done
  echo "$line" >> "$TMP/table.md"
  echo "$line"
}

echo "== MNIST: dense $DENSE%"
row "ADMM + refit, gaussian, pruned-network inputs (default)"
row "ADMM + refit, gaussian, original-network inputs" --synthetic-source=original
row "ADMM + refit, uniform, pruned-network inputs" --synthetic=uniform
row "ADMM + refit, uniform, original-network inputs" --synthetic=uniform --synthetic-source=original
row "ADMM, no refit, gaussian, pruned-network inputs" --no-refit
row "ADMM + refit, gaussian, 64 samples" --synthetic-samples 64
row "projection + refit (no ADMM), gaussian" --admm-iters 0
row "magnitude projection (no ADMM, no data)" --admm-iters 0 --no-refit

{
  echo
  echo "| model | layers pruned | kernels | pruning time (wall) | CPU time (user+sys) | synthetic data | ADMM/refit | target |"
  echo "|---|---|---|---|---|---|---|---|"
} >> "$TMP/table.md"
for m in $TIME_MODELS; do
  f=$BUILD/models/$m/model.onnx
  if [ ! -s "$f" ]; then
    echo "| $m | (missing: /usr/bin/python3 tests/models/export.py $BUILD/models $m) | | | | | | |" >> "$TMP/table.md"
    continue
  fi
  case $m in vgg16) target="<= 300 s" ;; resnet18) target="<= 60 s" ;; *) target="" ;; esac
  echo "== pruning time: $m (one core)"
  /usr/bin/time -f "cpu %U %S" taskset -c 0 "$PPCC" "$f" --prune --stats --emit=ir -o /dev/null 2> "$TMP/$m.log" || {
    cat "$TMP/$m.log"
    exit 1
  }
  grep "^prune: [0-9]* layers" "$TMP/$m.log"
  line=$(grep "^prune: [0-9]* layers" "$TMP/$m.log" | sed 's/^prune: //')
  layers=$(echo "$line" | awk '{print $1}')
  kernels=$(echo "$line" | sed -n 's/.* \([0-9]*\/[0-9]*\) kernels kept.*/\1/p')
  wall=$(echo "$line" | sed -n 's/.*; \([0-9.]*\) s: synthetic.*/\1/p')
  data=$(echo "$line" | sed -n 's/.*synthetic data \([0-9.]*\) s.*/\1/p')
  solve=$(echo "$line" | sed -n 's/.*ADMM\/refit \([0-9.]*\) s.*/\1/p')
  cpu=$(grep "^cpu " "$TMP/$m.log" | awk '{printf "%.1f", $2 + $3}')
  echo "| $m | $layers | $kernels | $wall s | $cpu s (whole ppcc run) | $data s | $solve s | $target |" >> "$TMP/table.md"
done

ORT=build/cache/ort/node_modules/onnxruntime-node
if [ -d "$ORT" ] && command -v node > /dev/null; then
  echo "== ONNX Runtime on the --save-pruned model"
  "$PPCC" "$M/mnist_cnn.onnx" --prune --connectivity 0.5 -o "$TMP/p.so" --save-pruned "$TMP/p.onnx"
  "$BUILD/bin/ppcrun" "$TMP/p.onnx" --random 9 -o "$TMP/in" > /dev/null
  /usr/bin/python3 - "$TMP" <<'EOF'
import sys, numpy as np
from onnx import numpy_helper
rng = np.random.default_rng(9)
x = rng.random((1, 1, 28, 28), dtype=np.float32)
open(sys.argv[1] + "/x.pb", "wb").write(numpy_helper.from_array(x, "input").SerializeToString())
EOF
  printf 'load %s 1\ninput %s\nrun 1\noutput %s\nquit\n' "$TMP/p.onnx" "$TMP/x.pb" "$TMP/ort/output_0.pb" > "$TMP/cmds"
  mkdir -p "$TMP/ort"
  node bench/ort_runner.js --ort "$ORT" < "$TMP/cmds" > "$TMP/ort.log"
  if "$BUILD/bin/ppcrun" "$TMP/p.so" -i input="$TMP/x.pb" --threads 1 --expect "$TMP/ort" --rtol 1e-4 --atol 1e-5 > "$TMP/cmp" 2>&1; then
    res="ONNX Runtime loads the --save-pruned model; its output matches the pruned .so ($(grep -o 'max abs err [0-9.e+-]*' "$TMP/cmp"))."
  else
    res="MISMATCH between ONNX Runtime on the --save-pruned model and the pruned .so: $(cat "$TMP/cmp" "$TMP/ort.log" | tr '\n' ' ')"
  fi
  echo "$res"
  printf '\n%s\n' "$res" >> "$TMP/table.md"
fi

mkdir -p "$(dirname "$OUT")"
cp "$TMP/table.md" "$OUT"
echo
cat "$OUT"
echo "(written to $OUT)"
