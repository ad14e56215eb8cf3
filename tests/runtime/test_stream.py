"""Kinesis semantics of the embedded stream: routing, sequence numbers, iterators, retention, limits."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from local_aws.stream import LocalKinesis

SHARD0, SHARD1 = "shardId-000000000000", "shardId-000000000001"


def read_all(kinesis, stream, shard, **iterator):
    it = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard, **(iterator or {"ShardIteratorType": "TRIM_HORIZON"})
    )
    records, it = [], it["ShardIterator"]
    while True:
        page = kinesis.get_records(ShardIterator=it, Limit=3)
        records += page["Records"]
        it = page["NextShardIterator"]
        if not page["Records"]:
            return records


def test_records_go_to_the_shard_whose_hash_range_holds_md5_of_the_partition_key(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=4)
    shards = kinesis.list_shards(StreamName="s")["Shards"]
    keys = [f"card-{i}" for i in range(40)]
    response = kinesis.put_records(StreamName="s", Records=[{"Data": k, "PartitionKey": k} for k in keys])
    assert response["FailedRecordCount"] == 0
    for key, result in zip(keys, response["Records"], strict=True):
        h = int(hashlib.md5(key.encode()).hexdigest(), 16)
        owner = next(
            s["ShardId"]
            for s in shards
            if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"])
        )
        assert result["ShardId"] == owner
    # the ranges tile the 128-bit space
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert int(shards[-1]["HashKeyRange"]["EndingHashKey"]) == 2**128 - 1
    assert len({r["ShardId"] for r in response["Records"]}) == 4


def test_sequence_numbers_increase_per_shard_and_reads_keep_the_order(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    seqs = [
        kinesis.put_record(StreamName="s", Data=f"r{i}", PartitionKey="k")["SequenceNumber"] for i in range(5)
    ]
    seqs += [
        r["SequenceNumber"]
        for r in kinesis.put_records(
            StreamName="s", Records=[{"Data": f"r{i}", "PartitionKey": str(i)} for i in range(5, 10)]
        )["Records"]
    ]
    assert all(isinstance(s, str) for s in seqs)
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs) and len(set(seqs)) == 10
    records = read_all(kinesis, "s", SHARD0)
    assert [r["Data"] for r in records] == [f"r{i}".encode() for i in range(10)]
    assert [r["SequenceNumber"] for r in records] == seqs
    assert all(r["ApproximateArrivalTimestamp"].tzinfo is not None for r in records)


def test_iterator_types(kinesis, clock):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    first = [
        kinesis.put_record(StreamName="s", Data=f"a{i}", PartitionKey="k")["SequenceNumber"] for i in range(3)
    ]
    latest = kinesis.get_shard_iterator(StreamName="s", ShardId=SHARD0, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    clock.advance(10)
    later = [
        kinesis.put_record(StreamName="s", Data=f"b{i}", PartitionKey="k")["SequenceNumber"] for i in range(2)
    ]

    def data(**kw):
        return [r["Data"].decode() for r in read_all(kinesis, "s", SHARD0, **kw)]

    assert data(ShardIteratorType="TRIM_HORIZON") == ["a0", "a1", "a2", "b0", "b1"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == [b"b0", b"b1"]
    assert data(ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=first[1]) == [
        "a1",
        "a2",
        "b0",
        "b1",
    ]
    assert data(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=first[1]) == [
        "a2",
        "b0",
        "b1",
    ]
    assert data(ShardIteratorType="AT_TIMESTAMP", Timestamp=datetime.fromtimestamp(clock.now, UTC)) == [
        "b0",
        "b1",
    ]
    assert data(ShardIteratorType="AT_TIMESTAMP", Timestamp=clock.now + 1) == []
    assert later[0] > first[-1]


def test_get_records_limit_next_iterator_and_millis_behind(kinesis, clock):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.put_records(StreamName="s", Records=[{"Data": str(i), "PartitionKey": "k"} for i in range(5)])
    clock.advance(3)
    it = kinesis.get_shard_iterator(StreamName="s", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    page = kinesis.get_records(ShardIterator=it, Limit=2)
    assert [r["Data"] for r in page["Records"]] == [b"0", b"1"]
    assert page["MillisBehindLatest"] == 3000  # more records wait behind this page
    page = kinesis.get_records(ShardIterator=page["NextShardIterator"], Limit=10)
    assert [r["Data"] for r in page["Records"]] == [b"2", b"3", b"4"]
    assert page["MillisBehindLatest"] == 0
    empty = kinesis.get_records(ShardIterator=page["NextShardIterator"])
    assert empty["Records"] == [] and empty["NextShardIterator"]


def test_iterators_expire_after_five_minutes(kinesis, clock):
    kinesis.create_stream(StreamName="s")
    it = kinesis.get_shard_iterator(StreamName="s", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    clock.advance(301)
    with pytest.raises(kinesis.exceptions.ExpiredIteratorException):
        kinesis.get_records(ShardIterator=it)


def test_retention_trims_records_older_than_the_period(kinesis, clock):
    kinesis.create_stream(StreamName="s")
    kinesis.put_record(StreamName="s", Data="old", PartitionKey="k")
    clock.advance(23 * 3600)
    kinesis.put_record(StreamName="s", Data="new", PartitionKey="k")
    assert kinesis.trim("s") == 0
    clock.advance(2 * 3600)  # "old" is now 25 h old, "new" 2 h
    assert kinesis.trim("s") == 1
    assert [r["Data"] for r in read_all(kinesis, "s", SHARD0)] == [b"new"]
    kinesis.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
    assert (
        kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["RetentionPeriodHours"]
        == 48
    )
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.decrease_stream_retention_period(StreamName="s", RetentionPeriodHours=12)


def test_put_records_answers_per_record_with_throttled_entries(tmp_path, clock):
    kinesis = LocalKinesis(tmp_path, clock=clock, shard_write_limit=3)
    kinesis.create_stream(StreamName="s")
    response = kinesis.put_records(
        StreamName="s", Records=[{"Data": str(i), "PartitionKey": "k"} for i in range(5)]
    )
    assert response["FailedRecordCount"] == 2
    assert [("SequenceNumber" in r) for r in response["Records"]] == [True, True, True, False, False]
    assert response["Records"][3]["ErrorCode"] == "ProvisionedThroughputExceededException"
    clock.advance(1)
    retry = kinesis.put_records(
        StreamName="s", Records=[{"Data": str(i), "PartitionKey": "k"} for i in (3, 4)]
    )
    assert retry["FailedRecordCount"] == 0
    assert [r["Data"] for r in read_all(kinesis, "s", SHARD0)] == [b"0", b"1", b"2", b"3", b"4"]


def test_errors_are_client_errors_with_kinesis_codes(kinesis):
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.put_record(StreamName="missing", Data="x", PartitionKey="k")
    kinesis.create_stream(StreamName="s", ShardCount=2)
    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(kinesis.exceptions.ValidationException):
        kinesis.put_records(StreamName="s", Records=[{"Data": "x", "PartitionKey": "k"}] * 501)
    with pytest.raises(kinesis.exceptions.ValidationException):
        kinesis.put_record(StreamName="s", Data="x", PartitionKey="")
    seq = kinesis.put_record(StreamName="s", Data="x", PartitionKey="k", ExplicitHashKey="0")[
        "SequenceNumber"
    ]
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_shard_iterator(
            StreamName="s", ShardId=SHARD1, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq
        )
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator="not-an-iterator")


def test_a_writer_process_and_a_reader_share_the_stream(tmp_path):
    root = tmp_path / "streams"
    LocalKinesis(root).create_stream(StreamName="s")
    writer = (
        "import sys; from local_aws.stream import LocalKinesis; k = LocalKinesis(sys.argv[1])\n"
        "for b in range(4):\n"
        "    k.put_records(StreamName='s', Records=[{'Data': f'{b}-{i}', 'PartitionKey': 'k'} for i in range(250)])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", writer, str(root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    reader = LocalKinesis(root)
    records = read_all(reader, "s", SHARD0)
    assert len(records) == 1000
    assert records[0]["Data"] == b"0-0" and records[-1]["Data"] == b"3-249"


def test_reads_start_inside_a_call_and_span_calls_and_shards(kinesis, clock):
    """A PutRecords call is stored as one batch per shard: reads start and stop anywhere inside one."""
    kinesis.create_stream(StreamName="s", ShardCount=2)
    sent: dict[str, list[tuple[str, str]]] = {SHARD0: [], SHARD1: []}
    for call in range(4):
        records = [{"Data": f"{call}-{i}", "PartitionKey": f"key-{call}-{i}"} for i in range(7)]
        for record, result in zip(
            records, kinesis.put_records(StreamName="s", Records=records)["Records"], strict=True
        ):
            sent[result["ShardId"]].append((result["SequenceNumber"], record["Data"]))
        clock.advance(1)
    assert sent[SHARD0] and sent[SHARD1]
    assert kinesis.record_count("s") == 28
    for shard, expected in sent.items():
        assert [(r["SequenceNumber"], r["Data"].decode()) for r in read_all(kinesis, "s", shard)] == expected
        for k, (seq, _) in enumerate(expected):
            at = read_all(
                kinesis, "s", shard, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq
            )
            assert [r["SequenceNumber"] for r in at] == [s for s, _ in expected[k:]]
            after = read_all(
                kinesis, "s", shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seq
            )
            assert [r["SequenceNumber"] for r in after] == [s for s, _ in expected[k + 1 :]]


def test_a_stream_file_of_the_row_per_record_layout_is_refused_with_its_path(tmp_path, clock):
    import sqlite3

    from local_aws.stream import StreamFileError

    root = tmp_path / "streams"
    LocalKinesis(root, clock=clock).create_stream(StreamName="s")
    with sqlite3.connect(root / "s.kinesis.db") as db:  # the previous layout: one row per record
        db.executescript(
            "DROP TABLE batches; CREATE TABLE records (shard INTEGER NOT NULL, n INTEGER NOT NULL, "
            "pk TEXT NOT NULL, data BLOB NOT NULL, arrival REAL NOT NULL, PRIMARY KEY (shard, n)) WITHOUT ROWID;"
        )
    with pytest.raises(StreamFileError, match=r"s\.kinesis\.db: a stream file of an older layout"):
        LocalKinesis(root, clock=clock).put_record(StreamName="s", Data="r", PartitionKey="k")
