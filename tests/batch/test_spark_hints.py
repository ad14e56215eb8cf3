"""The feature SQL says what to compute; how Spark executes it (its physical hints) is the Spark engine's."""

from __future__ import annotations

from features import batch_sql
from features.definition import SOURCE
from jobs.batch.engines import DuckDBEngine, SparkEngine

HINT_WORDS = ("DISTRIBUTE BY", "SORT BY", "COALESCE(tid")


def test_the_rendered_sql_carries_no_physical_hint():
    for dialect in batch_sql.DIALECTS.values():
        text = batch_sql.script(dialect) + batch_sql.distinct_id_hashes(dialect, SOURCE.id_column, "tx")
        assert not [word for word in HINT_WORDS if word in text], dialect.name


def test_the_spark_engine_places_its_hints_and_they_change_only_the_physical_clauses():
    plain = dict(batch_sql.statements(SparkEngine.dialect))
    hinted = dict(batch_sql.statements(SparkEngine.dialect, hints=SparkEngine.hints))
    assert hinted["tx"].startswith(plain["tx"]) and f"DISTRIBUTE BY {SOURCE.entity} SORT BY" in hinted["tx"]
    assert f"COALESCE({SOURCE.id_column}, '') AS {SOURCE.id_column}" in hinted["training"]
    assert {name for name in plain if plain[name] != hinted[name]} == {"tx", "training"}
    ids = batch_sql.distinct_id_hashes(SparkEngine.dialect, SOURCE.id_column, "tx", SparkEngine.hints)
    assert "DISTRIBUTE BY id_hash" in ids


def test_duckdb_runs_the_sql_as_rendered():
    assert DuckDBEngine.hints == batch_sql.NO_HINTS
    assert batch_sql.statements(DuckDBEngine.dialect, hints=DuckDBEngine.hints) == batch_sql.statements(
        DuckDBEngine.dialect
    )
