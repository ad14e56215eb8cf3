"""Session fixtures of the Terraform tests (helpers in tfsession.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tfsession import CHECKOV_REQUIREMENTS, CHECKOV_VENV, Session

from packager import offline_plan
from packager.terraform_cli import provider_unavailable


@pytest.fixture(scope="session")
def terraform_ready() -> None:
    """Skips (saying why) only where terraform or the hashicorp/aws provider cannot be obtained."""
    reason = provider_unavailable()
    if reason:
        pytest.skip(f"prerequisite missing: {reason}")


@pytest.fixture(scope="session")
def tf(terraform_ready: None) -> Session:
    session = Session()
    yield session
    session.pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def aws_plan(tf: Session) -> dict[str, Any]:
    """build/terraform/aws-plan.json, written by the same code as `make plan-offline`."""
    tf.command("envs/aws", "plan-offline")
    return json.loads(offline_plan.PLAN_JSON.read_text())


@pytest.fixture(scope="session")
def provider_schema(tf: Session) -> dict[str, Any]:
    schema = json.loads(tf.command("envs/aws", "providers schema").stdout)
    return schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov from its own virtualenv (its pins clash with the project's), created on first use."""
    binary = CHECKOV_VENV / "bin" / "checkov"
    stamp = CHECKOV_VENV / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < CHECKOV_REQUIREMENTS.stat().st_mtime:
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        done = subprocess.run(
            [
                str(CHECKOV_VENV / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "--require-hashes",
                "-r",
                str(CHECKOV_REQUIREMENTS),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"cannot install checkov into {CHECKOV_VENV}: {done.stderr.strip().splitlines()[-1:]}"
            )
        stamp.touch()
    return binary
