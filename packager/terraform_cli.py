"""How the project runs terraform: the user's own provider installation, never a committed one.

Where hashicorp/aws comes from is the user's CLI configuration (TF_CLI_CONFIG_FILE, ~/.terraformrc,
their plugin cache or mirror) or else the public registry, as with any Terraform project: nothing
here sets TF_CLI_CONFIG_FILE or a plugin cache. Roots are initialised with `-lockfile=readonly`,
so the committed .terraform.lock.hcl is verified but never rewritten by a test or a Make target.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = REPO / "terraform"
BUILD = REPO / "build" / "terraform"
LOCK = ".terraform.lock.hcl"

# Variables that would change what a run plans or where it keeps state; everything else the user
# set (TF_CLI_CONFIG_FILE, TF_PLUGIN_CACHE_DIR, TF_TOKEN_*, TF_LOG, ...) is theirs to keep.
_DROPPED = ("TF_VAR_", "TF_CLI_ARGS", "TF_WORKSPACE", "TF_DATA_DIR", "TF_INPUT", "AWS_")


@dataclass(frozen=True)
class Run:
    """One terraform command's outcome."""

    args: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def offline_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment for an offline run: dummy credentials, no metadata or STS call."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update(
        TF_DATA_DIR=str(data_dir),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def data_dir(config: str) -> Path:
    """The TF_DATA_DIR of a configuration (envs/aws, modules/kms, ...) under build/terraform/."""
    return BUILD / "data" / config.replace("/", "-")


def run(config: str | Path, *args: str, timeout: float = 900) -> Run:
    """`terraform <args>` in terraform/<config> with its own data dir (output without colours).

    `config` may also be a directory outside terraform/; its data dir is then its sibling `data`.
    """
    cwd, data = (
        (config, config.parent / "data")
        if isinstance(config, Path)
        else (TERRAFORM_DIR / config, data_dir(config))
    )
    try:
        done = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=cwd,
            env=offline_env(data),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return Run(tuple(args), 127, "the terraform CLI (>= 1.9) is not installed")
    return Run(tuple(args), done.returncode, done.stdout + done.stderr, done.stdout)


def init(config: str) -> Run:
    """Install modules and providers; a root's committed lock is checked, never rewritten.

    A module gets the roots' lock (its own is git-ignored): Terraform >= 1.4 uses a plugin cache
    only for providers whose checksums the lock records, so the user's cache then serves it.
    """
    if config.startswith("envs/"):
        state = data_dir(config) / "terraform.tfstate"
        return run(config, "init", "-input=false", "-lockfile=readonly", f"-backend-config=path={state}")
    shutil.copy(TERRAFORM_DIR / "envs" / "aws" / LOCK, TERRAFORM_DIR / config / LOCK)
    return run(config, "init", "-input=false", "-backend=false")


def failure_reason(output: str) -> str:
    """A terraform run's first error on one line: its title and first paragraph."""
    lines = [line.strip(" │╷╵") for line in output.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("Error:"):
            rest = lines[i + 1 :]
            start = next((j for j, detail in enumerate(rest) if detail), len(rest))
            return " ".join([line, *itertools.takewhile(bool, rest[start:])])
    return next((line for line in reversed(lines) if line.strip()), "no output")


def provider_unavailable() -> str | None:
    """Why terraform cannot install hashicorp/aws here (None: it can); what a test's skip says.

    A real `terraform init` of a root holding only envs/aws's provider requirements and committed
    lock, so a failure is about obtaining the provider, never about the project's configuration.
    """
    if shutil.which("terraform") is None:
        return "the terraform CLI (>= 1.9) is not installed"
    probe = BUILD / "probe" / "root"
    shutil.rmtree(probe.parent, ignore_errors=True)
    probe.mkdir(parents=True)
    for name in ("versions.tf", LOCK):
        shutil.copy(TERRAFORM_DIR / "envs" / "aws" / name, probe / name)
    done = run(probe, "init", "-input=false", "-lockfile=readonly", timeout=300)
    if done.ok:
        return None
    return f"terraform cannot install hashicorp/aws ({failure_reason(done.output)})"
