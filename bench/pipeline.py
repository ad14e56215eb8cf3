"""End to end on the local profile: sustained transactions/s, event-to-prediction latency at a
fixed offered rate, and feature-store round trips per scored batch.

Each measurement starts a fresh runtime (streams, queue, feature store loaded with the batch
job's snapshots) and the real processes (engine, ingest and score behind the local event source
mapping), then sends live traffic (event time = send time) and reads the predictions stream.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.core import Result, Suite, cpu_seconds
from features.definition import STREAM
from profiles.local import Processes
from profiles.steps import (
    BATCH_GROUP,
    ENGINE_DEAD,
    LATE,
    PREDICTIONS,
    TRANSACTIONS,
    Layout,
    Predictions,
    StreamTail,
    aggregate,
    emf_totals,
    feature_store,
    generate_history,
    kinesis,
    percentile,
    reset_runtime,
    train,
    wait_for,
)

CARDS, HISTORY_TRANSACTIONS = 1000, 200_000
SUSTAINED_TRANSACTIONS = 100_000
OFFERED_RATE, OFFERED_SECONDS = 1000.0, 15.0
LOW_LATENCY_OOO_MS = 10
SUITE_NAME = "pipeline"


def _prepare(layout: Layout) -> None:
    generate_history(
        layout,
        CARDS,
        HISTORY_TRANSACTIONS,
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 6, 1, tzinfo=UTC),
        seed=42,
    )
    aggregate(layout)
    train(layout)


def _run_traffic(
    layout: Layout,
    make_schedule: Callable[[], Iterable],
    ooo_ms: int,
    idle_flush_s: float = 0.2,
    live_tail: bool = True,
) -> dict:
    """Fresh runtime, processes up, send `make_schedule()`, wait until every transaction is out.

    live_tail: read and parse the outputs as they come (each prediction's first-seen time, for
    latency); otherwise only count the outputs' records while the pipeline runs, and parse them
    once it is done, so the harness's JSON decoding does not compete with the measured processes
    for the two cores (throughput).
    """
    from simulator.stream import send

    reset_runtime(layout)
    feature_store(layout).load_parquet(BATCH_GROUP, layout.features / "online")
    stream = kinesis(layout)
    tails = {n: StreamTail(stream, n) for n in (PREDICTIONS, LATE, ENGINE_DEAD)}
    seen, other = Predictions(), [0]
    with Processes(
        layout, engine_args=["--idle-flush-s", str(idle_flush_s), "--out-of-orderness-ms", str(ooo_ms)]
    ) as procs:
        cpu_before = {name: cpu_seconds(child.pid) for name, child in procs.children.items()}
        started, producer_cpu = time.time(), time.process_time()
        report = send(make_schedule(), stream, TRANSACTIONS)
        producer_cpu = time.process_time() - producer_cpu

        def parse() -> bool:
            seen.add(tails[PREDICTIONS].read(), time.time())
            other[0] += len(tails[LATE].read()) + len(tails[ENGINE_DEAD].read())
            return len(seen.by_tid) + other[0] >= report.sent

        counted_at: list[float] = []

        def counted() -> bool:  # redelivered batches repeat predictions: parsed to count them once
            moment = time.time()
            if sum(map(stream.record_count, (PREDICTIONS, LATE, ENGINE_DEAD))) < report.sent or not parse():
                return False
            counted_at.append(moment)
            return True

        wait_for(parse if live_tail else counted, timeout_s=300, poll_s=0.05, check=procs.check)
        finished = (
            max(seen.first_seen.values(), default=time.time())
            if live_tail or not counted_at
            else counted_at[-1]
        )
        cpu = {name: cpu_seconds(child.pid) - cpu_before[name] for name, child in procs.children.items()}
        cpu["producer"] = producer_cpu
    score_log = layout.logs / "score.log"
    invocations = sum(1 for line in score_log.read_text(errors="replace").splitlines() if '"_aws"' in line)
    return {
        "sent": report.sent,
        "send_seconds": report.seconds,
        "seconds": finished - started,
        "predictions": seen.by_tid,
        "not_scored": other[0],
        "metrics": emf_totals(score_log),
        "invocations": invocations,
        "cpu_seconds": cpu,
    }


def run() -> list[Result]:
    from simulator.stream import TxFactory, known_cards, live_schedule, read_history

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        layout = Layout(Path(tmp))
        _prepare(layout)
        cards = known_cards(read_history(layout.history))

        # 1. sustained throughput: as fast as the producer can send, event times 0.1 ms apart
        def burst() -> Iterable:
            factory, now_ms = TxFactory(cards, np.random.default_rng(1)), round(time.time() * 1000)
            return ((0.0, factory.make(now_ms + i // 10)) for i in range(SUSTAINED_TRANSACTIONS))

        out = _run_traffic(
            layout, burst, ooo_ms=int(STREAM.out_of_orderness.total_seconds() * 1000), live_tail=False
        )
        rate = len(out["predictions"]) / out["seconds"]
        per_tx = ", ".join(
            f"{name} {seconds / out['sent'] * 1e6:,.0f}" for name, seconds in out["cpu_seconds"].items()
        )
        results.append(
            Result(
                SUITE_NAME,
                f"end-to-end sustained ({SUSTAINED_TRANSACTIONS:,} tx, producer to prediction)",
                rate,
                "tx/s",
                ">= 10,000 tx/s",
                f"producer alone {out['sent'] / out['send_seconds']:,.0f} tx/s; CPU us/tx: {per_tx}",
                rate >= 10_000,
            )
        )
        trips = out["metrics"].get("FeatureStoreRoundTrips", 0)
        per_call = len(out["predictions"]) / trips if trips else float("nan")
        results.append(
            Result(
                SUITE_NAME,
                "transactions scored per BatchGetRecord call (at most 100 records a call)",
                per_call,
                "tx/call",
                ">= 90",
                f"{out['invocations']:,} batches, {trips:,.0f} BatchGetRecord calls; the seed: 0.5 (2 GetRecord per transaction)",
                per_call >= 90,
            )
        )

        # 2. latency at a fixed offered rate, with a small out-of-orderness and with the definition's
        for ooo_ms, target in (
            (LOW_LATENCY_OOO_MS, True),
            (int(STREAM.out_of_orderness.total_seconds() * 1000), False),
        ):

            def offered() -> Iterable:
                schedule = live_schedule(
                    TxFactory(cards, np.random.default_rng(2)), OFFERED_RATE, time.time()
                )
                return itertools.islice(schedule, int(OFFERED_RATE * OFFERED_SECONDS))

            out = _run_traffic(layout, offered, ooo_ms=ooo_ms)
            lat = [p["event_to_prediction_ms"] for p in out["predictions"].values()]
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            label = f"event-to-prediction p99 at {OFFERED_RATE:,.0f} tx/s (out-of-orderness {ooo_ms} ms)"
            results.append(
                Result(
                    SUITE_NAME,
                    label,
                    p99,
                    "ms",
                    "<= 50 ms" if target else "",
                    f"p50 {p50:,.1f} ms; {len(lat):,} scored",
                    (p99 <= 50) if target else None,
                )
            )
    return results


SUITE = Suite(SUITE_NAME, run)
