"""A small batch output, a model, and prediction records built from it with known defects.

The history is generated (simulator.generate) and aggregated by the batch job (DuckDB); the model
is a small XGBoost booster trained on the training rows. Predictions are the batch rows of a period
as the score function would have served them, then altered so that every reason occurs:
  - `late`: a transaction dropped from the predictions, and the card's next transaction within
    10 minutes served with the dropped one missing from its 10-minute count;
  - `stale`: 1-week features replaced by the card's snapshot one midnight earlier;
  - `caveat`: 1-week features zeroed with an unknown-card caveat;
  - `ratio`: amt_ratio2 off with its operands right (unexplained);
  - `drift`: num_trans_last_10m off with nothing dropped before it (unexplained);
  - `tiny`: avg_amt_last_10m off by 1e-12 relative (equal within the tolerance);
  - a same-timestamp pair with a differing count, a duplicate record, a record for an unknown tid,
    a gzip file, a line that is not JSON.
"""

from __future__ import annotations

import gzip
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xgboost as xgb

from features.definition import EVENT_TIME_FEATURE, MODEL_INPUT
from jobs.aggregate import run as aggregate
from jobs.training.artifact import write_tarball
from simulator.generate import generate, write

DAY_MS = 86_400_000


@dataclass
class Case:
    root: Path
    features: Path
    model: Path
    predictions: Path
    records: list[dict] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)  # tid -> reason planted


def ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record(row: dict, probability: float, caveats: list[str] | None = None) -> dict:
    return {
        "tid": row["tid"],
        "cc_num": row["cc_num"],
        "amount": row["amount"],
        "trans_ts": ts(row["event_ms"]),
        "features": {n: row[n] for n in MODEL_INPUT},
        "probability": probability,
        "fraud": probability >= 0.25,
        "threshold": 0.25,
        "caveats": caveats or [],
        "event_to_prediction_ms": 12.5,
    }


