"""Launch the batch job on a managed Spark service: EMR Serverless.

Why EMR Serverless: SageMaker Processing's PySpark container is stuck on Spark 3.3, while EMR
Serverless tracks current Spark (emr-7.x ships Spark 3.5), bills per second and keeps no
cluster around; the SageMaker Python SDK v3 also drives it. The job's SQL stays valid on
Spark 3.3, so the same entry point and bundle also run under SageMaker Processing's
spark-submit.

The job ships as its entry point (jobs/aggregate.py) plus a zip of the pure-Python packages it
imports (features, jobs) passed with --py-files. `start_job_run_request()` builds the request
without touching AWS; `main()` uploads the code and submits it.

On a deployed stack (terraform/envs/aws), the application, the job role and the code come from
Terraform: `--from-terraform` starts the daily refresh's own run (jobs/batch/emr_entry.py:
aggregate, then load cc-agg-batch-fg) now, with the request the schedule sends
(`terraform output batch_refresh`), only with a fresh client token.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from tools.cli import OneLineErrors
from tools.terraform_output import OutputError
from tools.terraform_output import output as terraform_output_of
from tools.zips import tree_entries, write_zip

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_PACKAGES = ("features", "jobs", "tools")


@dataclass(frozen=True)
class SparkJob:
    application_id: str
    execution_role_arn: str
    code_prefix: str  # s3://bucket/prefix where the entry point and bundle are uploaded
    input_uri: str
    output_uri: str
    log_uri: str | None = None
    kms_key_arn: str | None = None
    name: str = "cc-agg-batch"
    timeout_minutes: int = 60
    live_uri: str | None = None  # the transactions archive (jobs.aggregate --live)
    live_until: str | None = None  # ISO 8601: only its transactions before this time

    @property
    def entry_point(self) -> str:
        return f"{self.code_prefix.rstrip('/')}/aggregate.py"

    @property
    def bundle(self) -> str:
        return f"{self.code_prefix.rstrip('/')}/batch-job.zip"


def build_bundle(out: Path) -> Path:
    """The --py-files zip: every .py of the packages the job imports (nothing else)."""
    entries = {}
    for package in BUNDLE_PACKAGES:
        entries.update(
            {
                name: path
                for name, path in tree_entries(ROOT / package, prefix=f"{package}/").items()
                if name.endswith(".py")
            }
        )
    return write_zip(entries, out)


def start_job_run_request(job: SparkJob, client_token: str | None = None) -> dict:
    """The EMR Serverless StartJobRun request (boto3 `emr-serverless` parameter names)."""
    spark_conf = {
        "spark.submit.pyFiles": job.bundle,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
    }
    request = {
        "applicationId": job.application_id,
        "clientToken": client_token or str(uuid.uuid4()),
        "executionRoleArn": job.execution_role_arn,
        "name": job.name,
        "executionTimeoutMinutes": job.timeout_minutes,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": job.entry_point,
                "entryPointArguments": [
                    "--engine",
                    "spark",
                    "--input",
                    job.input_uri,
                    "--output",
                    job.output_uri,
                    *(["--live", job.live_uri] if job.live_uri else []),
                    *(["--live-until", job.live_until] if job.live_until else []),
                ],
                "sparkSubmitParameters": " ".join(f"--conf {k}={v}" for k, v in spark_conf.items()),
            }
        },
        "tags": {"project": "streaming-fraud-features", "component": "batch-aggregation"},
    }
    if job.log_uri:
        monitoring = {"logUri": job.log_uri}
        if job.kms_key_arn:
            monitoring["encryptionKeyArn"] = job.kms_key_arn
        request["configurationOverrides"] = {
            "monitoringConfiguration": {"s3MonitoringConfiguration": monitoring}
        }
    return request


def sdk_to_boto3(value):
    """A request in the AWS SDK's member names (the schedule's input) in boto3's (camelCase) names."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: sdk_to_boto3(item) for key, item in value.items()}
    if isinstance(value, list):
        return [sdk_to_boto3(item) for item in value]
    return value


