"""Fault: LocalStack goes away in the middle of a stream and comes back; nothing acknowledged is lost.

"Acknowledged" is what Kinesis acknowledged to the producer: a PutRecords call that returned
without error. The producer keeps every chunk it could not get acknowledged and resends it
(so a chunk that landed but whose answer was lost arrives twice: the engine dedups by tid).
LocalStack is stopped the way `make localstack-down` stops it (kinesis-local saves its streams
and records first) and started again keeping that state (PERSISTENCE=1; in the free edition only
Kinesis keeps state, so the dead-letter queue is re-created, as re-applying Terraform would).
The engine and the event source mappings keep their checkpoints on the project's side and
restart in place after the errors, resuming after the last record they handled.
"""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
import pytest

from clients.kinesis import put_chunk
from features.codec import encode_transaction
from features.feature_groups import group_for
from profiles import localstack_server as localstack
from profiles.localstack import ENGINE_DEAD, FUNCTIONS, Pipeline, ensure_stream
from simulator.stream import TxFactory, known_cards, read_history
from tests.integration.support import (
    esm_stats,
    expected_windows,
    queue_messages,
    read_json_stream,
    read_stream,
    wait_until,
)

pytestmark = pytest.mark.integration

PREFIX = "it-fault"
LOGICAL = ("transactions", "aggregates", "late", "predictions")
RATE, CHUNK = 100.0, 10  # transactions per second, per PutRecords call


class Producer(threading.Thread):
    """Live traffic; a chunk is acknowledged when PutRecords returns, otherwise resent until it is."""

    def __init__(self, kinesis, stream: str, factory: TxFactory) -> None:
        super().__init__(daemon=True)
        self.kinesis, self.stream, self.factory = kinesis, stream, factory
        self.acknowledged: list = []
        self.failed_calls = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                chunk = [self.factory.make(round(time.time() * 1000)) for _ in range(CHUNK)]
                while True:
                    try:
                        put_chunk(self.kinesis, self.stream, [tx.entry() for tx in chunk])
                        break
                    except Exception:  # LocalStack away: not acknowledged, keep it and resend
                        self.failed_calls += 1
                        time.sleep(0.5)
                self.acknowledged += chunk
                time.sleep(CHUNK / RATE)
        except BaseException as err:
            self.error = err


@pytest.fixture
def resources(localstack_endpoint, boto):
    if localstack.read_pid(localstack.PID_FILE) is None and not localstack.CONTAINER_FILE.exists():
        pytest.skip(
            "LocalStack was not started by this project (profiles/localstack_server.py), so the test cannot restart it"
        )
    kinesis, sqs = boto("kinesis"), boto("sqs")
    names = {n: f"{PREFIX}-{n}" for n in LOGICAL}
    for name in names.values():
        ensure_stream(kinesis, name)
    url = sqs.create_queue(QueueName=f"{PREFIX}-dead-letters")["QueueUrl"]
    yield {"streams": names, "dead_letter_queue_url": url, "endpoint": localstack.ENDPOINT}
    for name in [*names.values(), f"{PREFIX}-{ENGINE_DEAD}"]:
        if name in kinesis.list_streams(Limit=1000)["StreamNames"]:
            kinesis.delete_stream(StreamName=name)
    sqs.delete_queue(QueueUrl=url)


