"""The `localstack` profile end to end: Terraform's resources on LocalStack, a fraud attack and bad records.

terraform/envs/local is applied against LocalStack with the real provider; the simulator's attack
scenario, a handful of malformed transactions, a transaction on an unknown card and two malformed
aggregate records are streamed through LocalStack's Kinesis; the engine, the event source
mappings and the unchanged handlers run on boto3 clients pointed by configuration at LocalStack,
the local Feature Store server and the local endpoint server. Then everything is destroyed.
Tests run in file order: clean start, apply, the scenario's checks, destroy.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from features.codec import encode_transaction
from features.definition import aggregates_of_kind
from features.feature_groups import group_for
from profiles.localstack import ENGINE_DEAD, FUNCTIONS, Pipeline
from simulator.stream import TxFactory, attack_scenario, known_cards, read_history, send
from tests.integration.support import (
    Terraform,
    esm_stats,
    expected_windows,
    leftovers,
    queue_messages,
    read_json_stream,
    wait_until,
)

pytestmark = pytest.mark.integration

PREFIX = "it-fraud"
UNKNOWN_CARD = 4_999_999_999_999_999
BAD_TRANSACTIONS = {  # payload -> the start of the engine's dead-letter reason
    b"this is not json": "not JSON",
    b'{"tid": "bad-missing", "cc_num": 1}': "missing field",
    json.dumps(
        {"tid": "bad-negative", "cc_num": 1, "amount": -5.0, "trans_ts": "2026-01-01T00:00:00.000Z"}
    ).encode(): "amount must be finite and non-negative",
    json.dumps(
        {"tid": "bad-type", "cc_num": "x", "amount": 1.0, "trans_ts": "2026-01-01T00:00:00.000Z"}
    ).encode(): "cc_num must be an integer",
    b'{"tid": "bad-nan", "cc_num": 1, "amount": NaN, "trans_ts": "2026-01-01T00:00:00.000Z"}': "amount must be finite and non-negative",
}
BAD_AGGREGATES = [b"<garbage/>", b'{"tid": "agg-missing", "cc_num": 7}']


@pytest.fixture(scope="module")
def terraform(localstack_endpoint, boto, tmp_path_factory):
    tf = Terraform(tmp_path_factory.mktemp("terraform"), PREFIX)
    tf.before = leftovers(boto, PREFIX)
    tf.init()
    tf.destroyed = False
    yield tf
    if not tf.destroyed:
        tf.destroy()


@pytest.fixture(scope="module")
def outputs(terraform):
    return terraform.apply()


@pytest.fixture(scope="module")
def run(outputs, batch_side, boto, tmp_path_factory):
    """Run the scenario once through the profile; collect everything the checks look at."""
    from local_aws.feature_store import LocalFeatureStore

    root = tmp_path_factory.mktemp("profile")
    db = root / "featurestore.db"
    LocalFeatureStore(path=str(db)).load_parquet(
        group_for("daily_snapshot").name, batch_side.features / "online"
    )
    kinesis = boto("kinesis")
    factory = TxFactory(known_cards(read_history(batch_side.history)), np.random.default_rng(7))
    try:
        return _run_scenario(root, db, outputs, batch_side, boto, factory)
    finally:  # the profile's own stream, not Terraform's
        if f"{PREFIX}-{ENGINE_DEAD}" in kinesis.list_streams(Limit=1000)["StreamNames"]:
            kinesis.delete_stream(StreamName=f"{PREFIX}-{ENGINE_DEAD}")


def _run_scenario(root, db, outputs, batch_side, boto, factory) -> dict:
    kinesis = boto("kinesis")
    streams = outputs["streams"]
    with Pipeline(root, outputs, model=batch_side.model, feature_store_db=db) as pipeline:
        profile = pipeline.profile
        unknown = factory.make(round(time.time() * 1000), card=UNKNOWN_CARD)
        kinesis.put_records(
            StreamName=streams["transactions"],
            Records=[{"Data": p, "PartitionKey": "bad"} for p in BAD_TRANSACTIONS] + [unknown.entry()],
        )
        kinesis.put_records(
            StreamName=streams["aggregates"],
            Records=[{"Data": p, "PartitionKey": "bad"} for p in BAD_AGGREGATES],
        )
        schedule = attack_scenario(factory, time.time() + 0.5, background_rate=20.0)
        report = send(schedule, kinesis, streams["transactions"])
        good = [unknown] + [tx for _, tx in schedule]
        assert report.sent == len(schedule)

        def predicted() -> set[str]:
            return {p["tid"] for p in read_json_stream(kinesis, streams["predictions"])}

        drained = wait_until(
            lambda: predicted() >= {tx.tid for tx in good}, 180, check=pipeline.check, poll_s=1.0
        )
        assert drained, f"not every transaction was scored; score log: {pipeline.log_tail('score', 5)}"
        # The ingest function trails the score function by at most a batch: wait for its accounting.
        wait_until(
            lambda: all(
                esm_stats(root, f)["records_in"] >= len(good) + len(BAD_AGGREGATES) for f in FUNCTIONS
            ),
            60,
            check=pipeline.check,
        )
        fs = profile.client("sagemaker-featurestore-runtime")
        cards = {tx.cc_num for tx in good}
        online = {
            c: fs.get_record(
                FeatureGroupName=profile.group(group_for("sliding").name),
                RecordIdentifierValueAsString=str(c),
            ).get("Record", [])
            for c in cards
        }
        result = {
            "good": good,
            "attack": [tx.tid for _, tx in schedule if tx.fraud],
            "predictions": read_json_stream(kinesis, streams["predictions"]),
            "engine_dead": read_json_stream(kinesis, profile.streams[ENGINE_DEAD]),
            "dead_letters": queue_messages(boto("sqs"), outputs["dead_letter_queue_url"]),
            "online": {c: {f["FeatureName"]: f["ValueAsString"] for f in rec} for c, rec in online.items()},
            "esm": {f: esm_stats(root, f) for f in FUNCTIONS},
        }
    return result


def test_a_run_starts_clean(terraform):
    assert terraform.before == {"streams": [], "queues": [], "buckets": [], "log groups": []}


def test_apply_creates_streams_queue_buckets_and_log_groups(outputs, boto):
    kinesis = boto("kinesis")
    assert set(outputs["streams"]) == {"transactions", "aggregates", "late", "predictions"}
    for name in outputs["streams"].values():
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] >= 1
    assert boto("sqs").get_queue_attributes(
        QueueUrl=outputs["dead_letter_queue_url"], AttributeNames=["QueueArn"]
    )
    for bucket in outputs["buckets"].values():
        boto("s3").head_bucket(Bucket=bucket)
    groups = {
        g["logGroupName"]
        for g in boto("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    assert set(outputs["log_group_names"].values()) <= groups


def test_every_transaction_is_scored_once_per_tid(run):
    tids = [p["tid"] for p in run["predictions"]]
    assert set(tids) == {tx.tid for tx in run["good"]}
    first = {}
    for p in run["predictions"]:  # a redelivery re-emits the same prediction: consumers keep the first
        first.setdefault(p["tid"], p)
    assert all(p["probability"] == first[p["tid"]]["probability"] for p in run["predictions"])


def test_the_attack_is_flagged(run):
    by_tid = {p["tid"]: p for p in run["predictions"]}
    attack = [by_tid[t] for t in run["attack"]]
    flagged = [p for p in attack if p["fraud"]]
    assert flagged, f"no attack transaction flagged: {[round(p['probability'], 3) for p in attack]}"
    ordinary = [p for t, p in by_tid.items() if t not in set(run["attack"])]
    assert len(flagged) / len(attack) > sum(p["fraud"] for p in ordinary) / len(ordinary)
    # the attack's last transaction saw the whole burst in its 10-minute window
    last = max(attack, key=lambda p: p["trans_ts"])
    counts = [a.name for a in aggregates_of_kind("sliding") if a.function == "count"]
    assert all(last["features"][c] >= len(attack) for c in counts)


def test_cc_agg_fg_holds_each_cards_latest_window(run):
    expected = expected_windows(
        json.loads(encode_transaction(tx.tid, tx.cc_num, tx.amount, tx.event_ms)) for tx in run["good"]
    )
    assert set(run["online"]) == set(expected)
    for card, features in expected.items():
        record = run["online"][card]
        assert record, f"card {card} has no cc-agg-fg record"
        for name, value in features.items():
            assert math.isclose(float(record[name]), value, rel_tol=1e-9, abs_tol=1e-6), (
                card,
                name,
                record[name],
                value,
            )


def test_malformed_transactions_are_dead_lettered_by_the_engine_with_reasons(run):
    dead = {d["data"]: d["reason"] for d in run["engine_dead"]}
    assert len(run["engine_dead"]) == len(BAD_TRANSACTIONS)
    for payload, reason in BAD_TRANSACTIONS.items():
        assert dead[payload.decode()].startswith(reason) or reason in dead[payload.decode()], dead


def test_bad_records_reach_the_sqs_dead_letter_queue_with_reasons(run):
    import base64

    rejected = [m for m in run["dead_letters"] if m.get("disposition") == "rejected"]
    by_function: dict[str, set[bytes]] = {}
    for m in rejected:
        assert m["reason"], m
        by_function.setdefault(m["function"], set()).add(base64.b64decode(m["data"]))
    assert by_function == {"fraud-ingest": set(BAD_AGGREGATES), "fraud-score": set(BAD_AGGREGATES)}
    unknown = [m for m in run["dead_letters"] if m.get("disposition") == "scored"]
    assert len(unknown) == 1 and unknown[0]["function"] == "fraud-score"
    assert unknown[0]["reason"].startswith("unknown card") and str(UNKNOWN_CARD) in unknown[0]["reason"]
    assert json.loads(base64.b64decode(unknown[0]["data"]))["cc_num"] == UNKNOWN_CARD
    scored = [p for p in run["predictions"] if p["cc_num"] == UNKNOWN_CARD]
    assert scored and all("unknown_card" in p["caveats"] for p in scored)


def test_nothing_is_dropped_silently(run):
    for function, stats in run["esm"].items():
        assert stats["records_in"] == stats["processed"] + stats["dead_lettered"], (function, stats)
        assert stats["records_in"] >= len(run["good"]) + len(BAD_AGGREGATES), (function, stats)


def test_destroy_leaves_nothing_so_the_next_run_starts_clean(terraform, outputs, boto):
    terraform.destroy()
    terraform.destroyed = True
    assert leftovers(boto, PREFIX) == {"streams": [], "queues": [], "buckets": [], "log groups": []}
