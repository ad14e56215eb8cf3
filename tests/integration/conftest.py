"""LocalStack for the integration tests: one per session, started only if none answers.

The fixture uses the same code as `make localstack-up` (profiles/localstack_server.py). If it started
LocalStack it stops it at the end; a LocalStack that was already running is left alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from profiles import localstack_server as localstack


def _missing_prerequisite() -> str | None:
    """What this machine lacks to run LocalStack (None when it can)."""
    if localstack.ready(localstack.health()) or localstack.docker_available():
        return None
    try:
        localstack.find_python()
    except localstack.LocalStackError as err:
        return str(err)
    for tool in ("node", "npm", "ss"):
        if shutil.which(tool) is None:
            return f"LocalStack's host runtime needs `{tool}` on PATH"
    return None


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    missing = _missing_prerequisite()
    if missing:
        pytest.skip(f"LocalStack unavailable: {missing}")
    started = localstack.up()
    try:
        yield localstack.ENDPOINT
    finally:
        if not started.already_running:
            localstack.down()


@pytest.fixture(scope="session")
def aws_env(localstack_endpoint: str) -> dict[str, str]:
    """Environment for processes (Terraform, boto3) that talk to LocalStack."""
    return localstack.client_environment()


@pytest.fixture(scope="session")
def boto(localstack_endpoint: str):
    """boto3 clients bound to LocalStack: boto("kinesis")."""
    import boto3

    def make(service: str):
        return boto3.client(
            service,
            endpoint_url=localstack_endpoint,
            region_name=localstack.REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    return make


@pytest.fixture(scope="session")
def batch_side(tmp_path_factory):
    """A small history, its batch features and a model trained on them (the batch half of the system)."""
    from datetime import UTC, datetime

    from profiles.steps import Layout, aggregate, generate_history, train

    layout = Layout(tmp_path_factory.mktemp("batch"))
    generate_history(
        layout,
        cards=200,
        transactions=30_000,
        start=datetime(2020, 1, 1, tzinfo=UTC),
        end=datetime(2020, 6, 1, tzinfo=UTC),
        seed=42,
    )
    aggregate(layout)
    train(layout)
    return layout
