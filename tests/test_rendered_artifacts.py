"""Every committed artifact rendered from the feature definition equals what it renders now."""

from __future__ import annotations

import json

from features import artifacts
from features.definition import FEATURE_GROUPS, MODEL_INPUT


def test_committed_artifacts_have_not_drifted_from_the_definition():
    assert artifacts.drifted() == [], "run `make render` and commit features/rendered/"


def test_drift_is_detected(tmp_path):
    artifacts.render_all(tmp_path)
    assert artifacts.drifted(tmp_path) == []
    (tmp_path / "batch_duckdb.sql").write_text("-- edited by hand\n")
    assert artifacts.drifted(tmp_path) == ["batch_duckdb.sql"]


def test_feature_group_json_lists_entity_event_time_and_the_groups_aggregates():
    for group in FEATURE_GROUPS:
        doc = json.loads((artifacts.RENDERED_DIR / "feature_groups" / f"{group.name}.json").read_text())
        names = [f["name"] for f in doc["features"]]
        assert names[:2] == ["cc_num", "trans_time"]
        assert all(n in MODEL_INPUT for n in names[2:])
        assert doc["online_store"] is group.online and doc["offline_store"] is group.offline
