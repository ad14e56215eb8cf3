"""clients/: the one client factory (configured by environment, CLI flags standing for it) and the one
shard reader the engine and the event source mapping share (positions, expired iterators, idle pace)."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime

import pytest

from clients import factory
from clients.kinesis import IDLE_AFTER_S, IDLE_POLL_S, IdlePace, ShardReader, poll_wait_s, shard_readers
from features.codec import encode_transaction
from jobs.local_engine.runner import EngineRunner, Streams
from local_aws.event_source_mapping import EsmRunner, EventSourceMapping
from local_aws.stream import ITERATOR_TTL_S, LocalKinesis, shard_id

SHARD0 = shard_id(0)
T0 = 1_589_536_800_000


def put(kinesis: LocalKinesis, stream: str, values: range) -> None:
    kinesis.put_records(
        StreamName=stream, Records=[{"Data": json.dumps(v), "PartitionKey": "p"} for v in values]
    )


def values(records: list[dict]) -> list[int]:
    return [json.loads(r["Data"]) for r in records]


# ------------------------------------------------------------------------------------ ShardReader


def test_a_reader_starts_where_it_is_told_and_keeps_its_place(kinesis, clock):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    put(kinesis, "s", range(5))
    clock.advance(10)
    put(kinesis, "s", range(5, 8))
    reader = ShardReader(kinesis, "s", SHARD0)
    assert values(reader.read(3)["Records"]) == [0, 1, 2]
    assert values(list(reader.read_available())) == [3, 4, 5, 6, 7]
    seq = ShardReader(kinesis, "s", SHARD0).read(3)["Records"][2]["SequenceNumber"]
    assert values(list(ShardReader(kinesis, "s", SHARD0, after=seq).read_available())) == [3, 4, 5, 6, 7]
    at = ShardReader(kinesis, "s", SHARD0, start="AT_SEQUENCE_NUMBER", sequence=seq)
    assert values(at.read(1)["Records"]) == [2]
    since = datetime.fromtimestamp(clock() - 5, UTC)
    assert values(
        list(ShardReader(kinesis, "s", SHARD0, start="AT_TIMESTAMP", timestamp=since).read_available())
    ) == [5, 6, 7]
    latest = ShardReader(kinesis, "s", SHARD0, start="LATEST")
    latest.open()  # the position is taken now, not at the first read
    put(kinesis, "s", range(8, 10))
    assert values(list(latest.read_available())) == [8, 9]
    with pytest.raises(ValueError, match="needs a sequence number"):
        ShardReader(kinesis, "s", SHARD0, start="AT_SEQUENCE_NUMBER")


def test_an_expired_iterator_is_taken_again_after_the_last_record_read(kinesis, clock):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    put(kinesis, "s", range(6))
    reader = ShardReader(kinesis, "s", SHARD0)
    assert values(reader.read(4)["Records"]) == [0, 1, 2, 3]
    clock.advance(ITERATOR_TTL_S + 1)
    stale = reader.iterator
    with pytest.raises(kinesis.exceptions.ExpiredIteratorException):
        kinesis.get_records(ShardIterator=stale, Limit=1)
    put(kinesis, "s", range(6, 8))
    assert values(list(reader.read_available())) == [4, 5, 6, 7]  # nothing skipped, nothing twice


def test_shard_readers_cover_every_shard(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=3)
    kinesis.put_records(
        StreamName="s", Records=[{"Data": json.dumps(i), "PartitionKey": str(i)} for i in range(60)]
    )
    readers = shard_readers(kinesis, "s")
    assert [r.shard_id for r in readers] == [shard_id(i) for i in range(3)]
    assert sorted(v for r in readers for v in values(list(r.read_available()))) == list(range(60))


def test_readers_of_a_quiet_stream_poll_less_often():
    assert poll_wait_s(0.005, 0.0) == poll_wait_s(0.005, IDLE_AFTER_S - 0.01) == 0.005  # traffic
    assert poll_wait_s(0.005, IDLE_AFTER_S) == IDLE_POLL_S > 0.005  # quiet: fewer wakeups
    assert poll_wait_s(0.2, 60.0) == 0.2  # never faster than asked


def test_a_loop_slows_down_only_after_its_traffic_went_quiet(clock):
    pace = IdlePace(0.005, clock)
    clock.advance(60)
    assert pace.wait_s() == 0.005  # before the first records: the first ones are not delayed
    pace.records()
    assert pace.idle_s() == 0 and pace.wait_s() == 0.005
    clock.advance(IDLE_AFTER_S)
    assert pace.wait_s() == IDLE_POLL_S
    assert pace.wait_s(holds=True) == 0.005  # work due on a clock keeps the poll's pace


# ------------------------------------------------------------- the engine and the mapping on it


def test_the_engine_reads_on_after_its_iterator_expired(tmp_path, clock):
    kinesis = LocalKinesis(tmp_path / "streams", clock=clock)
    streams = Streams()
    for name in (streams.input, streams.output, streams.late, streams.dead):
        kinesis.create_stream(StreamName=name, ShardCount=1)

    def send(first: int, count: int) -> None:
        kinesis.put_records(
            StreamName=streams.input,
            Records=[
                {"Data": encode_transaction(f"t{i}", 4000 + i % 5, 1.0, T0 + i * 1000), "PartitionKey": "p"}
                for i in range(first, first + count)
            ],
        )

    runner = EngineRunner(kinesis, tmp_path / "state.db", streams, batch_limit=10, clock=clock)
    send(0, 15)
    assert runner.step() == 10
    clock.advance(ITERATOR_TTL_S + 1)
    send(15, 5)
    assert runner.step() == 10
    assert runner.step() == 0  # 20 read: none skipped, none twice
    newest = list(ShardReader(kinesis, streams.input, SHARD0).read_available())[-1]["SequenceNumber"]
    assert runner.cp.positions[SHARD0] == runner.readers[SHARD0].after == newest


def test_the_mapping_reads_on_after_its_iterator_expired(kinesis, clock, tmp_path):
    kinesis.create_stream(StreamName="in", ShardCount=1)
    put(kinesis, "in", range(5))
    got: list[int] = []

    def handler(event, context):
        got.extend(json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"])

    mapping = EventSourceMapping(function_name="fn", stream_name="in", batch_size=3)
    runner = EsmRunner(mapping, kinesis, handler, tmp_path / "esm.json", clock=clock)
    assert runner.poll_once() == 3
    clock.advance(ITERATOR_TTL_S + 1)
    put(kinesis, "in", range(5, 7))
    while runner.poll_once():
        pass
    assert got == list(range(7))
    # a new mapping resumes after its checkpoint, with the same reader
    put(kinesis, "in", range(7, 9))
    again = EsmRunner(mapping, kinesis, handler, tmp_path / "esm.json", clock=clock)
    while again.poll_once():
        pass
    assert got == list(range(9))


# ---------------------------------------------------------------------------------- the factory


def test_settings_configure_the_client_and_the_environment_is_restored(tmp_path, monkeypatch):
    monkeypatch.delenv(factory.CLIENT_FACTORY_ENV, raising=False)
    monkeypatch.setenv(factory.LOCAL_STREAMS_DIR_ENV, "elsewhere")
    settings = factory.kinesis_settings(tmp_path / "streams")
    assert settings == {
        factory.CLIENT_FACTORY_ENV: factory.LOCAL_CLIENT_FACTORY,
        factory.LOCAL_STREAMS_DIR_ENV: str(tmp_path / "streams"),
    }
    local = factory.client("kinesis", settings)
    assert isinstance(local, LocalKinesis) and local.root == tmp_path / "streams"
    assert factory.CLIENT_FACTORY_ENV not in os.environ
    assert os.environ[factory.LOCAL_STREAMS_DIR_ENV] == "elsewhere"
    endpoint = factory.kinesis_settings(endpoint_url="http://127.0.0.1:1", region="eu-west-1")
    assert endpoint == {
        "AWS_DEFAULT_REGION": "eu-west-1",
        factory.CLIENT_FACTORY_ENV: "",
        "AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:1",
    }
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    boto = factory.client("kinesis", endpoint)
    assert boto.meta.endpoint_url == "http://127.0.0.1:1" and boto.meta.region_name == "eu-west-1"


def test_the_factory_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(factory.CLIENT_FACTORY_ENV, factory.LOCAL_CLIENT_FACTORY)
    monkeypatch.setenv(factory.LOCAL_DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(factory.LOCAL_STREAMS_DIR_ENV, raising=False)
    assert factory.client("kinesis").root == tmp_path / "streams"
    assert factory.client("kinesis") is factory.client("kinesis")  # one per process, as a warm Lambda's
    monkeypatch.setenv(factory.CLIENT_FACTORY_ENV, "no.such.module:client")
    with pytest.raises(ImportError):
        factory.client("kinesis")
