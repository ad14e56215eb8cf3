"""score handler: one BatchGetRecord, ratios, one InvokeEndpoint, one prediction per transaction, metrics."""

from __future__ import annotations

import json
import math
import time

import pytest

from features.codec import Prediction, decode
from features.definition import MODEL_INPUT
from functions.score import app
from tests.events.factory import aggregate, kinesis_event, load, model_row, sequence
from tests.functions.fakes import DLQ, Aws, FakeKinesis, emf

CARD_A, CARD_B, NEW_CARD = 4000000000000001, 4000000000000002, 4999999999999999
T0 = 1_589_536_800_000  # 2020-05-15T10:00:00Z


def snapshot(card: int, trans_time: str, count: str, avg: str) -> list[dict[str, str]]:
    return [
        {"FeatureName": "cc_num", "ValueAsString": str(card)},
        {"FeatureName": "trans_time", "ValueAsString": trans_time},
        {"FeatureName": "num_trans_last_1w", "ValueAsString": count},
        {"FeatureName": "avg_amt_last_1w", "ValueAsString": avg},
    ]


@pytest.fixture
def known_cards(aws: Aws) -> Aws:
    """cc-agg-batch-fg holds the 2020-05-15 midnight snapshot of cards A and B."""
    aws.store.online = {
        "fraud-cc-agg-batch-fg": {
            str(CARD_A): snapshot(CARD_A, "1589500800.0", "10", "50.0"),
            str(CARD_B): snapshot(CARD_B, "1589500800.0", "4", "0.0"),
        }
    }
    return aws


def test_scores_a_batch_with_one_store_read_and_one_endpoint_call(known_cards: Aws, capsys) -> None:
    # GIVEN the fixture's two aggregate records (cards A and B)
    event = load("kinesis_aggregates.json")
    # WHEN the handler scores them
    started = time.time()
    response = app.lambda_handler(event, None)
    # THEN one BatchGetRecord for both cards, one InvokeEndpoint with both rows in MODEL_INPUT order
    assert response == {"batchItemFailures": []}
    assert known_cards.store.batch_gets == [
        [
            {
                "FeatureGroupName": "fraud-cc-agg-batch-fg",
                "RecordIdentifiersValueAsString": [str(CARD_A), str(CARD_B)],
                "FeatureNames": ["trans_time", "num_trans_last_1w", "avg_amt_last_1w"],
            }
        ]
    ]
    (call,) = known_cards.endpoint.calls
    assert call["EndpointName"] == "fraud-endpoint" and call["ContentType"] == "text/csv"
    # amount, 10m count/avg, 1w count/avg, amt_ratio1 = avg10m/avg1w, amt_ratio2 = amount/avg1w, count_ratio
    row_a = model_row(25.0, 1, 25.0, 10, 50.0, amt_ratio1=0.5, amt_ratio2=0.5, count_ratio=0.1)
    row_b = model_row(
        310.5, 3, 120.25, 4, 0.0, amt_ratio1=0.0, amt_ratio2=0.0, count_ratio=0.75
    )  # avg 1w 0 -> ratios 0
    assert call["Body"] == "\n".join(",".join(repr(v) for v in row.values()) for row in (row_a, row_b))
    # AND one prediction per transaction on the predictions stream, keyed by card
    predictions = known_cards.kinesis.payloads()
    assert [r["PartitionKey"] for r in known_cards.kinesis.records] == [str(CARD_A), str(CARD_B)]
    assert {r["StreamName"] for r in known_cards.kinesis.records} == {"fraud-predictions"}
    latencies = [p.pop("event_to_prediction_ms") for p in predictions]
    assert predictions == [
        {
            "tid": "2c5a3f0e1b",
            "cc_num": CARD_A,
            "amount": 25.0,
            "trans_ts": "2020-05-15T10:00:00.000Z",
            "features": row_a,
            "probability": 0.05,
            "fraud": False,
            "threshold": 0.25,
            "caveats": [],
        },
        {
            "tid": "8d1e6b7c2a",
            "cc_num": CARD_B,
            "amount": 310.5,
            "trans_ts": "2020-05-15T10:00:01.250Z",
            "features": row_b,
            "probability": 0.05,
            "fraud": False,
            "threshold": 0.25,
            "caveats": [],
        },
    ]
    # latency = wall clock at prediction - event time
    assert latencies[0] == pytest.approx((started * 1000 - T0), abs=5_000)
    assert emf(capsys.readouterr().out) == {
        "TransactionsScored": 2,
        "FraudsFlagged": 0,
        "RecordsDeadLettered": 0,
        "TransactionsWithCaveats": 0,
        "FeatureStoreRoundTrips": 1,
    }


