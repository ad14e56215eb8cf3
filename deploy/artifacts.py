"""The `package` step: every artifact the root takes, built or checked, as Terraform variables.

A root says what it takes by the variables it declares: model_path, flink_zip_path,
batch_job_zip_path, and on envs/aws the Lambda zips (ingest_zip_path, score_zip_path). The flow
passes each as -var, so Terraform uploads exactly the files packaged here.

- Lambda zips: packager.lambdas (pip for the Lambda platform; needs PyPI).
- Flink zip: packager.flink_app; a non-zero exit stops the flow, and a zip whose MANIFEST.json says
  the Kinesis connector jar is not included is refused (the application would fail when it starts).
- model.tar.gz: when missing, built the way `make demo` builds it (generate a history, aggregate it
  with DuckDB, train), instead of naming targets that do not produce it.
- The batch job's zip: packager.emr_job (its boto3 archive for EMR's Python only where the root runs the daily refresh).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deploy.terraform import FlowError, declared_variables
from packager import flink_app

ROOT = Path(__file__).resolve().parent.parent
Log = Callable[[str], None]

# The demo's history (Makefile: DEMO_CARDS, DEMO_TRANSACTIONS, `make history`).
MODEL_HISTORY_START, MODEL_HISTORY_END = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Paths:
    """Where the artifacts are (defaults: the repository's build/ and data/ layout)."""

    model: Path = ROOT / "data" / "model" / "model.tar.gz"
    flink_zip: Path = ROOT / "build" / "flink-app.zip"
    lambda_dir: Path = ROOT / "build" / "lambda"
    batch_job_zip: Path = ROOT / "build" / "emr" / "batch-job.zip"
    batch_deps_zip: Path = ROOT / "build" / "emr" / "batch-deps.zip"
    consistency_job_zip: Path = ROOT / "build" / "emr" / "consistency-job.zip"
    consistency_deps_zip: Path = ROOT / "build" / "emr" / "consistency-deps.zip"
    data: Path = ROOT / "data"  # where a missing model's history and features are built
    model_cards: int = 1000
    model_transactions: int = 200_000
    allow_stand_in_jar: bool = False  # a Flink zip with a stand-in connector jar (rehearsals only)

    def variables(self) -> dict[str, Path]:
        """Terraform variable -> file, for every artifact the flow knows."""
        return {
            "model_path": self.model,
            "flink_zip_path": self.flink_zip,
            "batch_job_zip_path": self.batch_job_zip,
            "batch_deps_zip_path": self.batch_deps_zip,
            "consistency_job_zip_path": self.consistency_job_zip,
            "consistency_deps_zip_path": self.consistency_deps_zip,
            "ingest_zip_path": self.lambda_dir / "ingest.zip",
            "score_zip_path": self.lambda_dir / "score.zip",
        }


def _python(args: list[str], what: str) -> None:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    for line in done.stdout.strip().splitlines():
        print(f"  {line}")
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise FlowError(f"{what} failed (exit {done.returncode}): {last}")


def check_flink_zip(path: Path, allow_stand_in: bool = False) -> None:
    """Refuse a Flink zip without the checked Kinesis connector jar (packager.flink_app.verify); a
    stand-in jar passes only where asked for (the LocalStack rehearsal)."""
    if not path.is_file():
        raise FlowError(f"{path} not found: run `make package-flink` (or the package step)")
    try:
        flink_app.verify(path, allow_stand_in=allow_stand_in)
    except flink_app.IncompleteZip as err:
        raise FlowError(str(err)) from None


def build_model(paths: Paths, log: Log) -> Path:
    """model.tar.gz from a generated history, as `make demo` builds it (generate, aggregate, train)."""
    from profiles.steps import Layout, aggregate, generate_history, train

    layout = Layout(paths.data)
    log(
        f"model: {paths.model} missing; generating a history ({paths.model_cards:,} cards, {paths.model_transactions:,} transactions)"
    )
    generate_history(
        layout, paths.model_cards, paths.model_transactions, MODEL_HISTORY_START, MODEL_HISTORY_END, seed=42
    )
    log("model: aggregating it (DuckDB)")
    aggregate(layout)
    log("model: training (XGBoost)")
    built = train(layout)
    if built.resolve() != paths.model.resolve():
        paths.model.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, paths.model)
    return paths.model


def package(root: Path, paths: Paths, log: Log = print) -> dict[str, Path]:
    """Build what `root` takes; returns Terraform variable -> file."""
    wanted = declared_variables(root) & set(paths.variables())
    if {"ingest_zip_path", "score_zip_path"} & wanted:
        log("lambda zips: packager.lambdas build")
        _python(
            ["-m", "packager.lambdas", "build", "--out-dir", str(paths.lambda_dir)],
            "packaging the Lambda zips",
        )
    if "flink_zip_path" in wanted:
        log("flink zip: packager.flink_app")
        _python(
            ["-m", "packager.flink_app", "--out", str(paths.flink_zip)], "packaging the Flink application"
        )
        check_flink_zip(paths.flink_zip, paths.allow_stand_in_jar)
    if "batch_job_zip_path" in wanted:
        # The dependency archive (boto3 for EMR's Python, from PyPI) only where the root runs the refresh.
        refresh = "enable_daily_refresh" in declared_variables(root)
        log("batch job zip: packager.emr_job" + ("" if refresh else " (bundle only)"))
        _python(
            [
                "-m",
                "packager.emr_job",
                "--out",
                str(paths.batch_job_zip),
                "--deps-out",
                str(paths.batch_deps_zip),
                "--consistency-out",
                str(paths.consistency_job_zip),
                "--consistency-deps-out",
                str(paths.consistency_deps_zip),
                *([] if refresh else ["--no-deps"]),
            ],
            "packaging the batch job",
        )
    if "model_path" in wanted and not paths.model.is_file():
        build_model(paths, log)
    return artifact_variables(root, paths)


def artifact_variables(root: Path, paths: Paths, must_exist: bool = True) -> dict[str, Path]:
    """The artifacts `root` takes, checked: every required file present and the Flink zip complete."""
    out: dict[str, Path] = {}
    for name, path in paths.variables().items():
        if name not in declared_variables(root):
            continue
        if path.is_file():
            out[name] = path.resolve()
        elif must_exist:
            raise FlowError(f"{path} not found: run the package step first (make deploy does)")
    if must_exist and "flink_zip_path" in out:
        check_flink_zip(out["flink_zip_path"], paths.allow_stand_in_jar)
    return out


def as_strings(variables: Mapping[str, Path]) -> dict[str, str]:
    return {k: str(v) for k, v in variables.items()}
