"""A brute-force Python reference of the feature semantics in DESIGN.md, for property tests.

Deliberately naive (quadratic, no SQL, no windows): each feature is computed straight from its
definition so the engines can be checked against it on small random histories.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from features.definition import AGGREGATES, RATIOS, SOURCE, Aggregate

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Tx:
    tid: str
    ts_ms: int
    cc_num: int
    amount: float
    fraud_label: int = 0


def _apply(agg: Aggregate, amounts: list[float]) -> float:
    if agg.function == "count":
        return len(amounts)
    if not amounts:
        return 0
    return {"sum": sum, "max": max, "min": min, "avg": lambda xs: sum(xs) / len(xs)}[agg.function](amounts)


def dedup(history: list[Tx]) -> list[Tx]:
    """A tid seen twice counts once: keep the earliest (by time, card, amount)."""
    kept: dict[str, Tx] = {}
    for tx in sorted(history, key=lambda t: (t.ts_ms, t.cc_num, t.amount)):
        kept.setdefault(tx.tid, tx)
    return list(kept.values())


def window_amounts(card_txs: list[Tx], agg: Aggregate, ts_ms: int) -> list[float]:
    if agg.window.kind == "sliding":
        lo, hi = ts_ms - agg.window.length_ms, ts_ms  # [t - length, t], peers included
        return [t.amount for t in card_txs if lo <= t.ts_ms <= hi]
    midnight = ts_ms - ts_ms % DAY_MS  # the latest snapshot D <= t
    lo = midnight - agg.window.length_ms
    return [t.amount for t in card_txs if lo <= t.ts_ms < midnight]


def ratio(numerator: float, denominator: float | None) -> float:
    return 0.0 if not denominator else numerator / denominator


def training_rows(history: list[Tx]) -> dict[str, dict]:
    """tid -> the training row's features."""
    txs = dedup(history)
    by_card: dict[int, list[Tx]] = defaultdict(list)
    for tx in txs:
        by_card[tx.cc_num].append(tx)
    rows = {}
    for tx in txs:
        row = {SOURCE.amount_column: tx.amount, "cc_num": tx.cc_num, "fraud_label": tx.fraud_label}
        for agg in AGGREGATES:
            row[agg.name] = _apply(agg, window_amounts(by_card[tx.cc_num], agg, tx.ts_ms))
        for r in RATIOS:
            row[r.name] = ratio(row[r.numerator], row[r.denominator])
        rows[tx.tid] = row
    return rows


def snapshot_rows(history: list[Tx]) -> dict[tuple[int, int], dict]:
    """(cc_num, midnight epoch seconds) -> snapshot features, for every midnight after a card's first
    transaction through the midnight after the last transaction of the history."""
    txs = dedup(history)
    last_day = max(t.ts_ms // DAY_MS for t in txs)
    by_card: dict[int, list[Tx]] = defaultdict(list)
    for tx in txs:
        by_card[tx.cc_num].append(tx)
    snapshot_aggs = [a for a in AGGREGATES if a.window.kind == "daily_snapshot"]
    rows = {}
    for card, card_txs in by_card.items():
        first_day = min(t.ts_ms // DAY_MS for t in card_txs)
        for day in range(first_day + 1, last_day + 2):
            rows[(card, day * 86_400)] = {
                a.name: _apply(a, window_amounts(card_txs, a, day * DAY_MS)) for a in snapshot_aggs
            }
    return rows
