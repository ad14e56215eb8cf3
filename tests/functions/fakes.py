"""In-memory stand-ins with the boto3 method shapes the handlers call; they record every call."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from features.definition import MODEL_INPUT

CLIENTS: dict[str, Any] = {}
DLQ = "https://sqs.us-east-1.amazonaws.com/000000000000/fraud-dead-letters"


def client(service: str) -> Any:
    """The AWS_CLIENT_FACTORY the tests configure: hands out the fakes installed for the test."""
    return CLIENTS[service]


class FakeFeatureStore:
    def __init__(
        self,
        online: dict[str, dict[str, list[dict[str, str]]]] | None = None,
        fail_put_for: set[str] | None = None,
    ) -> None:
        self.online = online or {}
        self.fail_put_for = fail_put_for or set()
        self.puts: list[dict[str, Any]] = []
        self.batch_gets: list[list[dict[str, Any]]] = []

    def put_record(self, *, FeatureGroupName: str, Record: list[dict[str, str]]) -> dict[str, Any]:
        card = Record[0]["ValueAsString"]
        if card in self.fail_put_for:
            raise ConnectionError(f"store unavailable for {card}")
        self.puts.append({"FeatureGroupName": FeatureGroupName, "Record": Record})
        return {}

    def batch_get_record(self, *, Identifiers: list[dict[str, Any]]) -> dict[str, Any]:
        self.batch_gets.append(Identifiers)
        records = []
        for ident in Identifiers:
            group = self.online.get(ident["FeatureGroupName"], {})
            for rid in ident["RecordIdentifiersValueAsString"]:
                if rid in group:
                    wanted = set(ident.get("FeatureNames") or [f["FeatureName"] for f in group[rid]])
                    records.append(
                        {
                            "FeatureGroupName": ident["FeatureGroupName"],
                            "RecordIdentifierValueAsString": rid,
                            "Record": [f for f in group[rid] if f["FeatureName"] in wanted],
                        }
                    )
        return {"Records": records, "Errors": [], "UnprocessedIdentifiers": []}


class FakeEndpoint:
    """Scores each CSV row with `model` (a function of the named features)."""

    def __init__(self, model: Callable[[dict[str, float]], float], fail: bool = False) -> None:
        self.model, self.fail = model, fail
        self.calls: list[dict[str, Any]] = []

    def invoke_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.fail:
            raise TimeoutError("endpoint timed out")
        rows = [
            dict(zip(MODEL_INPUT, map(float, line.split(",")), strict=True))
            for line in kwargs["Body"].splitlines()
        ]
        return {
            "Body": io.BytesIO("\n".join(repr(self.model(r)) for r in rows).encode()),
            "ContentType": "text/csv",
        }


class FakeKinesis:
    """put_records that fails the entries whose partition key is in `fail_keys`, `failures` times each."""

    def __init__(
        self,
        fail_keys: set[str] | None = None,
        failures: int = 1,
        code: str = "ProvisionedThroughputExceededException",
    ) -> None:
        self.fail_keys, self.failures, self.code = fail_keys or set(), failures, code
        self.attempts: dict[str, int] = {}
        self.calls: list[list[dict[str, Any]]] = []
        self.records: list[dict[str, Any]] = []

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        results, failed = [], 0
        for entry in Records:
            key = entry["PartitionKey"]
            seen = self.attempts[key] = self.attempts.get(key, 0) + 1
            if key in self.fail_keys and seen <= self.failures:
                failed += 1
                results.append({"ErrorCode": self.code, "ErrorMessage": "Rate exceeded for shard"})
            else:
                self.records.append({"StreamName": StreamName, **entry})
                results.append({"ShardId": "shardId-000000000000", "SequenceNumber": str(len(self.records))})
        return {"FailedRecordCount": failed, "Records": results}

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r["Data"]) for r in self.records]


class FakeSQS:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, *, QueueUrl: str, MessageBody: str) -> dict[str, Any]:
        self.messages.append({"QueueUrl": QueueUrl, **json.loads(MessageBody)})
        return {"MessageId": str(len(self.messages))}


def emf(out: str) -> dict[str, float]:
    """The metric values of the last EMF blob a handler printed (summed when Powertools lists them)."""
    blob = json.loads([line for line in out.splitlines() if '"_aws"' in line][-1])
    values = {m["Name"]: blob[m["Name"]] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    return {name: sum(v) if isinstance(v, list) else v for name, v in values.items()}


@dataclass
class Aws:
    """The fake clients a handler test installs."""

    store: FakeFeatureStore
    endpoint: FakeEndpoint
    kinesis: FakeKinesis
    sqs: FakeSQS
