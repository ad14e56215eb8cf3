"""The Flink app's configuration and rendered SQL, without a JVM (main .venv)."""

from __future__ import annotations

import json
import re

import pytest

from features import flink_sql
from features.definition import STREAM, aggregates_of_kind
from features.records import AGGREGATE_FIELDS, LATE_FIELDS
from jobs.flink import app

SERVICE_PROPERTIES = [
    {
        "PropertyGroupId": "kinesis.analytics.flink.run.options",
        "PropertyMap": {"python": "jobs/flink/app.py", "jarfile": "lib/flink-sql-connector-kinesis.jar"},
    },
    {
        "PropertyGroupId": "FlinkApplicationProperties",
        "PropertyMap": {
            "input.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/fraud-transactions",
            "output.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/fraud-aggregates",
            "late.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/fraud-late",
            "aws.region": "eu-west-1",
            "source.init.position": "TRIM_HORIZON",
        },
    },
]


def without_with_clauses(statements: list[str]) -> list[str]:
    return [re.sub(r"WITH \(\n.*?\n\)", "WITH (...)", s, flags=re.S) for s in statements]


def test_service_properties_select_kinesis_with_the_stream_arns(tmp_path):
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps(SERVICE_PROPERTIES))
    groups = app.read_properties(path)
    connectors = app.connectors_from(groups[app.GROUP])
    assert connectors.transactions == {
        "connector": "kinesis",
        "stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/fraud-transactions",
        "aws.region": "eu-west-1",
        "source.init.position": "TRIM_HORIZON",
    }
    assert connectors.aggregates["stream.arn"].endswith("/fraud-aggregates")
    assert connectors.late["stream.arn"].endswith("/fraud-late")


def test_kinesis_and_filesystem_run_the_same_sql_but_for_the_connector_options():
    kinesis = flink_sql.statements(flink_sql.kinesis("a", "b", "c", "eu-west-1"))
    files = flink_sql.statements(flink_sql.filesystem("/in", "/out", "/late"))
    assert kinesis != files
    assert without_with_clauses(kinesis) == without_with_clauses(files)


def test_missing_property_is_one_line_error_and_exit_2(tmp_path, capsys):
    groups = json.loads(json.dumps(SERVICE_PROPERTIES))
    del groups[1]["PropertyMap"]["late.stream.arn"]
    path = tmp_path / "props.json"
    path.write_text(json.dumps(groups))
    assert app.main({app.PROPERTIES_ENV: str(path)}) == 2
    assert capsys.readouterr().err == f"error: property group {app.GROUP} lacks: late.stream.arn\n"


def test_unreadable_properties_file_is_a_config_error(tmp_path):
    with pytest.raises(app.ConfigError, match="cannot read runtime properties"):
        app.read_properties(tmp_path / "absent.json")
    assert app.properties_path({}) == app.SERVICE_PROPERTIES


def test_sinks_declare_exactly_the_wire_fields_in_order():
    sql = flink_sql.script()
    for table, fields in (
        (flink_sql.AGGREGATES_TABLE, AGGREGATE_FIELDS),
        (flink_sql.LATE_TABLE, LATE_FIELDS),
    ):
        ddl = sql.split(f"CREATE TEMPORARY TABLE {table} (")[1].split(") WITH")[0]
        assert [line.split()[0] for line in ddl.strip().splitlines()] == list(fields)


def test_every_sliding_aggregate_is_computed_over_its_window():
    sql = flink_sql.script()
    for agg in aggregates_of_kind("sliding"):
        assert (
            f"{agg.function.upper()}({'*' if agg.column is None else agg.column}) OVER w_{agg.window.suffix})"
            in sql
        )
        assert f"AS {agg.name}" in sql
        assert f"WINDOW w_{agg.window.suffix} AS (PARTITION BY cc_num ORDER BY trans_ts RANGE BETWEEN" in sql
    assert "RANGE BETWEEN INTERVAL '0 00:10:00.000' DAY TO SECOND(3) PRECEDING AND CURRENT ROW" in sql


def test_watermark_bound_comes_from_the_definition():
    seconds = STREAM.out_of_orderness.total_seconds()
    assert (
        f"INTERVAL '0 00:00:{int(seconds):02d}.{int(seconds * 1000) % 1000:03d}' DAY TO SECOND(3)"
        in flink_sql.script()
    )


def test_at_timestamp_without_a_timestamp_is_refused_before_the_job_starts(tmp_path, capsys):
    # Connector 5.0 would refuse it only once the job runs on the service.
    groups = json.loads(json.dumps(SERVICE_PROPERTIES))
    groups[1]["PropertyMap"]["source.init.position"] = "AT_TIMESTAMP"
    path = tmp_path / "props.json"
    path.write_text(json.dumps(groups))
    assert app.main({app.PROPERTIES_ENV: str(path)}) == 2
    assert capsys.readouterr().err == "error: source.init.position AT_TIMESTAMP needs source.init.timestamp\n"
    groups[1]["PropertyMap"]["source.init.timestamp"] = "2026-01-31T00:00:00.000Z"
    source = app.connectors_from(groups[1]["PropertyMap"]).transactions
    assert source["source.init.timestamp"] == "2026-01-31T00:00:00.000Z"


def test_the_source_idle_timeout_is_a_session_setting_with_a_default():
    assert flink_sql.settings()["table.exec.source.idle-timeout"] == flink_sql.DEFAULT_IDLE_TIMEOUT
    assert flink_sql.settings(idle_timeout="5 s")["table.exec.source.idle-timeout"] == "5 s"
    assert "SET 'table.exec.source.idle-timeout' = '30 s';" in flink_sql.script()


def test_the_kinesis_sinks_flush_after_the_rendered_timeout():
    """'sink.flush-buffer.timeout' (Long, milliseconds, default 5000 in flink-sql-connector-kinesis
    5.0.0: https://nightlies.apache.org/flink/flink-docs-release-1.20/docs/connectors/table/kinesis/)
    on both sinks, not on the source; the freshness budget assumes it (bench.capacity)."""
    connectors = flink_sql.kinesis("a", "b", "c", "eu-west-1")
    for sink in (connectors.aggregates, connectors.late):
        assert sink["sink.flush-buffer.timeout"] == str(flink_sql.SINK_FLUSH_TIMEOUT_MS) == "100"
    assert not any(k.startswith("sink.") for k in connectors.transactions)
    assert "sink.flush-buffer.timeout" not in flink_sql.filesystem("/in", "/out", "/late").aggregates
