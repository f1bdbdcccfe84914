# C kernels: the library without hwloc (README: `make lib` needs only a C compiler).
#   make test-no-hwloc   builds the library and test_pool/test_core with `pkg-config hwloc`
#                        hidden (so the Makefile compiles the topology fallback,
#                        TSR_HAVE_HWLOC=0), checks that nothing refers to hwloc, runs them
#                        (test_pool then also checks that the fallback answered)
NOHWLOC_BUILD ?= build-nohwloc
NOHWLOC_ENV   := PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent

.PHONY: test-no-hwloc clean-no-hwloc

test-no-hwloc:
	$(NOHWLOC_ENV) $(MAKE) --no-print-directory BUILD=$(NOHWLOC_BUILD) lib \
	    $(NOHWLOC_BUILD)/tests/test_pool $(NOHWLOC_BUILD)/tests/test_core
	@if nm -D --undefined-only $(NOHWLOC_BUILD)/lib/libtessera.so | grep -q hwloc; then \
	    echo "test-no-hwloc: libtessera.so still refers to hwloc"; exit 1; fi
	@if grep -q '^Requires.*hwloc' $(NOHWLOC_BUILD)/lib/pkgconfig/tessera.pc; then \
	    echo "test-no-hwloc: tessera.pc still requires hwloc"; exit 1; fi
	@TSR_TEST_EXPECT_NO_HWLOC=1 scripts/run-c-tests $(NOHWLOC_BUILD)/tests/test_pool $(NOHWLOC_BUILD)/tests/test_core
	@echo "test-no-hwloc: the library builds, links and runs without hwloc"

clean-no-hwloc:
	rm -rf $(NOHWLOC_BUILD)

clean: clean-no-hwloc

EXTRA_TESTS += test-no-hwloc