def build(root: Path) -> Case:
    history = root / "history.parquet"
    table = generate(
        cards=60,
        transactions=12_000,
        start=datetime(2020, 1, 1),
        end=datetime(2020, 1, 29),
        fraud_ratio=0.02,
        seed=5,
    )
    # a same-timestamp pair: a copy of a transaction of the last days on the same card, one cent more
    rows = table.to_pylist()
    src = next(r for r in rows if r["trans_ts"] >= datetime(2020, 1, 26, tzinfo=UTC))
    twin = dict(src, tid="twin" + src["tid"][4:], amount=src["amount"] + 0.01)
    write(pa.Table.from_pylist([*rows, twin], schema=table.schema), history)
    out = root / "features"
    aggregate("duckdb", str(history), str(out), log=lambda *_: None)
    training = pq.read_table(out / "training").to_pylist()
    for r in training:
        r["event_ms"] = round(r["trans_ts"].timestamp() * 1000)
    x = np.asarray([[r[n] for n in MODEL_INPUT] for r in training], dtype=np.float32)
    y = np.asarray([r["fraud_label"] for r in training])
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 1},
        xgb.DMatrix(x, label=y, feature_names=list(MODEL_INPUT)),
        num_boost_round=12,
    )
    model = write_tarball(booster, root / "model")
    # served: the last 3 days; probabilities from the booster, as the endpoint would
    start = datetime(2020, 1, 26, tzinfo=UTC).timestamp() * 1000
    period = sorted((r for r in training if r["event_ms"] >= start), key=lambda r: (r["event_ms"], r["tid"]))
    probs = booster.inplace_predict(
        np.asarray([[r[n] for n in MODEL_INPUT] for r in period], dtype=np.float32)
    )
    served = [dict(r) for r in period]
    expected: dict[str, str] = {}
    snapshots = {
        (s["cc_num"], round(s[EVENT_TIME_FEATURE] * 1000)): s
        for s in pq.read_table(out / "snapshots").to_pylist()
    }
    peers = {(r["cc_num"], r["event_ms"]) for r in training if r["tid"].startswith("twin")}
    usable = [r for r in served if (r["cc_num"], r["event_ms"]) not in peers]

    # late: drop a transaction whose card has another one within 10 minutes after it
    dropped = None
    by_card: dict[int, list[dict]] = {}
    for r in usable:
        by_card.setdefault(r["cc_num"], []).append(r)
    for txs in by_card.values():
        for a, b in itertools.pairwise(txs):
            if 0 < b["event_ms"] - a["event_ms"] < 5 * 60_000 and dropped is None:
                dropped, after = a, b
    assert dropped is not None
    gap = after["event_ms"] - dropped["event_ms"]
    n = after["num_trans_last_10m"]
    after["avg_amt_last_10m"] = (after["avg_amt_last_10m"] * n - dropped["amount"]) / (n - 1)
    for minutes in (2, 5, 10):
        if gap <= minutes * 60_000:
            after[f"num_trans_last_{minutes}m"] -= 1
    _ratios(after)
    expected[after["tid"]] = "late_or_dead_lettered"
    chosen = {dropped["tid"], after["tid"]}

    def pick(condition) -> dict:
        row = next(r for r in usable if r["tid"] not in chosen and condition(r))
        chosen.add(row["tid"])
        return row

    day = lambda r: r["event_ms"] // DAY_MS * DAY_MS  # noqa: E731
    stale = pick(
        lambda r: (
            (prev := snapshots.get((r["cc_num"], day(r) - DAY_MS))) is not None
            and prev["num_trans_last_1w"] != r["num_trans_last_1w"]
            and r["num_trans_last_10m"] == 1
        )
    )
    prev = snapshots[(stale["cc_num"], day(stale) - DAY_MS)]
    stale["num_trans_last_1w"], stale["avg_amt_last_1w"] = prev["num_trans_last_1w"], prev["avg_amt_last_1w"]
    _ratios(stale)
    expected[stale["tid"]] = "snapshot_not_loaded"
    caveat = pick(lambda r: r["num_trans_last_1w"] > 0 and r["num_trans_last_10m"] == 1)
    caveat["num_trans_last_1w"], caveat["avg_amt_last_1w"] = 0, 0.0
    _ratios(caveat)
    expected[caveat["tid"]] = "snapshot_not_loaded"
    ratio = pick(lambda r: r["amt_ratio2"] > 0)
    ratio["amt_ratio2"] *= 1.01
    expected[ratio["tid"]] = "unexplained"
    drift = pick(lambda r: r["num_trans_last_10m"] == 1)
    drift["num_trans_last_10m"] = 2
    expected[drift["tid"]] = "unexplained"
    tiny = pick(lambda r: r["avg_amt_last_10m"] > 1)
    tiny["avg_amt_last_10m"] *= 1 + 1e-12
    expected[tiny["tid"]] = "match"
    twin_row = next(r for r in served if r["tid"].startswith("twin"))
    twin_row["num_trans_last_10m"] -= 1
    expected[twin_row["tid"]] = "same_timestamp_peers"

    records = [
        record(r, float(p), ["unknown-card"] if r is caveat else None)
        for r, p in zip(served, probs, strict=True)
        if r is not dropped
    ]
    ghost = dict(records[0], tid="not-a-batch-tid")
    expected[ghost["tid"]] = "not_in_batch"
    duplicate = dict(records[5])
    predictions = root / "predictions"
    predictions.mkdir()
    half = len(records) // 2
    (predictions / "part-1.json").write_text(
        "\n".join(json.dumps(r) for r in records[:half]) + "\nnot json\n\n" + json.dumps(duplicate) + "\n"
    )
    # Firehose's GZIP objects carry no extension
    (predictions / "part-2").write_bytes(
        gzip.compress(("\n".join(json.dumps(r) for r in [*records[half:], ghost]) + "\n").encode())
    )
    (predictions / "_SUCCESS").write_text("")
    return Case(root, out, model, predictions, [*records, ghost], expected)


def _ratios(r: dict) -> None:
    w = r["avg_amt_last_1w"]
    r["amt_ratio1"] = r["avg_amt_last_10m"] / w if w else 0.0
    r["amt_ratio2"] = r["amount"] / w if w else 0.0
    n = r["num_trans_last_1w"]
    r["count_ratio"] = r["num_trans_last_10m"] / n if n else 0.0
