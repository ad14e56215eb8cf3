# Terraform (issue 5): packaging, plan/deploy/destroy of terraform/envs/aws, static checks.
# terraform runs with the repository's CLI config when the offline mirror /opt/tf-plugins exists
# (else from the public registry) and one shared plugin cache under build/.
.PHONY: package package-lambdas tf-init plan deploy destroy tf-fmt tf-validate tf-docs checkov-venv checkov

REGION ?= us-east-1
NAME_PREFIX ?= fraud
# Empty: local state in terraform/envs/aws. A file (see terraform/envs/aws/backend.hcl.example): S3 state.
BACKEND_CONFIG ?=
MODEL_TAR ?= $(DATA)/model/model.tar.gz
FLINK_ZIP ?= build/flink-app.zip
CHECKOV_VENV := .venv-checkov

TF_ROOT := terraform/envs/aws
# The repository's CLI config pins hashicorp/aws to the offline mirror; without the mirror, the registry.
TF_MIRROR := /opt/tf-plugins/registry.terraform.io/hashicorp/aws
TF_ENV := $(if $(wildcard $(TF_MIRROR)),TF_CLI_CONFIG_FILE=$(CURDIR)/terraform/terraformrc.hcl) \
	TF_PLUGIN_CACHE_DIR=$(CURDIR)/build/terraform/plugin-cache TF_IN_AUTOMATION=1
TF := $(TF_ENV) terraform
TF_VARS := -var region=$(REGION) -var name_prefix=$(NAME_PREFIX)
TF_DIRS := terraform/envs/aws terraform/envs/local $(sort $(dir $(wildcard terraform/modules/*/main.tf)))

package: package-lambdas package-flink ## Build the function zips and the Flink application zip (deterministic)

package-lambdas: venv ## Build build/lambda/ingest.zip and build/lambda/score.zip (code + shared packages + requirements)
	$(PY) -m packager.lambdas build

tf-init:
	@command -v terraform >/dev/null || { echo "error: terraform >= 1.9 is required (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }
	@mkdir -p build/terraform/plugin-cache
ifeq ($(strip $(BACKEND_CONFIG)),)
	@rm -f $(TF_ROOT)/backend_override.tf
	$(TF) -chdir=$(TF_ROOT) init -input=false -reconfigure
else
	cp $(TF_ROOT)/backend_s3.tf.example $(TF_ROOT)/backend_override.tf
	$(TF) -chdir=$(TF_ROOT) init -input=false -reconfigure -backend-config=$(abspath $(BACKEND_CONFIG))
endif

plan: package tf-init ## Show what deploy would change in AWS (REGION, NAME_PREFIX, BACKEND_CONFIG)
	$(TF) -chdir=$(TF_ROOT) plan -input=false $(TF_VARS)

deploy: package tf-init ## Deploy everything to AWS: apply, upload model.tar.gz and the Flink zip, apply the rest, print outputs
	@test -f $(MODEL_TAR) || { echo "error: $(MODEL_TAR) not found: run 'make demo train' first (or set MODEL_TAR=)" >&2; exit 1; }
	@test -f $(FLINK_ZIP) || { echo "error: $(FLINK_ZIP) not found: run 'make package-flink' (or set FLINK_ZIP=)" >&2; exit 1; }
	@# 1: the key and the buckets the artifacts go to (targeted, so a redeploy never removes anything).
	$(TF) -chdir=$(TF_ROOT) apply -input=false -auto-approve $(TF_VARS) -target=module.storage
	@# 2: the artifacts the endpoint and the Flink application read.
	$(PY) -m packager.lambdas upload --region $(REGION) \
		--bucket "$$($(TF) -chdir=$(TF_ROOT) output -raw artifacts_bucket)" \
		$(MODEL_TAR)="$$($(TF) -chdir=$(TF_ROOT) output -raw model_data_key)" \
		$(FLINK_ZIP)="$$($(TF) -chdir=$(TF_ROOT) output -raw flink_app_key)"
	@# 3: everything else.
	$(TF) -chdir=$(TF_ROOT) apply -input=false -auto-approve $(TF_VARS)
	$(TF) -chdir=$(TF_ROOT) output

destroy: package-lambdas tf-init ## Delete everything deploy created (buckets are emptied; the KMS key waits 7 days)
	$(TF) -chdir=$(TF_ROOT) destroy -input=false -auto-approve $(TF_VARS)

tf-fmt: ## Format every Terraform file
	terraform fmt -recursive terraform

tf-validate: ## terraform init -backend=false + validate of both roots and every module (offline)
	@mkdir -p build/terraform/plugin-cache
	@set -e; for dir in $(TF_DIRS); do \
		data=$(CURDIR)/build/terraform/data/$$(echo $${dir#terraform/} | tr / - | sed 's/-$$//'); \
		echo "validate $$dir"; \
		TF_DATA_DIR=$$data $(TF) -chdir=$$dir init -backend=false -input=false >/dev/null; \
		TF_DATA_DIR=$$data $(TF) -chdir=$$dir validate; \
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
