"""ingest: aggregate records -> cc-agg-fg, each card's sliding-window features at the transaction's event time.

The feature store keeps the newest event time online, so out-of-order and redelivered records
are harmless: PutRecord with an older event time never overwrites a newer one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from functions.common.aggregate import AggregateRecord, feature_store_record, parse_aggregate
from functions.common.batch import DeadLetters, TriageProcessor, handle_batch, payload
from functions.common.clients import client_factory
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
        self.store.put_record(FeatureGroupName=self.config.streaming_feature_group, Record=feature_store_record(agg))


@functools.cache
def service() -> Ingest:
    """Built on the first invocation from the environment, then reused (like a warm Lambda)."""
    config = IngestConfig.from_env()
    client = client_factory()
    sqs = client("sqs") if config.dead_letter_queue_url else None
    return Ingest(config, client("sagemaker-featurestore-runtime"),
                  DeadLetters(sqs, config.dead_letter_queue_url, logger.service, logger))


def record_handler(record: KinesisStreamRecord) -> AggregateRecord:
    agg = parse_aggregate(payload(record))
    service().put(agg)
    return agg


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = handle_batch(processor, event, record_handler, context)
    for record, reason in processor.rejected:
        service().dead_letters.send(record, reason)
    metrics.add_metric(name="RecordsIngested", unit=MetricUnit.Count, value=len(processor.accepted))
    metrics.add_metric(name="RecordsDeadLettered", unit=MetricUnit.Count, value=len(processor.rejected))
    return dict(response)
