"""Builds AWS-format Kinesis events (the shape Lambda's event source mapping delivers) for handler tests.

The JSON files beside this module are events captured in that shape; `load` reads them and
`kinesis_event` builds new ones from payloads.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from features.records import format_ts

EVENTS = Path(__file__).parent
STREAM_ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/fraud-aggregates"
SHARD = "shardId-000000000000"
FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def aggregate(tid: str = "t1", cc_num: int = 4000000000000001, amount: float = 25.0,
              event_ms: int = 1_589_536_800_000, num_trans_last_10m: int = 1,
              avg_amt_last_10m: float | None = None) -> dict[str, Any]:
    """An aggregates-stream payload (features/records.py wire format)."""
    return {"tid": tid, "cc_num": cc_num, "amount": amount, "trans_ts": format_ts(event_ms),
            "num_trans_last_10m": num_trans_last_10m,
            "avg_amt_last_10m": amount if avg_amt_last_10m is None else avg_amt_last_10m}


def kinesis_record(payload: dict[str, Any] | str | bytes, sequence: int, partition_key: str | None = None,
                   arrival_s: float = 1_589_536_801.0, encoded: str | None = None) -> dict[str, Any]:
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
