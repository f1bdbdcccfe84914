# tessera serve (Sources/TesseraServe): the OpenAI-compatible HTTP server.
#   make test-serve    the client tests: the official `openai` SDK, curl for raw SSE framing, and a
#                      bounded load test (64 streams, disconnects, solo equality) against a
#                      `tessera serve` the tests start on a free loopback port (part of make test)
#   make bench-serve   the heavier load test (SERVE_LOAD_STREAMS=128, 4 rounds)
# The Swift engine tests (batch invariance) run in `make test-swift` (TesseraServeTests).
.PHONY: test-serve bench-serve serve-bin serve-test-bin

SERVE_BIN = $(shell $(SWIFT) build -c release --show-bin-path 2>/dev/null)/tessera
# the tests use the debug build that `make test-swift` leaves (C kernels at -O2, as there):
# a release build of the whole package would add ~10 minutes to a fresh `make test`
SERVE_TEST_BIN = $(shell $(SWIFT) build --show-bin-path 2>/dev/null)/tessera

serve-bin:
	$(SWIFT) build -c release --product tessera
	@scripts/fetch-model >/dev/null

serve-test-bin:
	$(SWIFT) build -Xcc -O2 --product tessera
	@scripts/fetch-model >/dev/null

test-serve: serve-test-bin $(PY_VENV)/.requirements
	cd Tests/serve-clients && TESSERA_BIN=$(SERVE_TEST_BIN) ../../$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) .

bench-serve: serve-bin $(PY_VENV)/.requirements
	cd Tests/serve-clients && SERVE_LOAD_STREAMS=128 SERVE_LOAD_ROUNDS=4 TESSERA_BIN=$(SERVE_BIN) \
	    ../../$(PY) -m pytest -q -p no:cacheprovider test_load.py

EXTRA_TESTS += test-serve

# one stream through the server vs `tessera generate`, and aggregate tokens/s at 1-32 streams
BENCH_LOCK ?= /tmp/tessera-bench.lock
.PHONY: bench-serve-speed
bench-serve-speed: serve-bin $(PY_VENV)/.requirements
	cd Tests/serve-clients && TESSERA_BIN=$(SERVE_BIN) flock $(BENCH_LOCK) ../../$(PY) bench_serve.py 5
