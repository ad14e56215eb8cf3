# Terraform: packaging, plans of terraform/envs/aws, locks, static checks (deploy, smoke, destroy: mk/deploy.mk).
# Where hashicorp/aws comes from is the user's CLI configuration (TF_CLI_CONFIG_FILE, ~/.terraformrc,
# plugin cache, mirrors), else the public registry: nothing here overrides it (docs/terraform.md).
# Roots are initialised with -lockfile=readonly: the committed locks change only through `make tf-lock`.
.PHONY: package package-lambdas tf-check tf-init plan plan-offline tf-fmt tf-validate tf-lock tf-docs checkov-venv checkov

REGION ?= us-east-1
NAME_PREFIX ?= fraud
# Empty: local state in terraform/envs/aws. A file (see terraform/envs/aws/backend.hcl.example): S3 state.
BACKEND_CONFIG ?=
MODEL_TAR ?= $(DATA)/model/model.tar.gz
FLINK_ZIP ?= build/flink-app.zip
CHECKOV_VENV := .venv-checkov

TF_ROOT := terraform/envs/aws
TF := TF_IN_AUTOMATION=1 terraform
# The artifacts Terraform uploads (module "artifacts"); a destroy needs none of them.
TF_VARS := -var region=$(REGION) -var name_prefix=$(NAME_PREFIX) \
	-var model_path=$(abspath $(MODEL_TAR)) -var flink_zip_path=$(abspath $(FLINK_ZIP))
TF_ROOTS := terraform/envs/aws terraform/envs/local
TF_DIRS := $(TF_ROOTS) $(sort $(dir $(wildcard terraform/modules/*/main.tf)))
# Platforms the committed locks carry h1: checksums for (every platform's zh: checksum comes along).
TF_LOCK_PLATFORMS := linux_amd64 linux_arm64 darwin_arm64

package: package-lambdas package-flink package-emr ## Build the function zips, the Flink application zip and the batch job zips (deterministic)

package-lambdas: venv ## Build build/lambda/ingest.zip and build/lambda/score.zip (code + shared packages + requirements)
	$(PY) -m packager.lambdas build

tf-check:
	@command -v terraform >/dev/null || { echo "error: terraform >= 1.9 is required (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }

tf-init: tf-check
ifeq ($(strip $(BACKEND_CONFIG)),)
	@rm -f $(TF_ROOT)/backend_override.tf
	$(TF) -chdir=$(TF_ROOT) init -input=false -reconfigure -lockfile=readonly
else
	cp $(TF_ROOT)/backend_s3.tf.example $(TF_ROOT)/backend_override.tf
	$(TF) -chdir=$(TF_ROOT) init -input=false -reconfigure -lockfile=readonly -backend-config=$(abspath $(BACKEND_CONFIG))
endif

plan: package tf-init ## Show what deploy would change in AWS (REGION, NAME_PREFIX, BACKEND_CONFIG, MODEL_TAR, FLINK_ZIP)
	$(TF) -chdir=$(TF_ROOT) plan -input=false $(TF_VARS)

plan-offline: venv tf-check ## Write build/terraform/aws-plan.json: plan of envs/aws with stand-in artifacts, no credentials or network
	$(PY) -m packager.offline_plan

tf-fmt: ## Format every Terraform file
	terraform fmt -recursive terraform

tf-validate: tf-check ## terraform init -backend=false + validate of both roots and every module (offline)
	@set -e; for dir in $(TF_DIRS); do \
		data=$(CURDIR)/build/terraform/validate/$$(echo $${dir#terraform/} | tr / - | sed 's/-$$//'); \
		case $$dir in terraform/envs/*) lock=-lockfile=readonly;; *) lock=;; esac; \
		echo "validate $$dir"; \
		TF_DATA_DIR=$$data $(TF) -chdir=$$dir init -backend=false -input=false $$lock >/dev/null; \
		TF_DATA_DIR=$$data $(TF) -chdir=$$dir validate; \
	done

# `providers lock` asks the origin registry (whatever mirror the CLI configuration names), so it
# records the registry's checksums of every platform, and h1: ones for TF_LOCK_PLATFORMS.
tf-lock: tf-check ## Refresh both roots' .terraform.lock.hcl for linux_amd64, linux_arm64, darwin_arm64 (needs registry.terraform.io)
	@set -e; for root in $(TF_ROOTS); do \
		data=$(CURDIR)/build/terraform/lock/$$(basename $$root); mkdir -p $$data; \
		TF_DATA_DIR=$$data $(TF) -chdir=$$root get >/dev/null; \
		if TF_DATA_DIR=$$data $(TF) -chdir=$$root providers lock -no-color \
			$(addprefix -platform=,$(TF_LOCK_PLATFORMS)) >$$data/lock.log 2>&1; then \
			echo "locked $$root"; \
		else \
			echo "error: cannot lock $$root (registry.terraform.io needed): $$(grep -m1 -A2 'Error:' $$data/lock.log | tr -s ' \n│' ' ')" >&2; \
			exit 1; \
		fi; \
	done

tf-docs: venv ## Regenerate the inputs/outputs tables of the module READMEs
	$(PY) terraform/docs.py

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements-checkov.txt
	@touch $@

checkov-venv: $(CHECKOV_VENV)/.installed ## Create .venv-checkov with the pinned checkov (first run only; the tests use it)

checkov: checkov-venv ## Run checkov over both Terraform roots (modules included)
	$(CHECKOV_VENV)/bin/checkov -d terraform/envs/aws -d terraform/envs/local --framework terraform --compact --quiet --skip-download
