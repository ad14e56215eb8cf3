"""Builds AWS-format Kinesis events (the shape Lambda's event source mapping delivers) for handler tests.

The JSON files beside this module are events captured in that shape; `load` reads them and
`kinesis_event` builds new ones from payloads.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from features.definition import MODEL_INPUT, aggregates_of_kind
from features.records import format_ts

EVENTS = Path(__file__).parent
STREAM_ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/fraud-aggregates"
SHARD = "shardId-000000000000"
FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898
SLIDING = aggregates_of_kind("sliding")


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def aggregate(
    tid: str = "t1",
    cc_num: int = 4000000000000001,
    amount: float = 25.0,
    event_ms: int = 1_589_536_800_000,
    num_trans_last_10m: int = 1,
    avg_amt_last_10m: float | None = None,
    **other: Any,
) -> dict[str, Any]:
    """An aggregates-stream payload (features/records.py wire format) with every sliding aggregate of the
    definition: counts default to the 10-minute count, other aggregates to the 10-minute average."""
    avg = amount if avg_amt_last_10m is None else avg_amt_last_10m
    values = {a.name: num_trans_last_10m if a.function == "count" else avg for a in SLIDING}
    return {
        "tid": tid,
        "cc_num": cc_num,
        "amount": amount,
        "trans_ts": format_ts(event_ms),
        **values,
        "num_trans_last_10m": num_trans_last_10m,
        "avg_amt_last_10m": avg,
        **other,
    }


def model_row(
    amount: float,
    count_10m: int,
    avg_10m: float,
    count_1w: int,
    avg_1w: float,
    amt_ratio1: float,
    amt_ratio2: float,
    count_ratio: float,
) -> dict[str, float]:
    """The model input the score function should build, by name in MODEL_INPUT order (other sliding
    aggregates take `aggregate`'s defaults)."""
    values: dict[str, float] = {a.name: count_10m if a.function == "count" else avg_10m for a in SLIDING}
    values |= {
        "amount": amount,
        "num_trans_last_10m": count_10m,
        "avg_amt_last_10m": avg_10m,
        "num_trans_last_1w": count_1w,
        "avg_amt_last_1w": avg_1w,
        "amt_ratio1": amt_ratio1,
        "amt_ratio2": amt_ratio2,
        "count_ratio": count_ratio,
    }
    if set(values) != set(MODEL_INPUT):
        raise AssertionError(f"model_row does not know the model input {MODEL_INPUT}")
    return {name: values[name] for name in MODEL_INPUT}


def kinesis_record(
    payload: dict[str, Any] | str | bytes,
    sequence: int,
    partition_key: str | None = None,
    arrival_s: float = 1_589_536_801.0,
    encoded: str | None = None,
) -> dict[str, Any]:
    if isinstance(payload, dict):
        data = json.dumps(payload).encode()
        partition_key = partition_key or str(payload.get("cc_num", "x"))
    else:
        data = payload.encode() if isinstance(payload, str) else payload
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key or "x",
            "sequenceNumber": str(sequence),
            "data": encoded if encoded is not None else base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival_s,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{SHARD}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::000000000000:role/fraud-score",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
    }


def kinesis_event(*payloads: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """One Kinesis event with a record per payload, consecutive sequence numbers from FIRST_SEQUENCE."""
    return {"Records": [kinesis_record(p, FIRST_SEQUENCE + i) for i, p in enumerate(payloads)]}


def sequence(event: dict[str, Any], index: int) -> str:
    return event["Records"][index]["kinesis"]["sequenceNumber"]


def fixtures() -> dict[str, dict[str, Any]]:
    """The committed JSON fixtures, as this factory builds them (a test checks they are current)."""
    good = kinesis_event(
        aggregate("2c5a3f0e1b", 4000000000000001, 25.0, 1_589_536_800_000, 1),
        aggregate("8d1e6b7c2a", 4000000000000002, 310.5, 1_589_536_801_250, 3, 120.25),
    )
    bad = kinesis_event(
        "not json at all",
        {"tid": "no-card", "amount": 1.0, "trans_ts": "2020-05-15T10:00:00.000Z"},
        aggregate("wrong-type", amount="12"),
        aggregate("negative", amount=-5.0),
        json.dumps(aggregate("nan", amount=0.0)).replace('"amount": 0.0', '"amount": NaN'),
        aggregate("ok-1", 4000000000000001, 42.0, 1_589_536_802_000, 2, 33.5),
    )
    bad["Records"].append(kinesis_record(b"", FIRST_SEQUENCE + 6, encoded="%%%not-base64%%%"))
    return {"kinesis_aggregates.json": good, "kinesis_bad_records.json": bad}


if __name__ == "__main__":  # python -m tests.events.factory: rewrite the fixtures after a definition change
    for name, event in fixtures().items():
        (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")
