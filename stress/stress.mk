# stress/stress.mk: rules for the multi-thread stress driver (achat-stress),
# included by the top Makefile.  Each detector build is a sub-make with its
# own BUILD under $(BUILD)/stress/, so the implementation is compiled with
# the same instrumentation as the driver (TSan sees only what it compiled).
#   make stress        matrix: threads x backends x detectors, a table
#   make stress-check  the part for `make check` (about 1 minute on 2 cores,
#                      within the 2-minute budget; stress/README.md)
# Knobs: STRESS_IMPL (default $(IMPL)), STRESS_SECONDS, STRESS_ARGS.

STRESS_IMPL ?= $(IMPL)
STRESS_SECONDS ?= 5
STRESS_ARGS ?=
STRESS_ROOT := $(BUILD)/stress
STRESS_IMPL_NAME := $(notdir $(abspath $(STRESS_IMPL)))
STRESS_SRC := $(wildcard stress/*.c)
STRESS_HDR := $(wildcard stress/*.h) conformance/include/acc_adapter.h

# Inside a variant's sub-make: the binary, linked like the conformance
# runner against IMPL (its adapter plus what impl.mk names).
STRESS_BIN = $(BUILD)/$(IMPL_NAME)/achat-stress

$(STRESS_BIN): $(STRESS_SRC) $(STRESS_HDR) $(IMPL_SRCS) $(IMPL_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iconformance/include -Istress $(IMPL_CFLAGS) \
	    $(STRESS_SRC) $(IMPL_SRCS) -o $@ $(IMPL_LIBS) $(LDFLAGS_ALL)

stress-bin: $(STRESS_BIN)

# The variants.  plain (also run under helgrind and drd), tsan (clang, as
# Debian 12's TSan runtime is clang 14's), asan (ASan+UBSan).
STRESS_SUB = $(MAKE) --no-print-directory IMPL=$(STRESS_IMPL) SAN= \
             WERROR=$(WERROR)
STRESS_SANFLAGS_tsan := -fsanitize=thread -fno-omit-frame-pointer
STRESS_SANFLAGS_asan := -fsanitize=address,undefined -fno-omit-frame-pointer \
                        -fno-sanitize-recover=all

stress-build-plain:
	@$(STRESS_SUB) BUILD=$(STRESS_ROOT)/plain stress-bin
stress-build-tsan:
	@$(STRESS_SUB) BUILD=$(STRESS_ROOT)/tsan CC=clang OPT="-O1 -g" \
	    CFLAGS="$(STRESS_SANFLAGS_tsan)" LDFLAGS="$(STRESS_SANFLAGS_tsan)" \
	    stress-bin
stress-build-asan:
	@$(STRESS_SUB) BUILD=$(STRESS_ROOT)/asan OPT="-O1 -g" \
	    CFLAGS="$(STRESS_SANFLAGS_asan)" LDFLAGS="$(STRESS_SANFLAGS_asan)" \
	    stress-bin

stress-build: stress-build-plain stress-build-tsan stress-build-asan

STRESS_PY = python3 stress/stress.py --build $(STRESS_ROOT) \
            --impl $(STRESS_IMPL_NAME)

stress: deps
	@$(MAKE) --no-print-directory stress-build
	$(STRESS_PY) matrix --seconds $(STRESS_SECONDS) $(STRESS_ARGS)

stress-check: deps
	@$(MAKE) --no-print-directory stress-build
	$(STRESS_PY) check $(STRESS_ARGS)

.PHONY: stress stress-check stress-build stress-bin stress-build-plain \
        stress-build-tsan stress-build-asan
