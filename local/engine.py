"""The local streaming aggregation engine: per-card sliding-window features in event time.

Core (`WindowEngine`, pure, no I/O). For every transaction, in event time:

- watermark W = (largest event time among the rows BEFORE this one) - out_of_orderness
  (features.definition.STREAM); None before the first row. This is the per-row form of Flink SQL's
  `WATERMARK FOR trans_ts AS trans_ts - INTERVAL ...`, so both engines agree row for row.
- a row is late iff W is not None and event_ms <= W (a watermark W promises no more rows at or
  before W; Flink's OVER operator drops them). A late row goes to the late output with a reason
  starting "late:" and is not aggregated.
- then dedup: the first on-time copy of a tid is kept; a later copy goes out as "duplicate".
- a kept row is buffered until the watermark reaches it: Flink fires an event-time timer for t when
  W >= t, so rows with event_ms <= W are emitted, in event-time order (ties in arrival order), each
  with the aggregates over its card's kept rows in [t - length, t], itself and its same-timestamp
  peers included. Because nothing at or before W can still be accepted, the result equals the batch
  job's window over the same kept rows.
- aggregates are generic over features.definition.aggregates_of_kind("sliding")
  (count/sum/avg/max/min, any number of windows): each card keeps its rows of the longest window
  in two deques, shorter windows start where bisection says, and each value is computed over the
  window when the row fires (windows are small), so averages carry no running-sum drift and match
  the batch job to rounding. The per-row code is generated once from the definition.
- a tid is remembered until the watermark is past its event time by the largest window plus the
  out-of-orderness; any later copy of it is late by then anyway.

Durable runner (`EngineRunner`, the `python -m local.engine` process) reads the transactions
stream and writes aggregates (partition key cc_num), late records and dead letters to streams.
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

import argparse
import json
import pickle
import signal
import sqlite3
import sys
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, chain, islice
from json.encoder import encode_basestring_ascii
from math import isfinite
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from features.definition import SOURCE, STREAM, Aggregate, aggregates_of_kind
from features.records import (
    LATE_FIELDS,
    TRANSACTION_FIELDS,
    RecordError,
    encode_json,
    format_ts,
    parse_transaction,
)
from local.stream import poll_wait_s

DEFAULT_OOO_MS = int(STREAM.out_of_orderness.total_seconds() * 1000)
# Idle-input poll of the engine process: a local stream read is a cheap SQLite query, so 5 ms
# (~1% of a core idle) keeps the poll out of the event-to-prediction latency; a remote Kinesis
# endpoint gets the old 50 ms (Kinesis allows 5 GetRecords per second per shard and consumer).
LOCAL_POLL_MS, ENDPOINT_POLL_MS = 5.0, 50.0
# Rows admitted between two releases: bounds the pending list, amortises the release.
RELEASE_EVERY = 512
# A checkpoint pickles the whole window state (~60 ms for 100,000 rows in the window): the next
# one waits until the engine has spent 1/CHECKPOINT_CPU_SHARE times the last one's CPU time on
# batches, so checkpoints stay ~5% of the engine's work whatever the state's size (a restart then
# replays at most that much work), or CHECKPOINT_MAX_GAP_S of wall time; none while nothing changed.
CHECKPOINT_CPU_SHARE = 0.05
CHECKPOINT_MAX_GAP_S = 30.0
# The pickled engine's layout; a checkpoint of another one is refused (a fresh runtime starts clean).
CHECKPOINT_LAYOUT = 3


class CheckpointLayoutError(RuntimeError):
    """An engine checkpoint written by a version with another state layout."""


class Emitted(NamedTuple):
    """One output of the engine: kind is "aggregate", "late", "duplicate" or "dead"."""

    kind: str
    record: dict[str, Any]


@dataclass(slots=True)
class Outputs:
    """What the engine released, by kind (aggregates in event-time order, the rest in arrival order)."""

    aggregates: list[dict[str, Any]] = field(default_factory=list)  # AGGREGATE_FIELDS
    late: list[dict[str, Any]] = field(default_factory=list)  # LATE_FIELDS, reason "late: ..."
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # LATE_FIELDS, reason "duplicate: ..."
    dead: list[dict[str, Any]] = field(default_factory=list)  # {"data", "reason", ...}

    def emitted(self) -> list[Emitted]:
        return [
            Emitted(kind, r)
            for kind, records in (
                ("late", self.late),
                ("duplicate", self.duplicates),
                ("dead", self.dead),
                ("aggregate", self.aggregates),
            )
            for r in records
        ]


# (tid, cc_num, amount, event_ms, trans_ts text or None): a validated transaction
Row = tuple[str, int, float, int, str | None]
NO_TIME = -(1 << 63)  # below every event time: "no watermark yet" in the admission loop
_SHARD_ID, _SEQUENCE = itemgetter("ShardId"), itemgetter("SequenceNumber")
_EVENT_MS, _TID = (
    itemgetter(3),
    itemgetter(0),
)  # a Row's event time: pending rows are sorted by it, stably (ties keep arrival order)


def row_of(parsed: dict[str, Any]) -> Row:
    """A row from parse_transaction's output (or a dict with event_ms), keeping trans_ts when canonical."""
    text = parsed.get(SOURCE.event_time)
    canonical = (
        isinstance(text, str) and len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z"
    )
    return (
        parsed[SOURCE.id_column],
        parsed[SOURCE.entity],
        parsed[SOURCE.amount_column],
        parsed["event_ms"],
        text if canonical else None,
    )


