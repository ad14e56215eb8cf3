"""The deploy flow rehearsed on LocalStack: the same steps as on AWS, with --root terraform/envs/local.

`deploy`, as `make deploy` runs it: package (the model built because it is missing; the Flink zip
with a stand-in connector jar through $FLINK_CONNECTOR_JAR, packager.flink_app's checked path today)
-> apply (one apply; the artifacts uploaded by Terraform under content-addressed keys) -> load
(cc-agg-batch-fg on the local Feature Store speaking the runtime API) -> outputs. Then `smoke` (the
attack through the localstack profile's stand-ins over LocalStack's Kinesis and SQS; it must be
caught), the consistency job on the smoke's predictions (read back from the predictions stream)
against the batch features of the next refresh (the history in S3 plus the transactions stream
archived under transactions/ as Firehose lays it out), a changed model through `apply` again
(a new key), and `destroy` (nothing left). Each step
is `python -m deploy`, as the Make targets run it, so a flow defect (a targeted apply losing the
deployment output, a missing upload) fails here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from deploy.terraform import DEPLOYMENT_KEYS
from packager import flink_app
from profiles import localstack_server as localstack
from tests.integration.support import Terraform, leftovers

pytestmark = pytest.mark.integration

PREFIX = "it-flow"  # distinct from the other integration tests' (and the bench's) prefixes
ROOT = "terraform/envs/local"
STEP_TIMEOUT_S = 600
TRANSACTIONS_PREFIX = "transactions/"  # the transactions archive's prefix in terraform/envs/aws


class Flow:
    """`python -m deploy <step>` with this test's paths, state and LocalStack environment."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.tf = Terraform(work / "terraform", PREFIX)
        self.jar = work / "stand-in-connector.jar"
        self.model = work / "model" / "model.tar.gz"
        self.flink_zip = work / "flink-app.zip"
        self.batch_job_zip = work / "batch-job.zip"
        self.timings: dict[str, float] = {}

    def env(self) -> dict[str, str]:
        return {
            **self.tf.env,
            flink_app.JAR_ENV: str(self.jar),
            flink_app.STAND_IN_ENV: hashlib.sha256(self.jar.read_bytes()).hexdigest(),
        }

    def run(self, step: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = [
            sys.executable,
            "-m",
            "deploy",
            step,
            "--root",
            ROOT,
            "--var",
            f"name_prefix={PREFIX}",
            "--backend-config",
            f"path={self.work / 'terraform' / 'terraform.tfstate'}",
            "--work",
            str(self.work / "flow"),
            "--model",
            str(self.model),
            "--flink-zip",
            str(self.flink_zip),
            "--batch-job-zip",
            str(self.batch_job_zip),
            "--allow-stand-in-jar",
            "--data",
            str(self.work / "data"),
            "--model-cards",
            "200",
            "--model-transactions",
            "30000",  # ~1 a card and day over the 152 days of the model's history
            "--cards",
            "200",
            "--transactions",
            "6000",  # the same rate over the 28 days of the current history
            *extra,
        ]
        started = time.monotonic()
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=localstack.PROJECT,
            timeout=STEP_TIMEOUT_S,
        )
        self.timings[step] = self.timings.get(step, 0.0) + time.monotonic() - started
        if check and done.returncode != 0:
            raise AssertionError(
                f"deploy {step} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def deployment(self) -> dict[str, str]:
        return self.outputs()["deployment"]

    def outputs(self) -> dict:
        return {k: v["value"] for k, v in json.loads(self.tf.run("output", "-json")).items()}


def stream_records(kinesis, stream: str) -> list[dict]:
    """Every record of the stream, from the start of each shard (what the Firehose archive would hold)."""
    from profiles.steps import StreamTail

    return StreamTail(kinesis, stream).read()


def archive_transactions(kinesis, s3, deployment: dict[str, str]) -> int:
    """The transactions stream into the data bucket's transactions/ as the stream_archive module's
    Firehose delivers it (LocalStack's Firehose needs a Java 11 it downloads: local_aws.firehose
    writes the same objects). Returns the records archived."""
    from datetime import UTC, datetime

    from local_aws import firehose
    from profiles.steps import StreamTail

    records = StreamTail(kinesis, deployment["transactions_stream"]).read()
    firehose.deliver(
        (json.dumps(r).encode() for r in records),
        lambda key, body: s3.put_object(Bucket=deployment["data_bucket"], Key=key, Body=body),
        TRANSACTIONS_PREFIX,
        f"{PREFIX}-transactions-archive",
        datetime.now(UTC),
    )
    return len(records)


def download(s3, bucket: str, prefix: str, to: Path) -> Path:
    """Every object under `prefix`, at its key below `to` (what the refresh reads from S3)."""
    for key in object_keys(s3, bucket):
        if key.startswith(prefix):
            (to / key).parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(to / key))
    return to / prefix


