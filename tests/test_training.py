"""Training: splits, hyperparameters, artifact, model card, metrics, report, CLI, ablation.

The SageMaker launcher runs in its own virtualenv: tests/test_sagemaker_launch.py."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xgboost as xgb
from sklearn import metrics as skm

from features.definition import MODEL_INPUT, SERVING_THRESHOLD, SOURCE, Aggregate, Window
from jobs import train as train_cli
from jobs.training import artifact, evaluate, report, splits, synthetic, trainer
from local_aws.endpoint import load_booster

ROOT = Path(__file__).resolve().parents[1]
SM_XGB_PYTHON = ROOT / ".venv-sagemaker-xgboost" / "bin" / "python"
FAST = ["--rounds", "8", "--quiet"]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return synthetic.training_table(rows=4000, seed=1)


@pytest.fixture(scope="module")
def features_dir(tmp_path_factory, table) -> Path:
    d = tmp_path_factory.mktemp("features")
    synthetic.write_training_dir(d, table, files=3)
    return d


@pytest.fixture(scope="module")
def trained(tmp_path_factory, features_dir) -> Path:
    """GIVEN a training table WHEN `python -m jobs.train` runs (in process) THEN it exits 0."""
    out = tmp_path_factory.mktemp("model")
    assert train_cli.main(["--features", str(features_dir), "--out", str(out), *FAST]) == 0
    return out


# ---------------------------------------------------------------------------------------------- splits


def test_splits_follow_the_dates_and_fraction(table):
    parts = splits.split(table)
    train_start = np.datetime64("2020-01-15T00:00:00")
    test_start = np.datetime64("2020-05-15T00:00:00")
    assert parts.train.ts.min() >= train_start and parts.validation.ts.min() >= train_start
    assert parts.train.ts.max() < test_start and parts.validation.ts.max() < test_start
    assert parts.test.ts.min() >= test_start
    ts = table.column(SOURCE.event_time)
    lo = pa.scalar(datetime(2020, 1, 15, tzinfo=UTC), pa.timestamp("us", tz="UTC"))
    kept = pc.sum(pc.greater_equal(ts, lo)).as_py()
    assert parts.train.rows + parts.validation.rows + parts.test.rows == kept < table.num_rows
    share = parts.validation.rows / (parts.train.rows + parts.validation.rows)
    assert 0.25 < share < 0.35
    assert parts.train.x.shape == (parts.train.rows, len(MODEL_INPUT)) and parts.train.x.dtype == np.float32


def test_split_columns_follow_model_input_order(table):
    parts = splits.split(table)
    # The matrix column j is MODEL_INPUT[j]: the same values, whatever the row order.
    for j, name in enumerate(MODEL_INPUT):
        values = np.sort(np.r_[parts.train.x[:, j], parts.validation.x[:, j], parts.test.x[:, j]])
        kept = table.filter(
            pc.greater_equal(
                table.column(SOURCE.event_time),
                pa.scalar(datetime(2020, 1, 15, tzinfo=UTC), pa.timestamp("us", tz="UTC")),
            )
        )
        expected = np.sort(kept.column(name).to_numpy().astype(np.float32))
        np.testing.assert_array_equal(values, expected)


def test_split_is_seeded_and_independent_of_file_order(table):
    shuffled = table.take(np.random.default_rng(7).permutation(table.num_rows))
    a, b = splits.split(table), splits.split(shuffled)
    np.testing.assert_array_equal(a.validation.x, b.validation.x)
    c = splits.split(table, splits.SplitDates(seed=43))
    assert not np.array_equal(a.validation.x, c.validation.x)


def test_split_dates_are_parameters(table):
    parts = splits.split(table, splits.SplitDates(date(2020, 2, 1), date(2020, 4, 1)))
    assert parts.train.ts.min() >= np.datetime64("2020-02-01")
    assert parts.test.ts.min() >= np.datetime64("2020-04-01")
    with pytest.raises(ValueError, match="must be after"):
        splits.SplitDates(date(2020, 5, 1), date(2020, 4, 1))


# -------------------------------------------------------------------------------------- hyperparameters


def test_hyperparameter_defaults_are_the_seeds():
    hp = trainer.Hyperparameters()
    assert (hp.max_depth, hp.eta, hp.gamma, hp.min_child_weight, hp.subsample, hp.num_round) == (
        5,
        0.2,
        4,
        6,
        0.7,
        100,
    )
    params = hp.booster_params()
    assert params["objective"] == "binary:logistic" and params["nthread"] >= 1
    assert "num_round" not in params


def test_hyperparameter_overrides():
    hp = trainer.Hyperparameters().with_overrides(max_depth=3, eta=None, num_round=7)
    assert (hp.max_depth, hp.eta, hp.num_round) == (3, 0.2, 7)
    with pytest.raises(ValueError, match="unknown"):
        trainer.Hyperparameters().with_overrides(depth=3)
    with pytest.raises(ValueError):
        trainer.Hyperparameters(eta=0)


def test_cli_overrides_reach_the_model(trained, features_dir, tmp_path):
    card = json.loads((trained / artifact.MODEL_CARD).read_text())
    assert card["hyperparameters"]["num_round"] == "8" and card["hyperparameters"]["max_depth"] == "5"
    booster = load_booster(trained)
    assert booster.num_boosted_rounds() == 8
    out = tmp_path / "m"
    assert (
        train_cli.main(
            [
                "--features",
                str(features_dir),
                "--out",
                str(out),
                "--rounds",
                "3",
                "--max-depth",
                "2",
                "--eta",
                "0.5",
                "--quiet",
            ]
        )
        == 0
    )
    card = json.loads((out / artifact.MODEL_CARD).read_text())
    assert card["hyperparameters"]["max_depth"] == "2" and card["hyperparameters"]["eta"] == "0.5"
    booster = load_booster(out)
    assert booster.num_boosted_rounds() == 3
    depth = max(line.count("\t") for tree in booster.get_dump() for line in tree.splitlines())
    assert depth <= 2  # a dump line's tabs are its node's depth


# ------------------------------------------------------------------------------------------- artifact


def test_tarball_holds_exactly_xgboost_model_as_json(trained):
    with tarfile.open(trained / artifact.TARBALL, "r:gz") as tar:
        assert tar.getnames() == [artifact.MODEL_MEMBER]
        payload = tar.extractfile(artifact.MODEL_MEMBER).read()
    doc = json.loads(payload)
    assert doc["learner"]["objective"]["name"] == "binary:logistic"
    assert doc["learner"]["feature_names"] == list(MODEL_INPUT)


def test_artifact_loads_with_xgboost_and_predicts_like_the_trained_model(table, trained):
    parts = splits.split(table)
    booster = xgb.Booster()
    with tarfile.open(trained / artifact.TARBALL, "r:gz") as tar:
        booster.load_model(bytearray(tar.extractfile(artifact.MODEL_MEMBER).read()))
    via_dmatrix = booster.predict(xgb.DMatrix(parts.test.x, feature_names=list(MODEL_INPUT)))
    via_loader = trainer.predict(load_booster(trained), parts.test.x)
    np.testing.assert_allclose(via_dmatrix, via_loader, rtol=1e-6)
    assert ((via_loader >= 0) & (via_loader <= 1)).all()


def test_tarball_is_deterministic(tmp_path):
    x = np.random.default_rng(0).normal(size=(200, len(MODEL_INPUT))).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    booster = trainer.train(x, y, None, None, MODEL_INPUT, trainer.Hyperparameters(num_round=3)).booster
    a = artifact.write_tarball(booster, tmp_path / "a").read_bytes()
    b = artifact.write_tarball(booster, tmp_path / "b").read_bytes()
    assert a == b


SAGEMAKER_CONTAINER_LOAD = textwrap.dedent("""
    # What SageMaker's XGBoost 1.7-1 container does (algorithm_mode/serve_utils.get_loaded_booster):
    # every file of the model dir: pickle first, then Booster.load_model(path); nthread 1; CSV -> DMatrix.
    import os, pickle, sys, numpy as np, xgboost as xgb
    model_dir, csv_path = sys.argv[1], sys.argv[2]
    boosters = []
    for name in sorted(os.listdir(model_dir)):
        path = os.path.join(model_dir, name)
        try:
            booster = pickle.load(open(path, "rb"))
        except Exception:
            booster = xgb.Booster()
            booster.load_model(path)
        booster.set_param("nthread", 1)
        boosters.append(booster)
    assert len(boosters) == 1, boosters
    rows = np.loadtxt(csv_path, delimiter=",", ndmin=2)
    print(xgb.__version__)
    print("\\n".join(repr(float(p)) for p in boosters[0].predict(xgb.DMatrix(rows), validate_features=False)))
