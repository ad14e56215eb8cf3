"""The seed's splits, with the dates as parameters.

Rows before `train_start` are dropped (the 1-week window is still warming up); rows in
[train_start, test_start) are split at random, seeded, into train and validation; rows from
`test_start` on are the test set (out of time, as the model will meet them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.definition import MODEL_INPUT, SOURCE

DEFAULT_TRAIN_START = date(2020, 1, 15)
DEFAULT_TEST_START = date(2020, 5, 15)
DEFAULT_VALIDATION_FRACTION = 0.3
DEFAULT_SEED = 42

# What training reads from the training table: the row key, event time, the model input, the label.
COLUMNS = (SOURCE.id_column, SOURCE.event_time, *MODEL_INPUT, SOURCE.label_column)


class DataError(ValueError):
    """The training table is missing, unreadable or lacks a column training needs."""


@dataclass(frozen=True)
class SplitDates:
    train_start: date = DEFAULT_TRAIN_START
    test_start: date = DEFAULT_TEST_START
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.test_start <= self.train_start:
            raise ValueError(f"test start {self.test_start} must be after train start {self.train_start}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation fraction must be in (0, 1), got {self.validation_fraction}")


@dataclass(frozen=True)
class Part:
    """One split: features in MODEL_INPUT order (float32, as XGBoost uses them), labels, event times."""

    name: str
    x: np.ndarray
    y: np.ndarray
    ts: np.ndarray  # datetime64[us], UTC

    @property
    def rows(self) -> int:
        return len(self.y)

    def summary(self) -> dict:
        return {
            "rows": self.rows,
            "frauds": int(self.y.sum()),
            "first": _iso(self.ts.min()) if self.rows else None,
            "last": _iso(self.ts.max()) if self.rows else None,
        }


@dataclass(frozen=True)
class Splits:
    train: Part
    validation: Part
    test: Part
    dates: SplitDates

    def parts(self) -> tuple[Part, Part, Part]:
        return self.train, self.validation, self.test


def _iso(ts: np.datetime64) -> str:
    return np.datetime_as_string(ts, unit="s") + "Z"


def training_files(features_dir: Path) -> list[Path]:
    """The training table's Parquet files under DIR/training, in a stable order."""
    directory = Path(features_dir) / "training"
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (run the batch job first: python -m jobs.aggregate)")
    files = sorted(directory.rglob("*.parquet"))
    if not files:
        raise DataError(f"{directory}: no Parquet files")
    return files


def files_sha256(files: list[Path]) -> str:
    """One hash over the files' names and bytes: the model card's data fingerprint."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_table(files: list[Path], columns: tuple[str, ...] = COLUMNS) -> pa.Table:
    try:
        schema = pq.read_schema(files[0])
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"{files[0]}: not a readable Parquet file ({err})") from err
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise DataError(f"{files[0].parent}: training table lacks column(s) {', '.join(missing)}")
    try:
        return pa.concat_tables(pq.read_table(f, columns=list(columns)) for f in files)
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"{files[0].parent}: cannot read the training table ({err})") from err


def feature_matrix(table: pa.Table, features: tuple[str, ...] = MODEL_INPUT) -> np.ndarray:
    """Columns in the given order as one float32 matrix (column-wise copy, no pandas)."""
    x = np.empty((table.num_rows, len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        x[:, j] = table.column(name).to_numpy(zero_copy_only=False)
    return x


def _midnight(d: date) -> pa.Scalar:
    return pa.scalar(datetime(d.year, d.month, d.day, tzinfo=UTC), type=pa.timestamp("us", tz="UTC"))


def split(
    table: pa.Table, dates: SplitDates | None = None, features: tuple[str, ...] = MODEL_INPUT
) -> Splits:
    """Split the training table by the dates; the random split does not depend on file order.

    Rows without a label (live transactions the batch job added, not labelled yet) are left out.
    """
    dates = dates or SplitDates()
    table = table.filter(pc.is_valid(table.column(SOURCE.label_column)))
    ts_col = table.column(SOURCE.event_time).cast(pa.timestamp("us", tz="UTC"))
    table = table.set_column(table.schema.get_field_index(SOURCE.event_time), SOURCE.event_time, ts_col)
    kept = table.filter(pc.greater_equal(ts_col, _midnight(dates.train_start)))
    # A stable order first, so the seeded split picks the same rows whatever the file layout.
    kept = kept.sort_by([(SOURCE.event_time, "ascending"), (SOURCE.id_column, "ascending")])
    is_test = pc.greater_equal(kept.column(SOURCE.event_time), _midnight(dates.test_start)).to_numpy(
        zero_copy_only=False
    )
    x = feature_matrix(kept, features)
    y = kept.column(SOURCE.label_column).to_numpy(zero_copy_only=False).astype(np.float32)
    ts = kept.column(SOURCE.event_time).cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    in_window = np.flatnonzero(~is_test)
    rng = np.random.default_rng(dates.seed)
    is_validation = rng.random(len(in_window)) < dates.validation_fraction
    parts = {
        "train": in_window[~is_validation],
        "validation": in_window[is_validation],
        "test": np.flatnonzero(is_test),
    }
    built = {name: Part(name, x[idx], y[idx], ts[idx]) for name, idx in parts.items()}
    return Splits(built["train"], built["validation"], built["test"], dates)
