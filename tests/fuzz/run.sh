#!/bin/sh
# run.sh — build and run the libFuzzer targets for every file reader (ONNX models and tensors,
# the text IR) for SECONDS each (default 60), seeded from the ONNX test data and the repo's IR
# files. Not part of `make test` (slow); `make fuzz` runs it.
set -e
SECONDS_EACH=${1:-60}
OUT=build/fuzz
mkdir -p "$OUT/corpus-onnx" "$OUT/corpus-ir"
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. -Iir -Ibuild/gen"
clang $CFLAGS ir/*.c tests/fuzz/fuzz_parse.c -o "$OUT/fuzz_parse" -lm
clang $CFLAGS ir/*.c frontends/onnx/*.c build/gen/onnx.pb-c.c tests/fuzz/fuzz_onnx.c -o "$OUT/fuzz_onnx" -lprotobuf-c -lm
# seeds: small conformance models and tensors, the repo's .ir files
for f in /usr/share/libonnx-testdata/data/node/test_[a-c]*/model.onnx; do
  cp "$f" "$OUT/corpus-onnx/$(echo "$f" | md5sum | cut -c1-12).onnx"
done
cp tests/bad/corpus/*.onnx tests/bad/corpus/*.pb "$OUT/corpus-onnx/" 2>/dev/null || true
cp tests/passes/*.ir tests/bad/corpus/*.ir "$OUT/corpus-ir/" 2>/dev/null || true
"$OUT/fuzz_onnx" -max_total_time="$SECONDS_EACH" -max_len=65536 "$OUT/corpus-onnx"
"$OUT/fuzz_parse" -max_total_time="$SECONDS_EACH" -max_len=8192 "$OUT/corpus-ir"
echo "fuzz: no crashes in ${SECONDS_EACH}s per target"
