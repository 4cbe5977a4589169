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
for f in "$CORPUS"/*.pb; do
  expect_error ppcrun "ppcrun -i $f" "$BIN/ppcrun" "$CORPUS/relu-ok.onnx" -i "$f"
done
expect_error ppcrun "ppcrun missing input" "$BIN/ppcrun" "$CORPUS/relu-ok.onnx"
expect_error ppcrun "ppcrun bad model" "$BIN/ppcrun" "$CORPUS/garbage.onnx" --random 1
expect_error ppcrun "ppcrun missing expect" "$BIN/ppcrun" "$CORPUS/relu-ok.onnx" --random 1 --expect "$TMP/none"
# the good model still works under the sanitizers (the corpus checks error paths, this one the happy path)
if "$BIN/ppcc" "$CORPUS/relu-ok.onnx" --emit=ir -o "$TMP/ok.ir" 2> "$TMP/stderr" && [ -s "$TMP/ok.ir" ] &&
   "$BIN/ppcrun" "$TMP/ok.ir" --random 3 -o "$TMP/outs" > /dev/null 2>&1 && [ -s "$TMP/outs/output_0.pb" ]; then
  pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL relu-ok.onnx does not compile/run"; cat "$TMP/stderr"; fi
echo "bad inputs: $pass passed, $fail failed"
[ "$fail" = 0 ]
