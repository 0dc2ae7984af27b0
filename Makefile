# Two commands on a fresh machine: `make demo` and `make test` (then `make run` with Slack credentials).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

.PHONY: install demo run test check bench
install: $(BIN)/activate

demo: install  ## the whole flow on this machine: SQLite, the Conta Azul sandbox, a local Slack stand-in
	$(BIN)/python -m bot demo

run: install  ## run Aprova (reads .env if present)
	set -a; [ -f .env ] && . ./.env; set +a; $(BIN)/python -m bot

test: install  ## lint, type-check and the whole test suite (SQLite, plus PostgreSQL when reachable)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

bench: install  ## performance figures (see README, Performance)
	$(BIN)/python -m bench
