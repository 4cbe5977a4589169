#!/bin/sh
# fake_ppcc.sh — stands in for `ppcc MODEL.onnx -o OUT.so` in the benchmark self-test: builds
# fixture.c (the model's hand-written compiled form) into OUT.so. Environment: FIXTURE_DIR (where
# weights.h is), FIXTURE_CFLAGS (e.g. -DPERTURB=0.01f).
[ "$1" = --version ] && { echo "fake_ppcc (bench self-test)"; exit 0; }
[ "$2" = -o ] && [ -n "$3" ] || { echo "fake_ppcc: usage: fake_ppcc.sh MODEL -o OUT" >&2; exit 2; }
here=$(dirname "$0")
exec ${CC:-cc} -std=c11 -O2 -shared -fPIC -fvisibility=hidden -I"$here/../.." -I"$FIXTURE_DIR" \
  $FIXTURE_CFLAGS -o "$3" "$here/fixture.c"
