"""The `local` profile's clients: the local runtime's objects behind boto3's method shapes.

The handlers run unchanged; `AWS_CLIENT_FACTORY=local_aws.clients:client` hands them these instead
of boto3 clients. Where they live comes from the environment, like everything else a handler sees:

- LOCAL_DATA_DIR: the runtime's root: streams/ (Kinesis), queues/ (SQS), featurestore.db;
- LOCAL_STREAMS_DIR: the streams' folder (default LOCAL_DATA_DIR/streams; the engine's and the
  simulator's --stream-dir/--local);
- LOCAL_MODEL: the model (model.tar.gz or its folder) the in-process endpoint scores with
  (default LOCAL_DATA_DIR/model).
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from clients.factory import LOCAL_DATA_DIR_ENV, LOCAL_MODEL_ENV, LOCAL_STREAMS_DIR_ENV
from features.endpoint_csv import format_probabilities, parse_rows

SERVICES = ("kinesis", "sqs", "sagemaker-featurestore-runtime", "sagemaker-runtime")


def data_dir() -> Path:
    return Path(os.environ.get(LOCAL_DATA_DIR_ENV, "data/local"))


class InProcessEndpoint:
    """invoke_endpoint over an in-process model, speaking the endpoint's text/csv contract."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def invoke_endpoint(
        self,
        *,
        EndpointName: str,
        Body: str | bytes,
        ContentType: str = "text/csv",
        Accept: str = "text/csv",
        **_: Any,
    ) -> dict[str, Any]:
        if ContentType.split(";")[0].strip() != "text/csv":
            raise ValueError(f"unsupported ContentType {ContentType!r}: the endpoint takes text/csv")
        body = format_probabilities(self.model.predict(np.array(parse_rows(Body))))
        return {"Body": io.BytesIO(body), "ContentType": "text/csv", "InvokedProductionVariant": "local"}


def client(service: str) -> Any:
    """One object per service and configuration per process (a warm Lambda keeps its clients)."""
    root = data_dir()
    if service == "kinesis":
        return _client(service, os.environ.get(LOCAL_STREAMS_DIR_ENV) or str(root / "streams"))
    if service == "sqs":
        return _client(service, str(root / "queues"))
    if service == "sagemaker-featurestore-runtime":
        return _client(service, str(root / "featurestore.db"))
    if service == "sagemaker-runtime":
        return _client(service, os.environ.get(LOCAL_MODEL_ENV) or str(root / "model"))
    raise ValueError(f"the local profile has no {service!r} client (it has {', '.join(SERVICES)})")


@functools.cache
def _client(service: str, path: str) -> Any:
    if service == "kinesis":
        from local_aws.stream import LocalKinesis

        return LocalKinesis(root=path)
    if service == "sqs":
        from local_aws.queue import LocalSQS

        return LocalSQS(root=path)
    if service == "sagemaker-featurestore-runtime":
        from local_aws.feature_store import LocalFeatureStore

        return LocalFeatureStore(path=path)
    from local_aws.endpoint import Model

    return InProcessEndpoint(Model.load(path))
