"""Event-source-mapping delivery from a Kinesis stream to a Lambda handler, with Lambda's rules.

`EsmRunner` polls every shard of a stream (the local one or a boto3 Kinesis client: same calls),
builds Lambda's Kinesis event (`Records[].kinesis.{data base64, partitionKey, sequenceNumber,
approximateArrivalTimestamp, kinesisSchemaVersion}`, eventSource "aws:kinesis", eventID
"shardId-…:seq", eventSourceARN, awsRegion, …) and calls `handler(event, context)` in process.
Rules kept from Lambda's Kinesis event source mapping:

- BatchSize records at most per invocation; MaximumBatchingWindowInSeconds: a partial batch waits
  that long after its first record for more (0 = invoke as soon as records are there).
- a function error (an exception, or an invalid partial-batch response) fails the whole batch:
  with BisectBatchOnFunctionError the batch is split in two and each half retried (splitting
  does not consume a retry); otherwise it is retried until MaximumRetryAttempts retries have
  failed (-1 = forever, as on AWS).
- ReportBatchItemFailures: `{"batchItemFailures": [{"itemIdentifier": seq}]}` checkpoints before
  the lowest failed sequence number and retries from it; an empty or null list is success; an
  empty/null/unknown itemIdentifier fails the whole batch.
- MaximumRecordAgeInSeconds: older records are not delivered (-1 = no limit).
- discarded records go to the on-failure destination, one message per record: Lambda's on-failure
  record (requestContext with condition, responseContext, version, timestamp, KinesisBatchInfo)
  plus the non-AWS keys "record" (the Kinesis event record, data included) and "errorMessage"
  (the reason: the exception, or a batchItemFailures item's optional non-AWS "reason" key).
- checkpoint per shard (atomic JSON file with the statistics), advanced after every fully handled
  (sub-)batch: a restart resumes there. Delivery is at least once, as on AWS: a crash between a
  successful invocation and its checkpoint redelivers that batch, so handlers must be idempotent.
  With `save_interval_s` > 0 the file is written at most that often (and when the mapping goes
  idle or stops): a rename costs about a millisecond here, more than a small batch's handling,
  and a crash then redelivers a little more.

Accounting: stats["records_in"] == stats["processed"] + stats["dead_lettered"] after each batch.
Shards are polled in turn by one thread (one invocation at a time, ParallelizationFactor 1).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from binascii import b2a_base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clients.kinesis import IdlePace, ShardReader
from features.records import format_ts

Handler = Callable[[dict, Any], Any]
_HANDLER_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _handler_lock(handler: Handler) -> threading.Lock:
    """One lock per handler: a Lambda execution environment runs one invocation at a time."""
    with _LOCKS_GUARD:
        return _HANDLER_LOCKS.setdefault(id(handler), threading.Lock())


@dataclass(frozen=True)
class EventSourceMapping:
    """The settings of AWS::Lambda::EventSourceMapping for a Kinesis source (AWS defaults)."""

    function_name: str
    stream_name: str
    batch_size: int = 100
    maximum_batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"  # or LATEST
    maximum_retry_attempts: int = -1
    maximum_record_age_s: float = -1
    bisect_batch_on_function_error: bool = False
    function_response_types: tuple[str, ...] = ()
    region: str = "us-east-1"
    account: str = "000000000000"

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError("batch_size must be 1..10000")
        if self.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("starting_position must be TRIM_HORIZON or LATEST")
        if self.maximum_retry_attempts < -1:
            raise ValueError("maximum_retry_attempts must be -1 (forever) or >= 0")

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


class LambdaContext:
    """The context object a Python Lambda handler receives (the attributes Powertools reads)."""

    def __init__(self, function_name: str, arn: str, timeout_s: float = 60.0, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Shard:
    reader: ShardReader
    buffer: list[dict] = field(default_factory=list)
    first_buffered: float | None = None  # monotonic time the oldest buffered record was read

    @property
    def shard_id(self) -> str:
        return self.reader.shard_id


class FunctionError(Exception):
    """The whole batch failed: an exception, or a partial-batch response Lambda rejects."""


def _iso(moment: datetime | float) -> str:
    seconds = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    return format_ts(round(seconds * 1000))


class EsmRunner:
    """Polls one stream for one function; see the module docstring for the rules kept."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        kinesis: Any,
        handler: Handler,
        checkpoint_path: str | Path,
        on_failure: Any = None,
        on_failure_url: str | None = None,
        on_failure_jsonl: str | Path | None = None,
        timeout_s: float = 60.0,
        retry_delay_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        save_interval_s: float = 0.0,
    ) -> None:
        self.mapping, self.kinesis, self.handler = mapping, kinesis, handler
        self.on_failure, self.on_failure_url = on_failure, on_failure_url
        self.on_failure_jsonl = Path(on_failure_jsonl) if on_failure_jsonl else None
        self.timeout_s, self.retry_delay_s, self.clock = timeout_s, retry_delay_s, clock
        self.checkpoint_path = Path(checkpoint_path)
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        # 0: the checkpoint file is written after every handled batch, as Lambda checkpoints. More:
        # written at most that often, and whenever the mapping goes idle or stops (a crash then
        # redelivers up to that much more, which at-least-once delivery allows).
        self.save_interval_s = save_interval_s
        self._unsaved = False
        self._saved_at = float("-inf")
        self.discarded: list[dict] = []
        self.lock = _handler_lock(handler)
        summary = kinesis.describe_stream_summary(StreamName=mapping.stream_name)["StreamDescriptionSummary"]
        self.stream_arn = summary["StreamARN"]
        self.role_arn = f"arn:aws:iam::{mapping.account}:role/{mapping.function_name}-role"
        self.positions: dict[str, str] = {}
        self.stats = {
            "records_in": 0,
            "processed": 0,
            "dead_lettered": 0,
            "invocations": 0,
            "function_errors": 0,
            "retries": 0,
            "bisections": 0,
        }
        if self.checkpoint_path.exists():
            saved = json.loads(self.checkpoint_path.read_text())
            self.positions, self.stats = saved["positions"], {**self.stats, **saved["stats"]}
        shards = kinesis.list_shards(StreamName=mapping.stream_name)["Shards"]
        self.shards = [
            _Shard(
                ShardReader(
                    kinesis,
                    mapping.stream_name,
                    s["ShardId"],
                    after=self.positions.get(s["ShardId"]),
                    start=mapping.starting_position,
                )
            )
            for s in shards
        ]

    # ----------------------------------------------------------------------------- checkpoint
    def _save(self) -> None:
        tmp = self.checkpoint_path.with_suffix(self.checkpoint_path.suffix + ".tmp")
        # write + rename is atomic for a killed process (the page cache survives it); no fsync per
        # batch, like the SQLite files here (synchronous=NORMAL): a power cut may lose the last batches
        # (one write: json.dump would write the file piece by piece)
        tmp.write_text(json.dumps({"positions": self.positions, "stats": self.stats}))
        os.replace(tmp, self.checkpoint_path)
        self._unsaved, self._saved_at = False, time.monotonic()

    def flush(self) -> None:
        """Write the checkpoint if a handled batch is not in it yet (see save_interval_s)."""
        if self._unsaved:
            self._save()

    # -------------------------------------------------------------------------------- reading
    def _fill(self, shard: _Shard) -> None:
        want = self.mapping.batch_size - len(shard.buffer)
        if want <= 0:
            return
        page = shard.reader.read(want)
        if page["Records"]:
            if not shard.buffer:
                shard.first_buffered = time.monotonic()
            shard.buffer += page["Records"]

    def _ready(self, shard: _Shard) -> bool:
        if not shard.buffer:
            return False
        if len(shard.buffer) >= self.mapping.batch_size or self.mapping.maximum_batching_window_s <= 0:
            return True
        return time.monotonic() - (shard.first_buffered or 0) >= self.mapping.maximum_batching_window_s

    def poll_once(self) -> int:
        """Read every shard once and deliver the batches that are ready; returns records delivered."""
        delivered = 0
        for shard in self.shards:
            self._fill(shard)
            if self._ready(shard):
                batch = shard.buffer[: self.mapping.batch_size]
                shard.buffer = shard.buffer[len(batch) :]
                shard.first_buffered = time.monotonic() if shard.buffer else None
                self._deliver(shard.shard_id, batch)
                delivered += len(batch)
        return delivered

    def run(
        self, stop: threading.Event | None = None, idle_exit_s: float | None = None, poll_s: float = 0.05
    ) -> None:
        """Poll until `stop` is set (or nothing arrived for idle_exit_s seconds)."""
        stop, pace = stop or threading.Event(), IdlePace(poll_s)
        try:
            while not stop.is_set():
                if self.poll_once():
                    pace.records()
                    continue
                self.flush()
                pending = any(s.buffer for s in self.shards)  # a batching window keeps its pace
                if idle_exit_s is not None and not pending and pace.idle_s() >= idle_exit_s:
                    return
                stop.wait(pace.wait_s(holds=pending))
        finally:
            self.flush()

    # ------------------------------------------------------------------------------- delivery
    def event_record(self, shard_id: str, record: dict) -> dict:
        return self.event_records(shard_id, [record])[0]

    def event_records(self, shard_id: str, batch: list[dict]) -> list[dict]:
        """Lambda's Kinesis event records of a batch: one loop, the arrival time converted once per
        arrival (the records of one PutRecords call share it), no call per record."""
        role, region, arn, prefix = self.role_arn, self.mapping.region, self.stream_arn, f"{shard_id}:"
        last: Any = None
        seconds = 0.0
        out = []
        append = out.append
        for record in batch:
            arrival = record["ApproximateArrivalTimestamp"]
            if arrival is not last:
                last = arrival
                seconds = round(arrival.timestamp() if isinstance(arrival, datetime) else float(arrival), 3)
            sequence = record["SequenceNumber"]
            append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record["PartitionKey"],
                        "sequenceNumber": sequence,
                        "data": b2a_base64(record["Data"], newline=False).decode("ascii"),
                        "approximateArrivalTimestamp": seconds,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": prefix + sequence,
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": role,
                    "awsRegion": region,
                    "eventSourceARN": arn,
                }
            )
        return out

    def _invoke(self, shard_id: str, batch: list[dict]) -> dict[str, str | None]:
        """Call the handler; returns {sequence number: reason} of failed items ({} = success)."""
        event = {"Records": self.event_records(shard_id, batch)}
        context = LambdaContext(self.mapping.function_name, self.mapping.function_arn, self.timeout_s)
        self.stats["invocations"] += 1
        try:
            with self.lock:
                response = self.handler(event, context)
        except Exception as err:  # a function error, exactly what Lambda catches
            raise FunctionError(f"{type(err).__name__}: {err}") from err
        if not self.mapping.reports_item_failures or not isinstance(response, dict):
            return {}
        failures = response.get("batchItemFailures")
        if not failures:
            return {}
        if not isinstance(failures, list):
            raise FunctionError(
                f"invalid partial batch response: batchItemFailures is {type(failures).__name__}"
            )
        known = {r["SequenceNumber"] for r in batch}
        failed: dict[str, str | None] = {}
        for item in failures:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not ident or ident not in known:
                raise FunctionError(f"invalid partial batch response: itemIdentifier {ident!r}")
            failed[ident] = item.get("reason") or item.get("errorMessage")
        return failed

    def _deliver(self, shard_id: str, batch: list[dict]) -> None:
        m = self.mapping
        self.stats["records_in"] += len(batch)
        queue: list[tuple[list[dict], int]] = [(batch, 0)]  # (sub-batch, failed invocations so far)
        while queue:
            sub, failures = queue.pop(0)
            if m.maximum_record_age_s >= 0:
                now = self.clock()
                fresh = [r for r in sub if now - _arrival(r) <= m.maximum_record_age_s]
                if len(fresh) < len(sub):
                    old = [r for r in sub if now - _arrival(r) > m.maximum_record_age_s]
                    why = f"record older than MaximumRecordAgeInSeconds ({m.maximum_record_age_s} s)"
                    self._dead_letter(
                        shard_id,
                        old,
                        dict.fromkeys((r["SequenceNumber"] for r in old), why),
                        "RecordAgeExceeded",
                        failures,
                        function_error=None,
                    )
                    sub = fresh
                    if not sub:
                        self._checkpoint(shard_id, old[-1])
                        continue
            try:
                failed = self._invoke(shard_id, sub)
            except FunctionError as err:
                self.stats["function_errors"] += 1
                if m.bisect_batch_on_function_error and len(sub) > 1:
                    half = len(sub) // 2
                    self.stats["bisections"] += 1
                    queue[0:0] = [(sub[:half], 0), (sub[half:], 0)]
                    continue
                failures += 1
                if m.maximum_retry_attempts != -1 and failures > m.maximum_retry_attempts:
                    reason = str(err)
                    self._dead_letter(
                        shard_id,
                        sub,
                        dict.fromkeys((r["SequenceNumber"] for r in sub), reason),
                        "RetryAttemptsExhausted",
                        failures,
                        function_error="Unhandled",
                    )
                    self._checkpoint(shard_id, sub[-1])
                else:
                    self.stats["retries"] += 1
                    self._pause()
                    queue.insert(0, (sub, failures))
                continue
            if not failed:
                self.stats["processed"] += len(sub)
                self._checkpoint(shard_id, sub[-1])
                continue
            # Partial batch response: checkpoint before the lowest failed record, retry from there.
            first = min(i for i, r in enumerate(sub) if r["SequenceNumber"] in failed)
            if first:
                self.stats["processed"] += first
                self._checkpoint(shard_id, sub[first - 1])
            rest = sub[first:]
            failures = failures + 1 if first == 0 else 1
            if m.maximum_retry_attempts != -1 and failures > m.maximum_retry_attempts:
                # The last attempt handled every record it did not report: those are processed.
                bad = [r for r in rest if r["SequenceNumber"] in failed]
                reasons = {s: why or "reported in batchItemFailures" for s, why in failed.items()}
                self.stats["processed"] += len(rest) - len(bad)
                self._dead_letter(
                    shard_id, bad, reasons, "RetryAttemptsExhausted", failures, function_error=None
                )
                self._checkpoint(shard_id, rest[-1])
            else:
                self.stats["retries"] += 1
                self._pause()
                queue.insert(0, (rest, failures))

    def _pause(self) -> None:
        if self.retry_delay_s > 0:
            time.sleep(self.retry_delay_s)

    def _checkpoint(self, shard_id: str, last: dict) -> None:
        self.positions[shard_id] = last["SequenceNumber"]
        self._unsaved = True
        if self.save_interval_s <= 0 or time.monotonic() - self._saved_at >= self.save_interval_s:
            self._save()

    def _dead_letter(
        self,
        shard_id: str,
        records: list[dict],
        reasons: dict[str, str | None],
        condition: str,
        invocations: int,
        function_error: str | None,
    ) -> None:
        for r in records:
            arrival = _iso(r["ApproximateArrivalTimestamp"])
            response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if function_error:
                response_context["functionError"] = function_error
            message = {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": self.mapping.function_arn,
                    "condition": condition,
                    "approximateInvokeCount": invocations,
                },
                "responseContext": response_context,
                "version": "1.0",
                "timestamp": _iso(self.clock()),
                "KinesisBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": r["SequenceNumber"],
                    "endSequenceNumber": r["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": arrival,
                    "approximateArrivalOfLastRecord": arrival,
                    "batchSize": 1,
                    "streamArn": self.stream_arn,
                },
                "record": self.event_record(shard_id, r),
                "errorMessage": reasons.get(r["SequenceNumber"]) or condition,
            }
            body = json.dumps(message)
            if self.on_failure is not None:
                self.on_failure.send_message(QueueUrl=self.on_failure_url, MessageBody=body)
            if self.on_failure_jsonl is not None:
                with open(self.on_failure_jsonl, "a") as f:
                    f.write(body + "\n")
            if self.on_failure is None and self.on_failure_jsonl is None:
                self.discarded.append(
                    message
                )  # no destination configured: kept in memory, never dropped silently
        self.stats["dead_lettered"] += len(records)


def _arrival(record: dict) -> float:
    moment = record["ApproximateArrivalTimestamp"]
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)
