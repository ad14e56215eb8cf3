"""The local engine as a process over streams (`EngineRunner`, run by `python -m jobs.local_engine`): reads
the transactions stream and writes aggregates (partition key cc_num), late records and dead letters
to streams.
Exactly-once across crashes, even SIGKILL, without cross-file transactions:

1. before processing a batch, its input ranges (shard, first and last sequence number) are
   appended to a write-ahead log in the state database (one small SQLite commit);
2. the batch is processed and its outputs are written to the output streams;
3. every `checkpoint_interval_s` at most, after input was processed, and once the engine's CPU
   time since the last checkpoint is 1/CHECKPOINT_CPU_SHARE times that checkpoint's (or
   CHECKPOINT_MAX_GAP_S have passed), the engine state (windows, pending rows, tids, watermark),
   the input positions and the output tips are written and the log cleared, in one transaction.

On restart the engine loads the checkpoint and replays the logged ranges in the logged order. The
core is deterministic, so the replay regenerates byte-identical outputs; those already present in
the output streams after the checkpointed tips (counted as a multiset of payloads) are skipped,
the rest are written. So no output is lost or written twice, and the window state equals the state
of an uninterrupted run. Reading several input shards merges them by arrival time (ties, from one
PutRecords call, by event time, then shard and sequence); with one shard (the local default) the
order is exactly the producer's.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from clients.kinesis import IdlePace, ShardReader
from features.codec import encode, parse_transaction
from features.definition import SOURCE
from features.records import RecordError
from jobs.local_engine.windows import Outputs, WindowEngine, row_of

# Idle-input poll of the engine process: a local stream read is a cheap SQLite query, so 5 ms
# (~1% of a core idle) keeps the poll out of the event-to-prediction latency; a remote Kinesis
# endpoint gets the old 50 ms (Kinesis allows 5 GetRecords per second per shard and consumer).
LOCAL_POLL_MS, ENDPOINT_POLL_MS = 5.0, 50.0
# A checkpoint pickles the whole window state, so its cost grows with the window: the next
# one waits until the engine has spent 1/CHECKPOINT_CPU_SHARE times the last one's CPU time on
# batches, so checkpoints stay ~5% of the engine's work whatever the state's size (a restart then
# replays at most that much work), or CHECKPOINT_MAX_GAP_S of wall time; none while nothing changed.
CHECKPOINT_CPU_SHARE = 0.05
CHECKPOINT_MAX_GAP_S = 30.0
_SHARD_ID, _SEQUENCE = itemgetter("ShardId"), itemgetter("SequenceNumber")

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS wal (id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);
"""


@dataclass
class Checkpointed:
    """Everything a restart needs, written atomically."""

    engine: WindowEngine
    positions: dict[str, str] = field(default_factory=dict)  # input shard -> last processed sequence number
    out_tips: dict[str, dict[str, str]] = field(default_factory=dict)  # output stream -> shard -> last seq
    created: float = 0.0  # wall time of the first checkpoint (bounds the recovery scan)


@dataclass(frozen=True)
class Streams:
    input: str = "transactions"
    output: str = "aggregates"
    late: str = "late"
    dead: str = "engine-dead-letters"


