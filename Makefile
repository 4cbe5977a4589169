# Makefile — builds ppcc, ppcrun and their libraries; runs the tests, demo and benchmarks.
#
#   make            build build/bin/ppcc, build/bin/ppcrun and the libraries
#   make demo       build, then run the shipped MNIST example end to end
#   make bench      ppcc against ONNX Runtime (not part of make test); writes docs/benchmarks.md
#   make test       every test (unit, pass, bad-input corpus under ASan/UBSan, conformance, models)
#   make accuracy   pruning accuracy and time (not part of make test); see docs/pruning.md
#   make ASAN=1     sanitizer build (into build/asan);  make DEBUG=1: -O0 build (build/debug)
#
# Missing Debian packages are installed by scripts/install-deps.sh (idempotent) on first use.

ifeq ($(ASAN),1)
BUILD ?= build/asan
MODE_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MODE_LDFLAGS = -fsanitize=address,undefined
else ifeq ($(DEBUG),1)
BUILD ?= build/debug
MODE_CFLAGS = -O0 -g
else
BUILD ?= build
MODE_CFLAGS = -O2 -g
endif

.DEFAULT_GOAL := all
CC = gcc
PYTHON = /usr/bin/python3
LLVM_CONFIG = llvm-config-16
GEN = $(BUILD)/gen
CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter $(MODE_CFLAGS) -MMD -MP \
         -I. -Iir -I$(GEN) -fPIC
LDFLAGS = $(MODE_LDFLAGS)
LIBS = -lopenblas -lm -lpthread  # OpenBLAS (BLAS + LAPACK): the prune pass's linear algebra
LIBS += -lpng                     # libpng: the grid picture of synthetic inputs (passes/png.c)

# ---------------------------------------------------------------- dependencies (Debian packages)
DEPS_STAMP = build/.deps-installed
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p build
	./scripts/install-deps.sh
	@touch $@

