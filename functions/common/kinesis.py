"""PutRecords with Kinesis's limits and retry of the entries it fails (shared by score and the simulator)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
