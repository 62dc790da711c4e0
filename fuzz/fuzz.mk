# fuzz/fuzz.mk: the fuzz harnesses' builds and runs, included by the top
# Makefile (it provides CC, CFLAGS_ALL, WARN, BUILD, LIB, LIB_SRC, VALGRIND).
# Three builds of every harness, all under $(BUILD)/fuzz/: standalone (the
# normal $(CC), replays files), libfuzzer (clang, ASan+UBSan) and afl
# (afl-clang-fast, persistent mode through AFL++'s libFuzzer driver).
#   make fuzz-replay               corpora + regressions, gcc and valgrind
#   make fuzz-smoke                a short libFuzzer run of the framing harness
#   make fuzz FUZZ_SECONDS=600     campaigns and their summary (fuzz/fuzz.py)
#   make fuzz IMPL=dir             the same for any implementation, through
#                                  its conformance adapter
#   make fuzz-impl-smoke [IMPL=dir] replay, seeded random differential and a
#                                  short libFuzzer run of the adapter harnesses
#   make fuzz-seeds                regenerate seed inputs (only adds files)
#   make fuzz-oss                  fuzz/build.sh as OSS-Fuzz runs it

FUZZ_HARNESSES := framing fifo loop case_parser
FUZZ_CLANG ?= clang
FUZZ_AFL_CC ?= afl-clang-fast
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_IMPL_SMOKE_SECONDS ?= 10
FUZZ_JOBS ?= 1
FUZZ_ARGS ?=

# What each harness compiles besides its own file; FUZZ_LIB_<h> says
# whether it needs the library, and FUZZ_CLANG_LIB_<h> which of its sources
# the clang builds compile in: the framing core and the FIFO are
# socket-free, and a coverage map of only the file under test keeps the
# fuzzer fast.
FUZZ_SRC_framing = fuzz/oracle_framing.c
FUZZ_SRC_fifo =
FUZZ_SRC_loop =
FUZZ_SRC_case_parser = conformance/src/case.c
FUZZ_LIB_framing = 1
FUZZ_LIB_fifo = 1
FUZZ_LIB_loop = 1
FUZZ_LIB_case_parser =
FUZZ_CLANG_LIB_framing = ref/src/framer.c
FUZZ_CLANG_LIB_fifo = ref/src/fifo.c
FUZZ_CLANG_LIB_loop = $(LIB_SRC)
FUZZ_CLANG_LIB_case_parser =
# The framer's comparisons against fuzzer bytes go through memcmp/memmem,
# which libFuzzer hooks anyway; trace-cmp on its constant comparisons only
# costs speed (about a third of the executions per second).
FUZZ_COV_framing = -fno-sanitize-coverage=trace-cmp

FUZZ_INC := -Iref/include -Iref/src -Iconformance/include -Iconformance/src \
            -Ifuzz
FUZZ_HDR := fuzz/fuzz_common.h fuzz/oracle_framing.h ref/include/achat.h \
            ref/src/fifo.h conformance/src/case.h

# Standalone: the project's own compiler and flags (no dependency files:
# several sources go into one command).
FUZZ_SA_CFLAGS = $(filter-out -MMD -MP,$(CFLAGS_ALL)) $(FUZZ_INC)
# Campaign builds: FUZZ_AVOID_KNOWN_BUGS lets a harness steer around a
# known bug (fuzz/README.md, "Known bugs") so it cannot end every campaign;
# FUZZ_CAMPAIGN lets it skip inputs too slow to be worth fuzzing (the
# standalone replay runs everything).
FUZZ_CLANG_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -fno-omit-frame-pointer \
                    $(WARN) $(FUZZ_INC) -DFUZZ_AVOID_KNOWN_BUGS=1 \
                    -DFUZZ_CAMPAIGN=1
FUZZ_LF_FLAGS = -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all \
                -fsanitize-coverage-ignorelist=fuzz/coverage.ignore

FUZZ_AFL_ENV = AFL_LLVM_DENYLIST=$(CURDIR)/fuzz/coverage.ignore

FUZZ_STANDALONE := $(FUZZ_HARNESSES:%=$(BUILD)/fuzz/standalone/fuzz_%)
FUZZ_LIBFUZZER := $(FUZZ_HARNESSES:%=$(BUILD)/fuzz/libfuzzer/fuzz_%)
FUZZ_AFL := $(FUZZ_HARNESSES:%=$(BUILD)/fuzz/afl/fuzz_%)

define FUZZ_RULES
$$(BUILD)/fuzz/standalone/fuzz_$(1): fuzz/fuzz_$(1).c fuzz/standalone_main.c \
        $$(FUZZ_SRC_$(1)) $$(FUZZ_HDR) $$(if $$(FUZZ_LIB_$(1)),$$(LIB))
	@mkdir -p $$(@D)
	$$(CC) $$(FUZZ_SA_CFLAGS) fuzz/fuzz_$(1).c fuzz/standalone_main.c \
	    $$(FUZZ_SRC_$(1)) $$(if $$(FUZZ_LIB_$(1)),$$(LIB)) -o $$@ \
	    $$(LDFLAGS_ALL)

