"""The SageMaker launcher (SDK v3 ModelTrainer) in .venv-sagemaker: the request it writes, and what
`ModelTrainer.train(wait=False)` sends, with every AWS call answered by botocore Stubbers.

Nothing leaves the machine: the driver refuses every socket connection (and reports attempts),
the credentials are fake, and AWS_ENDPOINT_URL points at a closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator

from features.definition import MODEL_INPUT
from jobs.training import splits, synthetic
from jobs.training.hyperparameters import SAGEMAKER_XGBOOST_VERSION, Hyperparameters

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-sagemaker"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
VOLUME_KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
OUTPUT_KEY = "arn:aws:kms:eu-west-1:123456789012:key/66666666-7777-8888-9999-000000000000"
# The built-in XGBoost image in eu-west-1 (AWS's "Docker Registry Paths" page for XGBoost 1.7-1).
EU_WEST_1_IMAGE = (
    f"141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:{SAGEMAKER_XGBOOST_VERSION}"
)

# Both drivers run in .venv-sagemaker and start with STUBS: no socket may connect, and every client
# made from a StubbedSession answers from its Stubber's queue.
STUBS = textwrap.dedent("""
    import json, socket, sys, tempfile
    from pathlib import Path

    attempts = []
    def refuse(self, address):
        attempts.append(repr(address))
        raise ConnectionRefusedError("the test allows no network")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse

    import boto3
    from botocore.stub import ANY, Stubber
    from sagemaker.core.helper.iam_role_resolver import _get_smoke_test_actions

    from jobs.training import sagemaker_launch as sl
    from jobs.training.hyperparameters import Hyperparameters

    class StubbedSession(boto3.Session):
        # One Stubber-backed client per service for every client the SDK makes from this session:
        # a call without a queued response raises, nothing is sent.
        def __init__(self, **kw):
            super().__init__(**kw)
            self.clients, self.stubbers, self.calls = {}, {}, []

        def client(self, service_name, *args, **kwargs):
            if service_name not in self.clients:
                c = super().client(service_name, *args, **kwargs)
                c.meta.events.register("provide-client-params", self._record)
                self.stubbers[service_name] = Stubber(c)
                self.stubbers[service_name].activate()
                self.clients[service_name] = c
            return self.clients[service_name]

        def _record(self, params, model, **kw):
            self.calls.append([model.service_model.service_name, model.name, dict(params)])
""")

# argv: a JSON object of LaunchConfig keyword arguments (hyperparameter overrides under "hp").
# Prints JSON: the request written without --submit (`dry_run`), what `submit` (channel uploads,
# then ModelTrainer.train(wait=False)) sent: the uploads and the CreateTrainingJob parameters
# (`sent`), the AWS calls in order, and any network connection attempted.
DRIVER = STUBS + textwrap.dedent("""
    kw = json.loads(sys.argv[1])
    hp = Hyperparameters().with_overrides(**kw.pop("hp", {}))
    cfg = sl.LaunchConfig(hyperparameters=hp, **kw)

    offline = StubbedSession(region_name=cfg.region)
    dry_run = sl.training_job_request(sl.model_trainer(cfg, sl.sagemaker_session(cfg.region, offline),
                                                       validate_role=False))

    aws = StubbedSession(region_name=cfg.region)
    session = sl.sagemaker_session(cfg.region, aws)
    iam, sm = aws.client("iam"), aws.client("sagemaker")
    aws.stubbers["iam"].add_response("simulate_principal_policy", {"EvaluationResults": [
        {"EvalActionName": a, "EvalDecision": "allowed"} for a in _get_smoke_test_actions("training")]})
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
    aws.stubbers["iam"].add_response("get_role", {"Role": {
        "Path": "/", "RoleName": "sagemaker", "RoleId": "AROA00000000000000000", "Arn": cfg.role_arn,
        "CreateDate": "2020-01-01T00:00:00Z", "AssumeRolePolicyDocument": json.dumps(trust)}})
    arn = "arn:aws:sagemaker:%s:123456789012:training-job/fraud" % cfg.region
    aws.stubbers["sagemaker"].add_response("create_training_job", {"TrainingJobArn": arn},
                                           {"TrainingJobName": ANY, **{k: ANY for k in dry_run if k != "TrainingJobName"}})

    def describe_created(params, **kw):  # queued once the job name is known
        aws.stubbers["sagemaker"].add_response("describe_training_job", {
            "TrainingJobName": params["TrainingJobName"], "TrainingJobArn": arn, "ModelArtifacts": {"S3ModelArtifacts": ""},
            "TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting",
            "AlgorithmSpecification": dry_run["AlgorithmSpecification"], "ResourceConfig": dry_run["ResourceConfig"],
            "StoppingCondition": dry_run["StoppingCondition"], "CreationTime": "2020-01-01T00:00:00Z"})
    sm.meta.events.register("provide-client-params.sagemaker.CreateTrainingJob", describe_created)
    files = {}
    for channel in sl.CHANNELS:
        files[channel] = Path(tempfile.mkdtemp()) / f"{channel}.csv"
        files[channel].write_text("0,1.5\\n1,2.5\\n")
        aws.client("s3")
        aws.stubbers["s3"].add_response("put_object", {"ETag": '"0"'})
    job = sl.submit(cfg, session, files)
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()
    sent = [c[2] for c in aws.calls if c[1] == "CreateTrainingJob"]
    uploads = [[c[2]["Bucket"], c[2]["Key"]] for c in aws.calls if c[1] == "PutObject"]
    print(json.dumps({"dry_run": dry_run, "sent": sent, "calls": [c[:2] for c in aws.calls], "uploads": uploads,
                      "offline_calls": [c[:2] for c in offline.calls], "job": job, "network_attempts": attempts},
                     default=str))
