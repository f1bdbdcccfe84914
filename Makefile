# Tessera — one-command build, test, demo and benchmarks.
#   make demo    the main job: tessera info + machine limits (+ each area's demo)
#   make test    C tests, Swift tests, examples and the SwiftPM consumer
# Both run `make deps` first (scripts/bootstrap installs missing OS packages).

PREFIX     ?= /usr/local
CC         ?= cc
BUILD      ?= build
SWIFT      ?= swift
SWIFT_CONF ?= release
# Sanitizer builds live in their own tree.
ASAN_BUILD ?= build-asan

VERSION := 0.1.0
# hwloc is optional: without `pkg-config hwloc` the topology fallback is compiled (TSR_HAVE_HWLOC=0).
PKGS    := $(shell pkg-config --exists hwloc 2>/dev/null && echo hwloc)
PKG_CFLAGS := $(if $(PKGS),$(shell pkg-config --cflags $(PKGS) 2>/dev/null) -DTSR_HAVE_HWLOC=1,-DTSR_HAVE_HWLOC=0)
PKG_LIBS   := $(if $(PKGS),$(shell pkg-config --libs $(PKGS) 2>/dev/null))

# No -march=native: kernels pick their ISA at run time (function target attributes).
OPT      ?= -O3
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Wall -Wextra \
               -Wno-unused-parameter -Iinclude -ICSources/tessera/core $(PKG_CFLAGS)
CFLAGS   ?= $(OPT) -g
LDLIBS   := $(PKG_LIBS) -lpthread -ldl -lm

