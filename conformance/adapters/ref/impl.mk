# impl.mk: how the runner links the reference implementation: its adapter
# plus the static library the top-level Makefile builds.
IMPL_SRCS := conformance/adapters/ref/adapter.c
IMPL_CFLAGS := -Iref/include
IMPL_DEPS := $(LIB)
IMPL_LIBS := $(LIB)
