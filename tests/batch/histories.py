"""Write small histories in the job's input formats and read the job's outputs back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.batch.output import read_manifest
from local_aws import firehose
from tests.batch.reference import Tx


def write_parquet(path: Path, txs: list[Tx]) -> Path:
    table = pa.table(
        {
            "tid": pa.array([t.tid for t in txs], pa.string()),
            "trans_ts": pa.array([t.ts_ms * 1000 for t in txs], pa.timestamp("us", tz="UTC")),
            "cc_num": pa.array([t.cc_num for t in txs], pa.int64()),
            "amount": pa.array([t.amount for t in txs], pa.float64()),
            "fraud_label": pa.array([t.fraud_label for t in txs], pa.int32()),
        }
    )
    pq.write_table(table, path)
    return path


def write_csv(path: Path, txs: list[Tx]) -> Path:
    """The seed's CSV layout: tid,datetime,cc_num,amount,fraud_label."""
    import datetime as dt

    lines = ["tid,datetime,cc_num,amount,fraud_label"]
    for t in txs:
        when = dt.datetime.fromtimestamp(t.ts_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"{t.tid},{when},{t.cc_num},{t.amount},{t.fraud_label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def deliver(archive: Path, records: list[bytes], arrival: datetime) -> Path:
    """`records` into the local directory `archive` as the transactions archive's Firehose delivers
    one buffer that arrived at `arrival` (local_aws.firehose); returns `archive`."""

    def put(key: str, content: bytes) -> None:
        (archive / key).parent.mkdir(parents=True, exist_ok=True)
        (archive / key).write_bytes(content)

    firehose.deliver(records, put, "", "test-transactions-archive", arrival)
    return archive


def read_output(directory: Path, view: str) -> list[dict]:
    read_manifest(directory)  # only completed outputs are read
    return pq.read_table(directory / view).to_pylist()
