# Two commands a newcomer needs: `make demo` and `make test`. Each creates .venv and installs what
# it needs by itself, so a fresh clone works with nothing but Python 3.11+ (and, for the
# PostgreSQL tests, a server at LOANLEDGER_TEST_PG).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint layers typecheck unit clean bench bench-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/loanledger demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The import-linter contracts in pyproject.toml ([tool.importlinter]): the layer order and a pure
# domain (README "Architecture").
layers: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs in TEST_WORKERS processes (pytest-xdist; `auto`: one a core), each test file whole
# in one of them (`--dist loadfile`), so a module's shared book is built once. TEST_WORKERS=0 runs
# it in this process.
TEST_WORKERS ?= auto

test: lint layers typecheck
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache .grimp_cache
