"""Terraform itself, offline against the real provider schema: fmt, validate, module tests, plan."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from tfsession import CONFIGS, MODULES, REPO, TERRAFORM_DIR, Session, terraform_env

from features.definition import FEATURE_GROUPS
from features.feature_groups import record_features

pytestmark = pytest.mark.terraform


def test_fmt_check_is_clean(terraform_ready: None) -> None:
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color"],
        cwd=TERRAFORM_DIR,
        env=terraform_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"run `make tf-fmt`:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("config", CONFIGS)
def test_validate(tf: Session, config: str) -> None:
    run = tf.command(config, "validate")
    assert run.ok and "The configuration is valid" in run.output, run.output


@pytest.mark.parametrize("module", MODULES)
def test_module_rules(tf: Session, module: str) -> None:
    """terraform test: each module's *.tftest.hcl (mock provider) holds its rules and rejections."""
    assert list((TERRAFORM_DIR / "modules" / module / "tests").glob("*.tftest.hcl")), f"{module} has no tests"
    run = tf.command(f"modules/{module}", "test")
    assert run.ok and ", 0 failed" in run.output, run.output


def test_plan_completes_offline(tf: Session) -> None:
    run = tf.command("envs/aws", "plan")
    assert run.ok, run.output
    assert "0 to change, 0 to destroy" in run.output


def test_plan_with_the_legacy_kda_sql_engine(tf: Session) -> None:
    """streaming_engine = "kda_sql" swaps the Flink app for the KDA SQL app (instances endpoint too)."""
    run = tf.command("envs/aws", "plan", with_arg="streaming_engine=kda_sql")
    assert run.ok, run.output
    assert "module.kda_sql_app[0].aws_kinesis_analytics_application.this will be created" in run.output
    assert "aws_kinesisanalyticsv2_application" not in run.output
    assert "serverless_config" not in run.output and re.search(
        r"instance_type\s+= \"ml.m5.large\"", run.output
    )


def resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def planned(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources(plan["planned_values"]["root_module"]) if r["type"] == kind]


def unknown(plan: dict[str, Any], address: str) -> dict[str, Any]:
    change = next(c for c in plan["resource_changes"] if c["address"] == address)
    return change["change"]["after_unknown"]


def test_plan_has_the_whole_system(aws_plan: dict[str, Any]) -> None:
    kinds = {r["type"] for r in resources(aws_plan["planned_values"]["root_module"])}
    expected = {
        "aws_kms_key",
        "aws_kinesis_stream",
        "aws_s3_bucket",
        "aws_sagemaker_feature_group",
        "aws_lambda_function",
        "aws_lambda_event_source_mapping",
        "aws_sqs_queue",
        "aws_kinesisanalyticsv2_application",
        "aws_sagemaker_model",
        "aws_sagemaker_endpoint_configuration",
        "aws_sagemaker_endpoint",
        "aws_cloudwatch_metric_alarm",
        "aws_cloudwatch_dashboard",
        "aws_sns_topic",
    }
    assert expected <= kinds, expected - kinds
    # The legacy KDA SQL app is off by default (streaming_engine = "flink").
    assert "aws_kinesis_analytics_application" not in kinds


def test_plan_feature_groups_equal_the_definition(aws_plan: dict[str, Any]) -> None:
    groups = {
        r["values"]["feature_group_name"]: r["values"]
        for r in planned(aws_plan, "aws_sagemaker_feature_group")
    }
    assert len(groups) == len(FEATURE_GROUPS)
    for group in FEATURE_GROUPS:
        values = groups[f"fraud-{group.name}"]
        rendered = json.loads(
            (REPO / "features" / "rendered" / "feature_groups" / f"{group.name}.json").read_text()
        )
        planned_features = [(f["feature_name"], f["feature_type"]) for f in values["feature_definition"]]
        assert planned_features == [(f.name, f.type) for f in record_features(group)]
        assert planned_features == [(f["name"], f["type"]) for f in rendered["features"]]
        assert values["record_identifier_feature_name"] == rendered["record_identifier_feature_name"]
        assert values["event_time_feature_name"] == rendered["event_time_feature_name"]
        assert bool(values["online_store_config"]) == group.online
        assert bool(values["offline_store_config"]) == group.offline


def test_plan_event_source_mappings(aws_plan: dict[str, Any]) -> None:
    mappings = planned(aws_plan, "aws_lambda_event_source_mapping")
    assert {m["index"] for m in mappings} == {"ingest", "score"}
    for m in mappings:
        v = m["values"]
        assert v["function_response_types"] == ["ReportBatchItemFailures"]
        assert v["bisect_batch_on_function_error"] is True
        assert 0 <= v["maximum_retry_attempts"] <= 10 and 60 <= v["maximum_record_age_in_seconds"] <= 86400
        assert (
            unknown(aws_plan, m["address"])["destination_config"][0]["on_failure"][0]["destination_arn"]
            is True
        )


def test_plan_encrypts_streams_queues_logs_and_topics(aws_plan: dict[str, Any]) -> None:
    key_attribute = {
        "aws_kinesis_stream": "kms_key_id",
        "aws_sqs_queue": "kms_master_key_id",
        "aws_cloudwatch_log_group": "kms_key_id",
        "aws_sns_topic": "kms_master_key_id",
        "aws_lambda_function": "kms_key_arn",
        "aws_sagemaker_endpoint_configuration": "kms_key_arn",
    }
    seen = set()
    for kind, attribute in key_attribute.items():
        for r in planned(aws_plan, kind):
            seen.add(kind)
            # The key is created in the same apply, so its ARN is unknown at plan time.
            assert unknown(aws_plan, r["address"]).get(attribute) is True, (
                f"{r['address']}.{attribute} not set to the key"
            )
    assert seen == set(key_attribute)
    for stream in planned(aws_plan, "aws_kinesis_stream"):
        assert stream["values"]["encryption_type"] == "KMS"
    for sse in planned(aws_plan, "aws_s3_bucket_server_side_encryption_configuration"):
        assert (
            sse["values"]["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
            == "aws:kms"
        )
    assert len(planned(aws_plan, "aws_s3_bucket_server_side_encryption_configuration")) == len(
        planned(aws_plan, "aws_s3_bucket")
    )


def test_plan_flink_app_runs_the_packaged_job(aws_plan: dict[str, Any]) -> None:
    (app,) = planned(aws_plan, "aws_kinesisanalyticsv2_application")
    assert app["values"]["runtime_environment"] == "FLINK-1_20"
    groups = {
        g["property_group_id"]: g.get("property_map")  # the app group holds stream ARNs, unknown at plan
        for g in app["values"]["application_configuration"][0]["environment_properties"][0]["property_group"]
    }
    assert groups["kinesis.analytics.flink.run.options"] == {
        "python": "jobs/flink/app.py",
        "jarfile": "lib/flink-sql-connector-kinesis.jar",
    }
