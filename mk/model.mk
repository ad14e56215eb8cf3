# The model (issue 3): training, the local endpoint, the SageMaker-container compatibility virtualenv.
.PHONY: train endpoint sagemaker-xgboost-venv sagemaker-venv ablation

ENDPOINT_PORT ?= 8080
SM_XGB_VENV := .venv-sagemaker-xgboost

train: venv ## Train XGBoost on $(DATA)/features into $(DATA)/model (model.tar.gz, model card, metrics, report)
	$(PY) -m jobs.train --features $(DATA)/features --out $(DATA)/model

endpoint: venv ## Serve $(DATA)/model/model.tar.gz on 127.0.0.1:$(ENDPOINT_PORT) (SageMaker container + runtime routes)
	$(PY) -m local_aws.endpoint --model $(DATA)/model/model.tar.gz --port $(ENDPOINT_PORT)

# The SageMaker Python SDK v3 (ModelTrainer) for jobs/training/sagemaker_launch.py; its pins clash with requirements.txt.
SM_SDK_VENV := .venv-sagemaker

# Both side virtualenvs: .venv-<name> from requirements-<name>.txt, built once (stamp file).
$(SM_XGB_VENV)/.installed $(SM_SDK_VENV)/.installed: .venv-%/.installed: requirements-%.txt
	$(call venv-install,.venv-$*,$<)

sagemaker-xgboost-venv: $(SM_XGB_VENV)/.installed ## Create .venv-sagemaker-xgboost (xgboost 1.7.6, as SageMaker's XGBoost 1.7-1 container)

sagemaker-venv: $(SM_SDK_VENV)/.installed ## Create .venv-sagemaker (sagemaker-train, the SDK v3 ModelTrainer) for the cloud training launcher

# ABLATION_ARGS="--train-rows 1000000" trains each run on a seeded sample (faster, slightly lower PR AUC).
ablation: venv ## Feature ablation, the oracle of the past and recall by chain position into $(DATA)/model/ablation.{json,md}
	$(PY) -m jobs.training.ablation --features $(DATA)/features --history $(DATA)/history.parquet \
		--plan add-one oracle $(ABLATION_ARGS) --out $(DATA)/model/ablation.json
