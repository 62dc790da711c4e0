# bench.mk: the performance benchmarks (included from the top Makefile).
# `make bench` prints the full table with ratios (several minutes);
# `make bench-quick` is a smoke run proving every piece works.
# Knobs: BENCH_ARGS (extra ref/bench/bench.py options, e.g. --repeat 5).

BENCH_DIR := $(BUILD)/bench
BENCH_BINS := $(BENCH_DIR)/loadgen $(BENCH_DIR)/ceiling-echo \
              $(BENCH_DIR)/levent-echo $(BENCH_DIR)/framebench \
              $(BENCH_DIR)/passbench
BENCH_ARGS ?=
# Deferred (=): pkg-config runs after bench-deps has installed libevent-dev.
LEVENT_CFLAGS = $(shell pkg-config --cflags libevent)
LEVENT_LIBS = $(shell pkg-config --libs libevent)

.PHONY: bench bench-quick bench-build bench-deps

bench-deps:
	@scripts/ensure-deps.sh build bench

bench-build: examples $(BENCH_BINS)
# Order-only: the packages are there before any benchmark compiles.
$(BENCH_BINS): | bench-deps

bench_cc = $(CC) $(CFLAGS_ALL) $(1) $< -o $@ $(2) $(LDFLAGS_ALL)

$(BENCH_DIR)/loadgen: ref/bench/loadgen.c
	@mkdir -p $(@D)
	$(call bench_cc)
$(BENCH_DIR)/ceiling-echo: ref/bench/ceiling_echo.c
	@mkdir -p $(@D)
	$(call bench_cc)
$(BENCH_DIR)/levent-echo: ref/bench/levent_echo.c
	@mkdir -p $(@D)
	$(call bench_cc,$(LEVENT_CFLAGS),$(LEVENT_LIBS))
$(BENCH_DIR)/framebench: ref/bench/framebench.c $(LIB)
	@mkdir -p $(@D)
	$(call bench_cc,,$(LIB))
$(BENCH_DIR)/passbench: ref/bench/passbench.c $(LIB)
	@mkdir -p $(@D)
	$(call bench_cc,,$(LIB))

bench: bench-build
	python3 ref/bench/bench.py --build $(BUILD) --doc docs/performance.md $(BENCH_ARGS)

bench-quick: bench-build
	python3 ref/bench/bench.py --build $(BUILD) --quick $(BENCH_ARGS)
