# tessera serve (Sources/TesseraServe): the OpenAI-compatible HTTP server.
#   make test-serve    the client tests: the official `openai` SDK, curl for raw SSE framing, and a
#                      bounded load test (64 streams, disconnects, solo equality) against a
#                      `tessera serve` the tests start on a free loopback port (part of make test)
#   make bench-serve   `tessera bench serve`: tokens/s and TTFT at 1-32 streams vs llama.cpp's llama-server
#   make bench-serve-load   the heavier load test (SERVE_LOAD_STREAMS=128, 4 rounds)
# The Swift engine tests (batch invariance) run in `make test-swift` (TesseraServeTests).
.PHONY: test-serve bench-serve bench-serve-load serve-bin serve-test-bin

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

bench-serve-load: serve-bin $(PY_VENV)/.requirements
	cd Tests/serve-clients && SERVE_LOAD_STREAMS=128 SERVE_LOAD_ROUNDS=4 TESSERA_BIN=$(SERVE_BIN) \
	    ../../$(PY) -m pytest -q -p no:cacheprovider test_load.py

EXTRA_TESTS += test-serve

# `tessera bench serve`: aggregate tokens/s at 1-32 streams and TTFT against llama.cpp's llama-server
# (built once by bench/serve/setup-llama-server, pinned), and one stream vs `tessera generate`,
# SmolLM2 and Gemma 3 270M, alternated rounds, under the bench lock. Never part of `make test`.
BENCH_LOCK ?= /tmp/tessera-bench.lock
SERVE_BENCH_FLAGS ?=
bench-serve: $(PY_VENV)/.requirements
	$(SWIFT) build -c release --product tessera
	$(SWIFT) build -c release --product tessera-bench
	@scripts/fetch-model >/dev/null
	@scripts/fetch-model gemma3-270m >/dev/null
	bench/serve/setup-llama-server >/dev/null
	flock $(BENCH_LOCK) $(SERVE_BIN) bench serve --json $(SERVE_BENCH_FLAGS)
