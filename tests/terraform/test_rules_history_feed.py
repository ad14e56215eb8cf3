"""Plan-level rules of the history feed on AWS (issue 17): module stream_archive delivers the
transactions stream to S3 (transactions/dt=YYYY-MM-DD/*.json.gz) and the daily refresh (module
batch_refresh) reads it with `--live` beside the labelled history, each rule citing AWS's docs.

The bucket names are generated on apply (bucket_prefix), so the scheduled StartJobRun input and the
job role's S3 ARNs are unknown in the offline plan: the plan shows the wiring and the known parts
(prefixes, policy conditions); the module's own `terraform test` (batch_refresh.tftest.hcl,
run "reads_the_live_transactions") resolves the input and the ARNs for a named bucket.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from planrules import load_hcl, module_call, module_source, one, planned, references, root_dir
from tfsession import Session

from packager import offline_plan

pytestmark = pytest.mark.terraform

PREDICTIONS = 'module.stream_archive["predictions"]'
TRANSACTIONS = 'module.stream_archive["transactions"]'
REFRESH_JOB_POLICY = 'module.batch_refresh.data.aws_iam_policy_document.this["job"]'
# FileExtension: length 0-128, pattern ^$|\.[0-9a-z!\-_.*'()]+
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_ExtendedS3DestinationConfiguration.html).
FILE_EXTENSION = re.compile(r"^$|\.[0-9a-z!\-_.*'()]+")


def plan_with(tmp: Path, name: str, *extra: str) -> dict[str, Any]:
    """An offline plan of envs/aws with the default variables and `extra` (-var, -state, ...)."""
    return offline_plan.write_plan(tmp / f"{name}.json", stand_ins=tmp / f"stand-ins-{name}", extra=extra)


@pytest.fixture(scope="module")
def plans(tf: Session, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The variant plans: without the transactions archive, and over an earlier deployment's state."""
    tf.runs("envs/aws")  # initialised, and the session's own plans are done
    tmp = tmp_path_factory.mktemp("history-feed")
    state = tmp / "earlier.tfstate"
    state.write_text(json.dumps(earlier_state()))
    return {
        "without": plan_with(tmp, "without", "-var", "enable_transactions_archive=false"),
        "earlier": plan_with(
            tmp, "earlier", "-refresh=false", f"-state={state}", "-var", "transactions_retention_days=30"
        ),
    }


def firehose(plan: dict[str, Any], archive: str) -> dict[str, Any]:
    return one(plan, "aws_kinesis_firehose_delivery_stream", f"{archive}.")["values"]


def expirations(plan: dict[str, Any]) -> dict[str, int]:
    """Lifecycle expirations of the data bucket, days by prefix."""
    (data,) = [
        r["values"]
        for r in planned(plan, "aws_s3_bucket_lifecycle_configuration")
        if r["address"].endswith('["data"]')
    ]
    return {
        rule["filter"][0]["prefix"]: rule["expiration"][0]["days"]
        for rule in data["rule"]
        if rule["expiration"]
    }


