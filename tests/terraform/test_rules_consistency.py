"""Plan-level rules of served-vs-batch consistency on AWS (issue 17): the predictions archive
(module stream_archive's predictions instance, Amazon Data Firehose) and the daily consistency run (module
batch_refresh's consistency_check, module monitoring's MatchRate alarms), each citing AWS's docs.

Values the offline plan cannot know (bucket names, ARNs, the schedule's input) are checked on the
configuration's references here and resolved by the modules' own `terraform test`
(stream_archive.tftest.hcl, batch_refresh.tftest.hcl, monitoring.tftest.hcl). The transactions
archive and the refresh's live input: test_rules_history_feed.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from planrules import module_call, module_config, module_source, one, planned, references

pytestmark = pytest.mark.terraform

# CONTRACTS.md: jobs/consistency/emr_entry.py takes these, as S3 URIs, plus the metric namespace.
CONTRACT_FLAGS = ["--predictions", "--features", "--model", "--out", "--metric-namespace", "--scheduled-time"]


ARCHIVE = 'module.stream_archive["predictions"].'


def firehose(plan: dict[str, Any]) -> dict[str, Any]:
    return one(plan, "aws_kinesis_firehose_delivery_stream", ARCHIVE)["values"]


def destination(plan: dict[str, Any]) -> dict[str, Any]:
    (s3,) = firehose(plan)["extended_s3_configuration"]
    return s3


def firehose_config(plan: dict[str, Any]) -> dict[str, Any]:
    (stream,) = [
        r
        for r in module_config(plan, "stream_archive")["resources"]
        if r["type"] == "aws_kinesis_firehose_delivery_stream"
    ]
    return stream["expressions"]


def statements(module: str, local: str) -> dict[str, dict[str, Any]]:
    """A statement list held in a module's locals (python-hcl2), by Sid."""
    (locals_,) = [entry for entry in module_source(module)["locals"] if local in entry]
    return {s["sid"]: s for s in locals_[local]}


def policy(plan: dict[str, Any], address_part: str) -> dict[str, dict[str, Any]]:
    """A planned aws_iam_policy_document's statements by Sid (actions and conditions are known)."""
    document = one(plan, "aws_iam_policy_document", address_part)["values"]
    return {s["sid"]: s for s in document["statement"]}


def cron_minute_of_day(expression: str) -> int:
    """Minute of the UTC day of a once-a-day cron(M H * * ? *) expression (fields:
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based)."""
    fields = re.fullmatch(r"cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)", expression)
    assert fields, f"not a once-a-day cron expression: {expression}"
    return int(fields[2]) * 60 + int(fields[1])


# --- the predictions archive -------------------------------------------------------------------


def test_the_delivery_stream_reads_the_predictions_stream(aws_plan):
    """KinesisStreamSourceConfiguration names the source stream and the role that reads it
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_KinesisStreamSourceConfiguration.html)."""
    assert firehose(aws_plan)["destination"] == "extended_s3"
    (source,) = firehose_config(aws_plan)["kinesis_source_configuration"]
    assert references(source["kinesis_stream_arn"]) == ["var.source_stream_arn"]
    assert "aws_iam_role.this.arn" in references(source["role_arn"])
    call = module_call(aws_plan, "stream_archive")["expressions"]
    # One instance per archived stream (for_each), each reading the stream of its own key.
    assert {"module.streams.arns", "each.key"} <= set(references(call["source_stream_arn"]))
    assert references(call["bucket"])[0] == 'module.storage.bucket_names["data"]'
    assert (
        firehose(aws_plan)["name"] == f"{aws_plan['variables']['name_prefix']['value']}-predictions-archive"
    )


def test_objects_are_partitioned_by_utc_day(aws_plan):
    """`!{timestamp:yyyy-MM-dd}` evaluates the approximate arrival time of the object's oldest record,
    in UTC unless CustomTimeZone says otherwise; once the prefix holds an expression an
    ErrorOutputPrefix is needed, and `!{firehose:error-output-type}` may appear in it only
    (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html)."""
    s3 = destination(aws_plan)
    assert s3["prefix"] == "predictions/dt=!{timestamp:yyyy-MM-dd}/"
    assert s3["custom_time_zone"] == "UTC"
    error = s3["error_output_prefix"]
    assert error and "!{firehose:error-output-type}" in error and not error.startswith("predictions/")
    assert "!{timestamp:yyyy-MM-dd}" in error
    assert s3["dynamic_partitioning_configuration"] == []  # day partitions need no dynamic partitioning


