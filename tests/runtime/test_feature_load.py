"""jobs/feature_load.py against the local Feature Store's runtime API (boto3 over HTTP) and a throttling fake."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from features.feature_groups import group_for
from jobs import feature_load
from jobs.feature_load import load_records
from local_aws.feature_store import make_server

BATCH = group_for("daily_snapshot").name
MIDNIGHT = datetime(2026, 12, 6, tzinfo=UTC).timestamp()
ROOT = Path(__file__).resolve().parents[2]


def snapshot_rows(n: int, event: float = MIDNIGHT) -> list[dict[str, object]]:
    """Rows as the batch job's online/ output has them (cc_num, trans_time, the 1-week features)."""
    return [
        {
            "cc_num": 4_000_000_000_000_000 + i,
            "trans_time": event,
            "num_trans_last_1w": i % 7,
            "avg_amt_last_1w": 1.5 * i,
        }
        for i in range(n)
    ]


@pytest.fixture
def runtime(store):
    """A boto3 sagemaker-featurestore-runtime client on the local store's REST server."""
    server = make_server(store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield boto3.client(
            "sagemaker-featurestore-runtime",
            endpoint_url=f"http://127.0.0.1:{server.server_port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
    finally:
        server.shutdown()
        server.server_close()


def online(client, card: int) -> dict[str, str]:
    got = client.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString=str(card))
    return {f["FeatureName"]: f["ValueAsString"] for f in got.get("Record", [])}


def test_loads_every_row_concurrently_with_progress(runtime, store):
    rows = snapshot_rows(60)
    ticks: list[int] = []
    result = load_records(rows, BATCH, runtime, workers=8, progress=ticks.append)
    assert (result.written, result.failed) == (60, 0)
    assert sum(ticks) == 60
    assert online(runtime, 4_000_000_000_000_005) == {
        "cc_num": "4000000000000005",
        "trans_time": repr(MIDNIGHT),
        "num_trans_last_1w": "5",
        "avg_amt_last_1w": "7.5",
    }
    assert len(store.offline_records(BATCH)) == 60


def test_rerun_is_idempotent_online(runtime):
    rows = snapshot_rows(20)
    load_records(rows, BATCH, runtime)
    before = {r["cc_num"]: online(runtime, r["cc_num"]) for r in rows}
    again = load_records(rows, BATCH, runtime)
    assert (again.written, again.failed) == (20, 0)
    assert {r["cc_num"]: online(runtime, r["cc_num"]) for r in rows} == before


def test_bad_record_is_counted_not_raised(runtime):
    rows = snapshot_rows(5)
    rows[2] = {**rows[2], "no_such_feature": 1}
    result = load_records(rows, BATCH, runtime, workers=2)
    assert (result.written, result.failed) == (4, 1)
    assert result.failures[0][0] == str(rows[2]["cc_num"])
    assert "ValidationError" in result.failures[0][1]


class Throttling:
    """The real client behind a fake that throttles the first `times` calls for each record."""

    def __init__(self, client, times: int, always: set[str] = frozenset()) -> None:
        self.client, self.times, self.always = client, times, always
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def put_record(self, **kwargs):
        rid = next(f["ValueAsString"] for f in kwargs["Record"] if f["FeatureName"] == "cc_num")
        with self.lock:
            self.calls[rid] = self.calls.get(rid, 0) + 1
            throttle = rid in self.always or self.calls[rid] <= self.times
        if throttle:
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutRecord",
            )
        return self.client.put_record(**kwargs)


def test_throttled_writes_are_retried_with_backoff_and_counted(runtime):
    rows = snapshot_rows(30)
    stuck = str(rows[0]["cc_num"])
    fake = Throttling(runtime, times=2, always={stuck})
    waits: list[float] = []
    result = load_records(rows, BATCH, fake, workers=4, sleep=waits.append, max_attempts=5)
    assert (result.written, result.failed) == (29, 1)
    assert (
        result.failures == [(stuck, result.failures[0][1])] and "ThrottlingException" in result.failures[0][1]
    )
    # 29 records throttled twice each, the stuck one on every attempt but the last
    assert result.retried == 29 * 2 + 4 == len(waits)
    assert fake.calls[stuck] == 5
    assert all(0 <= w <= feature_load.MAX_DELAY_S for w in waits)
    assert online(runtime, rows[1]["cc_num"])["num_trans_last_1w"] == "1"
    assert online(runtime, rows[0]["cc_num"]) == {}


def test_backoff_grows_and_is_capped():
    assert feature_load.backoff_s(0, rng=lambda: 1.0) == feature_load.BASE_DELAY_S
    assert feature_load.backoff_s(3, rng=lambda: 1.0) == feature_load.BASE_DELAY_S * 8
    assert feature_load.backoff_s(30, rng=lambda: 1.0) == feature_load.MAX_DELAY_S


def test_values_as_strings():
    assert feature_load.value_text(datetime(2026, 12, 6)) == repr(MIDNIGHT)  # naive = UTC (the batch job's)
    assert feature_load.value_text(float("nan")) is None
    assert feature_load.value_text(None) is None
    assert feature_load.value_text(True) == "1"


def test_cli_loads_a_parquet_folder_and_reports(runtime, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    folder = tmp_path / "online"
    folder.mkdir()
    table = pa.Table.from_pylist(snapshot_rows(12))
    pq.write_table(table.slice(0, 6), folder / "part-0.parquet")
    pq.write_table(table.slice(6), folder / "part-1.parquet")
    code = feature_load.main(
        [
            "--snapshots",
            str(folder),
            "--feature-group",
            BATCH,
            "--endpoint-url",
            runtime.meta.endpoint_url,
            "--region",
            "us-east-1",
            "--no-progress",
        ]
    )
    assert code == 0
    assert f"{BATCH}: 12 written, 0 failed" in capsys.readouterr().out


def test_cli_missing_snapshots_is_one_line(tmp_path, capsys):
    assert feature_load.main(["--snapshots", str(tmp_path / "none"), "--feature-group", BATCH]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_python39_syntax_and_stdlib_plus_boto3_at_import():
    """It ships to EMR Serverless, whose Python is older than the project's and has no pyarrow or rich."""
    source = (ROOT / "jobs" / "feature_load.py").read_text()
    ast.parse(source, feature_version=(3, 9))
    probe = (
        "import sys, jobs.feature_load; "
        "bad = sorted(m for m in ('pyarrow', 'rich', 'numpy', 'pandas', 'features', 'local_aws', 'profiles') if m in sys.modules); "
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"
