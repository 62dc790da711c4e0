# impl.mk: how the reference implementation is linked: its adapter plus the
# static library the top-level Makefile builds.  The conformance runner
# links a copy with malloc, calloc and realloc renamed to the suite's
# failing allocator (ACC_CAP_ALLOC_FAIL; the library itself is untouched);
# other drivers (achat-stress) link the library as it is.
IMPL_SRCS := conformance/adapters/ref/adapter.c
IMPL_CFLAGS := -Iref/include
IMPL_DEPS := $(LIB)
IMPL_LIBS := $(LIB)
ACC_FA_LIB := $(BUILD)/conformance/ref/libachat-failalloc.a
ACC_IMPL_DEPS := $(ACC_FA_LIB)
ACC_IMPL_LIBS := $(ACC_FA_LIB)

$(ACC_FA_LIB): $(LIB)
	@mkdir -p $(@D)
	objcopy --redefine-sym malloc=acc_fa_malloc --redefine-sym calloc=acc_fa_calloc \
	    --redefine-sym realloc=acc_fa_realloc $< $@
