"""Plan-level rules of the freshness defaults (docs/capacity.md, `python -m bench.capacity --latency`),
each citing the AWS documentation it rests on, and the sizing pointers of the capacity variables."""

from __future__ import annotations

from typing import Any

import pytest
from planrules import load_hcl, module_call, module_config, module_source, named_blocks, planned, references
from tfsession import TERRAFORM_DIR

from bench import capacity

pytestmark = pytest.mark.terraform


def test_the_mappings_invoke_as_soon_as_a_poll_returns_records(aws_plan: dict[str, Any]) -> None:
    """MaximumBatchingWindowInSeconds: "the maximum amount of time, in seconds, that Lambda spends
    gathering records before invoking the function"; 0 to 300, and for Kinesis the default is 0
    (the >= 1 s rule for BatchSize > 10 is for Amazon SQS only):
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
    ("By default, Lambda invokes your function as soon as records are available":
    https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html). A window would add up to its
    length to every prediction at low rates; the budget assumes TF_BATCHING_WINDOW_S."""
    mappings = planned(aws_plan, "aws_lambda_event_source_mapping")
    assert len(mappings) == 2
    for mapping in mappings:
        values = mapping["values"]
        assert values["maximum_batching_window_in_seconds"] == capacity.TF_BATCHING_WINDOW_S.value == 0
        # ParallelizationFactor 1..10 (the same API page); the budget's concurrency = shards x factor
        assert 1 <= values["parallelization_factor"] <= capacity.MAX_PARALLELIZATION_FACTOR.value == 10


def test_the_planned_stack_is_what_bench_capacity_sizes_at_100_tps(aws_plan: dict[str, Any]) -> None:
    """The defaults (1 shard per stream, parallelism 1, factor 1) are the sizing of 100 tx/s.
    Shard quotas: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"""
    sized = capacity.size(100)
    streams = planned(aws_plan, "aws_kinesis_stream")
    assert {s["values"]["shard_count"] for s in streams} == {sized.shard_count}
    (app,) = planned(aws_plan, "aws_kinesisanalyticsv2_application")
    (flink,) = app["values"]["application_configuration"][0]["flink_application_configuration"]
    assert flink["parallelism_configuration"][0]["parallelism"] == sized.shard_count
    for mapping in planned(aws_plan, "aws_lambda_event_source_mapping"):
        assert mapping["values"]["parallelization_factor"] == sized.parallelization_factor


@pytest.mark.parametrize(
    "path, names",
    [
        (
            "envs/aws/variables.tf",
            [
                "shard_count",
                "flink_parallelism",
                "flink_parallelism_per_kpu",
                "event_source",
                "enhanced_fan_out",
                "endpoint_max_concurrency",
            ],
        ),
        ("modules/streams/variables.tf", ["shard_count"]),
        ("modules/streaming_app/variables.tf", ["parallelism", "parallelism_per_kpu"]),
        ("modules/functions/variables.tf", ["event_source", "enhanced_fan_out"]),
    ],
)
def test_the_sizing_variables_point_to_bench_capacity(path: str, names: list[str]) -> None:
    variables = named_blocks(load_hcl(TERRAFORM_DIR / path), "variable")
    for name in names:
        assert "python -m bench.capacity" in variables[name]["description"], f"{path}: {name}"


def test_the_functions_module_default_window_is_the_budgets() -> None:
    variables = named_blocks(module_source("functions", "variables.tf"), "variable")
    assert "maximum_batching_window_in_seconds = optional(number, 0)" in str(
        variables["event_source"]["type"]
    )


# --- enhanced fan-out for the event source mappings -----------------------------------------------

LAMBDA_KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
CONSUMER_ACTIONS = {"kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"}


def test_each_mapping_reads_through_its_own_enhanced_fan_out_consumer(aws_plan: dict[str, Any]) -> None:
    """ "To minimize latency and maximize read throughput, create a data stream consumer with enhanced
    fan-out. Enhanced fan-out consumers get a dedicated connection to each shard ... Stream consumers
    use HTTP/2 to reduce latency by pushing records to Lambda over a long-lived connection"
    (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, "Polling and batching streams");
    ~70 ms average propagation against a poll a second for a standard iterator
    (https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html). The budget assumes it
    (bench.capacity TF_ENHANCED_FAN_OUT); the module's terraform test checks the mapping's source
    is the consumer's ARN (known only after apply, so not in this plan)."""
    assert capacity.TF_ENHANCED_FAN_OUT.value == 1 and capacity.Freshness().esm == "efo"
    prefix = aws_plan["variables"]["name_prefix"]["value"]
    consumers = planned(aws_plan, "aws_kinesis_stream_consumer")
    assert sorted(c["values"]["name"] for c in consumers) == [f"{prefix}-ingest", f"{prefix}-score"]
    # ... both on the aggregates stream, which both functions read
    call = module_call(aws_plan, "functions")
    assert 'module.streams.arns["aggregates"]' in references(call["expressions"]["source_stream_arn"])
    assert references(call["expressions"]["enhanced_fan_out"]) == ["var.enhanced_fan_out"]
    resources = {r["address"]: r for r in module_config(aws_plan, "functions")["resources"]}
    consumer = resources["aws_kinesis_stream_consumer.this"]
    assert references(consumer["expressions"]["stream_arn"]) == ["var.source_stream_arn"]
    mapping = resources["aws_lambda_event_source_mapping.this"]
    assert "aws_kinesis_stream_consumer.this" in references(mapping["expressions"]["event_source_arn"])
    # A stream takes at most 20 registered consumers (the same enhanced-consumers page): two here.
    assert len(consumers) <= 20


