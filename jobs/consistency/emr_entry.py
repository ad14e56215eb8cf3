"""The daily consistency run, as EMR Serverless runs it after the batch refresh.

spark-submit --py-files <bundle> emr_entry.py --predictions s3://... --features s3://...
    --model s3://.../model.tar.gz --out s3://... --metric-namespace NS [--region R]
    [--max-unexplained SHARE] [--scheduled-time 2026-12-07T02:30:00Z]

1. The consistency job (jobs.consistency, Spark engine) compares the prediction records (the
   Firehose archive, s3://<bucket>/predictions/dt=YYYY-MM-DD/) with the batch job's rows and
   writes consistency.json and REPORT.md under --out. With --scheduled-time (the schedule passes
   its own, EventBridge Scheduler's <aws.scheduler.scheduled-time>) only the partition of the UTC day
   before is read, and the report goes under --out's dt=<that day>/: one figure a day, each
   prediction compared once, the reports kept side by side.
2. The match rate (0..1) goes to CloudWatch as metric `MatchRate` (unit None, no dimensions) in
   --metric-namespace: the alarm and the dashboard read it there.
Exit 0 when the unexplained share is within --max-unexplained; 1 above it or on a bad input (the
run then shows FAILED in EMR Serverless). The metric is published either way.

Runs on the release's Python (3.9 on emr-7.x): this file and everything it imports stay
3.9-compatible; besides the standard library and PySpark they need the job's dependency archive
(jobs/consistency/emr-requirements.txt: boto3, XGBoost, scikit-learn, numpy, scipy, as ./deps).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from jobs.batch.compat import UTC, parse_zoned_time
from jobs.batch.emr_entry import use_shipped_dependencies
from jobs.consistency.__main__ import DEFAULT_MAX_UNEXPLAINED, share
from jobs.consistency.job import JobError, run
from tools.cli import OneLineErrors

METRIC_NAME = "MatchRate"


def served_day(scheduled_time: str) -> str:
    """The UTC day before `scheduled_time` (ISO 8601, e.g. 2026-12-07T02:30:00Z) as YYYY-MM-DD: the
    archive's partition the run compares. ValueError when it is not such a time."""
    return (parse_zoned_time(scheduled_time).astimezone(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


def day_partition(prefix: str, day: str) -> str:
    return f"{prefix.rstrip('/')}/dt={day}/"


def cloudwatch_client(region: str | None):
    use_shipped_dependencies()
    import boto3

    return boto3.client("cloudwatch", region_name=region) if region else boto3.client("cloudwatch")


def publish(client: Any, namespace: str, match_rate: float) -> None:
    """One datum: MatchRate, unit None, no dimensions (what the alarm's metric names)."""
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": METRIC_NAME, "Value": float(match_rate), "Unit": "None"}],
    )


def consistency(
    predictions: str,
    features: str,
    model: str,
    out: str,
    namespace: str,
    client: Any,
    *,
    max_unexplained: float = DEFAULT_MAX_UNEXPLAINED,
    engine: str = "spark",
    log: Callable[[str], None] = print,
    **engine_options: Any,
) -> int:
    """Run the job, publish its match rate; returns the exit status."""
    result = run(engine, predictions, features, model, out, max_unexplained, log=log, **engine_options)
    publish(client, namespace, result["match_rate"])
    log(
        f"[consistency] {METRIC_NAME} {result['match_rate']:.6f} published to {namespace}; "
        f"unexplained {result['unexplained_share']:.6f} (threshold {max_unexplained:g}); report {out}"
    )
    return 0 if result["passed"] else 1


def main(argv: list | None = None) -> int:
    parser = OneLineErrors(
        prog="emr_entry.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", required=True, help="s3:// prefix of the prediction records")
    parser.add_argument("--features", required=True, help="s3:// prefix of the batch job's output")
    parser.add_argument("--model", required=True, help="s3:// URI of the served model.tar.gz")
    parser.add_argument("--out", required=True, help="s3:// prefix for consistency.json and REPORT.md")
    parser.add_argument("--metric-namespace", required=True, help="CloudWatch namespace of MatchRate")
    parser.add_argument("--region", default=None, help="CloudWatch region (default: the run's)")
    parser.add_argument(
        "--max-unexplained",
        type=share,
        default=DEFAULT_MAX_UNEXPLAINED,
        help=f"largest unexplained share before the run fails (default: {DEFAULT_MAX_UNEXPLAINED})",
    )
    parser.add_argument(
        "--scheduled-time",
        help="the schedule's time (ISO 8601 UTC): compare the predictions of the UTC day before it only",
    )
    args = parser.parse_args(argv)
    for flag in ("predictions", "features", "model", "out"):
        value = getattr(args, flag)
        if not value.startswith("s3://"):
            parser.error(f"--{flag} must be an s3:// URI, got {value!r}")
    predictions, out = args.predictions, args.out
    if args.scheduled_time is not None:
        try:
            day = served_day(args.scheduled_time)
        except ValueError as err:
            parser.error(f"--scheduled-time must be an ISO 8601 time with a zone: {err}")
        predictions, out = day_partition(predictions, day), day_partition(out, day)
    use_shipped_dependencies()  # before anything imports boto3
    try:
        return consistency(
            predictions,
            args.features,
            args.model,
            out,
            args.metric_namespace,
            cloudwatch_client(args.region),
            max_unexplained=args.max_unexplained,
        )
    except JobError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
