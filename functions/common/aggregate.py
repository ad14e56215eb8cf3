"""Typed aggregate records (the aggregates stream's wire format, features/records.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

from features.definition import EVENT_TIME_FEATURE, SOURCE, aggregates_of_kind
from features.feature_groups import group_for, record_features
from features.records import RecordError, decode_json, validate_transaction

T = TypeVar("T")  # what a caller pairs with each record (its Kinesis record)

# (name, integral, the JSON type a valid value has) of every sliding aggregate, resolved once:
# this runs per record.
SLIDING: tuple[tuple[str, bool, type], ...] = tuple(
    (a.name, a.feature_type == "Integral", int if a.feature_type == "Integral" else float)
    for a in aggregates_of_kind("sliding")
)


class AggregateRecord(NamedTuple):
    """One transaction with its sliding-window aggregates, validated. (A NamedTuple: immutable, and
    built in a third of a frozen dataclass's time; one is built per record in both functions.)"""

    tid: str
    cc_num: int
    amount: float
    trans_ts: str
    event_ms: int
    aggregates: dict[str, float]  # every sliding aggregate, by name

    @property
    def trans_time(self) -> float:
        """Event time in epoch seconds: the feature store's event-time feature."""
        return self.event_ms / 1000


def _aggregate_value(name: str, integral: bool, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise RecordError(f"{name} must be finite and non-negative, got {value!r}")
    if integral and value != int(value):
        raise RecordError(f"{name} must be a whole number, got {value!r}")
    return int(value) if integral else float(value)


_TID, _CARD, _AMOUNT, _EVENT_TIME = SOURCE.id_column, SOURCE.entity, SOURCE.amount_column, SOURCE.event_time


def parse_aggregate(payload: bytes | str) -> AggregateRecord:
    """Validate one aggregates-stream record; RecordError(reason) when it is bad."""
    raw = decode_json(payload)  # decoded once: the transaction fields and the aggregates
    tx = validate_transaction(raw)  # JSON object, transaction fields, their types, the amount
    try:
        aggregates = {name: raw[name] for name, _, _ in SLIDING}
    except KeyError:
        missing = [name for name, _, _ in SLIDING if name not in raw]
        raise RecordError(f"missing field(s): {', '.join(missing)}") from None
    for name, integral, kind in SLIDING:
        value = aggregates[name]
        # the common case, a value of its type in [0, inf), is kept as is; NaN fails the comparison
        if type(value) is not kind or not 0 <= value < math.inf:
            aggregates[name] = _aggregate_value(name, integral, value)
    return AggregateRecord(tx[_TID], tx[_CARD], tx[_AMOUNT], tx[_EVENT_TIME], tx["event_ms"], aggregates)


# cc-agg-fg's features in record order, resolved once: used per PutRecord
_STREAMING_NAMES = tuple(f.name for f in record_features(group_for("sliding")))


def feature_store_record(agg: AggregateRecord) -> list[dict[str, str]]:
    """The cc-agg-fg record of `agg`: the card, the transaction's event time, its sliding-window aggregates."""
    values: dict[str, Any] = {
        _CARD: agg.cc_num,
        EVENT_TIME_FEATURE: f"{agg.trans_time:.3f}",
        **agg.aggregates,
    }
    return [{"FeatureName": name, "ValueAsString": str(values[name])} for name in _STREAMING_NAMES]


def newest_by_card(
    accepted: Iterable[tuple[T, AggregateRecord]],
) -> dict[int, tuple[AggregateRecord, list[T]]]:
    """Each card's newest record (greatest event time; the first of equals, as the store keeps the
    first write of an event time) with every record of that card in the batch, in batch order."""
    cards: dict[int, tuple[AggregateRecord, list[T]]] = {}
    for record, agg in accepted:
        held = cards.get(agg.cc_num)
        if held is None:
            cards[agg.cc_num] = (agg, [record])
        else:
            held[1].append(record)
            if agg.event_ms > held[0].event_ms:
                cards[agg.cc_num] = (agg, held[1])
    return cards
