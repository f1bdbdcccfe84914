# Layering: only the Tessera module imports the C module CTessera (DESIGN.md, "Swift façade
# conventions"); the domain modules, tools, tests and examples use its typed API.
#   make check-facade   fail on a CTessera import outside Sources/Tessera/ or a CTessera
#                       dependency of another target (the scan's self-test runs first)
.PHONY: check-facade

check-facade:
	@scripts/check-facade --self-test
	@SWIFT="$(SWIFT)" scripts/check-facade

EXTRA_TESTS += check-facade
