"""The wire format: features.records (field names, event time) and features.codec (the typed records,
their validation and JSON)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.codec import (
    SLIDING,
    Aggregate,
    Late,
    ModelInput,
    Prediction,
    Transaction,
    decode,
    encode,
    encode_transaction,
    parse_transaction,
)
from features.definition import MODEL_INPUT
from features.records import AGGREGATE_FIELDS, LATE_FIELDS, TRANSACTION_FIELDS, RecordError, format_ts

T0 = 1_589_536_800_123
GOOD = {"tid": "t1", "cc_num": 4000000000000001, "amount": 12.5, "trans_ts": "2020-05-15T10:00:00.123Z"}
AGG = {**GOOD, **{name: (3 if name.startswith("num_") else 41.5) for name in SLIDING}}


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


def test_the_records_fields_are_the_definitions():
    assert Transaction.__struct_fields__ == TRANSACTION_FIELDS
    assert Aggregate.__struct_fields__ == AGGREGATE_FIELDS
    assert Late.__struct_fields__ == LATE_FIELDS
    assert ModelInput.__struct_fields__ == MODEL_INPUT
    assert Prediction.__struct_fields__[: len(TRANSACTION_FIELDS)] == TRANSACTION_FIELDS


def test_what_the_flink_app_imports_does_not_need_msgspec():
    probe = (
        "import sys, features.records, features.flink_sql, features.kda_sql; print('msgspec' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@given(
    st.text(min_size=1),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.floats(min_value=0, allow_infinity=False),
    st.integers(min_value=0, max_value=253_402_300_799_999),
)
def test_a_produced_transaction_decodes_to_its_values(tid, card, amount, ms):
    data = encode_transaction(tid, card, amount, ms)
    assert data == encode_transaction(tid, card, amount, ms)
    parsed = parse_transaction(data)
    assert parsed == {"tid": tid, "cc_num": card, "amount": amount, "trans_ts": format_ts(ms), "event_ms": ms}
    assert json.loads(data) == {k: v for k, v in parsed.items() if k != "event_ms"}


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"\xff\xfe{}", "not JSON: 'utf-8' codec can't decode byte 0xff"),
        ("{not json", "not JSON: Expecting property name enclosed in double quotes"),
        (b'{"a": 1} x', "not JSON: Extra data"),
        ("[1, 2]", "not a JSON object: list"),
        ('{"tid": "a", "cc_num": 1}', "missing field(s): trans_ts, amount"),
        ({**GOOD, "tid": ""}, "tid must be a non-empty string, got ''"),
        ({**GOOD, "tid": 7}, "tid must be a non-empty string, got 7"),
        ({**GOOD, "cc_num": 1.5}, "cc_num must be an integer, got 1.5"),
        ({**GOOD, "cc_num": True}, "cc_num must be an integer, got True"),
        ({**GOOD, "amount": "12"}, "amount must be a number, got '12'"),
        ({**GOOD, "amount": -3.0}, "amount must be finite and non-negative, got -3.0"),
        ({**GOOD, "amount": math.nan}, "amount must be finite and non-negative, got nan"),
        ({**GOOD, "amount": math.inf}, "amount must be finite and non-negative, got inf"),
        ({**GOOD, "trans_ts": 5}, "trans_ts must be a string, got 5"),
        ({**GOOD, "trans_ts": "yesterday"}, "trans_ts is not an ISO-8601 time: 'yesterday'"),
    ],
)
def test_a_bad_transaction_is_refused_with_its_reason(payload, reason):
    data = json.dumps(payload) if isinstance(payload, dict) else payload
    with pytest.raises(RecordError) as raised:
        decode(data, Transaction)
    assert str(raised.value).startswith(reason)


def test_what_only_the_standard_library_reads_is_still_a_record():
    """NaN in a field the record does not have, a card number beyond 64 bits: msgspec refuses the text,
    the record is valid all the same."""
    assert decode(json.dumps({**GOOD, "note": math.nan}), Transaction).tid == "t1"
    assert decode(json.dumps({**GOOD, "cc_num": 2**70}), Transaction).cc_num == 2**70


def test_an_aggregate_has_its_transaction_event_time_and_aggregates():
    agg = decode(json.dumps(AGG).encode(), Aggregate)
    assert agg.event_ms == T0 and agg.trans_time == T0 / 1000
    assert agg.aggregates == {name: AGG[name] for name in SLIDING}
    assert json.loads(encode(agg)) == AGG


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"num_trans_last_10m": 2.5}, "num_trans_last_10m must be an integer, got 2.5"),
        ({"num_trans_last_10m": -1}, "num_trans_last_10m must be non-negative, got -1"),
        ({"avg_amt_last_10m": "x"}, "avg_amt_last_10m must be a number, got 'x'"),
        ({"avg_amt_last_10m": math.nan}, "avg_amt_last_10m must be finite and non-negative, got nan"),
    ],
)
def test_a_bad_aggregate_is_refused_with_its_reason(change, reason):
    with pytest.raises(RecordError, match=f"^{reason}$".replace("(", r"\(")):
        decode(json.dumps({**AGG, **change}), Aggregate)
    missing = {k: v for k, v in AGG.items() if k != "avg_amt_last_10m"}
    with pytest.raises(RecordError, match=r"^missing field\(s\): avg_amt_last_10m$"):
        decode(json.dumps(missing), Aggregate)


def test_a_late_record_carries_its_reason():
    late = decode(json.dumps({**GOOD, "reason": "late: behind the watermark"}), Late)
    assert late.reason == "late: behind the watermark" and late.event_ms == T0


def test_a_prediction_is_standard_json_and_an_infinite_feature_is_null():
    values = [1.0] * (len(MODEL_INPUT) - 1) + [math.inf]
    prediction = Prediction(
        **GOOD,
        features=ModelInput(*values),
        probability=0.3,
        fraud=True,
        threshold=0.25,
        caveats=("unknown_card",),
        event_to_prediction_ms=12.5,
    )
    data = encode(prediction)
    value = json.loads(data, parse_constant=pytest.fail)  # no NaN or Infinity in the text
    assert value["features"][MODEL_INPUT[-1]] is None and value["caveats"] == ["unknown_card"]
    assert decode(data, Prediction).features == ModelInput(*values[:-1], None)


def test_an_aggregate_is_checked_as_a_transaction_first():
    """A record with a bad amount and no aggregates is refused for its amount, as a transaction would be."""
    with pytest.raises(RecordError, match=r"^amount must be finite and non-negative, got -1.0$"):
        decode(json.dumps({**GOOD, "amount": -1.0}), Aggregate)
