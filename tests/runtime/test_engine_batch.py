"""The local engine's 10-minute features equal the batch job's (embedded engine) on a generated history."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.definition import SOURCE, aggregates_of_kind
from jobs.aggregate import run as aggregate
from jobs.local_engine.windows import run_engine
from simulator.generate import generate, write


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    # 40 cards, 12,000 transactions over two days: windows hold one to a dozen rows, with fraud chains
    table = generate(
        cards=40,
        transactions=12_000,
        start=datetime(2020, 3, 1, tzinfo=UTC),
        end=datetime(2020, 3, 3, tzinfo=UTC),
        fraud_ratio=0.02,
        seed=7,
    )
    path = write(table, tmp_path_factory.mktemp("history") / "history.parquet")
    return path, table


def test_engine_features_equal_the_batch_features_for_every_transaction(history, tmp_path):
    path, table = history
    aggregate("duckdb", str(path), str(tmp_path / "out"), log=lambda _m: None)
    training = pq.read_table(tmp_path / "out" / "training").to_pylist()
    batch = {r[SOURCE.id_column]: r for r in training}
    assert len(batch) == table.num_rows

    millis = pc.cast(pc.divide(pc.cast(table.column(SOURCE.event_time), "int64"), 1000), "int64").to_pylist()
    records = [
        {"tid": tid, "cc_num": card, "amount": amount, "event_ms": ms}
        for tid, card, amount, ms in zip(
            table.column("tid").to_pylist(),
            table.column("cc_num").to_pylist(),
            table.column("amount").to_pylist(),
            millis,
            strict=True,
        )
    ]
    aggregates, late, dead = run_engine(records)  # in event-time order: nothing late
    assert late == [] and dead == [] and len(aggregates) == table.num_rows

    names = [a.name for a in aggregates_of_kind("sliding")]
    multi = 0
    for row in aggregates:
        expected = batch[row["tid"]]
        for name in names:
            assert row[name] == pytest.approx(expected[name], rel=1e-9), (row, expected)
        multi += row[names[0]] > 1
    assert multi > 1000  # the comparison exercised real windows, not just singletons
