"""The comparison, as SQL rendered from the definition for each batch engine (features.batch_sql's Dialect).

Inputs (views the job registers):
  served_raw    one row per prediction record: tid, cc_num, event_ms, probability, snapshot_caveat
                (the record carries a caveat about its batch snapshot: unknown card, or a snapshot
                newer than the event) and s_<feature> for every model input, as served;
  training_raw  the batch job's training rows (features.batch_sql's `training`);
  snapshots_raw the batch job's daily snapshots (optional: `snapshots` is then empty).
Outputs: `reasons` (one row per served transaction with its match flags and reason), `scored`
(label, served probability and the batch features, which jobs.consistency.scores scores with the
model and turns into AUCs), and the summary queries below.

A served transaction's reason, the first that holds:
  not_in_batch          the batch job has no row with its tid (its history lacks the transaction);
  match                 every model input equal to the batch row's within RELATIVE_TOLERANCE (a served
                        null, the codec's spelling of a value that is not finite, equals a batch
                        NaN or infinity);
  same_timestamp_peers  its card has another transaction at the same event time: the streaming
                        engines order same-time transactions by arrival, the batch window counts
                        them all;
  late_or_dead_lettered every mismatched sliding-window feature is explained by a transaction of the
                        card within the longest sliding window before it that the batch job counted
                        but nothing served (it was late, dead-lettered or never streamed);
  snapshot_not_loaded   every mismatched daily-snapshot feature is explained by the served record:
                        it carries a snapshot caveat, or its values are the card's snapshot at an
                        earlier midnight (the day's refresh had not landed);
  unexplained           anything else, including a ratio that differs while its operands agree.
Everything is in epoch milliseconds: neither engine's session time zone matters.
"""

from __future__ import annotations

from features.batch_sql import MS_PER_DAY, Dialect
from features.definition import (
    EVENT_TIME_FEATURE,
    MODEL_INPUT,
    RATIOS,
    SOURCE,
    aggregates_of_kind,
)

RELATIVE_TOLERANCE = 1e-9
LARGEST_DOUBLE = 1.7976931348623157e308
MATCH = "match"
PEERS = "same_timestamp_peers"
LATE = "late_or_dead_lettered"
SNAPSHOT = "snapshot_not_loaded"
NOT_IN_BATCH = "not_in_batch"
UNEXPLAINED = "unexplained"
REASONS = (MATCH, PEERS, LATE, SNAPSHOT, NOT_IN_BATCH, UNEXPLAINED)
# Reasons that count against the job (its exit status, the alarm's metric).
UNEXPLAINED_REASONS = (NOT_IN_BATCH, UNEXPLAINED)
SAMPLE_ROWS = 50

SLIDING = tuple(a.name for a in aggregates_of_kind("sliding"))
SNAPSHOT_FEATURES = tuple(a.name for a in aggregates_of_kind("daily_snapshot"))
LONGEST_SLIDING_MS = max(a.window.length_ms for a in aggregates_of_kind("sliding"))
SNAPSHOT_DAYS = max(a.window.length_days for a in aggregates_of_kind("daily_snapshot"))


def _same(served: str, batch: str) -> str:
    """Equal within the relative tolerance, or both not finite: the served record carries a NaN or an
    infinity as null (JSON has neither). Any other NULL on either side is a mismatch."""

    # NaN compares above every number (and equal to NaN) on both engines: false for NaN and +-infinity.
    def finite(x: str) -> str:
        return f"ABS({x}) <= {LARGEST_DOUBLE!r}"

    near = f"ABS({served} - {batch}) <= {RELATIVE_TOLERANCE!r} * GREATEST(ABS({served}), ABS({batch}))"
    return (
        f"COALESCE({served} = {batch} OR ({finite(served)} AND {finite(batch)} AND {near})"
        f" OR ({served} IS NULL AND NOT {finite(batch)}), FALSE)"
    )


def _any(flags: list[str]) -> str:
    return "(" + " OR ".join(flags) + ")" if flags else "FALSE"


def _ratio_orphans() -> str:
    """A ratio differing while none of its operands does: the ratio itself is computed differently."""
    parts = [
        f"(m_{r.name} AND NOT (m_{r.numerator} OR m_{r.denominator}))"
        for r in RATIOS
        if r.numerator in MODEL_INPUT and r.denominator in MODEL_INPUT
    ]
    return _any(parts)


