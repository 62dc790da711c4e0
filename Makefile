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
SAN_DIR := $(if $(SAN),/san-$(subst $(comma),-,$(SAN)))
ifneq ($(SAN),)
BUILD := $(BUILD)$(SAN_DIR)
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

# valgrind cannot run a binary built with these sanitizers (their runtimes
# reserve the shadow memory valgrind needs): under them valgrind steps skip.
NO_VALGRIND_SAN := $(filter address thread memory leak hwaddress,\
                   $(subst $(comma), ,$(SAN)))
VALGRIND_SKIP = echo "$@: valgrind step skipped: valgrind cannot run binaries \
built with -fsanitize=$(SAN) (run make $@ without SAN for it)"

VALGRIND = valgrind -q --error-exitcode=88 --leak-check=full \
           --errors-for-leak-kinds=definite,indirect,possible --track-fds=no

.PHONY: all lib examples tests deps check unit memcheck sanitize \
        examples-check readme-check install-check clang-build \
        install clean help
.DEFAULT_GOAL := all

all: lib examples
lib: $(LIB)
examples: $(EXAMPLES)
tests: $(UNIT)

# Every user-facing target, grouped; scripts/readme_check.py fails when a
# target of any make file is neither here nor in HELP_INTERNAL.
HELP_INTERNAL := deps bench-deps fuzz-deps stress-bin stress-build-plain \
    stress-build-tsan stress-build-asan fuzz-impl-bins help
help:
	@echo "Build"
	@echo "  make [all]          library and examples in build/ (lib, examples, tests: parts)"
	@echo "  make lib | examples | tests"
	@echo "  make clang-build    the same sources under clang, warning-free"
	@echo "  make install PREFIX=/usr/local     make clean"
	@echo "Tests"
	@echo "  make check          every test below, step by step, with step times"
	@echo "  make unit           libcheck unit tests; memcheck: under valgrind; sanitize: ASan+UBSan"
	@echo "  make memcheck | sanitize"
	@echo "  make examples-check the examples served for real (echo, rawecho, get)"
	@echo "  make readme-check   README's example compiled and run; its layout table complete"
	@echo "  make install-check  install used through pkg-config"
	@echo "Conformance (IMPL=dir: any adapter directory; default the reference)"
	@echo "  make conformance    the suite and its report; acc-run: only the runner"
	@echo "  make acc-run | reports-check | case-errors-check | messages-check | catalogue-check"
	@echo "  make selftest       the realistic-bug catalogue, each bug rejected by its case"
	@echo "  make mutation       every mutant of ref/src; mutation-sample: a seeded few"
	@echo "  make mutation-sample"
	@echo "  make agents         agent builds; agents-check: reference and CPython through agents"
	@echo "  make agents-check | agents-ref | agents-cpython | agents-medusa | agents-clang"
	@echo "  make vocab-check    the Python side reads the adapter header's lists as C does"
	@echo "  make medusa         Supervisor's medusa modules into build/medusa"
	@echo "  make lifetime-check the runner's workers and agents die with it"
	@echo "  make neutrality-check  conformance, stress, fuzz through a renamed reference"
	@echo "  make matrix-page-check the matrix page rendered and checked in Chromium"
	@echo "Stress (IMPL=dir)"
	@echo "  make stress         threads x backends x detectors (STRESS_SECONDS=5)"
	@echo "  make stress-check   the short matrix make check runs; stress-build: its binaries"
	@echo "  make stress-build"
	@echo "Fuzz (IMPL=dir: fuzz-impl-* and fuzz drive that adapter)"
	@echo "  make fuzz           campaigns of every harness + summary (FUZZ_SECONDS=60)"
	@echo "  make fuzz-build     standalone, libFuzzer, AFL++ builds (fuzz-standalone | fuzz-libfuzzer | fuzz-afl)"
	@echo "  make fuzz-standalone | fuzz-libfuzzer | fuzz-afl | fuzz-seeds"
	@echo "  make fuzz-replay    corpora and regressions, plain and under valgrind"
	@echo "  make fuzz-smoke     a short libFuzzer run (FUZZ_SMOKE_SECONDS=30)"
	@echo "  make fuzz-oss       fuzz/build.sh as OSS-Fuzz runs it"
	@echo "  make fuzz-impl-smoke | fuzz-impl-build | fuzz-impl-standalone | fuzz-impl-libfuzzer | fuzz-impl-afl"
	@echo "Bench"
	@echo "  make bench          every table with ratios to the peers; bench-quick: a smoke run"
	@echo "  make bench-quick | bench-build"

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
# leaks, "possible" ones included (valgrind follows libcheck's forked
# children; libcheck itself leaves none).
memcheck: tests
ifneq ($(NO_VALGRIND_SAN),)
	@$(VALGRIND_SKIP)
