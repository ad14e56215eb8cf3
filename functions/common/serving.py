"""Serving-side feature math, derived from the definition (the batch SQL applies the same rules).

- 1-week features come from the card's online cc-agg-batch-fg record; a card with no record gets
  the empty-window value 0, as the batch job gives a card on its first day.
- Ratios: numerator / denominator, 0 when the denominator is missing or zero.
- The model input is features.definition.MODEL_INPUT, in order, as CSV rows without a header.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping, Sequence

from features.codec import ModelInput
from features.definition import EVENT_TIME_FEATURE, MODEL_INPUT, RATIOS, SOURCE, aggregates_of_kind
from features.feature_groups import group_for, record_features

SNAPSHOT_AGGREGATES = aggregates_of_kind("daily_snapshot")
# What the score function reads from cc-agg-batch-fg: the event time and the 1-week aggregates.
BATCH_FEATURE_NAMES: tuple[str, ...] = tuple(
    f.name for f in record_features(group_for("daily_snapshot")) if f.name != SOURCE.entity
)
EMPTY_SNAPSHOT: dict[str, float] = {
    a.name: (0 if a.feature_type == "Integral" else 0.0) for a in SNAPSHOT_AGGREGATES
}


def ratio(numerator: float | None, denominator: float | None) -> float:
    """The definition's ratio rule: 0 when the denominator is missing or zero."""
    if denominator is None or denominator == 0 or numerator is None:
        return 0.0
    return float(numerator) / denominator


_RATIOS = tuple((r.name, r.numerator, r.denominator) for r in RATIOS)  # resolved once: used per transaction


def add_ratios(values: dict[str, float]) -> dict[str, float]:
    """Adds every ratio of the definition to `values`, in definition order (in place: the caller
    builds the dict per transaction)."""
    get = values.get
    for name, numerator, denominator in _RATIOS:
        values[name] = ratio(get(numerator), get(denominator))
    return values


def snapshot_values(record: Sequence[Mapping[str, str]] | None) -> dict[str, float]:
    """A cc-agg-batch-fg record (FeatureName/ValueAsString pairs) -> its 1-week aggregates; none -> 0s."""
    if not record:
        return dict(EMPTY_SNAPSHOT)
    raw = {f["FeatureName"]: f["ValueAsString"] for f in record}
    out: dict[str, float] = {}
    for a in SNAPSHOT_AGGREGATES:
        text = raw.get(a.name)
        if text is None or text == "":
            out[a.name] = EMPTY_SNAPSHOT[a.name]
        else:
            number = float(text)
            out[a.name] = int(number) if a.feature_type == "Integral" else number
    return out


def snapshot_time(record: Sequence[Mapping[str, str]]) -> float | None:
    """The record's event time (epoch seconds), when it has one."""
    for f in record:
        if f["FeatureName"] == EVENT_TIME_FEATURE:
            return float(f["ValueAsString"])
    return None


_MODEL_VALUES = operator.itemgetter(*MODEL_INPUT)  # the model's features, in MODEL_INPUT order


def format_row(features: Mapping[str, float]) -> tuple[str, ModelInput]:
    """One transaction's model input (`features` by name, MODEL_INPUT picked in order) for both its uses:
    the endpoint's text/csv line (no header, exact floats: repr) and the prediction's "features"
    record. Use csv_body to join the lines."""
    values = _MODEL_VALUES(features)
    return ",".join(map(repr, values)), ModelInput(*values)


def csv_body(lines: Sequence[str]) -> str:
    """text/csv for the endpoint: one line per row (format_row's), no header."""
    return "\n".join(lines)


def parse_rows(body: bytes | str, features: Sequence[str] = MODEL_INPUT) -> list[list[float]]:
    """The endpoint's text/csv request -> rows of floats, one per line, a column per feature (the server's
    and the in-process client's parser); ValueError naming the first bad row or cell."""
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8 text") from None
    if not text.strip():
        raise ValueError("empty body: send text/csv rows, one transaction per line")
    rows = []
    for i, line in enumerate(text.rstrip("\r\n").split("\n"), 1):
        cells = line.rstrip("\r").split(",")
        if len(cells) != len(features):
            raise ValueError(
                f"row {i} has {len(cells)} columns, expected {len(features)}: {', '.join(features)}"
            )
        try:
            row = list(map(float, cells))
        except ValueError:
            row = []
        if not row or not all(map(math.isfinite, row)):
            raise ValueError(f"row {i}, {_bad_cell(features, cells)}")
        rows.append(row)
    return rows


def _bad_cell(features: Sequence[str], cells: Sequence[str]) -> str:
    for column, (name, cell) in enumerate(zip(features, cells, strict=True), 1):
        try:
            finite = math.isfinite(float(cell))
        except ValueError:
            return f"column {column} ({name}): {cell.strip()!r} is not a number"
        if not finite:
            return f"column {column} ({name}): {cell.strip()!r} is not finite"
    raise AssertionError("every cell is a finite number")


def format_probabilities(probabilities: Iterable[float]) -> bytes:
    """The endpoint's text/csv answer: one probability per line (repr: exact)."""
    return "".join(f"{p!r}\n" for p in map(float, probabilities)).encode()


_SEPARATORS = re.compile(r"[,\s]+")


def parse_probabilities(body: bytes | str, expected: int) -> list[float]:
    """The endpoint's text/csv answer -> one probability per row, separated by newlines or commas."""
    text = body.decode() if isinstance(body, bytes) else body
    values = [float(v) for v in _SEPARATORS.split(text.strip()) if v]
    if len(values) != expected:
        raise ValueError(f"endpoint returned {len(values)} scores for {expected} rows")
    return values
