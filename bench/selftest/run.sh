#!/bin/sh
# run.sh — self-test of the benchmark harness (`make bench-selftest`), independent of ppcc's code
# generator: builds a small Gemm model (gen_fixture.py) and its hand-written compiled form
# (fixture.c, through fake_ppcc.sh in place of ppcc), runs the real driver against ONNX Runtime,
# and checks its report: both engines measured at 1 and 2 threads, ppcc also with 1 and 2 threads
# alternating, the ppcc-vs-ORT error tiny, ORT-vs-reference error tiny; then a deliberately wrong
# build (-DPERTURB) must show an error above 1e-4, and a compiler that fails must give
# "ppcc: not available (compile failed: ...)" (and no alternating timing). The paired ORT/ppcc
# ratio of each row must be printed and agree with the ratio of the medians within 2x.
#   usage: bench/selftest/run.sh BUILD_DIR     (needs bench/setup.sh to have run)
set -e
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$BUILD/bench-selftest
mkdir -p "$OUT"
/usr/bin/python3 "$HERE/gen_fixture.py" "$OUT"
export FIXTURE_DIR="$OUT"
BENCH="$BUILD/bench/bench --models $OUT/models --work $OUT/work --ppcc $HERE/fake_ppcc.sh
  --ort build/cache/ort/node_modules/onnxruntime-node --fma-peak $BUILD/bench/fma_peak
  --runs 20 --warmup 2 --batch 5 --md - gemm"
pass=0; fail=0
check() { # NAME COMMAND...: count a check
  name=$1; shift
  if "$@"; then pass=$((pass+1)); echo "ok   $name"; else fail=$((fail+1)); echo "FAIL $name"; fi
}
rows() { grep -E '^gemm +0\.000 +[12] ' "$1"; }
# The table row's rel L2 (column 10) must be below $2 or above it.
l2_below() { rows "$1" | awk -v m="$2" 'NR>0 { n++; if (!($10+0 < m)) bad=1 } END { exit !(n==2 && !bad) }'; }
l2_above() { rows "$1" | awk -v m="$2" 'NR>0 { n++; if (!($10+0 > m)) bad=1 } END { exit !(n==2 && !bad) }'; }

FIXTURE_CFLAGS= $BENCH > "$OUT/good.log" 2>&1 || { cat "$OUT/good.log"; exit 1; }
check "two rows, ORT and ppcc numbers" sh -c "[ \$(grep -cE '^gemm +0\.000 +[12] +[0-9.]+ +[0-9.]+ ' '$OUT/good.log') = 2 ]"
check "ppcc vs ORT rel L2 < 1e-5" l2_below "$OUT/good.log" 1e-5
check "ORT vs reference < 1e-5" sh -c "grep -E '^gemm .* [0-9.]+e-0[6-9] *$' '$OUT/good.log' >/dev/null"
check "1 and 2 threads alternating" grep -qE '^bench: gemm: alternating, ppcc median [0-9.]+ ms at 1 thread, [0-9.]+ ms at 2 \([0-9.]+x\)$' "$OUT/good.log"
# the paired ratio (median of the rounds' ORT/ppcc batch medians) is printed for both rows and
# lies within 2x of the ratio of the medians
paired_sane() { grep -E '^bench: gemm, [12] threads?: .*ORT median ([0-9.]+) ms .*ppcc median ([0-9.]+) ms .*ORT/ppcc paired ([0-9.]+)$' "$1" |
  sed -E 's/.*ORT median ([0-9.]+) ms .*ppcc median ([0-9.]+) ms .*paired ([0-9.]+)$/\1 \2 \3/' |
  awk '{ n++; q = $1 / $2; if (!($3 > 0 && $3 < 2 * q && $3 > q / 2)) bad = 1 } END { exit !(n == 2 && !bad) }'; }
check "paired ORT/ppcc ratio per row" paired_sane "$OUT/good.log"
check "FMA peak measured" grep -qE '^FMA peak \(.*\): 1 thread [0-9.]+ GFLOP/s, 2 threads' "$OUT/good.log"

FIXTURE_CFLAGS=-DPERTURB=0.01f $BENCH > "$OUT/wrong.log" 2>&1 || { cat "$OUT/wrong.log"; exit 1; }
check "wrong output: rel L2 > 1e-4" l2_above "$OUT/wrong.log" 1e-4

FIXTURE_CFLAGS="-include /nonexistent.h" $BENCH > "$OUT/broken.log" 2>&1 || true
check "failed compile: ORT still measured" sh -c "[ \$(grep -cE '^gemm +0\.000 +[12] +[0-9.]+ +n/a ' '$OUT/broken.log') = 2 ]"
check "failed compile: no alternating timing" sh -c "! grep -q 'alternating, ppcc median' '$OUT/broken.log'"
check "failed compile: reason given" grep -q 'ppcc: not available (compile failed: ' "$OUT/broken.log"

echo "bench selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