# How each aggregate function reads a window: the amounts `v` from index `i` of the card's deque
# (i = 0 for the longest window), `n` of them; all windows hold the current row, so n >= 1.
_EXPRESSIONS = {
    "count": "{n}",
    "sum": "float(sum({v}))",
    "avg": "sum({v}) / {n}",
    "max": "float(max({v}))",
    "min": "float(min({v}))",
}
# The same when the card's longest window holds the current row only (the common case).
_SINGLE = {"count": "1", "sum": "amount", "avg": "amount", "max": "amount", "min": "amount"}


def compile_emitter(aggregates: tuple[Aggregate, ...], lengths: list[int]) -> Callable[..., None]:
    """A function emit(fired, out, cards, recent) generated from the definition: for each released
    row (in event-time order) it updates the card's window and appends the row's aggregate record.

    A card's rows in the longest window live in `recent` as (t, amount) while the window holds one
    row -- the common case: a card's transactions are mostly minutes apart -- and in `cards` as
    (times, amounts) deques, in event-time order, never empty, while it holds more; a card is in
    one of them at most. The loop is generated once, with every window and aggregate spelled out
    and the record built as one dict display: a call or a loop over aggregates per row would cost
    as much as the rest of the engine. Rows come in event-time order, so a window whose newest row
    is older than the longest window is replaced whole; otherwise the row is appended, the old rows
    evicted, and each shorter window's start found by bisection.
    """
    longest = max(lengths)
    given = {
        SOURCE.id_column: "tid",
        SOURCE.entity: "card",
        SOURCE.amount_column: "amount",
        SOURCE.event_time: "text",
    }
    head = ", ".join(f"{f!r}: {given[f]}" for f in TRANSACTION_FIELDS)
    single = "{" + ", ".join([head, *(f"{a.name!r}: {_SINGLE[a.function]}" for a in aggregates)]) + "}"
    fields = []
    for a in aggregates:
        w = lengths.index(a.window.length_ms)
        whole = a.window.length_ms == longest
        values = "amounts" if whole else f"islice(amounts, i{w}, None)"
        fields.append(
            f"{a.name!r}: " + _EXPRESSIONS[a.function].format(v=values, n="n" if whole else f"n{w}")
        )
    lines = [
        "def emit(fired, out, cards, recent):",
        "    append = out.append",
        "    for tid, card, amount, t, text in fired:",
        "        if text is None:",
        "            text = format_ts(t)",
        f"        lo = t - {longest}",
        "        one = recent.get(card)",
        "        if one is not None:",
        "            last = one[0]",
        "            if last < lo:",
        "                recent[card] = (t, amount)",
        f"                append({single})",
        "                continue",
        "            del recent[card]",  # a second row in the window (last >= lo: nothing to evict)
        "            times, amounts = cards[card] = (deque((last, t)), deque((one[1], amount)))",
        "        else:",
        "            state = cards.get(card)",
        "            if state is None:",
        "                recent[card] = (t, amount)",
        f"                append({single})",
        "                continue",
        "            times, amounts = state",
        "            last = times[-1]",
        "            if last < lo:",
        "                del cards[card]",
        "                recent[card] = (t, amount)",
        f"                append({single})",
        "                continue",
        "            times.append(t)",
        "            amounts.append(amount)",
        "            while times[0] < lo:",
        "                times.popleft()",
        "                amounts.popleft()",
        "        n = len(times)",
    ]
    for w, length in enumerate(lengths):
        if length != longest:
            lines += [f"        i{w} = bisect_left(times, t - {length})", f"        n{w} = n - i{w}"]
    lines += [
        "        record = {" + ", ".join([head, *fields]) + "}",
        "        append(record)",
        "        if last == t:",
        "            share_with_peers(out, record)",
    ]
    namespace: dict[str, Any] = {
        "bisect_left": bisect_left,
        "islice": islice,
        "deque": deque,
        "format_ts": format_ts,
        "share_with_peers": _make_peer_fix(aggregates),
    }
    exec(compile("\n".join(lines) + "\n", "<aggregate emitter>", "exec"), namespace)
    return namespace["emit"]


