# Entry points. `make help` lists every target; concern-specific targets live in mk/*.mk.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= data
# Batch engine of `make aggregate`: duckdb (in .venv) or spark (adds the PySpark layer, needs Java).
ENGINE ?= duckdb

# Small history for the demo; `make bench` uses the seed's full scale.
DEMO_CARDS ?= 1000
DEMO_TRANSACTIONS ?= 200000

.PHONY: help venv spark-venv dev-venv java-check terraform-check prereqs test lint render render-check demo bench clean history aggregate

help: ## Show every target with its description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Every virtualenv installs from a lock with hashes (requirements*.txt, compiled from requirements*.in
# by `make lock`, mk/lock.mk): pip refuses any file whose hash the lock does not list.
# $(call venv-install,DIR,LOCKS): create DIR from $(PYTHON) (3.11, checked) unless it exists, install LOCKS.
define venv-install
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "error: Python 3.11 is required ($(PYTHON) is missing or another version); install it (pyenv install 3.11, uv python install 3.11, or apt install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --disable-pip-version-check --require-hashes $(addprefix -r ,$(2))
	@touch $@
endef

# .venv in layers, each a lock compiled against the ones below it (so they install side by side):
# requirements.txt what `make demo` runs; requirements-spark.txt PySpark; requirements-dev.txt test tools.
$(VENV)/.installed: requirements.txt
	$(call venv-install,$(VENV),requirements.txt)

$(VENV)/.spark-installed: $(VENV)/.installed requirements-spark.txt
	$(call venv-install,$(VENV),requirements-spark.txt)

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(call venv-install,$(VENV),requirements-dev.txt)

venv: $(VENV)/.installed ## Create .venv with what the demo runs (first run only)

spark-venv: $(VENV)/.spark-installed ## Add PySpark to .venv (Spark engine, Spark tests, bench; first run only)

dev-venv: $(VENV)/.dev-installed ## Add the test and lint tools to .venv (first run only)

# Java's version, from `java -version` (JAVA_HOME's java when set, as Spark uses it): "17.0.15", "21", "1.8.0_392".
java-check:
	@java=$${JAVA_HOME:+$$JAVA_HOME/bin/}java; command -v $$java >/dev/null || { echo "error: Java >= 17 is required for Spark and Flink (install openjdk-17-jre-headless or set JAVA_HOME)" >&2; exit 1; }; \
	version=$$($$java -version 2>&1 | awk -F'"' '/version/ {print $$2; exit}'); major=$${version%%.*}; \
	if [ "$$major" = 1 ]; then major=$$(echo "$$version" | cut -d. -f2); fi; \
	[ "$${major:-0}" -ge 17 ] 2>/dev/null || { echo "error: Java >= 17 is required for Spark and Flink, found $$java version '$${version:-unknown}' (install openjdk-17-jre-headless or set JAVA_HOME)" >&2; exit 1; }

terraform-check:
	@command -v terraform >/dev/null || { echo "error: terraform >= 1.9 is required (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }; \
	version=$$(terraform version 2>/dev/null | sed -n '1s/^Terraform v//p'); \
	[ "$$(printf '1.9.0\n%s\n' "$$version" | sort -V | head -n1)" = 1.9.0 ] && [ -n "$$version" ] || { echo "error: terraform >= 1.9 is required, found '$${version:-unknown}' (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }

prereqs: ## Check the prerequisites, one line each (docs/setup.md)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && echo "ok      Python 3.11 ($(PYTHON))" || echo "missing Python 3.11 as $(PYTHON): every target"
	@$(MAKE) -s java-check 2>/dev/null && echo "ok      Java >= 17" || echo "missing Java >= 17: make test, make bench, Spark and Flink"
	@$(MAKE) -s terraform-check 2>/dev/null && echo "ok      terraform >= 1.9" || echo "missing terraform >= 1.9: make test, make plan/deploy"
	@if timeout 15 docker info >/dev/null 2>&1; then echo "ok      Docker answers: LocalStack runs as its container"; \
	else echo "info    no Docker engine: LocalStack runs on the host (needs Python >= 3.13 and Node.js)"; \
		$(PYTHON) -c 'import profiles.localstack_server as l; print("ok      Python >= 3.13 at " + l.find_python())' 2>/dev/null || echo "missing Python >= 3.13 (LOCALSTACK_PYTHON=): LocalStack host runtime"; \
		command -v node >/dev/null && command -v npm >/dev/null && echo "ok      Node.js and npm" || echo "missing Node.js and npm: LocalStack's Kinesis (host runtime)"; fi

lint: venv ## Lint and format-check the Python code (ruff check, ruff format --check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

render: venv ## Re-render SQL and feature-group JSON from features/definition.py
	$(PY) -m features render

render-check: venv ## Fail if a rendered artifact drifted from the definition
	$(PY) -m features render --check

# Every tool environment the suite drives; each is built once and reused (stamp files).
TEST_ENVS := venv spark-venv dev-venv flink-venv checkov-venv localstack-runtime sagemaker-xgboost-venv sagemaker-venv

# The terraform targets (mk/terraform.mk's tf-check) check the version too.
tf-check: terraform-check

# lint (and terraform/docs.py) run tools of the dev layer.
lint tf-docs test-runtime test-integration: dev-venv

test: java-check terraform-check $(TEST_ENVS) lint ## Run every test: lint, drift, unit, property, Spark, Flink, Terraform, LocalStack integration
	$(PY) -m pytest

history: venv ## Generate a small transaction history into $(DATA)/history.parquet
	$(PY) -m simulator generate --cards $(DEMO_CARDS) --transactions $(DEMO_TRANSACTIONS) \
		--start 2020-01-01 --end 2020-06-01 --seed 42 --out $(DATA)/history.parquet

aggregate: venv $(if $(filter spark,$(ENGINE)),spark-venv java-check) ## Aggregate $(DATA)/history.parquet into $(DATA)/features (ENGINE=duckdb|spark)
	$(PY) -m jobs.aggregate --engine $(ENGINE) --input $(DATA)/history.parquet --output $(DATA)/features

demo: demo-pipeline ## The whole pipeline end to end on the local profile (generate, aggregate, train, stream an attack)

bench: venv spark-venv flink-venv localstack-runtime java-check ## Measure speed and memory at the seed's scale; writes BENCHMARKS.md
	$(PY) -m bench

clean: ## Remove generated data and build outputs (keeps the virtualenvs)
	rm -rf $(DATA) build dist .pytest_cache .hypothesis

-include mk/*.mk
