"""The score function's batch logic: one feature-store read, one endpoint call, one sink write per batch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from features.definition import SOURCE
from features.records import format_ts
from functions.common.aggregate import AggregateRecord
from functions.common.config import ScoreConfig
from functions.common.kinesis import put_all
from functions.common.serving import (
    BATCH_FEATURE_NAMES,
    csv_rows,
    model_input,
    parse_probabilities,
    snapshot_time,
    snapshot_values,
    with_ratios,
)

UNKNOWN_CARD = "unknown_card"
SNAPSHOT_AFTER_EVENT = "snapshot_after_event"
IDS_PER_IDENTIFIER = 100  # BatchGetRecord: <= 100 record ids per identifier entry
IDENTIFIERS_PER_CALL = 100  # and <= 100 identifier entries per call (botocore service model)
LOOKUP_ATTEMPTS = 3


# json.dumps's output without its per-call setup and circular-reference bookkeeping (once per prediction)
_encode = json.JSONEncoder(check_circular=False).encode


class FeatureStoreError(RuntimeError):
    """BatchGetRecord answered with errors: a transient fault, the batch is retried."""


@dataclass
class Lookup:
    records: dict[int, Sequence[dict[str, str]]]  # card -> its cc-agg-batch-fg record
    round_trips: int


@dataclass
class Outcome:
    predictions: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[tuple[Any, str]] = field(default_factory=list)  # (record, reason): rejected
    caveats: list[tuple[Any, str]] = field(default_factory=list)  # (record, reason): scored, worth a look
    round_trips: int = 0

    @property
    def frauds(self) -> int:
        return sum(1 for p in self.predictions if p["fraud"])


def read_snapshots(store: Any, group: str, cards: Sequence[int]) -> Lookup:
    """The online cc-agg-batch-fg records of `cards`: one BatchGetRecord per 10,000 cards (the API limit)."""
    found: dict[int, Sequence[dict[str, str]]] = {}
    round_trips = 0
    per_call = IDS_PER_IDENTIFIER * IDENTIFIERS_PER_CALL
    for start in range(0, len(cards), per_call):
        ids = [str(c) for c in cards[start : start + per_call]]
        identifiers = [
            {"FeatureGroupName": group, "RecordIdentifiersValueAsString": ids[i : i + IDS_PER_IDENTIFIER],
             "FeatureNames": list(BATCH_FEATURE_NAMES)}
            for i in range(0, len(ids), IDS_PER_IDENTIFIER)
        ]
        for _ in range(LOOKUP_ATTEMPTS):
            round_trips += 1
            response = store.batch_get_record(Identifiers=identifiers)
            if response.get("Errors"):
                first = response["Errors"][0]
                raise FeatureStoreError(
                    f"BatchGetRecord failed for {len(response['Errors'])} record(s): "
                    f"{first.get('ErrorCode')}: {first.get('ErrorMessage')}"
                )
            for rec in response.get("Records", []):
                found[int(rec["RecordIdentifierValueAsString"])] = rec["Record"]
            identifiers = response.get("UnprocessedIdentifiers") or []
            if not identifiers:
                break
        else:
            raise FeatureStoreError(f"BatchGetRecord left identifiers unprocessed after {LOOKUP_ATTEMPTS} calls")
    return Lookup(found, round_trips)


def first_by_tid(accepted: Sequence[tuple[Any, AggregateRecord]]) -> tuple[list[tuple[Any, AggregateRecord]], list[tuple[Any, str]]]:
    """Keep the first record of each tid; later copies in the batch are duplicates (with a reason)."""
    seen: dict[str, str] = {}
    unique, duplicates = [], []
    for record, agg in accepted:
        where = record.kinesis.sequence_number
        if agg.tid in seen:
            duplicates.append((record, f"duplicate: tid {agg.tid} already in this batch (sequence number {seen[agg.tid]})"))
        else:
            seen[agg.tid] = where
            unique.append((record, agg))
    return unique, duplicates


class Scorer:
    """Scores batches of aggregate records with the clients it is handed."""

    def __init__(self, config: ScoreConfig, store: Any, endpoint: Any, sink: Any,
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self.store, self.endpoint, self.sink, self.clock = config, store, endpoint, sink, clock

    def invoke(self, rows: list[dict[str, float]]) -> list[float]:
        response = self.endpoint.invoke_endpoint(
            EndpointName=self.config.endpoint_name, ContentType="text/csv", Accept="text/csv", Body=csv_rows(rows)
        )
        return parse_probabilities(response["Body"].read(), len(rows))

    def caveats(self, agg: AggregateRecord, snapshot: Sequence[dict[str, str]] | None,
                served_at: float | None = None) -> list[tuple[str, str]]:
        """Why a scored transaction deserves a look: (code, reason) pairs. `served_at`: the
        snapshot's event time when the caller has it already (read from `snapshot` otherwise)."""
        group = self.config.batch_feature_group
        if snapshot is None:
            return [(UNKNOWN_CARD, f"unknown card: no {group} record for cc_num {agg.cc_num}; "
                                   "scored with 1-week features 0")]
        if served_at is None:
            served_at = snapshot_time(snapshot)
        if served_at is not None and served_at > agg.trans_time:
            return [(SNAPSHOT_AFTER_EVENT, f"late: event time {agg.trans_ts} is before the served {group} snapshot "
                                           f"({format_ts(round(served_at * 1000))}); 1-week features are newer than "
                                           "the transaction")]
        return []

    def score(self, accepted: Sequence[tuple[Any, AggregateRecord]]) -> Outcome:
        unique, duplicates = first_by_tid(accepted)
        outcome = Outcome(duplicates=duplicates)
        if not unique:
            return outcome
        cards = list(dict.fromkeys(agg.cc_num for _, agg in unique))
        lookup = read_snapshots(self.store, self.config.batch_feature_group, cards)
        outcome.round_trips = lookup.round_trips
        # a card's snapshot, its 1-week values and its event time, read once per card, not per transaction
        served = {card: (rec, snapshot_values(rec), snapshot_time(rec)) for card, rec in lookup.records.items()}
        unknown = (None, snapshot_values(None), None)
        rows, caveats = [], []
        for record, agg in unique:
            snapshot, week, served_at = served.get(agg.cc_num, unknown)
            found = self.caveats(agg, snapshot, served_at)
            caveats.append([code for code, _ in found])
            if found:
                outcome.caveats += [(record, reason) for _, reason in found]
            rows.append(model_input(with_ratios({SOURCE.amount_column: agg.amount, **agg.aggregates, **week})))
        probabilities = self.invoke(rows)
        now_ms = self.clock() * 1000
        for (_, agg), features, probability, codes in zip(unique, rows, probabilities, caveats, strict=True):
            outcome.predictions.append({
                "tid": agg.tid,
                "cc_num": agg.cc_num,
                "amount": agg.amount,
                "trans_ts": agg.trans_ts,
                "features": features,
                "probability": probability,
                "fraud": probability >= self.config.threshold,
                "threshold": self.config.threshold,
                "caveats": codes,
                "event_to_prediction_ms": round(now_ms - agg.event_ms, 3),
            })
        put_all(self.sink, self.config.predictions_stream, (
            {"Data": _encode(p).encode(), "PartitionKey": str(p["cc_num"])} for p in outcome.predictions
        ))
        return outcome