def _make_peer_fix(aggregates: tuple[Aggregate, ...]) -> Callable[[list[dict], dict], None]:
    names = tuple(a.name for a in aggregates)
    ts, entity = SOURCE.event_time, SOURCE.entity

    def share_with_peers(out: list[dict], record: dict) -> None:
        """A same-timestamp peer of the card was emitted before this row entered the window: peers
        share one window, so the earlier ones (just before, same time) take these values."""
        text, card = record[ts], record[entity]
        k = len(out) - 2
        while k >= 0 and out[k][ts] == text:
            if out[k][entity] == card:
                for name in names:
                    out[k][name] = record[name]
            k -= 1

    return share_with_peers


class WindowEngine:
    """Event-time sliding-window aggregation per card (see the module docstring for the rules).

    Rows are admitted one by one (lateness and dedup are decided per row, against the watermark
    of the rows before it); rows the watermark has passed are released every RELEASE_EVERY rows
    and at the end of each call. Releasing in batches instead of after every row changes nothing:
    a row at or before the watermark can no longer be admitted, so the released set and its
    event-time order are the same; it saves the per-row overhead.
    """

    def __init__(
        self, out_of_orderness_ms: int | None = None, aggregates: Iterable[Aggregate] | None = None
    ) -> None:
        self.ooo = DEFAULT_OOO_MS if out_of_orderness_ms is None else int(out_of_orderness_ms)
        aggs = tuple(aggregates if aggregates is not None else aggregates_of_kind("sliding"))
        lengths = sorted({a.window.length_ms for a in aggs})
        columns = sorted({a.column for a in aggs if a.column is not None})
        if any(c != SOURCE.amount_column for c in columns):
            raise ValueError(f"the local engine aggregates the amount column only, not {columns}")
        self.lengths = lengths
        self.aggregates = aggs
        self.names = tuple(a.name for a in aggs)
        self.emit = compile_emitter(aggs, lengths)
        self.horizon = (max(lengths) if lengths else 0) + self.ooo
        self.watermark: int | None = None
        self.max_event: int | None = None
        # admitted rows not yet released, in arrival order; sorted stably by event time at release
        # (nearly sorted already, so the sort is linear) -- cheaper than a heap per row
        self.pending: list[Row] = []
        self.ordered = True  # pending is in event-time order (rows arrived in order): no sort needed
        # card -> (times, amounts) of its rows in the longest window, in event-time order
        self.cards: dict[int, tuple[deque, deque]] = {}
        self.recent: dict[int, tuple[int, float]] = {}  # card -> (t, amount) when its window holds one row
        self.seen: dict[str, int | None] = {}  # tids of the kept rows (the value is not read)
        self.seen_order: deque[tuple[int, list[str]]] = deque()  # (last t, tids) per released batch
        self.counts = {"in": 0, "aggregate": 0, "late": 0, "duplicate": 0, "dead": 0}
        self._released_since_sweep = 0

    @property
    def stats(self) -> dict[str, int]:
        return {**self.counts, "pending": len(self.pending)}

    def __getstate__(self) -> dict[str, Any]:
        # The generated builders are code: rebuilt from the aggregates on load. Windows travel as
        # lists (pickling thousands of deques goes through copyreg and costs ten times more). The
        # tid set is not saved: it is the tids of seen_order and pending, rebuilt on load (it was
        # ~30% of a checkpoint's pickling).
        self.compact()
        state = {k: v for k, v in self.__dict__.items() if k not in ("emit", "cards", "seen")}
        state["layout"] = CHECKPOINT_LAYOUT
        # the windows as four flat arrays (pickled as raw bytes: ~20x faster than lists of numbers)
        cards = self.cards
        try:
            state["cards"] = (
                array("q", cards),
                array("q", map(len, map(itemgetter(0), cards.values()))),
                array("q", chain.from_iterable(t for t, _ in cards.values())),
                array("d", chain.from_iterable(a for _, a in cards.values())),
            )
        except (OverflowError, TypeError):  # a card number or time beyond int64: the general form
            state["cards"] = {card: (list(t), list(a)) for card, (t, a) in cards.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.pop("layout", None) != CHECKPOINT_LAYOUT:
            raise CheckpointLayoutError(
                "an engine checkpoint of another version's state layout; start a fresh "
                "runtime (make demo does) or remove the --state file"
            )
        cards = state["cards"]
        if isinstance(cards, dict):  # the general form (see __getstate__)
            state["cards"] = {card: (deque(t), deque(a)) for card, (t, a) in cards.items()}
        else:
            keys, lengths, times, amounts = cards
            ends = list(accumulate(lengths))
            state["cards"] = {
                card: (deque(times[end - n : end]), deque(amounts[end - n : end]))
                for card, n, end in zip(keys, lengths, ends, strict=True)
            }
        # the tid set (see __getstate__; the value is never read: membership is the dedup)
        seen = state["seen"] = dict.fromkeys(tid for _, tids in state["seen_order"] for tid in tids)
        seen.update((row[0], row[3]) for row in state["pending"])
        self.__dict__.update(state)
        self.emit = compile_emitter(self.aggregates, self.lengths)

    # --------------------------------------------------------------------------------- input
    def process(self, record: dict | str | bytes) -> list[Emitted]:
        """One transaction: a stream payload (str/bytes) or a transaction dict; returns what it released."""
        out = Outputs()
        row = self.validate(record, out)
        if row is not None:
            self.process_rows((row,), out)
        return out.emitted()

    def validate(self, record: dict | str | bytes, out: Outputs) -> Row | None:
        """The row of a payload or transaction dict, or None after dead-lettering it with its reason."""
        if isinstance(record, dict) and "event_ms" in record:
            return row_of(record)
        payload = json.dumps(record) if isinstance(record, dict) else record
        try:
            return row_of(parse_transaction(payload))
        except RecordError as err:
            self.dead(payload, str(err), out)
            return None

    def dead(self, payload: str | bytes, reason: str, out: Outputs, **extra: Any) -> None:
        """Account for a malformed record and add its dead-letter output."""
        self.counts["in"] += 1
        self.counts["dead"] += 1
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes | bytearray) else str(payload)
        out.dead.append({"data": text, "reason": reason, **extra})

    def process_rows(self, rows: Iterable[Row], out: Outputs | None = None) -> Outputs:
        """Validated rows (tid, cc_num, amount, event_ms, trans_ts text or None) in arrival order.

        The text, when given, must be the canonical wire form of event_ms (see `row_of`); it is
        reused as the output's trans_ts instead of formatting the time again. Returns (adds to) `out`.
        """
        out = Outputs() if out is None else out
        rows = iter(rows)
        while chunk := list(islice(rows, RELEASE_EVERY)):
            self._admit(chunk, out)
        return out

    def _admit(self, rows: list[Row], out: Outputs) -> None:
        seen, ooo = self.seen, self.ooo
        pending = self.pending
        push, before, ordered = pending.append, len(pending), self.ordered
        # None (no row yet) as a number below every time: one comparison per row instead of two
        w = NO_TIME if self.watermark is None else self.watermark
        top = NO_TIME if self.max_event is None else self.max_event
        for row in rows:
            tid, card, amount, t, _ = row
            if t <= w:
                self._reject(
                    out.late,
                    "late",
                    tid,
                    card,
                    amount,
                    t,
                    f"late: event time {format_ts(t)} is not after the watermark {format_ts(w)}",
                )
                continue
            if tid in seen:
                self._reject(
                    out.duplicates,
                    "duplicate",
                    tid,
                    card,
                    amount,
                    t,
                    f"duplicate: tid {tid} already seen (first copy kept)",
                )
                continue
            seen[tid] = t
            push(row)
            if t > top:
                top = t
                if t - ooo > w:
                    w = t - ooo
            elif t < top:  # behind an admitted row: the pending list needs a sort before the release
                ordered = False
        self.ordered = ordered
        self.counts["in"] += len(pending) - before
        if top == NO_TIME:
            return
        self.max_event = top
        if w != NO_TIME and (self.watermark is None or w > self.watermark):
            self._release(w, out)

    def _reject(
        self, into: list[dict], kind: str, tid: str, card: int, amount: float, t: int, reason: str
    ) -> None:
        self.counts["in"] += 1
        self.counts[kind] += 1
        record = {
            SOURCE.id_column: tid,
            SOURCE.entity: card,
            SOURCE.amount_column: amount,
            SOURCE.event_time: format_ts(t),
            "reason": reason,
        }
        into.append({f: record[f] for f in LATE_FIELDS})

    def advance_watermark(self, to_ms: int, out: Outputs | None = None) -> Outputs:
        """Move the watermark forward (never back) and release what it passes."""
        out = Outputs() if out is None else out
        if self.watermark is None or to_ms > self.watermark:
            self._release(to_ms, out)
        return out

    def flush(self) -> list[Emitted]:
        """End of input: release every buffered row (like Flink's final watermark)."""
        return [] if self.max_event is None else self.advance_watermark(self.max_event).emitted()

    # ------------------------------------------------------------------------------ releasing
    def _release(self, mark: int, out: Outputs) -> None:
        self.watermark = mark
        pending = self.pending
        if pending:
            if not self.ordered:
                pending.sort(key=_EVENT_MS)
                self.ordered = True
            cut = bisect_right(pending, mark, key=_EVENT_MS)
            if cut:
                fired = pending[:cut]
                del pending[:cut]
                self._emit(fired, out.aggregates)
        self._expire(mark)

    def _emit(self, fired: list[Row], out: list[dict]) -> None:
        """Aggregate released rows (sorted by event time, then arrival) over their cards' windows."""
        self.emit(fired, out, self.cards, self.recent)
        # tids are forgotten batch by batch, once the watermark is far enough past the batch's last row
        self.seen_order.append((fired[-1][3], list(map(_TID, fired))))
        self.counts["aggregate"] += len(fired)
        self._released_since_sweep += len(fired)

    def _expire(self, mark: int) -> None:
        """Forget tids and idle cards that can no longer matter."""
        limit = mark - self.horizon
        seen_order, seen = self.seen_order, self.seen
        while seen_order and seen_order[0][0] < limit:
            deque(map(seen.__delitem__, seen_order.popleft()[1]), maxlen=0)  # del seen[tid] for each, in C
        if self._released_since_sweep > 100_000:
            self._released_since_sweep = 0
            for c in [c for c, (times, _) in self.cards.items() if times[-1] < limit]:
                del self.cards[c]
            for c in [c for c, (t, _) in self.recent.items() if t < limit]:
                del self.recent[c]

    def compact(self) -> None:
        """Drop window rows no future row can see (older than watermark - longest), and idle cards."""
        if self.watermark is None or not self.lengths:
            return
        lo = self.watermark - max(self.lengths)
        idle = []
        for card, (times, amounts) in self.cards.items():
            while times and times[0] < lo:
                times.popleft()
                amounts.popleft()
            if not times:
                idle.append(card)
        for card in idle:
            del self.cards[card]
        for card in [c for c, (t, _) in self.recent.items() if t < lo]:
            del self.recent[card]

    @property
    def pending_count(self) -> int:
        return len(self.pending)


