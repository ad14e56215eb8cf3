"""The unchanged handlers on the local profile's clients (AWS_CLIENT_FACTORY=local_aws.clients:client):
the embedded Feature Store, the embedded Kinesis stream, the SQS-like dead-letter queue."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from features.definition import MODEL_INPUT
from functions.ingest import app as ingest_app
from functions.score import app as score_app
from local_aws import clients as profile
from profiles.local import function_env
from profiles.steps import BATCH_GROUP, PREDICTIONS, Layout, StreamTail, dead_letters, reset_runtime
from tests.events.factory import aggregate, kinesis_event, model_row

CARD, NEW_CARD = 4000000000000001, 4999999999999999
T0 = 1_589_536_800_000


class CountModel:
    """Stands in for the XGBoost model: probability grows with the 10-minute count."""

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.minimum(1.0, rows[:, MODEL_INPUT.index("num_trans_last_10m")] / 10)


@pytest.fixture
def local_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    layout = Layout(tmp_path)
    reset_runtime(layout)
    for name, value in {**function_env(layout, "ingest"), **function_env(layout, "score")}.items():
        monkeypatch.setenv(name, value)
    stub = types.ModuleType("local_aws.endpoint")
    stub.Model = types.SimpleNamespace(load=lambda path: CountModel())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "local_aws.endpoint", stub)
    for cache in (profile._client, ingest_app.service, score_app.service):
        cache.cache_clear()
    yield layout
    for cache in (profile._client, ingest_app.service, score_app.service):
        cache.cache_clear()


def test_ingest_keeps_the_newest_event_time_online_in_the_local_feature_store(local_profile: Layout) -> None:
    # GIVEN a newer and then an older aggregate for one card
    event = kinesis_event(
        aggregate("n", CARD, 5.0, T0 + 60_000, 3, 7.5), aggregate("o", CARD, 9.0, T0, 1, 9.0)
    )
    # WHEN ingest handles them on the local profile
    assert ingest_app.lambda_handler(event, None) == {"batchItemFailures": []}
    # THEN cc-agg-fg online holds the newer one (the store's rule)
    record = profile.client("sagemaker-featurestore-runtime").get_record(
        FeatureGroupName="cc-agg-fg", RecordIdentifierValueAsString=str(CARD)
    )["Record"]
    values = {f["FeatureName"]: f["ValueAsString"] for f in record}
    assert (values["trans_time"], values["num_trans_last_10m"], values["avg_amt_last_10m"]) == (
        "1589536860.000",
        "3",
        "7.5",
    )


def test_score_reads_the_local_store_and_writes_predictions_and_dead_letters(local_profile: Layout) -> None:
    # GIVEN the card's snapshot in cc-agg-batch-fg, and a batch with a known card, an unknown card and a bad record
    import pyarrow as pa

    store = profile.client("sagemaker-featurestore-runtime")
    store.load_table(
        BATCH_GROUP,
        pa.table(
            {
                "cc_num": [CARD],
                "trans_time": [1589500800.0],
                "num_trans_last_1w": [20],
                "avg_amt_last_1w": [10.0],
            }
        ),
    )
    event = kinesis_event(
        aggregate("a", CARD, 30.0, T0, 5, 20.0), aggregate("b", NEW_CARD, 1.0, T0), "{broken"
    )
    # WHEN score handles it on the local profile
    assert score_app.lambda_handler(event, None) == {"batchItemFailures": []}
    # THEN the predictions are on the local predictions stream with the served features
    predictions = StreamTail(profile.client("kinesis"), PREDICTIONS).read()
    assert [(p["tid"], p["probability"], p["fraud"], p["caveats"]) for p in predictions] == [
        ("a", 0.5, True, []),
        ("b", 0.1, False, ["unknown_card"]),
    ]
    assert predictions[0]["features"] == model_row(
        30.0, 5, 20.0, 20, 10.0, amt_ratio1=2.0, amt_ratio2=3.0, count_ratio=0.25
    )
    # AND the dead-letter queue holds the bad record (rejected) and the unknown card (scored), with reasons
    letters = dead_letters(local_profile)
    assert [(m["disposition"], m["reason"].split(":")[0]) for m in letters] == [
        ("rejected", "not JSON"),
        ("scored", "unknown card"),
    ]
    assert predictions[1]["features"]["num_trans_last_1w"] == 0
