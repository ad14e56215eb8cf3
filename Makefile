# Entry points. `make help` lists every target; concern-specific targets live in mk/*.mk.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= data

# Small history for the demo; `make bench` uses the seed's full scale.
DEMO_CARDS ?= 1000
DEMO_TRANSACTIONS ?= 200000

.PHONY: help venv java-check test lint render render-check demo bench clean history aggregate

help: ## Show every target with its description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed ## Create .venv and install the pinned dependencies (first run only)

java-check:
	@command -v java >/dev/null || { echo "error: Java 17 is required for Spark and Flink (install openjdk-17-jre-headless)" >&2; exit 1; }

lint: venv ## Lint and format-check the Python code (ruff check, ruff format --check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

render: venv ## Re-render SQL and feature-group JSON from features/definition.py
	$(PY) -m features render

render-check: venv ## Fail if a rendered artifact drifted from the definition
	$(PY) -m features render --check

# Every tool environment the suite drives; each is built once and reused (stamp files).
TEST_ENVS := venv flink-venv checkov-venv localstack-venv sagemaker-xgboost-venv sagemaker-venv

test: java-check $(TEST_ENVS) lint ## Run every test: lint, drift, unit, property, Spark, Flink, Terraform, LocalStack integration
	$(PY) -m pytest

history: venv ## Generate a small transaction history into $(DATA)/history.parquet
	$(PY) -m simulator generate --cards $(DEMO_CARDS) --transactions $(DEMO_TRANSACTIONS) \
		--start 2020-01-01 --end 2020-06-01 --seed 42 --out $(DATA)/history.parquet

aggregate: venv ## Aggregate $(DATA)/history.parquet with the embedded engine into $(DATA)/features
	$(PY) -m jobs.aggregate --engine duckdb --input $(DATA)/history.parquet --output $(DATA)/features

demo: demo-pipeline ## The whole pipeline end to end on the local profile (generate, aggregate, train, stream an attack)

bench: venv java-check ## Measure speed and memory at the seed's scale; writes BENCHMARKS.md
	$(PY) -m bench

clean: ## Remove generated data and build outputs (keeps the virtualenvs)
	rm -rf $(DATA) build dist .pytest_cache .hypothesis

-include mk/*.mk
