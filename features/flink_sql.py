"""Render the streaming aggregation app's Flink SQL from the definition.

One SQL text for every deployment: the connector options (Kinesis on the service, the
filesystem connector in tests) are parameters, nothing else changes. The pipeline:

  transactions (raw payload; fields parsed in SQL so a bad record is routed, never fatal)
    ├─ invalid payload, or event time at/behind the source subtask's watermark ─> late_records (+ reason)
    └─ on time ─> first arrival of each tid ─┬─ at/behind the job's watermark ─> late_records (+ reason)
                                             └─ per-card OVER window per sliding window ─> aggregates

Why the choices:
- The payload is read as one string ('raw' format) and parsed with JSON_VALUE: a typed JSON
  source would fail the job on a mistyped field (a poison pill on Kinesis) or drop it silently.
- The watermark is emitted after every row that advances it (pipeline.auto-watermark-interval
  0): "late" then means behind the largest event time seen *before* the row, minus the allowed
  out-of-orderness, independent of processing speed, so the local engine can apply the same rule.
- "Late" is `event time <= watermark`: a watermark W promises no more rows at or before W, and
  Flink's OVER operator drops a row at W once its timer for W fired; `<=` routes exactly those.
- The watermark is one per source subtask (the Kinesis table source takes no watermark push-down),
  so the deployment reads one shard per subtask (jobs/flink/README.md). A subtask that reads
  nothing for `source.idle.timeout` is marked idle and the job's watermark moves on without it;
  when it reads again, its rows may be behind the job's watermark although on time for its own.
  The check is therefore made twice: at the source (the subtask's watermark, the rule the local
  engine applies) and again after the first shuffle (the job's watermark, what the windows see),
  so such a row goes to late records with its reason instead of being dropped by the window.
  Without idleness the second check never fires: the job's watermark is the minimum over the
  subtasks and a row travels ahead of its subtask's next watermark.
- Every sliding window is its own OVER clause (Flink computes one window per SELECT), nested so
  a new window length is one edit of the definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from features.definition import SOURCE, STREAM, Window, aggregates_for, aggregates_of_kind, windows
from features.feature_groups import sql_type
from features.records import AGGREGATE_FIELDS, LATE_FIELDS, TRANSACTION_FIELDS

# Table names, as the statement set and the tests know them.
SOURCE_TABLE = "transactions"
AGGREGATES_TABLE = "aggregates"
LATE_TABLE = "late_records"

# Session settings the SQL relies on (rendered as SET statements; the app applies them).
SETTINGS: dict[str, str] = {
    # Event time travels as UTC strings; parsing and formatting happen in the session zone.
    "table.local-time-zone": "UTC",
    # Emit the watermark after each row that advances it, not on a processing-time timer:
    # the late set then depends on arrival order only (see the module docstring).
    "pipeline.auto-watermark-interval": "0",
    # Streaming semantics (watermarks, CURRENT_WATERMARK) also for the bounded test inputs.
    "execution.runtime-mode": "streaming",
}

# How long a transaction id is remembered to drop a redelivered copy (state TTL; a parameter).
DEFAULT_DEDUP_TTL = "1 d"
# How long a source subtask may read nothing before the job's watermark moves on without it (a
# parameter). Longer: a quiet shard holds every card's windows back that much longer. Shorter: a
# shard that pauses briefly sees more of its next rows routed late by the second check.
DEFAULT_IDLE_TIMEOUT = "30 s"
# How long a row may wait in a Kinesis sink's buffer before it is written (milliseconds; the
# connector's `sink.flush-buffer.timeout`, a Long in ms, default 5000: flink-sql-connector-kinesis
# 5.0.0, https://nightlies.apache.org/flink/flink-docs-release-1.20/docs/connectors/table/kinesis/).
# A buffer is also flushed at `sink.batch.max-size` (500) rows, which a shard of a few hundred
# tx/s takes seconds to gather: the default timeout was most of the event-to-prediction budget
# (docs/capacity.md). 100 ms costs no dollars (PUT payload units are per record), only more and
# smaller PutRecords calls.
SINK_FLUSH_TIMEOUT_MS = 100

ISO_MS_Z = "yyyy-MM-dd''T''HH:mm:ss.SSS''Z''"
_EPOCH = "TO_TIMESTAMP_LTZ(0, 3)"
_MAX_DOUBLE = "1.7976931348623157E308"

_JSON_TYPES = {"string": "STRING", "int64": "BIGINT", "float64": "DOUBLE", "int32": "INT"}


@dataclass(frozen=True)
class Connectors:
    """WITH options of the three tables; `format` options are added by the renderer."""

    transactions: Mapping[str, str]
    aggregates: Mapping[str, str]
    late: Mapping[str, str]


def kinesis(
    input_arn: str,
    output_arn: str,
    late_arn: str,
    region: str,
    init_position: str = "LATEST",
    init_timestamp: str | None = None,
) -> Connectors:
    """Kinesis Data Streams via flink-sql-connector-kinesis 5.x (`kinesis`, FLIP-27 source)."""
    source = {
        "connector": "kinesis",
        "stream.arn": input_arn,
        "aws.region": region,
        "source.init.position": init_position,
    }
    if init_timestamp:
        source["source.init.timestamp"] = init_timestamp

    def sink(arn: str) -> dict[str, str]:
        return {
            "connector": "kinesis",
            "stream.arn": arn,
            "aws.region": region,
            "sink.flush-buffer.timeout": str(SINK_FLUSH_TIMEOUT_MS),
        }

    return Connectors(source, sink(output_arn), sink(late_arn))


def filesystem(input_path: str, output_path: str, late_path: str) -> Connectors:
    """The filesystem connector: newline-delimited files in, JSON part files out (tests, bench)."""
    return Connectors(
        {"connector": "filesystem", "path": input_path},
        {"connector": "filesystem", "path": output_path},
        {"connector": "filesystem", "path": late_path},
    )


PLACEHOLDERS = kinesis(
    "${input.stream.arn}",
    "${output.stream.arn}",
    "${late.stream.arn}",
    "${aws.region}",
    "${source.init.position}",
)


def _with(options: Mapping[str, str]) -> str:
    body = ",\n".join(f"  '{k}' = '{str(v).replace(chr(39), chr(39) * 2)}'" for k, v in options.items())
    return f"WITH (\n{body}\n)"


def _json_sink_format() -> dict[str, str]:
    return {"format": "json", "json.encode.decimal-as-plain-number": "true"}


def _interval(length: timedelta) -> str:
    """A day-time interval literal with millisecond precision."""
    ms = int(length.total_seconds() * 1000)
    days, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


def _json_text(name: str) -> str:
    return f"JSON_VALUE(payload, '$.{name}')"  # the text of a scalar; NULL when absent or not JSON


def _typed(name: str, text: str) -> str:
    """A transaction field from its text: NULL when absent or mistyped."""
    if name == SOURCE.event_time:
        return f"CAST(TO_TIMESTAMP(REPLACE(REPLACE({text}, 'T', ' '), 'Z', '')) AS TIMESTAMP_LTZ(3))"
    dtype = _JSON_TYPES[SOURCE.column(name).dtype]
    return text if dtype == "STRING" else f"TRY_CAST({text} AS {dtype})"


def _amount_ok(amount: str) -> str:
    # Finite and non-negative, as features.records decides (NaN fails every comparison).
    return f"{amount} BETWEEN 0 AND {_MAX_DOUBLE}"


def _source_table(options: Mapping[str, str]) -> str:
    """The raw payload plus the typed fields as computed columns, event time and watermark."""
    ts, amount = SOURCE.event_time, SOURCE.amount_column
    fields = ",\n".join(f"  {n} AS {_typed(n, _json_text(n))}" for n in TRANSACTION_FIELDS if n != ts)
    # An invalid row gets event time 0: Flink fails on a NULL rowtime, and an invalid row must
    # not move the watermark (as in the local engine); the routed view sends it to late records.
    # Computed columns cannot refer to each other, hence the repeated expressions.
    valid = " AND ".join(
        [
            *(f"{_typed(n, _json_text(n))} IS NOT NULL" for n in TRANSACTION_FIELDS if n not in (ts, amount)),
            _amount_ok(_typed(amount, _json_text(amount))),
        ]
    )
    return f"""CREATE TEMPORARY TABLE {SOURCE_TABLE} (
  payload STRING,
{fields},
  {ts}_text AS {_json_text(ts)},
  {ts} AS COALESCE(CASE WHEN {valid} THEN {_typed(ts, _json_text(ts))} END, {_EPOCH}),
  arrival AS PROCTIME(),
  WATERMARK FOR {ts} AS {ts} - {_interval(STREAM.out_of_orderness)}
) {_with({**options, "format": "raw"})}"""


def _late_when() -> str:
    """The CASE branch routing a row at or behind the watermark of the operator evaluating it."""
    ts, wm = SOURCE.event_time, f"CURRENT_WATERMARK({SOURCE.event_time})"
    return f"""WHEN {wm} IS NOT NULL AND {ts} <= {wm}
      THEN 'late: event time ' || DATE_FORMAT({ts}, '{ISO_MS_Z}') || ' is not after the watermark '
        || DATE_FORMAT({wm}, '{ISO_MS_Z}')"""


def _reason() -> str:
    """NULL for a row to aggregate; otherwise why it goes to late records (wording as the local engine)."""
    ts, amount = SOURCE.event_time, SOURCE.amount_column
    present = {n: f"{ts}_text" if n == ts else n for n in TRANSACTION_FIELDS}
    missing = " || ".join(f"CASE WHEN {col} IS NULL THEN ' {n}' ELSE '' END" for n, col in present.items())
    return f"""CASE
    WHEN {" OR ".join(f"{col} IS NULL" for col in present.values())}
      THEN 'invalid: missing or mistyped field(s):' || {missing}
    WHEN {_typed(ts, f"{ts}_text")} IS NULL THEN 'invalid: {ts} is not an ISO-8601 UTC time: ' || {ts}_text
    WHEN NOT ({_amount_ok(amount)}) THEN 'invalid: amount must be finite and non-negative'
    {_late_when()}
  END"""


def _routed_view() -> str:
    return f"""CREATE TEMPORARY VIEW routed AS
