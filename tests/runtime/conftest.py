"""Fixtures for the local runtime tests: a controllable clock and fresh local services."""

from __future__ import annotations

import pytest

from local_aws.feature_store import LocalFeatureStore
from local_aws.queue import LocalSQS
from local_aws.stream import LocalKinesis


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kinesis(tmp_path, clock) -> LocalKinesis:
    return LocalKinesis(tmp_path / "streams", clock=clock)


@pytest.fixture
def sqs(tmp_path, clock) -> LocalSQS:
    return LocalSQS(tmp_path / "queues", clock=clock)


@pytest.fixture
def store(tmp_path, clock) -> LocalFeatureStore:
    return LocalFeatureStore(tmp_path / "fs.db", clock=clock)