""")


# argv: the CLI's arguments. Runs `main(argv + ["--submit"])` on a session whose IAM simulation
# denies every action the SDK checks; prints the exit code and the AWS calls made.
DENIED_DRIVER = STUBS + textwrap.dedent("""
    aws = StubbedSession(region_name="eu-west-1")
    aws.client("iam")
    aws.stubbers["iam"].add_response("simulate_principal_policy", {"EvaluationResults": [
        {"EvalActionName": a, "EvalDecision": "implicitDeny"} for a in _get_smoke_test_actions("training")]})
    code = sl.main([*sys.argv[1:], "--submit"], boto_session=aws)
    print(json.dumps({"code": code, "calls": [c[:2] for c in aws.calls], "network_attempts": attempts}))
""")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(home: Path) -> dict[str, str]:
    """Fake credentials, no config files, every AWS endpoint on a closed loopback port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    return {
        **env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="module")
def sm_python() -> Path:
    if not (VENV / ".installed").exists():
        subprocess.run(["make", "-C", str(ROOT), "sagemaker-venv"], check=True, capture_output=True)
    return VENV / "bin" / "python"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def drive(sm_python: Path, home: Path, **config) -> dict:
    kw = {"region": "eu-west-1", "role_arn": ROLE, "s3_prefix": "s3://fraud-bucket/training", **config}
    done = subprocess.run(
        [str(sm_python), "-c", DRIVER, json.dumps(kw)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=offline_env(home),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def driven(sm_python, home) -> dict:
    return drive(sm_python, home, volume_kms_key=VOLUME_KEY, output_kms_key=OUTPUT_KEY, max_runtime_s=7200)


def launcher(sm_python: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(sm_python), "-m", "jobs.training.sagemaker_launch", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=offline_env(home),
        timeout=300,
    )


def _without_name(request: dict) -> dict:
    return {k: v for k, v in request.items() if k != "TrainingJobName"}


def test_train_sends_one_create_training_job_and_nothing_leaves_the_machine(driven):
    """GIVEN a session whose clients are Stubbers WHEN the launcher submits THEN it validates the role with
    IAM, uploads both channels, creates one job and describes it; no socket is ever opened."""
    assert driven["network_attempts"] == []
    assert driven["calls"] == [
        ["iam", "SimulatePrincipalPolicy"],
        ["iam", "GetRole"],
        ["s3", "PutObject"],
        ["s3", "PutObject"],
        ["sagemaker", "CreateTrainingJob"],
        ["sagemaker", "DescribeTrainingJob"],
    ]
    assert driven["uploads"] == [
        ["fraud-bucket", "training/train/train.csv"],
        ["fraud-bucket", "training/validation/validation.csv"],
    ]
    assert driven["offline_calls"] == [], "building the request without --submit must not call AWS"
    (sent,) = driven["sent"]
    assert sent["TrainingJobName"] == driven["job"] and sent["TrainingJobName"].startswith("fraud-xgboost-")


def test_sent_request_is_the_builtin_xgboost_job_with_the_trainers_hyperparameters(driven):
    (sent,) = driven["sent"]
    assert sent["AlgorithmSpecification"] == {"TrainingImage": EU_WEST_1_IMAGE, "TrainingInputMode": "File"}
    assert sent["HyperParameters"] == {**Hyperparameters().as_strings(), "eval_metric": "aucpr"}
    assert sent["HyperParameters"]["max_depth"] == "5" and sent["HyperParameters"]["num_round"] == "100"
    channels = {c["ChannelName"]: c for c in sent["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for name, channel in channels.items():
        assert channel["ContentType"] == "text/csv"
        assert channel["DataSource"]["S3DataSource"] == {
            "S3DataType": "S3Prefix",
            "S3Uri": f"s3://fraud-bucket/training/{name}/",
            "S3DataDistributionType": "FullyReplicated",
        }
    assert sent["OutputDataConfig"] == {
        "S3OutputPath": "s3://fraud-bucket/training/output/",
        "KmsKeyId": OUTPUT_KEY,
        "CompressionType": "GZIP",
    }
    assert sent["ResourceConfig"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": VOLUME_KEY,
    }
    assert sent["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert sent["RoleArn"] == ROLE
    assert {"Key": "project", "Value": "streaming-fraud-features"} in sent["Tags"]


def test_the_model_can_go_to_another_prefix_than_the_channels(sm_python, home):
    """The training role Terraform creates reads features/ of the data bucket and writes models/ of the
    artifacts bucket: --output-s3 sends the model there, the channels stay under --s3."""
    sent = drive(
        sm_python, home, s3_prefix="s3://fraud-data/features/sm", output_prefix="s3://fraud-artifacts/models"
    )["sent"][0]
    assert sent["OutputDataConfig"]["S3OutputPath"] == "s3://fraud-artifacts/models/"
    assert {c["DataSource"]["S3DataSource"]["S3Uri"] for c in sent["InputDataConfig"]} == {
        "s3://fraud-data/features/sm/train/",
        "s3://fraud-data/features/sm/validation/",
    }


def test_written_request_is_what_train_sends_and_valid_for_botocore(driven):
    """The request the CLI writes without --submit comes from a private SDK method: it must equal
    what train() sends (job name aside), and pass botocore's CreateTrainingJob model."""
    (sent,) = driven["sent"]
    assert _without_name(driven["dry_run"]) == _without_name(sent)
    shape = get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    report = ParamValidator().validate(driven["dry_run"], shape)
    assert not report.has_errors(), report.generate_report()


def test_overrides_reach_the_request(sm_python, home):
    got = drive(
        sm_python,
        home,
        region="us-east-1",
        hp={"max_depth": 7, "num_round": 50},
        instance_count=2,
        instance_type="ml.m5.2xlarge",
    )
    (sent,) = got["sent"]
    assert sent["HyperParameters"]["max_depth"] == "7" and sent["HyperParameters"]["num_round"] == "50"
    assert (
        sent["ResourceConfig"]["InstanceCount"] == 2
        and sent["ResourceConfig"]["InstanceType"] == "ml.m5.2xlarge"
    )
    assert "VolumeKmsKeyId" not in sent["ResourceConfig"] and "KmsKeyId" not in sent["OutputDataConfig"]
    assert sent["AlgorithmSpecification"]["TrainingImage"].startswith(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
    )


@pytest.fixture(scope="module")
def features_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("features")
    synthetic.write_training_dir(d, synthetic.training_table(rows=3000, seed=3), files=2)
    return d


def test_cli_dry_run_writes_the_request_and_the_containers_csv_channels(
    sm_python, home, features_dir, tmp_path
):
    done = launcher(
        sm_python,
        home,
        "--features",
        str(features_dir),
        "--out",
        str(tmp_path),
        "--region",
        "eu-west-1",
        "--role",
        ROLE,
        "--s3",
        "s3://bucket-x/p",
        "--output-kms-key",
        OUTPUT_KEY,
    )
    assert done.returncode == 0, done.stderr
    request = json.loads((tmp_path / "create_training_job.json").read_text())
    assert request["AlgorithmSpecification"]["TrainingImage"] == EU_WEST_1_IMAGE
    assert request["OutputDataConfig"]["KmsKeyId"] == OUTPUT_KEY
    parts = splits.split(splits.read_table(splits.training_files(features_dir)))
    for name in ("train", "validation"):
        part = getattr(parts, name)
        rows = np.loadtxt(tmp_path / name / f"{name}.csv", delimiter=",", ndmin=2)
        assert rows.shape == (part.rows, 1 + len(MODEL_INPUT))
        np.testing.assert_array_equal(rows[:, 0], part.y)
        np.testing.assert_allclose(rows[:, 1:], part.x, rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--s3": "/local/path"}, "error: not an S3 URI"),
        ({"--role": "sagemaker"}, "error: not an IAM role ARN"),
        ({"--region": "mars-1"}, "error: no built-in XGBoost 1.7-1 image for region 'mars-1'"),
        ({"--instance-count": "0"}, "error: instance count and maximum runtime must be at least 1"),
        ({"--features": "/nonexistent"}, "error: /nonexistent/training: no such directory"),
    ],
)
def test_cli_bad_arguments_get_one_line_errors(sm_python, home, features_dir, tmp_path, change, message):
    args = {
        "--features": str(features_dir),
        "--out": str(tmp_path),
        "--region": "eu-west-1",
        "--role": ROLE,
        "--s3": "s3://bucket-x/p",
        **change,
    }
    done = launcher(sm_python, home, *[x for kv in args.items() for x in kv])
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "create_training_job.json").exists()


def test_cli_submit_with_a_role_lacking_permissions_is_a_one_line_error(
    sm_python, home, features_dir, tmp_path
):
    """GIVEN a role IAM's simulation denies WHEN the CLI submits THEN the SDK's role check stops it before
    any upload or CreateTrainingJob, with one error line and exit 2."""
    done = subprocess.run(
        [
            str(sm_python),
            "-c",
            DENIED_DRIVER,
            "--features",
            str(features_dir),
            "--out",
            str(tmp_path),
            "--region",
            "eu-west-1",
            "--role",
            ROLE,
            "--s3",
            "s3://bucket-x/p",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=offline_env(home),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["code"] == 2 and got["network_attempts"] == []
    assert got["calls"] == [["iam", "SimulatePrincipalPolicy"]], (
        "nothing is uploaded for a role that cannot train"
    )
    assert done.stderr.startswith("error: IAM role") and ROLE in done.stderr and done.stderr.count("\n") == 1
