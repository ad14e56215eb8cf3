"""Feature Store semantics of the embedded store, in process and through boto3 against its REST server."""

from __future__ import annotations

import json
import threading

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.definition import EVENT_TIME_FEATURE, SOURCE, feature_group
from features.feature_groups import record_features
from local_aws.feature_store import LocalFeatureStore, make_server

BATCH, STREAM = "cc-agg-batch-fg", "cc-agg-fg"


def record(group: str, card: int, event_time: float, value: float) -> list[dict]:
    """A full record of `group` whose every aggregate holds `value` (names from the definition)."""
    values = {SOURCE.entity: str(card), EVENT_TIME_FEATURE: repr(float(event_time))}
    for f in record_features(feature_group(group))[2:]:
        values[f.name] = str(int(value)) if f.type == "Integral" else repr(float(value))
    return [{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]


def as_dict(rec: list[dict]) -> dict[str, str]:
    return {f["FeatureName"]: f["ValueAsString"] for f in rec}


def test_groups_come_from_the_rendered_definitions(store):
    for name in (BATCH, STREAM):
        store.put_record(FeatureGroupName=name, Record=record(name, 1, 100, 3))
        assert as_dict(
            store.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="1")["Record"]
        ) == as_dict(record(name, 1, 100, 3))


def test_newest_event_time_wins_online_and_older_goes_offline_only(store):
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 7, 200, 5))
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 7, 100, 1))  # older: offline only
    store.put_record(
        FeatureGroupName=BATCH, Record=record(BATCH, 7, 200, 2)
    )  # equal: not greater, offline only
    online = as_dict(store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="7")["Record"])
    assert online[EVENT_TIME_FEATURE] == "200.0" and online["num_trans_last_1w"] == "5"
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 7, 300, 9))
    online = as_dict(store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="7")["Record"])
    assert online["num_trans_last_1w"] == "9"
    history = store.offline_records(BATCH)
    assert [(h[EVENT_TIME_FEATURE], h["num_trans_last_1w"]) for h in history] == [
        ("200.0", "5"),
        ("100.0", "1"),
        ("200.0", "2"),
        ("300.0", "9"),
    ]
    assert not any(h["is_deleted"] for h in history)


def test_online_only_group_keeps_no_history(store):
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 1, 10, 1))
    assert store.offline_records(STREAM) == []
    with pytest.raises(store.exceptions.ValidationError):
        store.put_record(
            FeatureGroupName=STREAM, Record=record(STREAM, 1, 11, 1), TargetStores=["OfflineStore"]
        )


def test_batch_get_record_carries_at_most_100_records_a_call(store):
    """The Feature Store quota (feature-store-quotas.html): 100 records a call, across identifier entries."""
    ids = [str(card) for card in range(101)]
    with pytest.raises(store.exceptions.ValidationError, match="101 records asked"):
        store.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": BATCH, "RecordIdentifiersValueAsString": ids[:60]},
                {"FeatureGroupName": STREAM, "RecordIdentifiersValueAsString": ids[60:]},
            ]
        )
    assert (
        store.batch_get_record(
            Identifiers=[{"FeatureGroupName": BATCH, "RecordIdentifiersValueAsString": ids[:100]}]
        )["Records"]
        == []
    )


def test_batch_get_record_reads_several_groups_in_one_call(store):
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 1, 10, 4))
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 2, 10, 6))
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 1, 20, 2))
    response = store.batch_get_record(
        Identifiers=[
            {
                "FeatureGroupName": BATCH,
                "RecordIdentifiersValueAsString": ["1", "2", "3"],
                "FeatureNames": ["num_trans_last_1w"],
            },
            {"FeatureGroupName": STREAM, "RecordIdentifiersValueAsString": ["1"]},
            {"FeatureGroupName": "no-such-group", "RecordIdentifiersValueAsString": ["1"]},
        ]
    )
    got = {
        (r["FeatureGroupName"], r["RecordIdentifierValueAsString"]): as_dict(r["Record"])
        for r in response["Records"]
    }
    assert got == {
        (BATCH, "1"): {"num_trans_last_1w": "4"},
        (BATCH, "2"): {"num_trans_last_1w": "6"},
        (STREAM, "1"): as_dict(record(STREAM, 1, 20, 2)),
    }  # card 3 is simply absent
    assert [(e["FeatureGroupName"], e["ErrorCode"]) for e in response["Errors"]] == [
        ("no-such-group", "ResourceNotFound")
    ]
    assert response["UnprocessedIdentifiers"] == []
    with pytest.raises(store.exceptions.ValidationError):
        store.batch_get_record(
            Identifiers=[{"FeatureGroupName": BATCH, "RecordIdentifiersValueAsString": ["1"] * 101}]
        )


