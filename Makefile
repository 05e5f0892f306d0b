# Two commands do all set-up: `make run` and `make test`. Each builds .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test clean

$(BIN)/paperboy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/paperboy
	$(BIN)/paperboy run

test: $(BIN)/paperboy
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var/paperboy.sqlite3* var/outbox
