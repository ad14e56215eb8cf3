"""Local runtime benchmark: the streaming engine's events/s, core and over durable streams.

Input: a generated history (the seed's card count and period, 1M transactions), replayed in
event-time order. Core = WindowEngine.process_rows on validated rows (watermark, lateness, dedup,
release in event-time order, the definition's sliding aggregates, one record per transaction).
Baseline in the same run, on the same rows: a plain Python sliding window (a deque per card,
the 10-minute count and average only), with none of the event-time machinery. Both take the rows
in batches of 5,000 and drop their outputs after each batch, as the engine process does.
Durable = `EngineRunner` reading JSON payloads from a local stream and writing aggregate records
to another, checkpointing as in production.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from bench.core import Result, Suite
from features.codec import encode_transaction
from features.definition import SOURCE, WINDOW_10M
from jobs.local_engine.runner import EngineRunner, Streams
from jobs.local_engine.windows import Row, WindowEngine
from local_aws.stream import LocalKinesis
from simulator.generate import DEFAULTS, generate

SUITE_NAME = "runtime"
CORE_TRANSACTIONS = 1_000_000
DURABLE_TRANSACTIONS = 200_000
TARGET_EVENTS = 250_000
REPEATS = 3
CHUNK = 5000  # rows per batch, the engine process's default read size


def history_rows(transactions: int) -> list[Row]:
    """The engine's input rows as the stream delivers them: validated fields plus the trans_ts text."""
    table = generate(
        cards=DEFAULTS["cards"],
        transactions=transactions,
        start=DEFAULTS["start"],
        end=DEFAULTS["end"],
        seed=DEFAULTS["seed"],
    )
    moments = pc.cast(table.column(SOURCE.event_time), pa.timestamp("ms", tz="UTC"))
    millis = pc.cast(moments, pa.int64()).to_pylist()
    texts = pc.strftime(moments, format="%Y-%m-%dT%H:%M:%SZ").to_pylist()  # the wire form, with milliseconds
    return list(
        zip(
            table.column(SOURCE.id_column).to_pylist(),
            table.column(SOURCE.entity).to_pylist(),
            table.column(SOURCE.amount_column).to_pylist(),
            millis,
            texts,
            strict=True,
        )
    )


def best_seconds(work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def engine_core(rows: list[Row]) -> int:
    """Batches of CHUNK rows, as the engine process reads them; outputs are counted, then dropped."""
    engine = WindowEngine()
    emitted = 0
    for start in range(0, len(rows), CHUNK):
        emitted += len(engine.process_rows(rows[start : start + CHUNK]).aggregates)
    return emitted + len(engine.advance_watermark(engine.max_event).aggregates)


def deque_baseline(rows: list[Row]) -> int:
    """The plain sliding window: per card a deque of (t, amount); the 10-minute count and mean per row."""
    length = WINDOW_10M.length_ms
    windows: dict[int, deque] = {}
    emitted = 0
    for start in range(0, len(rows), CHUNK):
        out = []
        for tid, card, amount, t, _ in rows[start : start + CHUNK]:
            window = windows.get(card)
            if window is None:
                window = windows[card] = deque()
            window.append((t, amount))
            while window[0][0] < t - length:
                window.popleft()
            out.append((tid, len(window), sum(a for _, a in window) / len(window)))
        emitted += len(out)
    return emitted


def durable(rows: list[Row]) -> tuple[float, float]:
    """(engine events/s over local streams, stream put_records records/s)."""
    with tempfile.TemporaryDirectory() as scratch:
        kinesis = LocalKinesis(Path(scratch) / "streams")
        streams = Streams()
        kinesis.create_stream(StreamName=streams.input, ShardCount=1)
        for name in (streams.output, streams.late, streams.dead):
            kinesis.create_stream(StreamName=name, ShardCount=1)
        payloads = [encode_transaction(tid, card, amount, t) for tid, card, amount, t, _ in rows]
        started = time.perf_counter()
        for start in range(0, len(payloads), 500):
            kinesis.put_records(
                StreamName=streams.input,
                Records=[
                    {"Data": p, "PartitionKey": str(rows[start + i][1])}
                    for i, p in enumerate(payloads[start : start + 500])
                ],
            )
        put_rate = len(payloads) / (time.perf_counter() - started)
        runner = EngineRunner(kinesis, Path(scratch) / "state.db", streams, idle_flush_s=0.0)
        started = time.perf_counter()
        runner.run(exit_when_idle_s=0.0, poll_s=0.0)
        seconds = time.perf_counter() - started
        if runner.engine.stats["aggregate"] != len(rows):
            raise RuntimeError(
                f"durable engine emitted {runner.engine.stats['aggregate']} of {len(rows)} records"
            )
        return len(rows) / seconds, put_rate


def run() -> list[Result]:
    rows = history_rows(CORE_TRANSACTIONS)
    if engine_core(rows) != len(rows) or deque_baseline(rows) != len(rows):
        raise RuntimeError("the engine or the baseline lost records")
    core = len(rows) / best_seconds(lambda: engine_core(rows))
    baseline = len(rows) / best_seconds(lambda: deque_baseline(rows))
    stream_rate, put_rate = durable(rows[:DURABLE_TRANSACTIONS])
    same_run = f"plain Python deque window: {baseline:,.0f} events/s"
    return [
        Result(
            SUITE_NAME,
            f"local engine core ({len(rows):,} tx, best of {REPEATS})",
            core,
            "events/s",
            f">= {TARGET_EVENTS:,} events/s",
            same_run,
            core >= TARGET_EVENTS,
        ),
        Result(
            SUITE_NAME,
            f"local engine over durable streams ({DURABLE_TRANSACTIONS:,} tx, JSON in/out)",
            stream_rate,
            "events/s",
            "",
            same_run,
        ),
        Result(SUITE_NAME, "local stream put_records (500 per call)", put_rate, "records/s"),
    ]


SUITE = Suite(SUITE_NAME, run)
