# conformance.mk: the conformance suite's rules (included from the top
# Makefile): the runner built against an implementation (IMPL=), its run and
# reports, the checks of the suite itself (case errors, messages, the
# CPython catalogue, the bug catalogue, neutrality, the matrix page) and,
# from tools/mutation.mk, mutation testing.  Drivers live in tools/.

.PHONY: conformance acc-run reports-check case-errors-check messages-check \
        catalogue-check matrix-page-check selftest neutrality-check

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
# Validates the reports `make conformance` wrote (runs it first if none).
reports-check: acc-run
	@test -f $(ACC_BUILD)/report.json || $(MAKE) --no-print-directory conformance
	python3 conformance/tools/check_reports.py --dir $(ACC_BUILD) --self-test --runner $(ACC_RUN)

# The case parser refuses bad case files with the file, line and fault.
case-errors-check: acc-run
	python3 conformance/tools/test_case_errors.py --runner $(ACC_RUN)

# Failure messages say what the implementation did, on planted bugs.
messages-check: deps
	python3 conformance/tools/test_messages.py --build $(BUILD)

# Every citation of CPython's behaviour names an entry of the shipped
# catalogue (docs/cpython-3.11.md), and no expected failure is "masked".
catalogue-check:
	python3 conformance/tools/catalogue_check.py

# The conformance matrix page, rendered in headless Chromium and checked
# against the numbers it was generated from (a fixture set of reports).
matrix-page-check:
	@scripts/ensure-deps.sh browser
	python3 conformance/tools/test_matrix_page.py --no-real

# The suite must reject every bug of the realistic-bug catalogue
# (conformance/selftest/mutants.txt), each by the case(s) it names; the
# catalogue's page (docs/bug-catalogue.md) must be the one it generates.
selftest: deps
	python3 conformance/tools/selftest.py --check-doc docs/bug-catalogue.md
	python3 conformance/tools/selftest.py

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

include conformance/tools/mutation.mk
