"""Plan-level rules of the feature groups: the batch group's online TTL and the offline-store catalog."""

from __future__ import annotations

from typing import Any

import pytest
from planrules import one, planned

from local_aws.feature_store import TTL_UNITS, ttl_seconds

pytestmark = pytest.mark.terraform

HOUR = 3600
DAY = 24 * HOUR


def online_ttl_seconds(group: dict[str, Any]) -> float | None:
    (online,) = group["values"]["online_store_config"]
    (ttl,) = online["ttl_duration"] or [None]
    return None if ttl is None else ttl["value"] * TTL_UNITS[ttl["unit"]]


def test_the_batch_snapshot_lives_until_the_next_refresh_and_no_longer(aws_plan: dict[str, Any]) -> None:
    """A record expires at ExpiresAt = EventTime + TtlDuration
    (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-time-to-live.html). A snapshot's
    event time is its UTC midnight and the next one is written shortly after the next midnight
    (DESIGN.md, "The AWS path"): the TTL must exceed a day by a grace for the refresh to land, and
    stay well under two days so a failed refresh shows (cards lapse to unknown) the same day."""
    group = one(aws_plan, "aws_sagemaker_feature_group", "cc-agg-batch-fg")
    ttl = online_ttl_seconds(group)
    assert ttl is not None, "without a TTL a failed refresh serves a stale snapshot silently"
    assert DAY + 2 * HOUR <= ttl <= DAY + 12 * HOUR, f"{ttl / HOUR:g} h"


def test_the_local_feature_store_counts_the_ttl_from_the_event_time_too(aws_plan: dict[str, Any]) -> None:
    """local_aws/feature_store.py (the local profile's stand-in) reads the same unit names and expires a
    record at event time + TTL, so the local profile lapses a snapshot when AWS would."""
    group = one(aws_plan, "aws_sagemaker_feature_group", "cc-agg-batch-fg")
    (online,) = group["values"]["online_store_config"]
    (ttl,) = online["ttl_duration"]
    assert ttl_seconds({"Unit": ttl["unit"], "Value": ttl["value"]}) == online_ttl_seconds(group)


def test_offline_store_catalog_config_with_glue_table_creation(aws_plan: dict[str, Any]) -> None:
    """CreateFeatureGroup's OfflineStoreConfig: with DisableGlueTableCreation = False and a
    DataCatalogConfig, Feature Store creates the Glue table under the given catalog, database and
    table name; the Iceberg format requires DisableGlueTableCreation = False; True with a
    DataCatalogConfig only associates a table someone else must create
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_OfflineStoreConfig.html,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCatalogConfig.html).
    So: table creation on, the catalog names set, and the database one this stack creates."""
    databases = {d["values"]["name"] for d in planned(aws_plan, "aws_glue_catalog_database")}
    offline = [
        g for g in planned(aws_plan, "aws_sagemaker_feature_group") if g["values"]["offline_store_config"]
    ]
    assert offline
    for group in offline:
        (config,) = group["values"]["offline_store_config"]
        assert config["disable_glue_table_creation"] is False, "nothing else creates the table"
        (catalog,) = config["data_catalog_config"]
        assert catalog["catalog"] == "AwsDataCatalog" and catalog["database"] in databases
        assert catalog["table_name"] == group["values"]["feature_group_name"].replace("-", "_")
        assert config["table_format"] in ("Glue", "Iceberg")


# At most 2,500 feature definitions per feature group; three names are reserved
# (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html, "Limits and quotas" and
# "Naming rules"; CreateFeatureGroup's FeatureDefinitions states both too:
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFeatureGroup.html).
MAX_FEATURE_DEFINITIONS = 2500
RESERVED_FEATURE_NAMES = {"is_deleted", "write_time", "api_invocation_time"}


def test_feature_groups_stay_within_the_feature_store_quotas(aws_plan: dict[str, Any]) -> None:
    """Every aggregate the definition adds becomes a feature definition of a planned group: each
    group stays within Feature Store's limit on feature definitions and uses no reserved name."""
    groups = planned(aws_plan, "aws_sagemaker_feature_group")
    assert groups
    for group in groups:
        names = [f["feature_name"] for f in group["values"]["feature_definition"]]
        assert 0 < len(names) <= MAX_FEATURE_DEFINITIONS, (group["address"], len(names))
        assert not RESERVED_FEATURE_NAMES & set(names), group["address"]
