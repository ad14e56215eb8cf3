"""The score function's batch logic: one feature-store read, one endpoint call, one sink write per batch."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clients.kinesis import put_all
from features.definition import SOURCE
from features.records import encode_json, format_ts
from functions.common.aggregate import AggregateRecord
from functions.common.config import ScoreConfig
from functions.common.serving import (
    BATCH_FEATURE_NAMES,
    add_ratios,
    csv_body,
    format_row,
    parse_probabilities,
    snapshot_time,
    snapshot_values,
)

UNKNOWN_CARD = "unknown_card"
SNAPSHOT_AFTER_EVENT = "snapshot_after_event"
# Feature Store quota: a BatchGetRecord call carries at most 100 records, whatever the request's
# shape allows (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html).
RECORDS_PER_CALL = 100
LOOKUP_ATTEMPTS = 3


_string = json.encoder.encode_basestring_ascii  # json.dumps's text of a str


def _number(value: float) -> str:
    """json.dumps's text of a number: repr, but NaN and infinities are spelled JSON's way."""
    return repr(value) if math.isfinite(value) else encode_json(value)


def prediction_json(
    agg: AggregateRecord,
    features: str,
    probability: float,
    fraud: bool,
    threshold: str,
    caveats: Sequence[str],
    latency_ms: float,
) -> str:
    """The prediction record, byte for byte what json.dumps writes for
    {tid, cc_num, amount, trans_ts, features, probability, fraud, threshold, caveats,
    event_to_prediction_ms}, from texts formatted once (`features`: format_row's JSON object,
    `threshold`: _number's). One per transaction: json.dumps of the dict cost twice as much."""
    return (
        f'{{"tid": {_string(agg.tid)}, "cc_num": {agg.cc_num!r}, "amount": {_number(agg.amount)}, '
        f'"trans_ts": {_string(agg.trans_ts)}, "features": {features}, "probability": {_number(probability)}, '
        f'"fraud": {"true" if fraud else "false"}, "threshold": {threshold}, '
        f'"caveats": {encode_json(caveats) if caveats else "[]"}, "event_to_prediction_ms": {_number(latency_ms)}}}'
    )


class FeatureStoreError(RuntimeError):
    """BatchGetRecord answered with errors: a transient fault, the batch is retried."""


@dataclass
class Lookup:
    records: dict[int, Sequence[dict[str, str]]]  # card -> its cc-agg-batch-fg record
    round_trips: int


@dataclass
class Outcome:
    scored: int = 0  # predictions written
    frauds: int = 0  # of which flagged
    duplicates: list[tuple[Any, str]] = field(default_factory=list)  # (record, reason): rejected
    caveats: list[tuple[Any, str]] = field(default_factory=list)  # (record, reason): scored, worth a look
    round_trips: int = 0


def read_snapshots(store: Any, group: str, cards: Sequence[int]) -> Lookup:
    """The online cc-agg-batch-fg records of `cards`: one BatchGetRecord per 100 cards (the quota)."""
    found: dict[int, Sequence[dict[str, str]]] = {}
    round_trips = 0
    for start in range(0, len(cards), RECORDS_PER_CALL):
        identifiers = [
            {
                "FeatureGroupName": group,
                "RecordIdentifiersValueAsString": [str(c) for c in cards[start : start + RECORDS_PER_CALL]],
                "FeatureNames": list(BATCH_FEATURE_NAMES),
            }
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
            raise FeatureStoreError(
                f"BatchGetRecord left identifiers unprocessed after {LOOKUP_ATTEMPTS} calls"
            )
    return Lookup(found, round_trips)


def first_by_tid(
    accepted: Sequence[tuple[Any, AggregateRecord]],
) -> tuple[list[tuple[Any, AggregateRecord]], list[tuple[Any, str]]]:
    """Keep the first record of each tid; later copies in the batch are duplicates (with a reason)."""
    seen: dict[str, Any] = {}  # tid -> its first record
    unique, duplicates = [], []
    for record, agg in accepted:
        first = seen.get(agg.tid)
        if first is not None:
            duplicates.append(
                (
                    record,
                    f"duplicate: tid {agg.tid} already in this batch "
                    f"(sequence number {first.kinesis.sequence_number})",
                )
            )
        else:
            seen[agg.tid] = record
            unique.append((record, agg))
    return unique, duplicates


class Scorer:
    """Scores batches of aggregate records with the clients it is handed."""

    def __init__(
        self,
        config: ScoreConfig,
        store: Any,
        endpoint: Any,
        sink: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.store, self.endpoint, self.sink, self.clock = config, store, endpoint, sink, clock

    def invoke(self, lines: list[str]) -> list[float]:
        """One endpoint call for the rows (format_row's CSV lines): a probability per row."""
        response = self.endpoint.invoke_endpoint(
            EndpointName=self.config.endpoint_name,
            ContentType="text/csv",
            Accept="text/csv",
            Body=csv_body(lines),
        )
        return parse_probabilities(response["Body"].read(), len(lines))

    def caveats(
        self, agg: AggregateRecord, snapshot: Sequence[dict[str, str]] | None, served_at: float | None = None
    ) -> list[tuple[str, str]]:
        """Why a scored transaction deserves a look: (code, reason) pairs. `served_at`: the
        snapshot's event time when the caller has it already (read from `snapshot` otherwise)."""
        group = self.config.batch_feature_group
        if snapshot is None:
            return [
                (
                    UNKNOWN_CARD,
                    f"unknown card: no {group} record for cc_num {agg.cc_num}; scored with 1-week features 0",
                )
            ]
        if served_at is None:
            served_at = snapshot_time(snapshot)
        if served_at is not None and served_at > agg.trans_time:
            return [
                (
                    SNAPSHOT_AFTER_EVENT,
                    f"late: event time {agg.trans_ts} is before the served {group} snapshot "
                    f"({format_ts(round(served_at * 1000))}); 1-week features are newer than "
                    "the transaction",
                )
            ]
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
        served = {
            card: (rec, snapshot_values(rec), snapshot_time(rec)) for card, rec in lookup.records.items()
        }
        unknown = (None, snapshot_values(None), None)
        amount = SOURCE.amount_column
        lines, features, caveats = [], [], []
        for record, agg in unique:
            snapshot, week, served_at = served.get(agg.cc_num, unknown)
            found = self.caveats(agg, snapshot, served_at)
            if found:
                caveats.append([code for code, _ in found])
                outcome.caveats += [(record, reason) for _, reason in found]
            else:
                caveats.append(())  # the common case, without a list per transaction
            line, feature_json = format_row(add_ratios({amount: agg.amount, **agg.aggregates, **week}))
            lines.append(line)
            features.append(feature_json)
        probabilities = self.invoke(lines)
        now_ms = self.clock() * 1000
        threshold, threshold_text = self.config.threshold, _number(self.config.threshold)
        entries = []
        for (_, agg), feature_json, probability, codes in zip(
            unique, features, probabilities, caveats, strict=True
        ):
            fraud = probability >= threshold
            outcome.frauds += fraud
            data = prediction_json(
                agg, feature_json, probability, fraud, threshold_text, codes, round(now_ms - agg.event_ms, 3)
            )
            entries.append({"Data": data.encode(), "PartitionKey": str(agg.cc_num)})
        outcome.scored = len(entries)
        put_all(self.sink, self.config.predictions_stream, entries)
        return outcome
