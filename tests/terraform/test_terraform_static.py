"""Static rules over the Terraform sources (python-hcl2): types, docs, encryption, IAM, tags."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tfsession import MODULES, REPO, TERRAFORM_DIR

from features.definition import SOURCE, windows
from features.kda_sql import INPUT_STREAM, OUTPUT_STREAM, column_types, input_schema
from features.records import AGGREGATE_FIELDS, TRANSACTION_FIELDS


def _load_docs() -> ModuleType:
    """terraform/docs.py (the README generator and its HCL loader), imported by path."""
    spec = importlib.util.spec_from_file_location("terraform_docs", TERRAFORM_DIR / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs = _load_docs()
clean, load, named_blocks = docs.clean, docs.load, docs.named_blocks

pytestmark = pytest.mark.terraform

TF_FILES = sorted(p for p in TERRAFORM_DIR.rglob("*.tf") if ".terraform" not in p.parts)
PARSED = {p: load(p) for p in TF_FILES}
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")


def rel(path: Path) -> str:
    return str(path.relative_to(TERRAFORM_DIR))


def blocks(kind: str) -> Iterator[tuple[Path, str, str, dict[str, Any]]]:
    """(file, type, name, body) of every `resource` or `data` block."""
    for path, doc in PARSED.items():
        for entry in doc.get(kind, []):
            for type_, named in entry.items():
                for name, body in named.items():
                    yield path, type_, name, body


def test_sources_parse() -> None:
    assert len(TF_FILES) >= 4 * len(MODULES) + 8 and all(PARSED.values())


@pytest.mark.parametrize("module", MODULES)
def test_module_layout(module: str) -> None:
    folder = TERRAFORM_DIR / "modules" / module
    assert [f for f in MODULE_FILES if not (folder / f).is_file()] == []


def test_every_variable_typed_and_described() -> None:
    missing = [
        f"{rel(path)}: {name}"
        for path, doc in PARSED.items()
        for name, body in named_blocks(doc, "variable").items()
        if not body.get("type") or not str(body.get("description", "")).strip()
    ]
    assert missing == []


def test_module_outputs_described_and_never_fail() -> None:
    bad = [
        f"{rel(path)}: {name}"
        for path, doc in PARSED.items()
        if path.parts[-3] == "modules"
        for name, body in named_blocks(doc, "output").items()
        if not body.get("description") or not str(body.get("value", "")).startswith("${try(")
    ]
    assert bad == []


def test_module_readmes_list_inputs_and_outputs() -> None:
    done = subprocess.run(
        [sys.executable, str(TERRAFORM_DIR / "docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_provider_constraint_is_the_tested_series() -> None:
    for path, doc in PARSED.items():
        if path.name != "versions.tf":
            continue
        (settings,) = doc["terraform"]
        aws = settings["required_providers"][0]["aws"]
        assert aws["source"] == "hashicorp/aws" and aws["version"] == "~> 5.100", rel(path)


# --- encryption -------------------------------------------------------------------------------

ENCRYPTION = {
    "aws_kinesis_stream": lambda b: (
        b.get("encryption_type") == "KMS" and "kms_key" in str(b.get("kms_key_id"))
    ),
    "aws_sqs_queue": lambda b: "kms_key" in str(b.get("kms_master_key_id")),
    "aws_sns_topic": lambda b: "kms_key" in str(b.get("kms_master_key_id")),
    "aws_cloudwatch_log_group": lambda b: "kms_key" in str(b.get("kms_key_id")),
    "aws_lambda_function": lambda b: "kms_key" in str(b.get("kms_key_arn")),
    "aws_sagemaker_endpoint_configuration": lambda b: "kms_key" in str(b.get("kms_key_arn")),
}


@pytest.mark.parametrize("kind", sorted(ENCRYPTION))
def test_resources_kms_encrypted(kind: str) -> None:
    found = [(path, name, body) for path, type_, name, body in blocks("resource") if type_ == kind]
    assert found, f"no {kind} in the sources"
    assert [f"{rel(p)}: {n}" for p, n, b in found if not ENCRYPTION[kind](b)] == []


def test_every_bucket_has_kms_default_encryption() -> None:
    buckets = {(p, n) for p, t, n, _ in blocks("resource") if t == "aws_s3_bucket"}
    assert buckets
    for path, name in buckets:
        sse = [
            b
            for p, t, _, b in blocks("resource")
            if p == path and t == "aws_s3_bucket_server_side_encryption_configuration"
        ]
        assert sse, f"{rel(path)}: bucket {name} has no default encryption"
        (rule,) = sse[0]["rule"]
        default = rule["apply_server_side_encryption_by_default"][0]
        assert default["sse_algorithm"] == "aws:kms" and "kms_key" in default["kms_master_key_id"]
        assert f"aws_s3_bucket.{name}[each.key]" in sse[0]["bucket"] and sse[0][
            "for_each"
        ] == buckets_for_each(path, name)


def buckets_for_each(path: Path, name: str) -> str:
    return next(
        b["for_each"] for p, t, n, b in blocks("resource") if p == path and t == "aws_s3_bucket" and n == name
    )


def test_feature_groups_encrypted_online_and_offline() -> None:
    (group,) = [b for _, t, _, b in blocks("resource") if t == "aws_sagemaker_feature_group"]
    dynamic = {name: body for entry in group["dynamic"] for name, body in entry.items()}
    online = dynamic["online_store_config"]["content"][0]
    assert "kms_key" in online["security_config"][0]["kms_key_id"]
    offline = dynamic["offline_store_config"]["content"][0]
    assert "kms_key" in offline["s3_storage_config"][0]["kms_key_id"]


# --- IAM --------------------------------------------------------------------------------------


def wildcard_sids() -> set[str]:
    text = (TERRAFORM_DIR / "IAM_WILDCARDS.md").read_text()
    return set(re.findall(r"^\| `([A-Za-z0-9]+)` \|", text, flags=re.MULTILINE))


def statements(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping shaped like an IAM statement (actions + resources), wherever it is written:
    policy documents, their dynamic blocks, and statement lists held in locals."""
    if isinstance(value, dict):
        if "actions" in value and "resources" in value:
            yield value
        for child in value.values():
            yield from statements(child)
    elif isinstance(value, list):
        for child in value:
            yield from statements(child)