def test_one_prediction_per_line_gzip_and_sse_kms_with_the_deployment_key(aws_plan):
    """The AppendDelimiterToRecord processor puts a new line between records, no parameter needed
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_Processor.html); CompressionFormat
    GZIP and the KMS key S3 encrypts with
    (https://docs.aws.amazon.com/firehose/latest/APIReference/API_ExtendedS3DestinationConfiguration.html,
    https://docs.aws.amazon.com/firehose/latest/APIReference/API_KMSEncryptionConfig.html)."""
    s3 = destination(aws_plan)
    (processing,) = s3["processing_configuration"]
    assert processing["enabled"] is True
    assert [p["type"] for p in processing["processors"]] == ["AppendDelimiterToRecord"]
    assert s3["compression_format"] == "GZIP"
    (config,) = firehose_config(aws_plan)["extended_s3_configuration"]
    assert references(config["kms_key_arn"]) == ["var.kms_key_arn"]
    call = module_call(aws_plan, "stream_archive")["expressions"]
    assert references(call["kms_key_arn"])[0] == "module.kms.key_arn"
    # Buffering hints within CreateDeliveryStream's bounds (1-128 MiB, 0-900 s).
    assert 1 <= s3["buffering_size"] <= 128 and 0 <= s3["buffering_interval"] <= 900


