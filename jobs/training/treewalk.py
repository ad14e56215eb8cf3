"""Score a few rows without XGBoost's per-call overhead: the trees as numpy arrays, walked level by level.

XGBoost's inplace_predict costs ~0.3 ms per call whatever the row count (it builds a proxy
matrix and a prediction context each time); a single transaction only needs ~500 comparisons.
Here every tree of the booster's JSON dump is one row of padded arrays, and all trees (and
rows) step down one level per numpy operation. Same rules as XGBoost: go left when
`value < split_condition` (float32), follow the default direction on a missing value, a leaf's
value is its `split_conditions` entry; margin = logit(base_score) + sum of leaves. Large batches
stay with XGBoost, which is faster there.
"""

from __future__ import annotations

import json
import math

import numpy as np


class TreeWalker:
    def __init__(self, model_json: bytes | str) -> None:
        learner = json.loads(model_json)["learner"]
        if learner["objective"]["name"] != "binary:logistic":
            raise ValueError(f"only binary:logistic boosters, got {learner['objective']['name']}")
        trees = learner["gradient_booster"]["model"]["trees"]
        width = max(len(t["left_children"]) for t in trees)
        shape = (len(trees), width)
        self.left = np.zeros(shape, dtype=np.int32)
        self.right = np.zeros(shape, dtype=np.int32)
        self.feature = np.zeros(shape, dtype=np.int32)
        self.condition = np.zeros(shape, dtype=np.float32)
        self.default_left = np.zeros(shape, dtype=bool)
        for i, t in enumerate(trees):
            n = len(t["left_children"])
            left = np.asarray(t["left_children"], dtype=np.int32)
            leaf = left == -1
            # A leaf points at itself, so walking on from it stays put.
            self.left[i, :n] = np.where(leaf, np.arange(n), left)
            self.right[i, :n] = np.where(leaf, np.arange(n), t["right_children"])
            self.feature[i, :n] = t["split_indices"]
            self.condition[i, :n] = t["split_conditions"]
            self.default_left[i, :n] = np.asarray(t["default_left"], dtype=bool)
        self.depth = max(_depth(t["left_children"], t["right_children"]) for t in trees)
        base_score = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
        self.base_margin = math.log(base_score / (1 - base_score))
        # Flat arrays, indexed by tree * width + node: 1-d takes are the cheapest numpy indexing.
        self.width = width
        self.offsets = (np.arange(len(trees), dtype=np.int64) * width)[None, :]
        self.left, self.right, self.feature = self.left.ravel(), self.right.ravel(), self.feature.ravel()
        self.condition, self.default_left = self.condition.ravel(), self.default_left.ravel()
        self.num_features = int(learner["learner_model_param"]["num_feature"])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """rows (n, features) float32 -> probabilities (n,) float64."""
        x = np.ascontiguousarray(rows, dtype=np.float32)
        n = len(x)
        flat_x = x.ravel()
        row_start = (np.arange(n, dtype=np.int64) * self.num_features)[:, None]
        has_missing = bool(np.isnan(flat_x).any())
        idx = np.broadcast_to(self.offsets, (n, self.offsets.shape[1])).copy()  # every tree at its root
        for _ in range(self.depth):
            value = flat_x.take(row_start + self.feature.take(idx))
            go_left = value < self.condition.take(idx)
            if has_missing:
                go_left = np.where(np.isnan(value), self.default_left.take(idx), go_left)
            idx = self.offsets + np.where(go_left, self.left.take(idx), self.right.take(idx))
        margin = self.base_margin + self.condition.take(idx).sum(axis=1, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-margin))


def _depth(left: list[int], right: list[int]) -> int:
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        if left[node] == -1:
            deepest = max(deepest, d)
        else:
            stack += [(left[node], d + 1), (right[node], d + 1)]
    return deepest
