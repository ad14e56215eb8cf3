"""Type and validate the raw history and the live archive before aggregation.

The raw input (Parquet, or the seed's CSV layout read as text) is registered as view
`raw_input`; `typed_select` converts it to the source schema (a value that does not convert
becomes NULL), and `check` counts what did not convert, so a bad file ends the job with one clear
line.

The live archive (the transactions the stream carried, as text: view `raw_live`) has no label:
`live_select` types it with a NULL label, "not known yet". Its invalid rows are the ones the
streaming job dead-letters: they are counted and left out (`valid_live`), never fatal, so that the
batch features cover exactly the transactions the stream aggregated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from features.batch_sql import NO_HINTS, Dialect, Hints, distinct_id_hashes
from features.definition import SOURCE, Column
from jobs.batch.compat import zip_strict

# What a transactions-stream record carries: the source columns but the label.
LIVE_COLUMNS = tuple(c for c in SOURCE.columns if c.name != SOURCE.label_column)


class InputError(ValueError):
    """The input cannot be aggregated; the message names the file and the problem."""


def resolve_columns(raw_columns: list[str], path: str) -> dict[str, str]:
    """Source column -> raw column, accepting the seed CSV's `datetime` for `trans_ts`."""
    present = {c.lower(): c for c in raw_columns}
    aliases = {target: alias for alias, target in SOURCE.csv_aliases}
    mapping, missing = {}, []
    for column in SOURCE.columns:
        raw = present.get(column.name) or present.get(aliases.get(column.name, ""))
        if raw is None:
            missing.append(column.name)
        else:
            mapping[column.name] = raw
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(raw_columns) or 'none'})"
        )
    return mapping


def typed_select(dialect: Dialect, mapping: dict[str, str]) -> str:
    casts = ", ".join(
        f"{dialect.safe_cast.format(expr=mapping[c.name], type=dialect.types[c.dtype])} AS {c.name}"
        for c in SOURCE.columns
    )
    return f"SELECT {casts} FROM raw_input"


def live_select(dialect: Dialect) -> str:
    """The live archive's rows in the source schema (`typed_select`'s column order, so the two union);
    the label is NULL: unknown when the transaction was served."""
    items = [
        dialect.safe_cast.format(expr=c.name, type=dialect.types[c.dtype])
        if c in LIVE_COLUMNS
        else f"CAST(NULL AS {dialect.types[c.dtype]})"
        for c in SOURCE.columns
    ]
    return f"SELECT {', '.join(f'{item} AS {c.name}' for item, c in zip_strict(items, SOURCE.columns))} FROM raw_live"


def valid_live(relation: str, dialect: Dialect, until_ms: int | None = None) -> str:
    """The rows of `relation` (typed by `live_select`) the streaming job would aggregate, with an event
    time before `until_ms` (epoch ms; None: every one)."""
    return f"SELECT * FROM {relation} WHERE NOT ({_live_invalid()}) AND {_before(dialect, until_ms)}"


def live_counts_query(relation: str, dialect: Dialect, until_ms: int | None = None) -> str:
    """One row: the live rows, how many are invalid, and how many valid ones are at or after
    `until_ms` (left for a later run)."""
    bad = _live_invalid()
    return (
        f"SELECT COUNT(*), SUM(CASE WHEN {bad} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN NOT ({bad}) AND NOT ({_before(dialect, until_ms)}) THEN 1 ELSE 0 END) FROM {relation}"
    )


def _live_invalid() -> str:
    """True for a live row the streaming job would dead-letter (never NULL: each part is IS NULL or a
    comparison of a value known not to be NULL)."""
    return " OR ".join(_invalid(c.name, c) for c in LIVE_COLUMNS)


def _before(dialect: Dialect, until_ms: int | None) -> str:
    """True for a valid row with an event time before `until_ms` (always, when None)."""
    return "TRUE" if until_ms is None else f"{dialect.epoch_ms.format(SOURCE.event_time)} < {int(until_ms)}"


def _invalid(value: str, column: Column) -> str:
    """A condition true when `value`, the typed value of `column`, was missing or did not convert."""
    bad = f"{value} IS NULL"  # the safe cast yields NULL for a missing or unconvertible value
    if column.name == SOURCE.amount_column:
        # NaN sorts above every number in both engines, so this rejects NaN, infinities, negatives.
        bad = f"({bad} OR NOT ({value} >= 0 AND {value} < CAST('Infinity' AS DOUBLE)))"
    return bad


def problems_query(relation: str) -> str:
    """One row: total rows, then per source column the bad-row count, over typed rows.

    Counts only: a MIN over strings would make Spark aggregate row by row (no hash aggregate for
    string buffers); the rare bad column's example is fetched from the raw rows by a second query.
    """
    parts = ["COUNT(*) AS total"]
    parts += [
        f"SUM(CASE WHEN {_invalid(c.name, c)} THEN 1 ELSE 0 END) AS bad_{c.name}" for c in SOURCE.columns
    ]
    return f"SELECT {', '.join(parts)} FROM {relation}"


def example_query(dialect: Dialect, mapping: dict[str, str], column: Column) -> str:
    """One row: the smallest bad raw value of `column` as text (NULL when the value is missing)."""
    raw = mapping[column.name]
    converted = dialect.safe_cast.format(expr=raw, type=dialect.types[column.dtype])
    return f"SELECT MIN(CAST({raw} AS {dialect.types['string']})) FROM raw_input WHERE {_invalid(converted, column)}"


@dataclass(frozen=True)
class Summary:
    rows: int
    unique_ids: bool  # proven: no transaction id repeats, so the job needs no dedup


def check(
    fetch_one: Callable[[str], tuple],
    dialect: Dialect,
    mapping: dict[str, str],
    path: str,
    relation: str,
    hints: Hints = NO_HINTS,
    unlabeled: int = 0,
) -> Summary:
    """Raise InputError for an empty input or unconvertible values; return what the job needs to know.

    `relation` holds the typed rows (`typed_select`'s columns; others are ignored): the job passes
    its materialized `tx`, so validating costs no further scan of the input. `unlabeled`: how many
    of them are valid live rows, whose label is NULL by design; every other row needs one.
    """
    total, *bad_counts = fetch_one(problems_query(relation))
    if not total:
        raise InputError(f"{path}: no transactions (empty input)")
    for column, bad in zip_strict(SOURCE.columns, bad_counts):
        if column.name == SOURCE.label_column:
            bad = (bad or 0) - unlabeled
        if bad:
            (example,) = fetch_one(example_query(dialect, mapping, column))
            shown = "null" if example is None else repr(example)
            raise InputError(
                f"{path}: {bad} row(s) with a missing or invalid {column.name} ({column.dtype}), e.g. {shown}"
            )
    (id_hashes,) = fetch_one(distinct_id_hashes(dialect, SOURCE.id_column, relation, hints))
    return Summary(int(total), id_hashes == total)
