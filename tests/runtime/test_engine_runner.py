"""The engine as a durable process over streams: accounting, restart, crash recovery, SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from features.codec import encode_transaction
from jobs.local_engine.runner import EngineRunner, Streams
from jobs.local_engine.windows import run_engine
from local_aws.stream import LocalKinesis

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_589_536_800_000
STREAMS = Streams()


def payloads(n: int, seed: int = 1) -> list[str]:
    """n transactions on 50 cards, a little out of order, with duplicates, malformed and late records."""
    rng = random.Random(seed)
    out, t = [], T0
    for i in range(n):
        t += rng.randint(0, 900)
        jitter = rng.randint(0, 1500)  # within the out-of-orderness: on time
        out.append(
            encode_transaction(
                f"tid-{i}", 4000 + rng.randint(0, 49), round(rng.uniform(1, 900), 2), t - jitter
            ).decode()
        )
        if i % 97 == 0:
            out.append(out[-1])  # duplicate
        if i % 131 == 0:
            out.append('{"tid": "broken"')  # malformed
        if i % 173 == 0 and i:
            out.append(encode_transaction(f"late-{i}", 4000, 1.0, t - 60_000).decode())  # a minute late
    return out


def write(kinesis: LocalKinesis, records: list[str]) -> None:
    for start in range(0, len(records), 500):
        kinesis.put_records(
            StreamName=STREAMS.input,
            Records=[{"Data": r, "PartitionKey": str(i)} for i, r in enumerate(records[start : start + 500])],
        )


def read(kinesis: LocalKinesis, name: str) -> list[dict]:
    out = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while True:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            out += [json.loads(r["Data"]) for r in page["Records"]]
            it = page["NextShardIterator"]
            if not page["Records"]:
                break
    return out


@pytest.fixture
def streams(tmp_path):
    kinesis = LocalKinesis(tmp_path / "streams")
    kinesis.create_stream(StreamName=STREAMS.input, ShardCount=1)
    for name in (STREAMS.output, STREAMS.late, STREAMS.dead):
        kinesis.create_stream(StreamName=name, ShardCount=2)
    return kinesis


def count(root: Path, name: str) -> int:
    """Records in a local stream, straight from its file (cheap enough to poll)."""
    with sqlite3.connect(root / f"{name}.kinesis.db") as db:
        return db.execute("SELECT coalesce(SUM(count), 0) FROM batches").fetchone()[0]


def assert_exactly_once(kinesis: LocalKinesis, records: list[str]) -> None:
    """The output streams hold exactly what the core gives for the same input, each record once."""
    want_aggs, want_late, want_dead = run_engine(records)
    aggs = read(kinesis, STREAMS.output)
    assert Counter(a["tid"] for a in aggs).most_common(1)[0][1] == 1
    assert sorted(aggs, key=lambda a: a["tid"]) == sorted(want_aggs, key=lambda a: a["tid"])
    assert sorted(json.dumps(r) for r in read(kinesis, STREAMS.late)) == sorted(
        json.dumps(r) for r in want_late
    )
    dead = read(kinesis, STREAMS.dead)
    assert len(dead) == len(want_dead)
    assert len(records) == len(aggs) + len(read(kinesis, STREAMS.late)) + len(dead)  # records in = out


def test_runner_accounts_for_every_record(streams, tmp_path):
    records = payloads(3000)
    write(streams, records)
    runner = EngineRunner(streams, tmp_path / "state.db", STREAMS, batch_limit=700, idle_flush_s=0.0)
    runner.run(exit_when_idle_s=0.2)
    assert_exactly_once(streams, records)
    stats = runner.engine.stats
    assert (
        stats["in"] == len(records) == stats["aggregate"] + stats["late"] + stats["duplicate"] + stats["dead"]
    )
    assert stats["late"] > 0 and stats["duplicate"] > 0 and stats["dead"] > 0
    dead = [d for d in read(streams, STREAMS.dead) if "data" in d]
    assert all(d["reason"].startswith("not JSON") and d["shardId"] and d["sequenceNumber"] for d in dead)


def test_restart_resumes_where_the_checkpoint_left(streams, tmp_path):
    records = payloads(2000, seed=2)
    write(streams, records[:900])
    first = EngineRunner(streams, tmp_path / "state.db", STREAMS, batch_limit=300)
    first.run(exit_when_idle_s=0.1)  # no idle flush: the tail stays buffered in the checkpointed state
    assert first.engine.stats["pending"] > 0
    write(streams, records[900:])
    second = EngineRunner(streams, tmp_path / "state.db", STREAMS, batch_limit=300, idle_flush_s=0.0)
    assert second.recovered == 0
    second.run(exit_when_idle_s=0.1)
    assert_exactly_once(streams, records)


def test_a_crash_between_checkpoints_is_replayed_without_loss_or_duplicates(streams, tmp_path):
    records = payloads(3000, seed=3)
    write(streams, records)
    crashing = EngineRunner(
        streams, tmp_path / "state.db", STREAMS, batch_limit=400, checkpoint_interval_s=3600
    )
    for _ in range(4):
        crashing.step()  # outputs written, only the write-ahead log records the batches
    assert 0 < len(read(streams, STREAMS.output)) < 3000
    crashing.db.close()  # crash: the checkpoint in the database is the initial one
    survivor = EngineRunner(streams, tmp_path / "state.db", STREAMS, batch_limit=400, idle_flush_s=0.0)
    assert survivor.recovered == 1600
    survivor.run(exit_when_idle_s=0.1)
    assert_exactly_once(streams, records)


def test_sigkill_mid_stream_then_restart_loses_nothing_and_counts_nothing_twice(streams, tmp_path):
    records = payloads(16_000, seed=4)
    write(streams, records)
    root = tmp_path / "streams"
    # no periodic checkpoint before the kill: the restart must replay the logged batches and skip
    # the outputs already written (the path a kill between two checkpoints always takes)
    argv = [
        sys.executable,
        "-m",
        "jobs.local_engine",
        "--stream-dir",
        str(root),
        "--batch",
        "500",
        "--checkpoint-interval-s",
        "3600",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    engine = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while count(root, STREAMS.output) < 3000:
            assert engine.poll() is None, engine.stderr.read().decode()
            assert time.monotonic() < deadline, "the engine made no progress"
            time.sleep(0.02)
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == -signal.SIGKILL
    assert count(root, STREAMS.output) < 14_500  # killed mid-stream
    done = subprocess.run(
        [*argv, "--idle-flush-s", "0.2", "--exit-when-idle-s", "0.5"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "recovering: replaying" in done.stderr
    assert_exactly_once(streams, records)
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["in"] == len(records)


def test_several_input_shards_recover_to_the_same_outputs_as_an_uninterrupted_run(tmp_path):
    records = payloads(3000, seed=5)

    def fresh(name: str) -> LocalKinesis:
        kinesis = LocalKinesis(tmp_path / name)
        kinesis.create_stream(StreamName=STREAMS.input, ShardCount=3)
        for stream in (STREAMS.output, STREAMS.late, STREAMS.dead):
            kinesis.create_stream(StreamName=stream, ShardCount=2)
        write(kinesis, records)
        return kinesis

    steady = fresh("steady")
    EngineRunner(steady, tmp_path / "steady.db", STREAMS, batch_limit=300, idle_flush_s=0.0).run(
        exit_when_idle_s=0.1
    )

    crashed = fresh("crashed")
    first = EngineRunner(
        crashed, tmp_path / "crashed.db", STREAMS, batch_limit=300, checkpoint_interval_s=3600
    )
    for _ in range(5):
        first.step()
    first.db.close()
    second = EngineRunner(crashed, tmp_path / "crashed.db", STREAMS, batch_limit=300, idle_flush_s=0.0)
    assert second.recovered > 0
    second.run(exit_when_idle_s=0.1)

    for stream in (STREAMS.output, STREAMS.late, STREAMS.dead):
        assert Counter(json.dumps(r) for r in read(crashed, stream)) == Counter(
            json.dumps(r) for r in read(steady, stream)
        )
    aggregates = read(crashed, STREAMS.output)
    assert len(aggregates) == len({a["tid"] for a in aggregates}) > 2500


def test_checkpoints_are_paced_by_their_cost_and_skipped_while_nothing_changed(streams, tmp_path):
    runner = EngineRunner(streams, tmp_path / "state.db", STREAMS, batch_limit=200, checkpoint_interval_s=0.0)

    def saved() -> float:
        return runner.db.execute("SELECT created FROM checkpoint").fetchone()[0]

    initial = saved()
    runner.step()  # no input: nothing to save
    assert not runner.dirty and saved() == initial
    write(streams, payloads(600, seed=4))
    runner.checkpoint_cpu_s = 3600.0  # a checkpoint that costs an hour of CPU: not before 20 hours of work
    assert runner.step() == 200 and runner.dirty and saved() == initial and not runner.checkpoint_due()
    runner.checkpoint_cpu_s = 0.0  # a free one: due at once
    assert runner.checkpoint_due()
    runner.step()
    assert (
        not runner.dirty
        and saved() > initial
        and runner.db.execute("SELECT COUNT(*) FROM wal").fetchone()[0] == 0
    )


def test_the_engine_outputs_encode_to_the_same_bytes_each_time_and_decode_equal():
    """Recovery matches replayed outputs with written ones byte for byte: encoding a record must
    depend on its content alone, and the bytes decode as that record."""
    from features.codec import Aggregate, decode, encode

    aggregates, late, dead = run_engine(payloads(300, seed=5))
    again, _, _ = run_engine(payloads(300, seed=5))
    assert len(aggregates) > 200 and late and dead
    assert [encode(r) for r in aggregates] == [encode(dict(r)) for r in again]
    for record in aggregates + late + dead:
        assert json.loads(encode(record)) == record
    assert all(decode(encode(r), Aggregate).tid == r["tid"] for r in aggregates)
