"""Typed aggregate records (the aggregates stream's wire format, features/records.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from features.definition import EVENT_TIME_FEATURE, SOURCE, aggregates_of_kind
from features.feature_groups import group_for, record_features
from features.records import RecordError, decode_json, validate_transaction

T = TypeVar("T")  # what a caller pairs with each record (its Kinesis record)

# (name, integral) of every sliding aggregate, resolved once: this runs per record.
SLIDING: tuple[tuple[str, bool], ...] = tuple((a.name, a.feature_type == "Integral") for a in aggregates_of_kind("sliding"))


@dataclass(frozen=True)
class AggregateRecord:
    """One transaction with its sliding-window aggregates, validated."""

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


def parse_aggregate(payload: bytes | str) -> AggregateRecord:
    """Validate one aggregates-stream record; RecordError(reason) when it is bad."""
    raw = decode_json(payload)  # decoded once: the transaction fields and the aggregates
    tx = validate_transaction(raw)  # JSON object, transaction fields, their types, the amount
    missing = [name for name, _ in SLIDING if name not in raw]
    if missing:
        raise RecordError(f"missing field(s): {', '.join(missing)}")
    aggregates = {name: _aggregate_value(name, integral, raw[name]) for name, integral in SLIDING}
    return AggregateRecord(
        tid=tx[SOURCE.id_column],
        cc_num=tx[SOURCE.entity],
        amount=tx[SOURCE.amount_column],
        trans_ts=tx[SOURCE.event_time],
        event_ms=tx["event_ms"],
        aggregates=aggregates,
    )


STREAMING_RECORD = record_features(group_for("sliding"))


def feature_store_record(agg: AggregateRecord) -> list[dict[str, str]]:
    """The cc-agg-fg record of `agg`: the card, the transaction's event time, its sliding-window aggregates."""
    values: dict[str, Any] = {SOURCE.entity: agg.cc_num, EVENT_TIME_FEATURE: f"{agg.trans_time:.3f}", **agg.aggregates}
    return [{"FeatureName": f.name, "ValueAsString": str(values[f.name])} for f in STREAMING_RECORD]


def newest_by_card(accepted: Iterable[tuple[T, AggregateRecord]]) -> dict[int, tuple[AggregateRecord, list[T]]]:
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
