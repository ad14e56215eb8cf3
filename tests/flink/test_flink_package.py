"""build/flink-app.zip: reproducible, service layout, and built even when the jar cannot be fetched."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from packager import flink_app
from packager.zips import write_zip

UNREACHABLE = "http://127.0.0.1:9/maven2"  # nothing listens on the discard port


@pytest.fixture
def no_local_maven(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")


def build(tmp_path: Path, name: str, environ: dict[str, str]) -> Path:
    jar = flink_app.resolve_jar(tmp_path / "cache", environ, repository=UNREACHABLE, timeout=2)
    return write_zip(flink_app.entries(jar), tmp_path / name)


def test_without_the_jar_the_zip_still_builds_and_says_so(tmp_path, no_local_maven):
    out = build(tmp_path, "app.zip", {})
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("MANIFEST.json"))
    assert {
        "jobs/__init__.py",
        "jobs/flink/__init__.py",
        "jobs/flink/app.py",
        "features/definition.py",
        "features/flink_sql.py",
        "features/records.py",
    } <= names
    assert flink_app.JARFILE not in names
    assert manifest["connector_jar"]["included"] is False
    assert "download of" in manifest["connector_jar"]["note"]
    assert manifest["kinesis.analytics.flink.run.options"] == {
        "python": "jobs/flink/app.py",
        "jarfile": "lib/flink-sql-connector-kinesis.jar",
    }


def test_the_zip_is_byte_for_byte_reproducible_and_carries_a_given_jar(tmp_path, no_local_maven):
    jar = tmp_path / "connector.jar"
    jar.write_bytes(b"PK\x05\x06" + bytes(18))
    first = build(tmp_path, "a.zip", {flink_app.JAR_ENV: str(jar)})
    second = build(tmp_path, "b.zip", {flink_app.JAR_ENV: str(jar)})
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.read(flink_app.JARFILE) == jar.read_bytes()
        assert json.loads(archive.read("MANIFEST.json"))["connector_jar"]["included"] is True


def test_the_app_starts_from_the_unpacked_zip_and_reports_bad_properties(tmp_path, no_local_maven):
    with zipfile.ZipFile(build(tmp_path, "app.zip", {})) as archive:
        archive.extractall(tmp_path / "unpacked")
    props = tmp_path / "props.json"
    props.write_text(json.dumps([{"PropertyGroupId": "FlinkApplicationProperties", "PropertyMap": {}}]))
    done = subprocess.run(
        [sys.executable, "jobs/flink/app.py"],
        cwd=tmp_path / "unpacked",
        capture_output=True,
        text=True,
        env={"FLINK_APP_PROPERTIES": str(props)},
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: property group FlinkApplicationProperties lacks: input.stream.arn, "
        "output.stream.arn, late.stream.arn, aws.region\n"
    )
