"""ingest: aggregate records -> cc-agg-fg, each card's sliding-window features at the transaction's event time.

The feature store keeps the newest event time online, so out-of-order and redelivered records
are harmless: PutRecord with an older event time never overwrites a newer one. For the same
reason one PutRecord per card per batch, its newest record, leaves the store as a PutRecord per
record would: cc-agg-fg is online-only (no offline history to keep), so the older records of a
card in the batch could only have been superseded. At a few transactions per card per batch
that is about a third fewer calls (and Feature Store write units on AWS).

A PutRecord that fails is transient: every record of that card is reported in batchItemFailures,
so the event source mapping retries from the lowest one (Kinesis checkpoints there); the
records after it are written again, which is harmless for the same reason.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from clients.factory import client_factory
from functions.common.aggregate import AggregateRecord, feature_store_record, newest_by_card, parse_aggregate
from functions.common.batch import DeadLetters, TriageProcessor, handle_batch, payload
from functions.common.config import IngestConfig

logger = Logger()
# Its own EMF provider: Powertools' default metric set is shared by every Metrics in a process.
metrics = Metrics(provider=AmazonCloudWatchEMFProvider())
processor = TriageProcessor(logger=logger)


@dataclass(frozen=True)
class Ingest:
    config: IngestConfig
    store: Any
    dead_letters: DeadLetters

    def put(self, agg: AggregateRecord) -> None:
        self.store.put_record(
            FeatureGroupName=self.config.streaming_feature_group, Record=feature_store_record(agg)
        )

    def put_newest(
        self, accepted: list[tuple[KinesisStreamRecord, AggregateRecord]]
    ) -> list[KinesisStreamRecord]:
        """One PutRecord per card, its newest record; returns the records of the cards whose write failed."""
        failed: list[KinesisStreamRecord] = []
        for agg, records in newest_by_card(accepted).values():
            try:
                self.put(agg)
            except Exception:  # transient (throttling, the store unreachable): the mapping retries them
                logger.warning(
                    "PutRecord failed; the card's records are reported for retry",
                    exc_info=True,
                    extra={"records": len(records), "sequence_number": records[0].kinesis.sequence_number},
                )
                failed += records
        return failed


@functools.cache
def service() -> Ingest:
    """Built on the first invocation from the environment, then reused (like a warm Lambda)."""
    config = IngestConfig.from_env()
    client = client_factory()
    sqs = client("sqs") if config.dead_letter_queue_url else None
    return Ingest(
        config,
        client("sagemaker-featurestore-runtime"),
        DeadLetters(sqs, config.dead_letter_queue_url, logger.service, logger),
    )


def record_handler(record: KinesisStreamRecord) -> AggregateRecord:
    return parse_aggregate(payload(record))


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = handle_batch(processor, event, record_handler, context)  # parse and triage
    for record, reason in processor.rejected:
        service().dead_letters.send(record, reason)
    failed = service().put_newest(processor.accepted)
    # records in = ingested + dead-lettered + reported for retry (those come back in a later batch)
    metrics.add_metric(
        name="RecordsIngested", unit=MetricUnit.Count, value=len(processor.accepted) - len(failed)
    )
    metrics.add_metric(name="RecordsDeadLettered", unit=MetricUnit.Count, value=len(processor.rejected))
    return {
        "batchItemFailures": [
            *response["batchItemFailures"],
            *({"itemIdentifier": r.kinesis.sequence_number} for r in failed),
        ]
    }
