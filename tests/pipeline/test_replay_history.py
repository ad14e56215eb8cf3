"""`make replay HISTORY=...`: a history in the seed's CSV layout replayed through the local pipeline.

The CSV is the seed's layout (tid,datetime,cc_num,amount,fraud_label), rows shuffled, 500 cards, with
transactions that share a card and a second with another (same-timestamp peers). Small (three weeks,
a three-day test period), so the whole replay takes about a minute.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from profiles.replay import main
from simulator.generate import generate, tid_of, write

CARDS = 500


def seed_csv(path: Path, days: int = 21, transactions: int = 9_000, peers: int = 40) -> Path:
    table = generate(
        cards=CARDS,
        transactions=transactions,
        start=datetime(2020, 1, 1),
        end=datetime(2020, 1, 1) + timedelta(days=days),
        fraud_ratio=0.02,
        seed=23,
    )
    rows = table.to_pylist()
    rng = random.Random(4)
    for row in rng.sample(rows, peers):  # another transaction on the same card in the same second
        amount = round(row["amount"] + 1.23, 2)
        rows.append(dict(row, amount=amount, tid=tid_of(row["trans_ts"], row["cc_num"], amount)))
    write(pa.Table.from_pylist(rows, schema=table.schema), path)
    header, *body = path.read_text().splitlines()
    rng.shuffle(body)
    path.write_text("\n".join([header, *body]) + "\n")
    return path


def test_a_seed_layout_csv_history_ends_with_the_consistency_report(tmp_path):
    history = seed_csv(tmp_path / "history.csv")
    assert history.read_text().splitlines()[0] == "tid,datetime,cc_num,amount,fraud_label"
    data = tmp_path / "replay"
    started = time.monotonic()
    status = main(["--data", str(data), "--history", str(history), "--test-days", "3"])
    report = json.loads((data / "consistency.json").read_text())
    replay = json.loads((data / "replay.json").read_text())
    assert (data / "REPORT.md").is_file()
    assert status == 0, (data / "REPORT.md").read_text()
    assert report["period"][0].startswith("2020-01-19") and replay["period"] == [
        "2020-01-19T00:00:00Z",
        "2020-01-22T00:00:00Z",
    ]
    assert report["served"] == replay["scored"] == replay["sent"] - replay["late"] - replay["engine_dead"]
    assert report["unexplained_share"] == 0 and report["explained_rate"] == 1
    assert report["auc"]["positives"] > 0 and abs(report["auc"]["pr_auc_difference"]) <= 0.005
    assert time.monotonic() - started < 300


def test_a_history_without_labels_gets_one_line(tmp_path, capsys):
    history = tmp_path / "unlabelled.csv"
    history.write_text("tid,datetime,cc_num,amount\na,2020-01-01T00:00:00,4000000000000001,1.00\n")
    assert main(["--data", str(tmp_path / "r"), "--history", str(history)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "fraud_label" in err and "\n" not in err


def test_a_history_too_short_before_the_test_period_gets_one_line(tmp_path, capsys):
    history = seed_csv(tmp_path / "short.csv", days=10, transactions=2_000, peers=0)
    assert main(["--data", str(tmp_path / "r"), "--history", str(history), "--test-days", "3"]) == 1
    err = capsys.readouterr().err.strip()
    assert "7.0 days of history before the test period" in err and "at least 14" in err and "\n" not in err


@pytest.mark.parametrize("argv", [["--test-days", "0"], ["--days", "-1"]])
def test_bad_period_arguments(argv, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["--data", str(tmp_path), *argv])
    assert exit_.value.code == 2
