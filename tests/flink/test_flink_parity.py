"""Real Flink (PyFlink 1.20 mini-cluster) against the batch job and the local engine.

GIVEN a generated history, WHEN it streams through the Flink app in order, THEN every
transaction gets the batch job's and the local engine's 10-minute features; WHEN it arrives
out of order with rows delayed beyond the bound, THEN Flink and the local engine route the same
rows to late records and agree on everything else.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from features.definition import aggregates_of_kind
from features.records import AGGREGATE_FIELDS, LATE_FIELDS

pytestmark = pytest.mark.flink

SLIDING = aggregates_of_kind("sliding")
COUNTS = [a.name for a in SLIDING if a.feature_type == "Integral"]
AVERAGES = [a.name for a in SLIDING if a.feature_type != "Integral"]
WIDEST_COUNT = max((a for a in SLIDING if a.function == "count"), key=lambda a: a.window.length).name


def by_tid(rows: list[dict]) -> dict[str, dict]:
    keyed = {r["tid"]: r for r in rows}
    assert len(keyed) == len(rows), "a transaction id was emitted twice"
    return keyed


def disagreements(flink: dict[str, dict], other: dict[str, dict]) -> list[str]:
    """Rows whose counts differ at all or whose averages differ beyond 1e-9 relative."""
    bad = []
    for tid, row in other.items():
        mine = flink[tid]
        if any(mine[c] != row[c] for c in COUNTS) or not all(
            math.isclose(mine[a], row[a], rel_tol=1e-9, abs_tol=0.0) for a in AVERAGES
        ):
            bad.append(f"{tid}: flink {mine} other {row}")
    return bad


def test_in_order_every_transaction_has_the_batch_jobs_features(scenario):
    flink = by_tid(scenario.in_order.flink.aggregates)
    batch = scenario.batch
    assert set(flink) == set(batch)
    assert disagreements(flink, batch) == []
    # The history is not trivial: many windows hold more than the transaction itself.
    assert sum(1 for r in flink.values() if r[WIDEST_COUNT] > 1) > 1000


def test_parallelism_two_gives_the_same_features(scenario):
    # Rows are hashed by card to the window operator; more subtasks must not change any result.
    parallel = by_tid(scenario.in_order_parallel.aggregates)
    single = by_tid(scenario.in_order.flink.aggregates)
    assert set(parallel) == set(single)
    assert disagreements(parallel, single) == []
    assert scenario.in_order_parallel.late == []


def test_in_order_matches_the_local_engine_row_for_row(scenario):
    flink = by_tid(scenario.in_order.flink.aggregates)
    local = by_tid(scenario.in_order.local.aggregates)
    assert set(flink) == set(local)
    assert disagreements(flink, local) == []
    assert all(
        flink[t]["trans_ts"] == local[t]["trans_ts"] and flink[t]["amount"] == local[t]["amount"]
        for t in local
    )


def test_in_order_nothing_is_late(scenario):
    assert scenario.in_order.flink.late == []
    assert scenario.in_order.local.late == []


def test_same_timestamp_peers_are_in_each_others_window(scenario):
    rows = scenario.in_order.flink.aggregates
    peers = Counter((r["cc_num"], r["trans_ts"]) for r in rows)
    groups = [key for key, n in peers.items() if n > 1]
    assert groups, "the history has no same-card same-time peers to check"
    for r in rows:
        assert r[WIDEST_COUNT] >= peers[(r["cc_num"], r["trans_ts"])]


def test_aggregate_and_late_rows_carry_exactly_the_wire_fields(scenario):
    assert all(list(r) == list(AGGREGATE_FIELDS) for r in scenario.out_of_order.flink.aggregates)
    assert all(list(r) == list(LATE_FIELDS) for r in scenario.out_of_order.flink.late)


def late_rows(rows: list[dict]) -> Counter:
    """The late rows as transactions (the reason's wording is each engine's own)."""
    return Counter(
        tuple(r[f] for f in LATE_FIELDS if f != "reason") for r in rows if r["reason"].startswith("late:")
    )


def test_out_of_order_both_engines_route_the_same_rows_to_late_records(scenario):
    flink, local = late_rows(scenario.out_of_order.flink.late), late_rows(scenario.out_of_order.local.late)
    assert len(flink) > 100
    assert flink == local


def test_rows_exactly_at_the_watermark_are_late_and_one_ms_after_are_not(scenario):
    late = {row[0] for row in late_rows(scenario.out_of_order.flink.late)}
    aggregated = set(by_tid(scenario.out_of_order.flink.aggregates))
    assert len(scenario.boundary_tids) >= 20
    for tid, expected_late in scenario.boundary_tids.items():
        assert (tid in late, tid in aggregated) == (expected_late, not expected_late), tid


def test_out_of_order_aggregates_match_the_local_engine(scenario):
    flink = by_tid(scenario.out_of_order.flink.aggregates)
    local = by_tid(scenario.out_of_order.local.aggregates)
    assert set(flink) == set(local)
    assert disagreements(flink, local) == []


def test_a_redelivered_transaction_is_counted_once_and_nothing_is_lost(scenario):
    case = scenario.out_of_order
    duplicates = [d for d in case.local_dead if d.get("reason", "").startswith("duplicate:")]
    assert duplicates, "the scenario redelivers on-time transactions"
    # Flink drops an on-time redelivery in its dedup step; every other input row is in an output.
    assert len(case.flink.aggregates) + len(case.flink.late) + len(duplicates) == len(case.lines)


def test_invalid_payloads_go_to_late_records_with_their_reason(scenario):
    invalid = [r for r in scenario.out_of_order.flink.late if r["reason"].startswith("invalid:")]
    local_dead = [
        d for d in scenario.out_of_order.local_dead if not d.get("reason", "").startswith("duplicate:")
    ]
    assert len(invalid) == len(local_dead) == 5
    reasons = " | ".join(sorted(r["reason"] for r in invalid))
    for expected in (
        "missing or mistyped field(s): tid trans_ts cc_num amount",
        "field(s): cc_num",
        "amount must be finite and non-negative",
        "not an ISO-8601 UTC time: yesterday",
        "field(s): amount",
    ):
        assert expected in reasons
