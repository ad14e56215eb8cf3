"""Feature-group schemas derived from the definition, rendered as JSON for Terraform and the stores."""

from __future__ import annotations

import json
from dataclasses import dataclass

from features.definition import (
    EVENT_TIME_FEATURE,
    EVENT_TIME_FEATURE_DESCRIPTION,
    FEATURE_GROUPS,
    SOURCE,
    FeatureGroup,
    FeatureType,
    aggregates_of_kind,
)

# A feature's SQL type, the same in every engine's SQL (batch, Flink, KDA). Features are numbers;
# a String feature would need each dialect's own text type.
SQL_TYPES: dict[FeatureType, str] = {"Integral": "BIGINT", "Fractional": "DOUBLE"}


def sql_type(feature_type: FeatureType) -> str:
    """The SQL type a renderer declares or casts a feature of this type to."""
    try:
        return SQL_TYPES[feature_type]
    except KeyError:
        raise ValueError(f"no SQL type for {feature_type} features (numbers only)") from None


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    type: FeatureType
    description: str


def record_features(group: FeatureGroup) -> tuple[FeatureSpec, ...]:
    """A record of the group: the entity, the event time, then the window's aggregates."""
    entity = SOURCE.column(SOURCE.entity)
    return (
        FeatureSpec(entity.name, "Integral", entity.description),
        FeatureSpec(EVENT_TIME_FEATURE, "Fractional", EVENT_TIME_FEATURE_DESCRIPTION),
        *(FeatureSpec(a.name, a.feature_type, a.description) for a in aggregates_of_kind(group.window_kind)),
    )


def group_for(kind: str) -> FeatureGroup:
    return next(g for g in FEATURE_GROUPS if g.window_kind == kind)


def definition_json(group: FeatureGroup) -> str:
    """The group as Terraform's feature_groups module and the local store read it."""
    doc = {
        "feature_group_name": group.name,
        "description": group.description,
        "record_identifier_feature_name": SOURCE.entity,
        "event_time_feature_name": EVENT_TIME_FEATURE,
        "online_store": group.online,
        "offline_store": group.offline,
        "features": [
            {"name": f.name, "type": f.type, "description": f.description} for f in record_features(group)
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
