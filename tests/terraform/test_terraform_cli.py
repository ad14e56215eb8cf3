"""Terraform itself, offline against the real provider schema: fmt, validate, module tests, plan."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from planrules import planned, resources
from tfsession import CONFIGS, MODULES, REPO, TERRAFORM_DIR, Session

from deploy.terraform import DEPLOYMENT_KEYS
from features.definition import FEATURE_GROUPS
from features.feature_groups import record_features
from packager import offline_plan, terraform_cli

pytestmark = pytest.mark.terraform


def test_fmt_check_is_clean(terraform_ready: None) -> None:
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color"],
        cwd=TERRAFORM_DIR,
        env=os.environ,
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


def test_plan_completes_offline(aws_plan: dict[str, Any]) -> None:
    """`make plan-offline`'s plan (default variables, no credentials) creates and changes nothing else."""
    actions = {tuple(c["change"]["actions"]) for c in aws_plan["resource_changes"]}
    assert actions <= {("create",), ("read",), ("no-op",)}, actions
    assert aws_plan["variables"]["offline"]["value"] == "true"  # -var values are strings


def test_plan_with_the_legacy_kda_sql_engine(tf: Session) -> None:
    """streaming_engine = "kda_sql" swaps the Flink app for the KDA SQL app (instances endpoint too)."""
    run = tf.command("envs/aws", "plan", with_arg="streaming_engine=kda_sql")
    assert run.ok, run.output
    assert "module.kda_sql_app[0].aws_kinesis_analytics_application.this will be created" in run.output
    assert "aws_kinesisanalyticsv2_application" not in run.output
    assert "serverless_config" not in run.output and re.search(
        r"instance_type\s+= \"ml.m5.large\"", run.output
    )


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


# --- one apply, redeploys, locks, portability ----------------------------------------------------


def module_config(plan: dict[str, Any], *path: str) -> dict[str, Any]:
    config = plan["configuration"]["root_module"]
    for name in path:
        config = config["module_calls"][name]["module"]
    return config


def artifact_key(plan: dict[str, Any], name: str) -> str:
    (upload,) = [r for r in planned(plan, "aws_s3_object") if r["index"] == name]
    return upload["values"]["key"]


def test_a_new_model_changes_the_endpoint_model_data(tf: Session, tmp_path: Path) -> None:
    """The second deploy picks up a new model: two plans that differ only in model.tar.gz.

    The bucket name is generated on apply (bucket_prefix), so the planned model_data_url is unknown;
    the plans show its key changing and the endpoint's model reading exactly that key.
    """
    tf.runs("envs/aws")  # initialised, and the session's plans are done
    first, second = (
        offline_plan.write_plan(tmp_path / f"{model}.json", model=model, stand_ins=tmp_path / model)
        for model in ("model-one", "model-two")
    )
    assert artifact_key(first, "model") != artifact_key(second, "model")
    assert artifact_key(first, "flink-app") == artifact_key(second, "flink-app")
    assert artifact_key(first, "model").startswith("artifacts/model/")
    endpoint_call = first["configuration"]["root_module"]["module_calls"]["model_endpoint"]
    assert 'module.artifacts.keys["model"]' in endpoint_call["expressions"]["model_data_key"]["references"]
    (model,) = [
        r for r in module_config(first, "model_endpoint")["resources"] if r["type"] == "aws_sagemaker_model"
    ]
    url = model["expressions"]["primary_container"][0]["model_data_url"]
    assert "var.model_data_key" in url["references"]
    flink_call = first["configuration"]["root_module"]["module_calls"]["streaming_app"]
    assert 'module.artifacts.keys["flink-app"]' in flink_call["expressions"]["code_key"]["references"]


def test_plan_uploads_the_artifacts_encrypted_before_their_readers(aws_plan: dict[str, Any]) -> None:
    """The keys are known on plan, but the endpoint and the Flink app are created after the uploads:
    each reads its object when it starts (the application's code is an S3 object named by bucket and
    file key, https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_S3ContentLocation.html)."""
    keys = module_config(aws_plan, "artifacts")["outputs"]["keys"]
    assert keys.get("depends_on") == ["aws_s3_object.this"]
    uploads = {r["index"]: r for r in planned(aws_plan, "aws_s3_object")}
    # The consistency run's entry point is a repository file (jobs/consistency/emr_entry.py): the
    # module skips it until it exists, as it skips any missing artifact.
    entry = Path(__file__).resolve().parents[2] / "jobs" / "consistency" / "emr_entry.py"
    consistency = {"consistency-job", "consistency-deps"} | (
        {"consistency-entry"} if entry.is_file() else set()
    )
    assert set(uploads) == {"model", "flink-app", "batch-job", "batch-deps", "emr-entry"} | consistency
    for upload in uploads.values():
        assert upload["values"]["server_side_encryption"] == "aws:kms"
        assert unknown(aws_plan, upload["address"])["kms_key_id"] is True


def test_a_missing_artifact_fails_the_plan(tf: Session, tmp_path: Path) -> None:
    """A plan that would create the endpoint without model.tar.gz stops with one clear error."""
    tf.runs("envs/aws")
    artifacts = offline_plan.write_stand_ins(tmp_path)
    artifacts["model"].unlink()
    run = terraform_cli.run(
        "envs/aws", "plan", "-input=false", "-lock=false", *offline_plan.plan_variables(artifacts)
    )
    assert not run.ok and "Model archive" in run.output and "not found" in run.output, run.output


