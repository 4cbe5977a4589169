#!/bin/sh
# run.sh — `make pattern-test` (part of `make test`, about 2.5 minutes): pattern-sparse code generation
# end to end through ppcc and the runtime, on pruned real models:
#   1. the MNIST example pruned with the defaults (connectivity 0.5) and compiled with every
#      pruned conv forced sparse (--pattern-conv=sparse): --stats lists PatternConv layers run
#      natively; outputs equal the interpreter on the --save-pruned model (relative L2 <= 1e-4)
#      at 1 and 2 threads;
#   1b. the same pruned model with --pattern-band 1: every rows-mode pad + conv pair banded;
#   2. the same with --pattern-conv=auto (the cost model's choice) and =dense;
#   3. torchvision resnet18 (tests/models/export.py) pruned by magnitude projection (fast; the
#      structure, not the accuracy, is under test) at connectivity 0 and 0.72, compiled sparse:
#      equal to the interpreter on its --save-pruned model (relative L2 <= 1e-4), the layer
#      table lists a PatternConv per pruned 3x3 conv, filter-reorder reorders all 16 (the 8 on
#      residual chains one order per stage); compiling twice gives the same bytes;
#   3c. the connectivity-0.72 file compiled with every pruned conv dense: its 7 stride-1 3x3 convs
#      of up to 128 channels run the sparse Winograd kernel and equal the interpreter;
#   4. --tune on the MNIST example: each pruned conv's line in --stats says what was measured,
#      the tuning cache gets one line per conv, a second compile with the cache measures
#      nothing (cache file unchanged, same .so bytes), so does a compile of the --save-pruned
#      file (its libraries come from pattern-detect), the tuned model equals the interpreter;
#   5. option errors: --tuning-cache without --tune, --tune with --emit=obj;
#   6. the --save-pruned ONNX files of 1 and 3 compiled WITHOUT --prune: pass pattern-detect
#      finds the patterns in the weights, so the same convs become native PatternConvs, and the
#      outputs equal the interpreter on that file;
#   7. the load plan (issue #6: codegen emits exactly the planned loads): the pruned MNIST model
#      compiled to assembly with every compiled tile, each loop body's vector loads and stores
#      counted (tests/pattern/check_loads.py) against pattern_plan.h's plan.
# Usage: tests/pattern/run.sh [BUILD]   (BUILD defaults to build)
BUILD=${1:-build}
PPCC=$BUILD/bin/ppcc
PPCRUN=$BUILD/bin/ppcrun
M=examples/mnist/mnist_cnn.onnx
R=$BUILD/models/resnet18/model.onnx
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# compare NAME SO REF_ONNX SEED: the .so against the interpreter on REF_ONNX, 1 and 2 threads
compare() {
  "$PPCRUN" "$3" --random "$4" -o "$TMP/ref.$1" > /dev/null 2>&1 || { bad "$1: interpreter on $3"; return; }
  for t in 1 2; do
    if "$PPCRUN" "$2" --random "$4" --threads $t --expect "$TMP/ref.$1" --rel-l2 1e-4 > "$TMP/out" 2>&1; then ok; else
      bad "$1 ($t threads) differs from the interpreter: $(tail -1 "$TMP/out")"; fi
  done
}

# 1. MNIST, forced sparse
if "$PPCC" "$M" --prune --synthetic-range 0,1 --connectivity 0.5 --synthetic-samples 32 --inversion-steps 60 \
     --pattern-conv=sparse --save-pruned "$TMP/mp.onnx" --stats -o "$TMP/ms.so" 2> "$TMP/err"; then
  ok
  n=$(grep -c "PatternConv *native: pattern conv" "$TMP/err")
  [ "$n" = 4 ] && ok || bad "mnist: expected 4 native PatternConv layers in --stats, got $n"
  compare mnist-sparse "$TMP/ms.so" "$TMP/mp.onnx" 5
else
  bad "mnist: ppcc --prune --pattern-conv=sparse failed: $(tail -1 "$TMP/err")"
fi

# 1b. banded PatternPad + PatternConv (codegen/lower_pattern.c): with a 1 KiB band budget every
#     rows-mode pair of the MNIST model runs band by band (the pad's input then stays live until
#     the conv ends: plan-memory); outputs equal the interpreter; --pattern-band errors
if [ -f "$TMP/mp.onnx" ] && "$PPCC" "$TMP/mp.onnx" --pattern-conv=sparse --pattern-band 1 --stats -o "$TMP/mb.so" \
     2> "$TMP/err"; then
  n=$(grep -c "bands of [0-9]* rows" "$TMP/err")
  [ "$n" = 3 ] && ok || bad "mnist --pattern-band 1: expected 3 banded PatternPads in --stats, got $n"
  compare mnist-banded "$TMP/mb.so" "$TMP/mp.onnx" 8
else
  bad "mnist: --pattern-band 1 failed: $(tail -1 "$TMP/err")"
fi
if "$PPCC" "$M" --pattern-band -3 -o "$TMP/x.so" 2> "$TMP/err"; then bad "--pattern-band -3 accepted"; else
  grep -q "expects KiB" "$TMP/err" && ok || bad "--pattern-band -3: $(cat "$TMP/err")"
