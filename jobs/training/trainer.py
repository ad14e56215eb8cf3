"""XGBoost training with the seed's hyperparameters as defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from jobs.training.hyperparameters import EVAL_METRIC, OBJECTIVE, Hyperparameters

__all__ = ["EVAL_METRIC", "OBJECTIVE", "Hyperparameters", "Trained", "predict", "train"]

SEED_HYPERPARAMETERS = Hyperparameters()


class _Progress(xgb.callback.TrainingCallback):
    def __init__(self, on_round: Callable[[int, dict[str, float]], None]) -> None:
        super().__init__()
        self.on_round = on_round

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        latest = {
            f"{data}-{metric}": values[-1] for data, ms in evals_log.items() for metric, values in ms.items()
        }
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
    hp: Hyperparameters = SEED_HYPERPARAMETERS,
    nthread: int | None = None,
    on_round: Callable[[int, dict[str, float]], None] | None = None,
) -> Trained:
    """Train a booster; `on_round(round, latest metrics)` is called after every round.

    The validation set (optional) only feeds the per-round metric: the seed's fixed round count
    is kept (no early stopping), so the booster does not depend on it."""
    names = list(features)
    # QuantileDMatrix bins once and keeps only the bins: faster and smaller than DMatrix for `hist`.
    dtrain = xgb.QuantileDMatrix(
        x_train, label=y_train, feature_names=names, nthread=nthread or os.cpu_count()
    )
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
