#!/bin/sh
# accuracy.sh — `make accuracy` (not part of `make test`; about 40 minutes for MNIST, plus the
# pruning-time runs): the measurements of docs/pruning.md.
#
#   1. MNIST (examples/mnist): top-1 on the 500 held-out digits of the dense model and of the
#      model pruned with K=8 patterns of N=4 at connectivity 0, 0.5 and 0.72 (2.25x, 4.5x and
#      about 8x fewer 3x3 weights), one row per kind of synthetic data (inverted, gaussian,
#      uniform, none) and mask choice (ADMM, or the magnitude projection of the original weights
#      followed by the same refit: --admm-iters 0), plus the inversion's own levers (input range,
#      samples, seed, the issue's plain recipe, the classifier refit). Every pruned model is classified by
#      build/examples/mnist_demo (reference interpreter) from ppcc's --emit=ir output. The
#      example's input range, pixel/255 in [0,1], is not recorded in the ONNX file: the rows
#      give it with --synthetic-range 0,1 (EX below) unless they say "no range". Each row also
#      gives, from --stats of its connectivity-0 run, the inversion's time and self-agreement and
#      the whole prune pass's time.
#   2. Pruning time of torchvision resnet18 and vgg16 (tests/models/export.py writes them to
#      BUILD/models; vgg16 is 553 MB) with default options on one core (taskset -c $PRUNE_CPU,
#      default core 0; ppcc's
#      --stats gives the split into model inversion, synthetic data and ADMM/refit; user+sys CPU
#      time is printed too because other processes on the machine inflate the wall time). By
#      default both exceed the inversion budget and prune on gaussian data. resnet18 with
#      --synthetic=inverted is measured with PRUNE_INVERT_STEPS Adam steps (default 4) and the
#      inversion time extrapolated to the default 200 steps (linear in the steps: every step is
#      one forward and one backward pass per sample); PRUNE_INVERT_STEPS=200 runs it in full
#      (about an hour on one core).
#   3. If ONNX Runtime is installed (make bench-setup), the --save-pruned model run by ORT against
#      the pruned model compiled by ppcc.
# The markdown tables are printed and written to OUT (default BUILD/pruning-accuracy.md).
# Usage: tests/prune/accuracy.sh [BUILD] [OUT]      PRUNE_TIME_MODELS="resnet18 vgg16" to choose,
#        PRUNE_CPU=N to pin the runs to another core than 0
BUILD=${1:-build}
OUT=${2:-$BUILD/pruning-accuracy.md}
PPCC=$BUILD/bin/ppcc
DEMO=$BUILD/examples/mnist_demo
M=examples/mnist
EX="--synthetic-range 0,1"
TIME_MODELS=${PRUNE_TIME_MODELS-resnet18 vgg16}
INV_STEPS=${PRUNE_INVERT_STEPS:-4}
TASKSET=""
command -v taskset > /dev/null && TASKSET="taskset -c ${PRUNE_CPU:-0}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
set -e

top1() { # MODEL -> "99.60"
  "$DEMO" "$1" "$M/digits.pb" "$M/labels.pb" | sed -n 's/.*top-1 accuracy \([0-9.]*\)%.*/\1/p'
}

