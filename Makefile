# Two commands do all setup on a fresh machine (see README):
#   make demo   install the embedded default and open the chat (no TTY: ask a sample question)
#   make test   install with dev tools, then lint, type-check and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Keep pip's cache inside the checkout (nothing is cached outside the repo).
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

QUESTION ?= What was revenue by region in 1995, and how many suppliers does each region have?

.PHONY: demo test install install-dev lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,databricks]'

# In a terminal: the chat. Without one (CI, scripts), or with QUESTION="..." given: ask one question.
demo: install
ifeq ($(origin QUESTION),command line)
	$(BIN)/genie-agent ask "$(QUESTION)"
else
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN)/genie-agent chat; else $(BIN)/genie-agent ask "$(QUESTION)"; fi
endif

lint: install-dev
	$(BIN)/ruff check sdk deploy_scripts tui agent_model examples tests bench docs
	$(BIN)/ruff format --check sdk deploy_scripts tui agent_model examples tests bench docs
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 -q

bench: install
	$(BIN)/python bench/bench_ask.py

# The API reference of the public API (genie_agent's __all__) from its docstrings, into docs/api/
# (git-ignored; CI builds it in tests/integration/test_api_reference.py).
docs: install-dev
	$(BIN)/python docs/api_reference.py docs/api

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .mypy_cache .bench-home docs/api
