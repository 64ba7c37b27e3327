# Client engagement pipeline. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.lock pyproject.toml | cksum | cut -d' ' -f1)
SOURCES := libs functions localmode scripts tests benchmarks

.PHONY: help venv lock local demo seed test lint typecheck unit integration e2e bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	@# libs/ (the layer's package) and the repository root on the path: nothing to build, edits take effect at once
	$(BIN)/python -c 'import pathlib, site; pathlib.Path(site.getsitepackages()[0], "client-engagement.pth").write_text("$(CURDIR)/libs\n$(CURDIR)\n")'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## create or update the virtual environment from the lock file

lock: $(STAMP) ## re-pin requirements/dev.lock from pyproject.toml (then commit it)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --extra dev --generate-hashes \
		--quiet -o requirements/dev.lock

local: $(STAMP) ## run everything on this machine: emulator, functions, pollers, API (Ctrl-C stops)
	$(BIN)/python -m localmode run

demo: $(STAMP) ## start the local mode, seed clients, wait for the pipeline, print a summary
	$(BIN)/python -m localmode demo $(if $(COUNT),--count $(COUNT)) $(if $(SEED),--seed $(SEED))

seed: $(STAMP) ## seed clients into the running local mode (COUNT=20 SEED=7)
	$(BIN)/python scripts/seed_users.py --count $(or $(COUNT),20) --seed $(or $(SEED),7)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP) ## mypy (strict) on the shipped code and the tooling
	$(BIN)/mypy libs functions localmode scripts

unit: $(STAMP) ## unit tests: no AWS, no network
	$(BIN)/pytest tests/unit

integration: $(STAMP) ## integration tests on moto
	$(BIN)/pytest tests/integration

e2e: $(STAMP) ## end-to-end tests: the real local mode in a subprocess
	$(BIN)/pytest tests/e2e

test: lint typecheck ## what CI runs: lint, types, then every test
	$(BIN)/pytest

bench: $(STAMP) ## benchmarks: import times, stream throughput, local end-to-end rate
	$(BIN)/python -m benchmarks

clean: ## remove the environment, caches and local state
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache .hypothesis dist