"$PPCC" "$M/mnist_cnn.onnx" --emit=ir -o "$TMP/dense.ir"
DENSE=$(top1 "$TMP/dense.ir")
{
  echo "MNIST example, 500 held-out digits: dense top-1 **$DENSE%**. Pruned: K=8 patterns of N=4, default"
  echo "options unless listed (seed 1, ADMM at fixed rho: 20 iterations on inverted data, 10 on gaussian/uniform"
  echo "data; refit on, first conv dense;"
  echo "inverted data: 256 samples, 200 Adam steps, lr 0.15, TV 1, L1 4, L2 0, resolution 0.55, jitter 2, coverage 0.6,"
  echo "classifier refit with ridge 0.03; gaussian/uniform data: 16 samples). \`EX\` = \`$EX\`, the example's"
  echo "input range."
  echo
  echo "| synthetic data | masks | options | conn 0 (2.25x) | conn 0.5 (4.5x) | conn 0.72 (8x) | inversion | self-agreement | prune pass |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$TMP/table.md"

row() { # DATA MASKS OPTIONS...
  data=$1 masks=$2
  shift 2
  shown=$(echo "$*" | sed "s/$EX/EX/")
  line="| $data | $masks | \`${shown:-(defaults)}\` |"
  for c in 0 0.5 0.72; do
    # shellcheck disable=SC2086
    $TASKSET "$PPCC" "$M/mnist_cnn.onnx" --prune --connectivity $c "$@" --stats --emit=ir -o "$TMP/p.ir" 2> "$TMP/log$c"
    a=$(top1 "$TMP/p.ir")
    d=$(echo "$DENSE $a" | awk '{printf "%+.1f", $2 - $1}')
    line="$line $a% ($d) |"
  done
  inv=$(sed -n 's/^prune: inversion: .*; \([0-9.]*\) s$/\1 s/p' "$TMP/log0")
  agree=$(sed -n 's/^prune: inversion: self-agreement \([0-9.]*%\).*/\1/p' "$TMP/log0")
  pass=$(sed -n 's/^prune: [0-9]* layers, .*; \([0-9.]*\) s: .*/\1 s/p' "$TMP/log0")
  line="$line ${inv:--} | ${agree:--} | ${pass:--} |"
  echo "$line" >> "$TMP/table.md"
  echo "$line"
}

echo "== MNIST: dense $DENSE%"
row "inverted (default)" "ADMM" $EX
row "inverted" "magnitude" $EX --admm-iters 0
row "inverted, no range" "ADMM"
row "inverted, seed 2" "ADMM" $EX --seed 2
row "inverted, seed 3" "ADMM" $EX --seed 3
row "inverted, 64 samples" "ADMM" $EX --synthetic-samples 64
row "inverted, 128 samples" "ADMM" $EX --synthetic-samples 128
row "inverted, 10 ADMM iterations" "ADMM" $EX --admm-iters 10
row "inverted, no classifier refit" "ADMM" $EX --no-classifier-refit
row "inverted, no coverage term" "ADMM" $EX --inversion-coverage 0
row "inverted, greedy coverage pick" "ADMM" $EX --inversion-coverage-pick=greedy
row "inverted, original-network inputs" "ADMM" $EX --synthetic-source=original
row "inverted, the issue's plain recipe (full resolution, L2, no L1)" "ADMM" $EX --inversion-resolution 1 --inversion-l1 0 --inversion-l2 0.5 --inversion-lr 0.05
row "gaussian N(0,1)" "ADMM" --synthetic=gaussian
row "gaussian N(0,1)" "magnitude" --synthetic=gaussian --admm-iters 0
row "gaussian in range" "ADMM" --synthetic=gaussian $EX
row "uniform [0,1)" "ADMM" --synthetic=uniform
row "uniform [0,1)" "magnitude" --synthetic=uniform --admm-iters 0
row "none" "magnitude, no refit" --admm-iters 0 --no-refit

{
  echo
  echo "Each accuracy cell: top-1 (change against dense, in points). *masks*: ADMM = kernel patterns"
  echo "and removed kernels chosen by ADMM on the synthetic data; magnitude = the magnitude projection of"
  echo "the original weights (\`--admm-iters 0\`), both followed by the masked least-squares refit on the"
  echo "same data. *inversion*, *self-agreement* (images the original model assigns their target"
  echo "class) and *prune pass* (the whole pass, inversion included) are from \`--stats\` of the"
  echo "connectivity-0 run on one core ($TASKSET)."
  echo
  echo "| model | synthetic data | layers pruned | kernels | pruning time (wall) | CPU time (user+sys) | model inversion | synthetic data (walk) | ADMM/refit | target |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >> "$TMP/table.md"

timerow() { # MODEL FILE LABEL OPTIONS...
  m=$1 f=$2 label=$3
  shift 3
  case $m in vgg16) target="<= 300 s" ;; resnet18) target="<= 60 s" ;; *) target="" ;; esac
  echo "== pruning time: $m, $label (one core)"
  # shellcheck disable=SC2086
  /usr/bin/time -f "cpu %U %S" $TASKSET "$PPCC" "$f" --prune "$@" --stats --emit=ir -o "$TMP/$m.ir" 2> "$TMP/$m.log" || {
    cat "$TMP/$m.log"
    exit 1
  }
  rm -f "$TMP/$m.ir"
  grep "^prune: [0-9]* layers\|^prune: note\|^prune: inversion: classifier" "$TMP/$m.log"
  line=$(grep "^prune: [0-9]* layers" "$TMP/$m.log" | sed 's/^prune: //')
  layers=$(echo "$line" | awk '{print $1}')
  kernels=$(echo "$line" | sed -n 's/.* \([0-9]*\/[0-9]*\) kernels kept.*/\1/p')
  wall=$(echo "$line" | sed -n 's/.*; \([0-9.]*\) s: .*/\1/p')
  inv=$(echo "$line" | sed -n 's/.*model inversion \([0-9.]*\) s.*/\1/p')
  data=$(echo "$line" | sed -n 's/.*synthetic data \([0-9.]*\) s.*/\1/p')
  solve=$(echo "$line" | sed -n 's/.*ADMM\/refit \([0-9.]*\) s.*/\1/p')
  cpu=$(grep "^cpu " "$TMP/$m.log" | awk '{printf "%.1f", $2 + $3}')
  if [ -n "$inv" ] && [ "$INV_STEPS" != 200 ]; then
    full=$(echo "$inv $INV_STEPS" | awk '{printf "%.0f", $1 * 201 / ($2 + 1)}')
    total=$(echo "$wall $inv $full" | awk '{printf "%.0f", $1 - $2 + $3}')
    echo "| $m | $label | $layers | $kernels | about $total s (extrapolated; measured $wall s with $INV_STEPS steps) | $cpu s (whole run, $INV_STEPS steps) | $inv s for $INV_STEPS steps: about $full s for 200 | $data s | $solve s | $target |" >> "$TMP/table.md"
  else
    echo "| $m | $label | $layers | $kernels | $wall s | $cpu s (whole ppcc run) | ${inv:+$inv s}${inv:--} | $data s | $solve s | $target |" >> "$TMP/table.md"
  fi
}

for m in $TIME_MODELS; do
  f=$BUILD/models/$m/model.onnx
  if [ ! -s "$f" ]; then
    echo "| $m | (missing: /usr/bin/python3 tests/models/export.py $BUILD/models $m) | | | | | | | | |" >> "$TMP/table.md"
    continue
  fi
  timerow "$m" "$f" "default (gaussian, 16 samples: over the inversion budget)"
  timerow "$m" "$f" "gaussian, original-network inputs" --synthetic-source=original
  if [ "$m" = resnet18 ]; then
    timerow "$m" "$f" "inverted, 128 samples" --synthetic=inverted --synthetic-samples 128 --inversion-steps "$INV_STEPS"
  fi
done

ORT=build/cache/ort/node_modules/onnxruntime-node
if [ -d "$ORT" ] && command -v node > /dev/null; then
  echo "== ONNX Runtime on the --save-pruned model"
  "$PPCC" "$M/mnist_cnn.onnx" --prune $EX --connectivity 0.5 -o "$TMP/p.so" --save-pruned "$TMP/p.onnx"
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
