"""The consistency job's result computed by brute force: plain Python loops over every pair."""

from __future__ import annotations

import math
from collections import Counter

from features.definition import EVENT_TIME_FEATURE, MODEL_INPUT, RATIOS, aggregates_of_kind

DAY_MS = 86_400_000
SLIDING = [a.name for a in aggregates_of_kind("sliding")]
SNAP = [a.name for a in aggregates_of_kind("daily_snapshot")]
LONGEST = max(a.window.length_ms for a in aggregates_of_kind("sliding"))


def same(a, b) -> bool:
    """`a` served, `b` batch: a served None (the codec's null for NaN or infinity) equals a batch NaN
    or infinity; any other None is a mismatch."""
    if a is None:
        return b is not None and not math.isfinite(b)
    if b is None or not math.isfinite(b):
        return False
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def reasons(served: list[dict], training: list[dict], snapshots: list[dict]) -> dict[str, str]:
    """tid -> reason. `served`: the records, first kept per tid (by event time, then probability)."""
    batch = {r["tid"]: r for r in training}
    served_tids = {s["tid"] for s in served}
    lo = min(s["event_ms"] for s in served)
    out = {}
    for s in served:
        b = batch.get(s["tid"])
        if b is None:
            out[s["tid"]] = "not_in_batch"
            continue
        bad = {f for f in MODEL_INPUT if not same(s["features"].get(f), float(b[f]))}
        if not bad:
            out[s["tid"]] = "match"
            continue
        peers = [r for r in training if r["cc_num"] == s["cc_num"] and r["event_ms"] == s["event_ms"]]
        if len(peers) > 1:
            out[s["tid"]] = "same_timestamp_peers"
            continue
        if any(r.name in bad and r.numerator not in bad and r.denominator not in bad for r in RATIOS):
            out[s["tid"]] = "unexplained"
            continue
        sliding_bad = bool(bad & {"amount", *SLIDING})
        snapshot_bad = bool(bad & set(SNAP))
        late_ok = any(
            r["cc_num"] == s["cc_num"]
            and s["event_ms"] - LONGEST <= r["event_ms"] <= s["event_ms"]
            and r["event_ms"] >= lo - LONGEST
            and r["tid"] not in served_tids
            for r in training
        )
        midnight = s["event_ms"] // DAY_MS * DAY_MS
        snap_ok = bool(s["caveats"]) or any(
            p["cc_num"] == s["cc_num"]
            and midnight - 7 * DAY_MS <= p[EVENT_TIME_FEATURE] * 1000 < midnight
            and all(same(s["features"][f], p[f]) for f in SNAP)
            for p in snapshots
        )
        if (not sliding_bad or late_ok) and (not snapshot_bad or snap_ok):
            out[s["tid"]] = "late_or_dead_lettered" if sliding_bad else "snapshot_not_loaded"
        else:
            out[s["tid"]] = "unexplained"
    return out


def roc_auc(labels: list[int], scores: list[float]) -> float:
    """Mann-Whitney: the share of (fraud, legit) pairs ranked right, ties half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def pr_auc(labels: list[int], scores: list[float]) -> float:
    """Average precision by its definition: at each distinct score, recall step x precision."""
    total = sum(labels)
    ap, seen_tp = 0.0, 0
    for threshold in sorted(set(scores), reverse=True):
        flagged = [y for s, y in zip(scores, labels, strict=True) if s >= threshold]
        tp = sum(flagged)
        ap += (tp - seen_tp) / total * (tp / len(flagged))
        seen_tp = tp
    return ap


def summary(result_reasons: dict[str, str]) -> Counter:
    return Counter(result_reasons.values())
