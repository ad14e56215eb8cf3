"""python -m jobs.consistency: served feature vectors against the batch job's, per transaction.

Joins the prediction records (newline-delimited JSON, a file or a directory of them, gzip or not)
with the batch job's training rows by tid, and writes OUT/consistency.json and OUT/REPORT.md:
the match rate over every served transaction, per-feature match rates, each mismatch's reason,
and the as-served ROC AUC / PR AUC against the same model scored on the batch features.
Exit 1 when the share of unexplained mismatches is above --max-unexplained.
"""

from __future__ import annotations

import argparse
import sys

from jobs.consistency.job import JobError, run
from tools.cli import OneLineErrors

DEFAULT_MAX_UNEXPLAINED = 0.001


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def parser(prog: str = "python -m jobs.consistency") -> argparse.ArgumentParser:
    p = OneLineErrors(
        prog=prog, description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--predictions", required=True, help="prediction records: a file or a directory of them")
    p.add_argument(
        "--features",
        required=True,
        help="the batch job's output (training/ and snapshots/ under it) or its training/ directory",
    )
    p.add_argument("--model", required=True, help="the served model.tar.gz")
    p.add_argument("--out", required=True, help="directory for consistency.json and REPORT.md")
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb", help="SQL engine")
    p.add_argument(
        "--max-unexplained",
        type=share,
        default=DEFAULT_MAX_UNEXPLAINED,
        help="largest share of served transactions left unexplained before the job fails",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = run(args.engine, args.predictions, args.features, args.model, args.out, args.max_unexplained)
    except JobError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {args.out.rstrip('/')}/REPORT.md (match rate {100 * result['match_rate']:.3f}%)")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
