"""The Flink app on a local mini-cluster, for reference: events/s at parallelism 1.

1M transactions (10,000 cards over 30 days, in event-time order) go through the app's SQL from a
JSON-lines file to JSON files, in .venv-flink. One JVM runs two jobs: 1,000 rows first (the fixed
cost of planning and starting a job), then the 1M rows. Reported separately: the JVM start, that
fixed per-job cost, and events/s over the 1M job (gross, and net of the fixed cost). Baseline in
the same run: the local engine (jobs/local_engine/) on the same payloads, in-process.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.core import Result, Suite, measure
from features.codec import encode_transaction
from jobs.local_engine.windows import run_engine
from simulator.generate import generate

ROOT = Path(__file__).resolve().parents[1]
FLINK_PYTHON = ROOT / ".venv-flink" / "bin" / "python"
ROWS, WARMUP_ROWS, CARDS = 1_000_000, 1_000, 10_000


def payloads(rows: int) -> list[str]:
    history = generate(
        cards=CARDS, transactions=rows, start=datetime(2020, 1, 1), end=datetime(2020, 1, 31), seed=3
    )
    ms = (history["trans_ts"].cast("int64").to_numpy() // 1000).tolist()
    return [
        encode_transaction(*row).decode()
        for row in zip(
            history["tid"].to_pylist(),
            history["cc_num"].to_pylist(),
            history["amount"].to_pylist(),
            ms,
            strict=True,
        )
    ]


def pipeline(tmp: Path, name: str, lines: list[str]) -> dict[str, str]:
    (tmp / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    return {
        "connector": "filesystem",
        "parallelism": "1",
        "input.path": str(tmp / f"{name}.jsonl"),
        "output.path": str(tmp / name / "aggregates"),
        "late.path": str(tmp / name / "late"),
    }


def run() -> list[Result]:
    if not FLINK_PYTHON.exists():
        raise RuntimeError("bench flink needs .venv-flink: run `make flink-venv`")
    lines = payloads(ROWS)
    t0 = time.perf_counter()
    run_engine(lines)
    local_rate = ROWS / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="bench-flink-") as tmp_name:
        tmp = Path(tmp_name)
        spec = tmp / "pipelines.json"
        spec.write_text(
            json.dumps([pipeline(tmp, "warmup", lines[:WARMUP_ROWS]), pipeline(tmp, "full", lines)])
        )
        done = measure([str(FLINK_PYTHON), str(ROOT / "jobs" / "flink" / "local.py"), str(spec)])
    timings = json.loads(done.stdout.strip().splitlines()[-1])
    fixed, full = timings["pipelines_s"]
    baseline = f"local engine, in-process: {local_rate:,.0f} events/s"
    return [
        Result("flink", "JVM + PyFlink gateway start", timings["jvm_start_s"], "s"),
        Result("flink", f"fixed cost of one job (plan + mini-cluster), {WARMUP_ROWS:,} rows", fixed, "s"),
        Result(
            "flink",
            f"{ROWS:,} transactions, parallelism 1, events/s (job wall time)",
            ROWS / full,
            "events/s",
            baseline=baseline,
        ),
        Result(
            "flink",
            "events/s net of the fixed job cost",
            (ROWS - WARMUP_ROWS) / max(full - fixed, 1e-9),
            "events/s",
        ),
    ]


SUITE = Suite("flink", run)

if __name__ == "__main__":
    for result in run():
        print(result.row(), file=sys.stderr)
