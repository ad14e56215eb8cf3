"""Plan-level rules of the model endpoint: serverless limits, concurrency and the training role."""

from __future__ import annotations

import re
from typing import Any

import pytest
from planrules import load_hcl, module_call, module_source, named_blocks, one, references, root_dir

pytestmark = pytest.mark.terraform


def test_a_serverless_model_has_no_network_isolation(aws_plan: dict[str, Any]) -> None:
    """Serverless Inference does not support network isolation (nor VPC configuration, GPUs,
    multi-model endpoints, data capture...): the feature exclusions of
    https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html
    The default endpoint is serverless, so its model must not ask for it."""
    config = one(aws_plan, "aws_sagemaker_endpoint_configuration")
    (variant,) = config["values"]["production_variants"]
    assert variant["serverless_config"], "the default endpoint is serverless"
    model = one(aws_plan, "aws_sagemaker_model")
    assert model["values"]["enable_network_isolation"] is False


def test_instance_backed_models_keep_network_isolation() -> None:
    (model,) = [
        body["this"]
        for entry in module_source("model_endpoint")["resource"]
        for kind, body in entry.items()
        if kind == "aws_sagemaker_model"
    ]
    assert model["enable_network_isolation"] == "${!local.serverless}"


def test_the_root_checks_endpoint_concurrency_against_the_score_function(aws_plan: dict[str, Any]) -> None:
    """The score function runs up to shards x parallelization factor invocations at once (one
    concurrent batch per shard and parallelization slot:
    https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#kinesis-polling-and-batching),
    each calling InvokeEndpoint once; a serverless endpoint throttles calls beyond its
    MaxConcurrency (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html),
    and a throttled batch is retried, then dead-lettered. The root hands the callers' concurrency
    to the module, whose precondition compares it with the endpoint's (terraform test:
    serverless_concurrency_covers_the_callers)."""
    expressions = module_call(aws_plan, "model_endpoint")["expressions"]
    callers = references(expressions.get("expected_concurrency"))
    assert {"var.stream_mode", "var.shard_count", "var.event_source.parallelization_factor"} <= set(callers)
    assert "var.endpoint_max_concurrency" in references(expressions.get("serverless_max_concurrency"))
    (variant,) = one(aws_plan, "aws_sagemaker_endpoint_configuration")["values"]["production_variants"]
    (serverless,) = variant["serverless_config"]
    assert serverless["max_concurrency"] >= 10, "room for a few shards x parallelization factor by default"


TRAINING = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createtrainingjob-perms"


def training_statements() -> dict[str, dict[str, Any]]:
    """The training role's statements: its own document's and those of its source documents."""
    documents = {
        name: body
        for entry in module_source("model_endpoint")["data"]
        for kind, blocks in entry.items()
        if kind == "aws_iam_policy_document"
        for name, body in blocks.items()
    }
    assert "training" in documents, "model_endpoint has no training role policy"
    training = documents["training"]
    sources = re.findall(
        r"aws_iam_policy_document\.(\w+)\.json", str(training.get("source_policy_documents"))
    )
    return {s["sid"]: s for doc in (training, *(documents[n] for n in sources)) for s in doc["statement"]}


def test_the_training_role_is_least_privilege() -> None:
    """A training job's role reads its channels, pulls the image, writes the model, logs and
    metrics (TRAINING, the CreateTrainingJob permissions): here only under the data bucket's features/ prefix and the artifacts
    bucket's models/ prefix, the sagemaker-xgboost repository and the deployment key."""
    statements = training_statements()
    granted = {s["sid"]: set(s["actions"]) for s in statements.values()}
    assert granted["ReadTrainingFeatures"] == {"s3:GetObject"}
    assert statements["ReadTrainingFeatures"]["resources"] == [
        "${local.data_bucket_arn}/${var.training_features_prefix}*"
    ]
    assert statements["ListTrainingFeatures"]["condition"][0]["variable"] == "s3:prefix"
    assert granted["WriteTrainedModels"] == {"s3:PutObject"}
    assert statements["WriteTrainedModels"]["resources"] == [
        "${local.output_bucket}/${var.training_models_prefix}*"
    ]
    assert statements["PullXgboostImage"]["resources"][0].endswith("repository/sagemaker-xgboost")
    assert statements["UseDeploymentKeyForTraining"]["resources"] == ["${var.kms_key_arn}"]
    assert all(not a.endswith("*") for actions in granted.values() for a in actions)
    variables = named_blocks(module_source("model_endpoint", "variables.tf"), "variable")
    assert variables["training_features_prefix"]["default"] == "features/"
    assert variables["training_models_prefix"]["default"] == "models/"


def test_the_training_role_is_optional_and_has_an_output(aws_plan: dict[str, Any]) -> None:
    assert not [r for r in aws_plan["resource_changes"] if ".aws_iam_role.training" in r["address"]]
    assert "training_role_arn" in aws_plan["configuration"]["root_module"]["outputs"]
    expressions = module_call(aws_plan, "model_endpoint")["expressions"]
    assert "var.enable_training_role" in references(expressions["create_training_role"])
    assert "module.storage.bucket_names" in references(expressions["training_data_bucket"])
    root = load_hcl(root_dir() / "training.tf")
    assert named_blocks(root, "variable")["enable_training_role"]["default"] is False