def job_policy(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    document = one(plan, "aws_iam_policy_document", REFRESH_JOB_POLICY)["values"]
    return {s["sid"]: s for s in document["statement"]}


def batch_refresh_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in module_source("batch_refresh")["locals"]:
        merged.update(entry)
    return merged


def module_source_config(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return module_call(plan, "stream_archive")["module"]["resources"]


def module_variable(module: str, name: str) -> dict[str, Any]:
    (variable,) = [v[name] for v in module_source(module, "variables.tf")["variable"] if name in v]
    return variable


# --- the transactions archive ------------------------------------------------------------------


def test_the_transactions_archive_reads_the_transactions_stream_only(aws_plan):
    """KinesisStreamSourceConfiguration names the one stream a delivery stream reads
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_KinesisStreamSourceConfiguration.html);
    the role may read its source stream only (ReadSourceStream on var.source_stream_arn,
    https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html). One instance per
    archived stream, each given the stream of its own key."""
    prefix = aws_plan["variables"]["name_prefix"]["value"]
    names = {r["values"]["name"] for r in planned(aws_plan, "aws_kinesis_firehose_delivery_stream")}
    assert names == {f"{prefix}-predictions-archive", f"{prefix}-transactions-archive"}
    call = module_call(aws_plan, "stream_archive")
    assert references(call["for_each_expression"]) == ["local.stream_archives"]
    assert {"module.streams.arns", "each.key"} <= set(references(call["expressions"]["source_stream_arn"]))
    # The key is the name of a stream the streams module creates: the transactions stream.
    (stream,) = [r for r in planned(aws_plan, "aws_kinesis_stream") if r["index"] == "transactions"]
    assert stream["values"]["name"] == f"{prefix}-transactions"
    (source,) = [
        r["expressions"]["kinesis_source_configuration"][0]
        for r in module_source_config(aws_plan)
        if r["type"] == "aws_kinesis_firehose_delivery_stream"
    ]
    assert references(source["kinesis_stream_arn"]) == ["var.source_stream_arn"]
    (locals_,) = [e for e in module_source("stream_archive")["locals"] if "statements" in e]
    (read,) = [s for s in locals_["statements"] if s["sid"] == "ReadSourceStream"]
    assert read["resources"] == ["${var.source_stream_arn}"]


def test_transactions_land_by_day_as_gzip_json_lines_named_json_gz_under_kms(aws_plan):
    """`!{timestamp:yyyy-MM-dd}` is the UTC day the records arrived; an error prefix is needed once
    the prefix holds an expression (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html);
    AppendDelimiterToRecord puts one record per line
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_Processor.html); CompressionFormat
    GZIP, the KMS key and FileExtension, which overrides the default extension of object names
    ending <uuid><file extension> (https://docs.aws.amazon.com/firehose/latest/APIReference/API_ExtendedS3DestinationConfiguration.html,
    https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html): *.json.gz, so Spark and
    DuckDB read the objects as gzipped JSON lines by their names."""
    (s3,) = firehose(aws_plan, TRANSACTIONS)["extended_s3_configuration"]
    assert s3["prefix"] == "transactions/dt=!{timestamp:yyyy-MM-dd}/"
    assert (
        s3["error_output_prefix"]
        == "transactions-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert s3["custom_time_zone"] == "UTC"
    assert s3["compression_format"] == "GZIP"
    assert s3["file_extension"] == ".json.gz" and FILE_EXTENSION.fullmatch(s3["file_extension"])
    (processing,) = s3["processing_configuration"]
    assert [p["type"] for p in processing["processors"]] == ["AppendDelimiterToRecord"]
    (config,) = [
        r["expressions"]["extended_s3_configuration"][0]
        for r in module_source_config(aws_plan)
        if r["type"] == "aws_kinesis_firehose_delivery_stream"
    ]
    assert references(config["kms_key_arn"]) == ["var.kms_key_arn"]
    assert (
        references(module_call(aws_plan, "stream_archive")["expressions"]["kms_key_arn"])[0]
        == "module.kms.key_arn"
    )
    # The predictions archive is named the same way (the consistency job reads *.json.gz too).
    (predictions,) = firehose(aws_plan, PREDICTIONS)["extended_s3_configuration"]
    assert predictions["file_extension"] == ".json.gz"


def test_delivery_stream_and_role_names_fit_with_the_longest_name_prefix(aws_plan):
    """A delivery stream name is 1-64 of [a-zA-Z0-9_.-]
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html); a role
    name at most 64 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html),
    of which Terraform's name_prefix leaves 38 (it appends a 26-character unique suffix)."""
    (bounds,) = re.findall(
        r"\{1,(\d+)\}", module_variable("stream_archive", "name_prefix")["validation"][0]["condition"]
    )
    longest = "a" * (int(bounds) + 1)
    assert len(longest) == 20
    for archive in ("predictions", "transactions"):
        assert re.fullmatch(r"[a-zA-Z0-9_.-]{1,64}", f"{longest}-{archive}-archive")
        assert len(f"{longest}-{archive[:4]}-archive-") <= 38
    prefix = aws_plan["variables"]["name_prefix"]["value"]
    role = one(aws_plan, "aws_iam_role", f"{TRANSACTIONS}.aws_iam_role.this")["values"]
    assert role["name_prefix"] == f"{prefix}-tran-archive-"


def test_transactions_expire_after_transactions_retention_days(aws_plan, plans):
    """Lifecycle expiration by prefix (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html):
    card numbers are not kept for ever; transactions_retention_days (default 400) sets the days."""
    default = aws_plan["variables"]["transactions_retention_days"]["value"]
    assert default == 400
    assert {p: d for p, d in expirations(aws_plan).items() if p.startswith("transactions")} == {
        "transactions/": 400,
        "transactions-errors/": 400,
    }
    assert {p: d for p, d in expirations(plans["earlier"]).items() if p.startswith("transactions")} == {
        "transactions/": 30,
        "transactions-errors/": 30,
    }
    assert (
        expirations(aws_plan)["predictions/"] == aws_plan["variables"]["predictions_retention_days"]["value"]
    )


def test_the_retention_holds_the_longest_window(tf: Session, tmp_path: Path):
    """The 1-week window of a transaction reads the 7 days before its day: the archive must hold 8
    days, or the refresh computes it from a truncated history; the variable refuses less."""
    tf.runs("envs/aws")
    with pytest.raises(offline_plan.PlanError, match="transactions_retention_days"):
        plan_with(tmp_path, "short", "-var", "transactions_retention_days=7")


# --- the refresh reads it ----------------------------------------------------------------------


def test_the_refresh_reads_the_transactions_archive_with_live(aws_plan, tf: Session):
    """EntryPointArguments of the scheduled StartJobRun
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_SparkSubmit.html) end with
    `--live s3://<data>/transactions/`: the bucket and prefix the archive writes. The job runtime role
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/security-iam-runtime-role.html)
    may list that prefix (s3:prefix condition of ListBucket,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html) and get its
    objects, and nothing else of the archive."""
    call = module_call(aws_plan, "batch_refresh")["expressions"]
    assert references(call["live_prefix"])[0] == f"{TRANSACTIONS}.prefix"
    archive = module_call(aws_plan, "stream_archive")["expressions"]
    assert (
        references(call["data_bucket"])[0]
        == references(archive["bucket"])[0]
        == 'module.storage.bucket_names["data"]'
    )
    local = batch_refresh_locals()
    assert (
        local["live_uri"] == '${var.live_prefix == "" ? null : "s3://${var.data_bucket}/${var.live_prefix}"}'
    )
    arguments = local["entry_point_arguments"]
    assert arguments.endswith(
        '"--region", local.region], local.live_uri == null ? [] : ["--live", local.live_uri])}'
    )
    assert local["input_prefixes"] == "${compact([var.history_prefix, var.live_prefix])}"
    # The known parts of the planned policy: the prefixes the job may list and how many it may read.
    job = job_policy(aws_plan)
    (listing,) = job["ListHistoryAndFeatures"]["condition"]
    assert (listing["variable"], listing["values"]) == (
        "s3:prefix",
        ["history/*", "transactions/*", "features/*"],
    )
    assert len(job["ReadHistory"]["resources"]) == 2  # history/* and transactions/* (ARNs known on apply)
    # Resolved for a named bucket by the module's own test.
    run = tf.command("modules/batch_refresh", "test")
    assert 'run "reads_the_live_transactions"... pass' in run.output, run.output


def test_the_refresh_starts_after_the_previous_days_transactions_are_delivered(aws_plan):
    """Firehose buffers incoming data for up to IntervalInSeconds before it delivers it
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_BufferingHints.html): the records
    of the day before midnight are in S3 by midnight + the interval, before the refresh's minute of
    the hour after midnight (cron fields:
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based)."""
    (s3,) = firehose(aws_plan, TRANSACTIONS)["extended_s3_configuration"]
    schedule = one(aws_plan, "aws_scheduler_schedule", "module.batch_refresh.aws_scheduler_schedule.this")
    minute, hour = re.match(r"cron\((\d+) (\d+) ", schedule["values"]["schedule_expression"]).groups()
    assert hour == "0" and int(minute) * 60 > s3["buffering_interval"]


def test_without_the_transactions_archive_the_refresh_has_no_live_input(plans):
    """enable_transactions_archive = false: no second delivery stream, no transactions expiration,
    and the job role lists and reads the history alone (live_prefix "" adds no --live argument:
    batch_refresh.tftest.hcl's default run equals tests/start_job_run.json)."""
    plan = plans["without"]
    names = [r["values"]["name"] for r in planned(plan, "aws_kinesis_firehose_delivery_stream")]
    assert names == [f"{plan['variables']['name_prefix']['value']}-predictions-archive"]
    assert not [c for c in plan["resource_changes"] if c["address"].startswith(TRANSACTIONS)]
    assert not [p for p in expirations(plan) if p.startswith("transactions")]
    job = job_policy(plan)
    (listing,) = job["ListHistoryAndFeatures"]["condition"]
    assert listing["values"] == ["history/*", "features/*"]
    assert len(job["ReadHistory"]["resources"]) == 1


# --- upgrading an earlier deployment -----------------------------------------------------------


def earlier_state() -> dict[str, Any]:
    """State of a deployment made before the transactions archive: the predictions archive's log
    stream at its old address (module.predictions_archive[0])."""
    (name_prefix,) = [
        v["name_prefix"] for v in load_hcl(root_dir() / "variables.tf")["variable"] if "name_prefix" in v
    ]
    group = f"/aws/kinesisfirehose/{name_prefix['default']}-predictions-archive"
    return {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": 1,
        "lineage": "00000000-0000-4000-8000-000000000000",
        "outputs": {},
        "resources": [
            {
                "module": "module.predictions_archive[0]",
                "mode": "managed",
                "type": "aws_cloudwatch_log_stream",
                "name": "this",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "arn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:log-stream:DestinationDelivery",
                            "id": "DestinationDelivery",
                            "log_group_name": group,
                            "name": "DestinationDelivery",
                        },
                    }
                ],
            }
        ],
    }


