# Makefile — builds ppcc, ppcrun and their libraries; runs the tests, demo and benchmarks.
#
#   make            build build/bin/ppcc, build/bin/ppcrun and the libraries
#   make demo       build, then run the shipped MNIST example end to end
#   make test       every test (unit, pass, bad-input corpus under ASan/UBSan, conformance, models)
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

CC = gcc
PYTHON = /usr/bin/python3
LLVM_CONFIG = llvm-config-16
GEN = $(BUILD)/gen
CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter $(MODE_CFLAGS) -MMD -MP \
         -I. -Iir -I$(GEN) -fPIC
LDFLAGS = $(MODE_LDFLAGS)
LIBS = -lm -lpthread

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
TOOL_SRC = $(filter-out compiler/ppcc.c compiler/ppcrun.c,$(wildcard compiler/*.c))
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

.PHONY: all demo test unit-test pass-test bad-test conformance model-test clean deps
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

$(PPCC): $(call obj,compiler/ppcc.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK)
$(PPCRUN): $(call obj,compiler/ppcrun.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK)

DEMO_BIN = $(BUILD)/examples/mnist_demo
$(DEMO_BIN): $(call obj,examples/mnist_demo.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK)

# ---------------------------------------------------------------- tests
UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_BIN = $(BUILD)/tests/unit_tests
$(UNIT_BIN): $(call obj,$(UNIT_SRC)) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(UNIT_SRC)) $(CORE_LINK) $$(pkg-config --libs check)

CONF_BIN = $(BUILD)/tests/conformance
$(CONF_BIN): $(call obj,tests/conformance/conformance.c) $(CORE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CORE_LINK)

unit-test: $(UNIT_BIN)
	$(UNIT_BIN)

pass-test: $(PPCC)
	./tests/passes/run.sh $(PPCC)

bad-test:
	$(MAKE) ASAN=1 $(MAKE_SUB) build/asan/bin/ppcc build/asan/bin/ppcrun
	./tests/bad/run.sh build/asan/bin

conformance: $(CONF_BIN)
	$(CONF_BIN) --log $(BUILD)/conformance.log /usr/share/libonnx-testdata/data

model-test: $(PPCC) $(PPCRUN)
	./tests/models/run.sh $(BUILD)

test: all unit-test pass-test bad-test conformance model-test
	@echo "make test: all test groups passed"

demo: all $(DEMO_BIN)
	./examples/demo.sh $(BUILD)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
