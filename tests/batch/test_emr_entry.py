"""The daily refresh's entry point, its bundle and the by-hand launch of the scheduled run.

The loader is a fake with the interface of jobs.feature_load.load_records; the job
runs with the embedded engine on local files (the Spark path is the same code with another engine).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from features.codec import encode_transaction
from features.definition import EVENT_TIME_FEATURE, SOURCE
from jobs.batch import emr_entry
from jobs.batch.launch import request_from_terraform
from packager import emr_job
from tests.batch.histories import deliver, read_output, write_parquet
from tests.batch.reference import Tx

DAY_MS = 86_400_000
RUN_ARN = (
    "arn:aws:emr-serverless:us-east-1:123456789012:/applications/00fabc123def4567/jobruns/00fabc123def4568"
)
# The fixture the batch_refresh module's `terraform test` compares the schedule's input with.
SCHEDULED_INPUT = Path("terraform/modules/batch_refresh/tests/start_job_run.json")


@dataclass
class LoadResult:
    written: int
    failed: int
    failures: list = field(default_factory=list)


class FakeLoader:
    """load_records(records, feature_group, client, *, workers, progress) -> LoadResult."""

    def __init__(self, fail_cards: frozenset[int] = frozenset()) -> None:
        self.fail_cards = fail_cards
        self.calls: list[dict] = []

    def __call__(self, records, feature_group, client, *, workers=8, progress=None):
        rows = list(records)
        self.calls.append(
            {"rows": rows, "feature_group": feature_group, "client": client, "workers": workers}
        )
        failed = [r for r in rows if r[SOURCE.entity] in self.fail_cards]
        return LoadResult(len(rows) - len(failed), len(failed), [f"card {r[SOURCE.entity]}" for r in failed])


def history(tmp_path: Path) -> Path:
    # Two cards; the history ends on day 18263 (2020-01-02), so the latest snapshot is 2020-01-03 00:00 UTC.
    day = 18_262 * DAY_MS
    return write_parquet(
        tmp_path / "history.parquet",
        [
            Tx("a", day + 3_600_000, 4_000_000_000_000_001, 10.0),
            Tx("b", day + DAY_MS + 7_200_000, 4_000_000_000_000_001, 30.0),
            Tx("c", day + DAY_MS + 9_000_000, 4_000_000_000_000_002, 5.0),
        ],
    )


def test_refresh_writes_the_features_then_loads_the_latest_snapshot(tmp_path):
    loader, logs = FakeLoader(), []
    status = emr_entry.refresh(
        str(history(tmp_path)),
        str(tmp_path / "features"),
        "fraud-cc-agg-batch-fg",
        client="the-client",
        loader=loader,
        engine="duckdb",
        workers=4,
        log=logs.append,
    )
    assert status == 0
    (call,) = loader.calls
    online = read_output(tmp_path / "features", "online")
    assert sorted(call["rows"], key=lambda r: r[SOURCE.entity]) == sorted(
        online, key=lambda r: r[SOURCE.entity]
    )
    assert {r[EVENT_TIME_FEATURE] for r in call["rows"]} == {18_264 * 86_400.0}
    assert (call["feature_group"], call["client"], call["workers"]) == (
        "fraud-cc-agg-batch-fg",
        "the-client",
        4,
    )
    assert logs[-1] == (
        "[refresh] fraud-cc-agg-batch-fg: 2 written, 0 failed of 2 records (snapshot 2020-01-03T00:00+00:00)"
    )


def test_the_live_archive_moves_the_snapshot_to_the_day_after_the_last_live_transaction(tmp_path):
    """What makes the daily refresh advance on AWS: yesterday's served transactions, archived."""
    served_ms = 18_264 * DAY_MS + 3_600_000  # 2020-01-03 01:00 UTC, after the history's end
    today_ms = 18_265 * DAY_MS + 300_000  # 2020-01-04 00:05, in the archive when the run starts
    archive = deliver(
        tmp_path / "transactions",
        [
            encode_transaction("live-1", 4_000_000_000_000_001, 20.0, served_ms),
            encode_transaction("live-2", 4_000_000_000_000_002, 7.0, today_ms),
        ],
        datetime(2020, 1, 3, 23, 59, tzinfo=UTC),  # one object straddling midnight
    )
    loader, logs = FakeLoader(), []
    status = emr_entry.refresh(
        str(history(tmp_path)),
        str(tmp_path / "features"),
        "fraud-cc-agg-batch-fg",
        client="the-client",
        loader=loader,
        engine="duckdb",
        log=logs.append,
        live=str(archive),
        now=datetime(2020, 1, 4, 0, 15, tzinfo=UTC),  # the schedule's 00:15
    )
    assert status == 0
    (call,) = loader.calls
    card = {r[SOURCE.entity]: r for r in call["rows"]}[4_000_000_000_000_001]
    # the snapshot of the midnight just passed, not of the next one today's transaction would make
    assert card[EVENT_TIME_FEATURE] == 18_265 * 86_400.0
    assert logs[-1].endswith("of 2 records (snapshot 2020-01-04T00:00+00:00)")
    assert any("1 from 2020-01-04T00:00:00+00:00 on left for the next run" in line for line in logs)
    training = {r["tid"]: r for r in read_output(tmp_path / "features", "training")}
    assert training["live-1"][SOURCE.label_column] is None and "live-2" not in training


def test_last_midnight_is_utc():
    assert emr_entry.last_midnight(datetime(2026, 12, 7, 0, 15, tzinfo=UTC)) == datetime(
        2026, 12, 7, tzinfo=UTC
    )
    tokyo = timezone(timedelta(hours=9))
    assert emr_entry.last_midnight(datetime(2026, 12, 7, 8, 0, tzinfo=tokyo)) == datetime(
        2026, 12, 6, tzinfo=UTC
    )


