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
  the batch job to rounding.
- a tid is remembered until the watermark is past its event time by the largest window plus the
  out-of-orderness; any later copy of it is late by then anyway.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, islice
from operator import itemgetter
from typing import Any, NamedTuple

from features.codec import parse_transaction
from features.definition import SOURCE, STREAM, Aggregate, aggregates_of_kind
from features.records import LATE_FIELDS, RecordError, format_ts

DEFAULT_OOO_MS = int(STREAM.out_of_orderness.total_seconds() * 1000)
# Rows admitted between two releases: bounds the pending list, amortises the release.
RELEASE_EVERY = 512
# The pickled engine's layout; a checkpoint of another one is refused (a fresh runtime starts clean).
CHECKPOINT_LAYOUT = 4


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


# Each aggregate function over the amounts of a window (never empty: it holds the current row).
# Amounts are floats (features.records validates them), so sum, max and min return floats.
def _avg(amounts: Sequence[float]) -> float:
    return sum(amounts) / len(amounts)


FUNCTIONS: dict[str, Callable[[Sequence[float]], int | float]] = {
    "count": len,
    "sum": sum,
    "avg": _avg,
    "max": max,
    "min": min,
}


def _since(times: deque[int], amounts: deque[float], start_ms: int) -> Sequence[float]:
    """The amounts of the rows at or after start_ms (times are in event-time order)."""
    first = bisect_left(times, start_ms)
    return amounts if first == 0 else list(islice(amounts, first, None))


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
        self.longest = max(lengths, default=0)
        self.aggregates = aggs
        self.names = tuple(a.name for a in aggs)
        self.plan = self._plan()
        self.horizon = self.longest + self.ooo
        self.watermark: int | None = None
        self.max_event: int | None = None
        # admitted rows not yet released, in arrival order; sorted stably by event time at release
        # (nearly sorted already, so the sort is linear) -- cheaper than a heap per row
        self.pending: list[Row] = []
        self.ordered = True  # pending is in event-time order (rows arrived in order): no sort needed
        # card -> (times, amounts) of its rows in the longest window, in event-time order
        self.cards: dict[int, tuple[deque[int], deque[float]]] = {}
        self.seen: dict[str, int | None] = {}  # tids of the kept rows (the value is not read)
        self.seen_order: deque[tuple[int, list[str]]] = deque()  # (last t, tids) per released batch
        self.counts = {"in": 0, "aggregate": 0, "late": 0, "duplicate": 0, "dead": 0}
        self._released_since_sweep = 0

    @property
    def stats(self) -> dict[str, int]:
        return {**self.counts, "pending": len(self.pending)}

    def _plan(self) -> tuple[tuple[str, Callable[[Sequence[float]], int | float], int], ...]:
        """(name, function, index of its window in self.lengths) per aggregate, in output order."""
        return tuple(
            (a.name, FUNCTIONS[a.function], self.lengths.index(a.window.length_ms)) for a in self.aggregates
        )

    def __getstate__(self) -> dict[str, Any]:
        # The plan is rebuilt from the aggregates on load. Windows travel as flat arrays, not
        # deques (pickling thousands of deques goes through copyreg). The tid set is not saved:
        # it is the tids of seen_order and pending, rebuilt on load (a large share of the pickling).
        self.compact()
        state = {k: v for k, v in self.__dict__.items() if k not in ("plan", "cards", "seen")}
        state["layout"] = CHECKPOINT_LAYOUT
        # the windows as four flat arrays (pickled as raw bytes, not as lists of numbers)
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
        self.plan = self._plan()

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
        cards, longest, lengths, plan = self.cards, self.longest, self.lengths, self.plan
        for tid, card, amount, t, text in fired:
            window = cards.get(card)
            if window is None:
                window = cards[card] = (deque(), deque())
            times, amounts = window
            has_peer = bool(times) and times[-1] == t  # an earlier row of the card at the same time
            # rows come in event-time order: the row goes last, rows older than the longest window go
            times.append(t)
            amounts.append(amount)
            while times[0] < t - longest:
                times.popleft()
                amounts.popleft()
            # each window's amounts, in the order of `lengths`; a window of one row (the common
            # case: a card's transactions are mostly minutes apart) is the same for every length
            if len(times) == 1:
                windows = [amounts] * len(lengths)
            else:
                windows = [_since(times, amounts, t - length) for length in lengths]
            record = {  # the transaction's fields in the wire order (features.records.TRANSACTION_FIELDS)
                SOURCE.id_column: tid,
                SOURCE.event_time: format_ts(t) if text is None else text,
                SOURCE.entity: card,
                SOURCE.amount_column: amount,
            }
            for name, function, window_index in plan:
                record[name] = function(windows[window_index])
            out.append(record)
            if has_peer:
                self._share_with_peers(out, record)
        # tids are forgotten batch by batch, once the watermark is far enough past the batch's last row
        self.seen_order.append((fired[-1][3], list(map(_TID, fired))))
        self.counts["aggregate"] += len(fired)
        self._released_since_sweep += len(fired)

    def _share_with_peers(self, out: list[dict], record: dict) -> None:
        """Same-timestamp peers of the card were emitted before this row entered the window: peers
        share one window, so the earlier ones (just before, same time) take this row's values."""
        ts, entity = SOURCE.event_time, SOURCE.entity
        text, card = record[ts], record[entity]
        k = len(out) - 2
        while k >= 0 and out[k][ts] == text:
            if out[k][entity] == card:
                for name in self.names:
                    out[k][name] = record[name]
            k -= 1

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
