"""features.records: the wire format's writers against their plain references, decode_json against
json.loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.records import RecordError, decode_json, format_ts, transaction_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES, st.sampled_from(["", " ", "\n", "\t "]), st.sampled_from(["", " ", "\r\n"]))
def test_any_json_value_with_any_surrounding_whitespace_decodes_as_json_loads(value, before, after):
    text = before + json.dumps(value) + after
    assert decode_json(text) == json.loads(text)
    assert decode_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize("payload", [b"", b"   ", b"{", b'{"a": 1} x', b'{"a": 1}{"b": 2}', b"nope", "[1,]"])
def test_not_json_raises_with_json_loads_message(payload):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(payload)
    with pytest.raises(RecordError, match=r"^not JSON: ") as raised:
        decode_json(payload)
    assert str(raised.value) == f"not JSON: {expected.value}"


def test_invalid_utf8_is_not_json():
    with pytest.raises(RecordError, match=r"^not JSON: 'utf-8' codec"):
        decode_json(b"\xff\xfe{}")


def reference_ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@given(st.integers(min_value=-62_135_596_800_000 + 86_400_000, max_value=253_402_300_799_999))
def test_format_ts_is_the_strftime_reference(ms):
    assert format_ts(ms) == reference_ts(ms)


@pytest.mark.parametrize(
    "ms", [0, 999, -1, 1_589_536_800_000, 4_102_444_799_999, 951_782_400_000]
)  # incl. a leap day
def test_format_ts_at_the_edges(ms):
    assert format_ts(ms) == reference_ts(ms)


@pytest.mark.parametrize(
    "tid, card, amount, ms",
    [
        ('q"uote\\back', 4000000000000001, 0.1 + 0.2, 0),
        ("ünï\u2028code", 1, 1e-7, 1_589_536_800_999),
        ("t", 4000000000000002, 12345.67, 1_893_456_000_001),
        ("n", 3, float("nan"), 5),
        ("i", 3, float("inf"), 5),
        ("w", 3, 10, 5),
        ("k", 3.0, 10, 5),
        (7, 3, 1.5, 5),
    ],
)
def test_transaction_json_is_json_dumps_of_the_record(tid, card, amount, ms):
    expected = json.dumps(
        {"tid": tid, "cc_num": int(card), "amount": float(amount), "trans_ts": reference_ts(ms)}
    )
    assert transaction_json(tid, card, amount, ms) == expected