def test_a_failed_record_fails_the_run_after_loading_the_rest(tmp_path):
    loader, logs = FakeLoader(fail_cards=frozenset({4_000_000_000_000_002})), []
    status = emr_entry.refresh(
        str(history(tmp_path)),
        str(tmp_path / "out"),
        "fg",
        None,
        loader=loader,
        engine="duckdb",
        log=logs.append,
    )
    assert status == 1
    assert (
        "1 written, 1 failed of 2 records" in logs[-2]
        and logs[-1] == "[refresh] failed: card 4000000000000002"
    )


def test_bad_arguments_are_one_line_errors(capsys):
    args = ["--output", "s3://b/features/", "--feature-group", "fg", "--region", "us-east-1"]
    with pytest.raises(SystemExit) as exit_info:
        emr_entry.main(["--history", "/local/history", *args])
    assert exit_info.value.code == 2 and "--history must be an s3:// URI" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        emr_entry.main(["--history", "s3://b/history/", "--live", "transactions/", *args])
    assert exit_info.value.code == 2 and "--live must be an s3:// URI" in capsys.readouterr().err


def test_bundle_is_the_entry_points_import_closure_and_reproducible(tmp_path):
    first = emr_job.build(tmp_path / "a.zip", allow_missing=True)
    second = emr_job.build(tmp_path / "b.zip", allow_missing=True)
    assert first.read_bytes() == second.read_bytes()
    names = set(zipfile.ZipFile(first).namelist())
    assert {
        "jobs/batch/emr_entry.py",
        "jobs/aggregate.py",
        "jobs/batch/engines.py",
        "jobs/batch/compat.py",
        "features/batch_sql.py",
        "features/__init__.py",
        "jobs/__init__.py",
    } <= names
    # Not imported by the job: not shipped (the launcher, training, the Flink app, the renderers).
    assert not names & {"jobs/batch/launch.py", "jobs/train.py", "jobs/flink/app.py", "features/artifacts.py"}
    _, missing = emr_job.closure()
    assert missing == [] and "jobs/feature_load.py" in names  # the loader goes with the job


def test_packaging_refuses_a_bundle_without_a_module_the_job_imports(tmp_path):
    (tmp_path / "jobs" / "batch").mkdir(parents=True)
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "batch" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "batch" / "emr_entry.py").write_text("from jobs.feature_load import load_records\n")
    with pytest.raises(emr_job.PackagingError, match=r"imports missing module\(s\): jobs.feature_load"):
        emr_job.build(tmp_path / "x.zip", root=tmp_path)


def test_the_scheduled_input_is_a_valid_start_job_run_request(monkeypatch):
    """The schedule's input (the fixture `terraform test` holds the module to) in boto3's names is a
    request botocore accepts against the EMR Serverless service model; --from-terraform sends it."""
    scheduled = json.loads(SCHEDULED_INPUT.read_text())
    request = request_from_terraform({"start_job_run": scheduled}, client_token="token")
    client = boto3.client(
        "emr-serverless", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "start_job_run",
            {
                "applicationId": scheduled["ApplicationId"],
                "jobRunId": "run-1",
                "arn": RUN_ARN,
            },
            request,
        )
        assert client.start_job_run(**request)["jobRunId"] == "run-1"
    driver = request["jobDriver"]["sparkSubmit"]
    assert driver["sparkSubmitParameters"].startswith("--py-files s3://")
    # The entry point's own parser takes the scheduled arguments.
    seen = {}
    monkeypatch.setattr(emr_entry, "feature_store_client", lambda region: f"client-{region}")
    monkeypatch.setattr(
        emr_entry, "refresh", lambda *args, **kwargs: seen.update(args=args, kwargs=kwargs) or 0
    )
    assert emr_entry.main(driver["entryPointArguments"]) == 0
    assert seen["args"] == (
        "s3://unit-data-1/history/",
        "s3://unit-data-1/features/",
        "unit-cc-agg-batch-fg",
        "client-us-east-1",
    )


@pytest.mark.spark
def test_refresh_with_spark_reads_online_back_through_the_session(tmp_path):
    """The engine EMR runs: the online rows come back through Spark itself (no pandas or pyarrow)."""
    import shutil

    if shutil.which("java") is None:
        pytest.skip("prerequisite missing: Java 17 for Spark")
    loader = FakeLoader()
    status = emr_entry.refresh(
        str(history(tmp_path)),
        str(tmp_path / "features"),
        "fg",
        None,
        loader=loader,
        engine="spark",
        log=lambda line: None,
    )
    assert status == 0
    (call,) = loader.calls
    online = read_output(tmp_path / "features", "online")
    key = SOURCE.entity
    assert sorted(call["rows"], key=lambda r: r[key]) == sorted(online, key=lambda r: r[key])


def test_launch_from_terraform_sends_the_scheduled_request_with_its_own_token(monkeypatch, capsys):
    from jobs.batch import launch

    scheduled = json.loads(SCHEDULED_INPUT.read_text())
    monkeypatch.setattr(
        launch, "terraform_output", lambda root: {"start_job_run": scheduled, "region": "us-east-1"}
    )
    assert launch.main(["--from-terraform", "--dry-run"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["applicationId"] == scheduled["ApplicationId"]
    assert request["clientToken"] == "dry-run" and request["name"] == "unit-daily-refresh-by-hand"
    assert (
        request["jobDriver"]["sparkSubmit"]["entryPoint"]
        == scheduled["JobDriver"]["SparkSubmit"]["EntryPoint"]
    )
    with pytest.raises(SystemExit) as exit_info:
        launch.main(["--dry-run"])
    assert exit_info.value.code == 2 and "--application-id is required" in capsys.readouterr().err
