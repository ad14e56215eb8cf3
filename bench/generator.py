"""Generator benchmark: the seed's full scale (10,000 cards, 5.4M transactions) in <= 10 s.

Baseline in the same run: the seed's approach, a Python loop per transaction with hashlib
(without Faker, so faster than the seed's notebook), timed on 100k rows and extrapolated.
The tids' MD5 alone, DuckDB's md5() (the generator's) against one hashlib call per row.
The full-scale file stays at data/bench/history.parquet for the batch benchmarks.
"""

from __future__ import annotations

import csv
import hashlib
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.core import Result, Suite, measure
from simulator.generate import (
    AMOUNT_BUCKETS,
    DEFAULTS,
    PROVENANCE_KEY,
    TID_TEXT_SQL,
    amounts_cents,
    card_numbers,
    duckdb_query,
    provenance,
)

ROOT = Path(__file__).resolve().parents[1]
FULL_HISTORY = ROOT / "data" / "bench" / "history.parquet"
TARGET_SECONDS = 10.0
BASELINE_ROWS = 100_000


def full_scale_argv(out: Path) -> list[str]:
    """`python -m simulator generate` at the seed's scale (the generator's defaults, seed 42)."""
    return [
        sys.executable,
        "-m",
        "simulator",
        "generate",
        "--seed",
        str(DEFAULTS["seed"]),
        "--quiet",
        "--out",
        str(out),
    ]


def ensure_full_history() -> Path:
    """data/bench/history.parquet at full scale, generated when missing or made differently."""
    try:
        made_by = (pq.read_schema(FULL_HISTORY).metadata or {}).get(PROVENANCE_KEY.encode(), b"").decode()
    except OSError:
        made_by = ""
    if made_by != provenance(**DEFAULTS):  # the CLI's defaults are the seed's full scale
        measure(full_scale_argv(FULL_HISTORY))
    return FULL_HISTORY


def python_loop_history(rows: int, out: Path, cards: int = DEFAULTS["cards"], seed: int = 0) -> None:
    """The seed's way: one Python iteration and one hashlib call per transaction, then a CSV."""
    rand = random.Random(seed)
    numbers = [int("4" + "".join(rand.choice("0123456789") for _ in range(15))) for _ in range(cards)]
    start, end = int(DEFAULTS["start"].timestamp()), int(DEFAULTS["end"].timestamp())
    shares = [b[0] for b in AMOUNT_BUCKETS]
    records = []
    for _ in range(rows):
        moment = datetime.fromtimestamp(rand.randrange(start, end), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        card = rand.choice(numbers)
        _, low, high = rand.choices(AMOUNT_BUCKETS, weights=shares)[0]
        amount = round(rand.uniform(low, high), 2)
        tid = hashlib.md5(f"{moment}|{card}|{amount:.2f}".encode()).hexdigest()
        records.append((tid, moment, card, amount, 0))
    records.sort(key=lambda r: (r[1], r[0]))
    with out.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["tid", "datetime", "cc_num", "amount", "fraud_label"])
        writer.writerows(records)


def tid_hashing_seconds(rows: int) -> tuple[float, float]:
    """Seconds for the tids of `rows` draws from their columns: DuckDB's md5(), and hashlib per row
    over the same strings built by DuckDB."""
    rng = np.random.default_rng(0)
    start = int(DEFAULTS["start"].timestamp())
    columns = {
        "seconds": np.sort(rng.integers(start, int(DEFAULTS["end"].timestamp()), rows)),
        "cc_num": card_numbers(rng, DEFAULTS["cards"])[rng.integers(0, DEFAULTS["cards"], rows)],
        "cents": amounts_cents(rng, rows),
    }
    begin = time.perf_counter()
    duckdb_query(f"SELECT md5({TID_TEXT_SQL}) FROM t", **columns)
    in_duckdb = time.perf_counter() - begin
    begin = time.perf_counter()
    texts = duckdb_query(f"SELECT {TID_TEXT_SQL} AS s FROM t", **columns)["s"].to_pylist()
    [hashlib.md5(text.encode()).hexdigest() for text in texts]
    return in_duckdb, time.perf_counter() - begin


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as scratch:
        begin = time.perf_counter()
        python_loop_history(BASELINE_ROWS, Path(scratch) / "loop.csv")
        loop_seconds = time.perf_counter() - begin
    full_rows = DEFAULTS["transactions"]
    extrapolated = loop_seconds * full_rows / BASELINE_ROWS

    before = _children_cpu_seconds()
    done = measure(full_scale_argv(FULL_HISTORY))
    cpu = _children_cpu_seconds() - before
    rows = pq.read_metadata(FULL_HISTORY).num_rows
    if rows != full_rows:
        raise RuntimeError(f"{FULL_HISTORY} has {rows} rows, expected {full_rows}")
    scale = f"{full_rows / 1e6:.1f}M transactions, {DEFAULTS['cards']:,} cards"
    in_duckdb, per_row = tid_hashing_seconds(full_rows)
    return [
        Result(
            "generator",
            f"generate {scale} (Parquet), wall",
            done.seconds,
            "s",
            target=f"<= {TARGET_SECONDS:.0f} s",
            baseline=(
                f"Python loop + hashlib (seed's approach, no Faker): {loop_seconds:.2f} s for "
                f"{BASELINE_ROWS // 1000}k rows, extrapolated to {full_rows / 1e6:.1f}M: {extrapolated:.0f} s"
            ),
            passed=done.seconds <= TARGET_SECONDS,
        ),
        Result("generator", f"generate {scale}, peak RSS", done.peak_rss_mb, "MB"),
        Result(
            "generator",
            f"tids of {full_rows / 1e6:.1f}M transactions: DuckDB md5() over the columns",
            in_duckdb,
            "s",
            baseline=f"strings by DuckDB, then hashlib, one call per row: {per_row:.2f} s",
        ),
        # wall time depends on what else runs on the machine; CPU time much less so
        Result("generator", f"generate {scale}, CPU time (user + sys, all threads)", cpu, "s"),
    ]


def _children_cpu_seconds() -> float:
    """CPU time of finished child processes, their own waited-for children included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


SUITE = Suite("generator", run)
