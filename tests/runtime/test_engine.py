"""Semantics of the local engine's core: windows, peers, dedup, lateness, release order, bad input."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.codec import encode_transaction
from features.definition import STREAM, WINDOW_10M, Aggregate, Window, aggregates_for, aggregates_of_kind
from features.records import AGGREGATE_FIELDS, LATE_FIELDS, format_ts
from jobs.local_engine.windows import WindowEngine, run_engine

T0 = 1_589_536_800_000  # 2020-05-15T10:00:00Z
MIN = 60_000
OOO = int(STREAM.out_of_orderness.total_seconds() * 1000)
# the 10-minute count and average: the windows below are built around 10 minutes
COUNT = next(a.name for a in aggregates_for(WINDOW_10M) if a.function == "count")
AVG = next(a.name for a in aggregates_for(WINDOW_10M) if a.function == "avg")


def tx(tid: str, t_ms: int, card: int = 1, amount: float = 10.0) -> str:
    return encode_transaction(tid, card, amount, t_ms).decode()


def by_tid(aggregates):
    return {a["tid"]: (a[COUNT], a[AVG]) for a in aggregates}


def test_window_includes_rows_exactly_ten_minutes_back_and_not_one_ms_more():
    aggs, late, dead = run_engine(
        [tx("a", T0, amount=10), tx("b", T0 + 10 * MIN, amount=20), tx("c", T0 + 10 * MIN + 1, amount=40)]
    )
    assert late == dead == []
    assert by_tid(aggs) == {"a": (1, 10.0), "b": (2, 15.0), "c": (2, 30.0)}
    assert WINDOW_10M.length_ms == 10 * MIN
    assert all(list(a) == list(AGGREGATE_FIELDS) for a in aggs)


def test_same_timestamp_peers_see_each_other_and_other_cards_are_apart():
    aggs, _, _ = run_engine(
        [
            tx("a", T0, amount=10),
            tx("b", T0, amount=30),
            tx("x", T0, card=2, amount=5),
            tx("c", T0 + 1, amount=50),
        ]
    )
    assert by_tid(aggs) == {"a": (2, 20.0), "b": (2, 20.0), "x": (1, 5.0), "c": (3, 30.0)}


def test_a_tid_seen_twice_is_counted_once_and_reported():
    aggs, late, dead = run_engine([tx("a", T0), tx("a", T0), tx("b", T0 + 1000)])
    assert by_tid(aggs) == {"a": (1, 10.0), "b": (2, 10.0)}
    assert late == [] and [d["tid"] for d in dead] == ["a"] and dead[0]["reason"].startswith("duplicate:")


def test_lateness_is_event_time_at_or_before_the_watermark():
    # after T0 + 5 s the watermark is T0 + 5 s - out_of_orderness
    w = T0 + 5000 - OOO
    aggs, late, _ = run_engine([tx("a", T0), tx("b", T0 + 5000), tx("at", w), tx("after", w + 1)])
    assert [r["tid"] for r in late] == ["at"]
    assert list(late[0]) == list(LATE_FIELDS) and late[0]["reason"].startswith("late:")
    assert late[0]["trans_ts"] == format_ts(w)
    assert [a["tid"] for a in aggs] == ["a", "after", "b"]  # event-time order
    assert by_tid(aggs)["b"] == (3, 10.0)  # the late row is not aggregated


def test_nothing_is_late_before_the_first_watermark_and_a_late_duplicate_is_late():
    aggs, late, dead = run_engine([tx("a", T0 + MIN), tx("b", T0), tx("c", T0 + 2 * MIN), tx("b", T0)])
    assert [r["tid"] for r in late] == ["b", "b"]  # b is late against a's watermark; so is its copy
    assert dead == [] and [a["tid"] for a in aggs] == ["a", "c"]


def test_rows_are_released_once_the_watermark_reaches_them_in_event_time_order():
    engine, ahead = WindowEngine(), OOO // 2
    assert engine.process(tx("a", T0 + ahead)) == []
    assert engine.process(tx("b", T0)) == []  # within the out-of-orderness: buffered, not late
    released = engine.process(tx("c", T0 + ahead + OOO))  # watermark = T0 + ahead: a and b
    assert [(e.kind, e.record["tid"]) for e in released] == [("aggregate", "b"), ("aggregate", "a")]
    assert engine.watermark == T0 + ahead and engine.stats["pending"] == 1
    assert [e.record["tid"] for e in engine.flush()] == ["c"]


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"\xff\xfe", "not JSON"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"tid": "a"}', "missing field"),
        (
            '{"tid": "a", "cc_num": "1", "amount": 1, "trans_ts": "2020-01-01T00:00:00Z"}',
            "cc_num must be an integer",
        ),
        (
            '{"tid": "a", "cc_num": 1, "amount": "1", "trans_ts": "2020-01-01T00:00:00Z"}',
            "amount must be a number",
        ),
        ('{"tid": "a", "cc_num": 1, "amount": NaN, "trans_ts": "2020-01-01T00:00:00Z"}', "finite"),
        ('{"tid": "a", "cc_num": 1, "amount": -3, "trans_ts": "2020-01-01T00:00:00Z"}', "non-negative"),
        ('{"tid": "a", "cc_num": 1, "amount": 3, "trans_ts": "noon"}', "ISO-8601"),
        ('{"tid": "", "cc_num": 1, "amount": 3, "trans_ts": "2020-01-01T00:00:00Z"}', "tid"),
    ],
)
def test_malformed_records_are_dead_lettered_with_their_reason(payload, reason):
    aggs, late, dead = run_engine([tx("ok1", T0), payload, tx("ok2", T0 + 1)])
    assert [a["tid"] for a in aggs] == ["ok1", "ok2"] and late == []
    assert len(dead) == 1 and reason in dead[0]["reason"]


# ------------------------------------------------------------------ property: against a reference
def reference(rows, ooo, aggregates):
    """The rules of the module docstring, written the slow, obvious way."""
    watermark = top = None
    kept, seen, late, duplicates = [], set(), [], []
    for i, (tid, card, amount, t, _) in enumerate(rows):
        if watermark is not None and t <= watermark:
            late.append(tid)
            continue
        if tid in seen:
            duplicates.append(tid)
            continue
        seen.add(tid)
        kept.append((t, i, tid, card, amount))
        top = t if top is None else max(top, t)
        watermark = top - ooo if watermark is None else max(watermark, top - ooo)
    kept.sort()
    out = []
    for t, _, tid, card, amount in kept:
        record = {"tid": tid, "cc_num": card, "amount": amount}
        for a in aggregates:
            values = [x[4] for x in kept if x[3] == card and t - a.window.length_ms <= x[0] <= t]
            record[a.name] = {
                "count": len(values),
                "sum": sum(values),
                "avg": sum(values) / len(values),
                "max": max(values),
                "min": min(values),
            }[a.function]
        out.append(record)
    return out, late, duplicates


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.integers(1, 3),
        st.sampled_from([1.0, 2.5, 10.0, 99.99, 1234.56]),
        st.integers(0, 3 * 60),
    ),  # tid number, card, amount, time in 5-second steps
    min_size=1,
    max_size=60,
)


def as_rows(raw):
    rows, by_tid = [], {}
    for n, card, amount, step in raw:
        tid = f"t{n}"
        if tid in by_tid:  # a repeated tid is an exact copy, as the tid is a hash of the row
            rows.append(by_tid[tid])
            continue
        by_tid[tid] = (tid, card, amount, T0 + step * 5000, None)
        rows.append(by_tid[tid])
    return rows


def check(engine_out, expected, aggregates):
    aggs, late, duplicates = engine_out
    want, want_late, want_dup = expected
    assert [a["tid"] for a in aggs] == [w["tid"] for w in want]
    for got, exp in zip(aggs, want, strict=True):
        for a in aggregates:
            assert got[a.name] == pytest.approx(exp[a.name], rel=1e-12)
    assert [r["tid"] for r in late] == want_late
    assert [r["tid"] for r in duplicates] == want_dup


@settings(max_examples=150, deadline=None)
@given(raw=rows_strategy, ooo=st.sampled_from([0, 1000, OOO, 30_000]))
def test_engine_equals_the_reference_one_row_at_a_time_and_in_bulk(raw, ooo):
    rows = as_rows(raw)
    aggregates = aggregates_of_kind("sliding")
    expected = reference(rows, ooo, aggregates)

    one = WindowEngine(ooo)
    emitted = [
        e
        for tid, card, amount, t, _ in rows
        for e in one.process(json.loads(encode_transaction(tid, card, amount, t)))
    ]
    emitted += one.flush()
    check(
        (
            [e.record for e in emitted if e.kind == "aggregate"],
            [e.record for e in emitted if e.kind == "late"],
            [e.record for e in emitted if e.kind == "duplicate"],
        ),
        expected,
        aggregates,
    )

    bulk = WindowEngine(ooo)
    out = bulk.process_rows(rows)
    bulk.advance_watermark(bulk.max_event, out)
    check((out.aggregates, out.late, out.duplicates), expected, aggregates)
    assert one.stats == bulk.stats
    assert (
        bulk.stats["in"]
        == len(rows)
        == bulk.stats["aggregate"] + bulk.stats["late"] + bulk.stats["duplicate"]
    )


@settings(max_examples=60, deadline=None)
@given(raw=rows_strategy)
def test_engine_is_generic_over_the_definitions_aggregates(raw):
    """Any count/sum/avg/max/min over several windows, as the definition could declare them."""
    w2, w30 = Window("2m", "sliding", timedelta(minutes=2)), Window("30s", "sliding", timedelta(seconds=30))
    aggregates = (
        Aggregate("n", "count", None, w2, ""),
        Aggregate("s", "sum", "amount", w2, ""),
        Aggregate("hi", "max", "amount", w30, ""),
        Aggregate("lo", "min", "amount", w30, ""),
        Aggregate("m", "avg", "amount", WINDOW_10M, ""),
    )
    rows = as_rows(raw)
    engine = WindowEngine(OOO, aggregates)
    out = engine.process_rows(rows)
    engine.advance_watermark(engine.max_event, out)
    check((out.aggregates, out.late, out.duplicates), reference(rows, OOO, aggregates), aggregates)
    count, *others = (a.name for a in aggregates)
    assert all(isinstance(r[count], int) and all(math.isfinite(r[k]) for k in others) for r in out.aggregates)


def test_a_pickled_engine_resumes_exactly_and_still_knows_every_tid():
    """The checkpoint form (flat window arrays, tids rebuilt from the released batches and the
    pending rows): the restored engine emits what the uninterrupted one does, and rejects as
    duplicates the tids of released, pending and window rows alike."""
    import pickle

    first = [tx(f"t{i}", T0 + i * 700, card=4000_0000_0000_0000 + i % 7, amount=1.25 * i) for i in range(400)]
    later = [
        tx(f"u{i}", T0 + 400 * 700 + i * 900, card=4000_0000_0000_0000 + i % 5, amount=3.5 + i)
        for i in range(100)
    ]
    # released (same and later time), pending, pending
    again = [tx("t0", T0), tx("t5", T0 + 500 * 700), tx("t399", T0 + 399 * 700), tx("t398", T0 + 398 * 700)]
    whole = WindowEngine(2000)  # a 2 s bound keeps t398 and t399 pending (700 ms apart)
    for r in first:
        whole.process(r)
    restored = pickle.loads(pickle.dumps(whole))
    assert restored.pending and restored.seen_order and restored.cards  # every part of the state travelled
    assert set(restored.seen) == set(whole.seen)
    for engine in (whole, restored):
        kinds = [[e.kind for e in engine.process(r)] for r in again]
        assert kinds == [["late"], ["duplicate"], ["duplicate"], ["duplicate"]]
    outputs = [
        [e.record for r in later for e in engine.process(r)] + [e.record for e in engine.flush()]
        for engine in (whole, restored)
    ]
    assert outputs[0] == outputs[1] and len([o for o in outputs[0] if "reason" not in o]) >= 100


def test_a_checkpoint_of_another_state_layout_is_refused():
    from jobs.local_engine.windows import CheckpointLayoutError

    engine = WindowEngine()
    engine.process(tx("t0", T0))
    state = engine.__getstate__()
    state["layout"] -= 1
    with pytest.raises(CheckpointLayoutError, match="another version's state layout"):
        WindowEngine.__new__(WindowEngine).__setstate__(state)
