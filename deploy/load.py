"""The `load` step: current snapshots of a history into the batch feature group (jobs/feature_load.py).

The online TTL of cc-agg-batch-fg counts from a record's event time, the snapshot's UTC midnight
(DESIGN.md), so snapshots of an old history expire as they are written (issue 14, defect 2). The
step therefore loads snapshots of a history that ends now: generated (the simulator's generator,
--start/--end), aggregated with the batch job (DuckDB), and uploaded to the data bucket under
history/ so the daily refresh goes on from it. Given --snapshots (the batch job's online/ output,
a folder or an s3:// URL), it loads those instead.

On a root without a cloud endpoint (envs/local: deployment endpoint_name ""), the Feature Store is
the project's stand-in, `local_aws.feature_store serve` over a SQLite file in the work folder.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deploy.terraform import FlowError

ROOT = Path(__file__).resolve().parent.parent
HISTORY_KEY = "history/generated.parquet"  # one object, replaced on each run (the refresh reads history/)
Log = Callable[[str], None]


@dataclass(frozen=True)
class HistorySpec:
    # About 1.3 transactions per card and day, the rate of the demo's history the model is trained on.
    cards: int = 1000
    transactions: int = 36_000
    days: int = 28  # the 1-week snapshots need a week before the last midnight
    seed: int = 42


def uses_stand_ins(deployment: Mapping[str, str]) -> bool:
    """No cloud endpoint (endpoint_name "") = the local stand-ins serve the model and features."""
    return deployment["endpoint_name"] == ""


def use_localstack_defaults() -> None:
    """On a stand-in root, boto3 talks to LocalStack unless the environment already says where (tests, CI)."""
    import os

    from profiles import localstack_server as localstack

    for name, value in localstack.client_environment().items():
        os.environ.setdefault(name, value)


def current_history(work: Path, spec: HistorySpec, now: datetime, log: Log) -> Any:
    """A history ending at the start of the current UTC day, aggregated (history.parquet, features/online)."""
    from profiles.steps import Layout, aggregate, generate_history

    layout = Layout(work)
    # The history ends at the start of the current UTC day: the batch job's latest snapshot is at the
    # midnight after the last transaction, so it is today's 00:00, not tomorrow's (a snapshot from
    # the future would mark every transaction of today as older than its card's snapshot).
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=spec.days)
    log(
        f"history: {spec.transactions:,} transactions on {spec.cards:,} cards, {start:%Y-%m-%d} to {end:%Y-%m-%d} 00:00 UTC"
    )
    generate_history(layout, spec.cards, spec.transactions, start, end, spec.seed)
    log("history: aggregating it with the batch job (DuckDB)")
    aggregate(layout)
    return layout


def upload_history(s3: Any, bucket: str, history: Path) -> str:
    s3.upload_file(str(history), bucket, HISTORY_KEY)
    return f"s3://{bucket}/{HISTORY_KEY}"


def snapshot_rows(snapshots: str, s3: Any) -> Iterator[dict[str, object]]:
    from jobs.feature_load import parquet_rows, s3_parquet_rows

    if snapshots.startswith("s3://"):
        return s3_parquet_rows(snapshots, s3)
    if not Path(snapshots).exists():
        raise FlowError(f"{snapshots} does not exist")
    return parquet_rows(snapshots)


def load(rows: Iterator[dict[str, object]], group: str, client: Any, workers: int, log: Log) -> Any:
    """PutRecord every row (jobs.feature_load) with a progress bar; fails the step when a record failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from jobs.feature_load import load_records

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True) as bar:
        task = bar.add_task(f"PutRecord {group}", total=None)
        result = load_records(rows, group, client, workers=workers, progress=lambda n: bar.advance(task, n))
    log(result.summary(group))
    for rid, reason in result.failures[:5]:
        log(f"  failed {rid}: {reason}")
    if result.failed:
        raise FlowError(f"{result.failed:,} record(s) could not be written to {group}")
    if not result.written:
        raise FlowError(f"no snapshot rows to write to {group}")
    return result


def _free_port() -> int:
    from profiles.localstack import free_port

    return free_port()


@contextlib.contextmanager
def local_feature_store(db: Path, name_prefix: str, log_path: Path) -> Iterator[str]:
    """The stand-in Feature Store runtime API on 127.0.0.1 over `db`, for as long as the block runs."""
    port = _free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_aws.feature_store",
                "serve",
                "--db",
                str(db),
                "--port",
                str(port),
                "--name-prefix",
                f"{name_prefix}-",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise FlowError(f"the local feature store exited with {process.returncode} (log {log_path})")
            try:
                urllib.request.urlopen(url + "/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise FlowError(f"the local feature store did not answer on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def runtime_client(region: str, endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.client("sagemaker-featurestore-runtime", region_name=region, endpoint_url=endpoint_url)


def aws_client(service: str, region: str) -> Any:
    """A boto3 client configured by the environment (AWS_ENDPOINT_URL points it at LocalStack)."""
    import boto3

    return boto3.client(service, region_name=region)
