#!/bin/sh
# run.sh — real architectures: export torchvision resnet18, mobilenet_v2 and squeezenet1_1
# (random weights, fixed seed) with Debian's torch, run them through ppcc's interpreter and
# require relative L2 error <= 1e-4 against torch's outputs.
#   usage: tests/models/run.sh BUILD_DIR [MODEL...]
set -e
BUILD=${1:-build}
shift || true
MODELS=${*:-"resnet18 mobilenet_v2 squeezenet1_1"}
OUT=$BUILD/models
/usr/bin/python3 tests/models/export.py "$OUT" $MODELS
pass=0; fail=0
for m in $MODELS; do
  d=$OUT/$m
  if "$BUILD/bin/ppcrun" "$d/model.onnx" -i "$d/test_data_set_0/input_0.pb" \
        --expect "$d/test_data_set_0" --rel-l2 1e-4 > "$OUT/$m.log" 2>&1; then
    pass=$((pass+1)); echo "model $m: $(grep -h 'relative L2\|interpreter ran' "$OUT/$m.log" | tr '\n' ' ')"
  else
    fail=$((fail+1)); echo "model $m: FAILED"; cat "$OUT/$m.log"
  fi
done
echo "models: $pass passed, $fail failed"
[ "$fail" = 0 ]
