"""The replay report's measures: relative equality, ROC AUC and PR AUC (average precision)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from local.replay import pr_auc, roc_auc, same


def test_same_is_relative_at_1e_9() -> None:
    assert same(0.0, 0.0) and same(1e12, 1e12 + 999) and not same(1e12, 1e12 + 1001)
    assert same(0.3, 0.1 + 0.2) and not same(0.0, 1e-300)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_is_the_share_of_correctly_ordered_pairs_ties_half(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 60)
    scores = rng.integers(0, 8, 60) / 8  # many ties
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc(labels, scores) == pytest.approx(expected, rel=1e-12)


def test_pr_auc_is_average_precision_over_distinct_thresholds() -> None:
    # ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.7 (neg), 0.1 (pos)
    labels, scores = [1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.7, 0.1]
    # thresholds: 0.9 -> P=1, R=1/3; 0.8 -> P=1/2, R=1/3; 0.7 -> P=2/4, R=2/3; 0.1 -> P=3/5, R=1
    expected = (1 / 3) * 1 + 0 + (1 / 3) * 0.5 + (1 / 3) * 0.6
    assert pr_auc(labels, scores) == pytest.approx(expected, rel=1e-12)
    assert pr_auc([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0
