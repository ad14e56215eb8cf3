"""The wire format of the streams, derived from the definition.

transactions stream: one JSON object per transaction, the source columns but the label:
    {"tid": "…", "cc_num": 4000123412341234, "amount": 12.34, "trans_ts": "2020-05-15T10:00:00.000Z"}
aggregates stream: the transaction's fields plus every sliding-window aggregate, by name:
    {…, "num_trans_last_10m": 3, "avg_amt_last_10m": 41.5}
late records: the transaction's fields plus "reason".

Event time travels as ISO-8601 UTC with milliseconds and a trailing Z, which Flink's JSON
format reads as TIMESTAMP_LTZ(3) ('ISO-8601' standard) and people can read in a log.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any

from features.definition import SOURCE, aggregates_of_kind

TRANSACTION_FIELDS: tuple[str, ...] = tuple(c.name for c in SOURCE.columns if c.name != SOURCE.label_column)
AGGREGATE_FIELDS: tuple[str, ...] = (*TRANSACTION_FIELDS, *(a.name for a in aggregates_of_kind("sliding")))
LATE_FIELDS: tuple[str, ...] = (*TRANSACTION_FIELDS, "reason")


class RecordError(ValueError):
    """A record that cannot be processed; the message is the dead-letter reason."""


_MS_SUFFIX = tuple(f"{ms:03d}Z" for ms in range(1000))
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))


@lru_cache(maxsize=1024)
def _date_prefix(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%dT")


@lru_cache(maxsize=4096)  # consecutive events mostly share their second
def _second_prefix(second: int) -> str:
    """ "YYYY-MM-DDTHH:MM:SS." of an epoch second: the date cached per day, the time by arithmetic."""
    day, rest = divmod(second, 86_400)
    minutes, s = divmod(rest, 60)
    h, m = divmod(minutes, 60)
    return f"{_date_prefix(day)}{_TWO_DIGITS[h]}:{_TWO_DIGITS[m]}:{_TWO_DIGITS[s]}."


def format_ts(epoch_ms: int) -> str:
    """Epoch milliseconds as the wire's event time, e.g. "2020-05-15T10:00:00.000Z". It runs once or
    twice per transaction in the engine and the producer, where strftime per call would cost more
    than the engine's whole aggregation: hence the cached prefixes."""
    second, ms = divmod(epoch_ms, 1000)
    return _second_prefix(second) + _MS_SUFFIX[ms]


def parse_ts(text: str) -> int:
    """ISO-8601 UTC -> epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError) as err:
        raise RecordError(f"trans_ts is not an ISO-8601 time: {text!r}") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


_DECODER = json.JSONDecoder()
# json.dumps's text without its per-call setup and circular-reference bookkeeping (stream records
# are small acyclic values): for the writers on a per-record path.
encode_json = json.JSONEncoder(check_circular=False).encode


def decode_json(payload: bytes | str) -> Any:
    """A stream record's data as a JSON value; RecordError("not JSON: ...") when it is not."""
    try:
        if isinstance(payload, bytes):  # decoded as UTF-8 here: json.loads would sniff the encoding
            payload = payload.decode("utf-8")
        # raw_decode skips json.loads's two whitespace scans (a third of its time on a record);
        # anything but one bare value (whitespace around it, extra data, an error) gets json.loads's
        # own answer and message.
        try:
            value, end = _DECODER.raw_decode(payload)
            if end == len(payload):
                return value
        except json.JSONDecodeError:
            pass
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"not JSON: {err}") from err


def parse_transaction(payload: bytes | str) -> dict[str, Any]:
    """Validate one transactions-stream record; returns it with `event_ms` added."""
    return validate_transaction(decode_json(payload))


def validate_transaction(record: Any) -> dict[str, Any]:
    """parse_transaction for an already decoded JSON value (callers that need the other fields
    of the object too decode it once): the transaction fields, checked, plus `event_ms`."""
    if not isinstance(record, dict):
        raise RecordError(f"not a JSON object: {type(record).__name__}")
    try:
        out = {f: record[f] for f in TRANSACTION_FIELDS}
    except KeyError:
        missing = [f for f in TRANSACTION_FIELDS if f not in record]
        raise RecordError(f"missing field(s): {', '.join(missing)}") from None
    tid, cc_num, amount = out[SOURCE.id_column], out[SOURCE.entity], out[SOURCE.amount_column]
    if not isinstance(tid, str) or not tid:
        raise RecordError(f"tid must be a non-empty string, got {tid!r}")
    if isinstance(cc_num, bool) or not isinstance(cc_num, int):
        raise RecordError(f"cc_num must be an integer, got {cc_num!r}")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise RecordError(f"amount must be a number, got {amount!r}")
    if not math.isfinite(amount) or amount < 0:
        raise RecordError(f"amount must be finite and non-negative, got {amount!r}")
    ts = out[SOURCE.event_time]
    if not isinstance(ts, str):
        raise RecordError(f"trans_ts must be an ISO-8601 string, got {ts!r}")
    out[SOURCE.amount_column] = float(amount)
    out["event_ms"] = parse_ts(ts)
    return out


def transaction_json(tid: str, cc_num: int, amount: float, epoch_ms: int) -> str:
    """A transactions-stream record: json.dumps's text of {tid, cc_num, amount, trans_ts}, written by
    one f-string (it is the live producer's largest cost per transaction); a non-str tid or a
    non-finite amount, which JSON spells its own way, takes json.dumps."""
    amount = float(amount)
    if type(tid) is not str or not math.isfinite(amount):
        return json.dumps(
            {"tid": tid, "cc_num": int(cc_num), "amount": amount, "trans_ts": format_ts(epoch_ms)}
        )
    return (
        f'{{"tid": {encode_basestring_ascii(tid)}, "cc_num": {int(cc_num)}, "amount": {amount!r}, '
        f'"trans_ts": "{format_ts(epoch_ms)}"}}'
    )
