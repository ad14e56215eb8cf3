"""Type and validate the raw history before aggregation.

The raw input (Parquet, or the seed's CSV layout read as text) is registered as view
`raw_input`; `typed_select` converts it to the source schema as view `transactions`, and
`problems` finds what does not convert, so a bad file ends the job with one clear line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from features.batch_sql import Dialect, distinct_id_hashes
from features.definition import SOURCE, Column


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
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(raw_columns) or 'none'})")
    return mapping


def typed_select(dialect: Dialect, mapping: dict[str, str]) -> str:
    casts = ", ".join(
        f"{dialect.safe_cast.format(expr=mapping[c.name], type=dialect.types[c.dtype])} AS {c.name}"
        for c in SOURCE.columns
    )
    return f"SELECT {casts} FROM raw_input"


def _bad_row(dialect: Dialect, mapping: dict[str, str], column: Column) -> str:
    """A condition true for a raw row whose `column` is missing or does not convert."""
    raw = mapping[column.name]
    converted = dialect.safe_cast.format(expr=raw, type=dialect.types[column.dtype])
    bad = f"({raw} IS NULL OR {converted} IS NULL)"
    if column.name == SOURCE.amount_column:
        # NaN sorts above every number in both engines, so this rejects NaN, infinities, negatives.
        bad = f"({bad} OR NOT ({converted} >= 0 AND {converted} < CAST('Infinity' AS DOUBLE)))"
    return bad


def problems_query(dialect: Dialect, mapping: dict[str, str]) -> str:
    """One row: total rows, then per source column the bad-row count.

    Counts only: a MIN over strings would make Spark aggregate row by row (no hash aggregate for
    string buffers); the rare bad column's example is fetched by a second query.
    """
    parts = ["COUNT(*) AS total"]
    parts += [f"SUM(CASE WHEN {_bad_row(dialect, mapping, c)} THEN 1 ELSE 0 END) AS bad_{c.name}" for c in SOURCE.columns]
    return f"SELECT {', '.join(parts)} FROM raw_input"


def id_hashes_query(dialect: Dialect, mapping: dict[str, str]) -> str:
    """One row: how many distinct hashes the (valid) transaction ids have."""
    ids = dialect.safe_cast.format(expr=mapping[SOURCE.id_column], type=dialect.types["string"])
    return distinct_id_hashes(dialect, ids, "raw_input")


def example_query(dialect: Dialect, mapping: dict[str, str], column: Column) -> str:
    """One row: the smallest bad raw value of `column` as text (NULL when the value is missing)."""
    raw = mapping[column.name]
    return (
        f"SELECT MIN(CAST({raw} AS {dialect.types['string']})) FROM raw_input "
        f"WHERE {_bad_row(dialect, mapping, column)}"
    )


@dataclass(frozen=True)
class Summary:
    rows: int
    unique_ids: bool  # proven: no transaction id repeats, so the job needs no dedup


def check(fetch_one: Callable[[str], tuple], dialect: Dialect, mapping: dict[str, str], path: str) -> Summary:
    """Raise InputError for an empty input or unconvertible values; return what the job needs to know."""
    total, *bad_counts = fetch_one(problems_query(dialect, mapping))
    if not total:
        raise InputError(f"{path}: no transactions (empty input)")
    for column, bad in zip(SOURCE.columns, bad_counts, strict=True):
        if bad:
            (example,) = fetch_one(example_query(dialect, mapping, column))
            shown = "null" if example is None else repr(example)
            raise InputError(f"{path}: {bad} row(s) with a missing or invalid {column.name} ({column.dtype}), e.g. {shown}")
    (id_hashes,) = fetch_one(id_hashes_query(dialect, mapping))
    return Summary(int(total), id_hashes == total)
