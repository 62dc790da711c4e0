# conformance/agents/client/impl.mk: the agent client as the runner's adapter,
# so `make conformance IMPL=conformance/agents/client AGENT="<command>"` runs
# the suite against any implementation served as an agent.  AGENT reaches
# the runner as ACC_AGENT; the default is the reference agent.
ifndef ACC_AGENTS_MK
include conformance/agents/agents.mk
endif
IMPL_SRCS := conformance/agents/client/adapter.c conformance/agents/common/acc_proto.c
IMPL_CFLAGS := -Iconformance/agents/common
IMPL_DEPS := conformance/agents/common/acc_proto.h $(AGENT_REF_BIN)
IMPL_LIBS :=
AGENT ?= $(AGENT_REF_BIN)
export ACC_AGENT := $(AGENT)
