"""Helpers of the plan-level rules (test_rules_*.py): walk `terraform show -json` of the offline
plan of envs/aws (the `aws_plan` fixture) and the parsed .tf sources (python-hcl2)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tfsession import TERRAFORM_DIR


def _docs() -> Any:
    """terraform/docs.py (its python-hcl2 loader strips HCL quoting), imported by path."""
    spec = importlib.util.spec_from_file_location("terraform_docs", TERRAFORM_DIR / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DOCS = _docs()
load_hcl, named_blocks = _DOCS.load, _DOCS.named_blocks


def module_source(module: str, name: str = "main.tf") -> dict[str, Any]:
    return load_hcl(TERRAFORM_DIR / "modules" / module / name)


def resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def planned(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Planned resources of one type, anywhere in the module tree."""
    return [r for r in resources(plan["planned_values"]["root_module"]) if r["type"] == kind]


def one(plan: dict[str, Any], kind: str, address_part: str = "") -> dict[str, Any]:
    (found,) = [r for r in planned(plan, kind) if address_part in r["address"]]
    return found


def after_unknown(plan: dict[str, Any], address: str) -> dict[str, Any]:
    change = next(c for c in plan["resource_changes"] if c["address"] == address)
    return change["change"]["after_unknown"]


def module_call(plan: dict[str, Any], name: str) -> dict[str, Any]:
    """The configuration of a module called by the envs/aws root."""
    return plan["configuration"]["root_module"]["module_calls"][name]


def module_config(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return module_call(plan, name)["module"]


def config_resources(
    config: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(module path from the root, resource configuration) of every resource in the configuration."""
    for resource in config.get("resources", []):
        yield path, resource
    for name, call in config.get("module_calls", {}).items():
        yield from config_resources(call["module"], (*path, name))


def references(expression: dict[str, Any] | None) -> list[str]:
    return (expression or {}).get("references", [])


def dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return alarm["values"].get("dimensions") or {}


def root_dir(root: str = "aws") -> Path:
    return TERRAFORM_DIR / "envs" / root
