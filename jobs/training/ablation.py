"""What each feature contributes: leave-one-out ablation and candidate-feature experiments.

- Ablation: train without one feature at a time; the test PR AUC lost is its contribution.
- Candidates: sliding-window aggregates not (yet) in the definition, computed by a scratch
  DuckDB query over the history with the batch renderer's own window expression, joined to the
  training table by transaction id; each is trained with the definition's features and scored.
  A candidate that earns its place becomes one `Aggregate` line in features/definition.py.

python -m jobs.training.ablation --features DIR --history FILE [--train-rows N] [--out FILE]
"""

from __future__ import annotations

import argparse
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

from features.batch_sql import DUCKDB, _sliding_expr
from features.definition import MODEL_INPUT, SOURCE, Aggregate, Window
from jobs.training import evaluate, splits, trainer


def _window(minutes: float) -> Window:
    suffix = f"{int(minutes * 60)}s" if minutes < 1 else (f"{int(minutes)}m" if minutes < 60 else f"{int(minutes // 60)}h")
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


@dataclass(frozen=True)
class Outcome:
    features: tuple[str, ...]
    pr_auc: float | None
    roc_auc: float | None
    seconds: float


def candidate_sql(candidates: Sequence[Aggregate]) -> str:
    """tid + each candidate (and the lag feature), from a `transactions` view of the history."""
    entity, ts, tid = SOURCE.entity, SOURCE.event_time, SOURCE.id_column
    exprs = ",\n  ".join(_sliding_expr(a) for a in candidates)
    return f"""
SELECT {tid},
  {exprs},
  COALESCE((event_ms - LAG(event_ms) OVER (PARTITION BY {entity} ORDER BY event_ms)) / 1000.0, -1) AS {LAG_FEATURE}
FROM (
  SELECT *, {DUCKDB.epoch_ms.format(ts)} AS event_ms,
         ROW_NUMBER() OVER (PARTITION BY {tid} ORDER BY {ts}, {entity}, {SOURCE.amount_column}) AS tid_seen
  FROM transactions
) tx
WHERE tid_seen = 1"""


def with_candidates(features_dir: Path, history: Path, candidates: Sequence[Aggregate] = CANDIDATES) -> pa.Table:
    """The training table's columns plus every candidate, joined by tid."""
    files = splits.training_files(features_dir)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW transactions AS SELECT * FROM read_parquet('{history}')")
    con.execute(f"CREATE TABLE extra AS {candidate_sql(candidates)}")
    columns = ", ".join(f"t.{c}" for c in splits.COLUMNS)
    extra = ", ".join(f"e.{a.name}" for a in candidates) + f", e.{LAG_FEATURE}"
    paths = ", ".join(f"'{f}'" for f in files)
    return con.execute(
        f"SELECT {columns}, {extra} FROM read_parquet([{paths}]) t JOIN extra e USING ({SOURCE.id_column})"
    ).to_arrow_table()


def score(parts: splits.Splits, columns: Sequence[str], features: Sequence[str], hp: trainer.Hyperparameters,
          train_rows: int | None, nthread: int | None) -> Outcome:
    """Train on `features` (a subset of `columns`, the matrix's column order) and score the test set."""
    idx = [list(columns).index(f) for f in features]
    x_train, y_train = parts.train.x, parts.train.y
    if train_rows and train_rows < len(y_train):
        keep = np.random.default_rng(hp.seed).choice(len(y_train), train_rows, replace=False)
        x_train, y_train = x_train[keep], y_train[keep]
    started = time.perf_counter()
    trained = trainer.train(x_train[:, idx], y_train, None, None, tuple(features), hp, nthread)
    scores = trainer.predict(trained.booster, parts.test.x[:, idx])
    c = evaluate.curve(parts.test.y, scores)
    return Outcome(tuple(features), evaluate.average_precision(c), evaluate.roc_auc(c), time.perf_counter() - started)


def experiments(base: Sequence[str], candidates: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(label, features): the base, base minus each feature, base plus each candidate, base plus all."""
    runs = [("base", list(base))]
    runs += [(f"-{f}", [g for g in base if g != f]) for f in base]
    runs += [(f"+{c}", [*base, c]) for c in candidates]
    runs.append(("+all candidates", [*base, *candidates]))
    return runs


def run(parts: splits.Splits, columns: Sequence[str], runs: list[tuple[str, list[str]]], hp: trainer.Hyperparameters,
        train_rows: int | None = None, nthread: int | None = None,
        log: Callable[[str], None] = print) -> list[dict]:
    results: list[dict] = []
    base_ap: float | None = None
    for label, features in runs:
        outcome = score(parts, columns, features, hp, train_rows, nthread)
        if base_ap is None:
            base_ap = outcome.pr_auc
        delta = None if outcome.pr_auc is None or base_ap is None else outcome.pr_auc - base_ap
        row = {"run": label, "features": list(features), "pr_auc": outcome.pr_auc, "roc_auc": outcome.roc_auc,
               "delta_pr_auc_vs_base": delta, "seconds": round(outcome.seconds, 1)}
        results.append(row)
        log(f"{label:32s} PR AUC {outcome.pr_auc:.4f}  delta {delta:+.4f}  ({outcome.seconds:.0f} s)")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.training.ablation", description=__doc__.splitlines()[0])
    p.add_argument("--features", type=Path, required=True, help="the batch job's output folder")
    p.add_argument("--history", type=Path, required=True, help="the history Parquet the batch job read")
    p.add_argument("--train-rows", type=int, default=None, help="train on a seeded sample of this many rows")
    p.add_argument("--plan", choices=("all", "leave-one-out", "add-one"), default="all",
                   help="base plus: leave-one-out runs, add-one-candidate runs, or both")
    p.add_argument("--only", nargs="*", default=None, help="run labels to run (default: the plan's)")
    p.add_argument("--combo", action="append", default=[], help="extra run: comma-separated candidates added together")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    try:
        table = with_candidates(args.features, args.history)
    except (ValueError, OSError, duckdb.Error) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    candidates = [a.name for a in CANDIDATES] + [LAG_FEATURE]
    columns = [*MODEL_INPUT, *candidates]
    parts = splits.split(table, splits.SplitDates(), tuple(columns))
    runs = experiments(MODEL_INPUT, candidates)
    if args.plan == "leave-one-out":
        runs = [r for r in runs if not r[0].startswith("+")]
    elif args.plan == "add-one":
        runs = [r for r in runs if not r[0].startswith("-")]
    if args.only is not None:
        runs = [r for r in runs if r[0] in args.only]
    runs += [("+" + "+".join(c.split(",")), [*MODEL_INPUT, *c.split(",")]) for c in args.combo]
    results = run(parts, columns, runs, trainer.Hyperparameters(), args.train_rows)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
