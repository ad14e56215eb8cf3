"""Cloud training on SageMaker with the built-in XGBoost algorithm (container 1.7-1).

The job is a SageMaker CreateTrainingJob request built from the same hyperparameters as local
training and validated offline against botocore's service model. The SageMaker Python SDK v3
(`sagemaker.train.ModelTrainer`) is not used here: sagemaker-train 1.27 cannot be installed
beside the project's pins (sagemaker-core requires rich<15; sagemaker-train requires mlflow,
which requires pyarrow<26 or pandas<3), and ModelTrainer's constructor calls IAM to check the
role, so a job definition cannot be built with it offline. The request below is what
ModelTrainer sends: image, role, S3 channels, hyperparameters, resources, output path.

Channels: the built-in container's CSV layout, label in the first column, no header, features
in MODEL_INPUT order (`write_channel`). The trained model lands at
s3://<output>/<job name>/output/model.tar.gz with the same `xgboost-model` member as local training.

python -m jobs.training.sagemaker_launch --features DIR --out DIR --region R --role ARN --s3 s3://bucket/prefix
  writes DIR/train.csv, DIR/validation.csv and DIR/create_training_job.json; --submit also
  uploads the channels and calls CreateTrainingJob (real AWS: never run by the tests).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from botocore.exceptions import ParamValidationError
from botocore.session import get_session
from botocore.validate import ParamValidator

from jobs.training import splits, trainer
from jobs.training.artifact import SAGEMAKER_XGBOOST_VERSION

CHANNELS = ("train", "validation")
CONTENT_TYPE = "text/csv"
# ECR registry accounts of the built-in XGBoost images (sagemaker-core's image_uri_config/xgboost.json,
# "training" / "1.7-1"); the repository is sagemaker-xgboost, tag = container version.
XGBOOST_REGISTRIES = {
    "af-south-1": "510948584623", "ap-east-1": "651117190479", "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698", "ap-northeast-3": "867004704886", "ap-south-1": "720646828776",
    "ap-south-2": "628508329040", "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941", "ap-southeast-4": "106583098589", "ca-central-1": "341280168497",
    "ca-west-1": "190319476487", "cn-north-1": "450853457545", "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770", "eu-central-2": "680994064768", "eu-north-1": "662702820516",
    "eu-south-1": "978288397137", "eu-south-2": "104374241257", "eu-west-1": "141502667606",
    "eu-west-2": "764974769150", "eu-west-3": "659782779980", "il-central-1": "898809789911",
    "me-central-1": "272398656194", "me-south-1": "801668240914", "sa-east-1": "737474898029",
    "us-east-1": "683313688378", "us-east-2": "257758044811", "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902", "us-west-1": "746614075791", "us-west-2": "246618743249",
}
S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+$")


def image_uri(region: str, version: str = SAGEMAKER_XGBOOST_VERSION) -> str:
    if region not in XGBOOST_REGISTRIES:
        raise ValueError(f"no built-in XGBoost image known for region {region!r}")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{XGBOOST_REGISTRIES[region]}.dkr.ecr.{region}.{domain}/sagemaker-xgboost:{version}"


@dataclass(frozen=True)
class LaunchConfig:
    region: str
    role_arn: str
    s3_prefix: str  # channels under <prefix>/train/ and <prefix>/validation/, output under <prefix>/output/
    job_name: str = field(default_factory=lambda: datetime.now(UTC).strftime("fraud-xgboost-%Y%m%d-%H%M%S"))
    hyperparameters: trainer.Hyperparameters = field(default_factory=trainer.Hyperparameters)
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_gb: int = 30
    max_runtime_s: int = 3600
    tags: dict[str, str] = field(default_factory=lambda: {"project": "streaming-fraud-features"})

    def __post_init__(self) -> None:
        if not S3_URI.match(self.s3_prefix):
            raise ValueError(f"not an S3 URI: {self.s3_prefix!r} (expected s3://bucket/prefix)")
        if not ROLE_ARN.match(self.role_arn):
            raise ValueError(f"not an IAM role ARN: {self.role_arn!r}")
        image_uri(self.region)

    def channel_uri(self, channel: str) -> str:
        return f"{self.s3_prefix.rstrip('/')}/{channel}/"

    @property
    def output_uri(self) -> str:
        return f"{self.s3_prefix.rstrip('/')}/output/"


def training_job_request(cfg: LaunchConfig) -> dict:
    """CreateTrainingJob parameters (boto3 `sagemaker` client keyword arguments)."""
    return {
        "TrainingJobName": cfg.job_name,
        "RoleArn": cfg.role_arn,
        "AlgorithmSpecification": {"TrainingImage": image_uri(cfg.region), "TrainingInputMode": "File"},
        "HyperParameters": {**cfg.hyperparameters.as_strings(), "eval_metric": "aucpr"},
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": CONTENT_TYPE,
                "CompressionType": "None",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": cfg.channel_uri(channel),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel in CHANNELS
        ],
        "OutputDataConfig": {"S3OutputPath": cfg.output_uri},
        "ResourceConfig": {
            "InstanceType": cfg.instance_type,
            "InstanceCount": cfg.instance_count,
            "VolumeSizeInGB": cfg.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": cfg.max_runtime_s},
        "Tags": [{"Key": k, "Value": v} for k, v in cfg.tags.items()],
    }


def validate(request: dict) -> dict:
    """Check the request against botocore's SageMaker service model (offline); ValueError if invalid."""
    shape = get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        raise ValueError(f"invalid CreateTrainingJob request: {report.generate_report()}")
    return request


def write_channel(part: splits.Part, path: Path) -> Path:
    """The built-in container's CSV: label first, then the features in MODEL_INPUT order, no header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([part.y, part.x]), delimiter=",", fmt="%.9g")
    return path


def submit(cfg: LaunchConfig, request: dict, channel_files: dict[str, Path]) -> str:  # pragma: no cover - real AWS
    import boto3

    s3 = boto3.client("s3", region_name=cfg.region)
    for channel, local in channel_files.items():
        bucket, _, key = cfg.channel_uri(channel).removeprefix("s3://").partition("/")
        s3.upload_file(str(local), bucket, f"{key}{local.name}")
    return boto3.client("sagemaker", region_name=cfg.region).create_training_job(**request)["TrainingJobArn"]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.training.sagemaker_launch", description=__doc__.splitlines()[0])
    p.add_argument("--features", type=Path, required=True, help="the batch job's output folder")
    p.add_argument("--out", type=Path, required=True, help="folder for the channel CSVs and the request JSON")
    p.add_argument("--region", required=True, help="AWS region of the training job")
    p.add_argument("--role", required=True, help="SageMaker execution role ARN")
    p.add_argument("--s3", required=True, help="s3://bucket/prefix for channels and output")
    p.add_argument("--instance-type", default="ml.m5.xlarge", help="training instance type")
    p.add_argument("--submit", action="store_true", help="upload the channels and create the job (calls AWS)")
    args = p.parse_args(argv)
    try:
        cfg = LaunchConfig(args.region, args.role, args.s3, instance_type=args.instance_type)
        request = validate(training_job_request(cfg))
        parts = splits.split(splits.read_table(splits.training_files(args.features)))
        files = {c: write_channel(getattr(parts, c), args.out / c / f"{c}.csv") for c in CHANNELS}
        (args.out / "create_training_job.json").write_text(json.dumps(request, indent=2) + "\n")
    except (ValueError, OSError, ParamValidationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(str(f) for f in files.values())} and {args.out / 'create_training_job.json'}")
    if args.submit:
        print(f"created {submit(cfg, request, files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