fi

# 2. auto and dense
for mode in auto dense; do
  if "$PPCC" "$M" --prune --synthetic-range 0,1 --connectivity 0.5 --synthetic-samples 32 --inversion-steps 60 \
       --pattern-conv=$mode -o "$TMP/m$mode.so" 2> "$TMP/err"; then
    ok
    compare mnist-$mode "$TMP/m$mode.so" "$TMP/mp.onnx" 6
  else
    bad "mnist: --pattern-conv=$mode failed: $(tail -1 "$TMP/err")"
  fi
done
if "$PPCC" "$M" --pattern-conv=fast -o "$TMP/x.so" 2> "$TMP/err"; then bad "--pattern-conv=fast accepted"; else
  grep -q "expects auto, sparse or dense" "$TMP/err" && ok || bad "--pattern-conv=fast: $(cat "$TMP/err")"
fi

# 3. resnet18 at connectivity 0 and 0.72
if [ -f "$R" ]; then
  for conn in 0 0.72; do
    if "$PPCC" "$R" --prune --admm-iters 0 --no-refit --connectivity $conn --pattern-conv=sparse --stats \
         --save-pruned "$TMP/r$conn.onnx" -o "$TMP/r$conn.so" 2> "$TMP/err"; then
      ok
      n=$(grep -c "PatternConv *native: pattern conv" "$TMP/err")
      [ "$n" = 16 ] && ok || bad "resnet18 conn $conn: expected 16 native PatternConv layers, got $n"
      # filter-reorder: every pruned conv, the residual chains' too (the stem, downsample and
      # second convs of a stage share one order; the fc absorbs layer4's)
      n=$(grep -c "filters reordered, absorbed by" "$TMP/err")
      c=$(grep -c "one order for the 3 convs whose outputs residual adds tie" "$TMP/err")
      [ "$n" = 16 ] && [ "$c" = 8 ] && ok ||
        bad "resnet18 conn $conn: filters reordered in $n of 16 pruned convs, $c of 8 in residual chains"
      compare resnet18-$conn "$TMP/r$conn.so" "$TMP/r$conn.onnx" 7
    else
      bad "resnet18 conn $conn: ppcc failed: $(tail -1 "$TMP/err")"
    fi
  done
else
  bad "$R missing (tests/models/export.py)"
fi

# 3c. the sparse Winograd kernel (codegen/kernels/conv_swino.h): the --save-pruned resnet18 at
#     connectivity 0.72 with every pruned conv dense: its 7 stride-1 3x3 convs of up to 128 input
#     channels (layer1, layer2) take sparse F(4x4,3x3) and the outputs equal the interpreter;
#     --winograd=2x2 keeps the dense kernel
if [ -f "$TMP/r0.72.onnx" ] &&
   "$PPCC" "$TMP/r0.72.onnx" --pattern-conv=dense --stats -o "$TMP/rsw.so" 2> "$TMP/err"; then
  n=$(grep -c "native: conv NCHW16c 3x3 s1 sparse winograd F(4x4,3x3)" "$TMP/err")
  [ "$n" = 7 ] && ok || bad "resnet18 conn 0.72 dense: expected 7 sparse Winograd convs, got $n"
  compare resnet18-sparse-winograd "$TMP/rsw.so" "$TMP/r0.72.onnx" 9
  if "$PPCC" "$TMP/r0.72.onnx" --pattern-conv=dense --winograd=2x2 --stats -o "$TMP/rsw2.so" 2> "$TMP/err"; then
    n=$(grep -c "sparse winograd" "$TMP/err")
    [ "$n" = 0 ] && ok || bad "resnet18 conn 0.72 --winograd=2x2: $n sparse Winograd convs, want 0"
  else
    bad "resnet18 conn 0.72 --winograd=2x2: ppcc failed: $(tail -1 "$TMP/err")"
  fi
else
  bad "resnet18 conn 0.72 --pattern-conv=dense: ppcc failed: $(tail -1 "$TMP/err")"
fi

# 3b. determinism
if "$PPCC" "$R" --prune --admm-iters 0 --no-refit --connectivity 0.72 -o "$TMP/d1.so" 2> /dev/null &&
   "$PPCC" "$R" --prune --admm-iters 0 --no-refit --connectivity 0.72 -o "$TMP/d2.so" 2> /dev/null &&
   cmp -s "$TMP/d1.so" "$TMP/d2.so"; then ok; else bad "resnet18 pruned: two compiles differ"; fi

