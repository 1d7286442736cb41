# The two promises: `make run` sets up and starts the app; `make test` sets up and passes the suite.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test lint system-deps bench package clean

# The tray app (needs a desktop; without one it says to run `murmuration serve --instance NAME`).
run: $(STAMP)
	$(BIN)/murmuration

test: system-deps $(STAMP) lint
	$(BIN)/pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

system-deps:
	@packaging/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The one-folder bundle for this OS in dist/ (packaging/build.py): built, self-tested, packed, sizes printed.
package: $(STAMP)
	$(BIN)/python packaging/build.py

bench: $(STAMP)
	$(BIN)/python bench/ports.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/data_safety.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
