"""The replay report's measures: relative equality at 1e-9, and the offline evaluation's AUCs."""

from __future__ import annotations

import pytest

from profiles.replay import aucs, same


def test_same_is_relative_at_1e_9() -> None:
    assert same(0.0, 0.0) and same(1e12, 1e12 + 999) and not same(1e12, 1e12 + 1001)
    assert same(0.3, 0.1 + 0.2) and not same(0.0, 1e-300)


def test_aucs_are_the_training_jobs_definitions() -> None:
    # ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.7 (neg), 0.1 (pos); average precision over distinct thresholds
    labels, scores = [1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.7, 0.1]
    roc, pr = aucs(labels, scores)
    assert pr == pytest.approx((1 / 3) * 1 + (1 / 3) * 0.5 + (1 / 3) * 0.6, rel=1e-12)
    # (pos, neg) pairs: 0.9>0.8, 0.9>0.7, 0.7<0.8, 0.7=0.7 (half), 0.1<0.8, 0.1<0.7: 2.5 of 6
    assert roc == pytest.approx(2.5 / 6, rel=1e-12)