def run_engine(
    records: Iterable[dict | str | bytes], out_of_orderness_ms: int | None = None
) -> tuple[list[dict], list[dict], list[dict]]:
    """Run the core over records in arrival order, then flush: (aggregates, late, dead).

    `dead` holds malformed records ({"data", "reason"}) and duplicates (LATE_FIELDS, reason "duplicate: ...").
    """
    engine = WindowEngine(out_of_orderness_ms)
    out = Outputs()
    rows = [row for row in (engine.validate(r, out) for r in records) if row is not None]
    engine.process_rows(rows, out)
    if engine.max_event is not None:
        engine.advance_watermark(engine.max_event, out)
    return out.aggregates, out.late, out.duplicates + out.dead


# ------------------------------------------------------------------------------- durable runner
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
        self.iterators: dict[str, str] = {}
        self.buffer: dict[str, list[dict]] = {s: [] for s in self.shards}
        self.suppress: Counter[tuple[str, bytes]] = Counter()
        self.last_input = time.monotonic()
        self.last_checkpoint = time.monotonic()
        self.checkpoint_cpu_s = 0.0  # CPU time of the last checkpoint
        self.cpu_at_checkpoint = time.process_time()
        self.dirty = False  # input processed since the last checkpoint
        self.cp = self._load()
        self.encode_aggregate = compile_json_encoder(
            (*TRANSACTION_FIELDS, *self.cp.engine.names), frozenset((SOURCE.id_column, SOURCE.event_time))
        )
        self.recovered = self._recover()

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
        for shard in self.kinesis.list_shards(StreamName=stream)["Shards"]:
            sid = shard["ShardId"]
            if sid in tips:
                it = self.kinesis.get_shard_iterator(
                    StreamName=stream,
                    ShardId=sid,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    StartingSequenceNumber=tips[sid],
                )["ShardIterator"]
            else:
                it = self.kinesis.get_shard_iterator(
                    StreamName=stream,
                    ShardId=sid,
                    ShardIteratorType="AT_TIMESTAMP",
                    Timestamp=datetime.fromtimestamp(self.cp.created - 1.0, UTC),
                )["ShardIterator"]
            while True:
                page = self.kinesis.get_records(ShardIterator=it, Limit=10_000)
                for r in page["Records"]:
                    yield bytes(r["Data"])
                it = page["NextShardIterator"]
                if not page["Records"] or not it:
                    break

    def _read_range(self, sid: str, first: str, last: str) -> list[dict]:
        it = self.kinesis.get_shard_iterator(
            StreamName=self.streams.input,
            ShardId=sid,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=first,
        )["ShardIterator"]
        out: list[dict] = []
        while True:
            page = self.kinesis.get_records(ShardIterator=it, Limit=10_000)
            for r in page["Records"]:
                if int(r["SequenceNumber"]) > int(last):
                    return out
                out.append(r)
                if r["SequenceNumber"] == last:
                    return out
            if not page["Records"]:
                raise RuntimeError(
                    f"input records {first}..{last} of {sid} are gone (retention?); cannot recover exactly"
                )
            it = page["NextShardIterator"]

    # ------------------------------------------------------------------------------ processing
    def _fetch(self) -> list[tuple[str, dict]]:
        """Next batch, merged across shards by arrival time (deterministic given the records)."""
        limited: list[float] = []
        for sid in self.shards:
            buf = self.buffer[sid]
            if len(buf) < self.batch_limit:
                it = self.iterators.get(sid) or self._iterator(sid)
                try:
                    page = self.kinesis.get_records(ShardIterator=it, Limit=self.batch_limit - len(buf))
                except self.kinesis.exceptions.ExpiredIteratorException:
                    page = self.kinesis.get_records(
                        ShardIterator=self._iterator(sid, buf), Limit=self.batch_limit - len(buf)
                    )
                buf += page["Records"]
                self.iterators[sid] = page["NextShardIterator"]
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

    def _iterator(self, sid: str, buffered: list[dict] | None = None) -> str:
        last = buffered[-1]["SequenceNumber"] if buffered else self.cp.positions.get(sid)
        kwargs: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": last}
            if last
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        it = self.kinesis.get_shard_iterator(StreamName=self.streams.input, ShardId=sid, **kwargs)[
            "ShardIterator"
        ]
        self.iterators[sid] = it
        return it

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
            if (
                name == self.streams.output and not self.suppress
            ):  # the hot path: one aggregate per transaction
                fast = self.encode_aggregate
                entries = [
                    {"Data": fast(r).encode(), "PartitionKey": str(r[entity] or "dead")} for r in records
                ]
            else:
                entries = []
                for record in records:
                    data = encode_json(record).encode()
                    if self.suppress and self.suppress[(name, data)] > 0:
                        self.suppress[(name, data)] -= 1
                        continue
                    key = record.get(entity) or record.get("sequenceNumber") or "dead"
                    entries.append({"Data": data, "PartitionKey": str(key)})
            tips = self.cp.out_tips.setdefault(name, {})
            for start in range(0, len(entries), 500):
                self._put_all(name, entries[start : start + 500], tips)

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
        stop = stop or threading.Event()
        idle_since, traffic = time.monotonic(), False
        while not stop.is_set():
            if self.step():
                idle_since, traffic = time.monotonic(), True
                continue
            flush_due = self.idle_flush_s is not None and self.engine.pending  # an idle flush keeps its pace
            idle = time.monotonic() - idle_since
            if exit_when_idle_s is not None and idle >= exit_when_idle_s and not flush_due:
                break
            # before the first input, the poll's own pace: the first transactions are not delayed
            stop.wait(poll_wait_s(poll_s, idle) if traffic and not flush_due else poll_s)
        self.checkpoint()


