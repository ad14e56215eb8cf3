"""ingest handler: aggregate records -> cc-agg-fg PutRecord, bad records dead-lettered with their reason."""

from __future__ import annotations

import base64
import json

from features.feature_groups import group_for, record_features
from features.records import parse_ts
from functions.ingest import app
from local_aws.feature_store import LocalFeatureStore
from tests.events.factory import aggregate, fixtures, kinesis_event, load, sequence
from tests.functions import fakes
from tests.functions.fakes import DLQ, Aws, emf


def fs_record(payload: dict, trans_time: str) -> list[dict[str, str]]:
    """The cc-agg-fg record expected for `payload`: card, event time, every sliding aggregate as text."""
    values = {**payload, "trans_time": trans_time}
    return [
        {"FeatureName": f.name, "ValueAsString": str(values[f.name])}
        for f in record_features(group_for("sliding"))
    ]


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
        {"FeatureName": "avg_amt_last_10m", "ValueAsString": "120.25"},
    ]
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
        "QueueUrl": DLQ,
        "reason": "num_trans_last_10m must be an integer, got 'three'",
        "disposition": "rejected",
        "function": message["function"],
        "eventSourceARN": record["eventSourceARN"],
        "eventID": record["eventID"],
        "partitionKey": record["kinesis"]["partitionKey"],
        "sequenceNumber": record["kinesis"]["sequenceNumber"],
        "approximateArrivalTimestamp": record["kinesis"]["approximateArrivalTimestamp"],
        "data": record["kinesis"]["data"],
    }


def test_a_store_fault_is_a_partial_failure_for_the_ESM_to_retry(aws: Aws, capsys) -> None:
    # GIVEN a store that fails for the second card only
    aws.store.fail_put_for = {"4000000000000002"}
    event = kinesis_event(
        aggregate("a", 4000000000000001), aggregate("b", 4000000000000002), aggregate("c", 4000000000000003)
    )
    # WHEN the handler receives the batch
    response = app.lambda_handler(event, None)
    # THEN only that record is reported for retry; nothing is dead-lettered (the record itself is fine)
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 1)}]}
    assert [p["Record"][0]["ValueAsString"] for p in aws.store.puts] == [
        "4000000000000001",
        "4000000000000003",
    ]
    assert aws.sqs.messages == []
    # AND the metrics count only what was written: the failed record comes back in a later batch
    assert emf(capsys.readouterr().out) == {"RecordsIngested": 2, "RecordsDeadLettered": 0}


CARD_A, CARD_B, CARD_C = 4000000000000001, 4000000000000002, 4000000000000003
T0 = 1_589_536_800_000


def _values(put: dict) -> dict[str, str]:
    return {f["FeatureName"]: f["ValueAsString"] for f in put["Record"]}


def test_out_of_order_and_redelivered_records_leave_the_newest(aws: Aws) -> None:
    # GIVEN a newer record, an older one for the same card, and the newer one again (redelivery)
    newer = aggregate("n", CARD_A, event_ms=T0 + 100_000, num_trans_last_10m=2)
    older = aggregate("o", CARD_A, event_ms=T0, num_trans_last_10m=1)
    event = kinesis_event(newer, older, newer)
    # WHEN the handler receives them
    response = app.lambda_handler(event, None)
    # THEN the card's newest is put once: the store would have kept it online anyway (its rule)
    assert response == {"batchItemFailures": []}
    assert [_values(p)["trans_time"] for p in aws.store.puts] == ["1589536900.000"]


def test_one_put_per_card_its_newest_record(aws: Aws, capsys) -> None:
    # GIVEN a batch with three records of card A out of order and one of card B in between
    event = kinesis_event(
        aggregate("a1", CARD_A, event_ms=T0, num_trans_last_10m=1),
        aggregate("a3", CARD_A, event_ms=T0 + 2000, num_trans_last_10m=3),
        aggregate("b1", CARD_B, event_ms=T0 + 1000),
        aggregate("a2", CARD_A, event_ms=T0 + 1000, num_trans_last_10m=2),
    )
    # WHEN the handler receives it
    response = app.lambda_handler(event, None)
    # THEN each card gets one PutRecord, of its greatest event time
    assert response == {"batchItemFailures": []}
    payloads = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    assert aws.store.puts == [
        {"FeatureGroupName": "fraud-cc-agg-fg", "Record": fs_record(payloads[1], "1589536802.000")},
        {"FeatureGroupName": "fraud-cc-agg-fg", "Record": fs_record(payloads[2], "1589536801.000")},
    ]
    # AND every record counts as ingested: records in = ingested + dead-lettered
    assert emf(capsys.readouterr().out) == {"RecordsIngested": 4, "RecordsDeadLettered": 0}


