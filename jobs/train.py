"""python -m jobs.train: train the fraud model on the batch job's training table.

Writes into --out: model.tar.gz (member `xgboost-model`, served by SageMaker's built-in XGBoost
container 1.7-1), model_card.json, metrics.json (test period) and report/index.html with plots.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jobs.training import evaluate, job, splits, trainer
from tools.cli import OneLineErrors


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = OneLineErrors(
        prog="python -m jobs.train",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--features", type=Path, required=True, help="the batch job's output folder (holds training/)"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="folder for model.tar.gz, model card, metrics, report"
    )
    p.add_argument(
        "--train-start",
        type=_date,
        default=splits.DEFAULT_TRAIN_START,
        help="rows before this UTC date are dropped (window warm-up)",
    )
    p.add_argument(
        "--test-start",
        type=_date,
        default=splits.DEFAULT_TEST_START,
        help="rows from this UTC date on are the test set",
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=splits.DEFAULT_VALIDATION_FRACTION,
        help="share of [train-start, test-start) held out for validation",
    )
    p.add_argument(
        "--target-precision",
        type=float,
        default=evaluate.DEFAULT_TARGET_PRECISION,
        help="metrics.json reports the threshold reaching this precision",
    )
    p.add_argument("--threads", type=int, default=None, help="training threads (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    defaults = trainer.Hyperparameters()
    for f in fields(trainer.Hyperparameters):
        flag = "--rounds" if f.name == "num_round" else "--" + f.name.replace("_", "-")
        kind = int if isinstance(getattr(defaults, f.name), int) else float
        p.add_argument(
            flag,
            dest=f.name,
            type=kind,
            default=None,
            help=f"XGBoost {f.name} (default {getattr(defaults, f.name)})",
        )
    return p


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console(stderr=True, quiet=args.quiet, log_path=False)
    try:
        hp = trainer.Hyperparameters().with_overrides(
            **{f.name: getattr(args, f.name) for f in fields(trainer.Hyperparameters)}
        )
        dates = splits.SplitDates(args.train_start, args.test_start, args.validation_fraction, hp.seed)
        if not 0 < args.target_precision <= 1:
            raise ValueError(f"target precision must be in (0, 1], got {args.target_precision}")
        if args.threads is not None and args.threads < 1:
            raise ValueError("threads must be at least 1")
        if not args.features.is_dir():
            raise splits.DataError(f"{args.features}: no such directory")
        # Started at the first round only, so an early error prints nothing but its line.
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metric]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        rounds = progress.add_task("training rounds", total=hp.num_round, metric="")

        def on_round(done: int, latest: dict[str, float]) -> None:
            if not progress.live.is_started:
                progress.start()
            metric = "  ".join(f"{k} {v:.5f}" for k, v in latest.items())
            progress.update(rounds, completed=done, metric=metric)

        try:
            outputs = job.run(
                args.features,
                args.out,
                dates,
                hp,
                args.target_precision,
                args.threads,
                on_step=lambda text: console.log(text),
                on_round=on_round,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    m = outputs.metrics_content
    serving = m["at_serving_threshold"]
    console.print(
        f"trained in {outputs.training_seconds:.1f} s; test PR AUC {_num(m['pr_auc'])}, ROC AUC {_num(m['roc_auc'])}, "
        f"precision {_num(serving['precision'])} / recall {_num(serving['recall'])} at {serving['threshold']}"
    )
    for path in (outputs.tarball, outputs.model_card, outputs.metrics, outputs.report):
        console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