def compile_json_encoder(fields: tuple[str, ...], strings: frozenset[str]) -> Callable[[dict[str, Any]], str]:
    """encode_json's text for flat records with these keys in this order, `strings` str and the others
    numbers (the engine's aggregate records), by one generated f-string: strings through json's
    own C string encoder, numbers by repr -- what the json encoder writes for an int or a finite
    float. Any other record (a non-finite sum, a bool, another layout) takes encode_json."""
    names = [f"v{i}" for i in range(len(fields))]
    checks = " and ".join(
        f"type({v}) is str"
        if f in strings
        else f"(type({v}) is int or (type({v}) is float and _finite({v})))"
        for f, v in zip(fields, names, strict=True)
    )
    parts = ", ".join(
        f"{json.dumps(f)}: {{_text({v})}}" if f in strings else f"{json.dumps(f)}: {{{v}!r}}"
        for f, v in zip(fields, names, strict=True)
    )
    source = (
        "def encode(r):\n"
        "    if tuple(r) != _fields:\n"
        "        return _encode(r)\n"
        f"    {', '.join(names)}, = r.values()\n"
        f"    if not ({checks}):\n"
        "        return _encode(r)\n"
        f"    return f'{{{{{parts}}}}}'\n"
    )
    namespace: dict[str, Any] = {
        "_text": encode_basestring_ascii,
        "_encode": encode_json,
        "_fields": tuple(fields),
        "_finite": isfinite,
    }
    exec(compile(source, "<aggregate json encoder>", "exec"), namespace)
    return namespace["encode"]


