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
        conformance acc-run examples-check readme-check install-check selftest clang-build matrix-page-check case-errors-check neutrality-check \
        messages-check catalogue-check \
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
	@echo "make fuzz IMPL=d  fuzz campaigns of implementation d through its adapter"
	@echo "make fuzz-impl-smoke [IMPL=d]  replay + seeded random differential + short runs"
	@echo "make stress IMPL=d             the stress matrix against implementation d"
	@echo "make neutrality-check          conformance, stress, fuzz through a renamed reference"

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
	python3 scripts/echo_check.py --binary $(BUILD)/bin/achat-echo \
	    --backend poll --also-backend epoll
ifneq ($(NO_VALGRIND_SAN),)
	@$(VALGRIND_SKIP)
else
	python3 scripts/echo_check.py --binary $(BUILD)/bin/achat-echo --quick \
	    --backend select --also-backend poll --wrap "$(VALGRIND)"
endif

# The README's API example compiles warning-free against the library and
# echoes lines, so that it cannot rot.
readme-check: lib
	python3 scripts/readme_check.py --cc "$(CC) $(SANFLAGS)" --lib $(LIB) \
	    --out $(BUILD)/readme

# The suite must reject every bug of the realistic-bug catalogue
# (conformance/selftest/mutants.txt), each by the case(s) it names; the
# catalogue's page (docs/bug-catalogue.md) must be the one it generates.
selftest: deps
	python3 scripts/selftest.py --check-doc docs/bug-catalogue.md
	python3 scripts/selftest.py

# No driver treats the reference by its name: the conformance suite, the
# stress check and the adapter fuzz harnesses through "twin", the reference
# under another name (conformance/adapters/twin).  The stress part is one
# backend and one run per canary: the allowance path (helgrind, drd) and the
# detectors' wiring, not the full check again.
NEUTRAL_IMPL := conformance/adapters/twin
neutrality-check: deps
	@$(MAKE) --no-print-directory IMPL=$(NEUTRAL_IMPL) conformance
	@$(MAKE) --no-print-directory IMPL=$(NEUTRAL_IMPL) stress-check \
	    STRESS_ARGS="--backends poll --canary-runs 1"
	@$(MAKE) --no-print-directory IMPL=$(NEUTRAL_IMPL) fuzz-impl-smoke

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

# The reports of that run: JUnit XML valid, TAP and JSON in agreement.
.PHONY: reports-check
# Validates the reports `make conformance` wrote (runs it first if none).
reports-check: acc-run
	@test -f $(ACC_BUILD)/report.json || $(MAKE) --no-print-directory conformance
	python3 scripts/check_reports.py --dir $(ACC_BUILD) --self-test --runner $(ACC_RUN)

# The case parser refuses bad case files with the file, line and fault.
case-errors-check: acc-run
	python3 scripts/test_case_errors.py --runner $(ACC_RUN)

# Failure messages say what the implementation did, on planted bugs.
messages-check: deps
	python3 scripts/test_messages.py --build $(BUILD)

# Every citation of CPython's behaviour names an entry of the shipped
# catalogue (docs/cpython-3.11.md), and no expected failure is "masked".
catalogue-check:
	python3 scripts/catalogue_check.py

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
