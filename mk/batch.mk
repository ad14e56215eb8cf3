# The daily refresh's job on EMR Serverless: its --py-files bundle.
.PHONY: package-emr

package-emr: venv ## Build build/emr/batch-job.zip (the modules emr_entry.py imports) and batch-deps.zip (boto3 for Python 3.9, from PyPI)
	$(PY) -m packager.emr_job
