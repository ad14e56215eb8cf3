"""The EMR Serverless launch: a valid request built without AWS, and a bundle spark-submit can run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from jobs.batch.launch import SparkJob, build_bundle, main, start_job_run_request
from tests.batch.histories import read_output, write_parquet
from tests.batch.reference import Tx

JOB = SparkJob(
    application_id="00fabc123def4567",
    execution_role_arn="arn:aws:iam::123456789012:role/cc-agg-batch",
    code_prefix="s3://artifacts-bucket/code/",
    input_uri="s3://data-bucket/history/",
    output_uri="s3://data-bucket/features/",
    log_uri="s3://artifacts-bucket/logs/",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
)
RUN_ARN = (
    "arn:aws:emr-serverless:us-east-1:123456789012:/applications/00fabc123def4567/jobruns/00fabc123def4568"
)


def offline_client():
    return boto3.client(
        "emr-serverless", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_request_is_valid_for_the_real_emr_serverless_api():
    request = start_job_run_request(JOB, client_token="token")
    client = offline_client()
    with Stubber(client) as stub:  # botocore validates against the service model, then answers from the stub
        stub.add_response(
            "start_job_run",
            {"applicationId": JOB.application_id, "jobRunId": "run-1", "arn": RUN_ARN},
            request,
        )
        assert client.start_job_run(**request)["jobRunId"] == "run-1"
    driver = request["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == "s3://artifacts-bucket/code/aggregate.py"
    assert driver["entryPointArguments"] == [
        "--engine",
        "spark",
        "--input",
        JOB.input_uri,
        "--output",
        JOB.output_uri,
    ]
    assert "spark.submit.pyFiles=s3://artifacts-bucket/code/batch-job.zip" in driver["sparkSubmitParameters"]
    assert (
        request["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"][
            "encryptionKeyArn"
        ]
        == JOB.kms_key_arn
    )


def test_a_malformed_request_would_be_refused_by_botocore():
    request = start_job_run_request(JOB)
    request["jobDriver"]["sparkSubmit"]["entryPointArguments"] = "--engine spark"  # must be a list
    client = offline_client()
    with Stubber(client) as stub, pytest.raises(ParamValidationError, match="entryPointArguments"):
        stub.add_response(
            "start_job_run", {"applicationId": JOB.application_id, "jobRunId": "run-1", "arn": RUN_ARN}
        )
        client.start_job_run(**request)


def test_bundle_holds_the_packages_and_is_reproducible(tmp_path):
    first, second = build_bundle(tmp_path / "a.zip"), build_bundle(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert {"features/definition.py", "jobs/aggregate.py", "jobs/batch/engines.py"} <= set(names)
    assert all(n.endswith(".py") for n in names)


def test_dry_run_prints_the_request_and_bad_uris_are_one_line_errors(capsys):
    args = [
        "--application-id",
        "a",
        "--role-arn",
        "r",
        "--code-prefix",
        "s3://b/c",
        "--input",
        "s3://b/i",
        "--output",
        "s3://b/o",
    ]
    assert main([*args, "--dry-run"]) == 0
    assert '"entryPoint": "s3://b/c/aggregate.py"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main([*args[:-1], "/local/out", "--dry-run"])
    assert exit_info.value.code == 2 and "--output must be an s3:// URI" in capsys.readouterr().err
    live = ["--live", "s3://b/transactions/", "--live-until", "2026-12-07T00:00:00Z"]
    assert main([*args, *live, "--dry-run"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["jobDriver"]["sparkSubmit"]["entryPointArguments"][-4:] == live
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--live", "transactions/", "--dry-run"])
    assert exit_info.value.code == 2 and "--live must be an s3:// URI" in capsys.readouterr().err


@pytest.mark.spark
def test_the_bundle_runs_under_spark_submit_as_on_the_service(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("Java 17 is required for Spark")
    bundle = build_bundle(tmp_path / "batch-job.zip")
    entry = shutil.copy(Path("jobs/aggregate.py"), tmp_path / "aggregate.py")
    history = write_parquet(tmp_path / "h.parquet", [Tx("a", 1_578_000_000_000, 4_000_000_000_000_001, 10.0)])
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    submit = spark_home / "bin" / "spark-submit"
    loopback = [
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=2",
    ]
    done = subprocess.run(
        [
            str(submit),
            "--master",
            "local[1]",
            *loopback,
            "--py-files",
            str(bundle),
            str(entry),
            "--engine",
            "spark",
            "--input",
            str(history),
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": "", "SPARK_HOME": str(spark_home), "PYSPARK_PYTHON": sys.executable},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = read_output(tmp_path / "out", "training")
    assert row["tid"] == "a" and row["num_trans_last_10m"] == 1
