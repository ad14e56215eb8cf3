"""A small synthetic training table in the batch job's layout, for tests and smoke runs.

Columns as the batch job writes them (tid, trans_ts, cc_num, every MODEL_INPUT feature,
fraud_label); features carry a learnable signal so metrics are meaningful.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.definition import MODEL_INPUT, SOURCE

START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2020, 6, 1, tzinfo=UTC)


def training_table(rows: int = 4000, seed: int = 0, fraud_rate: float = 0.05) -> pa.Table:
    rng = np.random.default_rng(seed)
    start_us = int(START.timestamp() * 1e6)
    span_us = int((END - START).total_seconds() * 1e6)
    ts = np.sort(start_us + rng.integers(0, span_us, rows))
    y = (rng.random(rows) < fraud_rate).astype(np.int32)
    columns: dict[str, pa.Array] = {
        SOURCE.id_column: pa.array([f"{seed:04d}-{i:08d}" for i in range(rows)]),
        SOURCE.event_time: pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        SOURCE.entity: pa.array(
            rng.integers(4_000_000_000_000_000, 4_999_999_999_999_999, rows), type=pa.int64()
        ),
    }
    for j, name in enumerate(MODEL_INPUT):
        # Every other feature shifts with the label; the rest is noise.
        columns[name] = pa.array(np.abs(rng.normal(10, 3, rows) + y * 4 * (j % 2)), type=pa.float64())
    columns[SOURCE.label_column] = pa.array(y, type=pa.int32())
    return pa.table(columns)


def write_training_dir(features_dir: Path, table: pa.Table, files: int = 2) -> list[Path]:
    """DIR/training/part-*.parquet, the rows dealt across `files` files."""
    out = Path(features_dir) / "training"
    out.mkdir(parents=True, exist_ok=True)
    chunk = -(-table.num_rows // files)
    paths = []
    for k in range(files):
        path = out / f"part-{k:05d}.parquet"
        pq.write_table(table.slice(k * chunk, chunk), path)
        paths.append(path)
    return paths
