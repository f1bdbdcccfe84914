# In-tree fuzzing (fuzz/README.md).
#   make test-fuzz-replay   every committed corpus file through its C target under ASan+UBSan,
#                           without libFuzzer (part of `make test`, via EXTRA_TESTS)
#   make fuzz               builds the libFuzzer targets (C and Swift) and runs each for
#                           FUZZ_SECONDS (default 60) on a copy of its corpus
#   make fuzz-c / fuzz-swift   one half of that
#   make fuzz-build / fuzz-swift-build   only build
# C campaign targets need clang with libFuzzer (the Swift toolchain's clang has it); the
# replay builds with $(CC) against the test-asan library ($(ASAN_BUILD)/lib/libtessera.a).

FUZZ_CC      ?= $(firstword $(shell command -v clang 2>/dev/null) clang)
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(sort $(patsubst fuzz/c/%.c,%,$(wildcard fuzz/c/fuzz_*.c)))
FUZZ_SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow \
                -fno-omit-frame-pointer
# lld when the toolchain has it (gold prints a warning per ASan symbol)
FUZZ_LD      ?= $(if $(shell command -v ld.lld 2>/dev/null),-fuse-ld=lld)
FUZZ_OBJS    := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
FUZZ_HDRS    := fuzz/c/fuzz_common.h $(LIB_HDRS)

# Swift parser fuzzers: a package of their own in fuzz/swift (depends on this one by path)
FUZZ_SWIFT_SCRATCH ?= .build-fuzz
FUZZ_SWIFT_TARGETS := swift-gguf swift-safetensors swift-npy swift-csv swift-serve-request swift-stagger
# -sanitize=fuzzer,address instruments the Swift code and links libFuzzer; --sanitize=address
# and -Xcc -fsanitize=fuzzer-no-link do the same for the C kernels (-O1: ASan at -O0 is slow).
FUZZ_SWIFT_FLAGS   := --package-path fuzz/swift --scratch-path $(FUZZ_SWIFT_SCRATCH) -c debug \
                      -Xswiftc -sanitize=fuzzer,address $(if $(FUZZ_LD),-Xswiftc -use-ld=lld) \
                      --sanitize=address -Xcc -fsanitize=fuzzer-no-link -Xcc -O1
FUZZ_SWIFT_BIN     := $(FUZZ_SWIFT_SCRATCH)/debug

.PHONY: fuzz fuzz-build fuzz-c fuzz-swift fuzz-swift-build test-fuzz-replay fuzz-clean

# ---- replay (make test) ----------------------------------------------------------------

# The replay links the test-asan library ($(CC), $(SANITIZE): ASan + UBSan incl.
# float-cast-overflow), already built by `make test` before test-extra: no extra compile.
# FUZZ_REPLAY=clang links the campaign's instrumented library instead (its coverage hooks
# fall back to the sanitizer runtime's no-ops).
ifeq ($(FUZZ_REPLAY),clang)
REPLAY_CC    := $(FUZZ_CC)
REPLAY_FLAGS := -O1 -g $(FUZZ_SAN) $(FUZZ_LD)
REPLAY_LIB   := $(FUZZ_BUILD)/lib/libtessera.a
REPLAY_DIR   := $(FUZZ_BUILD)/replay-clang
else
REPLAY_CC    := $(CC)
REPLAY_FLAGS := -O1 -g $(SANITIZE)
REPLAY_LIB   := $(ASAN_BUILD)/lib/libtessera.a
REPLAY_DIR   := $(FUZZ_BUILD)/replay
endif
REPLAY_BINS  := $(FUZZ_TARGETS:%=$(REPLAY_DIR)/replay_%)

$(REPLAY_DIR)/replay_%: fuzz/c/%.c fuzz/c/replay_main.c $(FUZZ_HDRS) $(REPLAY_LIB)
	@mkdir -p $(dir $@)
	$(REPLAY_CC) $(REPLAY_FLAGS) $(CFLAGS_BASE) -Ifuzz/c -o $@ $< fuzz/c/replay_main.c $(REPLAY_LIB) $(LDLIBS)

test-fuzz-replay: $(REPLAY_BINS)
	@fuzz/run-replay.sh $(REPLAY_DIR) $(FUZZ_TARGETS)

EXTRA_TESTS += test-fuzz-replay

# ---- libFuzzer targets -------------------------------------------------------------------

$(FUZZ_BUILD)/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(CFLAGS_BASE) -c $< -o $@

$(FUZZ_BUILD)/lib/libtessera.a: $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/c/fuzz_%.c $(FUZZ_HDRS) $(FUZZ_BUILD)/lib/libtessera.a
	$(FUZZ_CC) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(CFLAGS_BASE) -Ifuzz/c $(FUZZ_LD) -o $@ $< \
	    $(FUZZ_BUILD)/lib/libtessera.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz-c: fuzz-build
	@fuzz/run-campaign.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-swift-build:
	nice -n 10 $(SWIFT) build $(FUZZ_SWIFT_FLAGS)

fuzz-swift: fuzz-swift-build
	@fuzz/run-campaign.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(addprefix $(FUZZ_SWIFT_BIN)/,$(FUZZ_SWIFT_TARGETS))

# Both halves run even if the first finds a crash; the result fails if either did.
fuzz:
	@rc=0; $(MAKE) --no-print-directory fuzz-c || rc=1; $(MAKE) --no-print-directory fuzz-swift || rc=1; \
	 if [ $$rc -ne 0 ]; then echo "make fuzz: crashes found (see above)"; else echo "make fuzz: no crash"; fi; exit $$rc

fuzz-clean:
	rm -rf $(FUZZ_BUILD) $(FUZZ_SWIFT_SCRATCH)
