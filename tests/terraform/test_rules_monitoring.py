"""Plan-level rules of the alarms: the streaming path's silent failures each raise one.

Managed Service for Apache Flink publishes `uptime`, `downtime`, `numberOfFailedCheckpoints` and the
Kinesis source's `millisBehindLatest` in AWS/KinesisAnalytics with the dimension Application
(https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html) and recommends alarms
on downtime > 0, RATE(numberOfFailedCheckpoints) > 0 and millisBehindLatest
(https://docs.aws.amazon.com/managed-flink/latest/java/monitoring-metrics-alarms.html). Kinesis
publishes IncomingRecords per stream (https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html).
Where silence is the failure (a stopped application reports no uptime; a stuck job writes no
aggregates) missing data must breach
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
"""

from __future__ import annotations

from typing import Any

import pytest
from planrules import dimensions, module_call, one, planned, references

pytestmark = pytest.mark.terraform


def alarm(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return one(plan, "aws_cloudwatch_metric_alarm", f'["{key}"]')["values"]


def test_a_stopped_flink_application_alarms(aws_plan: dict[str, Any]) -> None:
    stopped = alarm(aws_plan, "flink-not-running")
    assert (stopped["namespace"], stopped["metric_name"]) == ("AWS/KinesisAnalytics", "uptime")
    assert stopped["comparison_operator"] == "LessThanOrEqualToThreshold" and stopped["threshold"] == 0
    assert stopped["treat_missing_data"] == "breaching"
    app = one(aws_plan, "aws_kinesisanalyticsv2_application")["values"]["name"]
    assert dimensions({"values": stopped}) == {"Application": app}
    failing = alarm(aws_plan, "flink-downtime")
    assert failing["metric_name"] == "downtime" and failing["comparison_operator"] == "GreaterThanThreshold"
    assert failing["threshold"] == 0 and failing["dimensions"] == {"Application": app}


def test_failing_checkpoints_alarm_on_their_rate(aws_plan: dict[str, Any]) -> None:
    (checkpoints,) = [
        a["values"]
        for a in planned(aws_plan, "aws_cloudwatch_metric_alarm")
        if "failed_checkpoints" in a["address"]
    ]
    queries = {q["id"]: q for q in checkpoints["metric_query"]}
    assert queries["rate"]["expression"] == "RATE(failed)" and queries["rate"]["return_data"] is True
    (metric,) = queries["failed"]["metric"]
    assert (metric["namespace"], metric["metric_name"]) == (
        "AWS/KinesisAnalytics",
        "numberOfFailedCheckpoints",
    )
    assert checkpoints["comparison_operator"] == "GreaterThanThreshold" and checkpoints["threshold"] == 0


def test_a_lagging_flink_source_alarms(aws_plan: dict[str, Any]) -> None:
    behind = alarm(aws_plan, "flink-source-behind")
    assert (behind["namespace"], behind["metric_name"], behind["statistic"]) == (
        "AWS/KinesisAnalytics",
        "millisBehindLatest",
        "Maximum",
    )
    assert 0 < behind["threshold"] <= 300_000


def test_any_row_on_the_late_stream_alarms(aws_plan: dict[str, Any]) -> None:
    late = alarm(aws_plan, "late-rows")
    stream = one(aws_plan, "aws_kinesis_stream", '["late"]')["values"]["name"]
    assert (late["namespace"], late["metric_name"], late["statistic"]) == (
        "AWS/Kinesis",
        "IncomingRecords",
        "Sum",
    )
    assert late["dimensions"] == {"StreamName": stream}
    assert late["threshold"] == 0 and late["evaluation_periods"] == 1


def test_a_quiet_aggregates_stream_alarms_while_transactions_arrive(aws_plan: dict[str, Any]) -> None:
    (quiet,) = planned(aws_plan, "aws_cloudwatch_composite_alarm")
    silent, arriving = alarm(aws_plan, "aggregates-silent"), alarm(aws_plan, "transactions-arriving")
    assert quiet["values"]["alarm_rule"] == (
        f'ALARM("{arriving["alarm_name"]}") AND ALARM("{silent["alarm_name"]}")'
    )
    streams = {s["index"]: s["values"]["name"] for s in planned(aws_plan, "aws_kinesis_stream")}
    assert silent["dimensions"] == {"StreamName": streams["aggregates"]}
    assert silent["comparison_operator"] == "LessThanThreshold" and silent["threshold"] == 1
    assert silent["treat_missing_data"] == "breaching", "no datapoint is the quiet stream"
    assert arriving["dimensions"] == {"StreamName": streams["transactions"]}
    assert arriving["treat_missing_data"] == "notBreaching", "an idle stack is not a failure"
    assert not silent.get("alarm_actions"), "the composite alarm notifies, not its inputs"


def test_the_root_wires_the_new_monitoring_inputs(aws_plan: dict[str, Any]) -> None:
    expressions = module_call(aws_plan, "monitoring")["expressions"]
    assert "module.streaming_app[0].application_name" in references(expressions["flink_application_name"])
    for name, stream in (("late", "late"), ("transactions", "transactions"), ("aggregates", "aggregates")):
        assert f'module.streams.names["{stream}"]' in references(expressions[f"{name}_stream_name"])
