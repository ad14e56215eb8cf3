"""The batch job against the brute-force reference: DESIGN.md's semantics, edge cases and properties."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.definition import AGGREGATES, MODEL_INPUT, RATIOS, SOURCE
from jobs.aggregate import run
from jobs.batch.output import read_manifest
from tests.batch.histories import read_output, write_csv, write_parquet
from tests.batch.reference import DAY_MS, Tx, snapshot_rows, training_rows

FEATURES = [a.name for a in AGGREGATES] + [r.name for r in RATIOS]
T0 = 1_578_000_000_000  # 2020-01-02T21:20:00Z, mid-day so windows straddle midnights
CARD = 4_000_000_000_000_001


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def aggregate(tmp_path: Path, txs: list[Tx], writer=write_parquet, engine: str = "duckdb") -> Path:
    if engine == "spark" and shutil.which("java") is None:
        pytest.skip("Java 17 is required for Spark")
    source = writer(tmp_path / ("history.csv" if writer is write_csv else "history.parquet"), txs)
    out = tmp_path / "features"
    run(engine, str(source), str(out), log=lambda *_: None)
    return out


def assert_matches_reference(out: Path, txs: list[Tx]) -> None:
    expected = training_rows(txs)
    got = {row["tid"]: row for row in read_output(out, "training")}
    assert set(got) == set(expected)
    for tid, want in expected.items():
        for name in FEATURES:
            assert close(got[tid][name], want[name]), (tid, name, got[tid][name], want[name])
    expected_snaps = snapshot_rows(txs)
    got_snaps = {(r["cc_num"], int(r["trans_time"])): r for r in read_output(out, "snapshots")}
    assert set(got_snaps) == set(expected_snaps)
    for key, want in expected_snaps.items():
        for name, value in want.items():
            assert close(got_snaps[key][name], value), (key, name)
    # The online store holds each card's latest snapshot.
    latest = {}
    for card, day in expected_snaps:
        latest[card] = max(day, latest.get(card, day))
    got_online = {(r["cc_num"], int(r["trans_time"])) for r in read_output(out, "online")}
    assert got_online == set(latest.items())


def test_training_table_columns_follow_the_definition(tmp_path):
    out = aggregate(tmp_path, [Tx("a", T0, CARD, 10.0), Tx("b", T0 + 1000, CARD, 20.0)])
    row = read_output(out, "training")[0]
    assert list(row) == ["tid", SOURCE.event_time, SOURCE.entity, *MODEL_INPUT, SOURCE.label_column]


def test_ten_minute_window_includes_itself_peers_and_the_exact_lower_bound(tmp_path):
    txs = [
        Tx("first", T0, CARD, 10.0),
        Tx("edge", T0 + 600_000, CARD, 20.0),  # exactly 10 minutes later: "first" still inside
        Tx("peer1", T0 + 600_001, CARD, 30.0),  # two transactions in the same millisecond
        Tx("peer2", T0 + 600_001, CARD, 40.0),
    ]
    got = {r["tid"]: r for r in read_output(aggregate(tmp_path, txs), "training")}
    assert got["first"]["num_trans_last_10m"] == 1
    assert got["edge"]["num_trans_last_10m"] == 2
    assert got["edge"]["avg_amt_last_10m"] == pytest.approx(15.0)
    # "first" drops out 1 ms later; same-timestamp peers see each other.
    assert got["peer1"]["num_trans_last_10m"] == got["peer2"]["num_trans_last_10m"] == 3
    assert got["peer1"]["avg_amt_last_10m"] == pytest.approx(30.0)


def test_week_features_come_from_the_snapshot_at_the_latest_midnight(tmp_path):
    midnight = (T0 // DAY_MS + 1) * DAY_MS
    txs = [
        Tx("old", midnight - 8 * DAY_MS, CARD, 100.0),  # outside [D - 7 days, D) for D = midnight
        Tx("in1", midnight - 7 * DAY_MS, CARD, 50.0),  # lower bound included
        Tx("in2", midnight - 1, CARD, 150.0),  # just before midnight
        Tx("now", midnight + 3_600_000, CARD, 300.0),
    ]
    got = {r["tid"]: r for r in read_output(aggregate(tmp_path, txs), "training")}
    now = got["now"]
    assert now["num_trans_last_1w"] == 2
    assert now["avg_amt_last_1w"] == pytest.approx(100.0)
    assert now["amt_ratio2"] == pytest.approx(3.0)
    assert now["count_ratio"] == pytest.approx(0.5)
    # "in2" happened before that midnight: it is served the previous midnight's snapshot,
    # whose window [D - 8 days, D - 1 day) holds "old" (its exact lower bound) and "in1".
    assert got["in2"]["num_trans_last_1w"] == 2
    assert got["in2"]["avg_amt_last_1w"] == pytest.approx(75.0)


def test_card_with_one_transaction_gets_zero_week_features_and_zero_ratios(tmp_path):
    out = aggregate(tmp_path, [Tx("only", T0, CARD, 42.0)])
    (row,) = read_output(out, "training")
    assert (row["num_trans_last_10m"], row["num_trans_last_1w"], row["avg_amt_last_1w"]) == (1, 0, 0.0)
    assert (row["amt_ratio1"], row["amt_ratio2"], row["count_ratio"]) == (0.0, 0.0, 0.0)


def test_silent_card_week_window_empties_instead_of_going_stale(tmp_path):
    txs = [Tx("early", T0, CARD, 10.0), Tx("late", T0 + 20 * DAY_MS, CARD, 99.0)]
    out = aggregate(tmp_path, txs)
    late = next(r for r in read_output(out, "training") if r["tid"] == "late")
    assert late["num_trans_last_1w"] == 0 and late["amt_ratio2"] == 0.0
    online = read_output(out, "online")
    assert len(online) == 1 and online[0]["num_trans_last_1w"] == 1  # the midnight after "late"
    assert_matches_reference(out, txs)


ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_tid_is_counted_once(tmp_path, engine):
    txs = [
        Tx("dup", T0, CARD, 10.0),
        Tx("dup", T0, CARD, 10.0),
        Tx("next", T0 + 1000, CARD, 30.0),
        # The same id on another card and later: still one transaction, the earliest one.
        Tx("moved", T0 + 2000, CARD, 5.0),
        Tx("moved", T0 + 3000, CARD + 1, 7.0),
    ]
    out = aggregate(tmp_path, txs, engine=engine)
    rows = read_output(out, "training")
    assert sorted(r["tid"] for r in rows) == ["dup", "moved", "next"]
    assert next(r for r in rows if r["tid"] == "next")["num_trans_last_10m"] == 2
    assert next(r for r in rows if r["tid"] == "moved")["cc_num"] == CARD
    assert read_manifest(out)["dedup"] is True
    assert_matches_reference(out, txs)


@pytest.mark.parametrize("engine", ENGINES)
def test_unique_ids_skip_the_dedup_and_give_the_same_features(tmp_path, engine):
    txs = [Tx(f"t{i}", T0 + i * 37_000, CARD + i % 2, 1.0 + i) for i in range(40)]
    out = aggregate(tmp_path, txs, engine=engine)
    assert read_manifest(out)["dedup"] is False
    assert_matches_reference(out, txs)


def test_csv_in_the_seed_layout_gives_the_same_features(tmp_path):
    rng = random.Random(7)
    txs = [
        Tx(f"t{i}", T0 + rng.randrange(0, 3 * DAY_MS, 1000), CARD + i % 3, round(rng.uniform(1, 500), 2))
        for i in range(300)
    ]
    (tmp_path / "p").mkdir()
    (tmp_path / "c").mkdir()
    from_parquet = read_output(aggregate(tmp_path / "p", txs), "training")
    from_csv = read_output(aggregate(tmp_path / "c", txs, writer=write_csv), "training")
    by_tid = {r["tid"]: r for r in from_csv}
    assert len(from_parquet) == len(by_tid) == 300
    for row in from_parquet:
        assert all(close(row[f], by_tid[row["tid"]][f]) for f in FEATURES)


@st.composite
def histories(draw) -> list[Tx]:
    """Small histories that hit the edges: same-second bursts, one-transaction cards, silent weeks,
    duplicate tids, and any row order."""
    cards = [CARD + i for i in range(draw(st.integers(1, 4)))]
    n = draw(st.integers(1, 40))
    txs = []
    for i in range(n):
        card = draw(st.sampled_from(cards))
        # Mostly bursts within minutes (10-minute windows), sometimes days apart (weekly windows).
        offset_s = draw(st.one_of(st.integers(0, 1_800), st.integers(0, 20 * 86_400)))
        amount = draw(st.integers(1, 1_000_000)) / 100
        txs.append(Tx(f"t{i}", T0 + offset_s * 1000, card, amount, draw(st.integers(0, 1))))
    if draw(st.booleans()):
        txs.append(txs[0])  # a redelivered transaction
    return draw(st.permutations(txs))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(txs=histories())
def test_duckdb_matches_the_reference_on_random_histories(tmp_path_factory, txs):
    tmp = tmp_path_factory.mktemp("prop")
    assert_matches_reference(aggregate(tmp, txs), txs)
