"""Model benchmark: training time at the seed's scale, scoring latency in process and through the
local endpoint, batch scoring throughput.

Data: data/bench/history.parquet (the generator benchmark's full-scale file, made if missing),
aggregated once into data/bench/features by the batch job (embedded engine); the model goes to
data/bench/model. Baselines in the same run: scoring through a DMatrix per call (what SageMaker's
XGBoost container does per request) in process, and a boto3 sagemaker-runtime client per request.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xgboost as xgb

from bench.core import Result, Suite, measure
from bench.generator import ensure_full_history
from jobs.training import artifact, splits
from local_aws.endpoint import Model

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "data" / "bench"
FEATURES, MODEL = BENCH / "features", BENCH / "model"
TRAIN_TARGET_S, ROW_P99_TARGET_MS, REQUEST_P99_TARGET_MS = 45.0, 1.0, 5.0
SINGLE_ROW_CALLS, REQUESTS, BATCH_ROWS = 5000, 2000, 5000


def ensure_features() -> Path:
    history = ensure_full_history()
    done = FEATURES / "_SUCCESS"
    if not done.exists() or done.stat().st_mtime < history.stat().st_mtime:
        measure(
            [
                sys.executable,
                "-m",
                "jobs.aggregate",
                "--engine",
                "duckdb",
                "--input",
                str(history),
                "--output",
                str(FEATURES),
            ]
        )
    return FEATURES


def percentiles_ms(samples_ns: list[int]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples_ns) / 1e6, [50, 99])
    return float(p50), float(p99)


def time_calls(call, rows: np.ndarray, count: int) -> list[int]:
    samples = []
    for i in range(count):
        row = rows[i % len(rows)][None, :]
        t = time.perf_counter_ns()
        call(row)
        samples.append(time.perf_counter_ns() - t)
    return samples


def start_endpoint() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_aws.endpoint", "--model", str(MODEL), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = proc.stdout.readline()
    if "http://127.0.0.1:" not in line:
        proc.kill()
        raise RuntimeError(f"endpoint did not start: {line!r}")
    return proc, int(line.split("http://127.0.0.1:")[1].split()[0])


def csv_rows(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(f"{v:.9g}" for v in row) for row in rows).encode()


def endpoint_latency(port: int, rows: np.ndarray) -> tuple[list[int], float]:
    """Single-row requests over one keep-alive connection; then batch throughput (rows/s)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    bodies = [csv_rows(rows[i : i + 1]) for i in range(min(len(rows), REQUESTS))]
    headers = {"Content-Type": "text/csv"}
    samples = []
    for i in range(REQUESTS):
        t = time.perf_counter_ns()
        conn.request("POST", "/invocations", body=bodies[i % len(bodies)], headers=headers)
        resp = conn.getresponse()
        resp.read()
        samples.append(time.perf_counter_ns() - t)
        if resp.status != 200:
            raise RuntimeError(f"endpoint answered {resp.status}")
    batch = csv_rows(rows[:BATCH_ROWS])
    t = time.perf_counter()
    for _ in range(10):
        conn.request("POST", "/invocations", body=batch, headers=headers)
        conn.getresponse().read()
    throughput = 10 * min(len(rows), BATCH_ROWS) / (time.perf_counter() - t)
    conn.close()
    return samples, throughput


def boto3_latency(port: int, rows: np.ndarray, count: int = 500) -> list[int]:
    import boto3

    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    bodies = [csv_rows(rows[i : i + 1]) for i in range(count)]
    samples = []
    for body in bodies:
        t = time.perf_counter_ns()
        client.invoke_endpoint(EndpointName="bench", ContentType="text/csv", Body=body)["Body"].read()
        samples.append(time.perf_counter_ns() - t)
    return samples


def run() -> list[Result]:
    features = ensure_features()
    job = measure(
        [sys.executable, "-m", "jobs.train", "--features", str(features), "--out", str(MODEL), "--quiet"]
    )
    card = json.loads((MODEL / artifact.MODEL_CARD).read_text())
    train_rows = card["data"]["splits"]["train"]["rows"]
    fit_s = card["training_seconds"]
    cores = os.cpu_count() or 1
    fit_cpu = card.get("training_cpu_seconds", float("nan"))
    test = splits.split(splits.read_table(splits.training_files(features))).test
    results = [
        Result(
            "model",
            f"training, {train_rows:,} rows x {len(card['features'])} features, "
            f"{card['hyperparameters']['num_round']} rounds, {os.cpu_count()} cores",
            fit_s,
            "s",
            f"<= {TRAIN_TARGET_S:g} s",
            f"CPU {fit_cpu:.0f} s (~{fit_cpu / cores:.0f} s on {cores} idle cores); "
            f"whole job {job.seconds:.1f} s, peak RSS {job.peak_rss_mb:,.0f} MB; load avg {os.getloadavg()[0]:.1f}",
            fit_s <= TRAIN_TARGET_S,
        ),
        Result(
            "model",
            f"test PR AUC ({len(card['features'])} features of the definition)",
            card["metrics"]["test"]["pr_auc"],
            "",
            "",
            "seed reference 0.61",
        ),
    ]

    model = Model.load(MODEL)
    rows = test.x[:SINGLE_ROW_CALLS]
    p50, p99 = percentiles_ms(time_calls(model.predict, rows, SINGLE_ROW_CALLS))
    booster = model.booster
    _, dm99 = percentiles_ms(
        time_calls(lambda r: booster.predict(xgb.DMatrix(r), validate_features=False), rows, SINGLE_ROW_CALLS)
    )
    results.append(
        Result(
            "model",
            "in-process scoring, one row per call: p99",
            p99,
            "ms",
            f"<= {ROW_P99_TARGET_MS:g} ms",
            f"p50 {p50:.3f} ms; DMatrix per call p99 {dm99:.3f} ms",
            p99 <= ROW_P99_TARGET_MS,
        )
    )
    for threads in sorted({1, os.cpu_count() or 1}):
        batch_model = Model.load(MODEL, nthread=threads)
        t = time.perf_counter()
        batch_model.predict(test.x)
        rate = test.rows / (time.perf_counter() - t)
        results.append(
            Result(
                "model", f"in-process batch scoring, {test.rows:,} rows, {threads} thread(s)", rate, "rows/s"
            )
        )

    proc, port = start_endpoint()
    try:
        samples, throughput = endpoint_latency(port, rows.astype(np.float64))
        b50, b99 = percentiles_ms(boto3_latency(port, rows.astype(np.float64)))
    finally:
        proc.terminate()
        proc.wait(10)
    e50, e99 = percentiles_ms(samples)
    results.append(
        Result(
            "model",
            "local endpoint, one row per request: p99",
            e99,
            "ms",
            f"<= {REQUEST_P99_TARGET_MS:g} ms",
            f"p50 {e50:.3f} ms; via boto3 p50 {b50:.2f} / p99 {b99:.2f} ms",
            e99 <= REQUEST_P99_TARGET_MS,
        )
    )
    results.append(
        Result(
            "model", f"local endpoint batch scoring, {BATCH_ROWS:,} rows per request", throughput, "rows/s"
        )
    )
    return results


SUITE = Suite("model", run)
