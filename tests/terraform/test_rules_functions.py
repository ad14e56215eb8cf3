"""Plan-level rules of the stream functions: least privilege from the code, batch size, dead-letter queue."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from planrules import after_unknown, module_source, named_blocks, one, planned
from tfsession import REPO

from functions.common import scoring

pytestmark = pytest.mark.terraform

# The AWS SDK calls the handlers can make, and the IAM action each needs.
SDK_ACTIONS = {
    "put_record": "sagemaker:PutRecord",  # sagemaker-featurestore-runtime (ingest)
    "get_record": "sagemaker:GetRecord",
    "batch_get_record": "sagemaker:BatchGetRecord",
    "invoke_endpoint": "sagemaker:InvokeEndpoint",
    "put_records": "kinesis:PutRecords",
    "describe_stream_summary": "kinesis:DescribeStreamSummary",
    "send_message": "sqs:SendMessage",
    "get_queue_attributes": "sqs:GetQueueAttributes",
}
# What the event source mapping needs on the function's role to read a Kinesis stream
# (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html; also the managed
# AWSLambdaKinesisExecutionRole policy, minus ListStreams, and minus SubscribeToShard: that one is
# granted on the function's own enhanced fan-out consumer only, test_rules_freshness.py).
ESM_KINESIS = {
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
}
# ... and to send a failed batch's record to an SQS on-failure destination
# (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
ESM_ON_FAILURE_SQS = {"sqs:SendMessage"}


def closure(app: Path) -> list[Path]:
    """The handler's file and every functions.* and clients.* module it imports, transitively (the
    zips carry clients/: the Kinesis writer lives there)."""
    seen: list[Path] = []
    todo = [app]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("functions.", "clients.")
            ):
                target = REPO / Path(*node.module.split(".")).with_suffix(".py")
                if target.is_file():
                    todo.append(target)
    return seen


def sdk_calls(function: str) -> set[str]:
    calls = set()
    for path in closure(REPO / "functions" / function / "app.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SDK_ACTIONS
            ):
                calls.add(node.func.attr)
    return calls


def policy_statements() -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """(each function's own statements, the statements every function gets) from functions/main.tf."""
    source = module_source("functions")
    (functions,) = [e["all_functions"] for e in source["locals"] if "all_functions" in e]
    (common,) = [
        body["this"]
        for entry in source["data"]
        for kind, body in entry.items()
        if kind == "aws_iam_policy_document" and "this" in body
    ]
    return (
        {name: spec["statements"] for name, spec in functions.items()},
        {s["sid"]: s for s in common["statement"] if "sid" in s},
    )


@pytest.mark.parametrize("function", ["ingest", "score"])
def test_each_function_is_granted_exactly_what_its_code_calls(function: str) -> None:
    calls = sdk_calls(function)
    assert calls, f"no AWS SDK call found in functions/{function}"
    needed = {SDK_ACTIONS[c] for c in calls} - ESM_ON_FAILURE_SQS  # SendMessage: in the shared statements
    own, _ = policy_statements()
    granted = {a for s in own[function] for a in s["actions"]}
    assert granted == needed, (
        f"granted but unused: {granted - needed}; used but not granted: {needed - granted}"
    )


def test_the_score_function_reads_only_the_batch_feature_group() -> None:
    """The streaming features arrive in the aggregate record; only cc-agg-batch-fg is read."""
    own, _ = policy_statements()
    reads = [s for s in own["score"] if "sagemaker:BatchGetRecord" in s["actions"]]
    assert [s["resources"] for s in reads] == [["${var.batch_feature_group_arn}"]]


def test_the_shared_statements_are_what_the_event_source_mapping_needs() -> None:
    _, common = policy_statements()
    assert set(common["ReadAggregatesStream"]["actions"]) == ESM_KINESIS
    assert common["ReadAggregatesStream"]["resources"] == ["${var.source_stream_arn}"]
    assert set(common["DeadLetterBadRecords"]["actions"]) == ESM_ON_FAILURE_SQS
    assert common["DeadLetterBadRecords"]["resources"] == ["${aws_sqs_queue.dead_letters.arn}"]


def test_a_batch_fits_one_batch_get_record() -> None:
    """BatchGetRecord carries at most 100 records per call (Feature Store quotas:
    https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html; an identifier entry
    holds at most 100 record ids:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_BatchGetRecordIdentifier.html).
    The score function reads 100 cards a call; a batch size of at most 100 keeps it to one call a batch."""
    variables = named_blocks(module_source("functions", "variables.tf"), "variable")
    bounds = [
        int(m.group(1))
        for v in variables["event_source"]["validation"]
        for m in [re.search(r"batch_size\s*<=\s*(\d+)", str(v["condition"]))]
        if m
    ]
    assert bounds and max(bounds) <= scoring.RECORDS_PER_CALL == 100, f"batch_size bounds: {bounds}"


def test_the_planned_mappings_fit_one_batch_get_record(aws_plan: dict[str, Any]) -> None:
    for mapping in planned(aws_plan, "aws_lambda_event_source_mapping"):
        assert mapping["values"]["batch_size"] <= 100, mapping["address"]


def test_the_dead_letter_queue_name_is_generated(aws_plan: dict[str, Any]) -> None:
    """SQS refuses to create a queue named like one deleted less than 60 s before
    (QueueDeletedRecently: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html),
    so a fixed name fails a redeploy right after a destroy; a generated name never collides."""
    queue = one(aws_plan, "aws_sqs_queue", "dead_letters")
    assert queue["values"]["name_prefix"].endswith("-dead-letters-")
    assert after_unknown(aws_plan, queue["address"])["name"] is True
    # the alarm on it still plans (keyed by logical name, the queue name known at apply)
    alarm = one(aws_plan, "aws_cloudwatch_metric_alarm", '["dead-letters"]')
    assert after_unknown(aws_plan, alarm["address"])["dimensions"] is True
