# The two commands of the README: `make up` runs the embedded stack, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The embedded OpenID Connect provider's and the pages' (DSFR) Node packages (package.json,
# package-lock.json; .dsfr.yml records the DSFR's terms of use, which its install checks).
NODE_STAMP := node_modules/.installed-stamp
# The browser tests (tests/web) drive Debian's Chromium: no browser is ever downloaded.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up test lint fmt typecheck pytest chromium bench faults seed-demo bench-api bench-rush bench-idle bench-replay bench-receipt config-docs histories mail demo migration clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json .dsfr.yml
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

## Debian's Chromium for the browser tests, installed when missing.
chromium: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

## Run the whole embedded stack (Temporal dev server + Web UI, SMTP mailbox, OIDC provider,
## worker, API). Ctrl-C stops it.
up: $(STAMP) $(NODE_STAMP)
	mkdir -p data
	# Migrate once before the processes start: the API and the worker would otherwise race on it.
	$(BIN)/alembic upgrade head
	$(BIN)/honcho start -f Procfile

## Every check CI runs: format, lint, types, then the test suite.
test: $(STAMP) $(NODE_STAMP) $(CHROMIUM) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Database tests also run on this PostgreSQL (set it empty to run them on SQLite only).
SECUPOL_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export SECUPOL_TEST_POSTGRES_URL

# The suite runs on TEST_WORKERS processes (pytest-xdist), one test file per worker at a time: most
# tests wait on timers and servers (the suite uses about 1.3 of the 2 cores), so three workers
# beat two: 596 s against 719 s for the same 2025 tests on this machine. Each worker starts its own
# Temporal dev server, SMTP server and databases. TEST_WORKERS=0 runs in one process. The slowest
# tests are listed at the end, to watch the 10-minute budget.
TEST_WORKERS ?= 3

pytest: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmark of whole cases against a fresh dev server (CASES=200 by default).
bench: $(STAMP)
	$(BIN)/python -m bench.case_lifecycle --cases $${CASES:-200}

## The fault suite's faults at a larger N, on real processes (CASES=100): a table, then JSON.
faults: $(STAMP)
	$(BIN)/python -m bench.faults --cases $${CASES:-100}

## Latency of an API action against the same update sent directly (CLIENTS=50, ACTIONS=20).
bench-api: $(STAMP)
	$(BIN)/python -m bench.api_actions --clients $${CLIENTS:-50} --actions $${ACTIONS:-20}

## The deposit deadline rush through the API, open loop (DEPOSITS=5000 over WINDOW=600 s).
bench-rush: $(STAMP)
	$(BIN)/python -m bench.deadline_rush --deposits $${DEPOSITS:-5000} --window $${WINDOW:-600}

## Open cases waiting on their timers: the worker's memory (IDLE_CASES=20000).
bench-idle: $(STAMP)
	$(BIN)/python -m bench.idle_cases --cases $${IDLE_CASES:-20000}

## What a case out of the worker's cache costs: one replay of its history, per workflow runner.
bench-replay: $(STAMP)
	$(BIN)/python -m bench.replay_cost --runs $${RUNS:-30}

## CPU of one deposit receipt PDF, drawn by the worker at every deposit (DOCUMENTS=6).
bench-receipt: $(STAMP)
	$(BIN)/python -m bench.receipt --documents $${DOCUMENTS:-6}

## Record replay histories of the current workflow code: make histories LABEL=v3 (keep the old ones).
histories: $(STAMP)
	test -n "$(LABEL)" || (echo "usage: make histories LABEL=vN" && exit 2)
	SECUPOL_RECORD_HISTORIES=$(LABEL) $(BIN)/pytest -m record_history tests/workflows

## Regenerate docs/configuration.md from core/settings.py (a test fails while it is stale).
config-docs: $(STAMP)
	$(BIN)/python -m core.settings_reference

## Demo accounts, election and prefecture for the running stack; prints their tokens and a guide.
seed-demo: $(STAMP)
	$(BIN)/python -m api.admin seed-demo

## Read the emails the embedded stack sent.
mail: $(STAMP)
	$(BIN)/python -m embedded.mailbox list

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis

## Draft a migration from the difference between core/db.py and the migrations: make migration MESSAGE="…"
migration: $(STAMP)
	test -n "$(MESSAGE)" || (echo 'usage: make migration MESSAGE="what changes"' && exit 2)
	tmp=$$(mktemp -d) && export SECUPOL_DATA_DIR=$$tmp && $(BIN)/alembic upgrade head \
		&& $(BIN)/alembic revision --autogenerate -m "$(MESSAGE)"; status=$$?; rm -rf $$tmp; exit $$status

## Drive a fictitious case through every stage on the running stack (see it in the Web UI).
demo: $(STAMP)
	$(BIN)/python -m embedded.demo $(ARGS)
