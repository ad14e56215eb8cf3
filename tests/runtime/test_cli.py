"""The runtime's command lines: a clear one-line error and a non-zero exit on bad input, no traceback."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.local_engine import __main__ as engine
from jobs.local_engine import windows
from local_aws import feature_store
from local_aws.stream import LocalKinesis


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_engine_without_its_input_stream(tmp_path, capsys):
    assert engine.main(["--stream-dir", str(tmp_path / "nowhere")]) == 2
    assert "no stream 'transactions'" in one_line_error(capsys)


@pytest.mark.parametrize("args", [["--batch", "0"], ["--out-of-orderness-ms", "-1"]])
def test_engine_rejects_bad_settings(tmp_path, capsys, args):
    LocalKinesis(tmp_path).create_stream(StreamName="transactions")
    assert engine.main(["--stream-dir", str(tmp_path), *args]) == 2
    one_line_error(capsys)


def test_engine_with_an_unusable_state_file(tmp_path, capsys):
    LocalKinesis(tmp_path).create_stream(StreamName="transactions")
    (tmp_path / "state.db").write_text("this is not a database")
    assert (
        engine.main(
            ["--stream-dir", str(tmp_path), "--state", str(tmp_path / "state.db"), "--exit-when-idle-s", "0"]
        )
        == 1
    )
    one_line_error(capsys)


def test_engine_with_a_checkpoint_of_another_state_layout(tmp_path, capsys, monkeypatch):
    LocalKinesis(tmp_path).create_stream(StreamName="transactions")
    state = ["--stream-dir", str(tmp_path), "--state", str(tmp_path / "state.db"), "--exit-when-idle-s", "0"]
    with monkeypatch.context() as patch:  # a checkpoint written by a version with another layout
        patch.setattr(windows, "CHECKPOINT_LAYOUT", windows.CHECKPOINT_LAYOUT - 1)
        assert engine.main(state) == 0
    capsys.readouterr()
    assert engine.main(state) == 1
    assert "start a fresh runtime" in one_line_error(capsys)


def test_engine_cli_runs_to_idle_and_reports_counts(tmp_path, capsys):
    kinesis = LocalKinesis(tmp_path)
    kinesis.create_stream(StreamName="transactions")
    kinesis.put_records(
        StreamName="transactions",
        Records=[
            {
                "Data": '{"tid": "a", "cc_num": 1, "amount": 2.5, "trans_ts": "2020-01-01T00:00:00.000Z"}',
                "PartitionKey": "1",
            },
            {"Data": "not json", "PartitionKey": "x"},
        ],
    )
    assert (
        engine.main(["--stream-dir", str(tmp_path), "--idle-flush-s", "0", "--exit-when-idle-s", "0.1"]) == 0
    )
    out = capsys.readouterr().out
    assert '"aggregate": 1' in out and '"dead": 1' in out


def test_feature_store_load_errors(tmp_path, capsys):
    db = str(tmp_path / "fs.db")
    assert (
        feature_store.main(
            ["load", "--db", db, "--group", "cc-agg-batch-fg", str(tmp_path / "missing.parquet")]
        )
        == 2
    )
    assert "does not exist" in one_line_error(capsys)
    pq.write_table(pa.table({"cc_num": [1]}), tmp_path / "partial.parquet")
    assert (
        feature_store.main(
            ["load", "--db", db, "--group", "cc-agg-batch-fg", str(tmp_path / "partial.parquet")]
        )
        == 2
    )
    assert "lacks" in one_line_error(capsys)
    assert (
        feature_store.main(["load", "--db", db, "--group", "no-such-fg", str(tmp_path / "partial.parquet")])
        == 2
    )
    assert "not found" in one_line_error(capsys)