def test_the_delivery_role_is_least_privilege(aws_plan):
    """Firehose's role reads the source stream (DescribeStream, GetShardIterator, GetRecords,
    ListShards) and writes the bucket (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html);
    a consumer of an SSE-KMS stream needs kms:Decrypt, and Kinesis passes the stream ARN as
    encryption context `aws:kinesis:arn`
    (https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html); S3 SSE-KMS
    through S3 only (kms:ViaService, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service)."""
    role = statements("stream_archive", "statements")
    assert {sid: set(s["actions"]) for sid, s in role.items()} == {
        "ReadSourceStream": {
            "kinesis:DescribeStream",
            "kinesis:GetShardIterator",
            "kinesis:GetRecords",
            "kinesis:ListShards",
        },
        "DecryptSourceStream": {"kms:Decrypt"},
        "FindArchiveBucket": {"s3:GetBucketLocation", "s3:ListBucketMultipartUploads"},
        "ListArchive": {"s3:ListBucket"},
        "WriteArchive": {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"},
        "EncryptArchive": {"kms:GenerateDataKey", "kms:Decrypt"},
        "LogDeliveryErrors": {"logs:PutLogEvents"},
    }
    assert role["ReadSourceStream"]["resources"] == ["${var.source_stream_arn}"]
    assert role["WriteArchive"]["resources"] == [
        "${local.bucket_arn}/${var.prefix}*",
        "${local.bucket_arn}/${var.error_prefix}*",
    ]
    for sid in ("DecryptSourceStream", "EncryptArchive"):
        assert role[sid]["resources"] == ["${var.kms_key_arn}"]
        assert {c["variable"] for c in role[sid]["conditions"]} >= {"kms:ViaService"}
    via = {
        sid: [c["values"] for c in role[sid]["conditions"] if c["variable"] == "kms:ViaService"]
        for sid in ("DecryptSourceStream", "EncryptArchive")
    }
    assert via == {
        "DecryptSourceStream": [["kinesis.${local.region}.amazonaws.com"]],
        "EncryptArchive": [["s3.${local.region}.amazonaws.com"]],
    }
    (stream_context,) = [
        c for c in role["DecryptSourceStream"]["conditions"] if c["variable"].startswith("kms:Encryption")
    ]
    assert stream_context == {
        "test": "StringEquals",
        "variable": "kms:EncryptionContext:aws:kinesis:arn",
        "values": ["${var.source_stream_arn}"],
    }
    assert not any(a == "*" or a.endswith(":*") for s in role.values() for a in s["actions"])
    assert not any(r == "*" for s in role.values() for r in s["resources"])


def test_only_this_delivery_stream_assumes_the_role(aws_plan):
    """Confused-deputy protection with aws:SourceAccount and aws:SourceArn
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    trust = policy(aws_plan, f"{ARCHIVE}data.aws_iam_policy_document.trust")
    (statement,) = trust.values()
    assert statement["principals"] == [{"identifiers": ["firehose.amazonaws.com"], "type": "Service"}]
    conditions = {c["variable"]: c["values"] for c in statement["condition"]}
    assert set(conditions) == {"aws:SourceAccount", "aws:SourceArn"}
    # The ARN is built before the stream exists: from the same local as the stream's name.
    (locals_,) = [e for e in module_source("stream_archive")["locals"] if "stream_arn" in e]
    assert locals_["stream_arn"].endswith(":deliverystream/${local.name}")
    assert references(firehose_config(aws_plan)["name"]) == ["local.name"]


def test_the_archive_expires(aws_plan):
    """Lifecycle expiration of the archive's prefixes (card numbers and feature vectors are not
    kept for ever) (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html)."""
    (data,) = [
        r["values"]
        for r in planned(aws_plan, "aws_s3_bucket_lifecycle_configuration")
        if r["address"].endswith('["data"]')
    ]
    expiring = {
        rule["filter"][0]["prefix"]: rule["expiration"][0]["days"]
        for rule in data["rule"]
        if rule["expiration"] and rule["filter"][0]["prefix"].startswith("predictions")
    }
    assert expiring == {"predictions/": 7, "predictions-errors/": 7}


# --- the daily consistency run -----------------------------------------------------------------


def consistency_schedule(plan: dict[str, Any]) -> dict[str, Any]:
    return one(plan, "aws_scheduler_schedule", "module.batch_refresh.aws_scheduler_schedule.consistency")[
        "values"
    ]


def refresh_schedule(plan: dict[str, Any]) -> dict[str, Any]:
    return one(plan, "aws_scheduler_schedule", "module.batch_refresh.aws_scheduler_schedule.this")["values"]


def test_the_consistency_run_starts_after_the_refresh_can_have_ended(aws_plan):
    """A time-based second schedule, not a chain: the refresh starts at its minute, EventBridge
    Scheduler retries the start for up to MaximumEventAgeInSeconds
    (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html) and the run is
    cancelled after ExecutionTimeoutMinutes
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html); both
    schedules read their cron in UTC without a flexible window
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-flexible-time-windows.html)."""
    refresh, check = refresh_schedule(aws_plan), consistency_schedule(aws_plan)
    timeout = module_config(aws_plan, "batch_refresh")["variables"]["execution_timeout_minutes"]["default"]
    retry_minutes = refresh["target"][0]["retry_policy"][0]["maximum_event_age_in_seconds"] / 60
    latest_refresh_end = cron_minute_of_day(refresh["schedule_expression"]) + retry_minutes + timeout
    assert cron_minute_of_day(check["schedule_expression"]) >= latest_refresh_end
    for schedule in (refresh, check):
        assert schedule["schedule_expression_timezone"] == "UTC"
        assert schedule["flexible_time_window"][0]["mode"] == "OFF"
    assert check["state"] == "ENABLED"
    (target,) = check["target"]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun"


def test_the_jobs_arguments_follow_the_contract(aws_plan):
    """EntryPointArguments of the scheduled StartJobRun
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_SparkSubmit.html): the
    archive, the refresh's own output, the served model, the report prefix, the namespace, the
    schedule's time."""
    (locals_,) = [e for e in module_source("batch_refresh")["locals"] if "consistency" in e]
    arguments = locals_["consistency"]["entry_point_arguments"]
    assert arguments[0::2] == CONTRACT_FLAGS
    values = dict(zip(arguments[0::2], arguments[1::2], strict=True))
    assert values["--predictions"] == "s3://${var.data_bucket}/${local.cc.predictions_prefix}"
    assert values["--features"] == "${local.output_uri}"  # what the refresh's --output writes
    assert values["--model"] == "s3://${var.artifacts_bucket}/${local.cc.model_key}"
    assert values["--out"] == "s3://${var.data_bucket}/${local.cc.report_prefix}"
    assert values["--metric-namespace"] == "${local.cc.metric_namespace}"
    # EventBridge Scheduler replaces the keyword with the invocation's time, e.g. 2022-03-22T18:59:43Z
    # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html):
    # the entry point compares the UTC day before it (jobs/consistency/emr_entry.py served_day).
    assert values["--scheduled-time"] == "<aws.scheduler.scheduled-time>"
    # The root hands it the archive's prefix, the served model's key and the code uploaded for it.
    wiring = references(module_call(aws_plan, "batch_refresh")["expressions"]["consistency_check"])
    for ref in (
        'module.stream_archive["predictions"].prefix',
        'module.artifacts.keys["model"]',
        'module.artifacts.keys["consistency-entry"]',
        'module.artifacts.keys["consistency-job"]',
        "local.consistency_namespace",
    ):
        assert ref in wiring


