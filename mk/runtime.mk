# The local runtime (issue 4): the Feature Store runtime API for boto3 clients (localstack profile),
# bulk loading cc-agg-batch-fg, and the runtime's own tests.
.PHONY: featurestore-serve featurestore-load test-runtime

FS_PORT ?= 4599
FS_DB ?= $(DATA)/runtime/featurestore.db

featurestore-serve: venv ## Serve the local Feature Store runtime API on 127.0.0.1 (FS_PORT=4599, FS_DB=data/runtime/featurestore.db)
	$(PY) -m local_aws.feature_store serve --db $(FS_DB) --port $(FS_PORT)

featurestore-load: venv ## Load cc-agg-batch-fg into FS_DB from the batch job output data/features/snapshots
	$(PY) -m local_aws.feature_store load --db $(FS_DB) --group cc-agg-batch-fg $(DATA)/features/snapshots

test-runtime: venv ## Run the local runtime's tests (stream, feature store, ESM, engine, SIGKILL recovery)
	$(PY) -m pytest tests/runtime -q
