# The model (issue 3): training, the local endpoint, the SageMaker-container compatibility virtualenv.
.PHONY: train endpoint sagemaker-xgboost-venv

ENDPOINT_PORT ?= 8080
SM_XGB_VENV := .venv-sagemaker-xgboost

train: venv ## Train XGBoost on $(DATA)/features into $(DATA)/model (model.tar.gz, model card, metrics, report)
	$(PY) -m jobs.train --features $(DATA)/features --out $(DATA)/model

endpoint: venv ## Serve $(DATA)/model/model.tar.gz on 127.0.0.1:$(ENDPOINT_PORT) (SageMaker container + runtime routes)
	$(PY) -m local.endpoint --model $(DATA)/model/model.tar.gz --port $(ENDPOINT_PORT)

$(SM_XGB_VENV)/.installed: requirements-sagemaker-xgboost.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(SM_XGB_VENV)
	$(SM_XGB_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-sagemaker-xgboost.txt
	@touch $@

sagemaker-xgboost-venv: $(SM_XGB_VENV)/.installed ## Create .venv-sagemaker-xgboost (xgboost 1.7.6, as SageMaker's XGBoost 1.7-1 container)
