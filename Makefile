# dissent — developer entry points. Everything a fresh machine needs is installed here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# System tools the tests use: the reference `age` binary for interoperability tests.
system-deps:
	@command -v age >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq age; \
	  else echo "install Debian's 'age' package (sudo apt-get install age)"; fi; }

test: install system-deps
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check dissent tests benchmarks
	$(BIN)/ruff format --check dissent tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/crypto.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