def test_the_alarm_watches_the_namespace_the_job_publishes_in(aws_plan):
    """PutMetricData has no resource type: the job may publish with Resource "*" only under the
    cloudwatch:namespace condition
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html);
    the alarm reads MatchRate without dimensions in that same namespace."""
    job = policy(aws_plan, 'module.batch_refresh.data.aws_iam_policy_document.this["consistency_job"]')
    publish = job["PublishMatchRate"]
    assert publish["actions"] == ["cloudwatch:PutMetricData"]
    ((namespace_condition,),) = [publish["condition"]]
    assert (namespace_condition["test"], namespace_condition["variable"]) == (
        "StringEquals",
        "cloudwatch:namespace",
    )
    (namespace,) = namespace_condition["values"]
    assert not namespace.startswith("AWS/")
    match = one(aws_plan, "aws_cloudwatch_metric_alarm", '["consistency-match-rate"]')["values"]
    assert (match["namespace"], match["metric_name"]) == (namespace, "MatchRate")
    assert not match["dimensions"]
    assert match["comparison_operator"] == "LessThanThreshold" and match["threshold"] == 0.999
    missing = one(aws_plan, "aws_cloudwatch_metric_alarm", '["consistency-missing"]')["values"]
    assert missing["namespace"] == namespace and missing["treat_missing_data"] == "breaching"
    # No run for over a day alarms; PutMetricAlarm allows up to 7 days for periods of 1 h or more
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
    assert 86400 < missing["period"] * missing["evaluation_periods"] <= 604800


@pytest.mark.parametrize("what", ["predictions", "transactions"])
def test_an_archive_that_falls_behind_alarms(aws_plan, what):
    """Firehose recommends an alarm when DeliveryToS3.DataFreshness exceeds the buffering limit, at
    most 15 minutes (https://docs.aws.amazon.com/firehose/latest/dev/firehose-cloudwatch-metrics-best-practices.html):
    one for each archive (the refresh reads the transactions, the consistency run the predictions)."""
    fresh = one(aws_plan, "aws_cloudwatch_metric_alarm", f'["{what}-archive-freshness"]')["values"]
    stream = one(aws_plan, "aws_kinesis_firehose_delivery_stream", f'module.stream_archive["{what}"].')[
        "values"
    ]
    assert (fresh["namespace"], fresh["metric_name"]) == ("AWS/Firehose", "DeliveryToS3.DataFreshness")
    assert fresh["dimensions"] == {"DeliveryStreamName": stream["name"]}
    assert fresh["comparison_operator"] == "GreaterThanThreshold"
    (s3,) = stream["extended_s3_configuration"]
    assert s3["buffering_interval"] < fresh["threshold"] <= 900


def test_the_job_alarms_and_dashboard_share_one_namespace(aws_plan):
    """One value feeds the job's --metric-namespace, its PutMetricData condition, the alarms and the
    dashboard widget (module monitoring's `terraform test` renders the widget)."""
    for module, variable in (("batch_refresh", "consistency_check"), ("monitoring", "consistency_metric")):
        assert "local.consistency_namespace" in references(
            module_call(aws_plan, module)["expressions"][variable]
        ), module
    # Without scheduled runs the MatchRate alarms would only report the missing runs.
    assert "var.enable_daily_refresh" in references(
        module_call(aws_plan, "monitoring")["expressions"]["consistency_metric"]
    )


