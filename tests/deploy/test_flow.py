"""The deploy flow without any cloud: a fake terraform on PATH records what the flow runs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import hcl2
import pyarrow.parquet as pq
import pytest

from deploy.artifacts import Paths, artifact_variables, check_flink_zip
from deploy.load import HistorySpec, current_history
from deploy.terraform import DEPLOYMENT_KEYS, FlowError, Terraform, check_deployment, declared_variables
from packager import flink_app

ROOT = Path(__file__).resolve().parents[2]
AWS, LOCAL = ROOT / "terraform" / "envs" / "aws", ROOT / "terraform" / "envs" / "local"

# Records every call; answers `output -json deployment` from $FAKE_DEPLOYMENT (a JSON file) when it exists.
FAKE_TERRAFORM = """#!/bin/sh
echo "$*" >> "$FAKE_TF_LOG"
case "$*" in
  *"output -no-color -json deployment"*) [ -f "$FAKE_DEPLOYMENT" ] && cat "$FAKE_DEPLOYMENT" && exit 0; echo 'Output "deployment" not found' >&2; exit 1;;
esac
exit 0
"""


def flink_zip(path: Path, included: bool) -> Path:
    """A zip from packager.flink_app with a checked stand-in jar, or one that lacks the jar."""
    if not included:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("MANIFEST.json", json.dumps({"connector_jar": {}}))
        return path
    jar = path.with_suffix(".jar")
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr(flink_app.FACTORY_SERVICE, f"{flink_app.KINESIS_FACTORY}\n")
    stand_in = {
        flink_app.JAR_ENV: str(jar),
        flink_app.STAND_IN_ENV: hashlib.sha256(jar.read_bytes()).hexdigest(),
    }
    flink_app.build(path, environ=stand_in)
    return path


@pytest.fixture
def fake_terraform(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "terraform"
    script.write_text(FAKE_TERRAFORM)
    script.chmod(0o755)
    log = tmp_path / "terraform-calls.log"
    deployment = tmp_path / "deployment.json"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_TF_LOG": str(log),
        "FAKE_DEPLOYMENT": str(deployment),
    }
    return env, log, deployment


def run_flow(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deploy", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def artifacts(tmp_path: Path, included: bool = True) -> list[str]:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"model")
    batch_job = tmp_path / "batch-job.zip"
    batch_job.write_bytes(b"job")
    return [
        "--model",
        str(model),
        "--batch-job-zip",
        str(batch_job),
        "--flink-zip",
        str(flink_zip(tmp_path / "flink-app.zip", included)),
        "--allow-stand-in-jar",
    ]


def test_apply_is_one_untargeted_apply_with_the_artifacts_as_variables(fake_terraform, tmp_path):
    env, log, deployment = fake_terraform
    deployment.write_text(json.dumps({k: f"v-{k}" for k in DEPLOYMENT_KEYS}))
    done = run_flow(env, "apply", "--root", str(LOCAL), "--var", "name_prefix=t-flow", *artifacts(tmp_path))
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    applies = [c for c in calls if c.split()[1] == "apply"]
    assert len(applies) == 1 and "-target" not in log.read_text()
    assert f"-var=model_path={tmp_path / 'model.tar.gz'}" in applies[0]
    assert f"-var=flink_zip_path={tmp_path / 'flink-app.zip'}" in applies[0]
    assert "-var=name_prefix=t-flow" in applies[0]
    assert "ingest_zip_path" not in applies[0]  # envs/local declares no Lambda zips
    assert calls[-1].endswith("output -no-color -json deployment")  # read after the apply


def test_a_missing_deployment_output_fails_the_apply_step(fake_terraform, tmp_path):
    """What a targeted apply did to the old deploy (issue 14, item 1): the flow must stop, not go on."""
    env, _, _ = fake_terraform
    done = run_flow(env, "apply", "--root", str(LOCAL), *artifacts(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "deployment" in done.stderr and done.stderr.count("\n") == 1


def test_deploy_refuses_a_flink_zip_without_the_connector_jar(fake_terraform, tmp_path):
    env, log, _ = fake_terraform
    done = run_flow(env, "apply", "--root", str(LOCAL), *artifacts(tmp_path, included=False))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "lacks" in done.stderr and "make package-flink" in done.stderr
    assert not log.exists()  # nothing applied


def test_package_stops_when_the_jar_cannot_be_found(fake_terraform, tmp_path):
    """packager.flink_app's checked path with a jar that is not there: no zip goes to apply."""
    env, _, _ = fake_terraform
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"model")
    env = {**env, "FLINK_CONNECTOR_JAR": str(tmp_path / "missing.jar")}
    done = run_flow(
        env, "package", "--root", str(LOCAL), "--model", str(model), "--flink-zip", str(tmp_path / "f.zip")
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_destroy_builds_nothing_and_passes_the_existing_artifacts(fake_terraform, tmp_path):
    env, log, _ = fake_terraform
    done = run_flow(
        env,
        "destroy",
        "--root",
        str(LOCAL),
        "--model",
        str(tmp_path / "gone.tar.gz"),
        "--flink-zip",
        str(tmp_path / "gone.zip"),
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[1] for c in calls] == ["init", "destroy"]
    assert "-var=" not in calls[1]  # missing files are not passed: the root skips them


def test_a_bad_root_is_one_line(tmp_path):
    done = run_flow(dict(os.environ), "outputs", "--root", str(tmp_path))
    assert done.returncode == 1 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_roots_declare_the_artifact_variables_of_contract_b():
    assert {"model_path", "flink_zip_path", "batch_job_zip_path"} <= declared_variables(LOCAL)
    assert {"ingest_zip_path", "score_zip_path"} <= declared_variables(AWS)


def test_envs_local_deployment_output_has_the_contract_a_keys():
    with open(LOCAL / "outputs.tf") as f:
        outputs = {k.strip('"'): v for block in hcl2.load(f)["output"] for k, v in block.items()}
    value = {k.strip('"'): v for k, v in outputs["deployment"]["value"].items()}
    assert sorted(value) == sorted(DEPLOYMENT_KEYS)
    assert value["endpoint_name"].strip('"') == ""


def test_check_deployment():
    full = {k: "x" for k in DEPLOYMENT_KEYS} | {"endpoint_name": None}
    assert check_deployment(full, "r")["endpoint_name"] == ""
    with pytest.raises(FlowError, match="lacks late_stream"):
        check_deployment({k: "x" for k in DEPLOYMENT_KEYS if k != "late_stream"}, "r")


def test_unknown_variable_is_refused_before_terraform_runs(tmp_path):
    with pytest.raises(FlowError, match="declares no variable nope"):
        Terraform(LOCAL, variables={"nope": "1"}, binary=str(tmp_path / "never-run")).apply()


def test_check_flink_zip(tmp_path):
    check_flink_zip(flink_zip(tmp_path / "ok.zip", True), allow_stand_in=True)
    with pytest.raises(FlowError, match="stand-in connector jar"):
        check_flink_zip(tmp_path / "ok.zip")  # a real deploy never takes a stand-in
    with pytest.raises(FlowError, match="lacks"):
        check_flink_zip(flink_zip(tmp_path / "bad.zip", False))
    with pytest.raises(FlowError, match="not found"):
        check_flink_zip(tmp_path / "none.zip")


def test_artifact_variables_need_the_required_files_only(tmp_path):
    paths = Paths(
        model=tmp_path / "m.tar.gz",
        flink_zip=flink_zip(tmp_path / "f.zip", True),
        batch_job_zip=tmp_path / "job.zip",
        allow_stand_in_jar=True,
    )
    with pytest.raises(FlowError, match=r"m\.tar\.gz not found"):
        artifact_variables(LOCAL, paths)
    paths.model.write_bytes(b"m")
    with pytest.raises(FlowError, match=r"job\.zip not found"):
        artifact_variables(LOCAL, paths)
    paths.batch_job_zip.write_bytes(b"j")
    got = artifact_variables(LOCAL, paths)
    assert set(got) == {
        "model_path",
        "flink_zip_path",
        "batch_job_zip_path",
    }  # envs/local takes no Lambda zips


def test_make_targets_are_thin_and_untargeted():
    deploy_mk = (ROOT / "mk" / "deploy.mk").read_text()
    for target in ("deploy", "load-features", "smoke", "destroy"):
        assert re.search(rf"^{target}: .*## \S", deploy_mk, re.MULTILINE), target
    for mk in (ROOT / "mk").glob("*.mk"):
        assert "-target" not in mk.read_text(), mk
    assert not re.search(r"^(deploy|destroy):", (ROOT / "mk" / "terraform.mk").read_text(), re.MULTILINE)


def test_the_current_history_snapshots_are_at_todays_utc_midnight(tmp_path):
    """Loaded snapshots stay online for the TTL only if their event time is current, never in the future."""
    now = datetime.now(UTC)
    layout = current_history(tmp_path, HistorySpec(cards=40, transactions=1200, days=9), now, lambda _: None)
    times = set(pq.read_table(layout.features / "online").column("trans_time").to_pylist())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    assert times == {midnight}


class FakeSQS:
    """Hands out the same messages again on every call, as SQS does once their visibility lapses."""

    def __init__(self, bodies: list[str]) -> None:
        self.messages = [{"MessageId": str(i), "Body": b} for i, b in enumerate(bodies)]

    def receive_message(self, **_):
        return {"Messages": self.messages[:10]}


def test_read_queue_reads_each_message_once():
    from deploy.smoke import read_queue

    got = read_queue(FakeSQS(['{"reason": "unknown_card"}', "not json"]), "url")
    assert got == [{"reason": "unknown_card"}, {"body": "not json"}]


def test_the_stand_ins_read_only_the_deployment_output():
    from deploy.smoke import profile_outputs
    from profiles.localstack import LocalStackProfile

    deployment = {k: f"p-{k}" for k in DEPLOYMENT_KEYS} | {
        "transactions_stream": "p-transactions",
        "name_prefix": "p",
    }
    profile = LocalStackProfile.from_terraform(
        profile_outputs(deployment, "http://127.0.0.1:4566"), "fs", "ep"
    )
    assert profile.name_prefix == "p"
    assert profile.streams["predictions"] == "p-predictions_stream"
    assert profile.dead_letter_queue_url == "p-dead_letter_queue_url"
