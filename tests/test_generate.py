"""The history generator: distributions, fraud chains, tids, determinism, files, CLI errors."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from simulator import generate as gen
from simulator.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
START, END = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)
ROWS, CARDS, RATIO, SEED = 200_000, 2_000, 0.01, 7


@pytest.fixture(scope="module")
def history() -> pa.Table:
    return gen.generate(CARDS, ROWS, START, END, RATIO, SEED)


@pytest.fixture(scope="module")
def columns(history: pa.Table) -> dict[str, np.ndarray]:
    return {
        "tid": np.array(history["tid"].to_pylist()),
        "ts": np.array(history["trans_ts"].cast(pa.int64()).to_pylist()) // 1_000_000,
        "cc": np.array(history["cc_num"].to_pylist()),
        "amount": np.array(history["amount"].to_pylist()),
        "label": np.array(history["fraud_label"].to_pylist()),
    }


def luhn_valid(number: int) -> bool:
    digits = [int(d) for d in str(number)][::-1]
    total = sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(digits))
    return total % 10 == 0


def chains_of(columns: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fraud rows grouped by card, split where a card's consecutive fraud rows are > 120 s apart."""
    fraud = columns["label"] == 1
    chains = []
    for card in np.unique(columns["cc"][fraud]):
        mine = fraud & (columns["cc"] == card)
        ts = np.sort(columns["ts"][mine])
        for part in np.split(ts, np.flatnonzero(np.diff(ts) > gen.CHAIN_GAP_SECONDS[1]) + 1):
            chains.append((card, part))
    return chains


# ---------------------------------------------------------------- schema and distributions


def test_schema_is_the_interface(history: pa.Table) -> None:
    assert history.schema == gen.SCHEMA
    assert [(f.name, str(f.type)) for f in history.schema] == [
        ("tid", "string"),
        ("trans_ts", "timestamp[us, tz=UTC]"),
        ("cc_num", "int64"),
        ("amount", "double"),
        ("fraud_label", "int32"),
    ]
    assert history.num_rows == ROWS


@pytest.mark.parametrize("bucket", gen.AMOUNT_BUCKETS)
def test_amount_bucket_shares(columns: dict[str, np.ndarray], bucket: tuple[float, float, float]) -> None:
    share, low, high = bucket
    observed = np.mean((columns["amount"] >= low) & (columns["amount"] < high))
    # binomial sd at 200k rows is <= 0.0012; 0.006 is five of them
    assert abs(observed - share) < 0.006, (bucket, observed)


def test_amounts_are_whole_cents_in_range(columns: dict[str, np.ndarray]) -> None:
    amount = columns["amount"]
    assert amount.min() >= 0.01 and amount.max() < 10_000
    np.testing.assert_allclose(amount * 100, np.rint(amount * 100), atol=1e-6)
    within = amount[(amount >= 10) & (amount < 100)]  # uniform inside a bucket: quartiles
    np.testing.assert_allclose(np.quantile(within, [0.25, 0.5, 0.75]), [32.5, 55, 77.5], atol=1.0)


def test_times_uniform_whole_seconds_within_span(history: pa.Table, columns: dict[str, np.ndarray]) -> None:
    micros = np.array(history["trans_ts"].cast(pa.int64()).to_pylist())
    assert np.all(micros % 1_000_000 == 0)
    ts = columns["ts"]
    assert ts.min() >= START.timestamp() and ts.max() < END.timestamp()
    deciles = np.histogram(ts, bins=10, range=(START.timestamp(), END.timestamp()))[0] / len(ts)
    assert np.all(np.abs(deciles - 0.1) < 0.005), deciles


def test_card_numbers_visa_like_luhn_valid(columns: dict[str, np.ndarray]) -> None:
    cards = np.unique(columns["cc"])
    assert CARDS * 0.99 <= len(cards) <= CARDS  # ~100 transactions per card: all but a few used
    assert all(len(str(c)) == 16 and str(c).startswith("4") and luhn_valid(int(c)) for c in cards)
    per_card = np.unique(columns["cc"][columns["label"] == 0], return_counts=True)[1]
    assert abs(per_card.mean() - ROWS * (1 - RATIO) / len(per_card)) < 1  # legit rows spread over cards


def test_card_numbers_distinct_and_luhn_at_scale() -> None:
    numbers = gen.card_numbers(np.random.default_rng(1), 20_000)
    assert len(np.unique(numbers)) == 20_000
    assert all(luhn_valid(int(n)) for n in numbers[:2_000])
    assert not luhn_valid(int(numbers[0]) + 1)  # the check digit actually checks


# ---------------------------------------------------------------- fraud chains


def test_fraud_share_is_the_ratio(columns: dict[str, np.ndarray]) -> None:
    assert columns["label"].sum() == round(RATIO * ROWS)
    assert set(np.unique(columns["label"])) == {0, 1}


