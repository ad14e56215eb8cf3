"""Plan-level rules of the daily refresh (module batch_refresh in envs/aws), each citing AWS's docs.

What the plan cannot show (the schedule's input holds ARNs known only after apply) is held by the
module's own `terraform test` (the input equals terraform/modules/batch_refresh/tests/start_job_run.json)
and by tests/batch/test_emr_entry.py (botocore accepts that input as a StartJobRun request).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from test_terraform_cli import planned
from test_terraform_static import PARSED, TERRAFORM_DIR

from tests.emr_python import EMR_PYTHON

pytestmark = pytest.mark.terraform

MODULE = TERRAFORM_DIR / "modules" / "batch_refresh" / "main.tf"


def one(plan: dict[str, Any], kind: str) -> dict[str, Any]:
    """The refresh's resource of this kind (the consistency run's are named `consistency`)."""
    (resource,) = [r for r in planned(plan, kind) if r["address"] == f"module.batch_refresh.{kind}.this"]
    return resource["values"]


def module_call(plan: dict[str, Any]) -> dict[str, Any]:
    return plan["configuration"]["root_module"]["module_calls"]["batch_refresh"]


def test_schedule_runs_once_a_day_shortly_after_utc_midnight(aws_plan):
    """Cron fields are minutes, hours, day of month, month, day of week, year; the expression is
    read in `ScheduleExpressionTimezone` (UTC by default, set explicitly here)
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based).
    Flexible time window OFF: the run starts at the scheduled minute
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-flexible-time-windows.html)."""
    schedule = one(aws_plan, "aws_scheduler_schedule")
    fields = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", schedule["schedule_expression"])
    assert fields, schedule["schedule_expression"]
    minute, hour, *every_day = fields.groups()
    assert minute.isdigit() and 0 < int(minute) < 60 and hour == "0"
    assert every_day == ["*", "*", "?", "*"]
    assert schedule["schedule_expression_timezone"] == "UTC"
    assert schedule["flexible_time_window"] == [{"maximum_window_in_minutes": None, "mode": "OFF"}]
    assert schedule["state"] == "ENABLED"  # on by default (enable_daily_refresh)


def test_schedule_starts_an_emr_serverless_job_run_through_the_universal_target(aws_plan):
    """Universal target ARN `arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`, the service named by
    its SDK identifier (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html);
    RetryPolicy: event age 60-86400 s, 0-185 attempts
    (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html)."""
    (target,) = one(aws_plan, "aws_scheduler_schedule")["target"]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun"
    (retry,) = target["retry_policy"]
    assert (
        60 <= retry["maximum_event_age_in_seconds"] <= 86400 and 0 <= retry["maximum_retry_attempts"] <= 185
    )


def test_application_is_a_small_spark_application_on_an_emr_7_release(aws_plan):
    """CreateApplication: type Spark, releaseLabel, autoStart/autoStop (idleTimeoutMinutes 1-10080),
    maximumCapacity (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_CreateApplication.html).
    emr-7.x releases run PySpark on Amazon Linux 2023's Python 3.9
    (https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-release-app-versions-7.x.html), the
    version tests/batch/test_emr_python.py checks the job against."""
    app = one(aws_plan, "aws_emrserverless_application")
    assert app["type"] == "spark"
    major = re.fullmatch(r"emr-(\d+)\.\d+\.\d+", app["release_label"])
    assert major and {7: (3, 9)}[int(major[1])] == EMR_PYTHON
    assert app["auto_start_configuration"] == [{"enabled": True}]
    (stop,) = app["auto_stop_configuration"]
    assert stop["enabled"] and 1 <= stop["idle_timeout_minutes"] <= 60
    (capacity,) = app["maximum_capacity"]
    assert int(capacity["cpu"].split()[0]) <= 16 and int(capacity["memory"].split()[0]) <= 64


def test_online_ttl_keeps_the_current_snapshot_until_the_next_refresh_lands(aws_plan):
    """An online record expires at EventTime + TtlDuration
    (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-time-to-live.html). Snapshot D
    (event time: midnight D) must outlive the next refresh: start at D + 1 day + the schedule's
    minute, retried for up to the retry window, running up to the execution timeout."""
    (group,) = [
        r["values"]
        for r in planned(aws_plan, "aws_sagemaker_feature_group")
        if r["values"]["feature_group_name"].endswith("cc-agg-batch-fg")
    ]
    (ttl,) = group["online_store_config"][0]["ttl_duration"]
    unit = {"Seconds": "seconds", "Minutes": "minutes", "Hours": "hours", "Days": "days", "Weeks": "weeks"}
    lifetime = timedelta(**{unit[ttl["unit"]]: ttl["value"]})
    schedule = one(aws_plan, "aws_scheduler_schedule")
    minute = int(re.match(r"cron\((\d+) ", schedule["schedule_expression"])[1])
    retry = schedule["target"][0]["retry_policy"][0]["maximum_event_age_in_seconds"]
    timeout = module_call(aws_plan)["module"]["variables"]["execution_timeout_minutes"]["default"]
    next_refresh_done = timedelta(days=1, minutes=minute + timeout, seconds=retry)
    assert lifetime > next_refresh_done, f"TTL {lifetime} < {next_refresh_done}"


def _statements(local: str) -> dict[str, dict[str, Any]]:
    (locals_,) = [entry for entry in PARSED[MODULE]["locals"] if local in entry]
    return {s["sid"]: s for s in locals_[local]}


def test_job_role_is_least_privilege():
    """The job runtime role holds what the job touches and nothing else
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/security-iam-runtime-role.html);
    PutRecord is granted on the feature group resource
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html)."""
    job = _statements("job_statements")
    actions = {sid: set(s["actions"]) for sid, s in job.items()}
    assert actions == {
        "ListHistoryAndFeatures": {"s3:ListBucket"},
        "ReadHistory": {"s3:GetObject"},
        "ReadJobCode": {"s3:GetObject"},
        "WriteFeatures": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
        "WriteJobLogs": {"s3:PutObject"},
        "UseDeploymentKey": {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
        "LoadBatchFeatureGroup": {"sagemaker:PutRecord"},
    }
    assert job["LoadBatchFeatureGroup"]["resources"] == ["${var.feature_group_arn}"]
    # The history and, when live_prefix is set, the served transactions (test_rules_history_feed.py).
    assert (
        job["ReadHistory"]["resources"]
        == '${[for p in local.input_prefixes : "${local.data_bucket_arn}/${p}*"]}'
    )
    assert job["WriteFeatures"]["resources"] == ["${local.data_bucket_arn}/${var.features_prefix}*"]
    listed = [s["resources"] if isinstance(s["resources"], list) else [s["resources"]] for s in job.values()]
    assert not any(r == "*" for resources in listed for r in resources)


def test_scheduler_role_may_only_start_this_job_with_this_role():
    """The schedule's execution role needs the target API's permission
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role):
    emr-serverless:StartJobRun on the application and iam:PassRole of the job role, to EMR
    Serverless only (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html)."""
    scheduler = _statements("scheduler_statements")
    assert {sid: s["actions"] for sid, s in scheduler.items()} == {
        "StartRefreshJob": ["emr-serverless:StartJobRun"],
        "PassJobRole": ["iam:PassRole"],
        "DecryptScheduleInput": ["kms:Decrypt"],
    }
    assert scheduler["StartRefreshJob"]["resources"] == ["${aws_emrserverless_application.this.arn}"]
    assert scheduler["PassJobRole"]["resources"] == ["${aws_iam_role.job.arn}"]
    assert scheduler["PassJobRole"]["conditions"] == [
        {
            "test": "StringEquals",
            "variable": "iam:PassedToService",
            "values": ["emr-serverless.amazonaws.com"],
        }
    ]


def test_the_root_wires_the_batch_group_and_the_switch(aws_plan):
    expressions = module_call(aws_plan)["expressions"]
    assert 'module.feature_groups.arns["cc-agg-batch-fg"]' in expressions["feature_group_arn"]["references"]
    assert "var.enable_daily_refresh" in expressions["enable_schedule"]["references"]
    assert 'module.artifacts.keys["batch-job"]' in expressions["bundle_key"]["references"]
    assert 'module.artifacts.keys["emr-entry"]' in expressions["entry_point_key"]["references"]
    assert 'module.artifacts.keys["batch-deps"]' in expressions["dependencies_key"]["references"]
