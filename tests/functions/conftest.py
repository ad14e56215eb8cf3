"""Handler tests: the handlers' environment and fake clients, installed per test through AWS_CLIENT_FACTORY."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Powertools reads these when the handler modules are imported (collection time).
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fraud-test")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fraud-test")

from functions.ingest import app as ingest_app
from functions.score import app as score_app
from tests.functions import fakes

DLQ, Aws = fakes.DLQ, fakes.Aws


def default_model(row: dict[str, float]) -> float:
    """A stand-in model: many transactions in 10 minutes look like fraud."""
    return 0.9 if row["num_trans_last_10m"] >= 5 else 0.05


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    env = {
        "AWS_CLIENT_FACTORY": "tests.functions.fakes:client",
        "STREAMING_FEATURE_GROUP": "fraud-cc-agg-fg",
        "BATCH_FEATURE_GROUP": "fraud-cc-agg-batch-fg",
        "ENDPOINT_NAME": "fraud-endpoint",
        "FRAUD_THRESHOLD": "0.25",
        "PREDICTIONS_STREAM": "fraud-predictions",
        "DEAD_LETTER_QUEUE_URL": DLQ,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clients = Aws(
        fakes.FakeFeatureStore(), fakes.FakeEndpoint(default_model), fakes.FakeKinesis(), fakes.FakeSQS()
    )
    fakes.CLIENTS.update(
        {
            "sagemaker-featurestore-runtime": clients.store,
            "sagemaker-runtime": clients.endpoint,
            "kinesis": clients.kinesis,
            "sqs": clients.sqs,
        }
    )
    ingest_app.service.cache_clear()
    score_app.service.cache_clear()
    yield clients
    fakes.CLIENTS.clear()
    ingest_app.service.cache_clear()
    score_app.service.cache_clear()
