"""The one record codec of the streams: the records declared once, as msgspec Structs built from the
definition, with their validation; JSON by msgspec (docs/performance.md, "Record codec": it
encoded and decoded a record three to four times faster than dataclasses with orjson).

transactions stream   Transaction   the source columns but the label
aggregates stream     Aggregate     a Transaction plus every sliding-window aggregate, by name
late, duplicates      Late          a Transaction plus "reason"
predictions stream    Prediction    a Transaction plus its model input ("features"), probability,
                                    fraud, threshold, caveats and event_to_prediction_ms

features/records.py names the fields and writes the event time; it stays free of msgspec because the
Flink app and the EMR job import it. A record that fails validation raises RecordError, whose message
is the dead-letter reason. JSON has no NaN or infinity: msgspec writes null for them.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, TypeVar

import msgspec

from features.definition import MODEL_INPUT, SOURCE, aggregates_of_kind
from features.records import TRANSACTION_FIELDS, RecordError, format_ts, parse_ts

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Finite = Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]  # finite and non-negative
Count = Annotated[int, msgspec.Meta(ge=0)]
_DTYPES: dict[str, Any] = {"string": str, "timestamp": str, "int64": int, "int32": int, "float64": float}
_RULES: dict[str, Any] = {SOURCE.id_column: NonEmpty, SOURCE.amount_column: Finite}


class _Event(msgspec.Struct, dict=True):
    """What every record of the streams adds to its fields: its event time as numbers, computed on first
    use and kept in the instance's dict (not encoded)."""

    def __getattr__(self, name: str) -> Any:  # called for what the instance does not have (yet)
        if name != "event_ms":
            raise AttributeError(name)
        self.event_ms: int = parse_ts(getattr(self, SOURCE.event_time))  # decode sets it first
        return self.event_ms

    @property
    def trans_time(self) -> float:
        """The event time in epoch seconds: the feature store's event-time feature."""
        return self.event_ms / 1000


Transaction = msgspec.defstruct(
    "Transaction",
    [(c.name, _RULES.get(c.name, _DTYPES[c.dtype])) for c in SOURCE.columns if c.name in TRANSACTION_FIELDS],
    bases=(_Event,),
    module=__name__,
)
SLIDING: tuple[str, ...] = tuple(a.name for a in aggregates_of_kind("sliding"))
Aggregate = msgspec.defstruct(
    "Aggregate",
    [(a.name, Count if a.feature_type == "Integral" else Finite) for a in aggregates_of_kind("sliding")],
    bases=(Transaction,),
    namespace={
        "aggregates": property(
            lambda self: {name: getattr(self, name) for name in SLIDING},
            doc="Every sliding aggregate, by name.",
        )
    },
    module=__name__,
)
Late = msgspec.defstruct("Late", [("reason", str)], bases=(Transaction,), module=__name__)
# A ratio may be infinite (its denominator tiny), which the prediction carries as null.
ModelInput = msgspec.defstruct("ModelInput", [(name, float | None) for name in MODEL_INPUT], module=__name__)
Prediction = msgspec.defstruct(
    "Prediction",
    [
        ("features", ModelInput),
        ("probability", float),
        ("fraud", bool),
        ("threshold", float),
        ("caveats", tuple[str, ...]),
        ("event_to_prediction_ms", float),
    ],
    bases=(Transaction,),
    module=__name__,
)

encode = msgspec.json.Encoder().encode  # any record, dict or list -> JSON bytes (deterministic)
R = TypeVar("R", bound=msgspec.Struct)
_DECODERS: dict[type, msgspec.json.Decoder] = {
    kind: msgspec.json.Decoder(kind) for kind in (Transaction, Aggregate, Late, Prediction)
}


def decode(payload: bytes | str, kind: type[R]) -> R:
    """One record of `kind`, validated (the event time too); RecordError(reason) when it is not one."""
    try:
        record = _DECODERS[kind].decode(payload)
    except msgspec.MsgspecError as err:
        record = _explain(payload, kind, err)
    record.event_ms = parse_ts(getattr(record, SOURCE.event_time))  # RecordError when not ISO-8601
    return record


def encode_transaction(tid: str, cc_num: int, amount: float, epoch_ms: int) -> bytes:
    """A transactions-stream record: what the producer sends."""
    return encode(
        Transaction(tid=tid, cc_num=int(cc_num), amount=float(amount), trans_ts=format_ts(epoch_ms))
    )


def parse_transaction(payload: bytes | str) -> dict[str, Any]:
    """A transactions-stream record as a dict of its fields plus `event_ms` (the engine's input)."""
    record = decode(payload, Transaction)
    return {**msgspec.structs.asdict(record), "event_ms": record.event_ms}


def _explain(payload: bytes | str, kind: type[R], err: msgspec.MsgspecError) -> R:
    """The slow path of a payload the typed decoder refused: the record after all when the standard
    library reads what msgspec does not (NaN or Infinity in a field the record does not have, an
    integer beyond 64 bits), else RecordError with the first problem a reader would name."""
    try:
        # decoded as UTF-8 here: json.loads would sniff the encoding
        value = json.loads(payload.decode("utf-8") if isinstance(payload, bytes | bytearray) else payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        raise RecordError(f"not JSON: {bad}") from None
    if not isinstance(value, dict):
        raise RecordError(f"not a JSON object: {type(value).__name__}")
    checked: set[str] = set()
    for level in _levels(kind):  # a base record's fields first: a transaction, then its aggregates
        fields = [f for f in msgspec.inspect.type_info(level).fields if f.name not in checked]
        checked.update(f.name for f in fields)
        missing = [f.name for f in fields if f.required and f.name not in value]
        if missing:
            raise RecordError(f"missing field(s): {', '.join(missing)}")
        for f in fields:
            if f.name in value and (rule := _broken_rule(f.type, value[f.name])):
                raise RecordError(f"{f.name} must be {rule}, got {value[f.name]!r}")
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError:
        raise RecordError(f"not a {kind.__name__} record: {err}") from None


def _levels(kind: type) -> list[type]:
    """The record types `kind` extends, the most basic first, then `kind`."""
    return [c for c in reversed(kind.__mro__) if c in _DECODERS or c is kind]


def _broken_rule(rule: msgspec.inspect.Type, value: Any) -> str | None:
    """What a field's declared type and constraints ask that `value` is not, in a reason's words."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(rule, msgspec.inspect.StrType):
        if not isinstance(value, str) or len(value) < (rule.min_length or 0):
            return "a non-empty string" if rule.min_length else "a string"
    elif isinstance(rule, msgspec.inspect.IntType):
        if not number or not isinstance(value, int):
            return "an integer"
        if rule.ge is not None and value < rule.ge:
            return "non-negative"
    elif isinstance(rule, msgspec.inspect.FloatType):
        if not number:
            return "a number"
        if rule.ge is not None and not rule.ge <= value <= (rule.le if rule.le is not None else value):
            return "finite and non-negative"  # NaN fails every comparison
    return None
