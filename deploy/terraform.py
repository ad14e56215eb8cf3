"""Terraform for the flow: init, ONE apply of the whole root (artifacts included), destroy, the deployment output.

No -target anywhere: a targeted apply keeps only the outputs that depend on the targeted resources,
which is how the old two-phase deploy lost `model_data_key` (issue 14, item 1). Every reader of
the deployed names goes through `deployment()`, which fails when a key is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import terraform_output

# The `deployment` output's keys: the same on every root (terraform/envs/*/outputs.tf).
DEPLOYMENT_KEYS = (
    "region",
    "name_prefix",
    "transactions_stream",
    "aggregates_stream",
    "predictions_stream",
    "late_stream",
    "dead_letter_queue_url",
    "data_bucket",
    "artifacts_bucket",
    "batch_feature_group",
    "streaming_feature_group",
    "endpoint_name",
    "kms_key_arn",
)
_VARIABLE = re.compile(r'^\s*variable\s+"([A-Za-z0-9_-]+)"', re.MULTILINE)


class FlowError(RuntimeError):
    """A step cannot go on; the message says why in one line."""


def declared_variables(root: Path) -> set[str]:
    """The input variables a root declares (its *.tf files), so the flow passes only what it takes."""
    return {name for tf in sorted(root.glob("*.tf")) for name in _VARIABLE.findall(tf.read_text())}


@dataclass
class Terraform:
    """The terraform CLI on one root. `env`: extra environment (TF_DATA_DIR, the CLI config, endpoints)."""

    root: Path
    variables: Mapping[str, str] = field(default_factory=dict)  # -var name=value for apply and destroy
    backend_config: Sequence[str] = ()  # -backend-config values for init
    env: Mapping[str, str] = field(default_factory=dict)
    binary: str = "terraform"

    def _run(self, *args: str, capture: bool = False, timeout: float = 3600) -> str:
        command = [self.binary, f"-chdir={self.root}", *args]
        try:
            done = subprocess.run(
                command,
                capture_output=capture,
                text=True,
                env={**os.environ, "TF_IN_AUTOMATION": "1", **self.env},
                timeout=timeout,
            )
        except FileNotFoundError:
            raise FlowError(terraform_output.not_found(self.binary)) from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout or "").strip().splitlines()[-12:] if capture else []
            raise FlowError(
                f"terraform {args[0]} failed (exit {done.returncode})"
                + "".join(f"\n  {line}" for line in detail)
            )
        return done.stdout if capture else ""

    def _var_args(self) -> list[str]:
        declared = declared_variables(self.root)
        unknown = sorted(set(self.variables) - declared)
        if unknown:
            raise FlowError(f"{self.root} declares no variable {', '.join(unknown)}")
        return [f"-var={name}={value}" for name, value in sorted(self.variables.items())]

    def init(self, capture: bool = False) -> None:
        # A -backend-config needs the root's S3 backend block (backend_s3.tf.example) in place of
        # its local one; without it, a stale override from an earlier S3 deploy is removed.
        override, example = self.root / "backend_override.tf", self.root / "backend_s3.tf.example"
        if self.backend_config and example.is_file():
            shutil.copyfile(example, override)
        elif not self.backend_config:
            override.unlink(missing_ok=True)
        self._run(
            "init",
            "-input=false",
            "-reconfigure",
            "-lockfile=readonly",  # the committed lock changes only through `make tf-lock`
            *(f"-backend-config={c}" for c in self.backend_config),
            capture=capture,
        )

    def apply(self, capture: bool = False) -> None:
        """One apply of the whole root; the artifacts are part of it (module "artifacts")."""
        self._run("apply", "-input=false", "-auto-approve", *self._var_args(), capture=capture)

    def destroy(self, capture: bool = False) -> None:
        self._run("destroy", "-input=false", "-auto-approve", *self._var_args(), capture=capture)

    def output(self, name: str) -> object:
        try:
            return terraform_output.output(
                self.root, name, self.binary, {"TF_IN_AUTOMATION": "1", **self.env}
            )
        except terraform_output.OutputError as err:
            raise FlowError(str(err)) from None

    def deployment(self) -> dict[str, str]:
        try:
            value = self.output("deployment")
        except FlowError:
            raise FlowError(
                f"{self.root}: no `deployment` output (was the root applied with `make deploy`?)"
            ) from None
        return check_deployment(value, str(self.root))


def check_deployment(value: object, where: str) -> dict[str, str]:
    """The deployment output as a dict of strings with every key the roots declare."""
    if not isinstance(value, dict):
        raise FlowError(f"{where}: the deployment output is not an object")
    missing = [k for k in DEPLOYMENT_KEYS if k not in value]
    if missing:
        raise FlowError(f"{where}: the deployment output lacks {', '.join(missing)}")
    return {k: "" if value[k] is None else str(value[k]) for k in DEPLOYMENT_KEYS}
