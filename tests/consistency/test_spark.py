"""The same comparison on Spark: the result equals DuckDB's on the same inputs (once, small)."""

from __future__ import annotations

import json
import shutil

import pytest

from jobs.consistency import emr_entry
from jobs.consistency.job import run
from tests.consistency.fixtures import build

pytestmark = pytest.mark.spark


def test_spark_and_duckdb_agree_through_the_emr_entry_point(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("prerequisite missing: Java 17 for Spark")
    case = build(tmp_path)
    duck = run(
        "duckdb", str(case.predictions), str(case.features), str(case.model), str(tmp_path / "duck"), 0.5
    )
    published = []

    class Recorder:
        def put_metric_data(self, **kwargs):
            published.append(kwargs)

    status = emr_entry.consistency(
        str(case.predictions),
        str(case.features),
        str(case.model),
        str(tmp_path / "spark"),
        "fraud/consistency",
        Recorder(),
        max_unexplained=0.5,
        engine="spark",
        log=lambda *_: None,
    )
    assert status == 0
    spark = json.loads((tmp_path / "spark" / "consistency.json").read_text())
    for key in (
        "served",
        "compared",
        "reasons",
        "features",
        "duplicate_records",
        "unreadable_lines",
        "period",
    ):
        assert spark[key] == duck[key], key
    assert spark["unserved_in_period"] == duck["unserved_in_period"]
    for key, value in duck["auc"].items():
        assert spark["auc"][key] == pytest.approx(value, abs=1e-12), key
    assert {s["tid"]: s["reason"] for s in spark["samples"]} == {
        s["tid"]: s["reason"] for s in duck["samples"]
    }
    assert published[0]["MetricData"][0]["Value"] == pytest.approx(duck["match_rate"])
