"""The committed artifacts rendered from the definition, and the check that they have not drifted.

Each entry maps a path under features/rendered/ to the function that renders its text. Engines
that load SQL at run time call the renderers directly; the files are for people and Terraform.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from features import batch_sql, flink_sql, kda_sql
from features.definition import FEATURE_GROUPS, MODEL_INPUT, SERVING_THRESHOLD
from features.feature_groups import definition_json

RENDERED_DIR = Path(__file__).parent / "rendered"


def _model_input() -> str:
    return json.dumps({"columns": list(MODEL_INPUT), "serving_threshold": SERVING_THRESHOLD}, indent=2) + "\n"


ARTIFACTS: dict[str, Callable[[], str]] = {
    "batch_duckdb.sql": lambda: batch_sql.script(batch_sql.DUCKDB),
    "batch_spark.sql": lambda: batch_sql.script(batch_sql.SPARK),
    "model_input.json": _model_input,
    "kda.sql": kda_sql.script,
    "kda_input_schema.json": kda_sql.input_schema_json,
    "flink.sql": flink_sql.script,
    **{f"feature_groups/{g.name}.json": (lambda g=g: definition_json(g)) for g in FEATURE_GROUPS},
}


def render_all(directory: Path = RENDERED_DIR) -> list[Path]:
    written = []
    for relative, render in ARTIFACTS.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
        written.append(path)
    return written


def drifted(directory: Path = RENDERED_DIR) -> list[str]:
    """Artifacts whose committed text differs from what the definition renders now."""
    stale = []
    for relative, render in ARTIFACTS.items():
        path = directory / relative
        if not path.exists() or path.read_text() != render():
            stale.append(relative)
    return stale
