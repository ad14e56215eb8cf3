"""Render the legacy Kinesis Data Analytics (SQL) application from the definition.

AWS has accepted no new KDA SQL applications since 2025-10-15 (and deleted the rest on
2026-01-27); the Terraform module terraform/modules/kda_sql_app keeps the seed's design
deployable where such an application still exists. Like the seed, it windows over ROWTIME (the
arrival time in the application), RANGE over a per-card partition: KDA SQL has no event-time
watermarks, so unlike Flink it neither reorders late rows nor deduplicates by transaction id.

Two artifacts: the SQL (pump from the input in-application stream to the output stream, columns
in features.records.AGGREGATE_FIELDS order) and the input schema JSON (the JSON mapping of the
transactions stream, features.records.TRANSACTION_FIELDS) that Terraform reads.
"""

from __future__ import annotations

import json
from datetime import timedelta

from features.definition import SOURCE, Window, aggregates_of_kind, windows
from features.feature_groups import sql_type
from features.records import AGGREGATE_FIELDS, TRANSACTION_FIELDS

INPUT_NAME_PREFIX = "SOURCE_SQL_STREAM"
INPUT_STREAM = f"{INPUT_NAME_PREFIX}_001"  # KDA appends _001 to the input's name prefix
OUTPUT_STREAM = "DESTINATION_SQL_STREAM"
PUMP = "AGGREGATE_PUMP"

# Source dtype -> KDA SQL type. Event time travels as ISO-8601 text on the wire and stays text.
SQL_TYPES = {
    "string": "VARCHAR(64)",
    "timestamp": "VARCHAR(32)",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "int32": "INTEGER",
}


def _quote(name: str) -> str:
    return f'"{name}"'


def _interval(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    for unit, size in (("DAY", 86_400), ("HOUR", 3_600), ("MINUTE", 60)):
        if seconds % size == 0:
            return f"INTERVAL '{seconds // size}' {unit}"
    return f"INTERVAL '{seconds}' SECOND"


def _window_name(window: Window) -> str:
    return f"W_{window.suffix.upper()}"


def column_types() -> dict[str, str]:
    """Output stream columns, in AGGREGATE_FIELDS order, with their KDA SQL types."""
    types = {c: SQL_TYPES[SOURCE.column(c).dtype] for c in TRANSACTION_FIELDS}
    types.update({a.name: sql_type(a.feature_type) for a in aggregates_of_kind("sliding")})
    return {name: types[name] for name in AGGREGATE_FIELDS}


def script() -> str:
    aggregates = aggregates_of_kind("sliding")
    columns = ",\n".join(f"    {_quote(n)} {t}" for n, t in column_types().items())
    selects = [f"    {_quote(c)}" for c in TRANSACTION_FIELDS]
    for agg in aggregates:
        arg = "*" if agg.column is None else _quote(agg.column)
        selects.append(
            f"    {agg.function.upper()}({arg}) OVER {_window_name(agg.window)} AS {_quote(agg.name)}"
        )
    window_clauses = ",\n".join(
        f"    {_window_name(w)} AS (PARTITION BY {_quote(SOURCE.entity)} RANGE {_interval(w.length)} PRECEDING)"
        for w in windows("sliding")
    )
    return (
        "-- Rendered from features/definition.py by features/kda_sql.py: do not edit.\n"
        "-- Kinesis Data Analytics (SQL): per-card sliding windows over ROWTIME, one output row per input row.\n"
        f"CREATE OR REPLACE STREAM {_quote(OUTPUT_STREAM)} (\n{columns}\n);\n\n"
        f"CREATE OR REPLACE PUMP {_quote(PUMP)} AS\n"
        f"  INSERT INTO {_quote(OUTPUT_STREAM)}\n"
        "  SELECT STREAM\n" + ",\n".join(selects) + "\n"
        f"  FROM {_quote(INPUT_STREAM)}\n"
        f"  WINDOW\n{window_clauses};\n"
    )


def input_schema() -> dict:
    """The input's JSON mapping: one column per transaction field, read from the top-level object."""
    return {
        "input_name_prefix": INPUT_NAME_PREFIX,
        "output_stream": OUTPUT_STREAM,
        "record_row_path": "$",
        "record_encoding": "UTF-8",
        "columns": [
            {"name": c, "sql_type": SQL_TYPES[SOURCE.column(c).dtype], "mapping": f"$.{c}"}
            for c in TRANSACTION_FIELDS
        ],
    }


def input_schema_json() -> str:
    return json.dumps(input_schema(), indent=2) + "\n"
