"""Render the batch aggregation SQL from the definition, for each batch engine.

The job registers the raw history as a view `transactions` (the source columns, event time as
a timestamp) and runs these statements in order; each creates a temporary view. The outputs
are the views `training`, `snapshots` and `online`.

Everything is in event time (epoch milliseconds), so neither engine's session time zone
matters. The SQL sticks to what Spark 3.3 (SageMaker Processing), Spark 4.x and DuckDB share;
the few spellings that differ live in `Dialect`. The SQL says what to compute; how an engine
executes it is the engine's (jobs/batch/engines.py), which may pass physical `Hints` to place in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.definition import (
    AGGREGATES,
    EVENT_TIME_FEATURE,
    RATIOS,
    SOURCE,
    Aggregate,
    Ratio,
    aggregates_for,
    aggregates_of_kind,
    windows,
)
from features.feature_groups import group_for, record_features, sql_type

MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Dialect:
    name: str
    epoch_ms: str  # format string over a timestamp expression
    day_series: str  # format string: one row per integer from {lo} to {hi}, inclusive, column snapshot_day
    safe_cast: str  # format string {expr} {type}: NULL when the value does not convert
    types: dict[str, str]  # source column dtype -> SQL type
    hash64: str  # format string: a 64-bit hash of a string expression (equal strings, equal hashes)


@dataclass(frozen=True)
class Hints:
    """An engine's physical hints, placed where the SQL leaves room for them; none by default.

    They change how the engine executes the statements, never their results.
    """

    # Format string {key}: a clause placing equal keys together before a GROUP BY key.
    cluster: str = ""
    # A clause appended to `tx`: how its rows are partitioned and ordered once materialized.
    layout: str = ""
    # Format string {expr} {zero}: declares an output column that is never NULL.
    not_null: str = ""


NO_HINTS = Hints()


DUCKDB = Dialect(
    name="duckdb",
    epoch_ms="epoch_ms({})",
    day_series="UNNEST(GENERATE_SERIES({lo}, {hi})) AS snapshot_day",
    safe_cast="TRY_CAST({expr} AS {type})",
    # TIMESTAMPTZ so the Parquet output is marked UTC, as Spark marks it.
    types={
        "string": "VARCHAR",
        "timestamp": "TIMESTAMPTZ",
        "int64": "BIGINT",
        "float64": "DOUBLE",
        "int32": "INTEGER",
    },
    hash64="hash({})",
)
SPARK = Dialect(
    name="spark",
    epoch_ms="unix_millis({})",
    day_series="EXPLODE(SEQUENCE({lo}, {hi})) AS snapshot_day",
    # The job runs with spark.sql.ansi.enabled=false, where CAST yields NULL on bad input (3.3 and 4.x).
    safe_cast="CAST({expr} AS {type})",
    types={
        "string": "STRING",
        "timestamp": "TIMESTAMP",
        "int64": "BIGINT",
        "float64": "DOUBLE",
        "int32": "INT",
    },
    hash64="xxhash64({})",
)
DIALECTS = {d.name: d for d in (DUCKDB, SPARK)}

OUTPUT_VIEWS = ("training", "snapshots", "online")
# Views read by more than one output: engines materialize (DuckDB) or cache (Spark) them.
REUSED_VIEWS = ("tx", "snapshots_by_day")


def _output(hints: Hints, expr: str, name: str, dtype: str | None = None) -> str:
    """An output column that is never NULL, declared so where the engine's hints ask for it.

    `dtype`: a source column's type; features and ratios are numbers (zero 0).
    """
    if hints.not_null:
        zero = {"string": "''", "timestamp": "TIMESTAMP '1970-01-01 00:00:00'"}.get(dtype, "0")
        expr = hints.not_null.format(expr=expr, zero=zero)
    return expr if expr == name else f"{expr} AS {name}"


def sliding_expr(agg: Aggregate) -> str:
    """`agg` over its sliding window as a SELECT item named after it, over rows with the entity
    and `event_ms` (epoch milliseconds) columns: the batch job's, and any query that needs one more."""
    frame = (
        f"PARTITION BY {SOURCE.entity} ORDER BY event_ms "
        f"RANGE BETWEEN {agg.window.length_ms} PRECEDING AND CURRENT ROW"
    )
    arg = "*" if agg.column is None else agg.column
    return f"CAST({agg.function.upper()}({arg}) OVER ({frame}) AS {sql_type(agg.feature_type)}) AS {agg.name}"