""")


def test_artifact_is_served_identically_by_the_sagemaker_container_xgboost(table, trained, tmp_path):
    """GIVEN model.tar.gz WHEN xgboost 1.7.6 (the 1.7-1 container's) loads it the container's way
    THEN it predicts what the trained model predicts."""
    if not (ROOT / ".venv-sagemaker-xgboost" / ".installed").exists():
        subprocess.run(["make", "-C", str(ROOT), "sagemaker-xgboost-venv"], check=True, capture_output=True)
    model_dir = tmp_path / "opt-ml-model"
    model_dir.mkdir()
    with tarfile.open(trained / artifact.TARBALL, "r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    rows = splits.split(table).test.x[:200]
    csv = tmp_path / "rows.csv"
    np.savetxt(csv, rows, delimiter=",", fmt="%.9g")
    done = subprocess.run(
        [str(SM_XGB_PYTHON), "-c", SAGEMAKER_CONTAINER_LOAD, str(model_dir), str(csv)],
        capture_output=True,
        text=True,
        check=True,
    )
    version, *lines = done.stdout.split()
    assert version == "1.7.6"
    served = np.array([float(v) for v in lines])
    expected = trainer.predict(load_booster(trained), np.loadtxt(csv, delimiter=",").astype(np.float32))
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------ card and metrics


def test_model_card_fields(trained, features_dir):
    card = json.loads((trained / artifact.MODEL_CARD).read_text())
    assert card["features"] == list(MODEL_INPUT)
    assert card["serving_threshold"] == SERVING_THRESHOLD
    assert (
        card["artifact"]["member"] == "xgboost-model"
        and card["artifact"]["sagemaker_xgboost_container"] == "1.7-1"
    )
    assert card["artifact"]["sha256"] == artifact.sha256(trained / artifact.TARBALL)
    files = splits.training_files(features_dir)
    assert card["data"]["sha256"] == splits.files_sha256(files) and card["data"]["files"] == 3
    assert (
        card["data"]["dates"]["train_start"] == "2020-01-15"
        and card["data"]["dates"]["test_start"] == "2020-05-15"
    )
    test = card["data"]["splits"]["test"]
    assert test["first"] >= "2020-05-15" and test["rows"] > 0
    assert set(card["hyperparameters"]) >= {
        "max_depth",
        "eta",
        "gamma",
        "min_child_weight",
        "subsample",
        "num_round",
    }
    assert card["metrics"]["test"]["pr_auc"] == json.loads((trained / artifact.METRICS).read_text())["pr_auc"]
    assert card["packages"]["xgboost"] == xgb.__version__ and "numpy" in card["packages"]
    assert card["training_seconds"] > 0 and card["training_cpu_seconds"] > 0


def test_metrics_file_matches_sklearn_on_the_test_set(table, trained):
    m = json.loads((trained / artifact.METRICS).read_text())
    parts = splits.split(table)
    scores = trainer.predict(load_booster(trained), parts.test.x)
    y = parts.test.y
    assert m["rows"] == len(y) and m["positives"] == int(y.sum())
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, scores))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, scores))
    at = m["at_serving_threshold"]
    flagged = scores >= SERVING_THRESHOLD
    assert at["threshold"] == SERVING_THRESHOLD
    assert at["precision"] == pytest.approx(skm.precision_score(y, flagged, zero_division=0))
    assert at["recall"] == pytest.approx(skm.recall_score(y, flagged))
    assert at["f1"] == pytest.approx(skm.f1_score(y, flagged))
    tn, fp, fn, tp = skm.confusion_matrix(y, flagged).ravel()
    assert at["confusion_matrix"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert "validation" in m and m["validation"]["rows"] > 0


def test_metrics_agree_with_sklearn_on_tiny_sets_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = (rng.random(60) < 0.3).astype(int)
        y[0], y[1] = 0, 1
        s = np.round(rng.random(60) * 0.6 + y * 0.2, 1)  # many ties
        m = evaluate.metrics(y, s, threshold=0.5, target_precision=0.6)
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
        assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
        precision, recall, thresholds = skm.precision_recall_curve(y, s)
        ok = [(t, r) for p, r, t in zip(precision[:-1], recall[:-1], thresholds, strict=True) if p >= 0.6]
        target = m["at_target_precision"]
        if ok:
            best_t, best_r = max(ok, key=lambda tr: (tr[1], tr[0]))
            assert target["recall"] == pytest.approx(best_r) and target["threshold"] == pytest.approx(best_t)
            assert target["precision"] >= 0.6
        else:
            assert target["threshold"] is None


def test_metrics_without_positives_are_null_not_nan():
    m = evaluate.metrics(np.zeros(5), np.linspace(0, 1, 5))
    assert m["pr_auc"] is None and m["roc_auc"] is None
    json.dumps(m, allow_nan=False)


# ---------------------------------------------------------------------------------------------- report


def test_report_embeds_every_plot_and_the_feature_importance(trained):
    from PIL import Image

    report_dir = trained / "report"
    page = (report_dir / "index.html").read_text()
    assert {"calibration.png", "importance.png", "roc.png", "pr.png", "scores.png"} <= set(report.PLOTS)
    for name in report.PLOTS:
        path = report_dir / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as img:
            img.verify()
            assert img.size[0] > 300 and img.size[1] > 300
        assert f'src="{name}"' in page and f'alt="{report.PLOTS[name]}"' in page
    assert "PR AUC" in page and str(SERVING_THRESHOLD) in page
    assert "Feature importance" in page and all(f"<th>{f}</th>" in page for f in MODEL_INPUT)


def test_importance_is_the_boosters_gain_for_every_feature_highest_first(trained):
    booster = load_booster(trained)
    gains = report.importance(booster, MODEL_INPUT)
    assert set(gains) == set(MODEL_INPUT) and list(gains.values()) == sorted(gains.values(), reverse=True)
    for name, gain in booster.get_score(importance_type="gain").items():
        assert gains[name] == pytest.approx(gain)


# ------------------------------------------------------------------------------------------------ CLI


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """Run the CLI in process (fast); returns (exit code, stderr)."""
    try:
        code = train_cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--features", "/nonexistent", "--out", "{tmp}/o"], "no such directory"),
        (["--features", "{tmp}", "--out", "{tmp}/o"], "training"),
        (["--features", "{features}", "--out", "{tmp}/o", "--test-start", "2020-13-01"], "not a date"),
        (["--features", "{features}", "--out", "{tmp}/o", "--test-start", "2020-01-01"], "must be after"),
        (["--features", "{features}", "--out", "{tmp}/o", "--eta", "0"], "eta"),
        (["--features", "{features}", "--out", "{tmp}/o", "--rounds", "x"], "invalid int"),
        (
            ["--features", "{features}", "--out", "{tmp}/o", "--test-start", "2021-01-01"],
            "test split is empty",
        ),
        (["--out", "{tmp}/o"], "required"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, message, features_dir, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, features=features_dir) for a in args]
    code, err = _cli([*argv, "--quiet"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err


def test_cli_corrupt_parquet_is_one_line(tmp_path, capsys):
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "part-0.parquet").write_bytes(b"garbage")
    code, err = _cli(["--features", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Parquet" in err


def test_cli_missing_feature_column_is_named(tmp_path, table, capsys):
    synthetic.write_training_dir(tmp_path, table.drop_columns([MODEL_INPUT[-1]]), files=1)
    code, err = _cli(["--features", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 2 and MODEL_INPUT[-1] in err


def test_cli_as_a_process_prints_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jobs.train", "--features", str(tmp_path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2 and done.stderr.startswith("error:") and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------- ablation


def test_oracle_window_gap_and_chain_features_match_hand_counts():
    import duckdb

    from jobs.training import ablation

    two_min = Aggregate("num_trans", "count", None, Window("2m", "sliding", timedelta(minutes=2)), "test")
    max_10m = Aggregate("max_amt", "max", "amount", Window("10m", "sliding", timedelta(minutes=10)), "test")
    base = datetime(2020, 3, 1, tzinfo=UTC).timestamp()
    # card 1: a ordinary, then a fraud chain b-c (90 s apart), then d, f: a second chain (> 120 s after c)
    rows = [
        ("a", 0, 1, 10.0, 0),
        ("b", 60, 1, 30.0, 1),
        ("b", 60, 1, 30.0, 1),
        ("c", 150, 1, 5.0, 1),
        ("d", 400, 1, 7.0, 1),
        ("f", 500, 1, 8.0, 1),
        ("e", 100, 2, 99.0, 0),
    ]  # "b" twice: counted once
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE transactions (tid VARCHAR, trans_ts TIMESTAMPTZ, cc_num BIGINT, amount DOUBLE, "
        "fraud_label INTEGER)"
    )
    con.executemany(
        "INSERT INTO transactions VALUES (?, to_timestamp(?), ?, ?, ?)",
        [(t, base + s, c, a, y) for t, s, c, a, y in rows],
    )
    columns = [
        two_min.name,
        max_10m.name,
        ablation.LAG_FEATURE,
        "secs_since_prev_trans_2",
        "prev_amount_1",
        ablation.PREV_LABEL,
        ablation.CHAIN_POSITION,
    ]
    got = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT tid, {', '.join(columns)} FROM ({ablation.oracle_sql([two_min, max_10m])}) ORDER BY tid"
        ).fetchall()
    }
    assert got == {
        "a": (1, 10.0, -1, -1, -1, 0, 0),
        "b": (2, 30.0, 60, -1, 10.0, 0, 1),
        "c": (2, 30.0, 90, 150, 30.0, 1, 2),
        "d": (1, 30.0, 250, 340, 5.0, 1, 1),
        "f": (2, 30.0, 100, 350, 7.0, 1, 2),
        "e": (1, 99.0, -1, -1, -1, 0, 0),
    }


def test_recall_by_chain_position():
    from jobs.training import ablation

    y = np.array([0, 1, 1, 1, 1, 1, 0], dtype=np.float32)
    positions = np.array([0, 1, 2, 3, 1, 2, 0], dtype=np.float32)
    scores = np.array([0.9, 0.1, 0.3, 0.8, 0.2, 0.25, 0.0])
    got = ablation.by_chain_position(y, scores, positions, threshold=0.25)
    assert got == {
        "1": {"frauds": 2, "caught": 0, "recall": 0.0},
        "2": {"frauds": 2, "caught": 2, "recall": 1.0},
        "3": {"frauds": 1, "caught": 1, "recall": 1.0},
    }


def test_ablation_runs_leave_one_out_and_add_one():
    from jobs.training import ablation

    runs = dict(ablation.experiments(["a", "b"], ["c"], oracle=["c", "o"]))
    assert runs == {
        "base": ["a", "b"],
        "-a": ["b"],
        "-b": ["a"],
        "+c": ["a", "b", "c"],
        "+all candidates": ["a", "b", "c"],
        "oracle of the past": ["a", "b", "c", "o"],
        "oracle + previous label (not servable)": ["a", "b", "c", "o", ablation.PREV_LABEL],
    }
    assert [label for label, _ in ablation.experiments(["a"], ["c"], ["oracle"], ["o"])] == [
        "base",
        "oracle of the past",
        "oracle + previous label (not servable)",
    ]


def test_ablation_oracle_plan_end_to_end(tmp_path):
    """GIVEN a generated history and its training table WHEN the oracle plan runs THEN it reports the
    base, the oracle and the label run, with recall by chain position over every test fraud."""
    from jobs.aggregate import run as aggregate
    from jobs.training import ablation
    from simulator.generate import CHAIN_LENGTH, generate, write

    history = tmp_path / "history.parquet"
    write(
        generate(
            cards=60,
            transactions=30_000,
            start=datetime(2020, 1, 1, tzinfo=UTC),
            end=datetime(2020, 6, 1, tzinfo=UTC),
            fraud_ratio=0.01,
            seed=5,
        ),
        history,
    )
    aggregate("duckdb", str(history), str(tmp_path / "features"), log=lambda _m: None)
    out = tmp_path / "ablation.json"
    assert (
        ablation.main(
            [
                "--features",
                str(tmp_path / "features"),
                "--history",
                str(history),
                "--plan",
                "oracle",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    runs = {r["run"]: r for r in report["runs"]}
    assert list(runs) == ["base", "oracle of the past", "oracle + previous label (not servable)"]
    assert runs["oracle of the past"]["features"][: len(MODEL_INPUT)] == list(MODEL_INPUT)
    test_frauds = int(
        splits.split(splits.read_table(splits.training_files(tmp_path / "features"))).test.y.sum()
    )
    for r in runs.values():
        positions = r["recall_by_chain_position"]
        assert sum(p["frauds"] for p in positions.values()) == test_frauds
        assert (
            sorted(map(int, positions)) == list(range(1, len(positions) + 1))
            and len(positions) <= CHAIN_LENGTH[1]
        )
        assert 0 <= r["pr_auc"] <= 1
    assert sum(r["frauds"] for r in report["timing_patterns"]["patterns"]) == test_frauds
    md = out.with_suffix(".md").read_text()
    assert "| position | frauds |" in md and "| timing pattern |" in md


def test_timing_patterns_count_chain_like_gaps():
    from jobs.training import ablation

    # gaps to the previous and the second previous transaction (-1: none)
    gap_1 = np.array([-1, 10, 60, 60, 60, 200, 45], dtype=np.float32)
    gap_2 = np.array([-1, -1, -1, 400, 150, 300, 200], dtype=np.float32)
    assert ablation.chain_like_gaps(gap_1, gap_2).tolist() == [0, 0, 1, 1, 2, 0, 1]
    columns = [ablation.LAG_FEATURE, ablation.ORACLE_EXTRA[1]]
    y = np.array([0, 0, 1, 0, 1, 0, 0], dtype=np.float32)
    part = splits.Part("test", np.column_stack([gap_1, gap_2]), y, np.zeros(len(y), dtype="datetime64[us]"))
    got = ablation.timing_patterns(part, columns)
    assert [(r["frauds"], r["ordinary"]) for r in got["patterns"]] == [(0, 3), (1, 2), (1, 0)]
    # ranked 2 > 1 > 0: the two-gap fraud first (precision 1), then 1 fraud among 3 one-gap rows
    assert got["pr_auc_scoring_by_pattern"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 4))
