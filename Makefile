# Bookish developer entry points. Local tooling (moto, cargo-lambda, cfn-lint,
# pytest, ...) lives in .venv/, installed from infra/requirements.txt; the
# local stack itself is driven by infra/stack.py (see its docstring).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Resolved once, before anything puts .venv/bin first on PATH.
SYSTEM_PYTHON := $(shell command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
AARCH64 := aarch64-unknown-linux-gnu
# Extra flags for infra/stack.py, e.g. make dev STACK_ARGS="--seed my-books.json"
# or STACK_ARGS="--dump-events .local/events" (every queue/stream event the driver sends)
STACK_ARGS ?=

.PHONY: help venv dev up down trace test lint fmt-check clippy cfn-lint build bench clean-local

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install infra/requirements.txt (only when it changed)

# The stamp is newer than requirements.txt once they are installed.
$(STAMP): infra/requirements.txt
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --no-input -q -r infra/requirements.txt
	touch $@

dev: venv ## moto :5050 + API :9000 + queue/stream driver, seeded; foreground, Ctrl-C stops all
	$(PY) infra/stack.py dev $(STACK_ARGS)

up: venv ## like dev, but leaves the stack running in the background
	$(PY) infra/stack.py up $(STACK_ARGS)

down: venv ## stop what `make up` (or a `make dev` killed with -9) left running
	$(PY) infra/stack.py down --name dev

# The order's journey, from the spans the stack stored (infra/trace.py).
STACK ?= dev
trace: venv ## print an order's journey as a waterfall: make trace ORDER=<order id> [STACK=dev]
	@test -n "$(ORDER)" || { echo "usage: make trace ORDER=<order id> [STACK=dev]"; exit 2; }
	$(PY) infra/trace.py "$(ORDER)" --stack "$(STACK)"

# Fast checks first; stack.py then runs cargo test and pytest (tests/, including the
# driver's own tests in tests/infra/) against moto :5051 + API :9001 + the driver.
test: venv lint ## lint, then cargo test and pytest against a fresh local stack
	$(PY) infra/stack.py test $(STACK_ARGS)

lint: fmt-check cfn-lint clippy ## rustfmt check, cfn-lint, clippy

fmt-check:
	cargo fmt --all -- --check

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml

clippy:
	cargo clippy --workspace --all-targets --all-features -- -D warnings

# Lambda runs the functions on arm64 (template.yaml). The aarch64 std library
# comes from rustup; without it we still prove the release build on x86-64.
# BINS="a b" builds only those functions; empty builds every one.
BINS ?=
build: venv ## release zips for Lambda in target/lambda/<binary>/bootstrap.zip
	@if rustup target list --installed | grep -qx '$(AARCH64)' \
	    || timeout 600 rustup target add $(AARCH64); then \
	  arch=--arm64; \
	else \
	  echo "!! rustup could not add $(AARCH64): building x86-64 zips instead."; \
	  echo "!! They prove the release build but do not match template.yaml (arm64): do not deploy them."; \
	  arch=--x86-64; \
	fi; \
	echo "cargo lambda build --release $$arch --output-format zip"; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release $$arch --output-format zip $(addprefix --bin ,$(BINS)); \
	ls -l target/lambda/*/bootstrap.zip

# Not part of `make test`: it takes ~40 minutes, mostly two release builds, and it
# measures rather than checks. BENCH_ARGS="--only cold,report" re-runs a part.
BENCH_ARGS ?=
bench: venv ## measure cold start, overhead, memory, size, cost and load; rewrite BENCHMARKS.md
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) infra/bench/bench.py $(BENCH_ARGS)

clean-local: ## stop local processes and delete .local/
	@if [ -x $(PY) ]; then $(PY) infra/stack.py down --name dev; $(PY) infra/stack.py down --name test; fi
	rm -rf .local
