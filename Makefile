# Two commands on a fresh machine: `make demo` and `make test`. For a workspace: `make check`, `make run`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written only once everything is installed, so an install that failed half-way is simply retried next time.
# Only the dependencies are installed: Aprova itself runs from this folder (`python -m bot`).
INSTALLED := $(VENV)/.installed

$(INSTALLED): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(INSTALLED)

.PHONY: install demo run check migrate test bench lock
install: $(INSTALLED)  ## .venv/ with the exact versions of requirements-dev.lock

demo: install  ## the whole flow on this machine: SQLite, the Conta Azul sandbox, a local Slack stand-in
	$(BIN)/python -m bot demo

check: install  ## every setting, the policy, the database, the key, Slack and Conta Azul; one line per problem
	$(BIN)/python -m bot check

migrate: install  ## bring the database (DATABASE_URL) to the latest schema
	$(BIN)/python -m bot migrate

run: install  ## run Aprova (every command reads .env when there is one)
	$(BIN)/python -m bot

test: install  ## lint, type-check and the whole test suite (SQLite, plus PostgreSQL when reachable)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

bench: install  ## performance figures (see README, Performance)
	$(BIN)/python -m bench

lock: install  ## after changing pyproject.toml's dependencies: pin them again in requirements-dev.lock
	$(BIN)/python -m pip install --quiet 'uv>=0.5,<1'
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock" -o requirements-dev.lock
