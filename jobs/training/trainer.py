"""XGBoost training with the seed's hyperparameters as defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import xgboost as xgb

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


class _Progress(xgb.callback.TrainingCallback):
    def __init__(self, on_round: Callable[[int, dict[str, float]], None]) -> None:
        super().__init__()
        self.on_round = on_round

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        latest = {f"{data}-{metric}": values[-1] for data, ms in evals_log.items() for metric, values in ms.items()}
        self.on_round(epoch + 1, latest)
        return False


@dataclass(frozen=True)
class Trained:
    booster: xgb.Booster
    history: dict[str, dict[str, list[float]]]  # evals_log: {"validation": {metric: [per round]}}


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    features: tuple[str, ...],
    hp: Hyperparameters = Hyperparameters(),
    nthread: int | None = None,
    on_round: Callable[[int, dict[str, float]], None] | None = None,
) -> Trained:
    """Train a booster; `on_round(round, latest metrics)` is called after every round.

    The validation set (optional) only feeds the per-round metric: the seed's fixed round count
    is kept (no early stopping), so the booster does not depend on it."""
    names = list(features)
    # QuantileDMatrix bins once and keeps only the bins: faster and smaller than DMatrix for `hist`.
    dtrain = xgb.QuantileDMatrix(x_train, label=y_train, feature_names=names, nthread=nthread or os.cpu_count())
    evals = []
    if x_valid is not None and len(x_valid):
        evals = [(xgb.QuantileDMatrix(x_valid, label=y_valid, feature_names=names, ref=dtrain), "validation")]
    history: dict = {}
    booster = xgb.train(
        hp.booster_params(nthread),
        dtrain,
        num_boost_round=hp.num_round,
        evals=evals,
        evals_result=history,
        verbose_eval=False,
        callbacks=[_Progress(on_round)] if on_round else None,
    )
    return Trained(booster, history)


def predict(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """Probabilities for rows in the model's feature order."""
    return booster.inplace_predict(x, validate_features=False).astype(np.float64)