ALL_STATEMENTS = [(path, s) for path, doc in PARSED.items() for s in statements(doc)]


def as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_statements_found() -> None:
    assert len(ALL_STATEMENTS) >= 30
    assert all(s.get("sid") for _, s in ALL_STATEMENTS), (
        "every statement needs a Sid (the wildcard list refers to it)"
    )


def test_no_wildcard_actions() -> None:
    granted = [
        f"{rel(p)}: {s['sid']}: {a}"
        for p, s in ALL_STATEMENTS
        if s.get("effect", "Allow") == "Allow"
        for a in as_list(s["actions"])
        if a == "*" or a.endswith(":*")
    ]
    assert granted == []


def test_wildcard_resources_only_where_listed() -> None:
    listed = wildcard_sids()
    star = {
        s["sid"]
        for _, s in ALL_STATEMENTS
        if s.get("effect", "Allow") == "Allow" and "*" in as_list(s["resources"])
    }
    assert star - listed == set(), (
        "a statement grants Resource '*' without a reason in terraform/IAM_WILDCARDS.md"
    )
    assert listed - star == set(), "IAM_WILDCARDS.md lists statements that no longer use Resource '*'"


def test_policies_come_from_policy_documents() -> None:
    """No inline JSON policies to escape the checks above, and no managed (FullAccess) policies."""
    for path, type_, name, body in blocks("resource"):
        assert type_ not in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"), (
            f"{rel(path)}: {name}"
        )
        assert "managed_policy_arns" not in body, f"{rel(path)}: {name}"
        for attribute in ("policy", "assume_role_policy"):
            if attribute in body:
                assert str(body[attribute]).startswith("${data.aws_iam_policy_document."), (
                    f"{rel(path)}: {type_}.{name}"
                )


# --- tags and checkov skips ---------------------------------------------------------------------


def test_every_taggable_resource_is_tagged(provider_schema: dict[str, Any]) -> None:
    taggable = {
        kind
        for kind, s in provider_schema["resource_schemas"].items()
        if "tags" in s["block"].get("attributes", {})
    }
    untagged = [
        f"{rel(p)}: {t}.{n}" for p, t, n, b in blocks("resource") if t in taggable and "tags" not in b
    ]
    assert untagged == []
    assert len([1 for _, t, _, _ in blocks("resource") if t in taggable]) >= 20


def test_roots_set_default_tags() -> None:
    for root in ("aws", "local"):
        (provider,) = PARSED[TERRAFORM_DIR / "envs" / root / "main.tf"]["provider"]
        assert "default_tags" in provider["aws"], root


def test_checkov_skips_are_justified() -> None:
    skips = [
        (rel(path), m)
        for path in TF_FILES
        for m in re.finditer(r"#\s*checkov:skip=([A-Z0-9_]+)(:?)(.*)", path.read_text())
    ]
    assert skips
    assert [(f, m.group(1)) for f, m in skips if not m.group(2) or len(m.group(3).strip()) < 30] == []


# --- the KDA SQL app is generated from the definition ------------------------------------------


def test_kda_sql_columns_follow_the_wire_format() -> None:
    sql = (REPO / "features" / "rendered" / "kda.sql").read_text()
    stream = re.search(r'CREATE OR REPLACE STREAM "(\w+)" \((.*?)\);', sql, flags=re.DOTALL)
    assert stream and stream.group(1) == OUTPUT_STREAM
    columns = re.findall(r'^\s*"(\w+)" ', stream.group(2), flags=re.MULTILINE)
    assert tuple(columns) == AGGREGATE_FIELDS == tuple(column_types())
    assert f'FROM "{INPUT_STREAM}"' in sql
    for window in windows("sliding"):  # one per-card RANGE window per sliding window of the definition
        minutes = window.length.total_seconds() / 60
        assert f"PARTITION BY \"{SOURCE.entity}\" RANGE INTERVAL '{minutes:g}' MINUTE PRECEDING" in sql
    assert [c["name"] for c in input_schema()["columns"]] == list(TRANSACTION_FIELDS)


def test_kda_module_reads_the_rendered_schema() -> None:
    (app,) = [b for _, t, _, b in blocks("resource") if t == "aws_kinesis_analytics_application"]
    columns = app["inputs"][0]["schema"][0]["dynamic"][0]["record_columns"]
    assert columns["for_each"] == "${local.schema.columns}"
    assert clean(app["code"]) == "${file(var.sql_path)}"