# 4. --tune with a cache
MP="--prune --admm-iters 0 --no-refit --connectivity 0.5"
if "$PPCC" "$M" $MP --tune --tuning-cache "$TMP/cache" --stats --save-pruned "$TMP/tp.onnx" -o "$TMP/t1.so" \
     2> "$TMP/err"; then
  ok
  n=$(grep -c "^stats: pattern .*measured .* ms sparse .* ms dense" "$TMP/err")
  [ "$n" = 4 ] && ok || bad "--tune: expected 4 measured layers in --stats, got $n"
  n=$(grep -vc "^#" "$TMP/cache")
  [ "$n" = 4 ] && ok || bad "--tune: expected 4 cache entries, got $n"
  cp "$TMP/cache" "$TMP/cache0"
  if "$PPCC" "$M" $MP --tune --tuning-cache "$TMP/cache" -o "$TMP/t2.so" 2> "$TMP/err"; then
    cmp -s "$TMP/cache" "$TMP/cache0" && ok || bad "--tune: the second compile changed the cache"
    cmp -s "$TMP/t1.so" "$TMP/t2.so" && ok || bad "--tune: the cached compile differs from the first"
  else
    bad "--tune (cached) failed: $(tail -1 "$TMP/err")"
  fi
  compare mnist-tuned "$TMP/t1.so" "$TMP/tp.onnx" 8
  # the --save-pruned file hits the same cache entries (its pattern libraries come from
  # pattern-detect, in another order than the prune pass's: the keys use the canonical order)
  if "$PPCC" "$TMP/tp.onnx" --tune --tuning-cache "$TMP/cache" -o "$TMP/t3.so" 2> "$TMP/err"; then
    cmp -s "$TMP/cache" "$TMP/cache0" && ok || bad "--tune: the --save-pruned file missed the cache: $(diff "$TMP/cache0" "$TMP/cache" | head -3)"
  else
    bad "--tune (--save-pruned file) failed: $(tail -1 "$TMP/err")"
  fi
else
  bad "--tune failed: $(tail -1 "$TMP/err")"
fi

# 5. option errors
if "$PPCC" "$M" --prune --tuning-cache "$TMP/c2" -o "$TMP/x.so" 2> "$TMP/err"; then bad "--tuning-cache without --tune accepted"
else grep -q "needs --tune" "$TMP/err" && ok || bad "--tuning-cache without --tune: $(cat "$TMP/err")"; fi
if "$PPCC" "$M" --prune --tune --emit=obj -o "$TMP/x.o" 2> "$TMP/err"; then bad "--tune --emit=obj accepted"
else grep -q "needs --emit=so" "$TMP/err" && ok || bad "--tune --emit=obj: $(cat "$TMP/err")"; fi
[ ! -e "$TMP/x.o" ] && [ ! -e "$TMP/c2" ] && ok || bad "a refused compile left a file behind"

# 6. pattern-sparse ONNX files without prune metadata
for f in mp r0.72; do
  [ -f "$TMP/$f.onnx" ] || { bad "$f.onnx missing (an earlier check failed)"; continue; }
  want=4
  [ "$f" = mp ] || want=16
  if "$PPCC" "$TMP/$f.onnx" --pattern-conv=sparse --stats -o "$TMP/det.so" 2> "$TMP/err"; then
    n=$(grep -c "PatternConv *native: pattern conv" "$TMP/err")
    d=$(grep -c "^stats: pattern .*patterns detected from the weights" "$TMP/err")
    [ "$n" = $want ] && [ "$d" = $want ] && ok ||
      bad "$f.onnx without --prune: expected $want detected native PatternConvs, got $n native, $d detected"
    compare detected-$f "$TMP/det.so" "$TMP/$f.onnx" 9
  else
    bad "$f.onnx without --prune: ppcc failed: $(tail -1 "$TMP/err")"
  fi
done

# 7. the load plan: with every compiled tile forced (--pattern-tile), each PatternConv's loop
#    bodies (one per pattern and group size) load and store exactly what the plan counts — no
#    spilled accumulator, no load the plan merges and LLVM does not (check_loads.py). x86-64 with
#    AVX-512 only: the group sizes are chosen for its 32 registers.
if [ "$(uname -m)" = x86_64 ] && grep -q avx512f /proc/cpuinfo && [ -f "$TMP/mp.onnx" ]; then
  tiles=$(sed -n '/^#define KPAT_TILES/,/^$/p' codegen/kernels/pattern_plan.h | grep -o 'X([0-9], [0-9], [0-9])' | tr -d 'X() ')
  [ -n "$tiles" ] || bad "no tiles found in codegen/kernels/pattern_plan.h"
  for t in $tiles; do
    rm -rf "$TMP/dump"
    if "$PPCC" "$TMP/mp.onnx" --pattern-conv=sparse --pattern-tile "$t" --emit=asm --stats \
         --dump-after pattern-group --dump-dir "$TMP/dump" -o "$TMP/lp.s" 2> "$TMP/lp.stats" &&
       /usr/bin/python3 tests/pattern/check_loads.py "$TMP/lp.s" "$TMP/dump/"*pattern-group.ir "$TMP/lp.stats" \
         > "$TMP/lp.out" 2>&1; then
      ok
    else
      bad "tile $t: loads not as planned: $(grep -A2 FAIL "$TMP/lp.out" | head -3; tail -1 "$TMP/lp.stats")"
    fi
  done
else
  echo "skipped: the load-plan check (needs x86-64 with AVX-512 and the pruned MNIST model of check 1)"
fi

echo "pattern tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
