# The daily refresh's job on EMR Serverless (branch refresh): its --py-files bundle.
.PHONY: package-emr

package-emr: venv ## Build build/emr/batch-job.zip: the modules jobs/batch/emr_entry.py imports (deterministic; Terraform uploads it)
	$(PY) -m packager.emr_job
