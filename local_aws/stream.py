"""An embedded, durable stream with Kinesis Data Streams semantics and boto3's Kinesis client surface.

One SQLite file per stream (`<root>/<name>.kinesis.db`, WAL mode), so a writer process (the
simulator) and reader processes (the engine, the event source mappings) share a stream without a
server. Semantics kept from Kinesis, because the code written against this runs unchanged on it:

- a record goes to the shard whose hash-key range holds MD5(partition key) as a 128-bit integer
  (or the ExplicitHashKey); shards split the range evenly, as CreateStream does;
- sequence numbers are decimal strings, increasing per shard (fixed width, so string and integer
  order agree); PutRecords answers per record, in request order, with ShardId/SequenceNumber or
  ErrorCode/ErrorMessage (an optional per-shard write limit produces
  ProvisionedThroughputExceededException, to exercise producer retries);
- shard iterators (TRIM_HORIZON, LATEST, AT/AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP) are opaque and
  expire after 5 minutes; GetRecords returns Data as bytes, ApproximateArrivalTimestamp as an aware
  datetime, NextShardIterator and MillisBehindLatest;
- retention: records older than RetentionPeriodHours (default 24) are trimmed.

Storage: the records one PutRecords call adds to a shard are one row (their partition keys and
data in one marshal blob, one arrival time, the first sequence number and the count), so a call
costs one insert and one commit whatever its size and a read decodes a few blobs: a row per record
cost ~7 us per record written and ~2.5 us per record read, more than the rest of a pipeline stage.

Errors are botocore ClientError subclasses with Kinesis's error codes (`client.exceptions.X`).
`synchronous=NORMAL` in WAL survives a killed process (not a power cut), which is what a local
runtime needs.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import marshal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

HASH_SPACE = 2**128
MAX_PUT_RECORDS = 500
MAX_RECORD_BYTES = 1024 * 1024
MAX_GET_LIMIT = 10_000
ITERATOR_TTL_S = 300.0
DEFAULT_RETENTION_HOURS = 24
SEQ_PREFIX = "49"  # Kinesis sequence numbers start with 49 today; cosmetic
SEQ_DIGITS = 20
SUFFIX = ".kinesis.db"


# ----------------------------------------------------------------------------------------- errors
class ServiceExceptions:
    """`client.exceptions` of a local client: ClientError subclasses named by error code, like boto3's."""

    def __init__(self, codes: Iterable[str]) -> None:
        self._classes: dict[str, type[ClientError]] = {}
        for code in codes:
            cls = type(code, (ClientError,), {})
            self._classes[code] = cls
            setattr(self, code, cls)
        self.ClientError = ClientError

    def error(self, code: str, message: str, operation: str, status: int = 400) -> ClientError:
        cls = self._classes.get(code, ClientError)
        response = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return cls(response, operation)  # type: ignore[arg-type]


KINESIS_ERRORS = ServiceExceptions(
    [
        "ResourceNotFoundException",
        "ResourceInUseException",
        "InvalidArgumentException",
        "ValidationException",
        "ExpiredIteratorException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
    ]
)


