"""The aggregates stream's records (features/codec.py's Aggregate) for the functions: parsed, grouped by
card, as feature-store records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from features.codec import Aggregate as AggregateRecord
from features.codec import decode
from features.definition import EVENT_TIME_FEATURE, SOURCE
from features.feature_groups import group_for, record_features

T = TypeVar("T")  # what a caller pairs with each record (its Kinesis record)


def parse_aggregate(payload: bytes | str) -> AggregateRecord:
    """Validate one aggregates-stream record; RecordError(reason) when it is bad."""
    return decode(payload, AggregateRecord)


# cc-agg-fg's features in record order, resolved once: used per PutRecord
_STREAMING_NAMES = tuple(f.name for f in record_features(group_for("sliding")))


def feature_store_record(agg: AggregateRecord) -> list[dict[str, str]]:
    """The cc-agg-fg record of `agg`: the card, the transaction's event time, its sliding-window aggregates."""
    values: dict[str, Any] = {
        SOURCE.entity: agg.cc_num,
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
