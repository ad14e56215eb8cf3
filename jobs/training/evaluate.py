"""Test-set metrics, computed with numpy (no estimator library at run time).

`pr_auc` is average precision (the step-wise area under the precision-recall curve, as
scikit-learn's average_precision_score); `roc_auc` is the Mann-Whitney statistic with ties
counted half. A transaction is flagged when its score is at or above the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.definition import SERVING_THRESHOLD

DEFAULT_TARGET_PRECISION = 0.9


@dataclass(frozen=True)
class Curve:
    """Counts at each distinct score, from the highest down (flag everything >= threshold)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int

    @property
    def precision(self) -> np.ndarray:
        return self.tp / np.maximum(self.tp + self.fp, 1)

    @property
    def recall(self) -> np.ndarray:
        return self.tp / max(self.positives, 1)

    @property
    def fpr(self) -> np.ndarray:
        return self.fp / max(self.negatives, 1)


def curve(y: np.ndarray, scores: np.ndarray) -> Curve:
    y = np.asarray(y, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if y.shape != scores.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-d arrays of the same length")
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], y[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.array([], dtype=int)
    tp = np.cumsum(t)[last_of_each]
    fp = np.cumsum(1 - t)[last_of_each]
    positives = int(t.sum())
    return Curve(s[last_of_each], tp, fp, positives, len(t) - positives)


def average_precision(c: Curve) -> float | None:
    """None when there is no positive (undefined; JSON has no NaN)."""
    if c.positives == 0:
        return None
    return float(np.sum(np.diff(np.r_[0.0, c.recall]) * c.precision))


def roc_auc(c: Curve) -> float | None:
    if c.positives == 0 or c.negatives == 0:
        return None
    tpr = np.r_[0.0, c.tp] / c.positives
    fpr = np.r_[0.0, c.fp] / c.negatives
    return float(np.trapezoid(tpr, fpr))


def at_threshold(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    flagged = np.asarray(scores) >= threshold
    actual = np.asarray(y).astype(bool)
    tp = int(np.sum(flagged & actual))
    fp = int(np.sum(flagged & ~actual))
    fn = int(np.sum(~flagged & actual))
    tn = int(np.sum(~flagged & ~actual))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def threshold_for_precision(c: Curve, target: float) -> dict:
    """The threshold with the most recall whose precision reaches the target (the highest such
    threshold, so the most precise, among those with that recall); None if none does."""
    reached = np.flatnonzero(c.precision >= target)
    if not len(reached):
        return {"target_precision": target, "threshold": None, "precision": None, "recall": None}
    i = reached[np.argmax(c.tp[reached] == c.tp[reached].max())]
    return {
        "target_precision": target,
        "threshold": float(c.thresholds[i]),
        "precision": float(c.precision[i]),
        "recall": float(c.recall[i]),
    }


def metrics(
    y: np.ndarray,
    scores: np.ndarray,
    threshold: float = SERVING_THRESHOLD,
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> dict:
    """metrics.json's content for one labelled set."""
    c = curve(y, scores)
    return {
        "rows": len(y),
        "positives": c.positives,
        "roc_auc": roc_auc(c),
        "pr_auc": average_precision(c),
        "at_serving_threshold": at_threshold(y, scores, threshold),
        "at_target_precision": threshold_for_precision(c, target_precision),
    }