else
	@set -e; for t in $(UNIT); do \
	    echo "== valgrind $$t"; CK_DEFAULT_TIMEOUT=120 $(VALGRIND) $$t; done
endif

# The same tests built with ASan+UBSan.
sanitize:
	@$(MAKE) --no-print-directory SAN=address,undefined CC=$(CC) unit

# The same sources must build warning-free under clang too (a SAN build in
# its own directory there as well: BUILD on the command line wins over the
# SAN suffix, so the suffix goes in here).
CLANG_BUILD := build/clang$(SAN_DIR)
clang-build:
	@$(MAKE) --no-print-directory CC=clang BUILD=$(CLANG_BUILD) all tests $(ACC_RUN:$(BUILD)/%=$(CLANG_BUILD)/%)

# The examples served for real: byte-exact echo to many pipelined clients
# (each run: two servers on two backends, ended by SIGTERM and SIGINT),
# achat-rawecho, achat-get; once plainly and once under valgrind.
examples-check: examples
	python3 ref/examples/echo_check.py --binary $(BUILD)/bin/achat-echo \
	    --backend poll --also-backend epoll
ifneq ($(NO_VALGRIND_SAN),)
	@$(VALGRIND_SKIP)
else
	python3 ref/examples/echo_check.py --binary $(BUILD)/bin/achat-echo --quick \
	    --backend select --also-backend poll --wrap "$(VALGRIND)"
endif

# The README's API example compiles warning-free against the library and
# echoes lines, so that it cannot rot.
readme-check: lib
	python3 scripts/readme_check.py --cc "$(CC) $(SANFLAGS)" --lib $(LIB) \
	    --out $(BUILD)/readme

# Every test, one step after another; each step's wall time is printed at
# the end, so a CI log shows where the minutes go.
CHECK_STEPS := all unit clang-build memcheck sanitize examples-check \
    readme-check install-check conformance reports-check case-errors-check messages-check \
    catalogue-check selftest mutation-sample stress-check agents-check lifetime-check fuzz-replay \
    fuzz-smoke neutrality-check matrix-page-check

check: deps
	@t0=$$(date +%s); times=""; \
	for step in $(CHECK_STEPS); do \
	    s0=$$(date +%s); \
	    $(MAKE) --no-print-directory $$step || { echo "make check: step '$$step' failed" >&2; exit 1; }; \
	    times="$$times $$step=$$(( $$(date +%s) - s0 ))s"; \
	done; \
	echo "make check: step times:$$times"; \
	echo "make check: all passed in $$(( $$(date +%s) - t0 )) s"

# Each subsystem keeps its rules beside its sources (conformance first: it
# defines IMPL, which the stress and fuzz rules take too).
include conformance/conformance.mk
include conformance/agents/agents.mk
include stress/stress.mk
include fuzz/fuzz.mk
include ref/bench/bench.mk

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 ref/include/achat.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1|' ref/achat.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/achat.pc

# `make install` and achat.pc used the way a user would: into a scratch
# prefix, then a program built with only `pkg-config --cflags --libs achat`
# (its version checked against the header's) and run.
INSTALL_CHECK := $(abspath $(BUILD)/install-check)
install-check: $(LIB)
	rm -rf $(INSTALL_CHECK)
	@$(MAKE) --no-print-directory install PREFIX=$(INSTALL_CHECK)
	PKG_CONFIG_PATH=$(INSTALL_CHECK)/lib/pkgconfig; export PKG_CONFIG_PATH; \
	pkg-config --exists --print-errors achat && \
	$(CC) -std=c11 -Wall -Wextra -Werror $(SANFLAGS) \
	    $$(pkg-config --cflags achat) ref/tests/install_smoke.c \
	    -o $(INSTALL_CHECK)/install_smoke $$(pkg-config --libs achat) && \
	$(INSTALL_CHECK)/install_smoke "$$(pkg-config --modversion achat)"

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
