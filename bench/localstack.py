"""End to end on the `localstack` profile: sustained transactions/s and event-to-prediction latency.

First, kinesis-local alone (LocalStack's Kinesis: kinesis-mock compiled to JavaScript, one Node
thread), started straight from its main.js with no LocalStack and no project code: Node CPU per
record written and read, and per call. From them, the ceiling it puts on this pipeline: every
transaction is written to three streams and read four times (engine, ingest, score, reader).

LocalStack's Kinesis (one shard per stream: the 1,000 records/s write limit of one shard is the
target) carries the transactions, aggregates and predictions; the engine and both functions run
as the profile's processes over boto3, with the local Feature Store and endpoint servers. Live
traffic at a fixed offered rate (event time = send time), bounded in count; the latency is the
score function's own `event_to_prediction_ms` (wall clock at prediction minus event time).
LocalStack is started if needed and stopped again if this run started it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.core import Result, Suite, cpu_seconds
from features.feature_groups import group_for
from local import localstack
from local.pipeline import Layout, aggregate, generate_history, percentile, train
from local.profiles import LocalStackProfile, Pipeline, ensure_stream, free_port

SUITE_NAME = "localstack"
CARDS, HISTORY_TRANSACTIONS = 500, 50_000
OFFERED_RATE, OFFERED_SECONDS = 1000.0, 10.0  # 10,000 transactions
OUT_OF_ORDERNESS_MS = 10  # the latency floor; the definition's default (2 s) is a correctness setting
PREFIX = "bench-ls"
# kinesis-local alone: records of a transaction's size class, PutRecords of 500, GetRecords of 10,000.
ALONE_RECORDS, ALONE_UNPATCHED_RECORDS, ALONE_BYTES, ALONE_EMPTY_CALLS = 20_000, 4_000, 200, 100
WRITES_PER_TX, READS_PER_TX = 3, 4  # transactions, aggregates, predictions; engine, ingest, score, reader


def kinesis_alone(main_js: Path, records: int, node_options: str) -> dict[str, float]:
    """Node CPU of kinesis-local (no LocalStack) per record written and read, and per empty read.

    One stream, one shard; PutRecords of 500 records; then everything read back with GetRecords
    of 10,000; then empty GetRecords at the tip (a consumer polling). Plain boto3 (JSON 1.1).
    """
    import boto3
    from botocore.config import Config

    port = free_port()
    env = {
        **os.environ,
        "KINESIS_MOCK_PLAIN_PORT": str(port),
        "KINESIS_MOCK_TLS_PORT": str(free_port()),
        "KINESIS_MOCK_CERT_PATH": str(main_js.parent / "server.json"),
        "LOG_LEVEL": "WARN",
        "CREATE_STREAM_DURATION": "0ms",
        "NODE_OPTIONS": node_options,
    }
    node = subprocess.Popen(
        ["node", str(main_js)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        kinesis = boto3.client(
            "kinesis",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name=localstack.REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        end = time.monotonic() + 60
        while True:
            try:
                kinesis.create_stream(StreamName="alone", ShardCount=1)
                break
            except Exception:
                if time.monotonic() > end or node.poll() is not None:
                    raise
                time.sleep(0.2)
        kinesis.get_waiter("stream_exists").wait(StreamName="alone", WaiterConfig={"Delay": 0.1})
        data = b"x" * ALONE_BYTES
        cpu, t0 = cpu_seconds(node.pid), time.monotonic()
        for start in range(0, records, 500):
            out = kinesis.put_records(
                StreamName="alone",
                Records=[
                    {"Data": data, "PartitionKey": str(i)} for i in range(start, min(records, start + 500))
                ],
            )
            assert out["FailedRecordCount"] == 0
        put_cpu, put_s = cpu_seconds(node.pid) - cpu, time.monotonic() - t0
        it = _iterator(kinesis, "alone")
        cpu, read = cpu_seconds(node.pid), 0
        while read < records:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            read, it = read + len(page["Records"]), page["NextShardIterator"]
        get_cpu = cpu_seconds(node.pid) - cpu
        cpu = cpu_seconds(node.pid)
        for _ in range(ALONE_EMPTY_CALLS):
            it = kinesis.get_records(ShardIterator=it, Limit=10_000)["NextShardIterator"]
        empty_cpu = cpu_seconds(node.pid) - cpu
    finally:
        node.kill()
        node.wait()
    return {
        "put_per_s": records / put_s,
        "put_ms": 1000 * put_cpu / records,
        "get_ms": 1000 * get_cpu / records,
        "call_ms": 1000 * empty_cpu / ALONE_EMPTY_CALLS,
    }


def _unpatched_copy(main_js: Path, into: Path) -> Path:
    """kinesis-local as npm ships it, except the loopback bind (to measure what the PutRecords patch buys)."""
    copy = into / "main.js"
    text = main_js.read_text()
    for patch in localstack.KINESIS_PATCHES[1:]:
        text = text.replace(patch.after, patch.before)
    copy.write_text(text)
    shutil.copy(main_js.parent / "server.json", into / "server.json")
    return copy


def alone_results() -> list[Result]:
    scripts = localstack.kinesis_main_js()
    if not scripts:
        return []  # installed by the first `up` (run() calls this after it)
    main_js = scripts[0]
    tuned = kinesis_alone(main_js, ALONE_RECORDS, localstack.KINESIS_NODE_OPTIONS)
    default_heap = kinesis_alone(main_js, ALONE_RECORDS, "")
    with tempfile.TemporaryDirectory(prefix="bench-kinesis-local-") as tmp:
        unpatched = kinesis_alone(_unpatched_copy(main_js, Path(tmp)), ALONE_UNPATCHED_RECORDS, "")
    per_tx_ms = WRITES_PER_TX * tuned["put_ms"] + READS_PER_TX * tuned["get_ms"]
    name = f"kinesis-local {localstack.KINESIS_MOCK_VERSION} alone (node main.js, no LocalStack, no project code)"
    return [
        Result(
            SUITE_NAME,
            f"{name}: PutRecords, {ALONE_RECORDS:,} x {ALONE_BYTES} B, 500 per call, one shard",
            tuned["put_per_s"],
            "records/s",
            "",
            f"Node CPU {tuned['put_ms']:.3f} ms/record ({default_heap['put_ms']:.3f} with Node's default young "
            f"generation); npm's main.js (quadratic): {unpatched['put_per_s']:,.0f} records/s over "
            f"{ALONE_UNPATCHED_RECORDS:,} records, {unpatched['put_ms']:.2f} ms/record",
        ),
        Result(
            SUITE_NAME,
            f"{name}: GetRecords of 10,000, Node CPU per record",
            tuned["get_ms"],
            "ms",
            "",
            f"{default_heap['get_ms']:.3f} ms with Node's default young generation",
        ),
        Result(
            SUITE_NAME,
            f"{name}: Node CPU per call (empty GetRecords at the tip)",
            tuned["call_ms"],
            "ms",
            "",
            f"{default_heap['call_ms']:.1f} ms with Node's default young generation",
        ),
        Result(
            SUITE_NAME,
            f"kinesis-local's ceiling for this pipeline ({WRITES_PER_TX} records written + {READS_PER_TX} read "
            "per transaction, one Node thread, calls free)",
            1000 / per_tx_ms,
            "tx/s",
            ">= 1,000 tx/s",
            f"{per_tx_ms:.2f} ms of Node CPU per transaction; each call costs {tuned['call_ms']:.0f} ms more",
            1000 / per_tx_ms >= 1000,
        ),
    ]


def _resources(kinesis, sqs) -> dict:
    streams = {n: f"{PREFIX}-{n}" for n in ("transactions", "aggregates", "late", "predictions")}
    for name in streams.values():
        if name in kinesis.list_streams(Limit=1000)["StreamNames"]:
            kinesis.delete_stream(StreamName=name)  # start from empty streams
            kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
        ensure_stream(kinesis, name)
    url = sqs.create_queue(QueueName=f"{PREFIX}-dead-letters")["QueueUrl"]
    return {"streams": streams, "dead_letter_queue_url": url, "endpoint": localstack.ENDPOINT}


def _measure(layout: Layout, root: Path) -> dict:
    from local.feature_store import LocalFeatureStore
    from simulator.stream import LINGER_KINESIS_S, TxFactory, known_cards, live_schedule, read_history, send

    probe = LocalStackProfile({}, "", "", "")
    kinesis, sqs = probe.client("kinesis"), probe.client("sqs")
    outputs = _resources(kinesis, sqs)
    db = root / "featurestore.db"
    LocalFeatureStore(path=str(db)).load_parquet(group_for("daily_snapshot").name, layout.features / "online")
    factory = TxFactory(known_cards(read_history(layout.history)), np.random.default_rng(5))
    predictions: dict[str, dict] = {}
    try:
        with Pipeline(
            root,
            outputs,
            model=layout.model,
            feature_store_db=db,
            idle_flush_s=0.2,
            out_of_orderness_ms=OUT_OF_ORDERNESS_MS,
        ) as pipeline:
            time.sleep(2.0)  # let the processes open their shard iterators
            total = int(OFFERED_RATE * OFFERED_SECONDS)
            started = time.time()
            report = send(
                itertools.islice(live_schedule(factory, OFFERED_RATE, started), total),
                kinesis,
                outputs["streams"]["transactions"],
                duration_s=3 * OFFERED_SECONDS,
                linger_s=LINGER_KINESIS_S,
            )
            it = _iterator(kinesis, outputs["streams"]["predictions"])
            deadline = time.monotonic() + 120
            last_seen = started
            while len(predictions) < report.sent and time.monotonic() < deadline:
                pipeline.check()
                page = kinesis.get_records(ShardIterator=it, Limit=10_000)
                it = page["NextShardIterator"]
                for r in page["Records"]:
                    p = json.loads(r["Data"])
                    predictions.setdefault(p["tid"], p)
                    last_seen = time.time()
                if not page["Records"]:
                    time.sleep(0.1)
    finally:
        for name in outputs["streams"].values():
            kinesis.delete_stream(StreamName=name)
        for name in (f"{PREFIX}-engine-dead-letters",):
            if name in kinesis.list_streams(Limit=1000)["StreamNames"]:
                kinesis.delete_stream(StreamName=name)
        sqs.delete_queue(QueueUrl=outputs["dead_letter_queue_url"])
    return {
        "sent": report.sent,
        "send_seconds": report.seconds,
        "seconds": last_seen - started,
        "predictions": predictions,
    }


def _iterator(kinesis, stream: str) -> str:
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    return kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]


def run() -> list[Result]:
    started = localstack.up(
        kinesis_save_s=None
    )  # if it starts it: no Kinesis saves (they cost CPU per record held)
    results: list[Result] = [
        Result(
            SUITE_NAME,
            "LocalStack start (host runtime, warm venv)",
            started.seconds,
            "s",
            baseline="already running" if started.already_running else started.mode,
        )
    ]
    results += alone_results()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-localstack-") as tmp:
            layout = Layout(Path(tmp) / "batch")
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
            out = _measure(layout, Path(tmp) / "profile")
    finally:
        if not started.already_running:
            localstack.down()
    scored = len(out["predictions"])
    rate = scored / out["seconds"] if out["seconds"] > 0 else 0.0
    offered = f"offered {OFFERED_RATE:,.0f} tx/s for {OFFERED_SECONDS:.0f} s; producer sent {out['sent'] / out['send_seconds']:,.0f} tx/s; {scored:,} of {out['sent']:,} scored"
    results.append(
        Result(
            SUITE_NAME,
            "end-to-end sustained (LocalStack Kinesis, producer to prediction)",
            rate,
            "tx/s",
            ">= 1,000 tx/s",
            offered,
            rate >= 1000 and scored == out["sent"],
        )
    )
    latencies = [p["event_to_prediction_ms"] for p in out["predictions"].values()]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    results.append(
        Result(
            SUITE_NAME,
            f"event-to-prediction p99 (out-of-orderness {OUT_OF_ORDERNESS_MS} ms)",
            p99,
            "ms",
            "<= 1,000 ms",
            f"p50 {p50:,.0f} ms",
            p99 <= 1000,
        )
    )
    return results


SUITE = Suite(SUITE_NAME, run)
