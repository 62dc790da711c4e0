# impl.mk: "twin" links exactly what the reference's adapter links (the
# library, and for the runner its copy wired to the failing allocator and
# the syscall interposer); only its adapter source, and so its name, differs.
include conformance/adapters/ref/impl.mk
IMPL_SRCS := conformance/adapters/twin/adapter.c
IMPL_CFLAGS += -Iconformance/adapters/ref