def consistency_step(flow: Flow, boto, deployment: dict[str, str], served: int) -> dict:
    """The consistency job on the smoke's predictions, as the daily run does after the batch refresh."""
    from jobs.aggregate import run as aggregate

    work = flow.work / "consistency"
    work.mkdir()
    records = stream_records(boto("kinesis"), deployment["predictions_stream"])
    assert len({r["tid"] for r in records}) == served
    predictions = work / "predictions.ndjson"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in records))
    # The next daily refresh: the history in S3 plus the transactions archived since, unlabeled.
    s3, bucket = boto("s3"), deployment["data_bucket"]
    assert archive_transactions(boto("kinesis"), s3, deployment) >= served
    aggregate(
        "duckdb",
        str(download(s3, bucket, "history/", work / "bucket")),
        str(work / "features"),
        live=str(download(s3, bucket, TRANSACTIONS_PREFIX, work / "bucket")),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.consistency",
            "--predictions",
            str(predictions),
            "--features",
            str(work / "features"),
            "--model",
            str(flow.model),
            "--out",
            str(work / "report"),
            "--max-unexplained",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=localstack.PROJECT,
        timeout=STEP_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((work / "report" / "consistency.json").read_text())


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def object_keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def changed_model(path: Path) -> None:
    """The same booster in a new archive (another member added): new bytes, still a loadable model."""
    with tarfile.open(path) as old:
        members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as new:
        for member, data in members:
            new.addfile(member, io.BytesIO(data) if data is not None else None)
        note = b"retrained\n"
        info = tarfile.TarInfo("CHANGED")
        info.size = len(note)
        new.addfile(info, io.BytesIO(note))
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))


@pytest.fixture(scope="module")
def flow(localstack_endpoint, boto, tmp_path_factory):
    flow = Flow(tmp_path_factory.mktemp("deploy-flow"))
    with zipfile.ZipFile(flow.jar, "w") as jar:  # a stand-in for the connector jar, checked as one
        jar.writestr(flink_app.FACTORY_SERVICE, f"{flink_app.KINESIS_FACTORY}\n")
    assert leftovers(boto, PREFIX) == {"streams": [], "queues": [], "buckets": [], "log groups": []}, (
        "LocalStack holds resources of an earlier run of this test"
    )
    yield flow
    if not getattr(flow, "destroyed", False):  # a failed step: leave LocalStack clean anyway
        flow.run("destroy", check=False)
    print("deploy flow step times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in flow.timings.items()))


def test_the_whole_flow(flow, boto):
    started = time.monotonic()
    s3 = boto("s3")

    # deploy = package -> apply -> load -> outputs, as `make deploy ROOT=terraform/envs/local` runs it
    deployed = flow.run("deploy")
    # package: the missing model was built; the Flink zip carries the (stand-in) connector jar
    assert flow.model.is_file()
    with zipfile.ZipFile(flow.flink_zip) as z:
        assert json.loads(z.read("MANIFEST.json"))["connector_jar"]["included"] is True
    # apply: one apply, and the deployment output is there with every key
    outputs = flow.outputs()
    deployment = outputs["deployment"]
    assert sorted(deployment) == sorted(DEPLOYMENT_KEYS)
    assert deployment["transactions_stream"] == f"{PREFIX}-transactions"
    assert deployment["endpoint_name"] == ""
    # ... and the artifacts were uploaded by Terraform under content-addressed keys
    keys = outputs["artifact_keys"]
    bucket = deployment["artifacts_bucket"]
    for name, path in (
        ("model", flow.model),
        ("flink-app", flow.flink_zip),
        ("batch-job", flow.batch_job_zip),
    ):
        assert keys[name] == f"artifacts/{name}/{md5(path)}/{path.name}"
    assert {keys["model"], keys["flink-app"], keys["batch-job"]} <= object_keys(s3, bucket)
    # load: current snapshots into the batch feature group through the runtime API
    assert f"{deployment['batch_feature_group']}: " in deployed.stdout and " 0 failed" in deployed.stdout
    assert "history/generated.parquet" in object_keys(s3, deployment["data_bucket"])
    # outputs: the deployment and the next steps
    assert "make smoke ROOT=terraform/envs/local" in deployed.stdout

    # smoke: the attack is caught and every transaction predicted within the bound
    smoked = flow.run("smoke")
    summary = json.loads((flow.work / "flow" / "smoke" / "smoke-summary.json").read_text())
    assert summary["attack_caught"] is True, smoked.stdout[-3000:]
    assert summary["unscored"] == [] and summary["predictions"] >= summary["transactions_sent"]
    assert "smoke passed" in smoked.stdout
    assert f"{PREFIX}-engine-dead-letters" not in boto("kinesis").list_streams(Limit=1000)["StreamNames"]

    # consistency: the served feature vectors against the batch job's, every one equal or explained
    report = consistency_step(flow, boto, deployment, summary["predictions"])
    assert report["served"] == summary["predictions"] and report["unexplained_share"] == 0
    assert report["match_rate"] >= 0.99, report["reasons"]
    print(f"deploy flow consistency: match rate {report['match_rate']:.4f}, reasons {report['reasons']}")

    # a changed model: the second apply uploads it under a new key and removes the old object
    old_key = keys["model"]
    changed_model(flow.model)
    flow.run("apply")
    new_key = flow.outputs()["artifact_keys"]["model"]
    assert new_key != old_key and new_key == f"artifacts/model/{md5(flow.model)}/model.tar.gz"
    in_bucket = object_keys(s3, bucket)
    assert new_key in in_bucket and old_key not in in_bucket

    # destroy: nothing left
    flow.run("destroy")
    flow.destroyed = True
    assert leftovers(boto, PREFIX) == {"streams": [], "queues": [], "buckets": [], "log groups": []}
    print(f"deploy flow rehearsal: {time.monotonic() - started:.0f} s")
