"""XGBoost's objective and hyperparameters, shared by local training and the SageMaker launcher.

No xgboost import here: the launcher runs in .venv-sagemaker, which has none.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace

SAGEMAKER_XGBOOST_VERSION = "1.7-1"  # the built-in container that trains and serves the artifact
OBJECTIVE = "binary:logistic"
# Per-round metric for the progress display: cheap (AUC metrics sort the whole set every round).
EVAL_METRIC = "logloss"


@dataclass(frozen=True)
class Hyperparameters:
    """The seed's values; names as XGBoost (and SageMaker's built-in container) spell them."""

    max_depth: int = 5
    eta: float = 0.2
    gamma: float = 4.0
    min_child_weight: float = 6.0
    subsample: float = 0.7
    num_round: int = 100
    seed: int = 42

    def __post_init__(self) -> None:
        if self.max_depth < 1 or self.num_round < 1:
            raise ValueError("max_depth and num_round must be at least 1")
        if not 0 < self.eta <= 1 or not 0 < self.subsample <= 1:
            raise ValueError("eta and subsample must be in (0, 1]")
        if self.gamma < 0 or self.min_child_weight < 0:
            raise ValueError("gamma and min_child_weight must be >= 0")

    def with_overrides(self, **overrides: float | int | None) -> Hyperparameters:
        """A copy with the given (non-None) values; unknown names raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown hyperparameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def booster_params(self, nthread: int | None = None) -> dict:
        params = {k: v for k, v in asdict(self).items() if k != "num_round"}
        return {
            **params,
            "objective": OBJECTIVE,
            "tree_method": "hist",
            "eval_metric": EVAL_METRIC,
            "nthread": nthread or os.cpu_count() or 1,
        }

    def as_strings(self) -> dict[str, str]:
        """SageMaker's hyperparameter map (string values), objective included."""
        return {**{k: str(v) for k, v in asdict(self).items()}, "objective": OBJECTIVE}
