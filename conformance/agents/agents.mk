# conformance/agents/agents.mk: implementations in any language, run as
# agents (docs/agent-protocol.md).  Included by the top Makefile, and by
# conformance/agents/client/impl.mk (hence the guard).
#   make agents           the reference agent, the agent client's runner, the decoder tests
#   make agents-ref       the suite through the reference agent
#   make agents-cpython   the suite through CPython's asyncore/asynchat
#   make agents-medusa    the suite through Supervisor's medusa copy
#                         (make medusa: extracts it from Debian's package)
#   make vocab-check      the Python side reads acc_adapter.h's vocabulary
#                         (capabilities, errnos, verdicts, areas) as C does
#   make agents-check     vocab-check; decoder tests; reference agent == in-process, case by
#                         case; CPython as expected, and so a module-swapped
#                         copy of it (one split); the Python agent's request
#                         order; broken agents give ERROR
#   make agents-clang     the same C sources built with clang (-Werror)
#   make lifetime-check   a runner killed mid-run (SIGKILL) leaves no worker,
#                         run or agent behind, in-process and through agents
# Knobs: AGENT_SEED (one seed for every run compared), AGENT_ARGS (more
# runner options), PYTHON (the interpreter of the CPython agent),
# AGENT_SPLITS (the read chunkings agents-check compares; empty = all four).
# agents-check proves the protocol path and the CPython expectations; the
# chunkings themselves are the in-process suite's job (make conformance), so
# by default it compares two of them: as written and random splits.  The
# other two cost most of the time (every byte a message through the
# protocol) and add no protocol path; conformance/tools/matrix.py runs all four.
ifndef ACC_AGENTS_MK
ACC_AGENTS_MK := 1

PYTHON ?= python3
AGENT_SEED ?= 20240601
AGENT_ARGS ?=
AGENT_SPLITS ?= as-written random
AGENTS_BUILD = $(BUILD)/agents
AGENT_REF_BIN = $(AGENTS_BUILD)/reference-agent
AGENT_CPYTHON = $(PYTHON) conformance/agents/cpython/agent.py
# Supervisor's medusa copy, from Debian's supervisor package unpacked (never
# installed) under $(MEDUSA_DIR) by get-medusa.sh.
MEDUSA_DIR = $(BUILD)/medusa
MEDUSA_PY = $(MEDUSA_DIR)/python
AGENT_MEDUSA = $(AGENT_CPYTHON) --path $(MEDUSA_PY) \
    --asyncore supervisor.medusa.asyncore_25 --asynchat supervisor.medusa.asynchat_25
AGENT_PROTO_TEST = $(AGENTS_BUILD)/test_proto
AGENT_VOCAB_DUMP = $(AGENTS_BUILD)/vocab_dump
AGENT_CLIENT_RUN = $(BUILD)/conformance/client/acc-run
AGENT_INPROC_RUN = $(BUILD)/conformance/ref/acc-run
AGENT_COMMON := conformance/agents/common/acc_proto.c
AGENT_HDRS := conformance/agents/common/acc_proto.h conformance/include/acc_adapter.h \
    conformance/include/acc_common.h

# The generic agent server linked with the reference's own adapter.
$(AGENT_REF_BIN): conformance/agents/server/agent_server.c $(AGENT_COMMON) \
                  $(AGENT_HDRS) conformance/adapters/ref/adapter.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iconformance/include -Iconformance/agents/common \
	    conformance/agents/server/agent_server.c $(AGENT_COMMON) \
	    conformance/adapters/ref/adapter.c -o $@ $(LIB) $(LDFLAGS_ALL)

$(AGENT_PROTO_TEST): conformance/agents/tests/test_proto.c $(AGENT_COMMON) $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iconformance/include -Iconformance/agents/common $(CHECK_CFLAGS) $< \
	    $(AGENT_COMMON) -o $@ $(CHECK_LIBS) $(LDFLAGS_ALL)

