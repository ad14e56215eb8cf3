"""Plan-level rules of the freshness defaults (docs/capacity.md, `python -m bench.capacity --latency`),
each citing the AWS documentation it rests on, and the sizing pointers of the capacity variables."""

from __future__ import annotations

from typing import Any

import pytest
from planrules import load_hcl, module_source, named_blocks, planned
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
            ["shard_count", "flink_parallelism", "event_source", "endpoint_max_concurrency"],
        ),
        ("modules/streams/variables.tf", ["shard_count"]),
        ("modules/streaming_app/variables.tf", ["parallelism", "parallelism_per_kpu"]),
        ("modules/functions/variables.tf", ["event_source"]),
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
