"""Kinesis I/O on any client with boto3's Kinesis surface (boto3's, LocalStack's or the local stand-in).

Writing: PutRecords within Kinesis's limits, resending the entries it fails (the score function, the
simulator). Reading: `ShardReader`, one shard in order from a position, re-acquiring its iterator
when it expires, and `poll_wait_s`, the pace of a reader whose input went quiet (the local engine,
the event source mapping, the profiles' stream tails).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024  # data + partition key
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
        "LimitExceededException",
    }
)

Entry = dict[str, Any]  # {"Data": bytes, "PartitionKey": str}


class PutRecordsError(RuntimeError):
    """Entries still failing after every retry."""


@dataclass
class PutStats:
    records: int = 0
    calls: int = 0
    retried: int = 0  # entry attempts that failed and were sent again

    def add(self, other: PutStats) -> None:
        self.records += other.records
        self.calls += other.calls
        self.retried += other.retried


def _size(entry: Entry) -> int:
    data = entry["Data"]
    return len(data if isinstance(data, bytes) else str(data).encode()) + len(entry["PartitionKey"].encode())


def chunks(entries: Iterable[Entry]) -> Iterator[list[Entry]]:
    """Consecutive groups within PutRecords' limits (<= 500 records, <= 5 MiB)."""
    chunk: list[Entry] = []
    size = 0
    for entry in entries:
        n = _size(entry)
        if n > MAX_BYTES_PER_RECORD:
            raise ValueError(f"record of {n} bytes exceeds Kinesis's 1 MiB limit")
        if chunk and (len(chunk) == MAX_RECORDS_PER_CALL or size + n > MAX_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += n
    if chunk:
        yield chunk


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def put_chunk(
    client: Any,
    stream: str,
    chunk: list[Entry],
    attempts: int = 6,
    base_delay_s: float = 0.02,
    sleep: Callable[[float], None] = time.sleep,
) -> PutStats:
    """Send one chunk; resend the failed entries with exponential backoff; raise if some never land."""
    stats = PutStats(records=len(chunk))
    pending = chunk
    for attempt in range(attempts):
        if attempt:
            sleep(base_delay_s * 2 ** (attempt - 1))
        stats.calls += 1
        try:
            response = client.put_records(StreamName=stream, Records=pending)
        except Exception as err:  # a throttled or failed call: the whole chunk again
            if _error_code(err) not in RETRYABLE_CODES or attempt == attempts - 1:
                raise
            stats.retried += len(pending)
            continue
        if not response.get("FailedRecordCount"):
            return stats
        failed = [
            (e, r["ErrorCode"])
            for e, r in zip(pending, response["Records"], strict=True)
            if r.get("ErrorCode")
        ]
        pending = [e for e, _ in failed]
        if attempt < attempts - 1:
            stats.retried += len(pending)
    codes = sorted({code for _, code in failed})
    raise PutRecordsError(
        f"{len(pending)} record(s) not written to {stream} after {attempts} attempts: {codes}"
    )


def put_all(client: Any, stream: str, entries: Iterable[Entry], **retry: Any) -> PutStats:
    stats = PutStats()
    for chunk in chunks(entries):
        stats.add(put_chunk(client, stream, chunk, **retry))
    return stats


# ----------------------------------------------------------------------------------------- reading
# A reader of a stream that went quiet backs off: a wakeup costs more CPU than an empty local read,
# so after IDLE_AFTER_S without records it polls every IDLE_POLL_S; only the first record after such
# a silence waits longer. (Readers back off only once they have had records: the first ones are not
# delayed, which at a fixed rate after start-up showed in the p99 latency.)
IDLE_AFTER_S, IDLE_POLL_S = 0.5, 0.05
MAX_RECORDS_PER_GET = 10_000  # GetRecords' Limit


def poll_wait_s(poll_s: float, idle_s: float) -> float:
    """How long a reader waits before its next poll, `idle_s` seconds after its last record."""
    return max(poll_s, IDLE_POLL_S) if idle_s >= IDLE_AFTER_S else poll_s


class IdlePace:
    """A polling loop's pace: at once after records, `poll_s` after an empty read, and poll_wait_s's
    slower pace once the input went quiet after traffic (not before the first records, which would
    delay them, nor while the loop `holds` work that is due on a clock: a batching window, a flush)."""

    def __init__(self, poll_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.poll_s, self.clock = poll_s, clock
        self.last_records, self.traffic = clock(), False

    def records(self) -> None:
        """The last read returned records."""
        self.last_records, self.traffic = self.clock(), True

    def idle_s(self) -> float:
        return self.clock() - self.last_records

    def wait_s(self, holds: bool = False) -> float:
        return poll_wait_s(self.poll_s, self.idle_s()) if self.traffic and not holds else self.poll_s


class ShardReader:
    """Reads one shard in sequence order: GetRecords on a shard iterator it keeps.

    It starts after sequence number `after` when given (AFTER_SEQUENCE_NUMBER), else at `start`
    (TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER with `sequence`, AT_TIMESTAMP with `timestamp`), and
    remembers the last record it returned: when its iterator expires (Kinesis's last 5 minutes), a
    new one is taken after that record, so nothing is skipped or read twice.
    """

    def __init__(
        self,
        kinesis: Any,
        stream: str,
        shard_id: str,
        after: str | None = None,
        start: str = "TRIM_HORIZON",
        sequence: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        if start == "AT_SEQUENCE_NUMBER" and sequence is None:
            raise ValueError("start AT_SEQUENCE_NUMBER needs a sequence number")
        if start == "AT_TIMESTAMP" and timestamp is None:
            raise ValueError("start AT_TIMESTAMP needs a timestamp")
        self.kinesis, self.stream, self.shard_id = kinesis, stream, shard_id
        self.after, self.start, self.sequence, self.timestamp = after, start, sequence, timestamp
        self.iterator: str | None = None

    def open(self) -> str:
        """A new iterator at the reader's position (a LATEST reader: from now on)."""
        position: dict[str, Any] = {"ShardIteratorType": self.start}
        if self.after is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": self.after}
        elif self.start == "AT_SEQUENCE_NUMBER":
            position["StartingSequenceNumber"] = self.sequence
        elif self.start == "AT_TIMESTAMP":
            position["Timestamp"] = self.timestamp
        self.iterator = self.kinesis.get_shard_iterator(
            StreamName=self.stream, ShardId=self.shard_id, **position
        )["ShardIterator"]
        return self.iterator

    def read(self, limit: int = MAX_RECORDS_PER_GET) -> dict[str, Any]:
        """One GetRecords response (Records, NextShardIterator, MillisBehindLatest)."""
        try:
            page = self.kinesis.get_records(ShardIterator=self.iterator or self.open(), Limit=limit)
        except self.kinesis.exceptions.ExpiredIteratorException:
            page = self.kinesis.get_records(ShardIterator=self.open(), Limit=limit)
        self.iterator = page.get("NextShardIterator")
        if page["Records"]:
            self.after = page["Records"][-1]["SequenceNumber"]
        return page

    def read_available(self, limit: int = MAX_RECORDS_PER_GET) -> Iterator[dict[str, Any]]:
        """Every record there is now, page by page (until an empty page or a closed shard)."""
        while True:
            records = self.read(limit)["Records"]
            yield from records
            if not records or self.iterator is None:
                return


def shard_readers(kinesis: Any, stream: str, start: str = "TRIM_HORIZON") -> list[ShardReader]:
    """A reader per shard of `stream`, each at `start`."""
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    return [ShardReader(kinesis, stream, s["ShardId"], start=start) for s in shards]