def test_an_earlier_deployments_predictions_archive_moves_without_being_destroyed(aws_plan, plans):
    """A `moved` block from module.predictions_archive[0] to module.stream_archive["predictions"]
    (https://developer.hashicorp.com/terraform/language/modules/develop/refactoring): the plan over an
    earlier state moves the archive's resources, destroys none of them, and keeps the names AWS
    replaces a resource for (delivery stream name, role name prefix, inline policy name:
    https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html)."""
    moved = load_hcl(root_dir() / "main.tf").get("moved", [])
    assert {
        "from": "${module.predictions_archive[0]}",
        "to": '${module.stream_archive["predictions"]}',
    } in moved
    changes = plans["earlier"]["resource_changes"]
    (stream,) = [c for c in changes if c["address"] == f"{PREDICTIONS}.aws_cloudwatch_log_stream.this"]
    assert stream["previous_address"] == "module.predictions_archive[0].aws_cloudwatch_log_stream.this"
    assert stream["change"]["actions"] == ["no-op"]
    assert not [c for c in changes if c["address"].startswith("module.predictions_archive")]
    assert not [c for c in changes if "delete" in c["change"]["actions"]]
    # The names of earlier releases (module predictions_archive).
    prefix = aws_plan["variables"]["name_prefix"]["value"]
    assert firehose(aws_plan, PREDICTIONS)["name"] == f"{prefix}-predictions-archive"
    role = one(aws_plan, "aws_iam_role", f"{PREDICTIONS}.aws_iam_role.this")["values"]
    assert role["name_prefix"] == f"{prefix}-pred-archive-"
    policy = one(aws_plan, "aws_iam_role_policy", f"{PREDICTIONS}.aws_iam_role_policy.this")["values"]
    assert policy["name"] == "archive-predictions-least-privilege"