def test_delete_record_soft_and_hard(store):
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 5, 100, 1))
    # an older delete does not apply online, but its marker still goes offline (SoftDelete)
    store.delete_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5", EventTime="50")
    assert "Record" in store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5")
    with pytest.raises(store.exceptions.ValidationError):
        store.delete_record(
            FeatureGroupName=BATCH,
            RecordIdentifierValueAsString="5",
            EventTime="60",
            DeletionMode="HardDelete",
        )
    store.delete_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5", EventTime="150")
    assert "Record" not in store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5")
    # after a soft delete at 150, a record at 120 is historic; at 160 it is online again
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 5, 120, 2))
    assert "Record" not in store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5")
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 5, 160, 3))
    assert (
        as_dict(store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5")["Record"])[
            "num_trans_last_1w"
        ]
        == "3"
    )
    store.delete_record(
        FeatureGroupName=BATCH, RecordIdentifierValueAsString="5", EventTime="170", DeletionMode="HardDelete"
    )
    assert "Record" not in store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5")
    store.put_record(
        FeatureGroupName=BATCH, Record=record(BATCH, 5, 1, 4)
    )  # hard-deleted: anything is newest
    assert (
        as_dict(store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="5")["Record"])[
            "num_trans_last_1w"
        ]
        == "4"
    )
    markers = [
        (h[EVENT_TIME_FEATURE], h["is_deleted"]) for h in store.offline_records(BATCH) if h["is_deleted"]
    ]
    assert markers == [("50", True), ("150", True), ("170", True)]


def test_ttl_expires_records_after_event_time_plus_duration(tmp_path, clock):
    store = LocalFeatureStore(
        tmp_path / "fs.db", clock=clock, group_ttl={STREAM: {"Unit": "Minutes", "Value": 10}}
    )
    t = clock.now
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 1, t, 1))
    store.put_record(
        FeatureGroupName=STREAM, Record=record(STREAM, 2, t, 1), TtlDuration={"Unit": "Hours", "Value": 1}
    )
    got = store.get_record(
        FeatureGroupName=STREAM, RecordIdentifierValueAsString="1", ExpirationTimeResponse="Enabled"
    )
    assert got["ExpiresAt"].startswith("20") and got["ExpiresAt"].endswith("Z")
    clock.advance(601)
    assert "Record" not in store.get_record(FeatureGroupName=STREAM, RecordIdentifierValueAsString="1")
    assert "Record" in store.get_record(
        FeatureGroupName=STREAM, RecordIdentifierValueAsString="2"
    )  # record TTL wins
    # an expired record is absent: an older write becomes online again
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 1, t - 1, 8))
    clock.now = t  # not expired relative to t - 1 + 600 yet
    assert (
        as_dict(store.get_record(FeatureGroupName=STREAM, RecordIdentifierValueAsString="1")["Record"])[
            "num_trans_last_10m"
        ]
        == "8"
    )
    with pytest.raises(store.exceptions.ValidationError):
        store.put_record(
            FeatureGroupName=STREAM, Record=record(STREAM, 3, t, 1), TtlDuration={"Unit": "Years", "Value": 1}
        )


