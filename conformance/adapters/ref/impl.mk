# impl.mk: how the reference implementation is linked: its adapter plus the
# static library the top-level Makefile builds.  The conformance runner
# links a copy whose malloc, calloc and realloc go to the suite's failing
# allocator (ACC_CAP_ALLOC_FAIL) and whose socket and wait calls go to its
# syscall interposer (ACC_CAP_SYSCALL_FAULTS); the library itself is
# untouched, and other drivers (achat-stress) link it as it is.
IMPL_SRCS := conformance/adapters/ref/adapter.c
IMPL_CFLAGS := -Iref/include
IMPL_DEPS := $(LIB)
IMPL_LIBS := $(LIB)
ACC_FA_LIB := $(BUILD)/conformance/ref/libachat-failalloc.a
ACC_IMPL_DEPS := $(ACC_FA_LIB)
ACC_IMPL_LIBS := $(ACC_FA_LIB)

$(ACC_FA_LIB): $(LIB) conformance/src/failalloc.syms conformance/src/failsys.syms
	@mkdir -p $(@D)
	objcopy --redefine-syms=conformance/src/failalloc.syms \
	    --redefine-syms=conformance/src/failsys.syms $< $@