def test_the_consistency_job_role_is_least_privilege():
    """The job runtime role holds what the run touches and nothing else
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/security-iam-runtime-role.html)."""
    job = statements("batch_refresh", "consistency_job_statements")
    assert {sid: set(s["actions"]) for sid, s in job.items()} == {
        "ListConsistencyInputs": {"s3:ListBucket"},
        "ReadPredictionsAndFeatures": {"s3:GetObject"},
        "ReadModelAndCode": {"s3:GetObject"},
        "WriteReport": {"s3:PutObject", "s3:AbortMultipartUpload"},
        "WriteConsistencyLogs": {"s3:PutObject"},
        "UseDeploymentKeyForConsistency": {
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        },
        "PublishMatchRate": {"cloudwatch:PutMetricData"},
    }
    assert job["WriteReport"]["resources"] == ["${local.data_bucket_arn}/${local.cc.report_prefix}*"]
    # Resource "*" only where AWS offers no resource type, and then conditioned.
    star = {sid for sid, s in job.items() if isinstance(s["resources"], list) and "*" in s["resources"]}
    assert star == {"PublishMatchRate"} and job["PublishMatchRate"]["conditions"]
    scheduler = statements("batch_refresh", "consistency_scheduler_statements")
    assert {sid: s["actions"] for sid, s in scheduler.items()} == {
        "StartConsistencyJob": ["emr-serverless:StartJobRun"],
        "PassConsistencyJobRole": ["iam:PassRole"],
        "DecryptConsistencyScheduleInput": ["kms:Decrypt"],
    }
    assert scheduler["PassConsistencyJobRole"]["resources"] == [
        '${try(aws_iam_role.consistency_job[0].arn, "")}'
    ]


# --- the consistency run's code and packages on EMR Serverless ----------------------------------


def consistency_locals() -> dict[str, Any]:
    """batch_refresh's locals (python-hcl2) that hold the consistency run's StartJobRun."""
    merged: dict[str, Any] = {}
    for entry in module_source("batch_refresh")["locals"]:
        merged.update(entry)
    return merged


def test_the_consistency_run_unpacks_its_own_dependency_archive_as_deps():
    """sparkSubmitParameters of the run's StartJobRun
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_SparkSubmit.html) carry
    spark.archives=<archive>#deps: Spark unpacks an archive into the working directory of the driver
    and of every executor under the name after `#`, the way EMR Serverless ships Python packages
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/using-python-libraries.html);
    jobs.batch.emr_entry.use_shipped_dependencies, which the consistency entry point and the
    executors' scoring call, puts ./deps first on sys.path."""
    import inspect

    from jobs.batch.emr_entry import use_shipped_dependencies

    local = consistency_locals()
    archive = re.search(r'"spark\.archives" = "([^"]+)#([a-z]+)"', local["consistency_spark_conf"])
    assert archive, local["consistency_spark_conf"]
    assert archive[1] == "${local.consistency.dependencies_uri}"
    assert archive[2] == inspect.signature(use_shipped_dependencies).parameters["directory"].default
    assert (
        local["consistency"]["dependencies_uri"]
        == "s3://${var.artifacts_bucket}/${local.cc.dependencies_key}"
    )
    # The archive is set last (merge), after the sizes: no variable replaces it.
    assert local["consistency_spark_conf"].index("var.consistency_spark_conf") < archive.start()
    parameters = local["consistency_start_job_run"]["JobDriver"]["SparkSubmit"]["SparkSubmitParameters"]
    assert "local.consistency_spark_conf[k]" in parameters and "local.spark_conf" not in parameters
    # The job's execution role may read the archive it is given.
    read = statements("batch_refresh", "consistency_job_statements")["ReadModelAndCode"]["resources"]
    assert re.search(r"for key in \[[^\]]*local\.cc\.dependencies_key[^\]]*\]", read), read


def test_the_consistency_archive_is_the_uploaded_consistency_deps(aws_plan):
    """The key handed to the run is module artifacts' content-addressed key of
    build/emr/consistency-deps.zip (packager.emr_job: XGBoost, scikit-learn, numpy, scipy, boto3),
    uploaded SSE-KMS (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html),
    not the refresh's pure-Python batch-deps.zip."""
    import hashlib

    from packager import offline_plan

    wiring = references(module_call(aws_plan, "batch_refresh")["expressions"]["consistency_check"])
    assert 'module.artifacts.keys["consistency-deps"]' in wiring
    assert 'module.artifacts.keys["batch-deps"]' not in wiring
    files = module_call(aws_plan, "artifacts")["expressions"]["files"]
    assert "local.consistency_deps_zip" in references(files)
    uploaded = one(aws_plan, "aws_s3_object", 'module.artifacts.aws_s3_object.this["consistency-deps"]')
    stand_in = offline_plan.STAND_INS / "consistency-deps.zip"
    digest = hashlib.md5(stand_in.read_bytes()).hexdigest()  # filemd5, the module's content address
    assert uploaded["values"]["key"] == f"artifacts/consistency-deps/{digest}/consistency-deps.zip"
    assert uploaded["values"]["server_side_encryption"] == "aws:kms"


