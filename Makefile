# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

.PHONY: install run test check bench
install: $(BIN)/activate

run: install  ## run Aprova (reads .env if present)
	set -a; [ -f .env ] && . ./.env; set +a; $(BIN)/python -m bot

test: install  ## lint, type-check and the whole test suite (SQLite, plus PostgreSQL when reachable)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

bench: install  ## performance figures (see README, Performance)
	$(BIN)/python -m bench
