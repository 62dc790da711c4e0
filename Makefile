# Makefile: one-word entry points for the reference library, its examples
# and every check.  `make` builds; `make check` runs every test; `make
# conformance` runs the conformance suite against the reference.
# Knobs: CC, OPT, SAN=address,undefined (sanitizer build in its own dir),
# WERROR=0, PREFIX (install), TEST_PREFIX (wraps test runs, e.g. valgrind).

CC ?= cc
OPT ?= -O2 -g
WERROR ?= 1
PREFIX ?= /usr/local
SAN ?=

comma := ,
BUILD ?= build
ifneq ($(SAN),)
BUILD := $(BUILD)/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Wstrict-prototypes -Wwrite-strings \
        -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) \
             -Iref/include -MMD -MP $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) -pthread $(LDFLAGS)
# Deferred (=) so that pkg-config runs after `deps` has installed check.
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS = $(shell pkg-config --libs check)

LIB_SRC := $(wildcard ref/src/*.c)
LIB_OBJ := $(LIB_SRC:ref/src/%.c=$(BUILD)/obj/ref/%.o)
LIB := $(BUILD)/libachat.a
# Shared by the examples, not one of them: linked from an archive, so an
# example that does not use it (achat-get) does not carry it.
EXAMPLE_SHARED := ref/examples/server.c
EXAMPLE_LIB := $(BUILD)/libexamples.a
EXAMPLES := $(patsubst ref/examples/%.c,$(BUILD)/bin/achat-%,\
            $(filter-out $(EXAMPLE_SHARED),$(wildcard ref/examples/*.c)))
UNIT_SRC := $(wildcard ref/tests/test_*.c)
UNIT := $(UNIT_SRC:ref/tests/%.c=$(BUILD)/tests/%)

VALGRIND = valgrind -q --error-exitcode=88 --leak-check=full \
           --errors-for-leak-kinds=definite,indirect --track-fds=no

.PHONY: all lib examples tests deps check unit memcheck sanitize \
        conformance acc-run examples-check selftest clang-build matrix-page-check case-errors-check \
        install clean help
.DEFAULT_GOAL := all

all: lib examples
lib: $(LIB)
examples: $(EXAMPLES)
tests: $(UNIT)

help:
	@echo "make              library and examples in build/"
	@echo "make check        every test (unit, valgrind, ASan+UBSan, conformance)"
	@echo "make conformance  the conformance suite against the reference"
	@echo "make install PREFIX=/usr/local"
	@echo "make stress       stress matrix: threads x backends x detectors (STRESS_SECONDS=5)"
	@echo "make fuzz         fuzz campaigns of every harness + summary (FUZZ_SECONDS=60; FUZZ_ARGS=--afl adds AFL++)"
	@echo "make fuzz-build   the fuzz harnesses: standalone, libFuzzer, AFL++ (if installed)"
	@echo "make fuzz-replay  replay fuzz corpora and regressions, plain and under valgrind"
	@echo "make fuzz-smoke   a short libFuzzer run of the framing harness (FUZZ_SMOKE_SECONDS=30)"
	@echo "make fuzz-oss     fuzz/build.sh as OSS-Fuzz runs it, into build/fuzz/oss"

deps:
	@scripts/ensure-deps.sh build check

$(BUILD)/obj/ref/%.o: ref/src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iref/src -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/examples/%.o: ref/examples/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(EXAMPLE_LIB): $(EXAMPLE_SHARED:ref/examples/%.c=$(BUILD)/obj/examples/%.o)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/achat-%: ref/examples/%.c $(EXAMPLE_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(EXAMPLE_LIB) $(LIB) $(LDFLAGS_ALL)

$(BUILD)/tests/%: ref/tests/%.c ref/tests/check_util.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iref/src -Iref/tests $(CHECK_CFLAGS) $< -o $@ \
	    $(LIB) $(CHECK_LIBS) $(LDFLAGS_ALL)

# Unit tests, in libcheck's fork mode: a crash fails one test, not the run.
unit: tests
	@set -e; for t in $(UNIT); do \
	    echo "== $$t"; $(TEST_PREFIX) $$t; done

# Every unit test binary again under valgrind memcheck: zero errors, zero
# leaks (valgrind follows libcheck's forked children).
memcheck: tests
	@set -e; for t in $(UNIT); do \
	    echo "== valgrind $$t"; CK_DEFAULT_TIMEOUT=120 $(VALGRIND) $$t; done

# The same tests built with ASan+UBSan.
sanitize:
	@$(MAKE) --no-print-directory SAN=address,undefined CC=$(CC) unit

# The same sources must build warning-free under clang too.
clang-build:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang all tests $(ACC_RUN:$(BUILD)/%=build/clang/%)

# The examples served for real: byte-exact echo to many pipelined clients,
# once plainly and once under valgrind.
examples-check: examples
	python3 scripts/echo_check.py --binary $(BUILD)/bin/achat-echo
	python3 scripts/echo_check.py --binary $(BUILD)/bin/achat-echo --backend select --quick \
	    --wrap "$(VALGRIND)"

# The suite must reject every deliberately broken reference.
selftest: deps
	python3 scripts/selftest.py

check: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory clang-build
	@$(MAKE) --no-print-directory memcheck
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory examples-check
	@$(MAKE) --no-print-directory conformance
	@$(MAKE) --no-print-directory case-errors-check
	@$(MAKE) --no-print-directory selftest
	@$(MAKE) --no-print-directory mutation-sample
	@$(MAKE) --no-print-directory stress-check
	@$(MAKE) --no-print-directory agents-check
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory matrix-page-check
	@echo "make check: all passed"

# The conformance suite, built against IMPL (a directory holding an adapter;
# an optional impl.mk there sets IMPL_SRCS, IMPL_CFLAGS, IMPL_DEPS, IMPL_LIBS,
# and ACC_IMPL_DEPS/ACC_IMPL_LIBS when the runner links a build of its own:
# one with the suite's failing allocator, which only the runner provides).
IMPL ?= conformance/adapters/ref
IMPL_NAME := $(notdir $(abspath $(IMPL)))
IMPL_SRCS := $(wildcard $(IMPL)/*.c)
IMPL_CFLAGS := -I$(IMPL)
IMPL_DEPS :=
IMPL_LIBS :=
ACC_IMPL_DEPS :=
ACC_IMPL_LIBS :=
-include $(IMPL)/impl.mk
ACC_LINK_DEPS := $(if $(ACC_IMPL_LIBS),$(ACC_IMPL_DEPS),$(IMPL_DEPS))
ACC_LINK_LIBS := $(or $(ACC_IMPL_LIBS),$(IMPL_LIBS))
ACC_BUILD := $(BUILD)/conformance/$(IMPL_NAME)
ACC_RUN := $(ACC_BUILD)/acc-run
ACC_SRC := $(wildcard conformance/src/*.c)
ACC_HDR := $(wildcard conformance/src/*.h conformance/include/*.h)
ACC_ARGS ?=

$(ACC_RUN): $(ACC_SRC) $(ACC_HDR) $(IMPL_SRCS) $(ACC_LINK_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iconformance/include -Iconformance/src $(IMPL_CFLAGS) \
	    $(CHECK_CFLAGS) $(ACC_SRC) $(IMPL_SRCS) -o $@ $(ACC_LINK_LIBS) \
	    $(CHECK_LIBS) $(LDFLAGS_ALL)

acc-run: deps $(ACC_RUN)

conformance: deps
	@$(MAKE) --no-print-directory $(ACC_RUN)
	$(ACC_RUN) --coverage --tap $(ACC_BUILD)/report.tap \
	    --junit $(ACC_BUILD)/report.xml --json $(ACC_BUILD)/report.json $(ACC_ARGS)

# The case parser refuses bad case files with the file, line and fault.
case-errors-check: acc-run
	python3 scripts/test_case_errors.py --runner $(ACC_RUN)

# The conformance matrix page, rendered in headless Chromium and checked
# against the numbers it was generated from (a fixture set of reports).
matrix-page-check:
	@scripts/ensure-deps.sh browser
	python3 scripts/test_matrix_page.py --no-real

# Stress and fuzz drivers keep their rules beside their sources.
-include stress/stress.mk
-include fuzz/fuzz.mk
-include conformance/agents/agents.mk
-include ref/bench/bench.mk
-include scripts/mutation.mk

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 ref/include/achat.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1|' ref/achat.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/achat.pc

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
