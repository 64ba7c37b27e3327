# Client engagement pipeline. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.lock pyproject.toml | cksum | cut -d' ' -f1)
SOURCES := libs functions localmode stack scripts tests benchmarks
ENV ?= dev
ARCH ?= arm64
TF := terraform -chdir=terraform
TF_VARS = -var environment=$(ENV) -var architecture=$(ARCH) $(if $(wildcard terraform/terraform.tfvars),,$(error terraform/terraform.tfvars is missing: copy terraform/terraform.tfvars.example and fill it in))
TF_PLUGIN_DIR ?= $(wildcard /opt/tf-plugins)
TOOLS := .tools
CHECKOV := $(TOOLS)/checkov/bin/checkov
# make test's processes (pytest-xdist); each test file runs whole in one of them
TEST_WORKERS ?= 2

.PHONY: help venv lock local demo seed test test-deploy test-slow lint typecheck unit integration e2e test-reliability \
	rescore backfill bench clean \
	package plan deploy destroy outputs logs smoke checkov test-aws deploy-local destroy-local

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

lock: $(STAMP) ## re-pin requirements/*.lock from pyproject.toml (then commit them)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --extra dev --generate-hashes \
		--quiet -o requirements/dev.lock
	@# the layer: what the functions import at run time, for python3.12, without what the runtime already has
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.12 --generate-hashes -c requirements/dev.lock \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer --no-emit-package urllib3 \
		--no-emit-package python-dateutil --no-emit-package six --quiet -o requirements/layer.lock

local: $(STAMP) ## run everything on this machine: emulator, functions, pollers, API (Ctrl-C stops)
	$(BIN)/python -m localmode run

demo: $(STAMP) ## start the local mode, seed clients, wait for the pipeline, print a summary
	$(BIN)/python -m localmode demo $(if $(COUNT),--count $(COUNT)) $(if $(SEED),--seed $(SEED))

seed: $(STAMP) ## seed clients into the running local mode (COUNT=20 SEED=7)
	$(BIN)/python scripts/seed_users.py --count $(or $(COUNT),20) --seed $(or $(SEED),7)

backfill: $(STAMP) ## recompute every client's order aggregates from the orders table (the running local mode), resumably
	$(BIN)/python scripts/backfill_aggregates.py --state .local/backfill-state.json $(if $(RESTART),--restart)

rescore: $(STAMP) ## run the rescoring sweep in the running local mode now (NOW=2027-06-01T00:00:00Z simulates time)
	$(BIN)/python -m localmode rescore $(if $(NOW),--now $(NOW))

lint: $(STAMP) ## ruff lint and format check, and the layers of libs/engagement (import-linter)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP) ## mypy (strict) on the shipped code and the tooling
	$(BIN)/mypy libs functions localmode stack scripts

unit: $(STAMP) ## unit tests: no AWS, no network
	$(BIN)/pytest tests/unit

integration: $(STAMP) ## integration tests on moto
	$(BIN)/pytest tests/integration

e2e: $(STAMP) ## end-to-end tests: the real local mode in a subprocess
	$(BIN)/pytest tests/e2e

test: lint typecheck checkov ## lint, types, checkov, then every test but the deploy and slow ones, on TEST_WORKERS processes
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not deploy and not slow"

test-deploy: $(STAMP) ## packages on Python 3.12; terraform test with every option; terraform apply to the emulator
	$(BIN)/pytest -m deploy

test-slow: $(STAMP) ## the long runs make test covers briefly: every benchmark at tiny sizes, the API fuzzer's coverage phase
	$(BIN)/pytest -m slow

test-reliability: $(STAMP) ## the whole reliability suite at full size (figures in .artifacts/reliability.json)
	RELIABILITY_FULL=1 $(BIN)/pytest tests/reliability -p no:cacheprovider

bench: $(STAMP) ## benchmarks: import times, stream throughput, local end-to-end rate
	$(BIN)/python -m benchmarks

package: $(STAMP) ## build dist/: a zip per function and the layer (ARCH=arm64|x86_64), reproducibly
	$(BIN)/python scripts/package.py --arch $(ARCH)

deploy-local: package ## apply terraform/ itself to the emulator (make local's, or one started), then a second plan
	$(BIN)/python -m localmode.deploy apply

destroy-local: $(STAMP) ## remove what deploy-local made (and stop the emulator it started)
	$(BIN)/python -m localmode.deploy destroy

terraform/.terraform/$(ENV).init:
	@command -v terraform >/dev/null || { echo "terraform is not installed: https://developer.hashicorp.com/terraform/install"; exit 1; }
	$(TF) init -input=false $(if $(TF_PLUGIN_DIR),-plugin-dir=$(TF_PLUGIN_DIR))
	$(TF) workspace select -or-create $(ENV)
	@touch $@

plan: package terraform/.terraform/$(ENV).init ## show what deploy would change (ENV=dev)
	$(TF) workspace select $(ENV)
	$(TF) plan $(TF_VARS)

deploy: package terraform/.terraform/$(ENV).init ## package, then terraform apply (ENV=dev, ARCH=arm64); prints the URLs and names
	$(TF) workspace select $(ENV)
	$(TF) apply -input=false $(TF_VARS)
	@$(MAKE) --no-print-directory outputs

outputs: ## print the deployed environment's URLs, tables, log groups and parameters
	@$(TF) workspace select $(ENV) >/dev/null && $(TF) output

destroy: terraform/.terraform/$(ENV).init ## remove the environment (tables need deletion_protection = false first)
	$(TF) workspace select $(ENV)
	$(TF) destroy $(TF_VARS)

logs: $(STAMP) ## follow a function's logs: make logs FN=email_processor [CID=<correlation id>] [SINCE=10m] [ENV=local]
	@test -n "$(FN)" || { echo "usage: make logs FN=<a folder in functions/> [CID=...] [SINCE=10m] [ENV=local: make local's]"; exit 2; }
	$(BIN)/python scripts/ops.py logs --env $(ENV) --function $(FN) $(if $(CID),--correlation-id $(CID)) $(if $(SINCE),--since $(SINCE))

smoke: $(STAMP) ## after a deploy: the runbook's test through the pipeline (ENV=local: what make deploy-local made)
	$(if $(filter local,$(ENV)),$(BIN)/python -m localmode.deploy smoke,$(BIN)/python scripts/ops.py smoke --env $(ENV))

$(CHECKOV):
	@# checkov pins old boto3/openai: it gets an environment of its own, never the project's
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check "checkov==3.3.30"

checkov: $(CHECKOV) ## checkov on terraform/ (every skipped check carries its reason inline)
	$(CHECKOV) --directory terraform --quiet --compact --framework terraform --skip-download \
		--download-external-modules false

test-aws: $(STAMP) ## apply the Terraform modules to a real account and test them (needs credentials, terraform, network)
	REAL_AWS_TESTS=1 $(BIN)/pytest -o addopts="-ra --strict-markers" -p terraform tests/aws

clean: ## remove the environments, caches, build output and local state
	rm -rf $(VENV) $(TOOLS) .local .pytest_cache .mypy_cache .ruff_cache .hypothesis dist