def request_from_terraform(batch_refresh: dict, client_token: str | None = None) -> dict:
    """The StartJobRun request of `terraform output -json batch_refresh`, with a fresh client token."""
    request = sdk_to_boto3(batch_refresh["start_job_run"])
    request["clientToken"] = client_token or str(uuid.uuid4())
    request["name"] = f"{request['name']}-by-hand"
    return request


def terraform_output(root: Path, name: str = "batch_refresh") -> dict:
    """One output of a Terraform root, as JSON (needs the state: run after `make deploy`)."""
    try:
        return terraform_output_of(root, name)  # type: ignore[return-value]
    except OutputError as err:
        raise SystemExit(f"error: {err}") from None


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def submit(job: SparkJob, session=None) -> str:
    """Upload the entry point and bundle, start the run, return its id (calls AWS)."""
    import boto3

    session = session or boto3.Session()
    s3 = session.client("s3")
    bundle = build_bundle(ROOT / "build" / "batch-job.zip")
    for local, uri in ((ROOT / "jobs" / "aggregate.py", job.entry_point), (bundle, job.bundle)):
        s3.upload_file(str(local), *_split(uri))
    return session.client("emr-serverless").start_job_run(**start_job_run_request(job))["jobRunId"]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m jobs.batch.launch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from-terraform",
        nargs="?",
        const=str(ROOT / "terraform" / "envs" / "aws"),
        metavar="ROOT",
        help="start the daily refresh's run now, as `terraform output batch_refresh` of ROOT "
        "(default terraform/envs/aws) describes it; no other option is needed",
    )
    parser.add_argument("--application-id", help="EMR Serverless application id (Spark)")
    parser.add_argument("--role-arn", help="job execution role ARN")
    parser.add_argument("--code-prefix", help="s3:// prefix to upload the job code to")
    parser.add_argument("--input", help="s3:// history (Parquet prefix or .csv)")
    parser.add_argument("--output", help="s3:// output prefix")
    parser.add_argument("--live", help="s3:// transactions archive to add (unlabeled; jobs.aggregate --live)")
    parser.add_argument(
        "--live-until",
        help="add only the archive's transactions before this ISO 8601 time (e.g. ...T00:00:00Z)",
    )
    parser.add_argument("--log-uri", help="s3:// prefix for Spark logs")
    parser.add_argument("--kms-key-arn", help="KMS key for the logs")
    parser.add_argument("--dry-run", action="store_true", help="print the StartJobRun request and exit")
    args = parser.parse_args(argv)
    if args.from_terraform:
        batch_refresh = terraform_output(Path(args.from_terraform))
        request = request_from_terraform(batch_refresh, client_token="dry-run" if args.dry_run else None)
        if args.dry_run:
            print(json.dumps(request, indent=2))
            return 0
        import boto3

        client = boto3.client("emr-serverless", region_name=batch_refresh["region"])
        print(f"started EMR Serverless job run {client.start_job_run(**request)['jobRunId']}")
        return 0
    for name in ("application_id", "role_arn", "code_prefix", "input", "output"):
        if not getattr(args, name):
            parser.error(f"--{name.replace('_', '-')} is required (or use --from-terraform)")
    for flag, value in (
        ("--code-prefix", args.code_prefix),
        ("--input", args.input),
        ("--output", args.output),
        ("--live", args.live),
    ):
        if value is not None and not value.startswith("s3://"):
            parser.error(f"{flag} must be an s3:// URI, got {value!r}")
    job = SparkJob(
        args.application_id,
        args.role_arn,
        args.code_prefix,
        args.input,
        args.output,
        args.log_uri,
        args.kms_key_arn,
        live_uri=args.live,
        live_until=args.live_until,
    )
    if args.dry_run:
        print(json.dumps(start_job_run_request(job, client_token="dry-run"), indent=2))
        return 0
    print(f"started EMR Serverless job run {submit(job)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