# Daily partial aggregates, combined over the snapshot window. avg = sum / count.
def _partials(agg: Aggregate) -> dict[str, tuple[str, str]]:
    """name -> (daily expression, how partials combine over days)."""
    if agg.function == "count":
        return {"p_count": ("COUNT(*)", "SUM")}
    col = agg.column
    if agg.function == "avg":
        return {f"p_sum_{col}": (f"SUM({col})", "SUM"), f"p_count_{col}": (f"COUNT({col})", "SUM")}
    if agg.function == "sum":
        return {f"p_sum_{col}": (f"SUM({col})", "SUM")}
    return {f"p_{agg.function}_{col}": (f"{agg.function.upper()}({col})", agg.function.upper())}


def _snapshot_final(agg: Aggregate) -> str:
    """An empty window yields 0, for every function (train and serve alike)."""
    if agg.function == "avg":
        s, n = f"w_sum_{agg.column}", f"w_count_{agg.column}"
        expr = f"CASE WHEN {n} > 0 THEN {s} / {n} ELSE 0 END"
    else:
        expr = f"COALESCE({next(iter(_partials(agg))).replace('p_', 'w_', 1)}, 0)"
    return f"CAST({expr} AS {sql_type(agg.feature_type)}) AS {agg.name}"


def _ratio_expr(ratio: Ratio) -> str:
    numerator, denominator, dtype = ratio.numerator, ratio.denominator, sql_type(ratio.feature_type)
    return (
        f"CASE WHEN {denominator} IS NULL OR {denominator} = 0 THEN CAST(0 AS {dtype}) "
        f"ELSE CAST({numerator} AS {dtype}) / {denominator} END"
    )


