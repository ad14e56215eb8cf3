"""Real Flink for the tests: one JVM per session runs every pipeline, from .venv-flink.

The tests themselves run in the project's .venv; Flink runs in a subprocess of .venv-flink's
Python (PyFlink's pins clash with the project's), through jobs/flink/local.py, with the
filesystem connector in place of Kinesis. Outputs are JSON files read back here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from features.codec import encode_transaction
from features.definition import STREAM, aggregates_of_kind
from jobs.aggregate import run as run_batch_job
from jobs.local_engine.windows import run_engine
from simulator.generate import generate, write

ROOT = Path(__file__).resolve().parents[2]
FLINK_PYTHON = ROOT / ".venv-flink" / "bin" / "python"
LOCAL_RUNNER = ROOT / "jobs" / "flink" / "local.py"
BOUND_MS = int(STREAM.out_of_orderness.total_seconds() * 1000)

# Small but not trivial: 200 cards, 20k transactions over 3 days with fraud chains, so many
# 10-minute windows hold more than one row (and some hold peers with the same timestamp).
CARDS, TRANSACTIONS, SEED = 200, 20_000, 7
START, END = datetime(2020, 1, 1), datetime(2020, 1, 4)

INVALID_LINES = (
    "not json",
    '{"tid": "bad-1", "amount": 1.0, "trans_ts": "2020-01-02T00:00:00.000Z"}',
    '{"tid": "bad-2", "cc_num": 4000000000000001, "amount": -5.0, "trans_ts": "2020-01-02T00:00:00.000Z"}',
    '{"tid": "bad-3", "cc_num": 4000000000000001, "amount": 5.0, "trans_ts": "yesterday"}',
    '{"tid": "bad-4", "cc_num": 4000000000000001, "amount": "five", "trans_ts": "2020-01-02T00:00:00.000Z"}',
)


def read_json_dir(path: Path) -> list[dict]:
    """Every row of the committed part files of a filesystem sink (hidden files are in progress)."""
    rows = []
    for part in sorted(path.rglob("*")):
        if part.is_file() and not part.name.startswith("."):
            rows += [json.loads(line) for line in part.read_text().splitlines() if line]
    return rows


@dataclass(frozen=True)
class Outputs:
    aggregates: list[dict]
    late: list[dict]


@dataclass(frozen=True)
class Case:
    lines: list[str]  # the transactions stream, in arrival order
    flink: Outputs
    local: Outputs
    local_dead: list[dict]


@dataclass(frozen=True)
class Scenario:
    batch: dict[str, dict]  # tid -> the batch job's sliding-window features
    in_order: Case
    out_of_order: Case
    in_order_parallel: Outputs  # the in-order input again at parallelism 2
    boundary_tids: dict[str, bool]  # injected rows -> expected late
    duplicated_tids: list[str]
    flink_seconds: dict


def history_rows(history) -> list[tuple[str, int, float, int]]:
    ms = history["trans_ts"].cast("int64").to_numpy() // 1000
    return list(
        zip(
            history["tid"].to_pylist(),
            history["cc_num"].to_pylist(),
            history["amount"].to_pylist(),
            ms.tolist(),
            strict=True,
        )
    )


def out_of_order(rows: list[tuple[str, int, float, int]], rng: np.random.Generator):
    """Arrival order with jitter inside the bound, 3% of rows delayed beyond it, rows exactly at
    and just after the watermark, redelivered duplicates and invalid payloads."""
    event = np.array([r[3] for r in rows])
    delay = rng.integers(0, BOUND_MS * 3 // 4, len(rows))
    delayed = rng.random(len(rows)) < 0.03
    delay[delayed] = rng.integers(BOUND_MS + 1000, 120_000, int(delayed.sum()))
    arrival = [rows[i] for i in np.argsort(event + delay, kind="stable")]

    boundary: dict[str, bool] = {}
    stream: list[tuple[str, int, float, int]] = []
    max_seen = None
    for i, row in enumerate(arrival):
        stream.append(row)
        if max_seen is not None and row[3] > max_seen and i % 400 == 0:
            # Right after the row that set the watermark to row time - bound: one row exactly at
            # the watermark (late: a watermark W promises nothing at or before W) and one 1 ms after.
            for offset, late in ((BOUND_MS, True), (BOUND_MS - 1, False)):
                tid = f"boundary-{i}-{offset}"
                stream.append((tid, row[1], 7.0, row[3] - offset))
                boundary[tid] = late
        max_seen = row[3] if max_seen is None else max(max_seen, row[3])
    lines = [encode_transaction(tid, card, amount, ms).decode() for tid, card, amount, ms in stream]
    duplicated = []
    for position in sorted(rng.choice(len(lines) - 10, 30, replace=False).tolist(), reverse=True):
        lines.insert(position + 1, lines[position])  # right after the original: on time, a duplicate
        duplicated.append(json.loads(lines[position])["tid"])
    for k, bad in enumerate(INVALID_LINES):
        lines.insert(1000 * (k + 1), bad)
    return lines, boundary, duplicated


# A short-lived JVM: C1 only and the serial collector start faster than they lose on 20k rows.
SHORT_RUN_JVM_ARGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def run_flink(pipelines: list[dict], workdir: Path, jvm_args: str = SHORT_RUN_JVM_ARGS) -> dict:
    """Run the pipelines in one Flink JVM; returns its timings (JVM start, seconds per pipeline)."""
    spec = workdir / "pipelines.json"
    spec.write_text(json.dumps(pipelines))
    done = subprocess.run(
        [str(FLINK_PYTHON), str(LOCAL_RUNNER), str(spec)],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=900,
        env={**os.environ, "JVM_ARGS": jvm_args},
    )
    if done.returncode != 0:
        raise AssertionError(f"Flink run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def local_engine(lines: Iterable[str]) -> tuple[Outputs, list[dict]]:
    aggregates, late, dead = run_engine(lines)
    return Outputs(aggregates, late), dead


@pytest.fixture(scope="session")
def flink_python() -> Path:
    if shutil.which("java") is None:
        pytest.skip("Java 17 is required to run Flink (install openjdk-17-jre-headless)")
    if not (ROOT / ".venv-flink" / ".installed").exists():
        subprocess.run(["make", "-C", str(ROOT), "flink-venv"], check=True)
    return FLINK_PYTHON


@pytest.fixture(scope="session")
def scenario(flink_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    work = tmp_path_factory.mktemp("flink")
    history = generate(cards=CARDS, transactions=TRANSACTIONS, start=START, end=END, seed=SEED)
    write(history, work / "history.parquet")
    run_batch_job("duckdb", work / "history.parquet", work / "batch", log=lambda *_: None)
    names = [a.name for a in aggregates_of_kind("sliding")]
    batch = {
        row.pop("tid"): row
        for row in ds.dataset(work / "batch" / "training").to_table(columns=["tid", *names]).to_pylist()
    }

    rows = history_rows(history)
    in_order = [encode_transaction(*r).decode() for r in rows]
    shuffled, boundary, duplicated = out_of_order(rows, np.random.default_rng(SEED))
    (work / "in_order.jsonl").write_text("\n".join(in_order) + "\n")
    (work / "out_of_order.jsonl").write_text("\n".join(shuffled) + "\n")
    pipelines = [
        {
            "connector": "filesystem",
            "parallelism": str(parallelism),
            "input.path": str(work / f"{source}.jsonl"),
            "output.path": str(work / name / "aggregates"),
            "late.path": str(work / name / "late"),
        }
        for name, source, parallelism in (
            ("in_order", "in_order", 1),
            ("out_of_order", "out_of_order", 1),
            ("in_order_parallel", "in_order", 2),
        )
    ]
    seconds = run_flink(pipelines, work)

    def flink(name: str) -> Outputs:
        return Outputs(read_json_dir(work / name / "aggregates"), read_json_dir(work / name / "late"))

    def case(name: str, lines: list[str]) -> Case:
        local, dead = local_engine(lines)
        return Case(lines, flink(name), local, dead)

    print(f"flink timings: {seconds}", file=sys.stderr)
    return Scenario(
        batch,
        case("in_order", in_order),
        case("out_of_order", shuffled),
        flink("in_order_parallel"),
        boundary,
        duplicated,
        seconds,
    )