# ---------------------------------------------------------------------------------- pure helpers
def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_index(sid: str) -> int:
    try:
        return int(sid.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


_SHARD_PREFIXES = [f"{SEQ_PREFIX}{shard:04d}" for shard in range(10_000)]


def format_sequence(shard: int, n: int) -> str:
    return _SHARD_PREFIXES[shard] + str(n).zfill(SEQ_DIGITS)


def format_sequences(shard: int, first: int, stop: int) -> list[str]:
    """format_sequence of the shard's counters first..stop-1 (a call's or a batch's records)."""
    prefix = _SHARD_PREFIXES[shard]
    return [prefix + str(n).zfill(SEQ_DIGITS) for n in range(first, stop)]


def parse_sequence(seq: str) -> tuple[int, int]:
    """(shard index, per-shard counter) of a sequence number made by format_sequence."""
    if not isinstance(seq, str) or not seq.isdigit() or len(seq) != len(SEQ_PREFIX) + 4 + SEQ_DIGITS:
        raise ValueError(f"not a sequence number of this stream: {seq!r}")
    return int(seq[len(SEQ_PREFIX) : len(SEQ_PREFIX) + 4]), int(seq[-SEQ_DIGITS:])


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_starts(shard_count: int) -> list[int]:
    step = HASH_SPACE // shard_count
    return [i * step for i in range(shard_count)]


def route(starts: list[int], key: int) -> int:
    return bisect.bisect_right(starts, key) - 1


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError(f"Data must be bytes or str, got {type(data).__name__}")


def _epoch(value: datetime | float | int | str) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


# ------------------------------------------------------------------------------------------ client
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (shard INTEGER PRIMARY KEY, start_hash TEXT NOT NULL,
    end_hash TEXT NOT NULL, next_n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (shard INTEGER NOT NULL, first INTEGER NOT NULL, count INTEGER NOT NULL,
    arrival REAL NOT NULL, body BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS batches_first ON batches (shard, first);
CREATE INDEX IF NOT EXISTS batches_arrival ON batches (shard, arrival);
"""
_OLD_LAYOUT = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='records'"


class StreamFileError(RuntimeError):
    """A stream file this version cannot read."""


def _pack(keys: list[str], data: list[bytes]) -> bytes:
    """One shard's records of one PutRecords call (decoded by marshal.loads: C, no per-record Python)."""
    return marshal.dumps((keys, data), 4)


class _Stream:
    """Per-process view of one stream file: its static shape and a connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = ThreadConnections(path)
        conn = self.conn()
        if conn.execute(_OLD_LAYOUT).fetchone():  # written before records were stored a call per row
            raise StreamFileError(
                f"{path}: a stream file of an older layout (a row per record); start a fresh "
                "runtime (make demo does) or remove the file"
            )
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self.name = meta["name"]
        self.shard_count = int(meta["shard_count"])
        self.created = float(meta["created"])
        self.starts = shard_starts(self.shard_count)
        self.writes_since_trim = 0

    def retention_hours(self) -> int:
        row = self.conn().execute("SELECT value FROM meta WHERE key='retention_hours'").fetchone()
        return int(row[0])


def _connect(path: Path) -> sqlite3.Connection:
    """Autocommit (transactions are explicit), WAL, and a long busy timeout for concurrent writers."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class ThreadConnections:
    """One SQLite connection per thread to one file (the local services are shared by threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def __call__(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn


class LocalKinesis:
    """A boto3-Kinesis-shaped client over streams stored under `root`."""

    exceptions = KINESIS_ERRORS

    def __init__(
        self,
        root: str | Path,
        region: str = "us-east-1",
        account: str = "000000000000",
        clock: Callable[[], float] = time.time,
        shard_write_limit: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.region, self.account, self.clock = region, account, clock
        # Records per second per shard before PutRecords answers ProvisionedThroughputExceeded
        # (Kinesis allows 1,000); None = unlimited, the local default.
        self.shard_write_limit = shard_write_limit
        self._window: dict[tuple[str, int], tuple[int, int]] = {}
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------- stream management
    def stream_arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account}:stream/{name}"

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise self.exceptions.error(
                "ValidationException", f"invalid stream name {name!r}", "CreateStream"
            )
        return self.root / f"{name}{SUFFIX}"

    def _stream(self, name: str | None, operation: str, arn: str | None = None) -> _Stream:
        if name is None and arn:
            name = arn.rsplit("/", 1)[-1]
        if not name:
            raise self.exceptions.error(
                "ValidationException", "StreamName or StreamARN is required", operation
            )
        stream = self._streams.get(name)
        if stream is not None:
            return stream
        path = self._path(name)
        if not path.exists():
            raise self.exceptions.error(
                "ResourceNotFoundException",
                f"Stream {name} under account {self.account} not found.",
                operation,
            )
        with self._lock:
            stream = self._streams.get(name) or _Stream(path)
            self._streams[name] = stream
        return stream

    def create_stream(
        self, StreamName: str, ShardCount: int = 1, StreamModeDetails: dict | None = None, **_: Any
    ) -> dict:
        path = self._path(StreamName)
        if ShardCount < 1 or ShardCount > 9999:
            raise self.exceptions.error(
                "InvalidArgumentException", "ShardCount must be 1..9999", "CreateStream"
            )
        conn = _connect(path)
        try:
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM meta WHERE key='name'").fetchone():
                conn.execute("ROLLBACK")
                raise self.exceptions.error(
                    "ResourceInUseException",
                    f"Stream {StreamName} under account {self.account} already exists.",
                    "CreateStream",
                )
            starts = shard_starts(ShardCount)
            ends = [*(s - 1 for s in starts[1:]), HASH_SPACE - 1]
            conn.executemany(
                "INSERT INTO shards VALUES (?, ?, ?, 0)",
                [(i, str(s), str(e)) for i, (s, e) in enumerate(zip(starts, ends, strict=True))],
            )
            mode = (StreamModeDetails or {}).get("StreamMode", "PROVISIONED")
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("name", StreamName),
                    ("shard_count", str(ShardCount)),
                    ("created", repr(self.clock())),
                    ("retention_hours", str(DEFAULT_RETENTION_HOURS)),
                    ("mode", mode),
                ],
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        return {}

    def ensure_stream(self, name: str, shards: int = 1) -> None:
        """Create the stream unless it exists (non-boto convenience for local wiring)."""
        with contextlib.suppress(self.exceptions.ResourceInUseException):
            self.create_stream(StreamName=name, ShardCount=shards)

    def delete_stream(self, StreamName: str, **_: Any) -> dict:
        self._stream(StreamName, "DeleteStream")
        with self._lock:
            self._streams.pop(StreamName, None)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self._path(StreamName)}{suffix}").unlink(missing_ok=True)
        return {}

    def list_streams(self, **_: Any) -> dict:
        names = sorted(p.name[: -len(SUFFIX)] for p in self.root.glob(f"*{SUFFIX}"))
        return {
            "StreamNames": names,
            "HasMoreStreams": False,
            "StreamSummaries": [
                {"StreamName": n, "StreamARN": self.stream_arn(n), "StreamStatus": "ACTIVE"} for n in names
            ],
        }

    def list_shards(self, StreamName: str | None = None, StreamARN: str | None = None, **_: Any) -> dict:
        stream = self._stream(StreamName, "ListShards", StreamARN)
        rows = (
            stream.conn().execute("SELECT shard, start_hash, end_hash FROM shards ORDER BY shard").fetchall()
        )
        return {
            "Shards": [
                {
                    "ShardId": shard_id(i),
                    "HashKeyRange": {"StartingHashKey": lo, "EndingHashKey": hi},
                    "SequenceNumberRange": {"StartingSequenceNumber": format_sequence(i, 0)},
                }
                for i, lo, hi in rows
            ]
        }

    def describe_stream_summary(
        self, StreamName: str | None = None, StreamARN: str | None = None, **_: Any
    ) -> dict:
        stream = self._stream(StreamName, "DescribeStreamSummary", StreamARN)
        return {
            "StreamDescriptionSummary": {
                "StreamName": stream.name,
                "StreamARN": self.stream_arn(stream.name),
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "RetentionPeriodHours": stream.retention_hours(),
                "StreamCreationTimestamp": datetime.fromtimestamp(stream.created, UTC),
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
                "OpenShardCount": stream.shard_count,
                "ConsumerCount": 0,
            }
        }

    def describe_stream(self, StreamName: str | None = None, StreamARN: str | None = None, **_: Any) -> dict:
        summary = self.describe_stream_summary(StreamName=StreamName, StreamARN=StreamARN)[
            "StreamDescriptionSummary"
        ]
        shards = self.list_shards(StreamName=summary["StreamName"])["Shards"]
        keep = (
            "StreamName",
            "StreamARN",
            "StreamStatus",
            "StreamModeDetails",
            "RetentionPeriodHours",
            "StreamCreationTimestamp",
            "EnhancedMonitoring",
            "EncryptionType",
        )
        return {
            "StreamDescription": {**{k: summary[k] for k in keep}, "Shards": shards, "HasMoreShards": False}
        }

    def _set_retention(self, name: str, hours: int, operation: str, grow: bool) -> dict:
        stream = self._stream(name, operation)
        current = stream.retention_hours()
        if not 24 <= hours <= 8760 or (grow and hours < current) or (not grow and hours > current):
            raise self.exceptions.error(
                "InvalidArgumentException",
                f"RetentionPeriodHours {hours} invalid (current {current})",
                operation,
            )
        stream.conn().execute("UPDATE meta SET value=? WHERE key='retention_hours'", (str(hours),))
        return {}

    def increase_stream_retention_period(self, StreamName: str, RetentionPeriodHours: int, **_: Any) -> dict:
        return self._set_retention(
            StreamName, RetentionPeriodHours, "IncreaseStreamRetentionPeriod", grow=True
        )

    def decrease_stream_retention_period(self, StreamName: str, RetentionPeriodHours: int, **_: Any) -> dict:
        return self._set_retention(
            StreamName, RetentionPeriodHours, "DecreaseStreamRetentionPeriod", grow=False
        )

    def trim(self, StreamName: str) -> int:
        """Delete the records older than the retention period; returns how many (not a boto3 call)."""
        stream = self._stream(StreamName, "Trim")
        horizon = self.clock() - stream.retention_hours() * 3600.0
        conn = stream.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            (count,) = conn.execute(
                "SELECT coalesce(sum(count), 0) FROM batches WHERE arrival < ?", (horizon,)
            ).fetchone()
            conn.execute("DELETE FROM batches WHERE arrival < ?", (horizon,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return count

    def record_count(self, StreamName: str) -> int:
        """Records held by the stream, all shards (not a boto3 call: tests poll it)."""
        stream = self._stream(StreamName, "RecordCount")
        return stream.conn().execute("SELECT coalesce(sum(count), 0) FROM batches").fetchone()[0]

    # ------------------------------------------------------------------------------------ writes
    def put_record(
        self,
        StreamName: str | None = None,
        Data: bytes | str = b"",
        PartitionKey: str = "",
        ExplicitHashKey: str | None = None,
        StreamARN: str | None = None,
        **_: Any,
    ) -> dict:
        entry: dict[str, Any] = {"Data": Data, "PartitionKey": PartitionKey}
        if ExplicitHashKey is not None:
            entry["ExplicitHashKey"] = ExplicitHashKey
        result = self._put(StreamName, StreamARN, [entry], "PutRecord")[0]
        if "ErrorCode" in result:
            raise self.exceptions.error(result["ErrorCode"], result["ErrorMessage"], "PutRecord")
        return {**result, "EncryptionType": "NONE"}

    def put_records(
        self, Records: list[dict], StreamName: str | None = None, StreamARN: str | None = None, **_: Any
    ) -> dict:
        results = self._put(StreamName, StreamARN, Records, "PutRecords")
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedRecordCount": failed, "Records": results, "EncryptionType": "NONE"}

    def _validate(
        self, records: list[dict], operation: str, single: bool
    ) -> tuple[list[str], list[bytes], list[int] | None]:
        """(partition keys, data, hash keys) of valid entries; hash keys None for a one-shard stream
        (it owns the whole range: no MD5 per record, the hot local case)."""
        if operation == "PutRecords" and not 1 <= len(records) <= MAX_PUT_RECORDS:
            raise self.exceptions.error(
                "ValidationException",
                f"Records must hold 1..{MAX_PUT_RECORDS} entries, got {len(records)}",
                operation,
            )
        keys, datas, hashes = [], [], []
        for i, rec in enumerate(records):
            pk = rec.get("PartitionKey")
            data = rec.get("Data")
            if type(pk) is not str or not 1 <= len(pk) <= 256:
                raise self.exceptions.error(
                    "ValidationException",
                    f"Records[{i}].PartitionKey must be a 1..256 character string",
                    operation,
                )
            if type(data) is not bytes:
                try:
                    data = _as_bytes(data)
                except TypeError as err:
                    raise self.exceptions.error(
                        "ValidationException", f"Records[{i}]: {err}", operation
                    ) from None
            # a character encodes in 4 bytes at most: encode only the keys that may matter
            if len(data) + 4 * len(pk) > MAX_RECORD_BYTES and len(data) + len(pk.encode()) > MAX_RECORD_BYTES:
                raise self.exceptions.error(
                    "ValidationException", f"Records[{i}] exceeds {MAX_RECORD_BYTES} bytes", operation
                )
            explicit = rec.get("ExplicitHashKey")
            if explicit is not None or not single:
                key = int(explicit) if explicit is not None else hash_key(pk)
                if not 0 <= key < HASH_SPACE:
                    raise self.exceptions.error(
                        "InvalidArgumentException", f"ExplicitHashKey out of range: {explicit}", operation
                    )
                hashes.append(key)
            keys.append(pk)
            datas.append(data)
        return keys, datas, (None if single else hashes)

    def _admit(self, stream: _Stream, shard: int, now: float) -> bool:
        """Per-shard records-per-second budget (only when shard_write_limit is set)."""
        if self.shard_write_limit is None:
            return True
        second = int(now)
        key = (stream.name, shard)
        window_second, used = self._window.get(key, (second, 0))
        if window_second != second:
            window_second, used = second, 0
        if used >= self.shard_write_limit:
            return False
        self._window[key] = (window_second, used + 1)
        return True

    def _put(self, name: str | None, arn: str | None, records: list[dict], operation: str) -> list[dict]:
        stream = self._stream(name, operation, arn)
        keys, datas, hashes = self._validate(records, operation, single=stream.shard_count == 1)
        now = self.clock()
        conn = stream.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            next_n = dict(conn.execute("SELECT shard, next_n FROM shards").fetchall())
            if hashes is None and self.shard_write_limit is None:
                # one shard, no write limit: the whole call is one batch (no per-record routing)
                first = next_n[0]
                batches = {0: (first, keys, datas)}
                sid = shard_id(0)
                results = [
                    {"ShardId": sid, "SequenceNumber": seq}
                    for seq in format_sequences(0, first, first + len(keys))
                ]
            else:
                results, batches = self._route(stream, keys, datas, hashes, next_n, now)
            written = 0
            for shard, (first, shard_keys, shard_data) in batches.items():
                if shard_keys:
                    conn.execute(
                        "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                        (shard, first, len(shard_keys), now, _pack(shard_keys, shard_data)),
                    )
                    conn.execute("UPDATE shards SET next_n=? WHERE shard=?", (first + len(shard_keys), shard))
                    written += len(shard_keys)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        stream.writes_since_trim += written
        if stream.writes_since_trim >= 10_000:  # amortised retention enforcement
            stream.writes_since_trim = 0
            self.trim(stream.name)
        return results

    def _route(
        self,
        stream: _Stream,
        keys: list[str],
        datas: list[bytes],
        hashes: list[int] | None,
        next_n: dict[int, int],
        now: float,
    ) -> tuple[list[dict], dict[int, tuple[int, list[str], list[bytes]]]]:
        """Per record: its shard, the write limit, its sequence number; the batch of each shard."""
        results: list[dict] = []
        batches: dict[int, tuple[int, list[str], list[bytes]]] = {}
        for i, pk in enumerate(keys):
            shard = 0 if hashes is None else route(stream.starts, hashes[i])
            if not self._admit(stream, shard, now):
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": f"Rate exceeded for shard {shard_id(shard)} in stream {stream.name} "
                        f"under account {self.account}.",
                    }
                )
                continue
            first, shard_keys, shard_data = batches.setdefault(shard, (next_n[shard], [], []))
            results.append(
                {
                    "ShardId": shard_id(shard),
                    "SequenceNumber": format_sequence(shard, first + len(shard_keys)),
                }
            )
            shard_keys.append(pk)
            shard_data.append(datas[i])
        return results, batches

    # ------------------------------------------------------------------------------------- reads
    def _iterator(self, stream: str, shard: int, n: int) -> str:
        raw = f"{stream}|{shard}|{n}|{self.clock()!r}".encode()
        return base64.urlsafe_b64encode(raw).decode()

    def get_shard_iterator(
        self,
        ShardId: str,
        ShardIteratorType: str,
        StreamName: str | None = None,
        StartingSequenceNumber: str | None = None,
        Timestamp: datetime | float | str | None = None,
        StreamARN: str | None = None,
        **_: Any,
    ) -> dict:
        op = "GetShardIterator"
        stream = self._stream(StreamName, op, StreamARN)
        shard = shard_index(ShardId)
        if not 0 <= shard < stream.shard_count:
            raise self.exceptions.error(
                "ResourceNotFoundException", f"Shard {ShardId} in stream {stream.name} not found", op
            )
        conn = stream.conn()
        if ShardIteratorType == "TRIM_HORIZON":
            n = 0
        elif ShardIteratorType == "LATEST":
            n = conn.execute("SELECT next_n FROM shards WHERE shard=?", (shard,)).fetchone()[0]
        elif ShardIteratorType in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            try:
                seq_shard, seq_n = parse_sequence(StartingSequenceNumber or "")
            except ValueError as err:
                raise self.exceptions.error("InvalidArgumentException", str(err), op) from None
            if seq_shard != shard:
                raise self.exceptions.error(
                    "InvalidArgumentException",
                    f"StartingSequenceNumber {StartingSequenceNumber} used in GetShardIterator on shard {ShardId} "
                    f"in stream {stream.name} is invalid because it did not come from this stream.",
                    op,
                )
            n = seq_n + (ShardIteratorType == "AFTER_SEQUENCE_NUMBER")
        elif ShardIteratorType == "AT_TIMESTAMP":
            if Timestamp is None:
                raise self.exceptions.error("InvalidArgumentException", "AT_TIMESTAMP needs Timestamp", op)
            row = conn.execute(
                "SELECT min(first) FROM batches WHERE shard=? AND arrival >= ?", (shard, _epoch(Timestamp))
            ).fetchone()
            row = row if row[0] is not None else None
            n = (
                row[0]
                if row
                else conn.execute("SELECT next_n FROM shards WHERE shard=?", (shard,)).fetchone()[0]
            )
        else:
            raise self.exceptions.error(
                "InvalidArgumentException", f"unknown ShardIteratorType {ShardIteratorType!r}", op
            )
        return {"ShardIterator": self._iterator(stream.name, shard, n)}

    def get_records(self, ShardIterator: str, Limit: int = MAX_GET_LIMIT, **_: Any) -> dict:
        op = "GetRecords"
        try:
            name, shard_s, n_s, issued_s = (
                base64.urlsafe_b64decode(ShardIterator.encode()).decode().split("|")
            )
            shard, n, issued = int(shard_s), int(n_s), float(issued_s)
        except (ValueError, UnicodeDecodeError, AttributeError):
            raise self.exceptions.error("InvalidArgumentException", "Invalid ShardIterator", op) from None
        now = self.clock()
        if now - issued > ITERATOR_TTL_S:
            raise self.exceptions.error(
                "ExpiredIteratorException", f"Iterator expired ({now - issued:.0f} s old)", op
            )
        if not 1 <= Limit <= MAX_GET_LIMIT:
            raise self.exceptions.error("InvalidArgumentException", f"Limit must be 1..{MAX_GET_LIMIT}", op)
        stream = self._stream(name, op)
        records: list[dict] = []
        # from the batch holding n (or the oldest kept one), in order, until Limit + 1 records
        cursor = stream.conn().execute(
            "SELECT first, count, arrival, body FROM batches WHERE shard=?1 AND first >= "
            "(SELECT coalesce(max(first), 0) FROM batches WHERE shard=?1 AND first <= ?2) ORDER BY first",
            (shard, n),
        )
        want = Limit + 1
        more = False
        for first, count, arrival, body in cursor:
            skip = max(0, n - first)
            take = min(count, skip + want - len(records))
            if skip >= take:  # read up to its end already (an empty poll at the tip): not decoded
                continue
            keys, datas = marshal.loads(body)
            moment = datetime.fromtimestamp(arrival, UTC)  # one object for the batch's records
            records += [
                {
                    "SequenceNumber": seq,
                    "ApproximateArrivalTimestamp": moment,
                    "Data": data,
                    "PartitionKey": pk,
                }
                for seq, pk, data in zip(
                    format_sequences(shard, first + skip, first + take),
                    keys[skip:take],
                    datas[skip:take],
                    strict=True,
                )
            ]
            if len(records) >= want:
                more = True
                break
        cursor.close()
        if more:
            records.pop()
        next_n = parse_sequence(records[-1]["SequenceNumber"])[1] + 1 if records else n
        behind = (
            max(0, int((now - records[-1]["ApproximateArrivalTimestamp"].timestamp()) * 1000)) if more else 0
        )
        return {
            "Records": records,
            "NextShardIterator": self._iterator(name, shard, next_n),
            "MillisBehindLatest": behind,
        }
