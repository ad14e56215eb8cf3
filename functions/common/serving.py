"""Serving-side feature math, derived from the definition (the batch SQL applies the same rules).

- 1-week features come from the card's online cc-agg-batch-fg record; a card with no record gets
  the empty-window value 0, as the batch job gives a card on its first day.
- Ratios: numerator / denominator, 0 when the denominator is missing or zero.
- The model input and the endpoint's text/csv contract: features/endpoint_csv.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from features.definition import EVENT_TIME_FEATURE, RATIOS, SOURCE, aggregates_of_kind
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