def statements(dialect: Dialect, dedup: bool = True, hints: Hints = NO_HINTS) -> list[tuple[str, str]]:
    """(view name, SELECT) pairs, in dependency order, with the engine's physical `hints` in place.

    `dedup=False` leaves out the ranking that keeps one row per transaction id: only for an input
    known to hold no repeated id (see `distinct_id_hashes`), where the ranking changes nothing.
    """
    entity = SOURCE.entity
    source_cols = ", ".join(c.name for c in SOURCE.columns)
    (snapshot_window,) = windows("daily_snapshot")
    snapshot_aggs = aggregates_for(snapshot_window)
    sliding_aggs = aggregates_of_kind("sliding")
    partials: dict[str, tuple[str, str]] = {}
    for agg in snapshot_aggs:
        partials.update(_partials(agg))
    days = snapshot_window.length_days
    frame = f"PARTITION BY c.{entity} ORDER BY c.snapshot_day RANGE BETWEEN {days} PRECEDING AND 1 PRECEDING"
    group_cols = [f.name for f in record_features(group_for("daily_snapshot"))]

    layout = f"\n{hints.layout}" if hints.layout else ""
    # A transaction id seen twice is counted once; its labelled row is kept over a live one (a label
    # feed may write a served transaction to the history after the archive has it).
    ranking, keep_first = (
        (
            f",\n         ROW_NUMBER() OVER (PARTITION BY {SOURCE.id_column} "
            f"ORDER BY CASE WHEN {SOURCE.label_column} IS NULL THEN 1 ELSE 0 END, "
            f"{SOURCE.event_time}, {entity}, {SOURCE.amount_column}) AS tid_seen",
            "\nWHERE tid_seen = 1",
        )
        if dedup
        else ("", "")
    )
    tx = f"""
SELECT {source_cols}, event_ms, CAST(FLOOR(event_ms / {MS_PER_DAY}) AS BIGINT) AS event_day
FROM (
  SELECT {source_cols}, {dialect.epoch_ms.format(SOURCE.event_time)} AS event_ms{ranking}
  FROM transactions
) ranked{keep_first}{layout}"""

    sliding = f"""
SELECT tx.*,
  {("," + chr(10) + "  ").join(sliding_expr(a) for a in sliding_aggs)}
FROM tx"""

    daily = f"""
SELECT {entity}, event_day, {", ".join(f"{expr} AS {name}" for name, (expr, _) in partials.items())}
FROM tx
GROUP BY {entity}, event_day"""

    # Every card gets a snapshot at every midnight after its first transaction, through the
    # midnight after the last transaction: a silent card's window empties instead of going stale.
    card_days = f"""
SELECT span.{entity}, span.first_day, calendar.snapshot_day
FROM (SELECT {entity}, MIN(event_day) AS first_day FROM daily GROUP BY {entity}) span
JOIN (
  SELECT {dialect.day_series.format(lo="lo", hi="hi")}
  FROM (SELECT MIN(event_day) AS lo, MAX(event_day) + 1 AS hi FROM daily) bounds
) calendar ON calendar.snapshot_day >= span.first_day"""

    windowed = ",\n  ".join(
        f"{combine}(d.{name}) OVER ({frame}) AS {name.replace('p_', 'w_', 1)}"
        for name, (_, combine) in partials.items()
    )
    snapshots_by_day = f"""
SELECT {entity}, snapshot_day, CAST(snapshot_day * 86400 AS DOUBLE) AS {EVENT_TIME_FEATURE},
  {("," + chr(10) + "  ").join(_snapshot_final(a) for a in snapshot_aggs)}
FROM (
  SELECT c.{entity}, c.first_day, c.snapshot_day,
  {windowed}
  FROM card_days c
  LEFT JOIN daily d ON d.{entity} = c.{entity} AND d.event_day = c.snapshot_day
) w
WHERE snapshot_day > first_day"""

    snapshots = f"""
SELECT {", ".join(group_cols)} FROM snapshots_by_day"""

    # Every card has a snapshot at the midnight after the last transaction (card_days), so the
    # latest snapshots are that day's: a filter, no ranking per card.
    online = f"""
SELECT {", ".join(group_cols)}
FROM snapshots_by_day
WHERE snapshot_day = (SELECT MAX(snapshot_day) FROM snapshots_by_day)"""

    # As-of join: the latest snapshot with D <= t is the one at the midnight of t's own day.
    snapshot_cols = ",\n    ".join(f"COALESCE(s.{a.name}, 0) AS {a.name}" for a in snapshot_aggs)
    sliding_cols = ", ".join(f"f.{a.name}" for a in sliding_aggs)
    dtypes = {c.name: c.dtype for c in SOURCE.columns}
    training_out = ",\n  ".join(
        [
            *(
                _output(hints, c, c, dtypes[c])
                for c in (SOURCE.id_column, SOURCE.event_time, entity, SOURCE.amount_column)
            ),
            *(_output(hints, a.name, a.name) for a in AGGREGATES),
            *(_output(hints, _ratio_expr(r), r.name) for r in RATIOS),
            # NULL for a live transaction (no label yet): training leaves those rows out.
            SOURCE.label_column,
        ]
    )
    training = f"""
SELECT
  {training_out}
FROM (
  SELECT f.{SOURCE.id_column}, f.{SOURCE.event_time}, f.{entity}, f.{SOURCE.amount_column}, f.{SOURCE.label_column}, {sliding_cols},
    {snapshot_cols}
  FROM sliding f
  LEFT JOIN snapshots_by_day s ON s.{entity} = f.{entity} AND s.snapshot_day = f.event_day
) joined"""

    return [
        ("tx", tx),
        ("sliding", sliding),
        ("daily", daily),
        ("card_days", card_days),
        ("snapshots_by_day", snapshots_by_day),
        ("snapshots", snapshots),
        ("online", online),
        ("training", training),
    ]


def distinct_id_hashes(dialect: Dialect, ids: str, relation: str, hints: Hints = NO_HINTS) -> str:
    """A query: how many distinct 64-bit hashes the transaction ids (expression `ids`) of `relation` have.

    Equal ids hash equal, so as many distinct hashes as rows proves every id unique (exactly);
    fewer means a repeated id or a hash collision, and the job keeps the ranking.
    """
    cluster = f" {hints.cluster.format(key='id_hash')}" if hints.cluster else ""
    return (
        f"SELECT COUNT(*) FROM (SELECT id_hash FROM (SELECT {dialect.hash64.format(ids)} AS id_hash "
        f"FROM {relation}{cluster}) ids GROUP BY id_hash) distinct_ids"
    )


def script(dialect: Dialect, dedup: bool = True, hints: Hints = NO_HINTS) -> str:
    """The statements as one SQL script, for reading and for the drift test (rendered without hints)."""
    header = (
        f"-- Batch aggregation for {dialect.name}, rendered from features/definition.py.\n"
        "-- Do not edit: run `make render` (python -m features render).\n"
        "-- Input: view `transactions`. Outputs: views training, snapshots, online.\n"
    )
    body = "\n\n".join(
        f"CREATE OR REPLACE TEMPORARY VIEW {name} AS{select.rstrip()};"
        for name, select in statements(dialect, dedup, hints)
    )
    return header + "\n" + body + "\n"