def test_localstack_restart_mid_stream_loses_nothing_acknowledged(resources, batch_side, boto, tmp_path):
    from local_aws.feature_store import LocalFeatureStore

    db = tmp_path / "featurestore.db"
    LocalFeatureStore(path=str(db)).load_parquet(
        group_for("daily_snapshot").name, batch_side.features / "online"
    )
    kinesis = boto("kinesis")
    factory = TxFactory(known_cards(read_history(batch_side.history)), np.random.default_rng(11))
    with Pipeline(tmp_path, resources, model=batch_side.model, feature_store_db=db) as pipeline:
        producer = Producer(kinesis, resources["streams"]["transactions"], factory)
        producer.start()
        time.sleep(5)
        before = len(producer.acknowledged)
        pid_before = localstack.read_pid(localstack.PID_FILE)
        localstack.restart()
        boto("sqs").create_queue(QueueName=f"{PREFIX}-dead-letters")  # SQS keeps no state across restarts
        time.sleep(5)
        producer.stop.set()
        producer.join(60)
        assert producer.error is None, producer.error
        acknowledged = producer.acknowledged
        assert before > 0 and len(acknowledged) > before, "the stream must run before and after the outage"
        assert producer.failed_calls > 0, "the outage never reached the producer: not a mid-stream restart"
        assert localstack.read_pid(localstack.PID_FILE) != pid_before

        tids = {tx.tid for tx in acknowledged}

        def predicted() -> set[str]:
            return {p["tid"] for p in read_json_stream(kinesis, resources["streams"]["predictions"])}

        scored = wait_until(lambda: predicted() >= tids, 240, check=pipeline.check, poll_s=1.0)
        assert scored, _where_are(tids - predicted(), kinesis, boto("sqs"), resources, pipeline)
        aggregates = [a["tid"] for a in read_json_stream(kinesis, resources["streams"]["aggregates"])]
        fs = pipeline.profile.client("sagemaker-featurestore-runtime")
        expected = expected_windows(
            json.loads(encode_transaction(tx.tid, tx.cc_num, tx.amount, tx.event_ms)) for tx in acknowledged
        )
        wait_until(
            lambda: all(esm_stats(tmp_path, f)["records_in"] >= len(aggregates) for f in FUNCTIONS),
            60,
            check=pipeline.check,
        )
        online = {
            card: {
                f["FeatureName"]: f["ValueAsString"]
                for f in fs.get_record(
                    FeatureGroupName=pipeline.profile.group(group_for("sliding").name),
                    RecordIdentifierValueAsString=str(card),
                ).get("Record", [])
            }
            for card in expected
        }
        restarts = {name: pipeline.log_tail(name, 50).count("restart ") for name in ("engine", *FUNCTIONS)}
    # Exactly once through the engine: every acknowledged transaction aggregated once, resends deduplicated.
    assert sorted(aggregates) == sorted(tids)
    for card, features in expected.items():
        for name, value in features.items():
            assert math.isclose(float(online[card][name]), value, rel_tol=1e-9, abs_tol=1e-6), (card, name)
    for function in FUNCTIONS:
        stats = esm_stats(tmp_path, function)
        assert stats["records_in"] == stats["processed"] + stats["dead_lettered"], (function, stats)
    lost = [
        m
        for m in queue_messages(boto("sqs"), resources["dead_letter_queue_url"])
        if m.get("disposition") != "scored"
    ]
    assert lost == [], f"records dead-lettered by the outage: {lost[:2]}"
    assert any(restarts.values()), f"no process noticed the outage: {restarts}"


def _where_are(missing: set[str], kinesis, sqs, resources, pipeline) -> str:
    """Which stage the missing transactions reached, for the failure message."""
    found = {}
    for logical, stream in [*resources["streams"].items(), (ENGINE_DEAD, f"{PREFIX}-{ENGINE_DEAD}")]:
        tids = set()
        for r in read_stream(kinesis, stream):
            text = r["Data"].decode(errors="replace")
            tids |= {t for t in missing if t in text}
        found[logical] = len(tids)
    dead = sum(
        1
        for m in queue_messages(sqs, resources["dead_letter_queue_url"])
        if any(t in json.dumps(m) for t in missing)
    )
    stats = {f: esm_stats(pipeline.root, f) for f in FUNCTIONS}
    return (
        f"{len(missing)} acknowledged transaction(s) never scored; found in streams {found}, dead-letter queue {dead}; "
        f"esm {stats}; engine log: {pipeline.log_tail('engine', 12)}"
    )
