#!/bin/sh
# demo.sh — `make demo`: the shipped MNIST example end to end.
#   1. ppcc check: every op of the model is supported
#   2. ppcc: import, run the default pass pipeline, write the optimised text IR (with stats)
#   3. classify the 500 held-out digits with the interpreter, on the original and the optimised
#      model, printing accuracy and time
set -e
BUILD=${1:-build}
M=examples/mnist
OUT=$BUILD/demo
mkdir -p "$OUT"
echo "== ppcc check $M/mnist_cnn.onnx"
"$BUILD/bin/ppcc" check "$M/mnist_cnn.onnx"
echo "== ppcc $M/mnist_cnn.onnx --emit=ir -o $OUT/mnist_cnn.ir --stats --time-passes"
"$BUILD/bin/ppcc" "$M/mnist_cnn.onnx" --emit=ir -o "$OUT/mnist_cnn.ir" --stats --time-passes
echo "== classify the held-out digits (reference interpreter)"
"$BUILD/examples/mnist_demo" "$M/mnist_cnn.onnx" "$M/digits.pb" "$M/labels.pb"
"$BUILD/examples/mnist_demo" "$OUT/mnist_cnn.ir" "$M/digits.pb" "$M/labels.pb"
