"""python -m deploy <step> --root terraform/envs/aws|terraform/envs/local [...]: the deploy flow's CLI.

Steps: package, apply, load, smoke, destroy, outputs, and deploy (package -> apply -> load ->
outputs and next steps). Thin: arguments in, the steps' functions (deploy.artifacts, deploy.terraform,
deploy.load, deploy.smoke) called, one `error: ...` line and a non-zero exit when a step cannot go on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from deploy.artifacts import ROOT, Paths, artifact_variables, as_strings, package
from deploy.load import (
    HistorySpec,
    aws_client,
    current_history,
    load,
    local_feature_store,
    runtime_client,
    snapshot_rows,
    upload_history,
    use_localstack_defaults,
    uses_stand_ins,
)
from deploy.smoke import SmokeOptions, smoke
from deploy.terraform import FlowError, Terraform
from tools.cli import OneLineErrors

STEPS = ("package", "apply", "load", "smoke", "destroy", "outputs", "deploy")


def log(message: str) -> None:
    print(message, flush=True)


def _key_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parser() -> argparse.ArgumentParser:
    p = OneLineErrors(prog="python -m deploy", description=__doc__.splitlines()[0])
    p.add_argument("step", choices=STEPS)
    p.add_argument(
        "--root", type=Path, required=True, help="Terraform root: terraform/envs/aws or terraform/envs/local"
    )
    p.add_argument(
        "--var",
        type=_key_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Terraform variable",
    )
    p.add_argument(
        "--backend-config", action="append", default=[], help="terraform init -backend-config value"
    )
    p.add_argument("--work", type=Path, help="working folder (default: build/deploy/<root's name>)")
    p.add_argument("--model", type=Path, default=Paths.model, help="model.tar.gz (built when missing)")
    p.add_argument("--flink-zip", type=Path, default=Paths.flink_zip, help="Flink application zip")
    p.add_argument(
        "--allow-stand-in-jar",
        action="store_true",
        help="accept a Flink zip whose connector jar is a stand-in ($FLINK_CONNECTOR_SHA256): rehearsals only",
    )
    p.add_argument("--lambda-dir", type=Path, default=Paths.lambda_dir, help="folder of the Lambda zips")
    p.add_argument("--batch-job-zip", type=Path, default=Paths.batch_job_zip, help="the batch job's zip")
    p.add_argument(
        "--batch-deps-zip",
        type=Path,
        default=Paths.batch_deps_zip,
        help="the batch job's dependency archive (roots that run the daily refresh)",
    )
    p.add_argument("--data", type=Path, default=Paths.data, help="where a missing model's history is built")
    p.add_argument(
        "--model-cards", type=int, default=Paths.model_cards, help="cards of a missing model's history"
    )
    p.add_argument(
        "--model-transactions",
        type=int,
        default=Paths.model_transactions,
        help="transactions of a missing model's history",
    )
    p.add_argument(
        "--snapshots",
        help="load: the batch job's online/ output (folder or s3:// URL) instead of a new history",
    )
    p.add_argument(
        "--cards", type=int, default=HistorySpec.cards, help="load/smoke: cards of the current history"
    )
    p.add_argument(
        "--transactions",
        type=int,
        default=HistorySpec.transactions,
        help="load/smoke: transactions of the current history",
    )
    p.add_argument("--workers", type=int, default=8, help="concurrent PutRecord calls")
    p.add_argument(
        "--timeout", type=float, default=120.0, help="smoke: seconds after the last send for every prediction"
    )
    p.add_argument(
        "--background-rate", type=float, default=20.0, help="smoke: background transactions per second"
    )
    return p


def _terraform(args: argparse.Namespace, artifacts: dict[str, str]) -> Terraform:
    return Terraform(args.root, variables={**artifacts, **dict(args.var)}, backend_config=args.backend_config)


def _paths(args: argparse.Namespace) -> Paths:
    return Paths(
        model=args.model,
        flink_zip=args.flink_zip,
        lambda_dir=args.lambda_dir,
        batch_job_zip=args.batch_job_zip,
        batch_deps_zip=args.batch_deps_zip,
        data=args.data,
        model_cards=args.model_cards,
        model_transactions=args.model_transactions,
        allow_stand_in_jar=args.allow_stand_in_jar,
    )


def step_load(args: argparse.Namespace, tf: Terraform, work: Path) -> None:
    deployment = tf.deployment()
    if uses_stand_ins(deployment):
        use_localstack_defaults()
    region, group = deployment["region"], deployment["batch_feature_group"]
    s3 = aws_client("s3", region)
    if args.snapshots:
        snapshots = args.snapshots
    else:
        layout = current_history(work / "history", HistorySpec(args.cards, args.transactions), _now(), log)
        log(f"history uploaded to {upload_history(s3, deployment['data_bucket'], layout.history)}")
        snapshots = str(layout.features / "online")
    if uses_stand_ins(deployment):
        with local_feature_store(
            work / "featurestore.db", deployment["name_prefix"], work / "logs" / "feature-store.log"
        ) as url:
            load(snapshot_rows(snapshots, s3), group, runtime_client(region, url), args.workers, log)
    else:
        load(snapshot_rows(snapshots, s3), group, runtime_client(region), args.workers, log)


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def next_steps(root: Path, deployment: dict[str, str]) -> str:
    make_root = "" if root.resolve() == (ROOT / "terraform" / "envs" / "aws").resolve() else f" ROOT={root}"
    return "\n".join(
        [
            "next:",
            f"  make smoke{make_root}            # stream the seed's attack through it and print the summary",
            f"  python -m simulator stream --scenario attack --cards-from data/history.parquet --root {root}",
            f"  dead letters: {deployment['dead_letter_queue_url']}",
            f"  make destroy{make_root}          # delete everything (buckets emptied)",
        ]
    )


def run(args: argparse.Namespace) -> int:
    root = args.root
    if not (root / "main.tf").is_file():
        raise FlowError(f"{root} is not a Terraform root (no main.tf)")
    work = (args.work or ROOT / "build" / "deploy" / root.resolve().name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    paths = _paths(args)
    if args.step in ("package", "deploy"):
        built = package(root, paths, log)
        log("packaged: " + ", ".join(f"{k}={v}" for k, v in built.items()))
    if args.step in ("apply", "deploy"):
        tf = _terraform(args, as_strings(artifact_variables(root, paths)))
        tf.init()
        tf.apply()
        deployment = tf.deployment()
        log(f"applied {root}: {deployment['name_prefix']} in {deployment['region']}")
    if args.step in ("load", "deploy"):
        tf = _terraform(args, {})
        try:
            step_load(args, tf, work)
        except FlowError as err:
            if args.step != "deploy":
                raise
            print(f"error: loading the batch feature group failed: {err}", file=sys.stderr)
            print(f"  once it is fixed, run: make load-features ROOT={root}", file=sys.stderr)
            return 1
    if args.step == "smoke":
        tf = _terraform(args, {})
        options = SmokeOptions(
            work=work / "smoke",
            model=args.model,
            feature_store_db=work / "featurestore.db",
            history=HistorySpec(args.cards, args.transactions),
            background_rate=args.background_rate,
            timeout_s=args.timeout,
            workers=args.workers,
        )
        options.work.mkdir(parents=True, exist_ok=True)
        from rich.console import Console

        deployment = tf.deployment()
        if uses_stand_ins(deployment):
            use_localstack_defaults()
        return smoke(deployment, options, Console(), log)
    if args.step == "destroy":
        # The artifacts that exist, so the plan matches the applied configuration; nothing is built.
        tf = _terraform(args, as_strings(artifact_variables(root, paths, must_exist=False)))
        tf.init()
        tf.destroy()
        log(f"destroyed {root}")
    if args.step in ("outputs", "deploy"):
        deployment = _terraform(args, {}).deployment()
        print(json.dumps(deployment, indent=2))
        print(next_steps(root, deployment))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.workers < 1 or args.workers > 64:
        print("error: --workers must be 1..64", file=sys.stderr)
        return 2
    try:
        return run(args)
    except (FlowError, ValueError, OSError, BotoCoreError, ClientError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
