"""The daily refresh, as EMR Serverless runs it: aggregate the history, then load cc-agg-batch-fg.

spark-submit --py-files batch-job.zip emr_entry.py --history s3://... --output s3://...
    --feature-group NAME --region REGION [--live s3://...]

1. The batch job (jobs.aggregate, Spark engine) over the whole history, and the live archive (the
   transactions stream as Firehose archives it) when given, writes training/, snapshots/, online/
   and _SUCCESS under --output. Of the archive it takes the transactions before the last UTC
   midnight: by the time the run starts it already holds some of today's, whose snapshot (tomorrow
   midnight's) is the next run's to compute, from the whole day.
2. The online/ rows, the latest snapshot of every card (its UTC midnight as event time), are read
   back through the same Spark session and written to the batch feature group with PutRecord
   (jobs.feature_load.load_records).
Exit 0 when every record is written; 1 on a bad input or when any record failed (the run then
shows FAILED in EMR Serverless).

Runs on the release's Python (3.9 on emr-7.x, Amazon Linux 2023): this file and everything it
imports stay 3.9-compatible and need only the standard library, PySpark and boto3 at run time.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from features.definition import EVENT_TIME_FEATURE
from jobs import aggregate
from jobs.batch.compat import UTC
from tools.cli import OneLineErrors

# load_records(records, feature_group, client, *, workers, progress) -> LoadResult(written, failed, failures)
Loader = Callable[..., Any]


class Snapshot:
    """Counts the records handed to the loader and remembers their latest event time."""

    def __init__(self) -> None:
        self.records = 0
        self.event_time: float | None = None

    def track(self, rows: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for row in rows:
            self.records += 1
            value = row.get(EVENT_TIME_FEATURE)
            if value is not None and (self.event_time is None or value > self.event_time):
                self.event_time = float(value)
            yield row

    def describe(self) -> str:
        if self.event_time is None:
            return "no snapshot"
        midnight = datetime.fromtimestamp(self.event_time, tz=UTC)
        return f"snapshot {midnight.isoformat(timespec='minutes')}"


def last_midnight(now: datetime) -> datetime:
    """The UTC midnight at or before `now` (aware): the latest snapshot this run may compute."""
    utc = now.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def default_loader() -> Loader:
    from jobs.feature_load import load_records

    return load_records


def use_shipped_dependencies(directory: str = "deps") -> None:
    """Put build/emr/batch-deps.zip (boto3 for Python 3.9), which spark.archives unpacks into the
    driver's working directory as ./deps, first on sys.path, when it is there."""
    path = os.path.abspath(directory)
    if os.path.isdir(path) and path not in sys.path:
        sys.path.insert(0, path)


def feature_store_client(region: str):
    use_shipped_dependencies()
    import boto3

    return boto3.client("sagemaker-featurestore-runtime", region_name=region)


def refresh(
    history: str,
    output: str,
    feature_group: str,
    client,
    *,
    loader: Loader | None = None,
    engine: str = "spark",
    workers: int = 8,
    log: Callable[[str], None] = print,
    live: str | None = None,
    now: datetime | None = None,
    **engine_options: Any,
) -> int:
    """Run the job and load its latest snapshots; returns the exit status. `now`: the run's start
    (default: the clock), which sets the live archive's cut-off."""
    load = loader or default_loader()
    snapshot = Snapshot()
    outcome: dict[str, Any] = {}

    def load_online(eng) -> None:
        rows = snapshot.track(eng.read_rows(f"{output.rstrip('/')}/online"))
        outcome["result"] = load(rows, feature_group, client, workers=workers)

    live_until = last_midnight(now or datetime.now(UTC)) if live else None
    aggregate.run(
        engine, history, output, log, after=load_online, live=live, live_until=live_until, **engine_options
    )
    result = outcome["result"]
    log(
        f"[refresh] {feature_group}: {result.written:,} written, {result.failed:,} failed "
        f"of {snapshot.records:,} records ({snapshot.describe()})"
    )
    for failure in list(result.failures)[:5]:
        log(f"[refresh] failed: {failure}")
    return 1 if result.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="emr_entry.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--history", required=True, help="s3:// history (Parquet prefix)")
    parser.add_argument("--output", required=True, help="s3:// prefix the job writes its outputs under")
    parser.add_argument(
        "--feature-group", required=True, help="batch feature group to load (cc-agg-batch-fg)"
    )
    parser.add_argument("--region", required=True, help="region of the feature group")
    parser.add_argument("--workers", type=int, default=8, help="concurrent PutRecord calls (default: 8)")
    parser.add_argument(
        "--live", help="s3:// archive of the transactions stream (*.json.gz lines, unlabeled), added"
    )
    args = parser.parse_args(argv)
    for flag, value in (("--history", args.history), ("--output", args.output), ("--live", args.live)):
        if value is not None and not value.startswith("s3://"):
            parser.error(f"{flag} must be an s3:// URI, got {value!r}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    # Before anything imports boto3 (the loader may, at import time).
    use_shipped_dependencies()
    try:
        return refresh(
            args.history,
            args.output,
            args.feature_group,
            feature_store_client(args.region),
            workers=args.workers,
            live=args.live,
        )
    except aggregate.JobError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
