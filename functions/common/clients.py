"""AWS clients for the handlers, chosen by configuration.

In AWS the handlers get plain boto3 clients (which honour AWS_ENDPOINT_URL_<SERVICE> and the
standard boto3 settings). A profile that runs the same handlers elsewhere names, in
AWS_CLIENT_FACTORY, a `module:callable` taking a service name and returning an object with the
same methods: the handlers' logic never changes, only the clients they are handed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

CLIENT_FACTORY_ENV = "AWS_CLIENT_FACTORY"

ClientFactory = Callable[[str], Any]


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
