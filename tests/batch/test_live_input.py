"""--live: the transactions the stream carried, archived by Firehose, added to the labelled history.

A transaction's features must not depend on where the job read it: the history's last days given as
the live archive (unlabeled, with the archive's malformed lines, invalid records and re-delivered
duplicates) yield the same features, snapshots and online rows as the whole history given labelled.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.codec import encode_transaction
from features.definition import AGGREGATES, RATIOS, SOURCE
from jobs.aggregate import JobError, run
from jobs.training.splits import split
from simulator.generate import generate, write
from tests.batch.histories import deliver

LIVE_FROM = datetime(2020, 2, 12, tzinfo=UTC)  # the history's last three days go to the live archive
FEATURES = [a.name for a in AGGREGATES] + [r.name for r in RATIOS]
# What the archive also holds: a line that is not JSON, records the stream dead-letters.
BAD_LINES = [
    b"not json",
    json.dumps({"tid": "no-time", "cc_num": 4000000000000001, "amount": 1.0}).encode(),
    json.dumps(
        {"tid": "neg", "trans_ts": "2020-02-13T00:00:00.000Z", "cc_num": 4000000000000001, "amount": -3}
    ).encode(),
]


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    """(whole history, its labelled part, the live archive of the rest, live transaction count)."""
    tmp = tmp_path_factory.mktemp("live")
    table = generate(
        cards=200,
        transactions=20_000,
        start=datetime(2020, 1, 1),
        end=datetime(2020, 2, 15),
        fraud_ratio=0.01,
        seed=5,
    )
    whole = write(table, tmp / "whole.parquet")
    is_live = pc.greater_equal(table.column(SOURCE.event_time), LIVE_FROM)
    labelled = write(table.filter(pc.invert(is_live)), tmp / "history.parquet")
    live = table.filter(is_live).to_pylist()
    records = [
        encode_transaction(r["tid"], r["cc_num"], r["amount"], int(r["trans_ts"].timestamp() * 1000))
        for r in live
    ]
    # Two deliveries on two days; the second re-delivers the first's last 50 records (at least once).
    half = len(records) // 2
    archive = deliver(tmp / "transactions", records[:half], datetime(2020, 2, 13, tzinfo=UTC))
    deliver(archive, [*records[half - 50 :], *BAD_LINES], datetime(2020, 2, 14, tzinfo=UTC))
    return whole, labelled, archive, len(records)


def outputs(engine: str, tmp: Path, history: Path, live: Path | None = None) -> tuple[dict, Path]:
    lines: list[str] = []
    manifest = run(engine, str(history), str(tmp), log=lines.append, live=None if live is None else str(live))
    return manifest | {"log": lines}, tmp


def by(directory: Path, view: str, key) -> dict:
    return {key(r): r for r in pq.read_table(directory / view).to_pylist()}


def assert_same_features(a: dict, b: dict, names: list[str]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        for name in names:
            assert math.isclose(a[k][name], b[k][name], rel_tol=1e-9, abs_tol=1e-12), (k, name)


def check_live_equals_labelled(engine: str, tmp: Path, histories) -> None:
    whole, labelled, archive, live_count = histories
    reference_manifest, reference = outputs(engine, tmp / "whole", whole)
    manifest, out = outputs(engine, tmp / "live", labelled, archive)

    assert manifest["live"] == {
        "input": str(archive),
        "rows": live_count + 50,
        "invalid": len(BAD_LINES),
        "later": 0,
        "until": None,
    }
    assert manifest["dedup"] is True  # the re-delivered records repeat their tids
    assert any(f"live: {live_count + 50:,} transactions read" in line for line in manifest["log"])
    assert any(f"{len(BAD_LINES)} invalid left out" in line for line in manifest["log"])

    tid = SOURCE.id_column
    training, expected = by(out, "training", lambda r: r[tid]), by(reference, "training", lambda r: r[tid])
    assert_same_features(training, expected, FEATURES)
    unlabeled = [k for k, r in training.items() if r[SOURCE.label_column] is None]
    assert len(unlabeled) == live_count
    assert all(training[k][SOURCE.event_time] >= LIVE_FROM for k in unlabeled)
    for view in ("snapshots", "online"):
        key = lambda r: (r["cc_num"], r["trans_time"])  # noqa: E731
        snapshot_names = [a.name for a in AGGREGATES if a.window.kind == "daily_snapshot"]
        assert_same_features(by(out, view, key), by(reference, view, key), snapshot_names)
    assert reference_manifest["live"] is None


def test_live_transactions_get_the_features_they_would_get_from_the_history(tmp_path, histories):
    check_live_equals_labelled("duckdb", tmp_path, histories)


@pytest.mark.spark
def test_spark_reads_the_live_archive_as_duckdb_does(tmp_path, histories):
    check_live_equals_labelled("spark", tmp_path, histories)


def test_training_leaves_the_unlabeled_rows_out(tmp_path, histories):
    _, labelled, archive, live_count = histories
    _, out = outputs("duckdb", tmp_path / "out", labelled, archive)
    table = pq.read_table(out / "training")
    assert table.column(SOURCE.label_column).null_count == live_count
    parts = split(table)
    used = len(parts.train.y) + len(parts.validation.y) + len(parts.test.y)
    assert not any(math.isnan(v) for part in (parts.train, parts.validation, parts.test) for v in part.y)
    assert used <= table.num_rows - live_count


def test_an_empty_archive_adds_nothing_and_a_missing_local_one_is_an_error(tmp_path, histories):
    _, labelled, _, _ = histories
    (tmp_path / "empty").mkdir()
    manifest, _ = outputs("duckdb", tmp_path / "out", labelled, tmp_path / "empty")
    assert manifest["live"] == {
        "input": str(tmp_path / "empty"),
        "rows": 0,
        "invalid": 0,
        "later": 0,
        "until": None,
    }
    with pytest.raises(JobError, match="no-such-archive: no such file or directory"):
        run("duckdb", str(labelled), str(tmp_path / "out2"), live=str(tmp_path / "no-such-archive"))


def test_a_history_row_without_a_label_is_still_an_error(tmp_path, histories):
    """Only the live archive's rows may lack a label: the history's must have one."""
    _, _, archive, _ = histories
    csv = tmp_path / "history.csv"
    csv.write_text(
        "tid,datetime,cc_num,amount,fraud_label\n"
        "a,2020-02-10T10:00:00,4000000000000001,10.0,0\n"
        "b,2020-02-10T11:00:00,4000000000000001,12.0,\n"
    )
    with pytest.raises(JobError, match="1 row\\(s\\) with a missing or invalid fraud_label"):
        run("duckdb", str(csv), str(tmp_path / "out"), live=str(archive))


def test_the_cut_off_leaves_later_transactions_for_the_next_run(tmp_path, histories):
    _, labelled, archive, live_count = histories
    until = datetime(2020, 2, 14, tzinfo=UTC)
    manifest = run(
        "duckdb",
        str(labelled),
        str(tmp_path / "out"),
        log=lambda *_: None,
        live=str(archive),
        live_until=until,
    )
    training = pq.read_table(tmp_path / "out" / "training")
    unlabeled = training.filter(pc.is_null(training.column(SOURCE.label_column)))
    assert unlabeled.num_rows > 0
    assert pc.max(unlabeled.column(SOURCE.event_time)).as_py() < until
    live = manifest["live"]
    assert live["invalid"] == len(BAD_LINES) and live["until"] == until.isoformat()
    # every archived record is kept, invalid or left for later (the re-delivered 50 counted as read)
    assert live["rows"] + live["invalid"] + live["later"] == live_count + 50 + len(BAD_LINES)
    assert unlabeled.num_rows <= live["rows"] and live["later"] > 0


def test_a_labelled_history_row_wins_over_the_same_live_transaction(tmp_path, histories):
    """A label feed may write a served transaction to the history after the archive has it."""
    whole, _, archive, live_count = histories
    manifest = run("duckdb", str(whole), str(tmp_path / "out"), log=lambda *_: None, live=str(archive))
    training = pq.read_table(tmp_path / "out" / "training")
    assert manifest["dedup"] is True and manifest["live"]["rows"] == live_count + 50
    assert training.num_rows == pq.read_metadata(whole).num_rows
    assert training.column(SOURCE.label_column).null_count == 0


def test_a_live_until_without_a_zone_is_a_one_line_error(tmp_path, capsys):
    from jobs.aggregate import main

    argv = [
        "--input",
        "h.parquet",
        "--output",
        str(tmp_path),
        "--live",
        "x",
        "--live-until",
        "2026-12-07T00:00:00",
    ]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "not an ISO 8601 time with a zone" in err
