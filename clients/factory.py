"""The one client factory: every process (functions, simulator, engine) gets its AWS clients here.

In AWS the clients are plain boto3 clients (which honour AWS_ENDPOINT_URL_<SERVICE>, AWS_REGION and
the standard boto3 settings: the localstack profile is configured that way). A profile that runs the
same code elsewhere names, in AWS_CLIENT_FACTORY, a `module:callable` taking a service name and
returning an object with the same methods (the local profile: `local_aws.clients:client`): the
callers' logic never changes, only the clients they are handed, and no lower layer imports the
stand-ins.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

CLIENT_FACTORY_ENV = "AWS_CLIENT_FACTORY"
# The local profile's factory (local_aws/clients.py), named, not imported, so that a CLI flag can
# stand for it; the variables say where the stand-ins keep their state.
LOCAL_CLIENT_FACTORY = "local_aws.clients:client"
LOCAL_DATA_DIR_ENV, LOCAL_STREAMS_DIR_ENV, LOCAL_MODEL_ENV = (
    "LOCAL_DATA_DIR",
    "LOCAL_STREAMS_DIR",
    "LOCAL_MODEL",
)

ClientFactory = Callable[[str], Any]
_ENVIRONMENT_LOCK = threading.Lock()


def client_factory(spec: str | None = None) -> ClientFactory:
    """The factory named by `spec` (default: $AWS_CLIENT_FACTORY), or boto3.client when unset."""
    spec = os.environ.get(CLIENT_FACTORY_ENV, "") if spec is None else spec
    if not spec:
        import boto3  # in the Lambda runtime; imported lazily so local profiles need not load it

        return boto3.client
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"{CLIENT_FACTORY_ENV} must be 'module:callable', got {spec!r}")
    factory = getattr(importlib.import_module(module_name), attribute)
    if not callable(factory):
        raise ValueError(f"{CLIENT_FACTORY_ENV}: {spec} is not callable")
    return factory


def client(service: str, settings: Mapping[str, str] | None = None) -> Any:
    """A client for `service` as the environment configures it, `settings` (configuration variables,
    e.g. what a CLI flag stands for) overriding the environment's while the client is built."""
    with environment(settings or {}):
        return client_factory()(service)


def kinesis_settings(
    stream_dir: str | os.PathLike[str] | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> dict[str, str]:
    """The configuration a CLI's stream flags stand for: a local stream folder (the local profile's
    factory on it) or a Kinesis endpoint (plain boto3 there, e.g. LocalStack), and a region."""
    settings = {"AWS_DEFAULT_REGION": region} if region else {}
    if stream_dir is not None:
        settings |= {CLIENT_FACTORY_ENV: LOCAL_CLIENT_FACTORY, LOCAL_STREAMS_DIR_ENV: os.fspath(stream_dir)}
    elif endpoint_url is not None:
        settings |= {CLIENT_FACTORY_ENV: "", "AWS_ENDPOINT_URL_KINESIS": endpoint_url}
    return settings


@contextlib.contextmanager
def environment(settings: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `settings` applied, restored afterwards (a CLI's main may run in a test's process)."""
    if not settings:
        yield
        return
    with _ENVIRONMENT_LOCK:
        saved = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
