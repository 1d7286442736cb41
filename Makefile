# The two promises: `make run` sets up and starts the app; `make test` sets up and passes the suite.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's linter (ESLint) and the browser tests' accessibility checker (axe-core, put into pages from
# node_modules by tests/dashboard/test_accessibility.py), pinned by package-lock.json; nothing from npm ships.
NODE_STAMP := node_modules/.installed
PYTHON ?= python3

.PHONY: run test lint system-deps bench package clean

# The tray app (needs a desktop; without one it says to run `murmuration serve --instance NAME`).
run: $(STAMP)
	$(BIN)/murmuration

# The editable install leaves murmuration's own modules uncompiled, and where PYTHONDONTWRITEBYTECODE is set (CI
# machines set it) every server, bridge and CLI the suite starts would compile them again: compile them once here.
test: system-deps $(STAMP) $(NODE_STAMP) lint
	$(BIN)/python -m compileall -q app
	$(BIN)/pytest -n auto

lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy
	node_modules/.bin/eslint --max-warnings 0 resources/dashboard

system-deps:
	@packaging/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20.19 or newer (it brings npm), then run make again." >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The one-folder bundle for this OS in dist/ (packaging/build.py): built, self-tested, packed, sizes printed.
package: $(STAMP)
	$(BIN)/python packaging/build.py

bench: $(STAMP)
	$(BIN)/python bench/ports.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/data_safety.py
	$(BIN)/python bench/agents.py

clean:
	rm -rf $(VENV) node_modules build dist .pytest_cache .ruff_cache .hypothesis