def test_fraud_chain_lengths_and_gaps(columns: dict[str, np.ndarray]) -> None:
    chains = chains_of(columns)
    lengths = np.array([len(ts) for _, ts in chains])
    gaps = np.concatenate([np.diff(ts) for _, ts in chains])
    assert lengths.sum() == round(RATIO * ROWS)
    assert lengths.min() >= 3 and lengths.max() <= 10
    assert set(lengths) == set(range(3, 11))  # every length occurs at ~300 chains
    assert 6.0 < lengths.mean() < 7.0  # uniform 3..10: mean 6.5
    assert gaps.min() >= 30 and gaps.max() <= 120
    assert 70 < gaps.mean() < 80  # uniform 30..120: mean 75
    starts = np.array([ts[0] for _, ts in chains])
    assert starts.min() - START.timestamp() < 86_400 * 3 and END.timestamp() - starts.max() < 86_400 * 3


def test_fraud_chains_direct() -> None:
    rng = np.random.default_rng(3)
    start = int(START.timestamp())
    chains = gen.fraud_chains(rng, 1_000, 5, start, start + 86_400)
    assert len(chains.seconds) == 1_000
    for chain in np.unique(chains.chain):
        mine = chains.chain == chain
        assert len(np.unique(chains.card[mine])) == 1
        gaps = np.diff(chains.seconds[mine])
        assert 3 <= mine.sum() <= 10 and np.all((gaps >= 30) & (gaps <= 120))
    assert chains.seconds.min() >= start and chains.seconds.max() < start + 86_400


@pytest.mark.parametrize("total", [3, 4, 5, 10, 11, 12, 13, 21, 22, 101, 1_000, 13_500])
def test_chain_lengths_sum_exactly(total: int) -> None:
    lengths = gen.chain_lengths(np.random.default_rng(total), total)
    assert lengths.sum() == total and lengths.min() >= 3 and lengths.max() <= 10


def test_small_positive_ratio_gives_one_chain() -> None:
    table = gen.generate(10, 1_000, START, END, 0.0001, 1)
    assert table["fraud_label"].to_pylist().count(1) == 3


# ---------------------------------------------------------------- tids and order


def test_tids_unique_and_md5_of_documented_string(history: pa.Table, columns: dict[str, np.ndarray]) -> None:
    assert len(np.unique(columns["tid"])) == ROWS
    for row in history.slice(0, 300).to_pylist() + history.slice(ROWS - 300).to_pylist():
        text = f"{row['trans_ts']:%Y-%m-%dT%H:%M:%S}|{row['cc_num']}|{row['amount']:.2f}"
        assert row["tid"] == hashlib.md5(text.encode()).hexdigest()
        assert gen.tid_string(row["trans_ts"], row["cc_num"], row["amount"]) == text


def test_vectorized_tids_match_scalar_on_edge_values() -> None:
    seconds = np.array([0, 86_399, 1_577_836_800, 1_590_969_599, 951_782_400, 4_102_444_799])
    cards = np.array([4000000000000002, 4999999999999999, 4123456789012345] * 2)
    cents = np.array([1, 99, 100, 999_999, 1_005, 100_000])
    got = gen.tids(seconds, cards, cents).to_pylist()
    want = [
        gen.tid_of(datetime.fromtimestamp(s, UTC), int(c), a / 100)
        for s, c, a in zip(seconds, cards, cents, strict=True)
    ]
    assert got == want
    assert (
        gen.tid_string(datetime.fromtimestamp(0, UTC), 4000000000000002, 0.01)
        == "1970-01-01T00:00:00|4000000000000002|0.01"
    )
    naive, other_zone = datetime(2020, 3, 1, 12, 0, 5), datetime.fromisoformat("2020-03-01T14:00:05+02:00")
    assert gen.tid_string(naive, 4000000000000002, 10) == gen.tid_string(other_zone, 4000000000000002, 10.0)
    assert gen.tid_string(naive, 4000000000000002, 10).startswith("2020-03-01T12:00:05|")


def test_sorted_by_time_then_tid(columns: dict[str, np.ndarray]) -> None:
    order = np.lexsort((columns["tid"], columns["ts"]))
    assert np.array_equal(order, np.arange(ROWS))


