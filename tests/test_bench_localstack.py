"""bench/localstack.py's own arithmetic and records (no LocalStack needed): the ceiling's sample records,
the driver's wait, the sustained rate and the rows' verdicts."""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from bench.localstack import Phase, ProfileRun, _Tap, rows, sample_records
from simulator.stream import TxFactory


def _phase(read_at: list[float], latencies: list[float], sent: int | None = None) -> Phase:
    return Phase(
        rate=100.0,
        sent=len(read_at) if sent is None else sent,
        seconds=1.0,
        read_at=read_at,
        latencies_ms=latencies,
        cpu_s={"engine": 0.5},
        started=min(read_at) - 1.0,
    )


def test_sample_records_are_the_pipelines_records():
    factory = TxFactory(list(range(4_000_000_000_000_000, 4_000_000_000_000_050)), np.random.default_rng(1))
    samples = sample_records(factory, count=50)
    assert [len(samples[s]) for s in ("transactions", "aggregates", "predictions")] == [50, 50, 50]
    tx, agg, pred = (json.loads(samples[s][0]) for s in ("transactions", "aggregates", "predictions"))
    assert set(tx) == {"tid", "cc_num", "amount", "trans_ts"}
    assert set(tx) < set(agg) and "num_trans_last_10m" in agg
    assert {"features", "probability", "event_to_prediction_ms"} <= set(pred)
    # each stream's records are larger than the one it is derived from
    size = {s: sum(map(len, v)) / len(v) for s, v in samples.items()}
    assert size["transactions"] < size["aggregates"] < size["predictions"]


def test_tap_waits_for_records_it_has_not_read():
    tap = _Tap()
    assert not tap.wait_beyond(0, time.monotonic() + 0.05)
    threading.Timer(0.05, tap.add, args=(500,)).start()
    assert tap.wait_beyond(0, time.monotonic() + 5)
    assert not tap.wait_beyond(500, time.monotonic() + 0.05)


def test_sustained_rate_excludes_the_first_page_and_the_fill():
    phase = _phase([10.0] * 100 + [10.5] * 100 + [11.0] * 100, [1.0] * 300)
    assert phase.scored == 300
    assert phase.sustained == 200.0  # 200 read after the first page, over one second
    assert phase.elapsed == 2.0  # first send (started) to the last read
    assert "engine 25" in phase.cpu_text()  # 0.5 s of CPU over 2 s


def _run(phase: Phase, poll_s: float = 0.05) -> ProfileRun:
    return ProfileRun(poll_s, {"kinesis-local": 0.3}, phase, phase)


def test_rows_state_share_and_p99_against_their_targets():
    top = {
        "rate": 400.0,
        "node_busy": 0.9,
        "driver_busy": 0.01,
        "node_ms_per_tx": 2.0,
        "calls": 125,
        "bytes": {"transactions": 128.0},
    }
    fast = _phase([10.0 + i / 300 for i in range(601)], [100.0] * 601)  # 300 tx/s sustained
    ceiling_row, share_row, p99_row = rows(top, _run(fast), _run(fast, 0.2))
    assert ceiling_row.passed is None
    assert round(share_row.value) == 75 and share_row.passed
    assert p99_row.value == 100.0 and p99_row.passed
    assert "every 200 ms after an empty read" in p99_row.baseline and "kinesis-local 30" in p99_row.baseline
    slow = _phase([10.0 + i / 100 for i in range(101)], [2000.0] * 101)  # 100 tx/s: 25%
    _, share_row, p99_row = rows(top, _run(slow), _run(fast, 0.2))
    assert not share_row.passed and not p99_row.passed
    lost = _phase([10.0 + i / 300 for i in range(601)], [100.0] * 601, sent=700)  # not all scored
    _, share_row, p99_row = rows(top, _run(lost), _run(fast, 0.2))
    assert not share_row.passed and not p99_row.passed
