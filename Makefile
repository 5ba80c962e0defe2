# rising: `make dev` runs the whole system locally, `make test` proves it. See README.md.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: help bootstrap dev test build lint unit bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## Install the pinned tools into .venv (idempotent, seconds when done)
	@./infra/bootstrap.sh

dev: bootstrap ## Run the whole system on local emulators (gateway on :3000; GATEWAY_PORT to change)
	@cargo build --workspace --bins
	@SmsSendRate=$${SmsSendRate:-10} EmailSendRate=$${EmailSendRate:-10} \
	  EmbedOrigins="$${EmbedOrigins:-http://127.0.0.1:* http://localhost:*}" \
	  $(VENV)/bin/python infra/local/stack.py up --no-build --schedule-period 60

test: ## Everything: unit + integration tests on the emulators, template checks, arm64 build
	@./infra/test.sh

lint: bootstrap ## cfn-lint and sam validate --lint on template.yaml
	@cfn-lint template.yaml
	@sam validate --lint

build: bootstrap ## sam build: an arm64 bootstrap for every function in template.yaml
	@sam build
	@./infra/check-bootstraps.sh

unit: ## Only the tests that need no running stack (Rust unit tests, stack engine tests)
	@cargo test --workspace --lib --bins
	@$(VENV)/bin/python -m unittest discover -s infra/local

bench: bootstrap ## Benchmarks, not pass/fail: throughput, AWS requests per invite, cold start, sizes -> bench/results.md
	@$(VENV)/bin/python bench/run.py

clean: ## Remove build output (keeps .venv)
	@rm -rf .aws-sam .local target
