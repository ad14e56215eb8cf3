"""The consistency job: the features each prediction was served with against the batch job's.

python -m jobs.consistency (local, DuckDB or Spark) and emr_entry.py (EMR Serverless, Spark) run the
same SQL (jobs.consistency.sql) over the prediction records and the batch job's training rows.

Runs on the EMR release's Python 3.9 (see jobs/batch/emr_entry.py): every module here that the
EMR entry point imports stays 3.9-compatible and needs only the standard library and PySpark there.
"""
