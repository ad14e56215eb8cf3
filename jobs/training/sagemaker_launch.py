"""Cloud training on SageMaker: the SDK v3 `ModelTrainer` with the built-in XGBoost image (1.7-1).

Runs in its own virtualenv, .venv-sagemaker (`make sagemaker-venv`, requirements-sagemaker.txt):
sagemaker-train cannot be installed beside the project's pins (sagemaker-core requires rich<15,
sagemaker-train requires mlflow, which requires pyarrow<26 or pandas<3).

The trainer: image from `sagemaker.core.image_uris.retrieve("xgboost", region, "1.7-1")`, the
local trainer's hyperparameters (jobs/training/hyperparameters.py) plus `eval_metric`, S3 channels
`train` and `validation` (text/csv: the built-in container's layout, label in the first column,
no header, features in MODEL_INPUT order, see `write_channel`), output path, instance type and
count, volume and output KMS keys, maximum runtime. The model lands at
s3://<output prefix>/<job name>/output/model.tar.gz (default output prefix: <prefix>/output/) with
the same `xgboost-model` member as local training.

Without --submit nothing calls AWS: the CreateTrainingJob request the trainer would send is
written as JSON (IAM role validation, which calls iam:SimulatePrincipalPolicy, is skipped for that).
With --submit the channels are uploaded and `ModelTrainer.train(wait=False)` creates the job
(the SDK validates the role first). SDK telemetry is opted out.

python -m jobs.training.sagemaker_launch --features DIR --out DIR --region R --role ARN --s3 s3://bucket/prefix
  [--output-s3 s3://bucket/prefix] [--volume-kms-key K] [--output-kms-key K] [--instance-type T] [--instance-count N] [--max-runtime S] [--submit]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import numpy as np
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from sagemaker.core import image_uris
from sagemaker.core.helper.iam_role_resolver import RoleValidationError
from sagemaker.core.helper.session_helper import Session
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, OutputDataConfig, StoppingCondition

from jobs.training import splits
from jobs.training.hyperparameters import SAGEMAKER_XGBOOST_VERSION, Hyperparameters
from tools.cli import OneLineErrors

CHANNELS = ("train", "validation")
CONTENT_TYPE = "text/csv"
BASE_JOB_NAME = "fraud-xgboost"
# The built-in container scores every round on the validation channel; PR AUC is the model's metric.
EVAL_METRIC = "aucpr"
REQUEST_FILE = "create_training_job.json"
S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+$")
# The SDK sends usage telemetry over HTTPS unless the session's config opts out.
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def image_uri(region: str) -> str:
    try:
        return image_uris.retrieve("xgboost", region, SAGEMAKER_XGBOOST_VERSION)
    except ValueError as err:
        raise ValueError(
            f"no built-in XGBoost {SAGEMAKER_XGBOOST_VERSION} image for region {region!r}"
        ) from err


@dataclass(frozen=True)
class LaunchConfig:
    region: str
    role_arn: str
    s3_prefix: str  # channels under <prefix>/train/ and <prefix>/validation/
    output_prefix: str | None = None  # the model's prefix; None: <prefix>/output/
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_gb: int = 30
    volume_kms_key: str | None = None
    output_kms_key: str | None = None
    max_runtime_s: int = 3600
    base_job_name: str = BASE_JOB_NAME
    tags: dict[str, str] = field(default_factory=lambda: {"project": "streaming-fraud-features"})

    def __post_init__(self) -> None:
        for uri in filter(None, (self.s3_prefix, self.output_prefix)):
            if not S3_URI.match(uri):
                raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
        if not ROLE_ARN.match(self.role_arn):
            raise ValueError(f"not an IAM role ARN: {self.role_arn!r}")
        if self.instance_count < 1 or self.max_runtime_s < 1:
            raise ValueError("instance count and maximum runtime must be at least 1")

    def channel_uri(self, channel: str) -> str:
        return f"{self.s3_prefix.rstrip('/')}/{channel}/"

    @property
    def output_uri(self) -> str:
        return f"{(self.output_prefix or self.s3_prefix + '/output').rstrip('/')}/"


def sagemaker_session(region: str, boto_session: boto3.Session | None = None) -> Session:
    """A SageMaker session on `boto_session` (default: the credential chain's), telemetry off."""
    return Session(
        boto_session=boto_session or boto3.Session(region_name=region), sagemaker_config=SDK_CONFIG
    )


@contextmanager
def _role_validation(enabled: bool) -> Iterator[None]:
    """ModelTrainer validates the role with IAM calls unless SAGEMAKER_VALIDATE_ROLE is false."""
    before = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    if not enabled:
        os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = before


def model_trainer(cfg: LaunchConfig, session: Session, validate_role: bool = True) -> ModelTrainer:
    with _role_validation(validate_role):
        return ModelTrainer(
            sagemaker_session=session,
            role=cfg.role_arn,
            base_job_name=cfg.base_job_name,
            training_image=image_uri(cfg.region),
            training_input_mode="File",
            hyperparameters={**cfg.hyperparameters.as_strings(), "eval_metric": EVAL_METRIC},
            input_data_config=[
                InputData(channel_name=c, data_source=cfg.channel_uri(c), content_type=CONTENT_TYPE)
                for c in CHANNELS
            ],
            output_data_config=OutputDataConfig(s3_output_path=cfg.output_uri, kms_key_id=cfg.output_kms_key),
            compute=Compute(
                instance_type=cfg.instance_type,
                instance_count=cfg.instance_count,
                volume_size_in_gb=cfg.volume_gb,
                volume_kms_key_id=cfg.volume_kms_key,
            ),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=cfg.max_runtime_s),
            tags=[{"key": k, "value": v} for k, v in cfg.tags.items()],
        )


