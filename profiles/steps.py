"""The pipeline's steps and helpers on the local profile, for the demo, the replay, the benchmarks
and the deploy flow: where everything lives (`Layout`), the batch side (generate a history, aggregate
it, train), a fresh runtime (streams, queue, feature store) and reading what came out (stream tails,
predictions, EMF metrics, dead letters, percentiles).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clients.kinesis import shard_readers
from features.feature_groups import group_for

STREAMING_GROUP = group_for("sliding").name
BATCH_GROUP = group_for("daily_snapshot").name
TRANSACTIONS, AGGREGATES, LATE, PREDICTIONS, ENGINE_DEAD = (
    "transactions",
    "aggregates",
    "late",
    "predictions",
    "engine-dead-letters",
)
STREAMS = (TRANSACTIONS, AGGREGATES, LATE, PREDICTIONS, ENGINE_DEAD)
DEAD_LETTER_QUEUE = "dead-letters"
FUNCTIONS = ("ingest", "score")


@dataclass(frozen=True)
class Layout:
    """Where the local profile keeps everything, under one root."""

    root: Path

    @property
    def history(self) -> Path:
        return self.root / "history.parquet"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def runtime(self) -> Path:
        """The runtime's state (LOCAL_DATA_DIR): streams, queues, feature store, checkpoints, logs."""
        return self.root / "runtime"

    @property
    def logs(self) -> Path:
        return self.runtime / "logs"

    def dead_letter_url(self) -> str:
        return f"local-sqs://{(self.runtime / 'queues').resolve()}/{DEAD_LETTER_QUEUE}"


# ------------------------------------------------------------------------------ batch side


def generate_history(
    layout: Layout, cards: int, transactions: int, start: datetime, end: datetime, seed: int
) -> Path:
    from simulator.generate import generate, write

    layout.root.mkdir(parents=True, exist_ok=True)
    return write(
        generate(cards=cards, transactions=transactions, start=start, end=end, seed=seed), layout.history
    )


def aggregate(layout: Layout) -> dict:
    from jobs.aggregate import run

    return run("duckdb", str(layout.history), str(layout.features), log=lambda *_: None)


def train(layout: Layout, test_start: str | None = None, extra: Sequence[str] = ()) -> Path:
    argv = [
        sys.executable,
        "-m",
        "jobs.train",
        "--features",
        str(layout.features),
        "--out",
        str(layout.model),
        "--quiet",
        *extra,
    ]
    if test_start:
        argv += ["--test-start", test_start]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return layout.model / "model.tar.gz"


# ------------------------------------------------------------------------------ runtime


def reset_runtime(layout: Layout) -> None:
    """A fresh runtime: empty streams, queue, store and checkpoints (the batch outputs are kept)."""
    shutil.rmtree(layout.runtime, ignore_errors=True)
    layout.logs.mkdir(parents=True)
    from local_aws.queue import LocalSQS

    streams = kinesis(layout)
    for name in STREAMS:
        streams.create_stream(StreamName=name, ShardCount=1)
    LocalSQS(root=str(layout.runtime / "queues")).create_queue(QueueName=DEAD_LETTER_QUEUE)


def kinesis(layout: Layout) -> Any:
    from local_aws.stream import LocalKinesis

    return LocalKinesis(root=str(layout.runtime / "streams"))


def feature_store(layout: Layout) -> Any:
    from local_aws.feature_store import LocalFeatureStore

    return LocalFeatureStore(path=str(layout.runtime / "featurestore.db"))


# ------------------------------------------------------------------------------ reading outputs


class StreamTail:
    """Reads a stream from the beginning (or from now: start="LATEST"), incrementally, across its shards."""

    def __init__(self, kinesis: Any, stream: str, start: str = "TRIM_HORIZON") -> None:
        self.readers = shard_readers(kinesis, stream, start)
        for reader in self.readers:
            reader.open()  # now: a LATEST tail sees what is written after it was made

    def read(self) -> list[dict[str, Any]]:
        return [json.loads(r["Data"]) for reader in self.readers for r in reader.read_available()]


@dataclass
class Predictions:
    """Predictions seen so far, idempotent by tid (a redelivered batch re-emits the same tids)."""

    by_tid: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0

    def add(self, records: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        fresh = []
        for p in records:
            if p["tid"] in self.by_tid:
                self.duplicates += 1
                continue
            self.by_tid[p["tid"]] = p
            self.first_seen[p["tid"]] = now
            fresh.append(p)
        return fresh


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def emf_totals(log_path: Path) -> dict[str, float]:
    """Sum of every EMF metric a function printed to its log."""
    totals: dict[str, float] = {}
    if not log_path.exists():
        return totals
    for line in log_path.read_text(errors="replace").splitlines():
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except json.JSONDecodeError:
            continue
        for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = blob.get(metric["Name"], 0)
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                sum(value) if isinstance(value, list) else value
            )
    return totals


def dead_letters(layout: Layout) -> list[dict[str, Any]]:
    from local_aws.queue import LocalSQS

    return [
        json.loads(b)
        for b in LocalSQS(root=str(layout.runtime / "queues")).peek_all(layout.dead_letter_url())
    ]


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    poll_s: float = 0.1,
    check: Callable[[], None] | None = None,
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check:
            check()
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


def add_history_arguments(parser: argparse.ArgumentParser, data: Path, what: str) -> None:
    """The arguments of a CLI that generates a history and runs the pipeline over it (demo, replay)."""
    parser.add_argument("--data", type=Path, default=data, help=f"folder for everything the {what} writes")
    parser.add_argument("--cards", type=int, default=1000, help="cards in the generated history")
    parser.add_argument(
        "--transactions", type=int, default=200_000, help="transactions in the generated history"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
