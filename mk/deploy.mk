# The deploy flow (issue 14): one sequence for any Terraform root, python -m deploy <step> --root ROOT.
# ROOT=terraform/envs/local runs the same steps against LocalStack (the integration test rehearses them).
.PHONY: deploy load-features smoke destroy

# REGION, NAME_PREFIX and BACKEND_CONFIG: see mk/terraform.mk.
ROOT ?= terraform/envs/aws
DEPLOY := $(PY) -m deploy
DEPLOY_ARGS = --root $(ROOT) --var region=$(REGION) --var name_prefix=$(NAME_PREFIX) \
	$(if $(strip $(BACKEND_CONFIG)),--backend-config $(abspath $(BACKEND_CONFIG)))

deploy: venv ## Package, apply $(ROOT) once (artifacts uploaded by Terraform), load the batch features, print outputs
	$(DEPLOY) deploy $(DEPLOY_ARGS)

load-features: venv ## Load current daily snapshots into cc-agg-batch-fg of the deployed $(ROOT) (SNAPSHOTS= to load others)
	$(DEPLOY) load $(DEPLOY_ARGS) $(if $(SNAPSHOTS),--snapshots $(SNAPSHOTS))

smoke: venv ## Stream the seed's attack through the deployed $(ROOT); summary as make demo; fails if not caught
	$(DEPLOY) smoke $(DEPLOY_ARGS)

destroy: venv ## Delete everything deploy created in $(ROOT) (no packaging; buckets are emptied)
	$(DEPLOY) destroy $(DEPLOY_ARGS)