$$(BUILD)/fuzz/libfuzzer/fuzz_$(1): fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) \
        $$(FUZZ_HDR) fuzz/coverage.ignore $$(FUZZ_CLANG_LIB_$(1))
	@mkdir -p $$(@D)
	$$(FUZZ_CLANG) $$(FUZZ_CLANG_CFLAGS) $$(FUZZ_LF_FLAGS) $$(FUZZ_COV_$(1)) \
	    fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) $$(FUZZ_CLANG_LIB_$(1)) -o $$@ \
	    -pthread

# AFL++: its libFuzzer driver gives persistent mode and shared-memory
# input; a CmpLog twin (.cmplog) solves multi-byte terminators.  AFL++
# reads coverage.ignore as a denylist (the oracle stays out of its map).
$$(BUILD)/fuzz/afl/fuzz_$(1): fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) \
        $$(FUZZ_HDR) fuzz/coverage.ignore $$(FUZZ_CLANG_LIB_$(1))
	@mkdir -p $$(@D)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $$(FUZZ_AFL_ENV) \
	    $$(FUZZ_AFL_CC) $$(FUZZ_CLANG_CFLAGS) -fsanitize=fuzzer \
	    fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) $$(FUZZ_CLANG_LIB_$(1)) -o $$@ \
	    -pthread
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $$(FUZZ_AFL_ENV) $$(FUZZ_AFL_CC) \
	    $$(FUZZ_CLANG_CFLAGS) -fsanitize=fuzzer fuzz/fuzz_$(1).c \
	    $$(FUZZ_SRC_$(1)) $$(FUZZ_CLANG_LIB_$(1)) -o $$@.cmplog -pthread
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_RULES,$(h))))

# Adapter-driven harnesses: any implementation with a conformance adapter,
# chosen by IMPL= as for make conformance (fuzz_impl_framing.c,
# fuzz_impl_fifo.c; docs/implementing.md).  As for achat-stress, a sub-make
# per variant compiles the implementation with the harness's own
# instrumentation, so the fuzzer's coverage and ASan reach into it:
#   $(BUILD)/fuzz/impl/<variant>/<impl>/fuzz_impl_<h>
FUZZ_IMPL_HARNESSES := impl_framing impl_fifo
FUZZ_IMPL_SRC_impl_framing := fuzz/oracle_framing.c
FUZZ_IMPL_SRC_impl_fifo :=
FUZZ_IMPL_ROOT := $(BUILD)/fuzz/impl
# Set by the variant's sub-make: the main (standalone_main.c, or none for
# the engines' own) and the harness's extra link flags.
FUZZ_IMPL_MAIN ?= fuzz/standalone_main.c
FUZZ_IMPL_LINK ?=
FUZZ_IMPL_BINS = $(FUZZ_IMPL_HARNESSES:%=$(BUILD)/$(IMPL_NAME)/fuzz_%)

$(BUILD)/$(IMPL_NAME)/fuzz_impl_%: fuzz/fuzz_impl_%.c fuzz/impl_drive.c \
        fuzz/impl_drive.h $(FUZZ_HDR) $(IMPL_SRCS) $(IMPL_DEPS)
	@mkdir -p $(@D)
	$(CC) $(FUZZ_SA_CFLAGS) $(IMPL_CFLAGS) $< fuzz/impl_drive.c \
	    $(FUZZ_IMPL_SRC_impl_$*) $(FUZZ_IMPL_MAIN) $(IMPL_SRCS) -o $@ \
	    $(IMPL_LIBS) $(LDFLAGS_ALL) $(FUZZ_IMPL_LINK)

fuzz-impl-bins: $(FUZZ_IMPL_BINS)

FUZZ_IMPL_SUB = $(MAKE) --no-print-directory IMPL=$(IMPL) SAN= \
                WERROR=$(WERROR)
FUZZ_IMPL_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer

fuzz-impl-standalone:
	@$(FUZZ_IMPL_SUB) BUILD=$(FUZZ_IMPL_ROOT)/standalone fuzz-impl-bins
fuzz-impl-libfuzzer:
	@$(FUZZ_IMPL_SUB) BUILD=$(FUZZ_IMPL_ROOT)/libfuzzer CC=$(FUZZ_CLANG) \
	    OPT="-O1 -g" CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_IMPL_SAN)" \
	    LDFLAGS="$(FUZZ_IMPL_SAN)" FUZZ_IMPL_MAIN= \
	    FUZZ_IMPL_LINK=-fsanitize=fuzzer fuzz-impl-bins
fuzz-impl-afl:
	@AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(FUZZ_IMPL_SUB) \
	    BUILD=$(FUZZ_IMPL_ROOT)/afl CC=$(FUZZ_AFL_CC) OPT="-O1 -g" \
	    FUZZ_IMPL_MAIN= FUZZ_IMPL_LINK=-fsanitize=fuzzer fuzz-impl-bins
fuzz-impl-build: fuzz-impl-standalone fuzz-impl-libfuzzer
	@if command -v $(FUZZ_AFL_CC) >/dev/null; then \
	    $(MAKE) --no-print-directory fuzz-impl-afl; \
	else echo "fuzz-impl-build: no $(FUZZ_AFL_CC), AFL++ builds skipped" \
	    "(scripts/ensure-deps.sh fuzz)"; fi

