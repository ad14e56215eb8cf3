"""DuckDB and Spark compute the same features: counts exactly, averages and ratios to 1e-9."""

from __future__ import annotations

import math
import shutil
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from features.definition import AGGREGATES, RATIOS
from jobs.aggregate import run
from simulator.generate import generate, write

pytestmark = pytest.mark.spark

FRACTIONAL = [a.name for a in AGGREGATES if a.feature_type == "Fractional"] + [r.name for r in RATIOS]
INTEGRAL = [a.name for a in AGGREGATES if a.feature_type == "Integral"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("Java 17 is required for Spark")
    tmp = tmp_path_factory.mktemp("engines")
    history = tmp / "history.parquet"
    # Enough cards and days for busy 10-minute windows, silent weeks and fraud chains.
    write(
        generate(
            cards=300,
            transactions=60_000,
            start=datetime(2020, 1, 1),
            end=datetime(2020, 2, 15),
            fraud_ratio=0.01,
            seed=11,
        ),
        history,
    )
    for engine in ("duckdb", "spark"):
        run(engine, str(history), str(tmp / engine), log=lambda *_: None)
    return {engine: tmp / engine for engine in ("duckdb", "spark")}


def rows(directory, view, key):
    return {key(r): r for r in pq.read_table(directory / view).to_pylist()}


def assert_same(a: dict, b: dict, integral: list[str], fractional: list[str]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        for name in integral:
            assert a[k][name] == b[k][name], (k, name)
        for name in fractional:
            assert math.isclose(a[k][name], b[k][name], rel_tol=1e-9, abs_tol=1e-12), (k, name)


def test_training_tables_agree(outputs):
    key = lambda r: r["tid"]  # noqa: E731
    duck, spark = rows(outputs["duckdb"], "training", key), rows(outputs["spark"], "training", key)
    assert len(duck) == 60_000
    assert_same(duck, spark, [*INTEGRAL, "fraud_label", "cc_num"], ["amount", *FRACTIONAL])
    assert all(duck[k]["trans_ts"] == spark[k]["trans_ts"] for k in duck)


@pytest.mark.parametrize("view", ["snapshots", "online"])
def test_snapshots_agree(outputs, view):
    key = lambda r: (r["cc_num"], r["trans_time"])  # noqa: E731
    snapshot_aggs = [a for a in AGGREGATES if a.window.kind == "daily_snapshot"]
    assert_same(
        rows(outputs["duckdb"], view, key),
        rows(outputs["spark"], view, key),
        [a.name for a in snapshot_aggs if a.feature_type == "Integral"],
        [a.name for a in snapshot_aggs if a.feature_type == "Fractional"],
    )


def test_both_engines_write_the_same_training_columns_and_spark_declares_them_required(outputs):
    """Same names and types; Spark's are REQUIRED (no definition levels: its faster write), but the
    label, which a live transaction lacks."""
    duck, spark = (
        pq.ParquetFile(next((outputs[e] / "training").glob("*.parquet"))) for e in ("duckdb", "spark")
    )
    assert duck.schema_arrow.names == spark.schema_arrow.names
    assert [f.type for f in duck.schema_arrow] == [f.type for f in spark.schema_arrow]
    levels = {
        spark.schema.column(i).name: spark.schema.column(i).max_definition_level
        for i in range(len(spark.schema))
    }
    assert levels.pop("fraud_label") == 1
    assert set(levels.values()) == {0}
