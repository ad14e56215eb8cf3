"""Configuration by environment variables only; clients chosen by AWS_CLIENT_FACTORY, boto3 by default."""

from __future__ import annotations

import boto3
import pytest

from clients.factory import client_factory
from features.definition import SERVING_THRESHOLD
from functions.common.config import ConfigError, IngestConfig, ScoreConfig
from tests.functions import fakes

SCORE_ENV = {"ENDPOINT_NAME": "ep", "PREDICTIONS_STREAM": "preds"}


def test_score_defaults_come_from_the_definition() -> None:
    # GIVEN only the required variables WHEN the config is read THEN group names and threshold are the definition's
    assert ScoreConfig.from_env(SCORE_ENV) == ScoreConfig(
        "cc-agg-batch-fg", "ep", "preds", SERVING_THRESHOLD, ""
    )
    assert IngestConfig.from_env({}) == IngestConfig("cc-agg-fg", "")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PREDICTIONS_STREAM": "p"}, "environment variable ENDPOINT_NAME is required"),
        ({**SCORE_ENV, "FRAUD_THRESHOLD": "high"}, "FRAUD_THRESHOLD must be a number in [0, 1], got 'high'"),
        ({**SCORE_ENV, "FRAUD_THRESHOLD": "1.5"}, "FRAUD_THRESHOLD must be a number in [0, 1], got '1.5'"),
        ({**SCORE_ENV, "FRAUD_THRESHOLD": "nan"}, "FRAUD_THRESHOLD must be a number in [0, 1], got 'nan'"),
    ],
)
def test_a_bad_environment_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        ScoreConfig.from_env(env)
    assert str(err.value) == message


def test_client_factory_is_boto3_unless_configured() -> None:
    assert client_factory("") is boto3.client
    assert client_factory("tests.functions.fakes:client") is fakes.client
    with pytest.raises(ValueError, match="must be 'module:callable'"):
        client_factory("tests.functions.fakes")
