"""python -m simulator stream: pacing, PutRecords batching within Kinesis's limits, retry of failed records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clients.kinesis import PutRecordsError, chunks, put_chunk
from features.codec import parse_transaction
from simulator.__main__ import main, parser
from simulator.generate import generate, write
from simulator.stream import (
    ATTACK_TRANSACTIONS,
    Tx,
    TxFactory,
    _linger_s,
    attack_scenario,
    history_transactions,
    read_history,
    replay_schedule,
    send,
)
from tests.functions.fakes import FakeKinesis


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now, self.sleeps = now, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def txs(n: int, card: int = 4000000000000001, step_ms: int = 1) -> list[Tx]:
    return [Tx(f"t{i}", card + i % 7, 10.0 + i, 1_589_536_800_000 + i * step_ms) for i in range(n)]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.parquet"
    from datetime import UTC, datetime

    write(
        generate(
            cards=20,
            transactions=400,
            start=datetime(2020, 1, 1, tzinfo=UTC),
            end=datetime(2020, 1, 3, tzinfo=UTC),
            seed=3,
        ),
        path,
    )
    return path


def test_puts_due_transactions_in_calls_of_at_most_500_records() -> None:
    # GIVEN 1,201 transactions all due now
    clock, sink = FakeClock(), FakeKinesis()
    # WHEN they are sent
    report = send(
        replay_schedule(txs(1201), speed=0, start_s=0), sink, "transactions", clock=clock, sleep=clock.sleep
    )
    # THEN three PutRecords calls of 500, 500 and 201, every record once, keyed by card, in order
    assert [len(c) for c in sink.calls] == [500, 500, 201]
    assert [parse_transaction(r["Data"])["tid"] for r in sink.records] == [f"t{i}" for i in range(1201)]
    assert all(r["PartitionKey"] == str(json.loads(r["Data"])["cc_num"]) for r in sink.records)
    assert (report.sent, report.put.calls, report.put.retried) == (1201, 3, 0)


def test_splits_calls_at_5_mib() -> None:
    # GIVEN 12 records of 1 MiB - 100 bytes each WHEN chunked THEN at most 5 MiB (payload + keys) per call
    entries = [{"Data": b"x" * (1024 * 1024 - 100), "PartitionKey": "k"} for _ in range(12)]
    assert [len(c) for c in chunks(entries)] == [5, 5, 2]
    with pytest.raises(ValueError, match="exceeds Kinesis's 1 MiB limit"):
        list(chunks([{"Data": b"x" * (1024 * 1024), "PartitionKey": "k"}]))


def test_resends_only_the_throttled_records_with_backoff() -> None:
    # GIVEN a stream that throttles two cards' records twice each
    sink = FakeKinesis(fail_keys={"4000000000000001", "4000000000000003"}, failures=2)
    sleeps: list[float] = []
    # WHEN one chunk is put
    stats = put_chunk(
        sink, "transactions", [t.entry() for t in txs(7)], sleep=sleeps.append, base_delay_s=0.01
    )
    # THEN the failed entries alone are resent, with doubling delays, until all land exactly once
    assert [len(c) for c in sink.calls] == [7, 2, 2]
    assert sleeps == [0.01, 0.02]
    assert sorted(parse_transaction(r["Data"])["tid"] for r in sink.records) == [f"t{i}" for i in range(7)]
    assert (stats.calls, stats.retried) == (3, 4)


def test_gives_up_with_a_clear_error_when_records_never_land() -> None:
    sink = FakeKinesis(fail_keys={"4000000000000001"}, failures=99)
    with pytest.raises(
        PutRecordsError,
        match=r"1 record\(s\) not written to transactions after 3 attempts: "
        r"\['ProvisionedThroughputExceededException'\]",
    ):
        put_chunk(sink, "transactions", [t.entry() for t in txs(2)], attempts=3, sleep=lambda s: None)


def test_replay_paces_by_event_time_over_the_speed_factor() -> None:
    # GIVEN three transactions 10 s apart in event time, replayed at 10x
    clock, sink = FakeClock(), FakeKinesis()
    # WHEN sent
    send(
        replay_schedule(txs(3, step_ms=10_000), speed=10, start_s=clock()),
        sink,
        "transactions",
        clock=clock,
        sleep=clock.sleep,
    )
    # THEN one call per transaction, 1 s apart, with the file's event times untouched
    assert clock.sleeps == [1.0, 1.0] and [len(c) for c in sink.calls] == [1, 1, 1]
    assert [parse_transaction(r["Data"])["event_ms"] for r in sink.records] == [
        1_589_536_800_000 + i * 10_000 for i in range(3)
    ]


def test_a_run_is_bounded_by_count_and_by_duration() -> None:
    clock, sink = FakeClock(), FakeKinesis()
    assert (
        send(replay_schedule(txs(50), 0, 0), sink, "s", count=20, clock=clock, sleep=clock.sleep).sent == 20
    )
    clock2, sink2 = FakeClock(), FakeKinesis()
    report = send(
        replay_schedule(txs(50, step_ms=1000), 1, clock2()),
        sink2,
        "s",
        duration_s=9.5,
        clock=clock2,
        sleep=clock2.sleep,
    )
    assert report.sent == 10  # due at 0..9 s


def test_attack_scenario_is_three_ordinary_cards_then_ten_quick_transactions_on_a_fourth() -> None:
    factory = TxFactory(list(range(4000000000000001, 4000000000000011)), np.random.default_rng(1))
    steps = attack_scenario(factory, start_s=100.0, background_rate=0)
    ordinary = [tx for _, tx in steps if not tx.fraud]
    attack = [tx for _, tx in steps if tx.fraud]
    assert len({tx.cc_num for tx in ordinary}) == 3 and len(ordinary) == 6
    assert len(attack) == ATTACK_TRANSACTIONS and len({tx.cc_num for tx in attack}) == 1
    assert attack[0].cc_num not in {tx.cc_num for tx in ordinary}
    assert max(tx.event_ms for tx in ordinary) < min(tx.event_ms for tx in attack)  # the attack comes last
    assert attack[-1].event_ms - attack[0].event_ms <= 10_000  # quick: all within the 10-minute window
    assert len({tx.tid for _, tx in steps}) == len(steps)
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)


def test_background_traffic_uses_other_cards_without_repeating_one() -> None:
    # GIVEN 100 cards and 2 background transactions per second over the scenario's 11 s (6 + 2 + 3 tail)
    factory = TxFactory(list(range(4000000000000001, 4000000000000101)), np.random.default_rng(2))
    txs = [tx for _, tx in attack_scenario(factory, start_s=0.0, background_rate=2.0, tail_s=3.0)]
    # THEN the ordinary cards (2 transactions each) and the attacked card are the only repeated cards
    counts = {c: sum(1 for t in txs if t.cc_num == c) for c in {t.cc_num for t in txs}}
    assert sorted(n for n in counts.values() if n > 1) == [2, 2, 2, ATTACK_TRANSACTIONS]
    assert sum(1 for n in counts.values() if n == 1) == 22


def test_reads_parquet_and_the_seed_csv_layout_alike(history: Path, tmp_path: Path) -> None:
    csv = write(read_parquet_as_generated(history), tmp_path / "history.csv")
    a, b = list(history_transactions(read_history(history))), list(history_transactions(read_history(csv)))
    assert a == b and len(a) == 400
    assert [t.event_ms for t in a] == sorted(t.event_ms for t in a)


def read_parquet_as_generated(path: Path):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def test_cli_streams_the_attack_scenario_to_the_local_stream(history: Path, tmp_path: Path, capsys) -> None:
    from local_aws.stream import LocalKinesis

    streams = tmp_path / "streams"
    LocalKinesis(root=str(streams)).create_stream(StreamName="transactions", ShardCount=1)
    # WHEN the CLI runs the scenario without background traffic
    code = main(
        [
            "stream",
            "--scenario",
            "attack",
            "--cards-from",
            str(history),
            "--background-rate",
            "0",
            "--local",
            str(streams),
            "--stream",
            "transactions",
        ]
    )
    # THEN 16 transactions are on the stream, valid on the wire, and the CLI says so in one line
    assert code == 0
    assert capsys.readouterr().out.startswith("sent 16 transactions to transactions in ")
    kinesis = LocalKinesis(root=str(streams))
    shard = kinesis.list_shards(StreamName="transactions")["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(
        StreamName="transactions", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    records = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert len([parse_transaction(r["Data"]) for r in records]) == 16


@pytest.mark.parametrize(
    "argv, message",
    [
        (["stream", "--rate", "10"], "error: --cards-from HISTORY is required with --rate or --scenario\n"),
        (
            ["stream", "--replay", "/nonexistent.parquet", "--local", "x"],
            "error: history file not found: /nonexistent.parquet\n",
        ),
        (["stream", "--rate", "-1", "--cards-from", "HISTORY"], "error: --rate must be > 0\n"),
        (
            ["stream", "--rate", "10", "--cards-from", "HISTORY", "--linger-ms", "-5"],
            "error: --linger-ms must be 0..60000\n",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors(
    argv: list[str], message: str, history: Path, tmp_path: Path, capsys
) -> None:
    argv = [str(history) if a == "HISTORY" else a for a in argv]
    assert main([*argv, "--local", str(tmp_path)] if "--local" not in argv else argv) == 2
    assert capsys.readouterr().err == message


def test_cli_reports_an_unreachable_kinesis_endpoint_in_one_line(history: Path, capsys, monkeypatch) -> None:
    # GIVEN a Kinesis endpoint where nothing listens WHEN the CLI sends THEN one error line, exit code 1
    argv = [
        "stream",
        "--scenario",
        "attack",
        "--cards-from",
        str(history),
        "--background-rate",
        "0",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
        "--stream",
        "transactions",
    ]
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write to stream transactions: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, linger_s",
    [
        (["--local", "streams"], 0.005),  # an insert per batch: batch little, stay fast
        (["--endpoint-url", "http://127.0.0.1:4566"], 0.1),  # a call per batch: wait as the KPL does
        (["--endpoint-url", "http://127.0.0.1:4566", "--linger-ms", "0"], 0.0),
    ],
)
def test_linger_defaults_to_the_cost_of_a_call(argv: list[str], linger_s: float) -> None:
    args = parser().parse_args(["stream", "--rate", "10", "--cards-from", "h.parquet", *argv])
    assert _linger_s(args) == linger_s


def test_entries_and_tids_are_the_reference_functions_bytes() -> None:
    """Tx.entry carries the transaction record (features/codec.py) and TxFactory's tids are tid_of's,
    for awkward tids, amounts and times too."""
    from datetime import UTC, datetime

    from features.codec import Transaction, decode
    from features.records import format_ts
    from simulator.generate import tid_of

    odd = [
        Tx('q"uote\\back', 4000000000000001, 0.1 + 0.2, 0),
        Tx("ünï\u2028code", 1, 1e-7, 1_589_536_800_999),
        Tx("t", 4000000000000002, 12345.67, 1_893_456_000_001),
        *txs(50, step_ms=86_399_999),
    ]
    for tx in odd:
        entry = tx.entry()
        assert entry["PartitionKey"] == str(tx.cc_num)
        assert decode(entry["Data"], Transaction) == Transaction(
            tid=tx.tid, cc_num=tx.cc_num, amount=tx.amount, trans_ts=format_ts(tx.event_ms)
        )
    factory = TxFactory([4000000000000001, 4000000000000002], np.random.default_rng(5))
    made = [factory.make(1_589_536_800_000 + i * 37_013) for i in range(300)]
    made += [
        factory.make(1_589_536_800_000, card=4000000000000001) for _ in range(30)
    ]  # collisions: cents move
    assert len({tx.tid for tx in made}) == len(made)
    for tx in made:
        assert tx.tid == tid_of(datetime.fromtimestamp(tx.event_ms / 1000, tz=UTC), tx.cc_num, tx.amount)


def test_without_stream_the_name_comes_from_the_deployment_output_not_a_constant(
    history: Path, tmp_path: Path, capsys
) -> None:
    # GIVEN a root with no deployment output WHEN the CLI is not told the stream THEN it says so in one line
    argv = ["stream", "--scenario", "attack", "--cards-from", str(history), "--root", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "deployment" in err and "--stream" in err and err.count("\n") == 1
