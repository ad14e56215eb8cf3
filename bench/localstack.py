"""End to end on the `localstack` profile: sustained transactions/s and event-to-prediction latency.

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
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.core import Result, Suite
from features.feature_groups import group_for
from local import localstack
from local.pipeline import Layout, aggregate, generate_history, percentile, train
from local.profiles import LocalStackProfile, Pipeline, ensure_stream

SUITE_NAME = "localstack"
CARDS, HISTORY_TRANSACTIONS = 500, 50_000
OFFERED_RATE, OFFERED_SECONDS = 1000.0, 10.0  # 10,000 transactions
OUT_OF_ORDERNESS_MS = 10  # the latency floor; the definition's default (2 s) is a correctness setting
PREFIX = "bench-ls"


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
    from simulator.stream import TxFactory, known_cards, live_schedule, read_history, send

    probe = LocalStackProfile({}, "", "", "")
    kinesis, sqs = probe.client("kinesis"), probe.client("sqs")
    outputs = _resources(kinesis, sqs)
    db = root / "featurestore.db"
    LocalFeatureStore(path=str(db)).load_parquet(group_for("daily_snapshot").name, layout.features / "online")
    factory = TxFactory(known_cards(read_history(layout.history)), np.random.default_rng(5))
    predictions: dict[str, dict] = {}
    try:
        with Pipeline(root, outputs, model=layout.model, feature_store_db=db, idle_flush_s=0.2,
                      out_of_orderness_ms=OUT_OF_ORDERNESS_MS) as pipeline:
            time.sleep(2.0)  # let the processes open their shard iterators
            total = int(OFFERED_RATE * OFFERED_SECONDS)
            started = time.time()
            report = send(itertools.islice(live_schedule(factory, OFFERED_RATE, started), total), kinesis,
                          outputs["streams"]["transactions"], duration_s=3 * OFFERED_SECONDS)
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
    return {"sent": report.sent, "send_seconds": report.seconds, "seconds": last_seen - started,
            "predictions": predictions}


def _iterator(kinesis, stream: str) -> str:
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    return kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]


def run() -> list[Result]:
    started = localstack.up(kinesis_save_s=None)  # if it starts it: no Kinesis saves (they cost CPU per record held)
    results: list[Result] = [Result(SUITE_NAME, "LocalStack start (host runtime, warm venv)", started.seconds, "s",
                                    baseline="already running" if started.already_running else started.mode)]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-localstack-") as tmp:
            layout = Layout(Path(tmp) / "batch")
            generate_history(layout, CARDS, HISTORY_TRANSACTIONS, datetime(2020, 1, 1, tzinfo=UTC),
                             datetime(2020, 6, 1, tzinfo=UTC), seed=42)
            aggregate(layout)
            train(layout)
            out = _measure(layout, Path(tmp) / "profile")
    finally:
        if not started.already_running:
            localstack.down()
    scored = len(out["predictions"])
    rate = scored / out["seconds"] if out["seconds"] > 0 else 0.0
    offered = f"offered {OFFERED_RATE:,.0f} tx/s for {OFFERED_SECONDS:.0f} s; producer sent {out['sent'] / out['send_seconds']:,.0f} tx/s; {scored:,} of {out['sent']:,} scored"
    results.append(Result(SUITE_NAME, "end-to-end sustained (LocalStack Kinesis, producer to prediction)", rate,
                          "tx/s", ">= 1,000 tx/s", offered, rate >= 1000 and scored == out["sent"]))
    latencies = [p["event_to_prediction_ms"] for p in out["predictions"].values()]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    results.append(Result(SUITE_NAME, f"event-to-prediction p99 (out-of-orderness {OUT_OF_ORDERNESS_MS} ms)", p99, "ms",
                          "<= 1,000 ms", f"p50 {p50:,.0f} ms", p99 <= 1000))
    return results


SUITE = Suite(SUITE_NAME, run)
