"""python -m jobs.feature_load: write the batch job's latest snapshots into cc-agg-batch-fg (PutRecord).

The batch job's `online/` output holds one row per card (feature name -> value, the event time
being the snapshot's UTC midnight, DESIGN.md). Each row becomes one PutRecord call; calls run
concurrently on a small thread pool, within the Feature Store runtime quotas
(https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html):
  - 10,000 transactions per second per API per account (soft): `workers` threads each waiting for
    its call (tens of ms) stay one to two orders of magnitude below it;
  - 500 write request units per second per record identifier: every card is written once per run;
  - a record is at most 350 KB: a snapshot row is a few dozen bytes.
A throttled call (ThrottlingException, ServiceUnavailable, HTTP 429/5xx) is retried with capped
exponential backoff and jitter; any other error counts the record as failed, never raises. Re-running
is idempotent for the online store: the same record with the same event time leaves it unchanged
(a PutRecord only replaces an online record whose event time is older), so a retried or repeated
load converges to the same state.

Python 3.9-compatible syntax and stdlib + boto3 at import time: it also runs on EMR Serverless
(the daily refresh). pyarrow (reading Parquet) and rich (the progress bar) are imported lazily.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tools.cli import OneLineErrors

DEFAULT_WORKERS = 8
MAX_WORKERS = 64  # far below the 10,000 TPS per-account PutRecord quota even at ~1 ms per call
MAX_ATTEMPTS = 8
BASE_DELAY_S, MAX_DELAY_S = 0.05, 5.0
THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestLimitExceeded",
}
MAX_FAILURES_KEPT = 20  # a summary, not a log of every bad row


@dataclass
class LoadResult:
    written: int = 0
    failed: int = 0
    retried: int = 0  # throttled calls that were retried (not records)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record identifier, reason), first few

    def summary(self, feature_group: str) -> str:
        return f"{feature_group}: {self.written:,} written, {self.failed:,} failed ({self.retried:,} throttled calls retried)"


def value_text(value: Any) -> str | None:
    """A feature value as the ValueAsString PutRecord takes (None: the feature is left out)."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:  # the batch job writes naive UTC timestamps
            value = value.replace(tzinfo=_dt.timezone.utc)  # noqa: UP017 (datetime.UTC is 3.11+; EMR's Python is older)
        return repr(value.timestamp())
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return repr(value)
    if hasattr(value, "item"):  # numpy scalars
        return value_text(value.item())
    return str(value)


def to_record(row: Mapping[str, object]) -> list[dict[str, str]]:
    record = []
    for name, value in row.items():
        text = value_text(value)
        if text is not None:
            record.append({"FeatureName": name, "ValueAsString": text})
    return record


def is_throttling(err: Exception) -> bool:
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return False
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in THROTTLING or status == 429 or status >= 500


def backoff_s(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return rng() * min(MAX_DELAY_S, BASE_DELAY_S * (2**attempt))


def load_records(
    records: Iterable[Mapping[str, object]],
    feature_group: str,
    client: Any,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[int], None] | None = None,
    identifier: str = "cc_num",
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    target_stores: list[str] | None = None,
) -> LoadResult:
    """One PutRecord per record, `workers` at a time; never raises for a single record."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1..{MAX_WORKERS}, got {workers}")
    result = LoadResult()
    lock = threading.Lock()
    extra = {"TargetStores": target_stores} if target_stores else {}

    def put(row: Mapping[str, object]) -> None:
        rid = str(row.get(identifier, "?"))
        outcome, reason, retried = False, "", 0
        try:
            record = to_record(row)
            for attempt in range(max_attempts):
                try:
                    client.put_record(FeatureGroupName=feature_group, Record=record, **extra)
                    outcome = True
                    break
                except Exception as err:  # one bad record must not stop the load
                    reason = f"{type(err).__name__}: {str(err)[:200]}"
                    if not is_throttling(err) or attempt == max_attempts - 1:
                        break
                    retried += 1
                    sleep(backoff_s(attempt))
        except Exception as err:  # e.g. a value that cannot be rendered
            reason = f"{type(err).__name__}: {str(err)[:200]}"
        with lock:
            result.retried += retried
            if outcome:
                result.written += 1
            else:
                result.failed += 1
                if len(result.failures) < MAX_FAILURES_KEPT:
                    result.failures.append((rid, reason))
        if progress is not None:
            progress(1)

    # A bounded window of in-flight futures: the rows are streamed, never all held as futures at once.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="put-record") as pool:
        pending = []
        for row in records:
            pending.append(pool.submit(put, row))
            if len(pending) >= workers * 16:
                for future in pending:
                    future.result()
                pending = []
        for future in pending:
            future.result()
    return result


# ---------------------------------------------------------------- reading the snapshots


def parquet_rows(path: str) -> Iterator[dict[str, object]]:
    """Rows of a Parquet file or directory (pyarrow, imported here: not needed to import the module)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for batch in table.to_batches(max_chunksize=10_000):
        yield from batch.to_pylist()


