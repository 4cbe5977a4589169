#!/bin/sh
# smoke.sh — the accuracy smoke test of issues #4/#5: the shipped MNIST example pruned at
# connectivity 0.5 (K=8, N=4, otherwise ppcc's defaults: model inversion; plus the example's
# input range --synthetic-range 0,1, which the ONNX file does not record, and any extra ppcc
# options given, which come later and win) must stay within 1 point of the dense model's top-1
# on the 500 held-out digits.
# Usage: tests/prune/smoke.sh [BUILD] [PPCC-OPTION...]     (`make prune-smoke`)
BUILD=${1:-build}
[ $# -gt 0 ] && shift
M=examples/mnist
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
top1() {
  "$BUILD/examples/mnist_demo" "$1" "$M/digits.pb" "$M/labels.pb" | sed -n 's/.*top-1 accuracy \([0-9.]*\)%.*/\1/p'
}
"$BUILD/bin/ppcc" "$M/mnist_cnn.onnx" --emit=ir -o "$TMP/dense.ir" || exit 1
"$BUILD/bin/ppcc" "$M/mnist_cnn.onnx" --prune --connectivity 0.5 --synthetic-range 0,1 "$@" --emit=ir -o "$TMP/pruned.ir" || exit 1
dense=$(top1 "$TMP/dense.ir")
pruned=$(top1 "$TMP/pruned.ir")
[ -n "$dense" ] && [ -n "$pruned" ] || { echo "prune smoke: could not classify the digits"; exit 1; }
if awk -v a="$dense" -v b="$pruned" 'BEGIN { exit !(b >= a - 1.0) }'; then
  echo "prune smoke: ok: dense $dense%, pruned at connectivity 0.5 $pruned% (options: --synthetic-range 0,1 $*)"
else
  echo "prune smoke: FAIL: dense $dense%, pruned at connectivity 0.5 $pruned%: more than 1 point lost (options: --synthetic-range 0,1 $*)"
  exit 1
fi
