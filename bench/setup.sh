#!/bin/sh
# setup.sh — installs ONNX Runtime for the benchmark: the npm package onnxruntime-node (pinned
# version, CPU build) into a cache folder with `npm install --ignore-scripts`, so its install
# script (which would download GPU libraries) never runs; the CPU library and the N-API binding
# ship inside the package (bin/napi-vN/linux/x64; N is 6 for 1.30). Idempotent: a finished
# install is recognised by a stamp file and only re-checked. Finally checks from node that the
# binding loads and computes a small model correctly with 1 and 2 threads (ort_runner.js
# --selftest), so a broken install fails here, not in the middle of the benchmark.
#   usage: bench/setup.sh [CACHE_DIR]    (default build/cache/ort)
set -e
ORT_VERSION=1.30.0
DIR=${1:-build/cache/ort}
NODE=${NODE:-node}
STAMP="$DIR/.installed-$ORT_VERSION"

command -v "$NODE" >/dev/null 2>&1 || { echo "bench/setup.sh: node not found" >&2; exit 1; }
mkdir -p "$DIR"
if [ ! -f "$STAMP" ]; then
  echo "bench/setup.sh: installing onnxruntime-node@$ORT_VERSION into $DIR"
  # Our own package.json so npm installs here and not into a parent folder's project.
  [ -f "$DIR/package.json" ] || printf '{ "name": "ppcc-bench-ort", "private": true }\n' > "$DIR/package.json"
  (cd "$DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
     "onnxruntime-node@$ORT_VERSION")
fi

PKG="$DIR/node_modules/onnxruntime-node"
BIND=$(ls -d "$PKG"/bin/napi-v*/linux/x64 2>/dev/null | head -n 1)
if [ -z "$BIND" ] || [ ! -f "$BIND/onnxruntime_binding.node" ]; then
  echo "bench/setup.sh: no bin/napi-v*/linux/x64/onnxruntime_binding.node in $PKG" >&2
  ls -R "$PKG/bin" >&2 2>/dev/null || true
  exit 1
fi
ls "$BIND"/libonnxruntime.so* >/dev/null 2>&1 || {
  echo "bench/setup.sh: no libonnxruntime.so in $BIND" >&2; exit 1; }

# Smoke test: load the binding and run a model through it.
"$NODE" "$(dirname "$0")/ort_runner.js" --selftest --ort "$PKG" --tmp "$DIR/selftest"
rmdir "$DIR/selftest" 2>/dev/null || true
touch "$STAMP"
