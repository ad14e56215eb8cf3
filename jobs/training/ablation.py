"""What each feature contributes: leave-one-out ablation and candidate-feature experiments.

- Ablation: train without one feature at a time; the test PR AUC lost is its contribution.
- Candidates: sliding-window aggregates not (yet) in the definition, computed by a scratch
  DuckDB query over the history with the batch renderer's own window expression, joined to the
  training table by transaction id; each is trained with the definition's features and scored.
  A candidate that earns its place becomes one `Aggregate` line in features/definition.py.
- Oracle of the past (`--plan oracle`): the definition's features plus a generous set of
  past-only per-card features (gaps to the previous 1..5 transactions, counts over 30 s .. 1 d,
  amount statistics, previous amounts): a measured bound on what streaming-computable features
  reach on this history. One more run adds the previous transaction's label, which serving never
  has (labels arrive days later): it shows what the first row of a chain costs.
- Timing patterns: test rows by how many chain-like gaps (30..120 s, the generator's) lead up
  to them, frauds against ordinary rows, and the PR AUC of scoring by that count alone: where
  the ceiling comes from, counted rather than modelled.
- Every run reports recall at the serving threshold by position within the fraud chain. The
  generator keeps chains on one card more than 120 s apart, so a card's fraud rows split at gaps
  > 120 s give the chains back exactly (simulator/generate.py).

python -m jobs.training.ablation --features DIR --history FILE [--plan P] [--train-rows N] [--out FILE.json]
  (--out also writes FILE.md, the tables a person reads)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from features.batch_sql import DUCKDB, sliding_expr
from features.definition import MODEL_INPUT, SERVING_THRESHOLD, SOURCE, Aggregate, Window
from jobs.training import evaluate, splits, trainer
from tools.cli import OneLineErrors


def _window(minutes: float) -> Window:
    suffix = (
        f"{int(minutes * 60)}s"
        if minutes < 1
        else (f"{int(minutes)}m" if minutes < 60 else f"{int(minutes // 60)}h")
    )
    return Window(suffix=suffix, kind="sliding", length=timedelta(minutes=minutes))


def _agg(prefix: str, function: str, column: str | None, minutes: float) -> Aggregate:
    return Aggregate(prefix, function, column, _window(minutes), f"candidate: {function} over {minutes} min")  # type: ignore[arg-type]


CANDIDATES: tuple[Aggregate, ...] = (
    _agg("num_trans", "count", None, 0.5),
    _agg("num_trans", "count", None, 1),
    _agg("num_trans", "count", None, 2),
    _agg("num_trans", "count", None, 3),
    _agg("num_trans", "count", None, 5),
    _agg("num_trans", "count", None, 60),
    _agg("num_trans", "count", None, 24 * 60),
    _agg("max_amt", "max", "amount", 10),
    _agg("min_amt", "min", "amount", 10),
    _agg("sum_amt", "sum", "amount", 10),
)
# Candidates already in the definition are its features, not candidates.
CANDIDATES = tuple(a for a in CANDIDATES if a.name not in MODEL_INPUT)
# Not expressible as a window aggregate today (needs a `lag` kind); measured for information.
LAG_FEATURE = "secs_since_prev_trans"

# The oracle of the past: every candidate, every count window from 30 s to 1 day, amount
# statistics over 10 min and 1 day, the gaps to the previous ORACLE_GAPS transactions and the
# previous two amounts. One query computes them all (`oracle_sql`); candidates are a subset.
_ORACLE_MORE = (
    *(_agg("num_trans", "count", None, m) for m in (0.5, 1, 2, 3, 5, 10, 60, 24 * 60)),
    *(
        _agg(prefix, function, "amount", m)
        for m in (10, 24 * 60)
        for prefix, function in (
            ("avg_amt", "avg"),
            ("max_amt", "max"),
            ("min_amt", "min"),
            ("sum_amt", "sum"),
        )
    ),
)
ORACLE_AGGREGATES: tuple[Aggregate, ...] = tuple(
    {a.name: a for a in (*CANDIDATES, *_ORACLE_MORE) if a.name not in MODEL_INPUT}.values()
)
ORACLE_GAPS = 5
ORACLE_EXTRA: tuple[str, ...] = (
    LAG_FEATURE,
    *(f"secs_since_prev_trans_{k}" for k in range(2, ORACLE_GAPS + 1)),
    "prev_amount_1",
    "prev_amount_2",
)
PREV_LABEL = "prev_fraud_label"  # not servable: a transaction's label is known days later
CHAIN_POSITION = "chain_position"  # 1-based position in its fraud chain; 0 for ordinary rows
# Seconds between consecutive transactions of a fraud chain, inclusive: the generator's
# (simulator.generate.CHAIN_GAP_SECONDS, which a test checks), `--chain-gap-s` for another history.
CHAIN_GAP_S = (30, 120)
ORACLE_FEATURES: tuple[str, ...] = (*(a.name for a in ORACLE_AGGREGATES), *ORACLE_EXTRA)
ORACLE_COLUMNS: tuple[str, ...] = (*ORACLE_FEATURES, PREV_LABEL, CHAIN_POSITION)


@dataclass(frozen=True)
class Outcome:
    features: tuple[str, ...]
    pr_auc: float | None
    roc_auc: float | None
    at_threshold: dict
    by_position: dict[str, dict]
    seconds: float


def oracle_sql(
    aggregates: Sequence[Aggregate] = ORACLE_AGGREGATES, chain_gap_s: tuple[int, int] = CHAIN_GAP_S
) -> str:
    """tid + `aggregates` (the batch renderer's window expression), ORACLE_EXTRA, the previous
    label and the chain position (chains split at gaps above chain_gap_s), from a `transactions`
    view of the history."""
    entity, ts, tid, amount = SOURCE.entity, SOURCE.event_time, SOURCE.id_column, SOURCE.amount_column
    label = SOURCE.label_column
    gaps = ",\n  ".join(
        f"COALESCE((event_ms - LAG(event_ms, {k}) OVER w) / 1000.0, -1) AS {name}"
        for k, name in enumerate(ORACLE_EXTRA[:ORACLE_GAPS], start=1)
    )
    windows = ",\n  ".join(sliding_expr(a) for a in aggregates)
    return f"""
WITH tx AS (
  SELECT *, {DUCKDB.epoch_ms.format(ts)} AS event_ms,
         ROW_NUMBER() OVER (PARTITION BY {tid} ORDER BY {ts}, {entity}, {amount}) AS tid_seen
  FROM transactions
), dedup AS (SELECT * FROM tx WHERE tid_seen = 1),
fraud AS (
  SELECT {tid}, {entity}, event_ms,
         CASE WHEN event_ms - LAG(event_ms) OVER (PARTITION BY {entity} ORDER BY event_ms, {tid})
                   <= {chain_gap_s[1] * 1000} THEN 0 ELSE 1 END AS starts_chain
  FROM dedup WHERE {label} = 1
), chains AS (
  SELECT {tid}, ROW_NUMBER() OVER (PARTITION BY {entity}, chain ORDER BY event_ms, {tid}) AS {CHAIN_POSITION}
  FROM (SELECT *, SUM(starts_chain) OVER (PARTITION BY {entity} ORDER BY event_ms, {tid}
                                          ROWS UNBOUNDED PRECEDING) AS chain FROM fraud)
)
SELECT d.{tid},
  {windows},
  {gaps},
  COALESCE(LAG({amount}, 1) OVER w, -1) AS prev_amount_1,
  COALESCE(LAG({amount}, 2) OVER w, -1) AS prev_amount_2,
  COALESCE(LAG({label}) OVER w, 0) AS {PREV_LABEL},
  COALESCE(c.{CHAIN_POSITION}, 0) AS {CHAIN_POSITION}
FROM dedup d LEFT JOIN chains c USING ({tid})
WINDOW w AS (PARTITION BY d.{entity} ORDER BY event_ms, d.{tid})"""


def with_oracle(features_dir: Path, history: Path, chain_gap_s: tuple[int, int] = CHAIN_GAP_S) -> pa.Table:
    """The training table's columns plus the oracle's columns (`oracle_sql`), joined by tid."""
    files = splits.training_files(features_dir)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW transactions AS SELECT * FROM read_parquet('{history}')")
    con.execute(f"CREATE TABLE extra AS {oracle_sql(chain_gap_s=chain_gap_s)}")
    columns = ", ".join(f"t.{c}" for c in splits.COLUMNS)
    extra = ", ".join(f"e.{c}" for c in ORACLE_COLUMNS)
    paths = ", ".join(f"'{f}'" for f in files)
    return con.sql(
        f"SELECT {columns}, {extra} FROM read_parquet([{paths}]) t JOIN extra e USING ({SOURCE.id_column})"
    ).to_arrow_table()


def by_chain_position(
    y: np.ndarray, scores: np.ndarray, positions: np.ndarray, threshold: float = SERVING_THRESHOLD
) -> dict[str, dict]:
    """Frauds, caught and recall at `threshold` per position within the fraud chain (1 = first)."""
    flagged = scores >= threshold
    out: dict[str, dict] = {}
    for position in np.unique(positions[y == 1]).astype(int):
        at = (y == 1) & (positions == position)
        caught = int(flagged[at].sum())
        out[str(position)] = {"frauds": int(at.sum()), "caught": caught, "recall": caught / int(at.sum())}
    return out


TIMING_PATTERNS = (
    "no chain-like gap before",
    "one chain-like gap before",
    "two or more chain-like gaps before",
)


def chain_like_gaps(
    gap_1: np.ndarray, gap_2: np.ndarray, chain_gap_s: tuple[int, int] = CHAIN_GAP_S
) -> np.ndarray:
    """0, 1 or 2: how many of the last two gaps between the card's transactions lie in the
    generator's chain range. gap_k = seconds since the k-th previous transaction (-1: none)."""
    low, high = chain_gap_s
    first = (gap_1 >= low) & (gap_1 <= high)
    earlier = np.where(gap_2 >= 0, gap_2 - gap_1, -1)
    return first.astype(int) + (first & (earlier >= low) & (earlier <= high)).astype(int)


def timing_patterns(
    part: splits.Part, columns: Sequence[str], chain_gap_s: tuple[int, int] = CHAIN_GAP_S
) -> dict:
    """Frauds and ordinary rows per timing pattern, and the PR AUC of scoring by the pattern alone."""
    col = list(columns).index
    steps = chain_like_gaps(part.x[:, col(LAG_FEATURE)], part.x[:, col(ORACLE_EXTRA[1])], chain_gap_s)
    fraud = part.y == 1
    rows = [
        {
            "pattern": name,
            "frauds": int((fraud & (steps == k)).sum()),
            "ordinary": int((~fraud & (steps == k)).sum()),
        }
        for k, name in enumerate(TIMING_PATTERNS)
    ]
    for r in rows:
        r["fraud_share"] = r["frauds"] / max(r["frauds"] + r["ordinary"], 1)
    return {
        "chain_gap_s": list(chain_gap_s),
        "patterns": rows,
        "pr_auc_scoring_by_pattern": evaluate.pr_auc(part.y, steps),
    }


def score(
    parts: splits.Splits,
    columns: Sequence[str],
    features: Sequence[str],
    hp: trainer.Hyperparameters,
    train_rows: int | None,
    nthread: int | None,
) -> Outcome:
    """Train on `features` (a subset of `columns`, the matrix's column order) and score the test set."""
    idx = [list(columns).index(f) for f in features]
    x_train, y_train = parts.train.x, parts.train.y
    if train_rows and train_rows < len(y_train):
        keep = np.random.default_rng(hp.seed).choice(len(y_train), train_rows, replace=False)
        x_train, y_train = x_train[keep], y_train[keep]
    started = time.perf_counter()
    trained = trainer.train(x_train[:, idx], y_train, None, None, tuple(features), hp, nthread)
    scores = trainer.predict(trained.booster, parts.test.x[:, idx])
    y = parts.test.y
    at = evaluate.at_threshold(y, scores, SERVING_THRESHOLD)
    positions = (
        parts.test.x[:, list(columns).index(CHAIN_POSITION)]
        if CHAIN_POSITION in columns
        else np.zeros_like(y)
    )
    return Outcome(
        tuple(features),
        evaluate.pr_auc(y, scores),
        evaluate.roc_auc(y, scores),
        at,
        by_chain_position(y, scores, positions),
        time.perf_counter() - started,
    )


PLANS = ("leave-one-out", "add-one", "oracle")


def experiments(
    base: Sequence[str],
    candidates: Sequence[str],
    plans: Sequence[str] = PLANS,
    oracle: Sequence[str] = ORACLE_FEATURES,
) -> list[tuple[str, list[str]]]:
    """(label, features): the base, then per plan: base minus each feature; base plus each
    candidate and plus all; base plus the oracle's features, and plus the previous label."""
    runs = [("base", list(base))]
    if "leave-one-out" in plans:
        runs += [(f"-{f}", [g for g in base if g != f]) for f in base]
    if "add-one" in plans:
        runs += [(f"+{c}", [*base, c]) for c in candidates]
        runs.append(("+all candidates", [*base, *candidates]))
    if "oracle" in plans:
        runs.append(("oracle of the past", [*base, *oracle]))
        runs.append(("oracle + previous label (not servable)", [*base, *oracle, PREV_LABEL]))
    return runs


def run(
    parts: splits.Splits,
    columns: Sequence[str],
    runs: list[tuple[str, list[str]]],
    hp: trainer.Hyperparameters,
    train_rows: int | None = None,
    nthread: int | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    results: list[dict] = []
    base_ap: float | None = None
    for label, features in runs:
        o = score(parts, columns, features, hp, train_rows, nthread)
        if base_ap is None:
            base_ap = o.pr_auc
        delta = None if o.pr_auc is None or base_ap is None else o.pr_auc - base_ap
        row = {
            "run": label,
            "features": list(features),
            "pr_auc": o.pr_auc,
            "roc_auc": o.roc_auc,
            "delta_pr_auc_vs_base": delta,
            "at_serving_threshold": o.at_threshold,
            "recall_by_chain_position": o.by_position,
            "seconds": round(o.seconds, 1),
        }
        results.append(row)
        log(f"{label:40s} PR AUC {o.pr_auc or 0:.4f}  delta {delta or 0:+.4f}  ({o.seconds:.0f} s)")
    return results


def markdown(results: list[dict], meta: dict) -> str:
    """The tables a person reads: PR AUC per run, recall by chain position per run, timing patterns."""
    lines = [
        f"# Feature ablation and the oracle of the past\n\n{meta['note']}\n",
        "| run | test PR AUC | delta vs base | ROC AUC | precision @ thr | recall @ thr |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        at = r["at_serving_threshold"]
        lines.append(
            f"| {r['run']} | {r['pr_auc']:.4f} | {r['delta_pr_auc_vs_base']:+.4f} | {r['roc_auc']:.4f} | "
            f"{at['precision']:.3f} | {at['recall']:.3f} |"
        )
    positions = sorted({int(k) for r in results for k in r["recall_by_chain_position"]})
    if positions:
        shown = [r for r in results if not r["run"].startswith(("-", "+"))]
        lines += [
            "",
            f"Recall at the serving threshold {SERVING_THRESHOLD} by position within the fraud chain "
            "(test frauds at that position):",
            "",
            "| position | frauds | " + " | ".join(r["run"] for r in shown) + " |",
            "|---|---|" + "---|" * len(shown),
        ]
        for pos in positions:
            cells = [r["recall_by_chain_position"].get(str(pos), {}) for r in shown]
            frauds = next((c["frauds"] for c in cells if c), 0)
            lines.append(
                f"| {pos} | {frauds} | " + " | ".join(f"{c.get('recall', 0):.3f}" for c in cells) + " |"
            )
    timing = meta.get("timing_patterns")
    if timing:
        lines += [
            "",
            f"Test rows by the gaps before them (chain-like: {'..'.join(map(str, timing['chain_gap_s']))} s); "
            f"scoring by this count alone gives PR AUC {timing['pr_auc_scoring_by_pattern']:.4f}:",
            "",
            "| timing pattern | frauds | ordinary | fraud share |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['pattern']} | {r['frauds']} | {r['ordinary']} | {r['fraud_share']:.4f} |"
            for r in timing["patterns"]
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineErrors(prog="python -m jobs.training.ablation", description=__doc__.splitlines()[0])
    p.add_argument("--features", type=Path, required=True, help="the batch job's output folder")
    p.add_argument("--history", type=Path, required=True, help="the history Parquet the batch job read")
    p.add_argument("--train-rows", type=int, default=None, help="train on a seeded sample of this many rows")
    p.add_argument(
        "--plan",
        nargs="+",
        choices=PLANS,
        default=list(PLANS),
        help="runs besides the base: leave-one-out, add-one candidate, oracle (default: all)",
    )
    p.add_argument("--only", nargs="*", default=None, help="run labels to run (default: the plan's)")
    p.add_argument(
        "--combo", action="append", default=[], help="extra run: comma-separated candidates added together"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="write the results as JSON here, and as Markdown beside it"
    )
    p.add_argument(
        "--chain-gap-s",
        nargs=2,
        type=int,
        default=CHAIN_GAP_S,
        metavar=("LOW", "HIGH"),
        help="seconds between a fraud chain's transactions, inclusive (default: the generator's, %(default)s)",
    )
    args = p.parse_args(argv)
    try:
        started = time.perf_counter()
        table = with_oracle(args.features, args.history, tuple(args.chain_gap_s))
    except (ValueError, OSError, duckdb.Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"history features computed in {time.perf_counter() - started:.0f} s")
    candidates = [a.name for a in CANDIDATES] + [LAG_FEATURE]
    columns = [*MODEL_INPUT, *ORACLE_COLUMNS]
    parts = splits.split(table, splits.SplitDates(), tuple(columns))
    runs = experiments(MODEL_INPUT, candidates, args.plan)
    if args.only is not None:
        runs = [r for r in runs if r[0] in args.only]
    runs += [("+" + "+".join(c.split(",")), [*MODEL_INPUT, *c.split(",")]) for c in args.combo]
    results = run(parts, columns, runs, trainer.Hyperparameters(), args.train_rows)
    if args.out:
        sampled = (
            f"a seeded sample of {args.train_rows} training rows" if args.train_rows else "every training row"
        )
        meta = {
            "train_rows": args.train_rows or parts.train.rows,
            "test_rows": parts.test.rows,
            "timing_patterns": timing_patterns(parts.test, columns, tuple(args.chain_gap_s)),
            "note": f"Trained on {sampled} (of {parts.train.rows}), seed hyperparameters; "
            f"scored on the whole test period ({parts.test.rows} rows, {int(parts.test.y.sum())} frauds).",
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**meta, "runs": results}, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