@pytest.mark.parametrize(
    "bad, why",
    [
        ([{"FeatureName": "nope", "ValueAsString": "1"}], "not in feature group"),
        ([{"FeatureName": SOURCE.entity, "ValueAsString": "1"}], "lacks required feature"),
        (
            [
                {"FeatureName": SOURCE.entity, "ValueAsString": "x"},
                {"FeatureName": EVENT_TIME_FEATURE, "ValueAsString": "1"},
            ],
            "not Integral",
        ),
        (
            [
                {"FeatureName": SOURCE.entity, "ValueAsString": "1"},
                {"FeatureName": EVENT_TIME_FEATURE, "ValueAsString": "soon"},
            ],
            "not Fractional",
        ),
    ],
)
def test_invalid_records_are_validation_errors(store, bad, why):
    with pytest.raises(store.exceptions.ValidationError, match=why):
        store.put_record(FeatureGroupName=BATCH, Record=bad)
    with pytest.raises(store.exceptions.ResourceNotFound):
        store.get_record(FeatureGroupName="nope", RecordIdentifierValueAsString="1")


def test_bulk_load_from_parquet_keeps_newest_online_and_all_offline(store, tmp_path):
    table = pa.table(
        {
            SOURCE.entity: pa.array([1, 1, 2], pa.int64()),
            EVENT_TIME_FEATURE: [86400.0 * 2, 86400.0, 86400.0],
            "num_trans_last_1w": pa.array([3, 2, 7], pa.int64()),
            "avg_amt_last_1w": [10.5, 9.25, 1.0],
        }
    )
    pq.write_table(table, tmp_path / "online.parquet")
    assert store.load_parquet(BATCH, tmp_path / "online.parquet") == 3
    one = as_dict(store.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="1")["Record"])
    assert one == {
        SOURCE.entity: "1",
        EVENT_TIME_FEATURE: "172800.0",
        "num_trans_last_1w": "3",
        "avg_amt_last_1w": "10.5",
    }
    assert len(store.offline_records(BATCH)) == 3


def test_boto3_client_against_the_rest_server(store):
    server = make_server(store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = boto3.client(
            "sagemaker-featurestore-runtime",
            endpoint_url=f"http://127.0.0.1:{server.server_port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 9, 200, 5))
        client.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 9, 100, 1))
        got = client.get_record(
            FeatureGroupName=BATCH, RecordIdentifierValueAsString="9", FeatureNames=["num_trans_last_1w"]
        )
        assert got["Record"] == [{"FeatureName": "num_trans_last_1w", "ValueAsString": "5"}]
        batch = client.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": BATCH, "RecordIdentifiersValueAsString": ["9", "10"]},
                {"FeatureGroupName": "missing", "RecordIdentifiersValueAsString": ["9"]},
            ]
        )
        assert [r["RecordIdentifierValueAsString"] for r in batch["Records"]] == ["9"]
        assert batch["Errors"][0]["ErrorCode"] == "ResourceNotFound"
        client.delete_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="9", EventTime="300")
        assert "Record" not in client.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="9")
        with pytest.raises(client.exceptions.ValidationError):
            client.put_record(FeatureGroupName=BATCH, Record=[{"FeatureName": "nope", "ValueAsString": "1"}])
        with pytest.raises(client.exceptions.ResourceNotFound):
            client.get_record(FeatureGroupName="missing", RecordIdentifierValueAsString="1")
    finally:
        server.shutdown()
        server.server_close()


def test_online_only_group_newest_event_time_wins(store):
    """cc-agg-fg takes the single-statement upsert path: same rule as the transactional one."""

    def online() -> dict[str, str]:
        return as_dict(store.get_record(FeatureGroupName=STREAM, RecordIdentifierValueAsString="3")["Record"])

    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 3, 200, 5))
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 3, 100, 1))  # older
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 3, 200, 2))  # equal: not greater
    assert online()[EVENT_TIME_FEATURE] == "200.0" and online()["num_trans_last_10m"] == "5"
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 3, 201, 7))
    assert online()[EVENT_TIME_FEATURE] == "201.0" and online()["num_trans_last_10m"] == "7"
    store.delete_record(FeatureGroupName=STREAM, RecordIdentifierValueAsString="3", EventTime="300")
    store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 3, 250, 8))  # older than the delete
    assert "Record" not in store.get_record(FeatureGroupName=STREAM, RecordIdentifierValueAsString="3")