def training_job_request(trainer: ModelTrainer) -> dict:
    """The CreateTrainingJob parameters `trainer.train()` sends (boto3 form). The SDK exposes them
    only through a private method; requirements-sagemaker.txt pins the SDK, and a test checks
    this against what `train(wait=False)` sends."""
    return trainer._create_training_job_args(boto3=True)


def write_channel(part: splits.Part, path: Path) -> Path:
    """The built-in container's CSV: label first, then the features in MODEL_INPUT order, no header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([part.y, part.x]), delimiter=",", fmt="%.9g")
    return path


def submit(cfg: LaunchConfig, session: Session, channel_files: dict[str, Path]) -> str:
    """Validate the role (the SDK, with IAM), upload the channels, create the job; the job's name."""
    trainer = model_trainer(cfg, session)
    s3 = session.boto_session.client("s3")
    for channel, local in channel_files.items():
        bucket, _, key = cfg.channel_uri(channel).removeprefix("s3://").partition("/")
        s3.upload_file(str(local), bucket, f"{key}{local.name}")
    trainer.train(wait=False, logs=False)
    return trainer._latest_training_job.training_job_name


def _parser() -> argparse.ArgumentParser:
    p = OneLineErrors(prog="python -m jobs.training.sagemaker_launch", description=__doc__.splitlines()[0])
    p.add_argument("--features", type=Path, required=True, help="the batch job's output folder")
    p.add_argument("--out", type=Path, required=True, help="folder for the channel CSVs and the request JSON")
    p.add_argument("--region", required=True, help="AWS region of the training job")
    p.add_argument("--role", required=True, help="SageMaker execution role ARN")
    p.add_argument("--s3", required=True, help="s3://bucket/prefix for the channels (and the output)")
    p.add_argument(
        "--output-s3",
        default=None,
        help="s3://bucket/prefix for the model (default: <--s3>/output/); with the training role Terraform "
        "creates: --s3 s3://<data bucket>/features/... --output-s3 s3://<artifacts bucket>/models/",
    )
    p.add_argument("--instance-type", default="ml.m5.xlarge", help="training instance type")
    p.add_argument("--instance-count", type=int, default=1, help="training instances")
    p.add_argument("--max-runtime", type=int, default=3600, help="maximum runtime in seconds")
    p.add_argument("--volume-kms-key", default=None, help="KMS key for the training volume")
    p.add_argument("--output-kms-key", default=None, help="KMS key for the model artifact in S3")
    p.add_argument("--submit", action="store_true", help="upload the channels and create the job (calls AWS)")
    return p


def main(argv: Sequence[str] | None = None, boto_session: boto3.Session | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = LaunchConfig(
            args.region,
            args.role,
            args.s3,
            output_prefix=args.output_s3,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            max_runtime_s=args.max_runtime,
            volume_kms_key=args.volume_kms_key,
            output_kms_key=args.output_kms_key,
        )
        session = sagemaker_session(cfg.region, boto_session)
        request = training_job_request(model_trainer(cfg, session, validate_role=False))
        parts = splits.split(splits.read_table(splits.training_files(args.features)))
        files = {c: write_channel(getattr(parts, c), args.out / c / f"{c}.csv") for c in CHANNELS}
        (args.out / REQUEST_FILE).write_text(json.dumps(request, indent=2) + "\n")
        print(f"wrote {', '.join(str(f) for f in files.values())} and {args.out / REQUEST_FILE}")
        if args.submit:
            print(f"created training job {submit(cfg, session, files)}")
    except (ValueError, OSError, BotoCoreError, ClientError, RoleValidationError) as err:
        message = str(err).splitlines()[0] if not isinstance(err, ValidationError) else _first_error(err)
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"invalid {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


if __name__ == "__main__":
    sys.exit(main())