def test_the_consistency_application_is_x86_64_like_its_wheels(aws_plan):
    """CreateApplication's architecture is ARM64 or X86_64
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_CreateApplication.html); the
    workers run the binaries of that architecture
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/architecture.html). The run's
    archive holds x86_64 CPython 3.9 wheels (packager.emr_job.EMR_BINARY_PLATFORM), so its own
    application is X86_64; the refresh's pure-Python job keeps its own (ARM64 by default)."""
    from packager.emr_job import EMR_BINARY_PLATFORM

    tags = [EMR_BINARY_PLATFORM[i + 1] for i, a in enumerate(EMR_BINARY_PLATFORM) if a == "--platform"]
    assert tags and all(tag.endswith("_x86_64") for tag in tags)
    app = one(aws_plan, "aws_emrserverless_application", "aws_emrserverless_application.consistency[0]")
    assert app["values"]["architecture"] == "X86_64"
    assert app["values"]["type"] == "spark"
    refresh = one(aws_plan, "aws_emrserverless_application", "aws_emrserverless_application.this")
    assert refresh["values"]["architecture"] == "ARM64"
    local = consistency_locals()
    assert (
        "aws_emrserverless_application.consistency[0].id"
        in local["consistency_start_job_run"]["ApplicationId"]
    )
    scheduler = statements("batch_refresh", "consistency_scheduler_statements")
    assert scheduler["StartConsistencyJob"]["resources"] == [
        '${try(aws_emrserverless_application.consistency[0].arn, "")}'
    ]
    # Its job role trusts runs of that application (aws:SourceArn), the refresh's role the refresh's.
    (trust,) = [
        d["aws_iam_policy_document"]["job_trust"]
        for d in module_source("batch_refresh")["data"]
        if "job_trust" in d.get("aws_iam_policy_document", {})
    ]
    assert "{job = aws_emrserverless_application.this.arn}" in trust["for_each"]
    assert "{consistency_job = try(aws_emrserverless_application.consistency[0].arn" in trust["for_each"]


GIB = 1024


def _mib(size: str) -> int:
    """A JVM memory size as Spark reads it (`16g`, `512m`) in MiB."""
    number, unit = re.fullmatch(r"(\d+)([gm])", size.lower()).groups()
    return int(number) * (GIB if unit == "g" else 1)


# Supported worker sizes: vCPU -> (least, most) memory in GB
# (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html).
WORKER_MEMORY_GB = {1: (2, 8), 2: (4, 16), 4: (8, 30), 8: (16, 60), 16: (32, 120)}


def _worker_gb(memory: str) -> int:
    """A worker's memory: Spark's heap plus its overhead (10%, at least 384 MB, same page), rounded up."""
    mib = _mib(memory)
    return -(-(mib + max(384, mib // 10)) // GIB)


def test_the_consistency_driver_holds_a_days_scores_at_1000_tps(aws_plan):
    """docs/consistency.md: the AUCs hold a day's (label, score) pairs on the driver, ~6.5 GB at
    1,000 tx/s, so a 16 GB driver heap; with its overhead it must be a supported worker size for
    its vCPUs, and the driver plus the most executors must fit the application's maximum capacity
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html)."""
    conf = module_config(aws_plan, "batch_refresh")["variables"]["consistency_spark_conf"]["default"]
    assert _mib(conf["spark.driver.memory"]) >= 16 * GIB
    sizes = {
        role: (int(conf[f"spark.{role}.cores"]), _worker_gb(conf[f"spark.{role}.memory"]))
        for role in ("driver", "executor")
    }
    for role, (cores, gb) in sizes.items():
        least, most = WORKER_MEMORY_GB[cores]
        assert least <= gb <= most, (role, cores, gb)
    executors = int(conf["spark.dynamicAllocation.maxExecutors"])
    app = one(aws_plan, "aws_emrserverless_application", "aws_emrserverless_application.consistency[0]")
    (capacity,) = app["values"]["maximum_capacity"]
    assert sizes["driver"][0] + executors * sizes["executor"][0] <= int(capacity["cpu"].split()[0])
    assert sizes["driver"][1] + executors * sizes["executor"][1] <= int(capacity["memory"].split()[0])
