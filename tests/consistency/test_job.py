"""The consistency job on DuckDB against the brute-force reference (tests/consistency/reference.py)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from features.definition import MODEL_INPUT
from jobs.consistency import __main__ as cli
from jobs.consistency import sql
from jobs.consistency.job import run
from jobs.consistency.predictions import epoch_ms
from local_aws.endpoint import load_booster
from tests.consistency import reference
from tests.consistency.fixtures import build


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return build(tmp_path_factory.mktemp("consistency"))


@pytest.fixture(scope="module")
def result(case):
    return run(
        "duckdb", str(case.predictions), str(case.features), str(case.model), str(case.root / "out"), 0.5
    )


def first_per_tid(records: list[dict]) -> list[dict]:
    kept: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: (epoch_ms(r["trans_ts"]), r["probability"])):
        kept.setdefault(r["tid"], dict(r, event_ms=epoch_ms(r["trans_ts"])))
    return list(kept.values())


def batch_rows(case):
    rows = pq.read_table(case.features / "training").to_pylist()
    for r in rows:
        r["event_ms"] = round(r["trans_ts"].timestamp() * 1000)
    return rows


def test_every_reason_is_the_reference_s(case, result):
    served = first_per_tid(case.records)
    expected = reference.reasons(
        served, batch_rows(case), pq.read_table(case.features / "snapshots").to_pylist()
    )
    assert result["served"] == len(served)
    assert result["reasons"] == {r: sum(1 for v in expected.values() if v == r) for r in sql.REASONS}
    assert result["match_rate"] == pytest.approx(result["reasons"]["match"] / len(served))
    # the planted defects got the reasons they were planted with
    for tid, reason in case.expected.items():
        assert expected[tid] == reason, tid
    assert {s["tid"]: s["reason"] for s in result["samples"]} == {
        t: r for t, r in expected.items() if r != "match"
    }
    unexplained = result["reasons"]["unexplained"] + result["reasons"]["not_in_batch"]
    assert result["unexplained_share"] == pytest.approx(unexplained / len(served))


def test_per_feature_counts_and_the_inputs_quirks(case, result):
    served = first_per_tid(case.records)
    batch = {r["tid"]: r for r in batch_rows(case)}
    for f in MODEL_INPUT:
        bad = sum(
            1
            for s in served
            if s["tid"] in batch and not reference.same(s["features"][f], batch[s["tid"]][f])
        )
        assert result["features"][f]["mismatched"] == bad, f
    assert result["duplicate_records"] == 1 and result["unreadable_lines"] == 1
    assert result["compared"] == len(served) - 1  # the unknown tid
    # the dropped transaction is the one batch row of the period nothing served
    assert result["unserved_in_period"] == 1


def test_aucs_are_the_reference_s(case, result):
    served = first_per_tid(case.records)
    batch = {r["tid"]: r for r in batch_rows(case)}
    both = [s for s in served if s["tid"] in batch]
    labels = [batch[s["tid"]]["fraud_label"] for s in both]
    assert 0 < sum(labels) < len(labels)
    booster = load_booster(case.model)
    offline = booster.inplace_predict(
        np.asarray([[batch[s["tid"]][f] for f in MODEL_INPUT] for s in both], dtype=np.float32)
    ).tolist()
    a = result["auc"]
    served_scores = [s["probability"] for s in both]
    assert a["served_roc_auc"] == pytest.approx(reference.roc_auc(labels, served_scores), abs=1e-12)
    assert a["served_pr_auc"] == pytest.approx(reference.pr_auc(labels, served_scores), abs=1e-12)
    # offline: the served model on the batch features, scored as the endpoint scores
    assert a["offline_roc_auc"] == pytest.approx(reference.roc_auc(labels, offline), abs=1e-12)
    assert a["offline_pr_auc"] == pytest.approx(reference.pr_auc(labels, offline), abs=1e-12)
    assert a["positives"] == sum(labels)


def test_values_that_are_not_finite_are_missing_on_both_sides(case):
    """The codec writes a NaN or an infinity as null: the job reads it, compares it equal to a batch
    NaN or infinity (not to a number, nor to a batch NULL) and scores such a value as missing."""
    import duckdb

    from jobs.consistency import scores
    from jobs.consistency.predictions import rows_of

    record = dict(case.records[0], features=dict(case.records[0]["features"], amt_ratio1=None))
    (row,) = rows_of(json.dumps(record).encode())
    assert row[5 + MODEL_INPUT.index("amt_ratio1")] is None
    cases = [
        (None, "'inf'", True),
        (None, "'-inf'", True),
        (None, "'nan'", True),
        (None, "1.5", False),
        (None, "NULL", False),
        (1.5, "'nan'", False),
        (1.5, "'inf'", False),
        (1.5, "1.5", True),
    ]
    con = duckdb.connect()
    for served, batch, equal in cases:
        s = "NULL" if served is None else repr(served)
        got = con.execute(
            f"SELECT {sql._same('s', 'b')} FROM (SELECT CAST({s} AS DOUBLE) s, CAST({batch} AS DOUBLE) b)"
        ).fetchone()[0]
        assert got is equal, (served, batch)
        assert reference.same(served, float(batch.strip("'")) if batch != "NULL" else None) is equal
    booster = load_booster(case.model)
    features = np.ones((3, len(MODEL_INPUT)))
    features[0, 1], features[1, 1], features[2, 1] = np.inf, np.nan, -np.inf
    rows = np.column_stack([np.zeros(3), np.zeros(3), features])
    _, _, offline = scores.score(booster, rows)
    features[:, 1] = np.nan
    assert offline.tolist() == booster.inplace_predict(features.astype(np.float32)).tolist()


def test_the_report_files(case, result):
    out = case.root / "out"
    written = json.loads((out / "consistency.json").read_text())
    assert written["match_rate"] == result["match_rate"] and written["reasons"] == result["reasons"]
    text = (out / "REPORT.md").read_text()
    for reason in sql.REASONS:
        assert f"| {reason} | {result['reasons'][reason]:,} |" in text
    assert "| PR AUC |" in text and "| count_ratio |" in text


def test_the_cli_fails_above_the_unexplained_threshold(case, tmp_path, capsys):
    common = [
        "--predictions",
        str(case.predictions),
        "--features",
        str(case.features),
        "--model",
        str(case.model),
    ]
    assert cli.main([*common, "--out", str(tmp_path / "strict"), "--max-unexplained", "0"]) == 1
    assert json.loads((tmp_path / "strict" / "consistency.json").read_text())["passed"] is False
    assert cli.main([*common, "--out", str(tmp_path / "lenient"), "--max-unexplained", "0.5"]) == 0


def test_bad_inputs_get_one_line(case, tmp_path, capsys):
    common = ["--features", str(case.features), "--model", str(case.model), "--out", str(tmp_path)]
    assert cli.main(["--predictions", str(tmp_path / "nothing"), *common]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    assert cli.main(["--predictions", str(empty), *common]) == 2
    assert "no prediction records" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--predictions", str(empty), *common, "--max-unexplained", "2"])
    assert cli.main(["--predictions", "s3://b/p", *common]) == 2
    assert "--engine spark" in capsys.readouterr().err
    not_a_model = tmp_path / "model.tar.gz"
    not_a_model.write_bytes(b"not a tarball")
    argv = ["--predictions", str(case.predictions), "--features", str(case.features), "--out", str(tmp_path)]
    assert cli.main([*argv, "--model", str(not_a_model)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {not_a_model}: not a model.tar.gz") and err.count("\n") == 1


def test_records_back_to_back_on_one_line_are_each_read(case):
    from jobs.consistency.predictions import Counter, rows_of

    a, b = (json.dumps(r) for r in case.records[:2])
    counter = Counter()
    rows = list(rows_of(f"{a}{b}\n  {a} \n{{bad\n{b}{{bad\n".encode(), counter))
    first, second = case.records[0]["tid"], case.records[1]["tid"]
    assert [r[0] for r in rows] == [first, second, first, second]
    assert counter.bad == 2
