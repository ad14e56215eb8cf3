"""One session run of every terraform command of the suite (used by conftest.py).

Every terraform command loads the ~700 MB AWS provider, so the session runs each command once
(init, validate, `terraform test`, the offline plan) on a pool of two workers, one TF_DATA_DIR per
configuration under build/terraform/, and tests read the results. terraform runs the way
packager.terraform_cli runs it: the provider comes from wherever the user's CLI configuration
says (or the public registry), and the committed lock files are never rewritten.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from packager import offline_plan, terraform_cli
from packager.terraform_cli import REPO, TERRAFORM_DIR, Run

MODULES = sorted(p.name for p in (TERRAFORM_DIR / "modules").iterdir() if (p / "main.tf").is_file())
ROOTS = ("envs/aws", "envs/local")
CONFIGS = (*ROOTS, *(f"modules/{m}" for m in MODULES))
CHECKOV_VENV = REPO / ".venv-checkov"
CHECKOV_REQUIREMENTS = REPO / "requirements-checkov.txt"


class Session:
    """Runs every terraform command of the suite once, two at a time, on first use."""

    def __init__(self) -> None:
        # The committed locks as they were, for the test that no run rewrote them.
        self.locks = {p: p.read_bytes() for p in sorted(TERRAFORM_DIR.glob("envs/*/.terraform.lock.hcl"))}
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures: dict[str, Future[list[Run]]] = {"envs/aws": self.pool.submit(self._aws_root)}
        for config in CONFIGS[1:]:
            self.futures[config] = self.pool.submit(self._config, config)

    def _config(self, config: str) -> list[Run]:
        runs = [terraform_cli.init(config)]
        if runs[-1].ok:
            runs.append(terraform_cli.run(config, "validate"))
        if runs[-1].ok and config.startswith("modules/"):
            runs.append(terraform_cli.run(config, "test"))
        return runs

    def _aws_root(self) -> list[Run]:
        """init, validate, the offline plan `make plan-offline` writes, the schema, the other engine."""
        runs = [terraform_cli.init("envs/aws")]
        if runs[-1].ok:
            runs.append(terraform_cli.run("envs/aws", "validate"))
        if runs[-1].ok:
            try:
                offline_plan.write_plan(offline_plan.PLAN_JSON)
                runs.append(Run(("plan-offline",), 0, str(offline_plan.PLAN_JSON)))
            except offline_plan.PlanError as error:
                runs.append(Run(("plan-offline",), 1, str(error)))
        if runs[-1].ok:
            runs.append(terraform_cli.run("envs/aws", "providers", "schema", "-json"))
        if runs[-1].ok:  # the other engine and endpoint mode plan too
            artifacts = offline_plan.write_stand_ins(offline_plan.STAND_INS)
            runs.append(
                terraform_cli.run(
                    "envs/aws",
                    "plan",
                    "-input=false",
                    "-lock=false",
                    *offline_plan.plan_variables(artifacts),
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
