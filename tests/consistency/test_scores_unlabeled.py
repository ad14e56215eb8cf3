"""Live transactions reach the consistency run without a label (the batch job's NULL): the AUCs cover
the labelled transactions only, and a day of live traffic alone has none."""

from __future__ import annotations

import math

import pytest

from jobs.consistency import scores
from tests.consistency import reference

LABELS = [1, 0, 0, 1, 0, 0, 1, 0]
SERVED = [0.9, 0.2, 0.4, 0.7, 0.1, 0.8, 0.3, 0.05]
OFFLINE = [0.85, 0.25, 0.35, 0.75, 0.1, 0.6, 0.5, 0.1]


def test_unlabeled_transactions_are_left_out_of_the_aucs():
    nan = math.nan
    result = scores.aucs([*LABELS, nan, nan], [*SERVED, 0.99, 0.01], [*OFFLINE, 0.01, 0.99])
    assert (result["transactions"], result["labelled"], result["positives"]) == (10, 8, 3)
    assert result["served_roc_auc"] == pytest.approx(reference.roc_auc(LABELS, SERVED), abs=1e-12)
    assert result["offline_pr_auc"] == pytest.approx(reference.pr_auc(LABELS, OFFLINE), abs=1e-12)


def test_a_day_of_live_traffic_alone_has_no_auc():
    result = scores.aucs([math.nan] * 3, [0.1, 0.5, 0.9], [0.2, 0.4, 0.8])
    assert result["labelled"] == 0 and result["served_pr_auc"] is None and result["pr_auc_difference"] is None


def test_a_null_label_comes_through_the_scorer_as_unknown():
    """score() reads the `scored` rows as the engines hand them over: None for a NULL."""

    class Model:
        def inplace_predict(self, features, validate_features=False):
            return features[:, 0]

    width = len(scores.COLUMNS) - 2
    labels, served, _ = scores.score(Model(), [[None, 0.5, *[0.1] * width], [1, 0.7, *[0.2] * width]])
    assert math.isnan(labels[0]) and labels[1] == 1 and list(served) == [0.5, 0.7]
