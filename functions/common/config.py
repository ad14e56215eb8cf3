"""The handlers' configuration: environment variables only (set by terraform/modules/functions)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from features.definition import SERVING_THRESHOLD
from features.feature_groups import group_for

STREAMING_GROUP_DEFAULT = group_for("sliding").name
BATCH_GROUP_DEFAULT = group_for("daily_snapshot").name


class ConfigError(ValueError):
    """A missing or malformed environment variable."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


@dataclass(frozen=True)
class IngestConfig:
    streaming_feature_group: str
    dead_letter_queue_url: str  # "" = bad records are only logged

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> IngestConfig:
        return cls(
            streaming_feature_group=env.get("STREAMING_FEATURE_GROUP") or STREAMING_GROUP_DEFAULT,
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
        )


@dataclass(frozen=True)
class ScoreConfig:
    batch_feature_group: str
    endpoint_name: str
    predictions_stream: str
    threshold: float
    dead_letter_queue_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ScoreConfig:
        raw = env.get("FRAUD_THRESHOLD") or str(SERVING_THRESHOLD)
        try:
            threshold = float(raw)
        except ValueError as err:
            raise ConfigError(f"FRAUD_THRESHOLD must be a number in [0, 1], got {raw!r}") from err
        if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
            raise ConfigError(f"FRAUD_THRESHOLD must be a number in [0, 1], got {raw!r}")
        return cls(
            batch_feature_group=env.get("BATCH_FEATURE_GROUP") or BATCH_GROUP_DEFAULT,
            endpoint_name=_required(env, "ENDPOINT_NAME"),
            predictions_stream=_required(env, "PREDICTIONS_STREAM"),
            threshold=threshold,
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
        )