# The header's vocabulary as compiled, for vocab_check.py.
$(AGENT_VOCAB_DUMP): conformance/agents/tests/vocab_dump.c $(AGENT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iconformance/include $< -o $@ $(LDFLAGS_ALL)

vocab-check: $(AGENT_VOCAB_DUMP)
	$(PYTHON) conformance/agents/tests/vocab_check.py --dump $(AGENT_VOCAB_DUMP)

# Sub-makes read this file explicitly (whether or not the top Makefile
# includes it) and name IMPL: a command-line IMPL would otherwise leak in.
AGENTS_SUBMAKE = $(MAKE) --no-print-directory -f Makefile -f conformance/agents/agents.mk

agents: deps
	@$(AGENTS_SUBMAKE) IMPL=conformance/adapters/ref \
	    $(AGENT_REF_BIN) $(AGENT_PROTO_TEST) $(AGENT_VOCAB_DUMP) $(AGENT_INPROC_RUN)
	@$(AGENTS_SUBMAKE) IMPL=conformance/agents/client $(AGENT_CLIENT_RUN)

# One implementation through its agent; reports in $(AGENT_REPORTS)/<name>/.
AGENT_REPORTS = $(AGENTS_BUILD)/reports
# Every event is a round trip through an agent: m.threads.own-maps takes
# seconds, so the hang guard is wider than in-process.
agents-ref: agents
	@mkdir -p $(AGENT_REPORTS)/reference-agent
	ACC_AGENT="$(AGENT_REF_BIN)" $(AGENT_CLIENT_RUN) --seed $(AGENT_SEED) --timeout 60 \
	    --json $(AGENT_REPORTS)/reference-agent/report.json \
	    --tap $(AGENT_REPORTS)/reference-agent/report.tap \
	    --junit $(AGENT_REPORTS)/reference-agent/report.xml $(AGENT_ARGS)

# CPython's own framing is quadratic (T15): its slowest runs take seconds.
agents-cpython: agents
	@mkdir -p $(AGENT_REPORTS)/cpython-3.11
	ACC_AGENT="$(AGENT_CPYTHON)" $(AGENT_CLIENT_RUN) --seed $(AGENT_SEED) --timeout 120 \
	    --json $(AGENT_REPORTS)/cpython-3.11/report.json \
	    --tap $(AGENT_REPORTS)/cpython-3.11/report.tap \
	    --junit $(AGENT_REPORTS)/cpython-3.11/report.xml $(AGENT_ARGS)

medusa:
	@sh conformance/agents/cpython/get-medusa.sh $(MEDUSA_DIR) >/dev/null

agents-medusa: agents medusa
	@mkdir -p $(AGENT_REPORTS)/supervisor-medusa
	ACC_AGENT="$(AGENT_MEDUSA)" $(AGENT_CLIENT_RUN) --seed $(AGENT_SEED) --timeout 120 \
	    --json $(AGENT_REPORTS)/supervisor-medusa/report.json \
	    --tap $(AGENT_REPORTS)/supervisor-medusa/report.tap \
	    --junit $(AGENT_REPORTS)/supervisor-medusa/report.xml $(AGENT_ARGS)

agents-check: agents
	$(PYTHON) conformance/agents/tests/vocab_check.py --dump $(AGENT_VOCAB_DUMP)
	$(AGENT_PROTO_TEST)
	$(PYTHON) conformance/agents/tests/agents_check.py --build $(BUILD) \
	    --seed $(AGENT_SEED) --python "$(PYTHON)" $(foreach s,$(AGENT_SPLITS),--split $(s))

agents-clang:
	@$(AGENTS_SUBMAKE) CC=clang BUILD=$(CLANG_BUILD) agents

lifetime-check: agents
	$(PYTHON) conformance/tools/test_lifetime.py --build $(BUILD) --python "$(PYTHON)"

.PHONY: agents agents-ref agents-cpython agents-medusa medusa agents-check agents-clang \
    lifetime-check vocab-check

endif