def unquote(text: str) -> str:
    """python-hcl2 keeps the quotes of quoted keys and strings."""
    return text.strip('"')


def test_deployment_output_has_the_contract_keys(aws_plan: dict[str, Any]) -> None:
    output = aws_plan["configuration"]["root_module"]["outputs"]["deployment"]
    # `terraform show -json` lists an object expression's references, not its keys: read the source.

    outputs = hcl2.loads((TERRAFORM_DIR / "envs" / "aws" / "outputs.tf").read_text())["output"]
    (block,) = [body for o in outputs for name, body in o.items() if unquote(name) == "deployment"]
    assert {unquote(k) for k in block["value"] if not k.startswith("__")} == set(DEPLOYMENT_KEYS)
    assert "module.streams.names" in output["expression"]["references"]


MAKE_FILES = (REPO / "Makefile", *sorted((REPO / "mk").glob("*.mk")))


@pytest.mark.xfail(
    re.search(r"^deploy:", (REPO / "mk" / "terraform.mk").read_text(), re.M) is not None,
    reason="mk/terraform.mk still has the old two-step deploy recipe, which the deploy flow (mk/deploy.mk) replaces",
    strict=True,
)
def test_no_targeted_apply_in_the_flow() -> None:
    """One apply: a targeted apply keeps only the outputs of what it targets (issue 14, item 1)."""
    for path in MAKE_FILES:
        assert "-target" not in path.read_text(), path.name


def test_plan_offline_target_uses_the_tests_code() -> None:
    recipe = (REPO / "mk" / "terraform.mk").read_text()
    assert re.search(r"^plan-offline:.*\n\t\$\(PY\) -m packager\.offline_plan\b", recipe, re.M)


# Registry checksums (SHA-256 of each platform's zip, "zh:") of hashicorp/aws 5.100.0, as `terraform
# providers lock` records them from the registry's signed SHA256SUMS:
# https://developer.hashicorp.com/terraform/language/files/dependency-lock#checksum-verification
AWS_5_100_0_ZIPS = {
    "zh:054b8dd49f0549c9a7cc27d159e45327b7b65cf404da5e5a20da154b90b8a644",
    "zh:0b97bf8d5e03d15d83cc40b0530a1f84b459354939ba6f135a0086c20ebbe6b2",
    "zh:1589a2266af699cbd5d80737a0fe02e54ec9cf2ca54e7e00ac51c7359056f274",
    "zh:6330766f1d85f01ae6ea90d1b214b8b74cc8c1badc4696b165b36ddd4cc15f7b",
    "zh:7c8c2e30d8e55291b86fcb64bdf6c25489d538688545eb48fd74ad622e5d3862",
    "zh:99b1003bd9bd32ee323544da897148f46a527f622dc3971af63ea3e251596342",
    "zh:9b12af85486a96aedd8d7984b0ff811a4b42e3d88dad1a3fb4c0b580d04fa425",
    "zh:9f8b909d3ec50ade83c8062290378b1ec553edef6a447c56dadc01a99f4eaa93",
    "zh:aaef921ff9aabaf8b1869a86d692ebd24fbd4e12c21205034bb679b9caf883a2",
    "zh:ac882313207aba00dd5a76dbd572a0ddc818bb9cbf5c9d61b28fe30efaec951e",
    "zh:bb64e8aff37becab373a1a0cc1080990785304141af42ed6aa3dd4913b000421",
    "zh:dfe495f6621df5540d9c92ad40b8067376350b005c637ea6efac5dc15028add4",
    "zh:f0ddf0eaf052766cfe09dea8200a946519f653c384ab4336e2a4a64fdd6310e9",
    "zh:f1b7e684f4c7ae1eed272b6de7d2049bb87a0275cb04dbb7cda6636f600699c9",
    "zh:ff461571e3f233699bf690db319dfe46aec75e58726636a0d97dd9ac6e32fb70",
}
LOCKS = [TERRAFORM_DIR / "envs" / root / ".terraform.lock.hcl" for root in ("aws", "local")]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.parent.name)
def test_lock_is_committed_for_every_platform(lock: Path) -> None:
    """Installable from the registry on any platform (zh:) and from an unpacked mirror (h1:)."""
    (provider,) = hcl2.loads(lock.read_text())["provider"]
    ((name, entry),) = [(unquote(k), v) for k, v in provider.items()]
    hashes = {unquote(h) for h in entry["hashes"]}
    assert name == "registry.terraform.io/hashicorp/aws"
    assert unquote(entry["version"]) == "5.100.0" and unquote(entry["constraints"]) == "~> 5.100"
    assert hashes >= AWS_5_100_0_ZIPS
    assert any(h.startswith("h1:") for h in hashes)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(lock)], cwd=REPO, check=False)
    assert ignored.returncode == 1, f"{lock.relative_to(REPO)} is git-ignored"


def test_the_suite_leaves_the_locks_unmodified(tf: Session) -> None:
    for config in CONFIGS:
        tf.runs(config)
    assert {lock: lock.read_bytes() for lock in LOCKS} == tf.locks


def test_no_machine_path_in_the_repository() -> None:
    """Provider installation and tools follow the user's configuration, not this machine's paths."""
    roots = ("opt", "root", "work", "home/[a-z]", "usr/local", "Users")  # joined: this line must not match
    pattern = "(" + "|".join(f"/{root}/" for root in roots) + ")"
    done = subprocess.run(
        ["git", "grep", "-nIE", pattern, "--", ".", ":!.ci/run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout
