"""python -m packager.offline_plan: the offline plan of terraform/envs/aws as JSON (`make plan-offline`).

Writes build/terraform/aws-plan.json, `terraform show -json` of a plan with the root's default
variables, offline = true (no credentials, account or metadata lookups, no network besides what
installing the provider needs) and small stand-in artifacts generated under
build/terraform/stand-ins/ (never the real ones under build/). The Terraform tests read the same
file, written by the same functions.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from packager import terraform_cli
from tools.cli import OneLineErrors
from tools.zips import write_zip

ROOT = "envs/aws"
PLAN_JSON = terraform_cli.BUILD / "aws-plan.json"
STAND_INS = terraform_cli.BUILD / "stand-ins"


class PlanError(Exception):
    """A terraform step failed; the message names the step and terraform's first error."""


def _tar_gz(files: dict[str, bytes], out: Path) -> Path:
    """A reproducible .tar.gz (fixed times, sorted names): same content, same file hash."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return out


def write_stand_ins(directory: Path, model: str = "stand-in model") -> dict[str, Path]:
    """Small stand-ins of every artifact the root uploads or deploys; `model` varies the model's bytes."""
    handler = b"def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"
    return {
        "model": _tar_gz({"xgboost-model": model.encode()}, directory / "model.tar.gz"),
        "flink-app": write_zip({"jobs/flink/app.py": b"# stand-in\n"}, directory / "flink-app.zip"),
        "batch-job": write_zip({"jobs/__init__.py": b""}, directory / "batch-job.zip"),
        "batch-deps": write_zip({"boto3/__init__.py": b""}, directory / "batch-deps.zip"),
        "consistency-job": write_zip({"jobs/__init__.py": b""}, directory / "consistency-job.zip"),
        "consistency-deps": write_zip({"xgboost/__init__.py": b""}, directory / "consistency-deps.zip"),
        "ingest": write_zip({"app.py": handler}, directory / "ingest.zip"),
        "score": write_zip({"app.py": handler}, directory / "score.zip"),
    }


def plan_variables(artifacts: dict[str, Path]) -> list[str]:
    """-var arguments of an offline plan: the defaults, offline = true, the stand-ins' paths."""
    paths = {
        "model_path": artifacts["model"],
        "flink_zip_path": artifacts["flink-app"],
        "batch_job_zip_path": artifacts["batch-job"],
        "batch_deps_zip_path": artifacts["batch-deps"],
        "consistency_job_zip_path": artifacts["consistency-job"],
        "consistency_deps_zip_path": artifacts["consistency-deps"],
        "ingest_zip_path": artifacts["ingest"],
        "score_zip_path": artifacts["score"],
    }
    args = ["-var", "offline=true"]
    for name, path in paths.items():
        args += ["-var", f"{name}={path}"]
    return args


def _check(run: terraform_cli.Run) -> terraform_cli.Run:
    if not run.ok:
        raise PlanError(f"terraform {run.args[0]}: {terraform_cli.failure_reason(run.output)}")
    return run


def write_plan(
    out: Path, *, model: str = "stand-in model", stand_ins: Path = STAND_INS, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Plan envs/aws offline (already initialised) and write `terraform show -json` of it to `out`."""
    artifacts = write_stand_ins(stand_ins, model)
    binary = out.with_suffix(".tfplan")
    out.parent.mkdir(parents=True, exist_ok=True)
    _check(
        terraform_cli.run(
            ROOT, "plan", "-input=false", "-lock=false", *plan_variables(artifacts), *extra, f"-out={binary}"
        )
    )
    shown = _check(terraform_cli.run(ROOT, "show", "-json", str(binary)))
    binary.unlink()
    plan = json.loads(shown.stdout)  # stderr may hold CLI-config warnings
    out.write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n")
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(prog="python -m packager.offline_plan", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PLAN_JSON, help=f"plan JSON (default: {PLAN_JSON})")
    args = parser.parse_args(argv)
    try:
        _check(terraform_cli.init(ROOT))
        write_plan(args.out.resolve())
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