def statements(dialect: Dialect, with_snapshots: bool = True) -> list[tuple[str, str]]:
    """(view name, SELECT) pairs in dependency order; the inputs are registered before."""
    entity, tid = SOURCE.entity, SOURCE.id_column
    served_cols = ", ".join(f"s_{f}" for f in MODEL_INPUT)
    served = f"""
SELECT {tid}, {entity}, event_ms, probability, snapshot_caveat, {served_cols}, copies
FROM (
  SELECT {tid}, {entity}, event_ms, probability, snapshot_caveat, {served_cols},
    ROW_NUMBER() OVER (PARTITION BY {tid} ORDER BY event_ms, probability) AS seen,
    COUNT(*) OVER (PARTITION BY {tid}) AS copies
  FROM served_raw
) ranked
WHERE seen = 1"""
    batch_cols = ", ".join(f"CAST({f} AS DOUBLE) AS b_{f}" for f in MODEL_INPUT)
    batch = f"""
SELECT {tid}, {entity}, {dialect.epoch_ms.format(SOURCE.event_time)} AS event_ms,
  CAST({SOURCE.label_column} AS INT) AS label, {batch_cols}
FROM training_raw"""
    bounds = "SELECT MIN(event_ms) AS lo, MAX(event_ms) AS hi FROM served"
    # Batch rows that can explain a served transaction: the served period and one window before it.
    batch_period = f"""
SELECT b.* FROM batch b CROSS JOIN bounds
WHERE b.event_ms >= bounds.lo - {LONGEST_SLIDING_MS} AND b.event_ms <= bounds.hi"""
    peers = f"""
SELECT {entity}, event_ms FROM batch_period GROUP BY {entity}, event_ms HAVING COUNT(*) > 1"""
    unserved = f"""
SELECT b.{tid}, b.{entity}, b.event_ms FROM batch_period b
LEFT JOIN served s ON s.{tid} = b.{tid}
WHERE s.{tid} IS NULL"""

    flags = ",\n  ".join(
        f"CASE WHEN b.{tid} IS NULL THEN FALSE ELSE NOT {_same(f's.s_{f}', f'b.b_{f}')} END AS m_{f}"
        for f in MODEL_INPUT
    )
    joined = f"""
SELECT s.*, b.{tid} IS NOT NULL AS in_batch, b.label, {", ".join(f"b.b_{f}" for f in MODEL_INPUT)},
  {flags}
FROM served s LEFT JOIN batch b ON b.{tid} = s.{tid}"""
    sliding_bad = _any([f"m_{f}" for f in (SOURCE.amount_column, *SLIDING) if f in MODEL_INPUT])
    snapshot_bad = _any([f"m_{f}" for f in SNAPSHOT_FEATURES if f in MODEL_INPUT])
    flagged = f"""
SELECT j.*, {sliding_bad} AS sliding_bad, {snapshot_bad} AS snapshot_bad,
  {_ratio_orphans()} AS ratio_orphan, {_any([f"m_{f}" for f in MODEL_INPUT])} AS any_bad
FROM joined j"""
    # Only mismatched transactions look for explanations: the joins stay small.
    late_explained = f"""
SELECT f.{tid} FROM flagged f
JOIN unserved u ON u.{entity} = f.{entity}
  AND u.event_ms >= f.event_ms - {LONGEST_SLIDING_MS} AND u.event_ms <= f.event_ms
WHERE f.sliding_bad
GROUP BY f.{tid}"""
    if with_snapshots:
        same_snapshot = " AND ".join(_same(f"f.s_{a}", f"p.{a}") for a in SNAPSHOT_FEATURES)
        earlier = f"""
SELECT f.{tid} FROM flagged f
JOIN snapshots_raw p ON p.{entity} = f.{entity}
  AND p.{EVENT_TIME_FEATURE} * 1000 < FLOOR(f.event_ms / {MS_PER_DAY}) * {MS_PER_DAY}
  AND p.{EVENT_TIME_FEATURE} * 1000 >= FLOOR(f.event_ms / {MS_PER_DAY}) * {MS_PER_DAY} - {SNAPSHOT_DAYS * MS_PER_DAY}
WHERE f.snapshot_bad AND NOT f.snapshot_caveat AND {same_snapshot}
UNION ALL
"""
    else:
        earlier = ""
    snapshot_explained = f"""
SELECT DISTINCT {tid} FROM ({earlier}
SELECT f.{tid} FROM flagged f WHERE f.snapshot_bad AND f.snapshot_caveat
) explained"""
    reasons = f"""
SELECT f.*,
  CASE
    WHEN NOT f.in_batch THEN '{NOT_IN_BATCH}'
    WHEN NOT f.any_bad THEN '{MATCH}'
    WHEN p.{entity} IS NOT NULL THEN '{PEERS}'
    WHEN f.ratio_orphan THEN '{UNEXPLAINED}'
    WHEN (NOT f.sliding_bad OR l.{tid} IS NOT NULL) AND (NOT f.snapshot_bad OR e.{tid} IS NOT NULL)
      THEN CASE WHEN f.sliding_bad THEN '{LATE}' ELSE '{SNAPSHOT}' END
    ELSE '{UNEXPLAINED}'
  END AS reason
FROM flagged f
LEFT JOIN peers p ON p.{entity} = f.{entity} AND p.event_ms = f.event_ms
LEFT JOIN late_explained l ON l.{tid} = f.{tid}
LEFT JOIN snapshot_explained e ON e.{tid} = f.{tid}"""
    scored = f"""
SELECT {tid}, label, probability AS served_probability, {", ".join(f"b_{f}" for f in MODEL_INPUT)}
FROM reasons WHERE in_batch"""
    return [
        ("served", served),
        ("batch", batch),
        ("bounds", bounds),
        ("batch_period", batch_period),
        ("peers", peers),
        ("unserved", unserved),
        ("joined", joined),
        ("flagged", flagged),
        ("late_explained", late_explained),
        ("snapshot_explained", snapshot_explained),
        ("reasons", reasons),
        ("scored", scored),
    ]