# make check: IMPL's framing and FIFO through its adapter, replayed on the
# framing corpus and a seeded random differential (standalone build), then
# a short libFuzzer run of each.
FUZZ_IMPL_RANDOM ?= 3000
fuzz-impl-smoke: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-impl-standalone fuzz-impl-libfuzzer
	$(FUZZ_IMPL_ROOT)/standalone/$(IMPL_NAME)/fuzz_impl_framing fuzz/corpus/framing
	$(FUZZ_IMPL_ROOT)/standalone/$(IMPL_NAME)/fuzz_impl_framing -random=$(FUZZ_IMPL_RANDOM) -seed=1
	$(FUZZ_IMPL_ROOT)/standalone/$(IMPL_NAME)/fuzz_impl_fifo fuzz/corpus/impl_fifo
	$(FUZZ_IMPL_ROOT)/standalone/$(IMPL_NAME)/fuzz_impl_fifo -random=$(FUZZ_IMPL_RANDOM) -seed=1
	python3 fuzz/fuzz.py --no-build --build-dir $(BUILD) --no-save \
	    --impl $(IMPL) --seconds $(FUZZ_IMPL_SMOKE_SECONDS) $(FUZZ_ARGS)


.PHONY: fuzz fuzz-build fuzz-standalone fuzz-libfuzzer fuzz-afl fuzz-replay \
        fuzz-impl-bins fuzz-impl-standalone fuzz-impl-libfuzzer fuzz-impl-afl \
        fuzz-impl-build fuzz-impl-smoke \
        fuzz-smoke fuzz-seeds fuzz-oss fuzz-deps

fuzz-standalone: $(FUZZ_STANDALONE)
fuzz-libfuzzer: $(FUZZ_LIBFUZZER)
fuzz-afl: $(FUZZ_AFL)
fuzz-build: fuzz-standalone fuzz-libfuzzer
	@if command -v $(FUZZ_AFL_CC) >/dev/null; then \
	    $(MAKE) --no-print-directory fuzz-afl; \
	else echo "fuzz-build: no $(FUZZ_AFL_CC), AFL++ builds skipped" \
	    "(scripts/ensure-deps.sh fuzz)"; fi

fuzz-deps:
	@scripts/ensure-deps.sh build check fuzz

# Every corpus and regression input through the gcc build, then the same
# under valgrind (inputs of fuzz/known-failures.txt are reported, not run
# in-process: their bugs are not fixed yet).
fuzz-replay: $(FUZZ_STANDALONE)
	@set -e; for h in $(FUZZ_HARNESSES); do \
	    echo "== replay $$h"; \
	    $(BUILD)/fuzz/standalone/fuzz_$$h -known=fuzz/known-failures.txt \
	        fuzz/corpus/$$h $$(ls -d fuzz/regressions/$$h 2>/dev/null); done
	@set -e; for h in $(FUZZ_HARNESSES); do \
	    echo "== valgrind replay $$h"; \
	    $(VALGRIND) $(BUILD)/fuzz/standalone/fuzz_$$h \
	        -known=fuzz/known-failures.txt \
	        fuzz/corpus/$$h $$(ls -d fuzz/regressions/$$h 2>/dev/null); done

# A short libFuzzer campaign of the framing harness (make check).  A find
# is printed with its reproduction and fails the target, but is not
# written into fuzz/regressions/: make check leaves the source tree alone.
fuzz-smoke: $(BUILD)/fuzz/libfuzzer/fuzz_framing
	python3 fuzz/fuzz.py --no-build --build-dir $(BUILD) --no-save \
	    --seconds $(FUZZ_SMOKE_SECONDS) --harness framing $(FUZZ_ARGS)

# Time-boxed campaigns per harness with a summary table; see
# fuzz/fuzz.py --help (e.g. FUZZ_ARGS="--afl --update-corpus").  On a
# fresh machine fuzz-deps installs clang and AFL++ first.
# With IMPL= on the command line, the campaigns fuzz that implementation
# through its adapter (the adapter harnesses) instead of the reference's.
FUZZ_IMPL_ARG = $(if $(filter command line,$(origin IMPL)),--impl $(IMPL))
fuzz: fuzz-deps
	python3 fuzz/fuzz.py --build-dir $(BUILD) --seconds $(FUZZ_SECONDS) \
	    --jobs $(FUZZ_JOBS) $(FUZZ_IMPL_ARG) $(FUZZ_ARGS)

fuzz-seeds:
	python3 fuzz/gen_seeds.py

fuzz-oss:
	rm -rf $(BUILD)/fuzz/oss && mkdir -p $(BUILD)/fuzz/oss
	CC=$(FUZZ_CLANG) CXX=$(FUZZ_CLANG)++ \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fsanitize=fuzzer-no-link" \
	    CXXFLAGS="-fsanitize=address,undefined" \
	    LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=$(BUILD)/fuzz/oss \
	    fuzz/build.sh
