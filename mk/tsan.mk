# ThreadSanitizer: the library and the multi-threaded C tests built with -fsanitize=thread.
#   make test-tsan    builds into $(TSAN_BUILD)/ and runs the tests (halt_on_error: the first
#                     race fails the run)
# Every C test runs, with TESSERA_NUM_THREADS=$(TSAN_THREADS) so that calls on the default
# pool (pool = NULL) are multi-threaded too; test_pool creates its own pools of 2-4 workers.
# TSAN_TESTS=test_pool (names without Tests/c/ and .c) runs a subset.
# Tessera's own code is not suppressed: the pool's spin/futex protocol uses C11 atomics
# throughout, which TSan understands. fuzz/tsan.supp holds third-party entries only, each
# with its reason (libgomp, uninstrumented, behind the probe's OpenMP baseline).

# $(CC) (gcc's libtsan): the Swift toolchain's clang ships a TSan runtime that also needs
# libdispatch and the Blocks runtime at link time.
TSAN_CC      ?= $(CC)
TSAN_BUILD   ?= build-tsan
TSAN_THREADS ?= 4
TSAN_FLAGS   := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
TSAN_OBJS    := $(LIB_SRCS:%.c=$(TSAN_BUILD)/obj/%.o)
TSAN_TESTS   ?= $(patsubst Tests/c/%.c,%,$(TEST_SRCS))
TSAN_BINS    := $(TSAN_TESTS:%=$(TSAN_BUILD)/tests/%)

.PHONY: test-tsan

$(TSAN_BUILD)/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) $(CFLAGS_BASE) -c $< -o $@

$(TSAN_BUILD)/lib/libtessera.a: $(TSAN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(TSAN_BUILD)/tests/%: Tests/c/%.c Tests/c/tsr_test.h $(TSAN_BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) $(CFLAGS_BASE) -ITests/c $< -o $@ $(TSAN_BUILD)/lib/libtessera.a $(LDLIBS)

test-tsan: $(TSAN_BINS)
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $(if $(wildcard fuzz/tsan.supp),suppressions=$(abspath fuzz/tsan.supp)) $(TSAN_OPTIONS)" \
	    TSR_TEST_QUICK=1 TESSERA_NUM_THREADS=$(TSAN_THREADS) TESSERA_BIND=none scripts/run-c-tests $(TSAN_BINS)