def test_each_role_may_subscribe_through_its_own_consumer_only() -> None:
    """The event source mapping needs kinesis:SubscribeToShard for an enhanced fan-out consumer
    (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html) and describes the
    consumer (kinesis:DescribeStreamConsumer; the pair a fan-out reader needs:
    https://docs.aws.amazon.com/streams/latest/dev/kcl-iam-permissions.html). Both take the consumer's
    ARN as their resource
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesisdatastreams.html):
    each role is granted them on its own function's consumer, and only when fan-out is on."""
    source = module_source("functions")
    (document,) = [
        body["this"]
        for entry in source["data"]
        for kind, body in entry.items()
        if kind == "aws_iam_policy_document" and "this" in body
    ]
    grants = [
        d["statement"]
        for d in document["dynamic"]
        if any(c.get("sid") == "ReadThroughOwnConsumer" for c in d["statement"]["content"])
    ]
    assert len(grants) == 1
    (grant,) = grants
    assert (
        grant["for_each"] == "${var.enhanced_fan_out ? [aws_kinesis_stream_consumer.this[each.key].arn] : []}"
    )
    (content,) = grant["content"]
    assert set(content["actions"]) == CONSUMER_ACTIONS and len(content["actions"]) == 2
    assert content["resources"] == ["${statement.value}"]
    # nowhere else: the stream-level statement keeps to the standard iterator's reads
    for statement in document["statement"]:
        assert not CONSUMER_ACTIONS & set(statement["actions"]), statement.get("sid")


def test_fan_out_is_a_variable_that_defaults_to_on_with_its_cost() -> None:
    """enhanced_fan_out in the module and envs/aws: on by default, its price in the description
    (https://aws.amazon.com/kinesis/data-streams/pricing/, the figures bench.capacity holds)."""
    prices = capacity.PRICES[capacity.DEFAULT_REGION]
    for path in ("modules/functions/variables.tf", "envs/aws/variables.tf"):
        variable = named_blocks(load_hcl(TERRAFORM_DIR / path), "variable")["enhanced_fan_out"]
        assert variable["default"] is True, path
        description = variable["description"]
        assert f"${prices.efo_gb.value:g} per GB" in description, path
        assert "python -m bench.capacity" in description, path
    module = named_blocks(module_source("functions", "variables.tf"), "variable")["enhanced_fan_out"]
    assert f"${prices.efo_consumer_shard_hour.value:g} per consumer-shard-hour" in module["description"]
    assert "https://aws.amazon.com/kinesis/data-streams/pricing/" in module["description"]


def test_the_local_root_registers_no_consumer() -> None:
    """LocalStack's free edition runs no Lambda code, so envs/local creates no function and no
    mapping (create_functions = false); consumers exist only per function, so none is registered
    there (the module's terraform test `queue_and_logs_only` checks the count)."""
    (call,) = [
        e["functions"] for e in load_hcl(TERRAFORM_DIR / "envs/local/main.tf")["module"] if "functions" in e
    ]
    assert call["create_functions"] is False
    source = module_source("functions")
    (consumer,) = [
        e["aws_kinesis_stream_consumer"]["this"]
        for e in source["resource"]
        if "aws_kinesis_stream_consumer" in e
    ]
    assert consumer["for_each"] == "${var.enhanced_fan_out ? local.functions : {}}"


def test_the_flink_parallelism_per_kpu_reaches_the_module(aws_plan: dict[str, Any]) -> None:
    """KPUs billed = ceil(parallelism / parallelism_per_kpu) + 1, at most 8 parallel tasks per KPU
    (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ParallelismConfiguration.html)."""
    call = module_call(aws_plan, "streaming_app")
    assert references(call["expressions"]["parallelism_per_kpu"]) == ["var.flink_parallelism_per_kpu"]
    (app,) = planned(aws_plan, "aws_kinesisanalyticsv2_application")
    (flink,) = app["values"]["application_configuration"][0]["flink_application_configuration"]
    assert flink["parallelism_configuration"][0]["parallelism_per_kpu"] == 1
    variable = named_blocks(load_hcl(TERRAFORM_DIR / "envs/aws/variables.tf"), "variable")
    assert variable["flink_parallelism_per_kpu"]["default"] == 1
    assert "<= 8" in str(variable["flink_parallelism_per_kpu"]["validation"])
