"""ingest handler: aggregate records -> cc-agg-fg PutRecord, bad records dead-lettered with their reason."""

from __future__ import annotations

import base64
import json

from features.feature_groups import group_for, record_features
from functions.ingest import app
from tests.events.factory import aggregate, fixtures, kinesis_event, load, sequence
from tests.functions.fakes import DLQ, Aws, emf


def fs_record(payload: dict, trans_time: str) -> list[dict[str, str]]:
    """The cc-agg-fg record expected for `payload`: card, event time, every sliding aggregate as text."""
    values = {**payload, "trans_time": trans_time}
    return [{"FeatureName": f.name, "ValueAsString": str(values[f.name])} for f in record_features(group_for("sliding"))]


def test_writes_each_cards_10_minute_features_at_the_transactions_event_time(aws: Aws, capsys) -> None:
    # GIVEN two aggregate records from the fixture
    event = load("kinesis_aggregates.json")
    # WHEN the handler receives them
    response = app.lambda_handler(event, None)
    # THEN nothing failed and each became one PutRecord stamped with its transaction's event time
    assert response == {"batchItemFailures": []}
    first, second = (json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"])
    assert aws.store.puts == [
        {"FeatureGroupName": "fraud-cc-agg-fg", "Record": fs_record(first, "1589536800.000")},
        {"FeatureGroupName": "fraud-cc-agg-fg", "Record": fs_record(second, "1589536801.250")},
    ]
    assert aws.store.puts[1]["Record"][:4] == [
        {"FeatureName": "cc_num", "ValueAsString": "4000000000000002"},
        {"FeatureName": "trans_time", "ValueAsString": "1589536801.250"},
        {"FeatureName": "num_trans_last_10m", "ValueAsString": "3"},
        {"FeatureName": "avg_amt_last_10m", "ValueAsString": "120.25"}]
    assert aws.sqs.messages == []
    assert emf(capsys.readouterr().out) == {"RecordsIngested": 2, "RecordsDeadLettered": 0}


def test_bad_records_are_dead_lettered_with_their_reason_and_the_rest_proceeds(aws: Aws, capsys) -> None:
    # GIVEN a batch of bad records (not JSON, missing field, wrong type, negative, NaN, not base64) and one good
    event = load("kinesis_bad_records.json")
    # WHEN the handler receives it
    response = app.lambda_handler(event, None)
    # THEN no record is reported for retry, the good one is written, each bad one is dead-lettered with its reason
    assert response == {"batchItemFailures": []}
    assert [p["Record"][0]["ValueAsString"] for p in aws.store.puts] == ["4000000000000001"]
    reasons = [(m["sequenceNumber"], m["disposition"], m["reason"].split(":")[0]) for m in aws.sqs.messages]
    assert reasons == [
        (sequence(event, 0), "rejected", "not JSON"),
        (sequence(event, 1), "rejected", "missing field(s)"),
        (sequence(event, 2), "rejected", "amount must be a number, got '12'"),
        (sequence(event, 3), "rejected", "amount must be finite and non-negative, got -5.0"),
        (sequence(event, 4), "rejected", "amount must be finite and non-negative, got nan"),
        (sequence(event, 6), "rejected", "data is not base64"),
    ]
    assert all(m["QueueUrl"] == DLQ and m["function"] for m in aws.sqs.messages)
    # records in = processed + dead-lettered
    metrics = emf(capsys.readouterr().out)
    assert len(event["Records"]) == metrics["RecordsIngested"] + metrics["RecordsDeadLettered"] == 1 + 6


def test_a_dead_letter_carries_the_original_record(aws: Aws) -> None:
    # GIVEN a record whose aggregate has the wrong type
    event = kinesis_event(aggregate("t9", num_trans_last_10m="three"))  # type: ignore[arg-type]
    # WHEN the handler receives it
    app.lambda_handler(event, None)
    # THEN the dead letter holds the reason and the untouched base64 payload, shard position and source
    (message,) = aws.sqs.messages
    record = event["Records"][0]
    assert message == {
        "QueueUrl": DLQ, "reason": "num_trans_last_10m must be a number, got 'three'", "disposition": "rejected",
        "function": message["function"], "eventSourceARN": record["eventSourceARN"], "eventID": record["eventID"],
        "partitionKey": record["kinesis"]["partitionKey"], "sequenceNumber": record["kinesis"]["sequenceNumber"],
        "approximateArrivalTimestamp": record["kinesis"]["approximateArrivalTimestamp"],
        "data": record["kinesis"]["data"],
    }


def test_a_store_fault_is_a_partial_failure_for_the_ESM_to_retry(aws: Aws) -> None:
    # GIVEN a store that fails for the second card only
    aws.store.fail_put_for = {"4000000000000002"}
    event = kinesis_event(aggregate("a", 4000000000000001), aggregate("b", 4000000000000002), aggregate("c", 4000000000000003))
    # WHEN the handler receives the batch
    response = app.lambda_handler(event, None)
    # THEN only that record is reported for retry; nothing is dead-lettered (the record itself is fine)
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 1)}]}
    assert [p["Record"][0]["ValueAsString"] for p in aws.store.puts] == ["4000000000000001", "4000000000000003"]
    assert aws.sqs.messages == []


def test_out_of_order_and_redelivered_records_are_written_as_they_come(aws: Aws) -> None:
    # GIVEN a newer record, an older one for the same card, and the newer one again (redelivery)
    newer = aggregate("n", 4000000000000001, event_ms=1_589_536_900_000, num_trans_last_10m=2)
    older = aggregate("o", 4000000000000001, event_ms=1_589_536_800_000, num_trans_last_10m=1)
    event = kinesis_event(newer, older, newer)
    # WHEN the handler receives them
    response = app.lambda_handler(event, None)
    # THEN each is put with its own event time: the store keeps the newest online (its rule), so order is harmless
    assert response == {"batchItemFailures": []}
    assert [p["Record"][1]["ValueAsString"] for p in aws.store.puts] == ["1589536900.000", "1589536800.000", "1589536900.000"]


def test_the_committed_fixtures_are_what_the_factory_builds() -> None:
    # a definition change that adds a feature must come with regenerated fixtures (python -m tests.events.factory)
    assert {name: load(name) for name in fixtures()} == fixtures()
