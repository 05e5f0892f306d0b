# Two commands do all set-up: `make run` and `make test`. Each builds .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/paperboy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $@

run: $(BIN)/paperboy
	$(BIN)/paperboy run

test: $(BIN)/paperboy
	$(BIN)/python -m pytest

# Style and types: ruff (lint and format check) and mypy, as .ci/run runs them before the tests.
lint: $(BIN)/paperboy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var/paperboy.sqlite3* var/outbox
