# impl.mk: how the runner links the reference implementation: its adapter
# plus the static library the top-level Makefile builds, copied with its
# malloc, calloc and realloc calls renamed to the suite's failing allocator
# (ACC_CAP_ALLOC_FAIL; the library itself is untouched).
IMPL_SRCS := conformance/adapters/ref/adapter.c
IMPL_CFLAGS := -Iref/include
ACC_FA_LIB := $(BUILD)/conformance/ref/libachat-failalloc.a
IMPL_DEPS := $(ACC_FA_LIB)
IMPL_LIBS := $(ACC_FA_LIB)

$(ACC_FA_LIB): $(LIB)
	@mkdir -p $(@D)
	objcopy --redefine-sym malloc=acc_fa_malloc --redefine-sym calloc=acc_fa_calloc \
	    --redefine-sym realloc=acc_fa_realloc $< $@
