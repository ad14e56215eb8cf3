"""LocalStack itself: healthy, loopback only, idempotent start, Kinesis through the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from features.codec import parse_transaction
from profiles import localstack_server as localstack

pytestmark = pytest.mark.integration


def test_gateway_reports_every_service_the_profile_uses(localstack_endpoint):
    status = localstack.health()
    assert localstack.ready(status), status


def test_nothing_it_started_listens_beyond_loopback(localstack_endpoint):
    pid = localstack.read_pid(localstack.PID_FILE)
    if pid is None:
        pytest.skip(
            "LocalStack was started outside this project (container or another process): its sockets are not ours"
        )
    addresses = localstack.listening_sockets(localstack.descendants(pid))
    assert f"{localstack.HOST}:{localstack.PORT}" in addresses
    assert len(addresses) >= 2, "kinesis-local should be up (the fixture warms it)"
    assert localstack.non_loopback(addresses) == []


def test_kinesis_local_carries_every_patch(localstack_endpoint):
    if localstack.read_pid(localstack.PID_FILE) is None:
        pytest.skip("LocalStack was started outside this project: its kinesis-local is not ours")
    scripts = localstack.kinesis_main_js()
    assert scripts, "kinesis-local is not installed under .localstack/"
    for main_js in scripts:
        text = main_js.read_text()
        for patch in localstack.KINESIS_PATCHES:
            assert patch.before not in text and patch.after in text, patch.why
        assert localstack.patch_kinesis(main_js) == []  # idempotent


def test_put_records_spread_over_shards_lands_once_each_in_order(localstack_endpoint, boto):
    """The PutRecords patch groups records by shard: every record on its own shard, once, in order."""
    kinesis = boto("kinesis")
    stream = "it-put-records-shards"
    kinesis.create_stream(StreamName=stream, ShardCount=3)
    try:
        kinesis.get_waiter("stream_exists").wait(
            StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        keys = [f"card-{i}" for i in range(1200)]
        acknowledged: dict[str, str] = {}
        for start in range(0, len(keys), 400):
            batch = keys[start : start + 400]
            out = kinesis.put_records(
                StreamName=stream, Records=[{"Data": k.encode(), "PartitionKey": k} for k in batch]
            )
            assert out["FailedRecordCount"] == 0
            acknowledged |= {k: r["ShardId"] for k, r in zip(batch, out["Records"], strict=True)}
        by_shard: dict[str, list[str]] = {}
        for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            by_shard[shard["ShardId"]] = [
                r["Data"].decode()
                for r in kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
            ]
        assert len([s for s in by_shard.values() if s]) == 3, {k: len(v) for k, v in by_shard.items()}
        for shard, data in by_shard.items():
            assert data == [k for k in keys if acknowledged[k] == shard]  # each once, in write order
    finally:
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)


def test_up_again_is_a_no_op(localstack_endpoint):
    again = localstack.up()
    assert again.already_running
    assert again.seconds == 0.0


def test_simulator_writes_to_localstack_kinesis(localstack_endpoint, boto, tmp_path):
    kinesis = boto("kinesis")
    stream = "it-simulator-roundtrip"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    try:
        kinesis.get_waiter("stream_exists").wait(
            StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        history = tmp_path / "history.parquet"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "simulator",
                "generate",
                "--cards",
                "20",
                "--transactions",
                "200",
                "--start",
                "2020-01-01",
                "--end",
                "2020-01-08",
                "--seed",
                "3",
                "--out",
                str(history),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "simulator",
                "stream",
                "--rate",
                "200",
                "--count",
                "60",
                "--seed",
                "3",
                "--cards-from",
                str(history),
                "--endpoint-url",
                localstack_endpoint,
                "--region",
                localstack.REGION,
                "--stream",
                stream,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **localstack.client_environment()},
        )
        assert done.returncode == 0, done.stderr
        shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        parsed = [parse_transaction(r["Data"]) for r in records]
        assert len(parsed) == 60
        assert len({p["tid"] for p in parsed}) == 60
        assert all(r["PartitionKey"] == str(json.loads(r["Data"])["cc_num"]) for r in records)
    finally:
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