def test_batched_writes_commit_together_and_roll_back_together(store):
    other = LocalFeatureStore(store.path)  # another process's view of the same file

    def seen(card):
        return "Record" in other.get_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString=str(card))

    with store.batched():
        store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 1, 100, 1))
        store.put_record(FeatureGroupName=STREAM, Record=record(STREAM, 1, 100, 1))
        assert not seen(1)  # not committed yet
        with pytest.raises(store.exceptions.ValidationError):  # a failed operation undoes itself only
            store.delete_record(
                FeatureGroupName=BATCH,
                RecordIdentifierValueAsString="1",
                EventTime="50",
                DeletionMode="HardDelete",
            )
        store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 2, 100, 2))
    assert seen(1) and seen(2)
    assert len(other.offline_records(BATCH)) == 2
    with pytest.raises(RuntimeError), store.batched():
        store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 3, 100, 3))
        store.delete_record(FeatureGroupName=BATCH, RecordIdentifierValueAsString="1", EventTime="200")
        raise RuntimeError("function error")
    assert not seen(3) and seen(1)
    assert len(other.offline_records(BATCH)) == 2
    store.put_record(FeatureGroupName=BATCH, Record=record(BATCH, 4, 100, 4))  # outside: autocommit again
    assert seen(4)


def test_the_stored_record_is_the_json_of_the_put_and_reads_back_unchanged(store):
    # GIVEN a group with a String feature and a String event time, and a record with non-ASCII text
    store.create_feature_group(
        {
            "feature_group_name": "notes-fg",
            "record_identifier_feature_name": "id",
            "event_time_feature_name": "at",
            "online_store": True,
            "offline_store": True,
            "features": [
                {"name": "id", "type": "String"},
                {"name": "at", "type": "String"},
                {"name": "note", "type": "String"},
                {"name": "n", "type": "Integral"},
            ],
        }
    )
    rec = [
        {"FeatureName": "id", "ValueAsString": "c-1"},
        {"FeatureName": "note", "ValueAsString": 'dé"jà\n'},
        {"FeatureName": "at", "ValueAsString": "2020-05-15T10:00:00.000Z"},
        {"FeatureName": "n", "ValueAsString": "7"},
    ]
    # WHEN it is put
    store.put_record(FeatureGroupName="notes-fg", Record=rec)
    # THEN online and offline hold its JSON, and reads give it back as put (order included)
    conn = store._conn()
    online, event_time = conn.execute("SELECT record, event_time FROM online WHERE grp='notes-fg'").fetchone()
    assert json.loads(online) == rec and event_time == 1589536800.0
    (offline,) = conn.execute("SELECT record FROM offline WHERE grp='notes-fg'").fetchone()
    assert json.loads(offline) == rec
    assert store.get_record(FeatureGroupName="notes-fg", RecordIdentifierValueAsString="c-1")["Record"] == rec
    got = store.batch_get_record(
        Identifiers=[
            {
                "FeatureGroupName": "notes-fg",
                "RecordIdentifiersValueAsString": ["c-1"],
                "FeatureNames": ["note", "at"],
            }
        ]
    )
    assert got["Records"][0]["Record"] == [rec[1], rec[2]]


@pytest.mark.parametrize(
    "bad, why",
    [
        (
            [
                {"FeatureName": SOURCE.entity, "ValueAsString": "1"},
                {"FeatureName": SOURCE.entity, "ValueAsString": "2"},
            ],
            "appears twice",
        ),
        ([{"FeatureName": SOURCE.entity, "ValueAsString": 1}], "has no ValueAsString"),
        ([], "non-empty list"),
    ],
)
def test_malformed_records_are_validation_errors(store, bad, why):
    with pytest.raises(store.exceptions.ValidationError, match=why):
        store.put_record(FeatureGroupName=STREAM, Record=bad)
