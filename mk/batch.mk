# The daily refresh's job on EMR Serverless: its --py-files bundle.
.PHONY: package-emr

package-emr: venv ## Build build/emr/{batch,consistency}-job.zip (the modules each emr_entry.py imports), batch-deps.zip (boto3, pure Python) and consistency-deps.zip (XGBoost, scikit-learn, numpy, scipy, boto3: CPython 3.9 x86_64 wheels), from PyPI
	$(PY) -m packager.emr_job