# Views read more than once: engines materialize (DuckDB) or cache (Spark) them.
REUSED_VIEWS = ("served", "batch_period", "flagged", "reasons")


def summary_query() -> str:
    """One row: served, duplicates, then a count per reason, then a mismatch count per feature."""
    per_reason = ", ".join(f"SUM(CASE WHEN reason = '{r}' THEN 1 ELSE 0 END) AS r_{r}" for r in REASONS)
    per_feature = ", ".join(f"SUM(CASE WHEN m_{f} THEN 1 ELSE 0 END) AS m_{f}" for f in MODEL_INPUT)
    return (
        f"SELECT COUNT(*) AS served, SUM(copies - 1) AS duplicates, "
        f"SUM(CASE WHEN in_batch THEN 1 ELSE 0 END) AS compared, {per_reason}, {per_feature} FROM reasons"
    )


def unserved_query() -> str:
    """Batch transactions of the served period that no prediction served (late, dead-lettered, lost)."""
    return "SELECT COUNT(*) FROM unserved u CROSS JOIN bounds WHERE u.event_ms >= bounds.lo"


def sample_query(limit: int = SAMPLE_ROWS) -> str:
    cols = ", ".join(f"s_{f}, b_{f}, m_{f}" for f in MODEL_INPUT)
    return (
        f"SELECT {SOURCE.id_column}, {SOURCE.entity}, event_ms, reason, {cols} FROM reasons "
        f"WHERE reason <> '{MATCH}' ORDER BY CASE WHEN reason IN ('{UNEXPLAINED}', '{NOT_IN_BATCH}') "
        f"THEN 0 ELSE 1 END, event_ms, {SOURCE.id_column} LIMIT {int(limit)}"
    )


def script(dialect: Dialect, with_snapshots: bool = True) -> str:
    """The statements as one SQL script, for reading."""
    body = "\n\n".join(
        f"CREATE OR REPLACE TEMPORARY VIEW {name} AS{select.rstrip()};"
        for name, select in statements(dialect, with_snapshots)
    )
    return f"-- Consistency comparison for {dialect.name}, rendered from features/definition.py.\n\n{body}\n"
