"""The score function's batch logic: one feature-store read, one endpoint call, one sink write per batch."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clients.kinesis import put_all
from features.codec import ModelInput, Prediction, encode
from features.definition import SOURCE
from features.endpoint_csv import csv_body, format_row, parse_probabilities
from features.records import format_ts
from functions.common.aggregate import AggregateRecord
from functions.common.config import ScoreConfig
from functions.common.serving import BATCH_FEATURE_NAMES, add_ratios, snapshot_time, snapshot_values

UNKNOWN_CARD = "unknown_card"
SNAPSHOT_AFTER_EVENT = "snapshot_after_event"
# Feature Store quota: a BatchGetRecord call carries at most 100 records, whatever the request's
# shape allows (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html).
RECORDS_PER_CALL = 100
LOOKUP_ATTEMPTS = 3


def prediction(
    agg: AggregateRecord,
    features: ModelInput,
    probability: float,
    threshold: float,
    caveats: Sequence[str],
    latency_ms: float,
) -> Prediction:
    """The prediction record of a scored transaction (`features`: format_row's model input)."""
    return Prediction(
        tid=agg.tid,
        cc_num=agg.cc_num,
        amount=agg.amount,
        trans_ts=agg.trans_ts,
        features=features,
        probability=probability,
        fraud=probability >= threshold,
        threshold=threshold,
        caveats=tuple(caveats),
        event_to_prediction_ms=latency_ms,
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
            line, model_input = format_row(add_ratios({amount: agg.amount, **agg.aggregates, **week}))
            lines.append(line)
            features.append(model_input)
        probabilities = self.invoke(lines)
        now_ms = self.clock() * 1000
        entries = []
        for (_, agg), model_input, probability, codes in zip(
            unique, features, probabilities, caveats, strict=True
        ):
            scored = prediction(
                agg, model_input, probability, self.config.threshold, codes, round(now_ms - agg.event_ms, 3)
            )
            outcome.frauds += scored.fraud
            entries.append({"Data": encode(scored), "PartitionKey": str(agg.cc_num)})
        outcome.scored = len(entries)
        put_all(self.sink, self.config.predictions_stream, entries)
        return outcome
