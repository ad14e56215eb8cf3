"""Bad input ends the job with one line naming the file and the problem, and leaves no output."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.aggregate import JobError, _together, run
from tests.batch.histories import write_csv, write_parquet
from tests.batch.reference import Tx

T0 = 1_578_000_000_000
GOOD = [Tx("a", T0, 4_000_000_000_000_001, 10.0), Tx("b", T0 + 1000, 4_000_000_000_000_001, 20.0)]
HEADER = "tid,datetime,cc_num,amount,fraud_label\n"


def file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def csv(tmp_path: Path, body: str) -> Path:
    return file(tmp_path, "history.csv", HEADER + body)


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda p: p / "nope.parquet", "no such file"),
        (lambda p: file(p, "empty.csv", ""), "empty file"),
        (lambda p: csv(p, ""), "no transactions"),
        (lambda p: csv(p, "a,2020-01-01T00:00:00,4000000000000001,abc,0\n"), "invalid amount"),
        (lambda p: csv(p, "a,2020-01-01T00:00:00,4000000000000001,-5,0\n"), "invalid amount"),
        (lambda p: csv(p, "a,2020-01-01T00:00:00,4000000000000001,inf,0\n"), "invalid amount"),
        (lambda p: csv(p, "a,yesterday,4000000000000001,5,0\n"), "invalid trans_ts"),
        (lambda p: csv(p, "a,2020-01-01T00:00:00,card,5,0\n"), "invalid cc_num"),
        (lambda p: file(p, "x.csv", "tid,cc_num,amount\na,1,2\n"), "missing column(s) trans_ts, fraud_label"),
        (lambda p: file(p, "x.json", "{}"), "unknown input format"),
        (lambda p: file(p, "bad.parquet", b"not parquet"), "cannot read as parquet"),
    ],
)
def test_bad_input_is_one_clear_error_and_no_output(tmp_path, make_input, message):
    source = make_input(tmp_path)
    out = tmp_path / "features"
    with pytest.raises(JobError) as err:
        run("duckdb", str(source), str(out), log=lambda *_: None)
    assert message in str(err.value)
    assert str(source) in str(err.value)
    assert "\n" not in str(err.value)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".staging" in p.name]


def test_zero_row_parquet_is_rejected(tmp_path):
    path = tmp_path / "empty.parquet"
    write_parquet(path, GOOD)
    pq.write_table(pq.read_table(path).slice(0, 0), path)
    with pytest.raises(JobError, match="no transactions"):
        run("duckdb", str(path), str(tmp_path / "out"), log=lambda *_: None)


def test_failed_rerun_keeps_the_previous_complete_output(tmp_path):
    out = tmp_path / "features"
    run("duckdb", str(write_parquet(tmp_path / "h.parquet", GOOD)), str(out), log=lambda *_: None)
    before = (out / "_SUCCESS").read_text()
    with pytest.raises(JobError):
        run("duckdb", str(csv(tmp_path, "a,2020-01-01T00:00:00,1,x,0\n")), str(out), log=lambda *_: None)
    assert (out / "_SUCCESS").read_text() == before


def test_parquet_with_wrong_types_is_rejected(tmp_path):
    path = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table({"tid": ["a"], "trans_ts": ["soon"], "cc_num": [1], "amount": [1.0], "fraud_label": [0]}),
        path,
    )
    with pytest.raises(JobError, match="invalid trans_ts"):
        run("duckdb", str(path), str(tmp_path / "out"), log=lambda *_: None)


def test_cli_reports_one_line_and_exits_non_zero(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.aggregate",
            "--input",
            str(tmp_path / "missing.csv"),
            "--output",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: ") and "no such file" in done.stderr


def test_cli_rejects_an_unknown_engine(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jobs.aggregate", "--engine", "pandas", "--input", "x", "--output", "y"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr and "Traceback" not in done.stderr


def test_csv_round_trip_helper_writes_the_seed_layout(tmp_path):
    path = write_csv(tmp_path / "h.csv", GOOD)
    assert path.read_text().startswith(HEADER)


BAD_ROWS = (
    "a,2020-01-01T00:00:00,4000000000000001,5,0\n"
    "b,2020-01-01T00:00:01,4000000000000001,zz,0\n"
    "c,2020-01-01T00:00:02,4000000000000001,abc,0\n"
    "d,2020-01-01T00:00:03,4000000000000001,,0\n"
)


def test_error_counts_the_bad_rows_and_shows_the_smallest_bad_value(tmp_path):
    with pytest.raises(
        JobError, match=r"3 row\(s\) with a missing or invalid amount \(float64\), e\.g\. 'abc'$"
    ):
        run("duckdb", str(csv(tmp_path, BAD_ROWS)), str(tmp_path / "out"), log=lambda *_: None)


@pytest.mark.spark
def test_spark_reports_bad_input_as_duckdb_does_and_leaves_no_output(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("Java 17 is required for Spark")
    out = tmp_path / "out"
    with pytest.raises(JobError) as err:
        run("spark", str(csv(tmp_path, BAD_ROWS)), str(out), log=lambda *_: None)
    assert str(err.value).endswith("3 row(s) with a missing or invalid amount (float64), e.g. 'abc'")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".staging" in p.name]


@pytest.mark.parametrize("concurrent", [True, False])
def test_a_failed_check_is_raised_only_after_the_work_beside_it_ended(concurrent):
    """The job validates while it builds the later views: the engine must not close under them."""
    started, ended = threading.Event(), []

    def check():
        started.wait(5) if concurrent else None
        raise JobError("bad input")

    def build():
        started.set()
        ended.append("views")
        return "views"

    with pytest.raises(JobError, match="bad input"):
        _together(concurrent, check, build)
    assert ended == (["views"] if concurrent else [])
    assert _together(concurrent, lambda: 1, lambda: 2) == [1, 2]