class EngineRunner:
    """The engine as a process over streams; see the module docstring for the exactly-once design."""

    def __init__(
        self,
        kinesis: Any,
        state_path: str | Path,
        streams: Streams = Streams(),
        batch_limit: int = 5000,
        checkpoint_interval_s: float = 1.0,
        idle_flush_s: float | None = None,
        out_of_orderness_ms: int | None = None,
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.kinesis, self.streams = kinesis, streams
        self.batch_limit, self.checkpoint_interval_s = batch_limit, checkpoint_interval_s
        self.idle_flush_s, self.clock, self.log = idle_flush_s, clock, log
        self.db = sqlite3.connect(state_path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_STATE_SCHEMA)
        self.ooo = out_of_orderness_ms
        self.shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=streams.input)["Shards"]]
        self.buffer: dict[str, list[dict]] = {s: [] for s in self.shards}
        self.suppress: Counter[tuple[str, bytes]] = Counter()
        self.last_input = time.monotonic()
        self.last_checkpoint = time.monotonic()
        self.checkpoint_cpu_s = 0.0  # CPU time of the last checkpoint
        self.cpu_at_checkpoint = time.process_time()
        self.dirty = False  # input processed since the last checkpoint
        self.cp = self._load()
        self.recovered = self._recover()
        # each input shard read on from its checkpointed (and recovered) position
        self.readers = {
            sid: ShardReader(kinesis, streams.input, sid, after=self.cp.positions.get(sid))
            for sid in self.shards
        }

    # ------------------------------------------------------------------------------ checkpoint
    def _load(self) -> Checkpointed:
        row = self.db.execute("SELECT state FROM checkpoint WHERE id=1").fetchone()
        if row is not None:
            return pickle.loads(row[0])
        cp = Checkpointed(WindowEngine(self.ooo), created=self.clock())
        self._write_checkpoint(cp, clear_wal=False)
        return cp

    def _write_checkpoint(self, cp: Checkpointed, clear_wal: bool = True) -> None:
        cpu = time.process_time()
        blob = pickle.dumps(cp, protocol=pickle.HIGHEST_PROTOCOL)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT OR REPLACE INTO checkpoint VALUES (1, ?, ?)", (blob, self.clock()))
        if clear_wal:
            self.db.execute("DELETE FROM wal")
        self.db.execute("COMMIT")
        self.last_checkpoint, self.cpu_at_checkpoint = time.monotonic(), time.process_time()
        self.checkpoint_cpu_s, self.dirty = self.cpu_at_checkpoint - cpu, False

    def checkpoint_due(self) -> bool:
        """See the module docstring: paced by the checkpoint's cost, never while nothing changed."""
        if not self.dirty:
            return False
        waited = time.monotonic() - self.last_checkpoint
        return waited >= self.checkpoint_interval_s and (
            waited >= CHECKPOINT_MAX_GAP_S
            or time.process_time() - self.cpu_at_checkpoint >= self.checkpoint_cpu_s / CHECKPOINT_CPU_SHARE
        )

    def checkpoint(self) -> None:
        self._write_checkpoint(self.cp)

    @property
    def engine(self) -> WindowEngine:
        return self.cp.engine

    # -------------------------------------------------------------------------------- recovery
    def _recover(self) -> int:
        entries = [json.loads(e) for (e,) in self.db.execute("SELECT entry FROM wal ORDER BY id")]
        if not entries:
            return 0
        self.log(f"recovering: replaying {len(entries)} logged batch(es) after the checkpoint")
        for name in (self.streams.output, self.streams.late, self.streams.dead):
            for payload in self._published_since(name):
                self.suppress[(name, payload)] += 1
        replayed = 0
        for entry in entries:
            if "flush" in entry:
                self._publish(self.engine.advance_watermark(entry["flush"]))
                continue
            records = []
            for sid, first, last in entry["read"]:
                records += [(sid, r) for r in self._read_range(sid, first, last)]
            self._process(records)
            replayed += len(records)
        self.suppress.clear()
        self.checkpoint()
        return replayed

    def _published_since(self, stream: str) -> Iterator[bytes]:
        tips = self.cp.out_tips.get(stream, {})
        since = datetime.fromtimestamp(self.cp.created - 1.0, UTC)
        for shard in self.kinesis.list_shards(StreamName=stream)["Shards"]:
            sid = shard["ShardId"]
            reader = ShardReader(
                self.kinesis, stream, sid, after=tips.get(sid), start="AT_TIMESTAMP", timestamp=since
            )
            for r in reader.read_available():
                yield bytes(r["Data"])

    def _read_range(self, sid: str, first: str, last: str) -> list[dict]:
        reader = ShardReader(
            self.kinesis, self.streams.input, sid, start="AT_SEQUENCE_NUMBER", sequence=first
        )
        out: list[dict] = []
        while True:
            records = reader.read()["Records"]
            for r in records:
                if int(r["SequenceNumber"]) > int(last):
                    return out
                out.append(r)
                if r["SequenceNumber"] == last:
                    return out
            if not records:
                raise RuntimeError(
                    f"input records {first}..{last} of {sid} are gone (retention?); cannot recover exactly"
                )

    # ------------------------------------------------------------------------------ processing
    def _fetch(self) -> list[tuple[str, dict]]:
        """Next batch, merged across shards by arrival time (deterministic given the records)."""
        limited: list[float] = []
        for sid in self.shards:
            buf = self.buffer[sid]
            if len(buf) < self.batch_limit:
                page = self.readers[sid].read(self.batch_limit - len(buf))
                buf += page["Records"]
                if page.get("MillisBehindLatest", 0) > 0 and buf:
                    limited.append(_arrival(buf[-1]))
        if not limited or len(self.shards) == 1:  # everything buffered (no test per record)
            batch = [(sid, r) for sid in self.shards for r in self.buffer[sid]]
            self.buffer = {sid: [] for sid in self.shards}
            return batch
        # A shard that has more than it returned bounds the batch: only records that arrived before
        # its last one are taken from every shard (so none arrives later from it); if that leaves
        # nothing, records arrived at that same time are taken too.
        horizon = min(limited)
        return self._take(lambda r: _arrival(r) < horizon) or self._take(lambda r: _arrival(r) <= horizon)

    def _take(self, eligible: Callable[[dict], bool]) -> list[tuple[str, dict]]:
        """The buffered records of every shard up to the first one not eligible (buffers keep the rest)."""
        batch: list[tuple[str, dict]] = []
        for sid in self.shards:
            buf = self.buffer[sid]
            k = next((i for i, r in enumerate(buf) if not eligible(r)), len(buf))
            batch += [(sid, r) for r in buf[:k]]
            self.buffer[sid] = buf[k:]
        return batch

    def _process(self, records: list[tuple[str, dict]]) -> None:
        engine = self.engine
        outputs = Outputs()
        valid = []
        for sid, r in records:
            data = r["Data"]
            try:
                valid.append((sid, r, row_of(parse_transaction(data))))
            except RecordError as err:
                engine.dead(data, str(err), outputs, shardId=sid, sequenceNumber=r["SequenceNumber"])
        if len(self.shards) > 1:
            # Across shards only arrival orders records; ties (one PutRecords call) go by event time,
            # the order a producer writes in, then shard and sequence: deterministic for the replay.
            order = {s: i for i, s in enumerate(self.shards)}
            valid.sort(key=lambda x: (_arrival(x[1]), x[2][3], order[x[0]], int(x[1]["SequenceNumber"])))
        engine.process_rows([row for _, _, row in valid], outputs)
        # positions advance past dead records too (a shard's records are in sequence order: its last wins)
        self.cp.positions.update({sid: r["SequenceNumber"] for sid, r in records})
        self._publish(outputs)

    def _publish(self, outputs: Outputs) -> None:
        entity = SOURCE.entity
        for name, records in (
            (self.streams.output, outputs.aggregates),
            (self.streams.late, outputs.late),
            (self.streams.dead, outputs.duplicates + outputs.dead),
        ):
            entries = [
                {"Data": encode(r), "PartitionKey": str(r.get(entity) or r.get("sequenceNumber") or "dead")}
                for r in records
            ]
            if self.suppress:  # recovering: what the crashed run wrote already is not written again
                entries = [e for e in entries if not self._written_before(name, e["Data"])]
            tips = self.cp.out_tips.setdefault(name, {})
            for start in range(0, len(entries), 500):
                self._put_all(name, entries[start : start + 500], tips)

    def _written_before(self, name: str, data: bytes) -> bool:
        if self.suppress[(name, data)] > 0:
            self.suppress[(name, data)] -= 1
            return True
        return False

    def _put_all(self, name: str, entries: list[dict], tips: dict[str, str]) -> None:
        delay = 0.05
        while entries:
            response = self.kinesis.put_records(StreamName=name, Records=entries)
            results = response["Records"]
            if not response.get("FailedRecordCount") and len(set(map(_SHARD_ID, results))) == 1:
                # all in, one shard (the common case): its newest sequence number, without a loop per record
                sid, seq = results[0]["ShardId"], max(map(_SEQUENCE, results), key=int)
                if sid not in tips or int(seq) > int(tips[sid]):
                    tips[sid] = seq
                return
            retry = []
            for entry, result in zip(entries, results, strict=True):
                if "ErrorCode" in result:
                    retry.append(entry)
                else:
                    sid, seq = result["ShardId"], result["SequenceNumber"]
                    if sid not in tips or int(seq) > int(tips[sid]):
                        tips[sid] = seq
            entries = retry
            if entries:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def step(self) -> int:
        """One batch: read, log, process, publish; checkpoint when due. Returns records read."""
        batch = self._fetch()
        if batch:
            # each shard's first and last sequence number, shards in the order they first appear
            last = {sid: r["SequenceNumber"] for sid, r in batch}
            first = {sid: r["SequenceNumber"] for sid, r in reversed(batch)}
            self.db.execute(
                "INSERT INTO wal (entry) VALUES (?)",
                (json.dumps({"read": [[s, first[s], b] for s, b in last.items()]}),),
            )
            self._process(batch)
            self.last_input, self.dirty = time.monotonic(), True
        elif (
            self.idle_flush_s is not None
            and self.engine.pending
            and time.monotonic() - self.last_input >= self.idle_flush_s
            and self.engine.max_event is not None
        ):
            # Processing-time idleness: release what is buffered (later rows at or before it become late).
            mark = self.engine.max_event
            self.db.execute("INSERT INTO wal (entry) VALUES (?)", (json.dumps({"flush": mark}),))
            self._publish(self.engine.advance_watermark(mark))
            self.dirty = True
        if self.checkpoint_due():
            self.checkpoint()
        return len(batch)

    def run(
        self, stop: threading.Event | None = None, exit_when_idle_s: float | None = None, poll_s: float = 0.05
    ) -> None:
        stop, pace = stop or threading.Event(), IdlePace(poll_s)
        while not stop.is_set():
            if self.step():
                pace.records()
                continue
            flush_due = self.idle_flush_s is not None and self.engine.pending  # an idle flush keeps its pace
            if exit_when_idle_s is not None and pace.idle_s() >= exit_when_idle_s and not flush_due:
                break
            stop.wait(pace.wait_s(holds=flush_due))
        self.checkpoint()


def _arrival(record: dict) -> float:
    moment = record["ApproximateArrivalTimestamp"]
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)
