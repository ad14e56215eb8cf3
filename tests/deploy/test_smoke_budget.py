"""The smoke step prints its measured event-to-prediction latency beside bench.capacity's budget."""

from __future__ import annotations

import pytest

from bench import capacity
from deploy.smoke import latency_against_budget


def test_the_measured_latency_is_printed_beside_the_budget() -> None:
    summary = {"predictions": 1234, "latency_ms_p50": 420.4, "latency_ms_p99": 1890.6}
    line, figures = latency_against_budget(summary, 20, stand_ins=False)
    b50, b99 = capacity.total(capacity.budget(capacity.size(20), capacity.Freshness()))
    assert figures == {"budget_ms_p50": pytest.approx(b50), "budget_ms_p99": pytest.approx(b99)}
    assert "measured p50 420 ms / p99 1,891 ms over 1,234 prediction(s)" in line
    assert f"p99 <= {b99:,.0f} ms" in line and "python -m bench.capacity --tps 20 --latency" in line
    assert "stand-ins" not in line


def test_without_predictions_or_on_stand_ins_it_says_so() -> None:
    line, _ = latency_against_budget({"predictions": 0}, 20, stand_ins=True)
    assert "no prediction to measure" in line and "only the aws profile is held to it" in line