SELECT {", ".join(TRANSACTION_FIELDS)}, {SOURCE.event_time}_text, arrival,
  {_reason()} AS reason
FROM {SOURCE_TABLE}"""


def _on_time_view() -> str:
    """On-time rows, the first arrival of each transaction id (a redelivery is counted once)."""
    cols = ", ".join(TRANSACTION_FIELDS)
    return f"""CREATE TEMPORARY VIEW on_time AS
SELECT {cols}
FROM (
  SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {SOURCE.id_column} ORDER BY arrival ASC) AS tid_seen
  FROM routed
  WHERE reason IS NULL
)
WHERE tid_seen = 1"""


def _rechecked_view() -> str:
    """The second check, after the shuffle by tid: against the job's watermark (module docstring).
    CURRENT_WATERMARK is not deterministic, so the planner keeps this after the deduplication.
    Both INSERTs read this view with the same columns, so the planner builds ONE deduplication
    operator for both: its late and on-time decisions see the same watermark at the same row (two
    operators would each merge their inputs in their own order and could disagree: a row lost or
    counted twice). A test checks the plan."""
    cols = ", ".join(TRANSACTION_FIELDS)
    return f"""CREATE TEMPORARY VIEW rechecked AS
SELECT {cols},
  CASE
    {_late_when()}
  END AS reason