LIB_SRCS  := $(sort $(wildcard CSources/tessera/*/*.c))
LIB_HDRS  := $(wildcard include/*.h include/tessera/*.h CSources/tessera/*/*.h)
TEST_SRCS := $(sort $(wildcard Tests/c/test_*.c))
EXAMPLE_C := $(sort $(wildcard examples/c/*.c))

OBJS       := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
ASAN_OBJS  := $(LIB_SRCS:%.c=$(ASAN_BUILD)/obj/%.o)
TESTS      := $(TEST_SRCS:Tests/c/%.c=$(BUILD)/tests/%)
ASAN_TESTS := $(TEST_SRCS:Tests/c/%.c=$(ASAN_BUILD)/tests/%)

SANITIZE := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

.PHONY: all deps lib swift test test-c test-asan test-swift test-examples test-consumer bench-consumer \
        examples demo bench install uninstall clean help

all: lib

help:
	@echo "make deps | lib | swift | test | test-c | test-asan | demo | bench | examples | install PREFIX=... | clean"

deps:
	@scripts/bootstrap

# ---- plain C library ---------------------------------------------------------

lib: $(BUILD)/lib/libtessera.so $(BUILD)/lib/libtessera.a $(BUILD)/lib/pkgconfig/tessera.pc

$(BUILD)/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) -DTSR_BUILD_SHARED -c $< -o $@

# The real file carries the full version; .so.0 (the soname) and .so link to it.
$(BUILD)/lib/libtessera.so: $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libtessera.so.0 -o $(BUILD)/lib/libtessera.so.$(VERSION) $^ $(LDLIBS)
	ln -sf libtessera.so.$(VERSION) $(BUILD)/lib/libtessera.so.0
	ln -sf libtessera.so.0 $@

$(BUILD)/lib/libtessera.a: $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# In-tree pkg-config file (prefix = this build); `make install` writes one for PREFIX.
$(BUILD)/lib/pkgconfig/tessera.pc: tessera.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(abspath .)|' -e 's|@LIBDIR@|$(abspath $(BUILD)/lib)|' \
	    -e 's|@INCLUDEDIR@|$(abspath include)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(PKGS)|' $< > $@

# The C library and headers; the command-line tools (tessera, and beside it tessera-bench and,
# when OpenMPI is there, tessera-mpi: tessera execs them from its own folder); the MPI drop-in
# library libtessera_mpi.so when mpicc is there (mk/datatype.mk). The Swift tools are the
# release build (`make swift`); they load the Swift runtime from the toolchain they were built with.
SWIFT_BIN = $(shell $(SWIFT) build -c $(SWIFT_CONF) --show-bin-path 2>/dev/null)
HAVE_MPICC := $(shell command -v $(firstword $(or $(MPICC),mpicc)) 2>/dev/null)

install: lib swift $(if $(HAVE_MPICC),$(BUILD)/lib/libtessera_mpi.so)
	install -d $(DESTDIR)$(PREFIX)/include/tessera $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/tessera.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/tessera/*.h $(DESTDIR)$(PREFIX)/include/tessera/
	install -m 755 $(BUILD)/lib/libtessera.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtessera.so.$(VERSION)
	ln -sf libtessera.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtessera.so.0
	ln -sf libtessera.so.0 $(DESTDIR)$(PREFIX)/lib/libtessera.so
	install -m 644 $(BUILD)/lib/libtessera.a $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PREFIX)/lib|' \
	    -e 's|@INCLUDEDIR@|$(PREFIX)/include|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(PKGS)|' tessera.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tessera.pc
	install -m 755 $(SWIFT_BIN)/tessera $(SWIFT_BIN)/tessera-bench $(DESTDIR)$(PREFIX)/bin/
	if [ -x $(SWIFT_BIN)/tessera-mpi ]; then install -m 755 $(SWIFT_BIN)/tessera-mpi $(DESTDIR)$(PREFIX)/bin/; fi
	if [ -f $(BUILD)/lib/libtessera_mpi.so ]; then install -m 755 $(BUILD)/lib/libtessera_mpi.so $(DESTDIR)$(PREFIX)/lib/; fi

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/tessera $(DESTDIR)$(PREFIX)/include/tessera.h \
	       $(DESTDIR)$(PREFIX)/lib/libtessera.* $(DESTDIR)$(PREFIX)/lib/libtessera_mpi.so $(DESTDIR)$(PREFIX)/lib/pkgconfig/tessera.pc \
	       $(DESTDIR)$(PREFIX)/bin/tessera $(DESTDIR)$(PREFIX)/bin/tessera-bench $(DESTDIR)$(PREFIX)/bin/tessera-mpi

# ---- C tests (plain programs; each prints "N passed, N failed") -------------------

$(BUILD)/tests/%: Tests/c/%.c Tests/c/tsr_test.h $(BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_BASE) -ITests/c $< -o $@ $(BUILD)/lib/libtessera.a $(LDLIBS)

test-c: $(TESTS)
	@scripts/run-c-tests $(TESTS)

$(ASAN_BUILD)/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SANITIZE) $(CFLAGS_BASE) -c $< -o $@

$(ASAN_BUILD)/lib/libtessera.a: $(ASAN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ASAN_BUILD)/tests/%: Tests/c/%.c Tests/c/tsr_test.h $(ASAN_BUILD)/lib/libtessera.a
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SANITIZE) $(CFLAGS_BASE) -ITests/c $< -o $@ $(ASAN_BUILD)/lib/libtessera.a $(LDLIBS)

test-asan: deps $(ASAN_TESTS)
	@TSR_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    scripts/run-c-tests $(ASAN_TESTS)

# ---- Swift -------------------------------------------------------------------

swift:
	$(SWIFT) build -c $(SWIFT_CONF)

# -Xcc -O2: the C kernels optimised in the debug build of the tests (see BuildInfo / README)
test-swift:
	$(SWIFT) test -Xcc -O2 --parallel --num-workers 2

# ---- examples and the SwiftPM consumer ------------------------------------------

examples: lib
	@scripts/run-examples $(BUILD)

test-examples: examples

# A client package that depends on Tessera by version (a tagged temporary git repository),
# built in debug as `swift build` does by default: it runs, and warns that the C kernels are
# unoptimised. `make bench-consumer` times the same GEMV in debug, debug + -Xcc -O2 and release.
test-consumer:
	scripts/consumer-by-version test

bench-consumer:
	scripts/consumer-by-version bench

# ---- per-area extra targets (mk/<area>.mk may add to EXTRA_TESTS) ---------------------
EXTRA_TESTS :=
-include $(sort $(wildcard mk/*.mk))

test-extra: $(EXTRA_TESTS)

# ---- the two commands of the README -------------------------------------------------

test: deps
	$(MAKE) test-c
	$(MAKE) test-asan
	$(MAKE) python-venv
	$(MAKE) test-swift
	$(MAKE) test-examples
	$(MAKE) test-consumer
	$(MAKE) test-extra
	@echo "make test: all suites passed"

demo: deps swift
	@scripts/demo

bench: deps swift
	@scripts/bench
	@scripts/consumer-by-version bench | tee -a bench-results/results.jsonl

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) .build examples/swiftpm-consumer/.build bench-results
