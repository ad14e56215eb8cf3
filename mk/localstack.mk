# LocalStack on 127.0.0.1:4566 for the `localstack` profile and the integration tests (issue 7).
# Host runtime in .venv-localstack (Python >= 3.13) when no Docker engine answers; files under .localstack/.
.PHONY: localstack-venv localstack-runtime localstack-up localstack-down localstack-status test-integration

LOCALSTACK := $(PY) -m profiles.localstack_server

localstack-venv: venv ## Create .venv-localstack with the pinned LocalStack host runtime (first run only)
	$(LOCALSTACK) venv

# What `up` will need: nothing when a Docker engine answers (the container), else .venv-localstack.
localstack-runtime: venv ## Prepare LocalStack's runtime: nothing if Docker answers, else .venv-localstack (Python >= 3.13)
	$(LOCALSTACK) prepare

localstack-up: venv ## Start LocalStack on 127.0.0.1:4566 (container if Docker answers, else host) and wait for health
	$(LOCALSTACK) up

localstack-down: venv ## Stop the LocalStack that localstack-up started (by pid or container id)
	$(LOCALSTACK) down

localstack-status: venv ## Is LocalStack up, who started it, what it listens on
	$(LOCALSTACK) status

test-integration: venv ## Integration tests against LocalStack (starts and stops it when not already running)
	$(PY) -m pytest -m integration tests/integration