def test_identical_rows_are_nudged_to_unique_tids(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = gen._nudge
    monkeypatch.setattr(gen, "_nudge", lambda *args: calls.append(1) or real(*args))
    # one card, 20 seconds, 20k rows: hundreds of identical (time, card, amount) draws
    start = START
    table = gen.generate(1, 20_000, start, start + timedelta(seconds=20), 0.0, 5)
    assert calls, "the collision path was not exercised"
    rows = table.to_pylist()
    assert len({r["tid"] for r in rows}) == len(rows) == 20_000
    assert len({(r["trans_ts"], r["amount"]) for r in rows}) == len(rows)
    for row in rows[:2_000]:
        assert row["tid"] == gen.tid_of(row["trans_ts"], row["cc_num"], row["amount"])


# ---------------------------------------------------------------- determinism and files


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def file_bytes(seed: int, name: str) -> bytes:
        return gen.write(gen.generate(50, 20_000, START, END, 0.01, seed), tmp_path / name).read_bytes()

    for suffix in ("parquet", "csv"):
        first, again = file_bytes(11, f"a.{suffix}"), file_bytes(11, f"b.{suffix}")
        assert first == again
        assert first != file_bytes(12, f"c.{suffix}")


def test_parquet_round_trip(tmp_path: Path, history: pa.Table) -> None:
    path = gen.write(history, tmp_path / "deep" / "er" / "h.parquet")
    assert pq.read_table(path).equals(history)
    assert [p.name for p in path.parent.iterdir()] == ["h.parquet"]  # no temp file left


def test_csv_seed_layout_and_round_trip(tmp_path: Path) -> None:
    table = gen.generate(100, 5_000, START, END, 0.01, 3)
    path = gen.write(table, tmp_path / "h.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "tid,datetime,cc_num,amount,fraud_label"
    assert len(lines) == 5_001
    pattern = re.compile(r"^[0-9a-f]{32},\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,4\d{15},\d{1,4}\.\d\d,[01]$")
    assert all(pattern.match(line) for line in lines[1:]), lines[1]
    back = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={
                "datetime": pa.timestamp("s"),
                "cc_num": pa.int64(),
                "amount": pa.float64(),
                "fraud_label": pa.int32(),
            }
        ),
    )
    assert back["tid"].to_pylist() == table["tid"].to_pylist()
    assert [t.replace(tzinfo=UTC) for t in back["datetime"].to_pylist()] == table["trans_ts"].to_pylist()
    for name in ("cc_num", "amount", "fraud_label"):
        assert back[name].to_pylist() == table[name].to_pylist()


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    table = gen.generate(10, 100, START, END, 0.0, 1)
    bad = table.set_column(3, "amount", pa.array([float("nan")] * 100))
    with pytest.raises(ValueError, match="finite"):
        gen.write(bad, tmp_path / "h.csv")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- CLI


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(["generate", *args])
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cards", "0"], "cards must be"),
        (["--cards", "many"], "invalid int value"),
        (["--transactions", "0"], "transactions must be"),
        (["--start", "2020-13-01"], "invalid date"),
        (["--end", "2019-06-01"], "must be after start"),
        (["--fraud-ratio", "0.5"], "fraud ratio"),
        (["--fraud-ratio", "-0.1"], "fraud ratio"),
        (["--transactions", "2", "--fraud-ratio", "0.4"], "at least 3 transactions"),
        (["--start", "2020-01-01", "--end", "2020-01-01T00:10:00"], "do not fit"),
        (["--out-of-place"], "unrecognized arguments"),
    ],
)
def test_cli_bad_arguments_one_line_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(["--transactions", "100", *args, "--out", str(tmp_path / "h.parquet")], capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "h.parquet").exists()


def test_cli_bad_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for out, message in [
        (blocker / "h.parquet", "cannot create directory"),
        (tmp_path / "h.json", "unknown extension"),
    ]:
        code, err = run_cli(["--transactions", "100", "--out", str(out)], capsys)
        assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_cli_writes_file_in_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "new" / "h.csv"
    argv = [
        "--cards",
        "20",
        "--transactions",
        "3000",
        "--seed",
        "9",
        "--fraud-ratio",
        "0.01",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 3,000 transactions (30 fraud) on 20 cards" in done.stdout
    expected = gen.write(gen.generate(20, 3000, START, END, 0.01, 9), tmp_path / "same.csv")
    assert out.read_bytes() == expected.read_bytes()

    bad = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", "--cards", "-1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr == "error: cards must be between 1 and 100,000,000, got -1\n"


# ---------------------------------------------------------------- bench reuse of the full-scale file


def test_parquet_records_its_arguments_and_bench_reuses_by_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.generator as bench_generator

    small = {"cards": 10, "transactions": 500, "start": START, "end": END, "fraud_ratio": 0.01, "seed": 4}
    path = gen.write(gen.generate(**small), tmp_path / "history.parquet")
    assert pq.read_schema(path).metadata[gen.PROVENANCE_KEY.encode()].decode() == gen.provenance(**small)

    runs: list[list[str]] = []
    monkeypatch.setattr(bench_generator, "FULL_HISTORY", path)
    monkeypatch.setattr(bench_generator, "measure", lambda argv: runs.append(argv))
    monkeypatch.setattr(bench_generator, "DEFAULTS", {**gen.DEFAULTS, **small})
    assert bench_generator.ensure_full_history() == path and runs == []  # same arguments: reused
    monkeypatch.setattr(bench_generator, "DEFAULTS", {**gen.DEFAULTS, **small, "seed": 5})
    bench_generator.ensure_full_history()
    assert len(runs) == 1 and runs[0][-1] == str(path)