def _arrival(record: dict) -> float:
    moment = record["ApproximateArrivalTimestamp"]
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


# ------------------------------------------------------------------------------------------ CLI
def kinesis_endpoint(url: str, region: str) -> Any:
    """A boto3 Kinesis client on an endpoint (LocalStack); the environment's keys, or LocalStack's dummies."""
    import boto3

    session = boto3.session.Session()
    keys = {} if session.get_credentials() else {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("kinesis", endpoint_url=url, region_name=region, **keys)


def ensure_streams(kinesis: Any, names: Iterable[str]) -> None:
    """Create the missing output streams (one shard) and wait until they are active."""
    for name in names:
        try:
            kinesis.describe_stream_summary(StreamName=name)
        except kinesis.exceptions.ResourceNotFoundException:
            kinesis.create_stream(StreamName=name, ShardCount=1)
            if hasattr(kinesis, "get_waiter"):
                kinesis.get_waiter("stream_exists").wait(
                    StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.engine",
        description="Run the local streaming aggregation engine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stream-dir", type=Path, help="directory of the local streams (local profile)")
    where.add_argument(
        "--endpoint-url",
        help="a Kinesis endpoint, e.g. LocalStack's http://127.0.0.1:4566 (localstack profile)",
    )
    parser.add_argument("--region", default="us-east-1", help="region of --endpoint-url")
    parser.add_argument("--input", default=Streams.input, help="transactions stream")
    parser.add_argument("--output", default=Streams.output, help="aggregates stream (created if absent)")
    parser.add_argument("--late", default=Streams.late, help="late-records stream (created if absent)")
    parser.add_argument(
        "--dead", default=Streams.dead, help="dead-letter stream for malformed and duplicate records"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state database (default: STREAM_DIR/engine-state.db; required with --endpoint-url)",
    )
    parser.add_argument("--batch", type=int, default=5000, help="records read per shard per batch")
    parser.add_argument(
        "--checkpoint-interval-s",
        type=float,
        default=1.0,
        help="seconds between checkpoints at least (more when a checkpoint costs more than 5%% of the work since the last)",
    )
    parser.add_argument(
        "--idle-flush-s",
        type=float,
        default=None,
        help="release buffered rows after this many seconds without input (default: never)",
    )
    parser.add_argument(
        "--exit-when-idle-s",
        type=float,
        default=None,
        help="exit after this many idle seconds (default: run)",
    )
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=None,
        help=f"wait between reads of an idle input (default: {LOCAL_POLL_MS:g} with --stream-dir, "
        f"{ENDPOINT_POLL_MS:g} with --endpoint-url); a latency floor of the streaming path",
    )
    parser.add_argument(
        "--out-of-orderness-ms", type=int, default=DEFAULT_OOO_MS, help="allowed out-of-orderness"
    )
    args = parser.parse_args(argv)
    from local.heap import settle_after_init
    from local.stream import LocalKinesis

    problem = None
    if args.stream_dir and not (args.stream_dir / f"{args.input}.kinesis.db").exists():
        problem = f"no stream {args.input!r} under {args.stream_dir}"
    elif args.endpoint_url and args.state is None:
        problem = "--state is required with --endpoint-url"
    elif not 1 <= args.batch <= 10_000:
        problem = "--batch must be 1..10000"
    elif args.out_of_orderness_ms < 0:
        problem = "--out-of-orderness-ms must be >= 0"
    elif args.poll_ms is not None and not 0 <= args.poll_ms <= 60_000:
        problem = "--poll-ms must be 0..60000"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        kinesis = (
            LocalKinesis(args.stream_dir)
            if args.stream_dir
            else kinesis_endpoint(args.endpoint_url, args.region)
        )
        ensure_streams(kinesis, (args.output, args.late, args.dead))
        runner = EngineRunner(
            kinesis,
            args.state or args.stream_dir / "engine-state.db",
            Streams(args.input, args.output, args.late, args.dead),
            batch_limit=args.batch,
            checkpoint_interval_s=args.checkpoint_interval_s,
            idle_flush_s=args.idle_flush_s,
            out_of_orderness_ms=args.out_of_orderness_ms,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        settle_after_init()
        poll_ms = (
            args.poll_ms
            if args.poll_ms is not None
            else LOCAL_POLL_MS
            if args.stream_dir
            else ENDPOINT_POLL_MS
        )
        runner.run(stop, exit_when_idle_s=args.exit_when_idle_s, poll_s=poll_ms / 1000)
    except (
        OSError,
        RuntimeError,
        ValueError,
        sqlite3.Error,
        pickle.UnpicklingError,
        ClientError,
        BotoCoreError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(json.dumps(dict(runner.engine.stats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