def test_of_records_with_the_same_event_time_the_first_is_written(aws: Aws) -> None:
    # GIVEN two records of a card at the same event time (the store keeps the first write of an event time)
    event = kinesis_event(
        aggregate("x", CARD_A, event_ms=T0, num_trans_last_10m=1),
        aggregate("y", CARD_A, event_ms=T0, num_trans_last_10m=2),
    )
    # WHEN the handler receives them
    app.lambda_handler(event, None)
    # THEN the first one is the card's PutRecord
    (put,) = aws.store.puts
    assert _values(put)["num_trans_last_10m"] == "1"


def test_a_failed_card_reports_all_its_records_and_bad_records_are_still_dead_lettered(
    aws: Aws, capsys
) -> None:
    # GIVEN a store failing for card A, and a batch with card A's records around a bad record and a card B record
    aws.store.fail_put_for = {str(CARD_A)}
    event = kinesis_event(
        aggregate("b1", CARD_B, event_ms=T0),
        aggregate("a1", CARD_A, event_ms=T0 + 1000),
        "{not json",
        aggregate("a2", CARD_A, event_ms=T0 + 500),
    )
    # WHEN the handler receives it
    response = app.lambda_handler(event, None)
    # THEN every record of card A is reported (the mapping checkpoints before the lowest and retries from there)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": sequence(event, 1)}, {"itemIdentifier": sequence(event, 3)}]
    }
    # AND card B is written, the bad record is dead-lettered with its reason
    assert [p["Record"][0]["ValueAsString"] for p in aws.store.puts] == [str(CARD_B)]
    assert [(m["sequenceNumber"], m["reason"].split(":")[0]) for m in aws.sqs.messages] == [
        (sequence(event, 2), "not JSON")
    ]
    # AND records in = ingested + dead-lettered + reported for retry
    metrics = emf(capsys.readouterr().out)
    assert metrics == {"RecordsIngested": 1, "RecordsDeadLettered": 1}
    assert len(event["Records"]) == metrics["RecordsIngested"] + metrics["RecordsDeadLettered"] + len(
        response["batchItemFailures"]
    )


def test_when_every_write_fails_every_good_record_is_reported(aws: Aws) -> None:
    # GIVEN a store failing for both cards
    aws.store.fail_put_for = {str(CARD_A), str(CARD_B)}
    event = kinesis_event(
        aggregate("a", CARD_A), aggregate("b", CARD_B), aggregate("a2", CARD_A, event_ms=T0 + 1)
    )
    # WHEN the handler receives the batch
    response = app.lambda_handler(event, None)
    # THEN all three are reported for retry (a partial batch response) and nothing is dead-lettered
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == [
        sequence(event, i) for i in range(3)
    ]
    assert aws.sqs.messages == []


def test_the_local_store_ends_as_with_one_put_per_record(aws: Aws, tmp_path) -> None:
    # GIVEN out-of-order records of three cards (ties included), one card already online with a newer record,
    # and two local feature stores
    each, newest = (
        LocalFeatureStore(tmp_path / f"{name}.db", name_prefix="fraud-") for name in ("each", "newest")
    )
    cards = [CARD_A, CARD_B, CARD_C]
    payloads = [
        aggregate(f"t{i}", cards[i % 3], float(i), T0 + (i * 7 % 5) * 1000, 1 + i % 4, 1.5 * i)
        for i in range(30)
    ]
    ahead = aggregate("ahead", CARD_C, 1.0, T0 + 60_000, 9, 9.0)
    for store in (each, newest):
        store.put_record(FeatureGroupName="fraud-cc-agg-fg", Record=fs_record(ahead, "1589536860.000"))
    # WHEN one store gets a PutRecord per record, in batch order, and the handler writes the batch to the other
    for p in payloads:
        each.put_record(
            FeatureGroupName="fraud-cc-agg-fg", Record=fs_record(p, f"{parse_ts(p['trans_ts']) / 1000:.3f}")
        )
    fakes.CLIENTS["sagemaker-featurestore-runtime"] = newest
    assert app.lambda_handler(kinesis_event(*payloads), None) == {"batchItemFailures": []}
    # THEN both hold the same online record for every card (card C keeps the newer record it had)
    online = [
        [
            s.get_record(FeatureGroupName="cc-agg-fg", RecordIdentifierValueAsString=str(c))["Record"]
            for c in cards
        ]
        for s in (each, newest)
    ]
    assert online[0] == online[1]
    assert [_values({"Record": r})["trans_time"] for r in online[1]] == [
        "1589536804.000",
        "1589536804.000",
        "1589536860.000",
    ]


def test_cc_agg_fg_is_online_only() -> None:
    # one put per card per batch leaves the same end state only because no offline history records every write
    group = group_for("sliding")
    assert (group.online, group.offline) == (True, False)


def test_the_committed_fixtures_are_what_the_factory_builds() -> None:
    # a definition change that adds a feature must come with regenerated fixtures (python -m tests.events.factory)
    assert {name: load(name) for name in fixtures()} == fixtures()