# ---------------------------------------------------------------- sources
IR_SRC = $(wildcard ir/*.c)
FRONT_SRC = $(wildcard frontends/onnx/*.c)
PASS_SRC = $(wildcard passes/*.c)
TOOL_SRC = $(filter-out compiler/ppcc.c compiler/ppcrun.c compiler/tune.c,$(wildcard compiler/*.c))
ONNX_PB_C = $(GEN)/onnx.pb-c.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_IR = $(BUILD)/lib/libppcir.a
LIB_FRONT = $(BUILD)/lib/libppconnx.a
LIB_PASS = $(BUILD)/lib/libppcpass.a
LIB_TOOL = $(BUILD)/lib/libppctool.a
PPCC = $(BUILD)/bin/ppcc
PPCRUN = $(BUILD)/bin/ppcrun
CORE_LIBS = $(LIB_TOOL) $(LIB_PASS) $(LIB_FRONT) $(LIB_IR)
CORE_LINK = $(CORE_LIBS) -lprotobuf-c $(LIBS)

.PHONY: all demo test unit-test pass-test bad-test sanitize-test conformance model-test clean deps
all: $(PPCC) $(PPCRUN)
deps: $(DEPS_STAMP)

$(ONNX_PB_C): /usr/include/onnx/onnx.proto | $(DEPS_STAMP)
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -I/usr/include/onnx /usr/include/onnx/onnx.proto

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP) $(ONNX_PB_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/onnx.pb-c.o: $(ONNX_PB_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -w -c $< -o $@

$(LIB_IR): $(call obj,$(IR_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^
$(LIB_FRONT): $(call obj,$(FRONT_SRC)) $(BUILD)/obj/gen/onnx.pb-c.o
	@mkdir -p $(dir $@)
	ar rcs $@ $^
$(LIB_PASS): $(call obj,$(PASS_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^
$(LIB_TOOL): $(call obj,$(TOOL_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^

# ppcc --tune (compiler/tune.c) compiles and runs candidate layers: codegen and the runtime.
$(PPCC): $(call obj,compiler/ppcc.c compiler/tune.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,compiler/ppcc.c compiler/tune.c) $(CG_LINK) $(CORE_LINK) $(LIB_RT_A) $(RT_LIBS)
$(PPCRUN): $(call obj,compiler/ppcrun.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK) $(LIB_RT_A) $(RT_LIBS)

DEMO_BIN = $(BUILD)/examples/mnist_demo
$(DEMO_BIN): $(call obj,examples/mnist_demo.c) $(CORE_LIBS) $(LIB_RT_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK) $(LIB_RT_A) $(RT_LIBS)

# ---------------------------------------------------------------- tests
UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_BIN = $(BUILD)/tests/unit_tests
$(UNIT_BIN): $(call obj,$(UNIT_SRC)) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(UNIT_SRC)) $(CORE_LINK) $$(pkg-config --libs check)

CONF_BIN = $(BUILD)/tests/conformance
CONF_DIRS = $(addprefix /usr/share/libonnx-testdata/data/,node pytorch-converted pytorch-operator simple)
$(CONF_BIN): $(call obj,tests/conformance/conformance.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK) $(LIB_RT_A) $(RT_LIBS)

unit-test: $(UNIT_BIN)
	$(UNIT_BIN)

pass-test: $(PPCC)
	./tests/passes/run.sh $(PPCC)

bad-test:
	$(MAKE) ASAN=1 $(MAKE_SUB) build/asan/bin/ppcc build/asan/bin/ppcrun
	./tests/bad/run.sh build/asan/bin

# the pass tests and the pattern kernels' tests again under AddressSanitizer/UBSan (the
# rewrites add values and nodes while holding pointers into the graph: ASAN finds stale ones)
sanitize-test: bad-test
	./tests/passes/run.sh build/asan/bin/ppcc
	$(MAKE) ASAN=1 $(MAKE_SUB) kernel-test-pattern

conformance: $(CONF_BIN)
	$(CONF_BIN) --min-pass 350 --log $(BUILD)/conformance.log $(CONF_DIRS)

model-test: $(PPCC) $(PPCRUN)
	./tests/models/run.sh $(BUILD)

test: all unit-test pass-test bad-test sanitize-test conformance model-test runtime-test \
      conformance-compiled codegen-test kernel-test-misc kernel-test prune-test prune-smoke pattern-test
	@echo "make test: all test groups passed"

demo: all $(DEMO_BIN)
	./examples/demo.sh $(BUILD)

# ================================================================ runtime (libppcrt) — begin
# The runtime that loads ppcc-compiled models: $(BUILD)/lib/libppcrt.so (soname libppcrt.so.1)
# and libppcrt.a from runtime/*.c, built with hidden visibility so only PPCRT_API functions are
# exported. `make runtime-test` builds the hand-written model fixtures of tests/runtime/ and runs
# the runtime's Check tests; `make runtime-bench` measures parallel_for and run overhead.
RT_SRC = $(wildcard runtime/*.c)
RT_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(RT_SRC))
LIB_RT_SO = $(BUILD)/lib/libppcrt.so
LIB_RT_SO1 = $(BUILD)/lib/libppcrt.so.1
LIB_RT_A = $(BUILD)/lib/libppcrt.a
RT_FFI_CFLAGS := $(shell pkg-config --cflags libffi 2>/dev/null)
RT_FFI_LIBS := $(shell pkg-config --libs libffi 2>/dev/null || echo -lffi)
RT_LIBS = -ldl -lpthread $(RT_FFI_LIBS)
RT_TEST_DIR = $(BUILD)/tests/runtime
RT_BAD_KINDS = none magic nulldesc rank negdim nbytes dtype dupname norun signature nargs \
               notable nooutputs overflow
RT_FIXTURES = $(patsubst %,$(RT_TEST_DIR)/%.so,fixture_add fixture_pool fixture_badabi \
              fixture_nosym) $(patsubst %,$(RT_TEST_DIR)/bad_%.so,$(RT_BAD_KINDS))
RT_TEST_BIN = $(RT_TEST_DIR)/test_runtime
RT_BENCH_BIN = $(RT_TEST_DIR)/bench_pool
RT_EXAMPLE_BIN = $(RT_TEST_DIR)/header_example
RT_CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
RT_CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
RT_RPATH = -Wl,-rpath,'$$ORIGIN/../../lib'

.PHONY: runtime runtime-test runtime-bench pool-stress
runtime: $(LIB_RT_SO) $(LIB_RT_A)
all: runtime

$(BUILD)/obj/runtime/%.o: runtime/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=hidden $(RT_FFI_CFLAGS) -c $< -o $@
$(LIB_RT_SO1): $(RT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libppcrt.so.1 -Wl,-z,defs -o $@ $^ $(RT_LIBS)
$(LIB_RT_SO): $(LIB_RT_SO1)
	ln -sf libppcrt.so.1 $@
$(LIB_RT_A): $(RT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Fixtures: stand-ins for compiled models (no runtime or sanitizer dependency, like real ones).
RT_FIXTURE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -O2 -g -I. \
                    -fPIC -shared -fvisibility=hidden
$(RT_TEST_DIR)/fixture_%.so: tests/runtime/fixture_%.c runtime/ppc_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(RT_FIXTURE_CFLAGS) -o $@ $<
$(RT_TEST_DIR)/bad_%.so: tests/runtime/fixture_baddesc.c runtime/ppc_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(RT_FIXTURE_CFLAGS) -DBAD_KIND_$* -o $@ $<

$(BUILD)/obj/tests/runtime/%.o: tests/runtime/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RT_CHECK_CFLAGS) -c $< -o $@
$(RT_TEST_BIN): $(BUILD)/obj/tests/runtime/test_runtime.o $(BUILD)/obj/tests/runtime/alloc_count.o \
                $(BUILD)/obj/runtime/pool.o $(LIB_RT_SO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_RT_SO1) $(RT_RPATH) $(RT_CHECK_LIBS) -ldl -lpthread
$(RT_BENCH_BIN): $(BUILD)/obj/tests/runtime/bench_pool.o $(BUILD)/obj/runtime/pool.o $(LIB_RT_SO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_RT_SO1) $(RT_RPATH) -lpthread

# The usage example at the top of runtime/ppcrt.h must stay valid, warning-free C, and link
# against both the shared and the static library.
$(RT_EXAMPLE_BIN): runtime/ppcrt.h $(LIB_RT_SO)
	@mkdir -p $(dir $@)
	sed -n '/^ \* Usage/,/^ \* Status codes/{s/^ \*     //p;s/^ \*$$//p;}' runtime/ppcrt.h > $@.c
	$(CC) -std=c11 -Wall -Wextra -Werror -Iruntime $(LDFLAGS) -o $@ $@.c $(LIB_RT_SO1) $(RT_RPATH)

$(RT_EXAMPLE_BIN)_static: $(RT_EXAMPLE_BIN) $(LIB_RT_A)
	$(CC) -std=c11 -Wall -Wextra -Werror -Iruntime $(LDFLAGS) -o $@ $<.c $(LIB_RT_A) $(RT_LIBS)

runtime-test: $(RT_TEST_BIN) $(RT_FIXTURES) $(RT_EXAMPLE_BIN) $(RT_EXAMPLE_BIN)_static
	$(RT_TEST_BIN) $(RT_TEST_DIR)

runtime-bench: $(RT_BENCH_BIN) $(RT_TEST_DIR)/fixture_add.so
	$(RT_BENCH_BIN) $(RT_TEST_DIR)

# `make pool-stress`: the pool's work stealing under ThreadSanitizer (tests/runtime/stress_pool.c)
.PHONY: pool-stress
pool-stress:
	@mkdir -p $(RT_TEST_DIR)
	$(CLANG) -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=thread -Wall -Wextra -I. -o $(RT_TEST_DIR)/stress_pool \
	    tests/runtime/stress_pool.c runtime/pool.c -lpthread
	setarch $$(uname -m) -R $(RT_TEST_DIR)/stress_pool
# ================================================================ runtime (libppcrt) — end

# ================================================================ bench — begin
# `make bench` (not part of `make test`): ppcc against ONNX Runtime. Installs onnxruntime-node
# into build/cache/ort (bench/setup.sh, idempotent), exports the four torchvision models
# (tests/models/export.py, cached), builds the driver and the FMA peak micro-benchmark, then
# runs $(BUILD)/bench/bench, which prints the table and writes docs/benchmarks.md (MODEL@pR rows:
# the model pattern-pruned at connectivity R, issue #6), then bench/pattern_layers.py, which
# appends resnet18's per-layer sparse-vs-dense table and docs/img/pattern-speedup.svg. Before ppcc
# can compile a model its rows say "ppcc: not available (REASON)" and ORT is still measured.
# Each row first waits up to 30 s for other processes to quieten (--wait-idle; the report lists
# the background CPU share per row).
#   make bench BENCH_MODELS=resnet18 BENCH_ARGS="--runs 40 --md -"   (a subset, options of bench)
# `make bench-selftest` checks the harness itself, with a hand-written "compiled" model.
# `make bench-zoo`: the same driver on more torchvision architectures (ZOO_MODELS, exported by
# tests/models/export.py), written to docs/benchmarks-zoo.md: is ppcc faster than ORT on them?
BENCH_DIR = $(BUILD)/bench
BENCH_BIN = $(BENCH_DIR)/bench
FMA_PEAK_BIN = $(BENCH_DIR)/fma_peak
BENCH_SRC = bench/bench.c bench/ort_client.c bench/macs.c bench/report.c bench/cpuload.c
BENCH_MODELS ?= resnet18 mobilenet_v2 squeezenet1_1 vgg16 resnet18@p0 resnet18@p0.5 resnet18@p0.72 \
                vgg16@p0 vgg16@p0.5 vgg16@p0.72
BENCH_ARGS ?=
ORT_CACHE = build/cache/ort

ZOO_MODELS ?= resnet50 densenet121 efficientnet_b0 regnet_y_400mf resnext50_32x4d convnext_tiny \
              googlenet inception_v3 mobilenet_v3_small shufflenet_v2_x1_0 mnasnet1_0

.PHONY: bench bench-setup bench-selftest bench-zoo
$(BENCH_BIN): $(call obj,$(BENCH_SRC)) $(CORE_LIBS) $(LIB_RT_SO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(BENCH_SRC)) $(LIB_RT_SO1) -Wl,-rpath,'$$ORIGIN/../lib' \
	    $(CORE_LINK)
# -march=native: the widest vectors of this machine (objdump -d shows the FMA loop; see the file).
$(FMA_PEAK_BIN): bench/fma_peak.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -O2 -march=native -o $@ $< -lpthread

bench-setup:
	./bench/setup.sh $(ORT_CACHE)

bench: all $(BENCH_BIN) $(FMA_PEAK_BIN) bench-setup
	$(PYTHON) tests/models/export.py $(BUILD)/models $(sort $(foreach m,$(BENCH_MODELS),$(firstword $(subst @, ,$(m)))))
	$(BENCH_BIN) --models $(BUILD)/models --work $(BENCH_DIR) --ppcc $(PPCC) \
	    --ort $(ORT_CACHE)/node_modules/onnxruntime-node --fma-peak $(FMA_PEAK_BIN) \
	    --wait-idle 30 --command "make bench" $(BENCH_ARGS) $(BENCH_MODELS)
	$(PYTHON) tests/models/export.py $(BUILD)/models resnet18
	$(PYTHON) bench/pattern_layers.py $(PPCC) $(BUILD)/models/resnet18/model.onnx docs/benchmarks.md \
	    $(BENCH_DIR)/fma_peak.txt

bench-zoo: all $(BENCH_BIN) $(FMA_PEAK_BIN) bench-setup
	$(PYTHON) tests/models/export.py $(BUILD)/models $(ZOO_MODELS)
	$(BENCH_BIN) --models $(BUILD)/models --work $(BUILD)/bench-zoo --ppcc $(PPCC) \
	    --ort $(ORT_CACHE)/node_modules/onnxruntime-node --fma-peak $(FMA_PEAK_BIN) \
	    --md docs/benchmarks-zoo.md --wait-idle 30 --command "make bench-zoo" $(BENCH_ARGS) $(ZOO_MODELS)

# A/B timing of compiled models in one process (bench/ab.c): `make bench-ab`, then
#   build/bench/ab [--threads N] [--rounds R] [--batch B] [--layers] old.so new.so
AB_BIN = $(BENCH_DIR)/ab
.PHONY: bench-ab
bench-ab: $(AB_BIN)
$(AB_BIN): $(BUILD)/obj/bench/ab.o $(LIB_RT_SO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB_RT_SO1) -Wl,-rpath,'$$ORIGIN/../lib'

# The harness on its own: a hand-written "compiled" Gemm stands in for ppcc (bench/selftest/).
bench-selftest: $(BENCH_BIN) $(FMA_PEAK_BIN) bench-setup
	./bench/selftest/run.sh $(BUILD)
# ================================================================ bench — end

# ================================================================ codegen — begin
# Native code generation (docs/codegen.md): codegen/*.c use the LLVM 16 C API and become
# $(BUILD)/lib/libppccg.a, linked into ppcc with libLLVM-16. The native kernels
# (codegen/kernels/*.c) are compiled by clang-16 to LLVM bitcode once per target architecture
# (generic CPU; optimisation happens per model, for the model's CPU), llvm-link'ed into
# kernels-<arch>.bc and embedded in ppcc ($(GEN)/kernels_bc.S, .incbin). libppcfallback.a holds
# the interpreter's kernels (ir/*.c) as PIC with hidden symbols and no sanitizers: ppcc links it
# into every model .so for ops without a native kernel, and finds it at
# <directory of ppcc>/../lib/libppcfallback.a. `make codegen-test` runs test_codegen (cg_compile
# without the codegen passes) and tests/codegen/run.sh (the MNIST example, the torchvision models
# and edge cases compiled by ppcc, compared with the interpreter); `make conformance-compiled` runs
# the ONNX backend tests through ppcc --emit=so and the runtime.
LLVM_CFLAGS := $(shell $(LLVM_CONFIG) --cflags)
LLVM_LIBS := $(shell $(LLVM_CONFIG) --ldflags --libs)
CLANG = clang-16
LLVM_LINK = llvm-link-16
LLC = llc-16
CG_SRC = $(wildcard codegen/*.c)
LIB_CG = $(BUILD)/lib/libppccg.a
LIB_FALLBACK = $(BUILD)/lib/libppcfallback.a
CG_LINK = $(LIB_CG) $(LLVM_LIBS)
KERNEL_SRC = $(wildcard codegen/kernels/*.c)
KERNEL_ARCHS = x86_64 aarch64
KERNEL_OBJ = $(BUILD)/obj/kernels
KERNEL_CFLAGS = -std=c11 -O2 -Xclang -disable-llvm-passes -ffreestanding -fno-builtin-memset \
                -fno-exceptions -fPIC -Wall -Wextra -Wno-unused-parameter -I. -MMD -MP
FALLBACK_OBJ = $(patsubst %.c,$(BUILD)/obj/fallback/%.o,$(IR_SRC))
FALLBACK_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -fvisibility=hidden -I. -Iir -MMD -MP

.PHONY: codegen-test conformance-compiled
CG_TEST_BIN = $(BUILD)/tests/test_codegen
$(call obj,$(CG_SRC)) $(call obj,compiler/ppcc.c compiler/tune.c) $(call obj,tests/codegen/test_codegen.c): CFLAGS += $(LLVM_CFLAGS)

# kernels-<arch>.bc (an empty file while there are no kernels: codegen then uses the fallback)
define KERNEL_ARCH_RULES
$(KERNEL_OBJ)/$(1)/%.bc: codegen/kernels/%.c | $(DEPS_STAMP)
	@mkdir -p $$(dir $$@)
	$(CLANG) --target=$(1)-linux-gnu $(KERNEL_CFLAGS) -emit-llvm -c $$< -o $$@
$(KERNEL_OBJ)/kernels-$(1).bc: $(patsubst codegen/kernels/%.c,$(KERNEL_OBJ)/$(1)/%.bc,$(KERNEL_SRC))
	@mkdir -p $$(dir $$@)
	$$(if $$^,$(LLVM_LINK) -o $$@ $$^,: > $$@)
endef
$(foreach a,$(KERNEL_ARCHS),$(eval $(call KERNEL_ARCH_RULES,$(a))))
KERNEL_BC = $(foreach a,$(KERNEL_ARCHS),$(KERNEL_OBJ)/kernels-$(a).bc)

$(GEN)/kernels_bc.S: Makefile
	@mkdir -p $(dir $@)
	( printf '\t.section .rodata\n'; \
	  for a in $(KERNEL_ARCHS); do \
	    printf '\t.balign 16\n\t.globl cg_kernels_%s_bc\n\t.hidden cg_kernels_%s_bc\ncg_kernels_%s_bc:\n' $$a $$a $$a; \
	    printf '\t.incbin "%s"\n' "$(abspath $(KERNEL_OBJ))/kernels-$$a.bc"; \
	    printf '\t.globl cg_kernels_%s_bc_end\n\t.hidden cg_kernels_%s_bc_end\ncg_kernels_%s_bc_end:\n' $$a $$a $$a; \
	  done; printf '\t.section .note.GNU-stack,"",@progbits\n' ) > $@
$(BUILD)/obj/gen/kernels_bc.o: $(GEN)/kernels_bc.S $(KERNEL_BC)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

# The CPU names LLVM knows per architecture (ppcc --cpu is checked against them).
$(GEN)/cg_cpus.c: Makefile
	@mkdir -p $(dir $@)
	( echo '/* cg_cpus.c: generated by the Makefile from $(LLC) -mcpu=help (CPU names per arch). */'; \
	  for a in $(KERNEL_ARCHS); do \
	    printf 'const char *const cg_cpus_%s[] = {\n' $$a; \
	    $(LLC) -mtriple=$$a-linux-gnu -mcpu=help 2>&1 | \
	      sed -n '/Available CPUs/,/Available features/s/^  \([A-Za-z0-9._-]*\) .*/    "\1",/p'; \
	    printf '    0,\n};\n'; \
	  done ) > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/cg_cpus.o: $(GEN)/cg_cpus.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB_CG): $(call obj,$(CG_SRC)) $(BUILD)/obj/gen/kernels_bc.o $(BUILD)/obj/gen/cg_cpus.o
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/fallback/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FALLBACK_CFLAGS) -c $< -o $@
$(LIB_FALLBACK): $(FALLBACK_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(PPCC): $(LIB_CG) $(LIB_FALLBACK) $(LIB_RT_A)
$(PPCRUN) $(CONF_BIN): $(LIB_RT_A)

$(CG_TEST_BIN): $(call obj,tests/codegen/test_codegen.c) $(LIB_CG) $(CORE_LIBS) $(LIB_RT_A) $(LIB_FALLBACK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CG_LINK) $(CORE_LINK) $(LIB_RT_A) $(RT_LIBS)

codegen-test: $(PPCC) $(PPCRUN) $(CG_TEST_BIN)
	$(CG_TEST_BIN) $(LIB_FALLBACK) tests/codegen/*.ir
	./tests/codegen/run.sh $(BUILD)

conformance-compiled: $(CONF_BIN) $(PPCC)
	$(CONF_BIN) --compiled $(PPCC) --jobs 2 --min-pass 350 --log $(BUILD)/conformance-compiled.log \
	    $(CONF_DIRS)
# ================================================================ codegen — end

# ================================================================ kernel tests (misc) — begin
# `make kernel-test-misc`: the non-convolution native kernels (codegen/kernels/misc*.{h,c},
# compiled natively by clang-16 -O3 -march=native) and their lowerings (codegen/lower_misc.c)
# against the interpreter (tests/kernels/test_misc.c, Check). `$(BUILD)/tests/kernels/test_misc
# --bench` measures VGG-16's and ResNet-18's fully connected layers and pooling, one thread.
KMISC_BIN = $(BUILD)/tests/kernels/test_misc
KMISC_KOBJ = $(BUILD)/obj/ktest/misc.o
KMISC_OBJ = $(call obj,tests/kernels/test_misc.c codegen/lower_misc.c codegen/lowering.c)

.PHONY: kernel-test-misc
$(KMISC_KOBJ): codegen/kernels/misc.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) -std=c11 -O3 -march=native -Wall -Wextra -I. -MMD -MP -c $< -o $@
$(KMISC_BIN): $(KMISC_OBJ) $(KMISC_KOBJ) $(LIB_IR)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $$(pkg-config --libs check) $(LIBS)
kernel-test-misc: $(KMISC_BIN)
	$(KMISC_BIN)
# ================================================================ kernel tests (misc) — end

# ================================================================ kernel tests (conv) — begin
# `make kernel-test`: the native kernels against the interpreter — the convolution kernels
# (codegen/kernels/conv*.h, conv.c, compiled natively by clang-16 -O3 -march=native; with ASAN=1
# by $(CC) with the sanitizers) through their lowering (codegen/lower_conv.c, pack.c):
# tests/kernels/test_conv.c (Check; `-v` lists the kernel instance of every case), plus
# kernel-test-misc. `make conv-bench` times the convolution kernels on every distinct conv
# layer of resnet18 and vgg16 (one thread; bench/conv_bench.c, options in its header comment,
# e.g. make conv-bench CONV_BENCH_ARGS="--sweep --layer l3", or every conv of a model after the
# code generation passes: CONV_BENCH_ARGS="--model build/models/resnet18/model.onnx").
KCONV_BIN = $(BUILD)/tests/kernels/test_conv
KCONV_KOBJ = $(BUILD)/obj/ktest/conv.o
KCONV_OBJ = $(call obj,tests/kernels/test_conv.c codegen/lower_conv.c codegen/pack.c codegen/lowering.c)
KCONV_KCC = $(if $(filter 1,$(ASAN)),$(CC) $(CFLAGS),$(CLANG) -std=c11 -O3 -Wall -Wextra -I. -MMD -MP)
CONV_BENCH_BIN = $(BUILD)/bench/conv_bench
CONV_BENCH_OBJ = $(BUILD)/obj/kbench/conv_bench.o

.PHONY: kernel-test kernel-test-conv conv-bench
$(KCONV_KOBJ): codegen/kernels/conv.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(KCONV_KCC) -march=native -c $< -o $@
$(KCONV_BIN): $(KCONV_OBJ) $(KCONV_KOBJ) $(LIB_IR)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $$(pkg-config --libs check) $(LIBS)
kernel-test-conv: $(KCONV_BIN)
	$(KCONV_BIN)
kernel-test: kernel-test-conv kernel-test-misc kernel-test-pattern

# `make kernel-test-pattern`: pattern-sparse convolution — the pass pattern-group, the ops'
# reference semantics and the native kernels (codegen/kernels/pattern.c compiled natively)
# through their lowering (codegen/lower_pattern.c): tests/kernels/test_pattern.c (Check, -v).
KPAT_BIN = $(BUILD)/tests/kernels/test_pattern
KPAT_KOBJ = $(BUILD)/obj/ktest/pattern.o
KPAT_OBJ = $(call obj,tests/kernels/test_pattern.c codegen/lower_pattern.c codegen/lowering.c)
.PHONY: kernel-test-pattern
$(KPAT_KOBJ): codegen/kernels/pattern.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(KCONV_KCC) -march=native $(if $(filter 1,$(ASAN)),,-Wno-pass-failed) -c $< -o $@
$(KPAT_BIN): $(KPAT_OBJ) $(KPAT_KOBJ) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(KPAT_OBJ) $(KPAT_KOBJ) $$(pkg-config --libs check) $(CORE_LINK)
kernel-test-pattern: $(KPAT_BIN)
	$(KPAT_BIN)

$(CONV_BENCH_OBJ): bench/conv_bench.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) -std=c11 -D_GNU_SOURCE -O3 -march=native -Wall -Wextra -I. -Iir -MMD -MP -c $< -o $@
$(CONV_BENCH_BIN): $(CONV_BENCH_OBJ) $(KCONV_KOBJ) $(call obj,codegen/pack.c codegen/lower_conv.c codegen/lowering.c) \
                   $(LIB_PASS) $(LIB_FRONT) $(LIB_IR)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lprotobuf-c $(LIBS)
conv-bench: $(CONV_BENCH_BIN)
	$(CONV_BENCH_BIN) $(CONV_BENCH_ARGS)
# ================================================================ kernel tests (conv) — end

# ================================================================ pruning — begin
# Data-free ADMM pattern pruning (ppcc --prune, docs/pruning.md), synthetic data by model inversion.
#   make prune-test   (part of `make test`, ~5 s) tests/prune/run.sh: --save-pruned round trip
#                     (interpreter and compiled .so), same graph, determinism, --stats/dumps,
#                     model inversion (--stats report, --save-synthetic files, determinism,
#                     the fallback note)
#   make prune-smoke  the issues' accuracy smoke test: MNIST pruned at connectivity 0.5 (default
#                     options: inverted data; --synthetic-range 0,1) within 1 point of dense
#                     (PRUNE_SMOKE_ARGS: extra ppcc options). Not in `make test`: it passes
#                     by one digit (98.8% against 99.6%) and fails with --seed 3 (98.4%),
#                     docs/pruning.md
#   make accuracy     (not part of `make test`, ~15 min) the MNIST accuracy table per kind of
#                     synthetic data and the pruning time of resnet18 and vgg16 on one core;
#                     writes $(BUILD)/pruning-accuracy.md (PRUNE_INVERT_STEPS=200: resnet18's
#                     inversion in full, about an hour, instead of extrapolated from 4 steps)
.PHONY: prune-test prune-smoke accuracy accuracy-bound
PRUNE_SMOKE_ARGS ?=
prune-test: $(PPCC) $(PPCRUN)
	./tests/prune/run.sh $(BUILD)
prune-smoke: $(PPCC) $(DEMO_BIN)
	./tests/prune/smoke.sh $(BUILD) $(PRUNE_SMOKE_ARGS)
accuracy: all $(DEMO_BIN)
	$(PYTHON) tests/models/export.py $(BUILD)/models resnet18 vgg16
	./tests/prune/accuracy.sh $(BUILD)
# `make accuracy-bound`: the prune pass on REAL training digits instead of synthetic images
# (tests/prune/real_bound.c; a measurement of what the synthetic data costs, docs/pruning.md).
REAL_BOUND = $(BUILD)/tests/real_bound
$(REAL_BOUND): $(call obj,tests/prune/real_bound.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK) $(RT_LIBS)
accuracy-bound: $(REAL_BOUND) $(DEMO_BIN)
	./tests/prune/real_bound.sh $(BUILD)
# `make pattern-test` (part of `make test`): pattern-sparse code generation end to end on the
# pruned MNIST example and resnet18 (tests/pattern/run.sh).
.PHONY: pattern-test
pattern-test: $(PPCC) $(PPCRUN)
	$(PYTHON) tests/models/export.py $(BUILD)/models resnet18
	./tests/pattern/run.sh $(BUILD)
# ================================================================ pruning — end

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
