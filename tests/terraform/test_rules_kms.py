"""Plan-level rules of the KMS key: nothing uses the key before its policy lets the service use it.

CloudWatch Logs refuses to create a log group with a KMS key whose key policy does not (yet) allow
the `logs.<region>.amazonaws.com` principal ("The specified KMS key does not exist or is not allowed
to be used with Arn ..."); a log group planned in parallel with `aws_kms_key_policy` races it:
https://github.com/hashicorp/terraform-provider-aws/issues/29282
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
The fix is at the source: the kms module's key outputs depend on the key policy, so every consumer
of `module.kms.key_arn` (log groups, queues, streams, buckets, topics) waits for it.
"""

from __future__ import annotations

from typing import Any

import pytest
from planrules import config_resources, module_config, references

pytestmark = pytest.mark.terraform


def test_the_key_outputs_wait_for_the_key_policy(aws_plan: dict[str, Any]) -> None:
    outputs = module_config(aws_plan, "kms")["outputs"]
    for name in ("key_arn", "key_id"):
        assert "aws_kms_key_policy.this" in outputs[name].get("depends_on", []), (
            f"module.kms output {name} must depend on aws_kms_key_policy.this (provider issue #29282)"
        )


def test_the_key_policy_lets_cloudwatch_logs_use_the_key(aws_plan: dict[str, Any]) -> None:
    """The policy the outputs wait for is the one that names the CloudWatch Logs principal."""
    kms = module_config(aws_plan, "kms")
    (policy,) = [r for r in kms["resources"] if r["type"] == "aws_kms_key_policy"]
    assert "data.aws_iam_policy_document.key" in references(policy["expressions"]["policy"])
    (key,) = [r for r in kms["resources"] if r["type"] == "aws_kms_key"]
    assert "policy" not in key["expressions"], "one policy, in aws_kms_key_policy (no inline key policy)"


def module_input_source(aws_plan: dict[str, Any], path: tuple[str, ...], variable: str) -> list[str]:
    """What the root passes to `variable` of the module at `path` (modules called by the root only)."""
    (name,) = path
    call = aws_plan["configuration"]["root_module"]["module_calls"][name]
    return references(call["expressions"].get(variable))


def test_every_encrypted_log_group_gets_the_key_through_the_kms_module(aws_plan: dict[str, Any]) -> None:
    groups = [
        (path, r)
        for path, r in config_resources(aws_plan["configuration"]["root_module"])
        if r["type"] == "aws_cloudwatch_log_group"
    ]
    assert len(groups) >= 3, "the functions, the endpoint and the Flink app have log groups"
    for path, group in groups:
        key = references(group["expressions"].get("kms_key_id"))
        assert key and key[0].startswith("var."), (
            f"{path}: {group['address']} must take the key as a variable"
        )
        source = module_input_source(aws_plan, path, key[0].removeprefix("var."))
        assert "module.kms.key_arn" in source, f"{path}: {group['address']} must get module.kms.key_arn"
