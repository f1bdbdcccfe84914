# Python package (python/): NumPy/scikit-learn-style estimators over the C ABI.
#   make python        a virtual environment in $(PY_VENV) with the pinned test requirements
#                      (python/requirements-test.txt, from PyPI), then `pip install ./python` into
#                      it: the package's build runs `make lib` (and the Swift TesseraCABI library)
#   make test-python   pytest on python/tests against the installed package (part of make test);
#                      it builds the `tessera` CLI (debug, as `make test-swift` leaves it) for the
#                      bit-for-bit cross-checks against the Swift implementation (never skipped)
# PYTHON picks the interpreter (3.9+). Works as root and on a fresh machine.
PYTHON  ?= python3
PY_VENV ?= $(BUILD)/python-venv
PY      := $(PY_VENV)/bin/python

.PHONY: python python-cli test-python python-venv

# the venv alone: the Swift model tests read GGUF files with its `gguf` package (their
# float64 NumPy reference), so `make test` makes it before `make test-swift`
python-venv: $(PY_VENV)/.requirements

$(PY_VENV)/.requirements: python/requirements-test.txt
	@test -x $(PY) || $(PYTHON) -m venv $(PY_VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r python/requirements-test.txt
	@touch $@

python: lib $(PY_VENV)/.requirements
	$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./python

PY_TESSERA_BIN ?= $(CURDIR)/.build/debug/tessera

python-cli:
	$(SWIFT) build -Xcc -O2 --product tessera

# Runs from python/tests with the installed package (not the source folder) on sys.path first.
test-python: python python-cli
	cd python/tests && TESSERA_BIN=$(PY_TESSERA_BIN) ../../$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) .

EXTRA_TESTS += test-python
