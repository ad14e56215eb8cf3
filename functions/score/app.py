"""score: aggregate records -> 1-week features (one BatchGetRecord) -> ratios -> endpoint (one call)
-> one prediction per transaction on the predictions stream, plus business metrics.

Bad records go to the dead-letter queue with their reason; a duplicate tid in a batch is scored
once; a card with no cc-agg-batch-fg record is scored with 1-week features 0 (the definition's
empty-window rule), and a transaction older than its card's served snapshot is scored with that
snapshot; both carry a caveat in the prediction and go to the dead-letter queue as `scored`.
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
from functions.common.aggregate import AggregateRecord, parse_aggregate
from functions.common.batch import (
    REJECTED,
    SCORED_WITH_CAVEAT,
    DeadLetters,
    TriageProcessor,
    handle_batch,
    payload,
)
from functions.common.config import ScoreConfig
from functions.common.scoring import Outcome, Scorer

logger = Logger()
# Its own EMF provider: Powertools' default metric set is shared by every Metrics in a process.
metrics = Metrics(provider=AmazonCloudWatchEMFProvider())
processor = TriageProcessor(logger=logger)


@dataclass(frozen=True)
class Service:
    scorer: Scorer
    dead_letters: DeadLetters

    def report(self, rejected: list[tuple[Any, str]], outcome: Outcome) -> None:
        for record, reason in [*rejected, *outcome.duplicates]:
            self.dead_letters.send(record, reason, REJECTED)
        for record, reason in outcome.caveats:
            self.dead_letters.send(record, reason, SCORED_WITH_CAVEAT)
        count = MetricUnit.Count
        metrics.add_metric(name="TransactionsScored", unit=count, value=outcome.scored)
        metrics.add_metric(name="FraudsFlagged", unit=count, value=outcome.frauds)
        metrics.add_metric(
            name="RecordsDeadLettered", unit=count, value=len(rejected) + len(outcome.duplicates)
        )
        metrics.add_metric(name="TransactionsWithCaveats", unit=count, value=len(outcome.caveats))
        metrics.add_metric(name="FeatureStoreRoundTrips", unit=count, value=outcome.round_trips)


@functools.cache
def service() -> Service:
    """Built on the first invocation from the environment, then reused (like a warm Lambda)."""
    config = ScoreConfig.from_env()
    client = client_factory()
    sqs = client("sqs") if config.dead_letter_queue_url else None
    scorer = Scorer(
        config, client("sagemaker-featurestore-runtime"), client("sagemaker-runtime"), client("kinesis")
    )
    return Service(scorer, DeadLetters(sqs, config.dead_letter_queue_url, logger.service, logger))


def record_handler(record: KinesisStreamRecord) -> AggregateRecord:
    return parse_aggregate(payload(record))


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = handle_batch(processor, event, record_handler, context)
    outcome = service().scorer.score(processor.accepted)
    service().report(processor.rejected, outcome)
    return dict(response)
