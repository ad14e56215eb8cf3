"""Plan-level rules of the Flink application and the transactions stream (terraform show -json of
the offline plan of envs/aws with default variables), each citing the AWS documentation it rests on.

The layout rule (jobs/flink/README.md, defect 8 of issue 14): the Kinesis table source keeps one
watermark per source subtask, so each subtask must read exactly one shard: a PROVISIONED
transactions stream whose shard count equals the application's parallelism, and no autoscaling
(the service would change the parallelism, not the shards).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hcl2
import pytest
from planrules import planned

# Parallelism, ParallelismPerKPU, AutoScalingEnabled ("the service can increase CurrentParallelism
# ... in response to application load"):
#   https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ParallelismConfiguration.html
# KPUs = parallelism / ParallelismPerKPU, plus one KPU per application for orchestration;
# Parallelism 1..256, ParallelismPerKPU 1..8:
#   https://docs.aws.amazon.com/managed-flink/latest/java/how-scaling.html
#   https://aws.amazon.com/managed-service-apache-flink/pricing/
# A shard takes 1 MB/s or 1,000 records/s in, 2 MB/s out; an on-demand stream manages its shards
# itself (4 MB/s of write capacity, i.e. 4 shards, at creation):
#   https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
#   https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html
ORCHESTRATION_KPU = 1
STREAMING_APP_VARIABLES = Path(__file__).resolve().parents[2] / "terraform/modules/streaming_app/variables.tf"
MAX_PARALLELISM_PER_KPU = 8


@pytest.fixture(scope="module")
def app(aws_plan: dict[str, Any]) -> dict[str, Any]:
    (application,) = planned(aws_plan, "aws_kinesisanalyticsv2_application")
    return application["values"]


@pytest.fixture(scope="module")
def transactions(aws_plan: dict[str, Any]) -> dict[str, Any]:
    (stream,) = [
        s for s in planned(aws_plan, "aws_kinesis_stream") if s["values"]["name"].endswith("-transactions")
    ]
    return stream["values"]


def parallelism_of(app: dict[str, Any]) -> dict[str, Any]:
    return app["application_configuration"][0]["flink_application_configuration"][0][
        "parallelism_configuration"
    ][0]


def test_flink_streaming_source_reads_one_shard_per_subtask(app, transactions):
    config = parallelism_of(app)
    assert config["configuration_type"] == "CUSTOM"  # else the service ignores Parallelism
    assert transactions["stream_mode_details"][0]["stream_mode"] == "PROVISIONED"
    assert transactions["shard_count"] == config["parallelism"]


def test_flink_autoscaling_is_off_by_default(app):
    # Autoscaling changes CurrentParallelism, never the shard count: one subtask would read
    # several shards (or none), which breaks the layout rule above.
    assert parallelism_of(app)["auto_scaling_enabled"] is False


def test_flink_default_cost_is_two_kpus_and_one_shard_per_stream(app, aws_plan):
    config = parallelism_of(app)
    assert 1 <= config["parallelism_per_kpu"] <= MAX_PARALLELISM_PER_KPU
    kpus = math.ceil(config["parallelism"] / config["parallelism_per_kpu"]) + ORCHESTRATION_KPU
    assert kpus == 2  # the cost the README and jobs/flink/README.md state
    for stream in planned(aws_plan, "aws_kinesis_stream"):
        assert stream["values"]["stream_mode_details"][0]["stream_mode"] == "PROVISIONED"
        assert stream["values"]["shard_count"] == 1


def test_flink_application_runs_after_apply_and_restarts_on_new_code(app, aws_plan):
    # StartApplication runs with the run configuration; an UpdateApplication of the code location
    # (a new content-addressed key) restarts a running application with it:
    #   https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_StartApplication.html
    #   https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_UpdateApplication.html
    assert app["start_application"] is True
    run = app["application_configuration"][0]["run_configuration"][0]
    assert (
        run["application_restore_configuration"][0]["application_restore_type"]
        == "RESTORE_FROM_LATEST_SNAPSHOT"
    )
    code = app["application_configuration"][0]["application_code_configuration"][0]
    key = code["code_content"][0]["s3_content_location"][0]["file_key"]
    assert key.endswith(".zip")
    # The execution role reads exactly that key: a new key is readable as soon as it is planned.
    (policy,) = [
        p
        for p in planned(aws_plan, "aws_iam_role_policy")
        if p["values"].get("name") == "flink-least-privilege"
    ]
    policy_json = policy["values"].get("policy")
    if policy_json is not None:  # known at plan when the bucket name is
        assert f"/{key}" in policy_json


def test_flink_at_timestamp_requires_a_timestamp():
    # Connector 5.0 refuses AT_TIMESTAMP without source.init.timestamp, and only when the job starts
    # (KinesisStreamsSourceConfigUtil.parseStreamTimestampStartingPosition). The property map holds
    # stream ARNs unknown at plan, so the rule is a validation of the module's variables; its
    # behaviour is exercised by terraform/modules/streaming_app/tests (run by test_module_rules).
    variables = {
        name.strip('"'): body
        for block in hcl2.load(STREAMING_APP_VARIABLES.open())["variable"]
        for name, body in block.items()
    }
    conditions = [v["condition"] for v in variables["starting_timestamp"].get("validation", [])]
    assert any("AT_TIMESTAMP" in c and "var.starting_timestamp != null" in c for c in conditions)
