"""Test-set metrics, by scikit-learn.

`pr_auc` is average precision (average_precision_score: the step-wise area under the
precision-recall curve, the PR AUC the reports and the ablation quote); `roc_auc` is
roc_auc_score. Both are None where undefined (JSON has no NaN). A transaction is flagged when
its score is at or above the threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from features.definition import SERVING_THRESHOLD

DEFAULT_TARGET_PRECISION = 0.9


def pr_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """None when there is no positive."""
    return float(skm.average_precision_score(y, scores)) if np.any(y) else None


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """None unless both classes are present."""
    return float(skm.roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else None


def at_threshold(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    actual, flagged = np.asarray(y).astype(bool), np.asarray(scores) >= threshold
    tn, fp, fn, tp = skm.confusion_matrix(actual, flagged, labels=[False, True]).ravel().tolist()
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        actual, flagged, average="binary", zero_division=0.0
    )
    return {
        "threshold": threshold,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def threshold_for_precision(y: np.ndarray, scores: np.ndarray, target: float) -> dict:
    """The threshold with the most recall whose precision reaches the target (the highest such
    threshold, so the most precise, among those with that recall); None if none does."""
    none = {"target_precision": target, "threshold": None, "precision": None, "recall": None}
    if not np.any(y):
        return none
    precision, recall, thresholds = skm.precision_recall_curve(y, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    reached = np.flatnonzero(precision >= target)
    if not len(reached):
        return none
    # thresholds ascend: the last index with the most recall is the highest such threshold
    i = reached[np.flatnonzero(recall[reached] == recall[reached].max())[-1]]
    return {
        "target_precision": target,
        "threshold": float(thresholds[i]),
        "precision": float(precision[i]),
        "recall": float(recall[i]),
    }


def metrics(
    y: np.ndarray,
    scores: np.ndarray,
    threshold: float = SERVING_THRESHOLD,
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> dict:
    """metrics.json's content for one labelled set."""
    return {
        "rows": len(y),
        "positives": int(np.sum(y)),
        "roc_auc": roc_auc(y, scores),
        "pr_auc": pr_auc(y, scores),
        "at_serving_threshold": at_threshold(y, scores, threshold),
        "at_target_precision": threshold_for_precision(y, scores, target_precision),
    }
