# Every target sets itself up from nothing: a virtual environment in .venv with the project installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.package-lock.json

.PHONY: run test widget bench bench-idle bench-slots bench-tokens bench-resume bench-poison bench-risk bench-surge bench-crisis bench-processes bench-half-load bench-idle10k clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Front-end libraries come from npm at set-up and are served by us, never from a CDN.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The embeddable widget is one classic script other sites load with one <script> tag: esbuild
# bundles it from the ES modules it shares with the booking pages (docs/front-end.md). The
# output is not committed; every target that serves or tests it builds it first.
WIDGET_JS := web_widget/static/widget.js
WIDGET_SRC := $(shell find web_widget/src -name '*.js' -not -path '*/tests/*')

widget: $(WIDGET_JS)

$(WIDGET_JS): $(NODE_STAMP) $(WIDGET_SRC)
	node_modules/.bin/esbuild web_widget/src/widget/main.js --bundle --format=iife --target=es2017 \
		--charset=utf8 --legal-comments=inline --log-level=warning --outfile=$(WIDGET_JS)

run: $(STAMP) $(NODE_STAMP) widget
	$(BIN)/vt-contact serve --demo

test: $(STAMP) $(NODE_STAMP) widget
	$(BIN)/ruff check . --exclude bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	node --test agent_console/static/js/tests/ web_widget/src/tests/
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/chat_relay.py

bench-idle: $(STAMP)
	$(BIN)/python bench/chat_relay.py --mode idle

bench-slots: $(STAMP)
	$(BIN)/python bench/slots.py

bench-tokens: $(STAMP)
	$(BIN)/python bench/manage_tokens.py

bench-resume: $(STAMP)
	$(BIN)/python bench/resume_tokens.py

bench-poison: $(STAMP)
	$(BIN)/python bench/poison.py

bench-risk: $(STAMP)
	$(BIN)/python bench/risk_signals.py

bench-surge: $(STAMP)
	$(BIN)/python bench/scale.py --mode surge

bench-crisis: $(STAMP)
	$(BIN)/python bench/scale.py --mode crisis

bench-processes: $(STAMP)
	$(BIN)/python bench/scale.py --mode processes

bench-half-load: $(STAMP)
	$(BIN)/python bench/half_load.py

bench-idle10k: $(STAMP)
	$(BIN)/python bench/scale.py --mode idle10k

clean:
	rm -rf $(VENV) var .pytest_cache .import_linter_cache node_modules artifacts
