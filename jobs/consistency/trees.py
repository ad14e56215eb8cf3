"""The model of model.tar.gz scored in plain Python: the same rules as XGBoost's predictor.

The consistency job scores the batch job's features with the served model inside the SQL engine
(a scalar function `offline_score`), on DuckDB and on Spark executors alike, where XGBoost is not
installed (EMR Serverless). Rules (as jobs/training/treewalk.py, which the endpoint uses): values
and split conditions compared as float32, left when `value < condition`, the default direction on
a missing value, a leaf's value is its split_conditions entry, margin = logit(base_score) + sum of
the leaves, probability = sigmoid(margin).
"""

from __future__ import annotations

import io
import json
import math
import struct
import tarfile
from collections.abc import Sequence
from typing import Any

MODEL_MEMBER = "xgboost-model"  # jobs.training.artifact's, which imports XGBoost itself
_F32 = struct.Struct("f")


def f32(value: float) -> float:
    """The nearest float32, as a Python float."""
    return _F32.unpack(_F32.pack(value))[0]


def model_json(tarball: bytes) -> bytes:
    """The booster's JSON document inside model.tar.gz's bytes."""
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            member = tar.extractfile(MODEL_MEMBER)
            if member is None:
                raise ValueError(f"{MODEL_MEMBER} is not a regular file")
            return member.read()
    except KeyError as err:
        raise ValueError(f"model.tar.gz has no member named {MODEL_MEMBER}") from err
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"not a readable model.tar.gz ({err})") from err


class Trees:
    """Picklable (Spark ships it to the executors inside the scalar function)."""

    def __init__(self, document: Any) -> None:
        learner = (json.loads(document) if isinstance(document, (bytes, str)) else document)["learner"]
        if learner["objective"]["name"] != "binary:logistic":
            raise ValueError(f"only binary:logistic boosters, got {learner['objective']['name']}")
        self.num_features = int(learner["learner_model_param"]["num_feature"])
        base_score = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
        self.base_margin = math.log(base_score / (1 - base_score))
        self.trees = [
            (
                list(t["left_children"]),
                list(t["right_children"]),
                list(t["split_indices"]),
                [f32(c) for c in t["split_conditions"]],
                [bool(d) for d in t["default_left"]],
            )
            for t in learner["gradient_booster"]["model"]["trees"]
        ]

    def predict(self, row: Sequence[float | None]) -> float:
        if len(row) != self.num_features:
            raise ValueError(f"model takes {self.num_features} features, got {len(row)}")
        x = [None if v is None or v != v else f32(v) for v in row]
        margin = self.base_margin
        for left, right, feature, condition, default_left in self.trees:
            node = 0
            while left[node] != -1:
                value = x[feature[node]]
                go_left = default_left[node] if value is None else value < condition[node]
                node = left[node] if go_left else right[node]
            margin += condition[node]
        return 1.0 / (1.0 + math.exp(-margin))

    def __call__(self, *row: float | None) -> float:
        return self.predict(row)
