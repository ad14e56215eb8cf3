"""The wire format of the streams, derived from the definition.

transactions stream: one JSON object per transaction, the source columns but the label:
    {"tid":"…","trans_ts":"2020-05-15T10:00:00.000Z","cc_num":4000123412341234,"amount":12.34}
aggregates stream: the transaction's fields plus every sliding-window aggregate, by name:
    {…,"num_trans_last_10m":3,"avg_amt_last_10m":41.5}
late records: the transaction's fields plus "reason".
features/codec.py declares these records and encodes them; this module, imported by the Flink app and the
EMR job too, names their fields and writes the event time with the standard library alone.

Event time travels as ISO-8601 UTC with milliseconds and a trailing Z, which Flink's JSON
format reads as TIMESTAMP_LTZ(3) ('ISO-8601' standard) and people can read in a log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

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
