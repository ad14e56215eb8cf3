"""Batch triage for the Kinesis handlers, on Powertools' BatchProcessor.

A record that can never be processed (RecordError: not JSON, a missing or mistyped field, a bad
amount, a duplicate) is set aside and sent to the dead-letter destination with its reason:
reporting it as a batch item failure would only make the event source mapping retry it (and,
Kinesis being ordered, every record after it) before giving up. Any other exception is a
transient fault: Powertools reports it in batchItemFailures and the mapping retries.
"""

from __future__ import annotations

import json
from binascii import a2b_base64
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from features.records import RecordError

REJECTED = "rejected"  # not processed: the record itself is bad
SCORED_WITH_CAVEAT = "scored"  # processed, but someone should look at it (e.g. an unknown card)


class TriageProcessor(BatchProcessor):
    """BatchProcessor for Kinesis that keeps the accepted results and sets RecordErrors aside."""

    def __init__(self, logger: Logger | None = None) -> None:
        super().__init__(EventType.KinesisDataStreams, logger=logger)
        self.accepted: list[tuple[KinesisStreamRecord, Any]] = []
        self.rejected: list[tuple[KinesisStreamRecord, str]] = []

    def _prepare(self) -> None:
        super()._prepare()
        self.accepted = []
        self.rejected = []

    def success_handler(self, record: dict[str, Any], result: Any):  # type: ignore[override]
        # Powertools hands success_handler the raw event record (failure_handler gets the data class).
        self.accepted.append((KinesisStreamRecord(record), result))
        return super().success_handler(record, result)

    def failure_handler(self, record: KinesisStreamRecord, exception):  # type: ignore[override]
        error = exception[1]
        if isinstance(error, RecordError):
            self.rejected.append((record, str(error)))
            return (REJECTED, str(error), record)
        return super().failure_handler(record, exception)


def payload(record: KinesisStreamRecord) -> bytes:
    """The record's data, decoded; undecodable base64 is a bad record."""
    try:
        # what record.kinesis.data_as_bytes() returns (base64.b64decode), without its two wrappers per record
        return a2b_base64(record["kinesis"]["data"])
    except (ValueError, TypeError) as err:  # binascii.Error is a ValueError
        raise RecordError(f"data is not base64: {err}") from err


def handle_batch(
    processor: TriageProcessor, event: dict[str, Any], record_handler: Any, context: Any = None
) -> PartialItemFailureResponse:
    """Run `record_handler` over the event's records; the response lists transient failures only."""
    with processor(event["Records"], record_handler, context):
        processor.process()
    return processor.response()


@dataclass(frozen=True)
class DeadLetters:
    """Sends bad records with their reason to the dead-letter queue (the ESM's on-failure queue too)."""

    client: Any  # an SQS client (send_message), or None when no queue is configured
    queue_url: str
    function: str
    logger: Logger

    def send(self, record: KinesisStreamRecord, reason: str, disposition: str = REJECTED) -> None:
        message = dead_letter_message(record, reason, disposition, self.function)
        self.logger.warning(
            "dead-lettered record",
            extra={
                "reason": reason,
                "disposition": disposition,
                "sequence_number": record.kinesis.sequence_number,
            },
        )
        if self.client is not None and self.queue_url:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))


def dead_letter_message(
    record: KinesisStreamRecord, reason: str, disposition: str, function: str
) -> dict[str, Any]:
    kinesis = record.kinesis
    return {
        "reason": reason,
        "disposition": disposition,
        "function": function,
        "eventSourceARN": record.event_source_arn,
        "eventID": record.event_id,
        "partitionKey": kinesis.partition_key,
        "sequenceNumber": kinesis.sequence_number,
        "approximateArrivalTimestamp": kinesis.approximate_arrival_timestamp,
        "data": kinesis.data,
    }