FROM on_time"""


def _window_query(inner: str, carried: list[str], window: Window) -> str:
    frame = (
        f"PARTITION BY {SOURCE.entity} ORDER BY {SOURCE.event_time} "
        f"RANGE BETWEEN {_interval(window.length)} PRECEDING AND CURRENT ROW"
    )
    # ABS is the identity here (counts, and aggregates of the amount, which is validated
    # non-negative). It keeps each level's renaming projection non-trivial: Flink 1.20 removes a
    # trivial one between stacked OVER aggregates and then fails on clashing internal names
    # ("Field names must be unique. Found duplicates: [w0$o0]").
    aggs = [
        f"CAST(ABS({a.function.upper()}({'*' if a.column is None else a.column}) OVER w_{window.suffix}) "
        f"AS {sql_type(a.feature_type)}) AS {a.name}"
        for a in aggregates_for(window)
    ]
    return (
        f"SELECT {', '.join(carried)},\n  {(',' + chr(10) + '  ').join(aggs)}\n"
        f"FROM ({inner})\nWINDOW w_{window.suffix} AS ({frame})"
    )


def _check_non_negative() -> None:
    """The ABS above is the identity only for non-negative aggregates: counts and the amount."""
    for agg in aggregates_of_kind("sliding"):
        if agg.column not in (None, SOURCE.amount_column):
            raise ValueError(f"{agg.name}: the Flink SQL aggregates the amount (validated non-negative) only")


def _aggregates_insert() -> str:
    _check_non_negative()
    query = f"SELECT {', '.join(TRANSACTION_FIELDS)} FROM rechecked WHERE reason IS NULL"
    carried = list(TRANSACTION_FIELDS)
    for window in windows("sliding"):
        query = _window_query(query, carried, window)
        carried = carried + [a.name for a in aggregates_for(window)]
    select = ", ".join(
        f"DATE_FORMAT({f}, '{ISO_MS_Z}') AS {f}" if f == SOURCE.event_time else f for f in AGGREGATE_FIELDS
    )
    return f"INSERT INTO {AGGREGATES_TABLE}\nSELECT {select}\nFROM (\n{query}\n)"


def _late_insert() -> str:
    # From the source: the event time as received (for an invalid row, what could not be parsed).
    # From the second check: the parsed time (the same instant), which keeps the view's columns
    # those of the aggregates' input (see _rechecked_view).
    ts = SOURCE.event_time
    received = ", ".join(f"{f}_text AS {f}" if f == ts else f for f in LATE_FIELDS)
    parsed = ", ".join(f"DATE_FORMAT({f}, '{ISO_MS_Z}') AS {f}" if f == ts else f for f in LATE_FIELDS)
    return (
        f"INSERT INTO {LATE_TABLE}\nSELECT {received}\nFROM routed\nWHERE reason IS NOT NULL\n"
        f"UNION ALL\nSELECT {parsed}\nFROM rechecked\nWHERE reason IS NOT NULL"
    )


def _sink_table(name: str, fields: tuple[str, ...], options: Mapping[str, str]) -> str:
    types = {a.name: sql_type(a.feature_type) for a in aggregates_of_kind("sliding")}
    cols = []
    for f in fields:
        if f == SOURCE.event_time or f == "reason":
            cols.append(f"  {f} STRING")
        elif f in types:
            cols.append(f"  {f} {types[f]}")
        else:
            cols.append(f"  {f} {_JSON_TYPES[SOURCE.column(f).dtype]}")
    return f"CREATE TEMPORARY TABLE {name} (\n{(',' + chr(10)).join(cols)}\n) {_with({**options, **_json_sink_format()})}"


def settings(dedup_ttl: str = DEFAULT_DEDUP_TTL, idle_timeout: str = DEFAULT_IDLE_TIMEOUT) -> dict[str, str]:
    # The TTL bounds the dedup state (one entry per tid); it is far longer than any window.
    return {**SETTINGS, "table.exec.state.ttl": dedup_ttl, "table.exec.source.idle-timeout": idle_timeout}


def statements(connectors: Connectors) -> list[str]:
    """DDL then the two INSERTs (run together as one statement set)."""
    return [
        _source_table(connectors.transactions),
        _sink_table(AGGREGATES_TABLE, AGGREGATE_FIELDS, connectors.aggregates),
        _sink_table(LATE_TABLE, LATE_FIELDS, connectors.late),
        _routed_view(),
        _on_time_view(),
        _rechecked_view(),
        _late_insert(),
        _aggregates_insert(),
    ]


def script(
    connectors: Connectors = PLACEHOLDERS,
    dedup_ttl: str = DEFAULT_DEDUP_TTL,
    idle_timeout: str = DEFAULT_IDLE_TIMEOUT,
) -> str:
    """The whole job as one SQL script (SET lines + statements), for people and the drift test."""
    header = (
        "-- Streaming aggregation for Managed Service for Apache Flink (Flink 1.20), rendered from\n"
        "-- features/definition.py. Do not edit: run `make render`. ${...} are the app's runtime\n"
        "-- properties; the tests run the same statements with the filesystem connector.\n"
        "-- The two INSERTs run as one statement set.\n"
    )
    sets = "".join(f"SET '{k}' = '{v}';\n" for k, v in settings(dedup_ttl, idle_timeout).items())
    return header + "\n" + sets + "\n" + ";\n\n".join(statements(connectors)) + ";\n"
