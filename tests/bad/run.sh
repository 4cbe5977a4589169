#!/bin/sh
# run.sh — the bad-input corpus: every file in tests/bad/corpus must make the tools fail with
# exactly one line "ppcc: error: FILE: ..." (or "ppcrun: error: ..."), exit status 1, no output
# file, no sanitizer report, and the input file unchanged. Run with sanitizer-built tools:
#   tests/bad/run.sh build/asan/bin
BIN=${1:-build/asan/bin}
CORPUS=$(dirname "$0")/corpus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98
pass=0; fail=0

# expect_error TOOL-PREFIX WHAT COMMAND...
expect_error() {
  prefix=$1; what=$2; shift 2
  rm -f "$TMP/out.ir"
  "$@" > "$TMP/stdout" 2> "$TMP/stderr"
  rc=$?
  lines=$(wc -l < "$TMP/stderr")
  if [ "$rc" = 1 ] && [ "$lines" = 1 ] && grep -q "^$prefix: error: " "$TMP/stderr" && [ ! -e "$TMP/out.ir" ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1))
    echo "FAIL $what: exit $rc, $lines stderr lines, output file $( [ -e "$TMP/out.ir" ] && echo left || echo absent)"
    sed 's/^/    /' "$TMP/stderr" | head -20
  fi
}

