"""features.records.decode_json: json.loads's answer for every payload, RecordError for non-JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.records import RecordError, decode_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


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
