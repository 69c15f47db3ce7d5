# Every target sets itself up from nothing: a virtual environment in .venv with the project installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-idle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vt-contact serve --demo

test: $(STAMP)
	$(BIN)/ruff check . --exclude bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/chat_relay.py

bench-idle: $(STAMP)
	$(BIN)/python bench/chat_relay.py --mode idle

clean:
	rm -rf $(VENV) var .pytest_cache