for f in "$CORPUS"/*.onnx "$CORPUS"/*.ir; do
  case $f in *relu-ok.onnx) continue ;; esac
  sum=$(md5sum < "$f")
  expect_error ppcc "ppcc $f" "$BIN/ppcc" "$f" --emit=ir -o "$TMP/out.ir"
  case $f in *.onnx)
    # ppcc check must report (exit 1), never crash
    "$BIN/ppcc" check "$f" > "$TMP/stdout" 2> "$TMP/stderr"; rc=$?
    if [ "$rc" = 1 ] && ! grep -q "Sanitizer\|runtime error" "$TMP/stderr"; then pass=$((pass+1)); else
      fail=$((fail+1)); echo "FAIL ppcc check $f: exit $rc"; head -5 "$TMP/stderr"; fi ;;
  esac
  [ "$sum" = "$(md5sum < "$f")" ] || { fail=$((fail+1)); echo "FAIL $f was modified"; }
done
expect_error ppcc "missing file" "$BIN/ppcc" "$TMP/does-not-exist.onnx" --emit=ir -o "$TMP/out.ir"
expect_error ppcc "directory as model" "$BIN/ppcc" "$TMP" --emit=ir -o "$TMP/out.ir"
expect_error ppcc "no output dir" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --emit=ir -o "$TMP/no/such/dir/out.ir"
expect_error ppcc "bad --shape" "$BIN/ppcc" "$CORPUS/symbolic-dim.onnx" --shape x=2xq --emit=ir -o "$TMP/out.ir"
expect_error ppcc "wrong-rank --shape" "$BIN/ppcc" "$CORPUS/symbolic-dim.onnx" --shape x=2x4x5 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "unknown pass" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --passes dce,nonsense --emit=ir -o "$TMP/out.ir"
expect_error ppcc "bad -O" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" -O7 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "unknown option" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --frobnicate
expect_error ppcc "--pattern-tile not a compiled tile" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --pattern-tile 0,8,2 -o "$TMP/out.so"
expect_error ppcc "--pattern-tile malformed" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --pattern-tile 0,4,2x -o "$TMP/out.so"
expect_error ppcc "--pattern-tile with --tune" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --pattern-tile 0,4,2 --tune -o "$TMP/out.so"
for f in "$CORPUS"/*.pb; do
  expect_error ppcrun "ppcrun -i $f" "$BIN/ppcrun" "$CORPUS/relu-ok.onnx" -i "$f"
done
expect_error ppcrun "ppcrun missing input" "$BIN/ppcrun" "$CORPUS/relu-ok.onnx"
expect_error ppcrun "ppcrun bad model" "$BIN/ppcrun" "$CORPUS/garbage.onnx" --random 1
expect_error ppcrun "ppcrun missing expect" "$BIN/ppcrun" "$CORPUS/relu-ok.onnx" --random 1 --expect "$TMP/none"
# compiled models: ppcc --emit=so of the good model, loaded by ppcrun through libppcrt
if "$BIN/ppcc" "$CORPUS/relu-ok.onnx" -o "$TMP/ok.so" 2> "$TMP/stderr" &&
   "$BIN/ppcrun" "$TMP/ok.so" --random 3 > /dev/null 2>> "$TMP/stderr"; then
  pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL relu-ok.onnx does not compile/run natively"; cat "$TMP/stderr"; fi
for f in "$CORPUS"/*.pb; do
  expect_error ppcrun "ppcrun ok.so -i $f" "$BIN/ppcrun" "$TMP/ok.so" -i "$f"
done
expect_error ppcrun "ppcrun .so missing input" "$BIN/ppcrun" "$TMP/ok.so"
expect_error ppcrun "ppcrun .so unknown input name" "$BIN/ppcrun" "$TMP/ok.so" -i nosuch="$CORPUS/wrong-name-input.pb"
expect_error ppcrun "ppcrun .so --shape" "$BIN/ppcrun" "$TMP/ok.so" --random 1 --shape x=1x4
printf 'not a model\n' > "$TMP/text.so"
expect_error ppcrun "ppcrun text file as .so" "$BIN/ppcrun" "$TMP/text.so" --random 1
cc -shared -fPIC -o "$TMP/plain.so" -x c /dev/null 2> /dev/null
expect_error ppcrun "ppcrun .so without ppc_model_v1" "$BIN/ppcrun" "$TMP/plain.so" --random 1
cc -shared -fPIC -I"$(dirname "$0")/../.." -o "$TMP/badabi.so" "$(dirname "$0")/../runtime/fixture_badabi.c"
expect_error ppcrun "ppcrun ABI mismatch" "$BIN/ppcrun" "$TMP/badabi.so" --random 1
expect_error ppcrun "ppcrun --compare-layers without --debug-layers" "$BIN/ppcrun" --compare-layers \
  "$CORPUS/relu-ok.onnx" "$TMP/ok.so" --random 1
expect_error ppcrun "ppcrun --compare-layers one model" "$BIN/ppcrun" --compare-layers "$TMP/ok.so" --random 1
expect_error ppcrun "ppcrun --trace without --debug-layers" "$BIN/ppcrun" --trace "$TMP/trace" "$TMP/ok.so" --random 1
expect_error ppcrun "ppcrun --threads 0" "$BIN/ppcrun" "$TMP/ok.so" --random 1 --threads 0
expect_error ppcrun "ppcrun --bench x" "$BIN/ppcrun" "$TMP/ok.so" --random 1 --bench x
expect_error ppcc "ppcc --target unknown" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --target nosuch-arch-linux -o "$TMP/out.ir"
expect_error ppcc "ppcc --emit=so for aarch64" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --target aarch64-linux-gnu \
  -o "$TMP/out.ir"
expect_error ppcc "ppcc --cpu unknown" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --cpu nosuchcpu -o "$TMP/out.ir"
expect_error ppcc "ppcc --emit=so to stdout" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" -o -
expect_error ppcc "ppcc --emit=so into a missing dir" "$BIN/ppcc" "$CORPUS/relu-ok.onnx" -o "$TMP/no/such/dir/out.ir"
# the good model still works under the sanitizers (the corpus checks error paths, this one the happy path)
if "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --emit=ir -o "$TMP/ok.ir" 2> "$TMP/stderr" && [ -s "$TMP/ok.ir" ] &&
   "$BIN/ppcrun" "$TMP/ok.ir" --random 3 -o "$TMP/outs" > /dev/null 2>&1 && [ -s "$TMP/outs/output_0.pb" ]; then
  pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL relu-ok.onnx does not compile/run"; cat "$TMP/stderr"; fi
# pruning options (docs/pruning.md): one-line errors, no output file
OK=$CORPUS/relu-ok.onnx
expect_error ppcc "--patterns 0" "$BIN/ppcc" "$OK" --prune --patterns 0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--patterns > C(8,N-1)" "$BIN/ppcc" "$OK" --prune --pattern-size 9 --patterns 2 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--pattern-size 10" "$BIN/ppcc" "$OK" --prune --pattern-size 10 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--connectivity 1" "$BIN/ppcc" "$OK" --prune --connectivity 1 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--connectivity nan" "$BIN/ppcc" "$OK" --prune --connectivity nan --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--admm-iters -1" "$BIN/ppcc" "$OK" --prune --admm-iters -1 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--admm-rho 0" "$BIN/ppcc" "$OK" --prune --admm-rho 0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic-samples 0" "$BIN/ppcc" "$OK" --prune --synthetic-samples 0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic=foo" "$BIN/ppcc" "$OK" --prune --synthetic=foo --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic-source=foo" "$BIN/ppcc" "$OK" --prune --synthetic-source=foo --emit=ir -o "$TMP/out.ir"
expect_error ppcc "pruning option without --prune" "$BIN/ppcc" "$OK" --connectivity 0.5 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--prune-layers=nope" "$BIN/ppcc" "$OK" --prune --prune-layers=nope --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--save-pruned from .ir" "$BIN/ppcc" "$TMP/ok.ir" --prune --save-pruned "$TMP/x.onnx" --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--save-pruned unwritable" "$BIN/ppcc" "$OK" --prune --save-pruned "$TMP/no/dir/x.onnx" --emit=ir -o "$TMP/out.ir"
# synthetic data and model inversion (issue #5)
MN=examples/mnist/mnist_cnn.onnx
expect_error ppcc "--synthetic=inverse" "$BIN/ppcc" "$OK" --prune --synthetic=inverse --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-steps -1" "$BIN/ppcc" "$OK" --prune --inversion-steps -1 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-steps x" "$BIN/ppcc" "$OK" --prune --inversion-steps 10x --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-lr 0" "$BIN/ppcc" "$OK" --prune --inversion-lr 0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-lr inf" "$BIN/ppcc" "$OK" --prune --inversion-lr inf --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-tv -1" "$BIN/ppcc" "$OK" --prune --inversion-tv -1 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-l2 nan" "$BIN/ppcc" "$OK" --prune --inversion-l2 nan --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-l1 -0.1" "$BIN/ppcc" "$OK" --prune --inversion-l1 -0.1 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-resolution 0" "$BIN/ppcc" "$OK" --prune --inversion-resolution 0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-resolution 1.5" "$BIN/ppcc" "$OK" --prune --inversion-resolution 1.5 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-jitter -2" "$BIN/ppcc" "$OK" --prune --inversion-jitter -2 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic-range 1,0" "$BIN/ppcc" "$OK" --prune --synthetic-range 1,0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic-range 0" "$BIN/ppcc" "$OK" --prune --synthetic-range 0 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic-range a,b" "$BIN/ppcc" "$OK" --prune --synthetic-range a,b --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--synthetic-range 0,inf" "$BIN/ppcc" "$OK" --prune --synthetic-range 0,inf --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-steps with gaussian" "$BIN/ppcc" "$OK" --prune --synthetic=gaussian --inversion-steps 5 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--inversion-lr without --prune" "$BIN/ppcc" "$OK" --inversion-lr 0.1 --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--save-synthetic ''" "$BIN/ppcc" "$OK" --prune --save-synthetic "" --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--save-synthetic without data" "$BIN/ppcc" "$OK" --prune --admm-iters 0 --no-refit --save-synthetic "$TMP/s" --emit=ir -o "$TMP/out.ir"
expect_error ppcc "--save-synthetic unwritable" "$BIN/ppcc" "$MN" --prune --synthetic=gaussian --save-synthetic "$TMP/no/dir" --emit=ir -o "$TMP/out.ir"
: > "$TMP/afile"
expect_error ppcc "--save-synthetic onto a file" "$BIN/ppcc" "$MN" --prune --synthetic=gaussian --save-synthetic "$TMP/afile" --emit=ir -o "$TMP/out.ir"
echo "bad inputs: $pass passed, $fail failed"
[ "$fail" = 0 ]