def s3_parquet_rows(url: str, s3: Any) -> Iterator[dict[str, object]]:
    """Rows of every .parquet object under an s3://bucket/prefix, downloaded to a temporary folder."""
    bucket, _, prefix = url[len("s3://") :].partition("/")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]
    if not keys:
        raise ValueError(f"{url}: no .parquet objects")
    with tempfile.TemporaryDirectory() as tmp:
        for i, key in enumerate(sorted(keys)):
            s3.download_file(bucket, key, os.path.join(tmp, f"{i:05d}.parquet"))
        yield from parquet_rows(tmp)


def count_rows(path: str) -> int | None:
    if path.startswith("s3://"):
        return None
    import pyarrow.parquet as pq

    return pq.ParquetDataset(path).read(columns=[]).num_rows


def rich_progress(total: int | None, description: str):  # pragma: no cover - terminal output
    """A rich progress bar as (advance callback, context manager); plain stderr when rich is absent."""
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        return None, None
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    task = bar.add_task(description, total=total)
    return (lambda n: bar.advance(task, n)), bar


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m jobs.feature_load",
        description="Write the batch job's online/ snapshots into the batch feature group (PutRecord).",
    )
    parser.add_argument(
        "--snapshots",
        required=True,
        help="the batch job's online/ output: a local path or s3://bucket/prefix",
    )
    parser.add_argument(
        "--feature-group", required=True, help="feature group name (e.g. fraud-cc-agg-batch-fg)"
    )
    parser.add_argument("--region", default=None, help="AWS region (default: the environment's)")
    parser.add_argument(
        "--endpoint-url", default=None, help="Feature Store runtime endpoint (local stand-in)"
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="concurrent PutRecord calls")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= MAX_WORKERS:
        print(f"error: --workers must be 1..{MAX_WORKERS}", file=sys.stderr)
        return 2
    if not args.snapshots.startswith("s3://") and not os.path.exists(args.snapshots):
        print(f"error: {args.snapshots} does not exist (run the batch job first)", file=sys.stderr)
        return 2
    import boto3

    session = boto3.session.Session(region_name=args.region)
    if session.get_credentials() is None:
        print(
            "error: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run on a role)",
            file=sys.stderr,
        )
        return 2
    client = session.client("sagemaker-featurestore-runtime", endpoint_url=args.endpoint_url)
    try:
        if args.snapshots.startswith("s3://"):
            rows: Iterable[Mapping[str, object]] = s3_parquet_rows(args.snapshots, session.client("s3"))
        else:
            rows = parquet_rows(args.snapshots)
        total = count_rows(args.snapshots)
        advance, bar = (
            (None, None) if args.no_progress else rich_progress(total, f"PutRecord {args.feature_group}")
        )
        if bar is not None:
            with bar:
                result = load_records(
                    rows, args.feature_group, client, workers=args.workers, progress=advance
                )
        else:
            result = load_records(rows, args.feature_group, client, workers=args.workers)
    except Exception as err:  # unreadable input, no credentials: one line
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(result.summary(args.feature_group))
    for rid, reason in result.failures:
        print(f"  failed {rid}: {reason}", file=sys.stderr)
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
