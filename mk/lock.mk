# Locks (issue 15): each virtualenv installs from a requirements*.txt that uv compiled, with the hash of
# every file, from the requirements*.in beside it (the top-level pins and why each environment exists).
# `make lock` re-resolves every lock (the PyPI registry is needed); versions already locked are kept
# unless LOCK_UPGRADE=1. uv itself is pinned, with hashes, in requirements-lock.txt (.venv-lock).
.PHONY: lock

LOCK_VENV := .venv-lock
# --no-config: no uv.toml or UV_* settings of the machine take part; PyPI unless UV_INDEX_URL says otherwise.
UV_COMPILE = $(LOCK_VENV)/bin/uv pip compile --quiet --no-config --generate-hashes \
	--custom-compile-command 'make lock' $(if $(LOCK_UPGRADE),--upgrade)
# Python 3.11 environments: one lock for every OS and CPU (markers where they differ).
PY311 := --universal --python-version 3.11
# LocalStack's host runtime is Python 3.13; its dependency tree does not resolve for every platform and
# later Python (moto-ext caps aws-sam-translator on 3.14), so it is locked for Linux and macOS hosts.
PY313 := --python-version 3.13
# The Lambda zips: what the runtime python3.11 x86_64 loads (packager/lambdas.py installs for it).
LAMBDA := --python-version 3.11 --python-platform x86_64-manylinux_2_17
# The daily refresh's boto3 for EMR Serverless (emr-7, Python 3.9; pure-Python wheels).
EMR := --python-version 3.9 --python-platform x86_64-manylinux_2_17
# The consistency job's XGBoost and scikit-learn for the same Python (binary wheels, manylinux_2_28).
EMR_BINARY := --python-version 3.9 --python-platform x86_64-manylinux_2_28
# Compiled against requirements.txt (and spark), so the layers install into one .venv side by side.
LAYERED := requirements-spark requirements-dev
STANDALONE := requirements-flink requirements-checkov requirements-sagemaker requirements-sagemaker-xgboost

$(LOCK_VENV)/.installed: requirements-lock.txt
	$(call venv-install,$(LOCK_VENV),requirements-lock.txt)

lock: $(LOCK_VENV)/.installed ## Re-resolve every requirements*.in into its hashed requirements*.txt (needs PyPI; LOCK_UPGRADE=1 to upgrade)
	$(UV_COMPILE) $(PY311) requirements-lock.in -o requirements-lock.txt
	$(UV_COMPILE) $(PY311) requirements.in -o requirements.txt
	$(UV_COMPILE) $(PY311) requirements-spark.in -c requirements.txt -o requirements-spark.txt
	$(UV_COMPILE) $(PY311) requirements-dev.in -c requirements.txt -c requirements-spark.txt -o requirements-dev.txt
	@set -e; for name in $(STANDALONE); do echo "$(UV_COMPILE) $(PY311) $$name.in -o $$name.txt"; \
		$(UV_COMPILE) $(PY311) $$name.in -o $$name.txt; done
	$(UV_COMPILE) $(PY313) requirements-localstack.in -o requirements-localstack.txt
	@set -e; for src in functions/*/requirements.in; do echo "$(UV_COMPILE) $(LAMBDA) $$src -o $${src%.in}.txt"; \
		$(UV_COMPILE) $(LAMBDA) $$src -o $${src%.in}.txt; done
	$(UV_COMPILE) $(EMR) jobs/batch/emr-requirements.in -o jobs/batch/emr-requirements.txt
	$(UV_COMPILE) $(EMR_BINARY) jobs/consistency/emr-requirements.in -o jobs/consistency/emr-requirements.txt
