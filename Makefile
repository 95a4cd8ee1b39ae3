# The two commands: `make run` (a live server) and `make test` (the test suite).
# Both start from nothing: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-fast lint-imports test-postgres bench install install-dev migrate token clean help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt
	@test -x $(BIN)/python || { echo "==> creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> installing requirements.txt"
	@$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	@$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt bench/requirements.txt
	@echo "==> installing requirements-dev.txt"
	@$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed (Node.js 18+): install Node.js, then run make again" >&2; exit 1; }
	@echo "==> installing socket.io-client (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench/reference/node/node_modules/.installed: bench/reference/node/package.json bench/reference/node/package-lock.json
	@echo "==> installing the Node.js reference server for the benchmark (npm ci)"
	@npm ci --prefix bench/reference/node --no-audit --no-fund --loglevel=error
	@touch $@

install: $(BIN)/.installed node_modules/.installed ## Create .venv and node_modules with the runtime dependencies

install-dev: $(BIN)/.installed-dev node_modules/.installed bench/reference/node/node_modules/.installed ## Create .venv with the test dependencies too

run: install ## Migrate and serve on http://127.0.0.1:5000 (HOST and PORT change it)
	$(BIN)/python app.py

migrate: install ## Apply database migrations only
	$(BIN)/flask --app devtracker db upgrade

token: install ## Mint a token: make token ARGS="--user-id alice --role admin"
	@$(BIN)/flask --app devtracker token $(ARGS)

test: install-dev lint-imports ## Run the import contracts, then the test suite (SQLite; TEST_DATABASE_URL selects PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint-imports: install-dev ## Check the import contracts in .importlinter (layers, engine boundary, no cycles)
	$(BIN)/lint-imports --no-cache

test-fast: install-dev ## Run the unit tests only (-m unit: no server process, nothing slow), on every core
	$(BIN)/python -m pytest -m unit -n auto $(PYTEST_ARGS)

test-postgres: install-dev ## Run the test suite on PostgreSQL ($(PG_TEST_URL))
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev ## Benchmark against bare Flask-SocketIO and Node socket.io (ARGS="--sizes 1000,5000")
	$(BIN)/python bench/run.py $(ARGS)

clean: ## Remove .venv, node_modules and caches
	rm -rf $(VENV) node_modules bench/reference/node/node_modules .pytest_cache