def test_flags_fraud_at_the_configured_threshold(
    known_cards: Aws, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # GIVEN an attack (10 transactions in 10 minutes on card A) and a threshold of 0.9
    monkeypatch.setenv("FRAUD_THRESHOLD", "0.9")
    app.service.cache_clear()
    event = kinesis_event(
        *(aggregate(f"atk{i}", CARD_A, 99.0, T0 + i * 1000, i + 1, 99.0) for i in range(10))
    )
    # WHEN the handler scores them
    app.lambda_handler(event, None)
    # THEN the transactions the model scores at or above the threshold are flagged, the rest are not
    flags = [(p["tid"], p["fraud"]) for p in known_cards.kinesis.payloads()]
    assert flags == [(f"atk{i}", i + 1 >= 5) for i in range(10)]
    assert emf(capsys.readouterr().out)["FraudsFlagged"] == 6


def test_an_unknown_card_is_scored_with_zero_week_features_and_reported(known_cards: Aws, capsys) -> None:
    # GIVEN a transaction on a card cc-agg-batch-fg has never seen
    event = kinesis_event(aggregate("new1", NEW_CARD, 40.0, T0, 1, 40.0))
    # WHEN the handler scores it
    response = app.lambda_handler(event, None)
    # THEN it is scored with the empty-window values (ratios 0), flagged unknown_card...
    assert response == {"batchItemFailures": []}
    (prediction,) = known_cards.kinesis.payloads()
    assert prediction["features"] == model_row(
        40.0, 1, 40.0, 0, 0.0, amt_ratio1=0.0, amt_ratio2=0.0, count_ratio=0.0
    )
    assert prediction["caveats"] == ["unknown_card"]
    # ...and reported to the dead-letter destination with its reason, as scored (not rejected)
    (message,) = known_cards.sqs.messages
    assert (message["QueueUrl"], message["disposition"], message["sequenceNumber"]) == (
        DLQ,
        "scored",
        sequence(event, 0),
    )
    assert message["reason"] == (
        f"unknown card: no fraud-cc-agg-batch-fg record for cc_num {NEW_CARD}; scored with 1-week features 0"
    )
    metrics = emf(capsys.readouterr().out)
    assert (
        metrics["TransactionsScored"],
        metrics["RecordsDeadLettered"],
        metrics["TransactionsWithCaveats"],
    ) == (1, 0, 1)


def test_a_duplicate_tid_in_a_batch_is_scored_once(known_cards: Aws, capsys) -> None:
    # GIVEN the same transaction twice in one batch
    tx = aggregate("dup", CARD_A, 12.0, T0, 1, 12.0)
    event = kinesis_event(tx, tx)
    # WHEN the handler scores the batch
    response = app.lambda_handler(event, None)
    # THEN one prediction, and the copy is dead-lettered with its reason
    assert response == {"batchItemFailures": []}
    assert [p["tid"] for p in known_cards.kinesis.payloads()] == ["dup"]
    assert [(m["sequenceNumber"], m["disposition"], m["reason"]) for m in known_cards.sqs.messages] == [
        (
            sequence(event, 1),
            "rejected",
            f"duplicate: tid dup already in this batch (sequence number {sequence(event, 0)})",
        )
    ]
    metrics = emf(capsys.readouterr().out)
    assert len(event["Records"]) == metrics["TransactionsScored"] + metrics["RecordsDeadLettered"]


def test_bad_records_reach_the_dead_letter_queue_and_records_in_equals_processed_plus_dead_lettered(
    known_cards: Aws, capsys
) -> None:
    # GIVEN the fixture batch of bad records with one good record among them
    event = load("kinesis_bad_records.json")
    # WHEN the handler scores it
    response = app.lambda_handler(event, None)
    # THEN nothing crashes or is retried, the good record is scored, every bad one is dead-lettered with its reason
    assert response == {"batchItemFailures": []}
    assert [p["tid"] for p in known_cards.kinesis.payloads()] == ["ok-1"]
    assert [m["sequenceNumber"] for m in known_cards.sqs.messages] == [
        sequence(event, i) for i in (0, 1, 2, 3, 4, 6)
    ]
    assert all(m["disposition"] == "rejected" and m["reason"] for m in known_cards.sqs.messages)
    metrics = emf(capsys.readouterr().out)
    assert len(event["Records"]) == metrics["TransactionsScored"] + metrics["RecordsDeadLettered"] == 7


def test_out_of_order_records_are_scored_in_arrival_order(known_cards: Aws) -> None:
    # GIVEN a batch whose event times go backwards
    event = kinesis_event(aggregate("late", CARD_A, 5.0, T0 + 60_000), aggregate("early", CARD_A, 6.0, T0))
    # WHEN the handler scores it
    app.lambda_handler(event, None)
    # THEN both are scored, each with its own features
    assert [(p["tid"], p["features"]["amount"]) for p in known_cards.kinesis.payloads()] == [
        ("late", 5.0),
        ("early", 6.0),
    ]


def test_a_very_late_record_is_scored_and_reported_when_its_snapshot_is_newer(known_cards: Aws) -> None:
    # GIVEN a transaction from the day before the card's served snapshot (2020-05-15T00:00Z)
    event = kinesis_event(aggregate("old", CARD_A, 30.0, T0 - 86_400_000, 1, 30.0))
    # WHEN the handler scores it
    response = app.lambda_handler(event, None)
    # THEN it is scored (a verdict beats none), with a caveat, and reported with its reason
    assert response == {"batchItemFailures": []}
    (prediction,) = known_cards.kinesis.payloads()
    assert prediction["caveats"] == ["snapshot_after_event"]
    (message,) = known_cards.sqs.messages
    assert message["disposition"] == "scored"
    assert message["reason"].startswith(
        "late: event time 2020-05-14T10:00:00.000Z is before the served "
        "fraud-cc-agg-batch-fg snapshot (2020-05-15T00:00:00.000Z)"
    )


def test_throttled_prediction_records_are_retried_until_they_land(known_cards: Aws) -> None:
    # GIVEN a predictions stream that throttles card B's record twice
    known_cards.kinesis = sink = FakeKinesis(fail_keys={str(CARD_B)}, failures=2)
    from tests.functions import fakes

    fakes.CLIENTS["kinesis"] = sink
    app.service.cache_clear()
    # WHEN the handler scores the fixture batch
    response = app.lambda_handler(load("kinesis_aggregates.json"), None)
    # THEN both predictions land, card B's on the third call, and nothing is reported failed
    assert response == {"batchItemFailures": []}
    assert [p["tid"] for p in sink.payloads()] == ["2c5a3f0e1b", "8d1e6b7c2a"]
    assert [len(call) for call in sink.calls] == [2, 1, 1]


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_an_endpoint_fault_fails_the_invocation_so_the_ESM_retries_the_batch(known_cards: Aws) -> None:
    # GIVEN an endpoint that times out
    known_cards.endpoint.fail = True
    # WHEN the handler scores a batch
    # THEN the invocation raises (Lambda reports a function error; the ESM retries / bisects), nothing is emitted
    with pytest.raises(TimeoutError):
        app.lambda_handler(load("kinesis_aggregates.json"), None)
    assert known_cards.kinesis.records == [] and known_cards.sqs.messages == []


def test_a_batch_reads_the_store_100_cards_a_call(known_cards: Aws) -> None:
    # GIVEN 201 transactions on 201 distinct cards
    event = kinesis_event(*(aggregate(f"t{i}", 4100000000000000 + i, 1.0, T0) for i in range(201)))
    # WHEN the handler scores them
    app.lambda_handler(event, None)
    # THEN BatchGetRecord calls of at most 100 records (the Feature Store quota) and one endpoint call
    assert [
        [len(i["RecordIdentifiersValueAsString"]) for i in call] for call in known_cards.store.batch_gets
    ] == [[100], [100], [1]]
    assert len(known_cards.endpoint.calls) == 1 and len(known_cards.kinesis.records) == 201


def test_prediction_records_decode_as_predictions_and_the_csv_has_the_same_numbers(aws: Aws) -> None:
    # GIVEN a card whose 1-week average is tiny (so amount / it overflows to inf), a known card, an unknown
    # card, a non-ASCII tid, and a fraud
    aws.store.online = {
        "fraud-cc-agg-batch-fg": {
            str(CARD_A): snapshot(CARD_A, "1589500800.0", "3", "1e-300"),
            str(CARD_B): snapshot(CARD_B, "1589500800.0", "7", "41.123456789"),
        }
    }
    event = kinesis_event(
        aggregate("huge", CARD_A, 1e300, T0, 2, 5e299),
        aggregate("tïd-ü", CARD_B, 0.1, T0 + 1, 5, 1 / 3),
        aggregate("new", NEW_CARD, 12.5, T0 + 2, 1, 12.5),
    )
    # WHEN the handler scores them
    assert app.lambda_handler(event, None) == {"batchItemFailures": []}
    # THEN each record is standard JSON (json.loads refusing NaN and Infinity) and decodes as a Prediction
    datas = [r["Data"] for r in aws.kinesis.records]
    predictions = [json.loads(d, parse_constant=pytest.fail) for d in datas]
    assert [decode(d, Prediction).tid for d in datas] == ["huge", "tïd-ü", "new"]
    # AND the infinite ratio (JSON has no infinity) is null there
    assert predictions[0]["features"]["amt_ratio2"] is None
    assert [p["fraud"] for p in predictions] == [False, True, False]
    # AND the endpoint got the same values (exact floats; inf where the prediction has null) in MODEL_INPUT order
    (call,) = aws.endpoint.calls
    sent = [[float(v) for v in line.split(",")] for line in call["Body"].split("\n")]
    assert sent == [
        [math.inf if p["features"][name] is None else float(p["features"][name]) for name in MODEL_INPUT]
        for p in predictions
    ]
