"""The offline Terraform CLI environment and one session run of every command (used by conftest.py).

Every terraform command loads the ~700 MB AWS provider, so the session runs each command once
(init, validate, `terraform test`, the offline plan) on a pool of two workers, with one plugin
cache and one TF_DATA_DIR per configuration under build/terraform/, and tests read the results.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
MODULES = sorted(p.name for p in (TERRAFORM_DIR / "modules").iterdir() if (p / "main.tf").is_file())
ROOTS = ("envs/aws", "envs/local")
CONFIGS = (*ROOTS, *(f"modules/{m}" for m in MODULES))
BUILD = REPO / "build" / "terraform"
MIRROR = Path("/opt/tf-plugins/registry.terraform.io/hashicorp/aws")
CHECKOV_VENV = REPO / ".venv-checkov"
CHECKOV_REQUIREMENTS = REPO / "requirements-checkov.txt"


@dataclass(frozen=True)
class Run:
    """One terraform command's outcome."""

    args: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def terraform_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_PROFILE", "TF_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(TERRAFORM_DIR / "terraformrc.hcl"),
        TF_PLUGIN_CACHE_DIR=str(BUILD / "plugin-cache"),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        # Offline plans: dummy credentials, never a metadata or STS call.
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def slug(config: str) -> str:
    return config.replace("/", "-")


def run_terraform(config: str, *args: str, timeout: float = 600) -> Run:
    env = terraform_env() | {"TF_DATA_DIR": str(BUILD / "data" / slug(config))}
    done = subprocess.run(
        ["terraform", *args, "-no-color"],
        cwd=TERRAFORM_DIR / config,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(tuple(args), done.returncode, done.stdout + done.stderr)


def placeholder_zips() -> dict[str, Path]:
    """Stand-in function zips: the plan hashes the files, whatever make package last built."""
    from packager.zips import write_zip

    stub = b"def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"
    return {name: write_zip({"app.py": stub}, BUILD / "zips" / f"{name}.zip") for name in ("ingest", "score")}


class Session:
    """Runs every terraform command of the suite once, two at a time, on first use."""

    def __init__(self) -> None:
        (BUILD / "plugin-cache").mkdir(parents=True, exist_ok=True)  # terraform does not create it
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures: dict[str, Future[list[Run]]] = {}
        # One init first fills the plugin cache; the parallel inits then only link to it.
        self.warmup = run_terraform("modules/kms", "init", "-backend=false", "-input=false")
        self.futures["envs/aws"] = self.pool.submit(self._aws_root)
        for config in CONFIGS[1:]:
            self.futures[config] = self.pool.submit(self._config, config)

    def _config(self, config: str) -> list[Run]:
        runs = [run_terraform(config, "init", "-backend=false", "-input=false")]
        if runs[-1].ok:
            runs.append(run_terraform(config, "validate"))
        if runs[-1].ok and config.startswith("modules/"):
            runs.append(run_terraform(config, "test"))
        return runs

    def _aws_root(self) -> list[Run]:
        data = BUILD / "data" / slug("envs/aws")
        zips = placeholder_zips()
        runs = [
            run_terraform(
                "envs/aws", "init", "-input=false", f"-backend-config=path={data / 'terraform.tfstate'}"
            )
        ]
        if runs[-1].ok:
            runs.append(run_terraform("envs/aws", "validate"))
        if runs[-1].ok:
            runs.append(
                run_terraform(
                    "envs/aws",
                    "plan",
                    "-input=false",
                    "-lock=false",
                    "-var",
                    "offline=true",
                    "-var",
                    f"ingest_zip_path={zips['ingest']}",
                    "-var",
                    f"score_zip_path={zips['score']}",
                    f"-out={data / 'plan.tfplan'}",
                )
            )
        if runs[-1].ok:
            runs.append(run_terraform("envs/aws", "show", "-json", str(data / "plan.tfplan")))
        if runs[-1].ok:
            runs.append(run_terraform("envs/aws", "providers", "schema", "-json"))
        if runs[-1].ok:  # the other engine and endpoint mode plan too
            runs.append(
                run_terraform(
                    "envs/aws",
                    "plan",
                    "-input=false",
                    "-lock=false",
                    "-var",
                    "offline=true",
                    "-var",
                    f"ingest_zip_path={zips['ingest']}",
                    "-var",
                    f"score_zip_path={zips['score']}",
                    "-var",
                    "streaming_engine=kda_sql",
                    "-var",
                    "endpoint_type=instances",
                )
            )
        return runs

    def runs(self, config: str) -> list[Run]:
        return self.futures[config].result()

    def command(self, config: str, name: str, with_arg: str | None = None) -> Run:
        """The first run of `terraform <name>` (with `with_arg` among its arguments, if given)."""
        runs = self.runs(config)
        for run in runs:
            if run.args[: len(name.split())] == tuple(name.split()) and (
                with_arg is None or with_arg in run.args
            ):
                return run
        failed = runs[-1]
        pytest.fail(
            f"{config}: `terraform {name}` did not run; `terraform {' '.join(failed.args)}` failed:\n{failed.output}"
        )
