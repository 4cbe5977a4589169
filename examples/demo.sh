#!/bin/sh
# demo.sh — `make demo`: the shipped MNIST example end to end.
#   1. ppcc check: every op of the model is supported
#   2. ppcc compiles the model densely to a shared object; the runtime runs it on the 500
#      held-out digits (accuracy, latency), next to the reference interpreter
#   3. ppcc prunes the model without any data (ADMM on synthetic inputs, pattern pruning) and
#      compiles it; accuracy, compression and latency again
set -e
BUILD=${1:-build}
M=examples/mnist
OUT=$BUILD/demo
PPCC=$BUILD/bin/ppcc
DEMO=$BUILD/examples/mnist_demo
mkdir -p "$OUT"
echo "== ppcc check $M/mnist_cnn.onnx"
"$PPCC" check "$M/mnist_cnn.onnx"
echo
echo "== dense: ppcc $M/mnist_cnn.onnx -o $OUT/mnist_dense.so"
t0=$(date +%s%N)
"$PPCC" "$M/mnist_cnn.onnx" -o "$OUT/mnist_dense.so"
echo "compiled in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$DEMO" "$M/mnist_cnn.onnx" "$M/digits.pb" "$M/labels.pb"
"$DEMO" "$OUT/mnist_dense.so" "$M/digits.pb" "$M/labels.pb"
echo
PRUNE="--prune --patterns 8 --pattern-size 4 --connectivity 0.5 --synthetic-range 0,1 --seed 1"
echo "== pruned (no data used): ppcc $M/mnist_cnn.onnx $PRUNE -o $OUT/mnist_pruned.so"
t0=$(date +%s%N)
"$PPCC" "$M/mnist_cnn.onnx" $PRUNE --save-pruned "$OUT/mnist_pruned.onnx" --stats \
    -o "$OUT/mnist_pruned.so" 2> "$OUT/prune-stats.txt"
echo "pruned and compiled in $(( ($(date +%s%N) - t0) / 1000000 )) ms (per-layer statistics: $OUT/prune-stats.txt)"
grep -i "kernels kept\|compression\|weights kept" "$OUT/prune-stats.txt" | head -8 || true
"$DEMO" "$OUT/mnist_pruned.so" "$M/digits.pb" "$M/labels.pb"
