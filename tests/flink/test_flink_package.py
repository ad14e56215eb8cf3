"""build/flink-app.zip: complete or none. The connector jar is checked on every path, the zip is
reproducible with the service layout, and deploy's `verify` refuses an incomplete or stand-in zip.

Tests never skip the check: they hand the packager a small stand-in jar (a zip registering the
Kinesis table factory, as the real jar does) through the same checked paths a user's jar takes:
$FLINK_CONNECTOR_SHA256 (an explicit stand-in), a local Maven repository with a published .sha1
beside the jar, and a Maven repository served on 127.0.0.1 with its .sha1.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from packager import flink_app
from tools.zips import write_zip

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9/maven2"  # nothing listens on the discard port


def stand_in_jar(path: Path, factory: str = flink_app.KINESIS_FACTORY) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr(flink_app.FACTORY_SERVICE, f"# stand-in for tests\n{factory}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def sha(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty home directory: no ~/.m2 of the machine running the tests leaks in."""
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    return tmp_path / "home"


@pytest.fixture
def stand_in_env(tmp_path) -> dict[str, str]:
    jar = stand_in_jar(tmp_path / "stand-in.jar")
    return {flink_app.JAR_ENV: str(jar), flink_app.STAND_IN_ENV: sha(jar, "sha256")}


def build(tmp_path: Path, name: str, environ: dict[str, str], repository: str = UNREACHABLE) -> Path:
    jar = flink_app.resolve_jar(tmp_path / "cache", environ, repository=repository, timeout=2)
    return write_zip(flink_app.entries(jar), tmp_path / name)


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "packager.flink_app", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), **env},
        timeout=60,
    )


def test_without_any_way_to_the_jar_no_zip_is_built_and_one_line_says_how(tmp_path):
    out = tmp_path / "flink-app.zip"
    out.write_bytes(b"a zip from an earlier build")  # must not survive a failed build
    done = run_cli("--out", str(out), "--repository", UNREACHABLE, env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: flink-app: Kinesis connector jar {flink_app.COORDINATES}: download of")
    for way in (flink_app.JAR_ENV, "~/.m2", "mvn dependency:get", flink_app.MAVEN_CENTRAL):
        assert way in line
    assert not out.exists()


def test_a_stand_in_goes_through_the_check_and_is_recorded_as_such(tmp_path, home, stand_in_env):
    out = build(tmp_path, "app.zip", stand_in_env)
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
        flink_app.JARFILE,
    } <= names
    assert manifest["connector_jar"]["stand_in"] is True
    assert flink_app.STAND_IN_ENV in manifest["connector_jar"]["checked_against"]
    assert manifest["kinesis.analytics.flink.run.options"] == {
        "python": "jobs/flink/app.py",
        "jarfile": "lib/flink-sql-connector-kinesis.jar",
    }
    with pytest.raises(flink_app.IncompleteZip, match="stand-in"):
        flink_app.verify(out)  # what deploy runs: a stand-in never reaches the service
    assert flink_app.verify(out, allow_stand_in=True)["connector_jar"]["stand_in"] is True


def test_a_wrong_stand_in_checksum_is_refused(tmp_path, home, stand_in_env):
    wrong = {**stand_in_env, flink_app.STAND_IN_ENV: "0" * 64}
    with pytest.raises(flink_app.JarError, match=f"does not match \\${flink_app.STAND_IN_ENV}"):
        build(tmp_path, "app.zip", wrong)


def test_a_jar_that_is_not_the_kinesis_connector_is_refused(tmp_path, home):
    jar = stand_in_jar(tmp_path / "other.jar", factory="org.example.SomeOtherFactory")
    environ = {flink_app.JAR_ENV: str(jar), flink_app.STAND_IN_ENV: sha(jar, "sha256")}
    with pytest.raises(flink_app.JarError, match="not the Kinesis SQL connector"):
        build(tmp_path, "app.zip", environ)


def test_a_local_maven_jar_is_checked_against_the_published_sha1_beside_it(tmp_path, home):
    jar = stand_in_jar(home / ".m2" / "repository" / flink_app.maven_path())
    with pytest.raises(flink_app.JarError, match="no published SHA-1"):
        build(tmp_path, "app.zip", {})
    sidecar = jar.with_name(jar.name + ".sha1")
    sidecar.write_text("f" * 40 + "\n")
    with pytest.raises(flink_app.JarError, match="does not match the published SHA-1"):
        build(tmp_path, "app.zip", {})
    sidecar.write_text(sha(jar, "sha1") + "  " + jar.name + "\n")  # the format some tools write
    out = build(tmp_path, "app.zip", {})
    manifest = flink_app.verify(out)  # a jar checked against its published SHA-1 is deployable
    assert manifest["connector_jar"] == {
        "coordinates": flink_app.COORDINATES,
        "included": True,
        "sha256": sha(jar, "sha256"),
        "checked_against": "published SHA-1",
        "stand_in": False,
    }


def test_a_given_jar_needs_its_published_sha1(tmp_path, home):
    jar = stand_in_jar(tmp_path / "connector.jar")
    with pytest.raises(flink_app.JarError, match=f"set {flink_app.SHA1_ENV}"):
        build(tmp_path, "app.zip", {flink_app.JAR_ENV: str(jar)})
    out = build(tmp_path, "app.zip", {flink_app.JAR_ENV: str(jar), flink_app.SHA1_ENV: sha(jar, "sha1")})
    assert flink_app.verify(out)["connector_jar"]["stand_in"] is False


@pytest.fixture
def maven_repository(tmp_path):
    """A Maven repository layout served on 127.0.0.1 (the download path, without Maven Central)."""
    root = tmp_path / "served"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_a_download_is_checked_against_its_published_sha1_before_it_is_cached(
    tmp_path, home, maven_repository
):
    root, url = maven_repository
    jar = stand_in_jar(root / flink_app.maven_path())
    sidecar = jar.with_name(jar.name + ".sha1")
    sidecar.write_text("0" * 40)
    with pytest.raises(flink_app.JarError, match="does not match the SHA-1 published beside the download"):
        build(tmp_path, "app.zip", {}, repository=url)
    assert not (tmp_path / "cache" / flink_app.maven_path()).exists()
    sidecar.write_text(sha(jar, "sha1"))
    out = build(tmp_path, "app.zip", {}, repository=url)
    assert flink_app.verify(out)["connector_jar"]["sha256"] == sha(jar, "sha256")
    cached = tmp_path / "cache" / flink_app.maven_path()
    assert cached.read_bytes() == jar.read_bytes()
    # The cached copy is checked again on the next build, against the published SHA-1 kept beside it.
    assert build(tmp_path, "again.zip", {}).read_bytes() == out.read_bytes()


def test_verify_refuses_a_zip_without_the_jar_or_with_another_jar(tmp_path, home, stand_in_env):
    complete = build(tmp_path, "app.zip", stand_in_env)
    with zipfile.ZipFile(complete) as archive:
        contents = {n: archive.read(n) for n in archive.namelist()}
    without = write_zip(
        {n: d for n, d in contents.items() if n != flink_app.JARFILE}, tmp_path / "no-jar.zip"
    )
    with pytest.raises(flink_app.IncompleteZip, match=f"lacks {flink_app.JARFILE}"):
        flink_app.verify(without, allow_stand_in=True)
    other = stand_in_jar(tmp_path / "other.jar", factory="org.example.Other").read_bytes()
    swapped = write_zip({**contents, flink_app.JARFILE: other}, tmp_path / "swapped.zip")
    with pytest.raises(flink_app.IncompleteZip, match=r"is not the .* jar its MANIFEST\.json records"):
        flink_app.verify(swapped, allow_stand_in=True)
    done = run_cli("verify", str(without), env={}, cwd=tmp_path)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    done = run_cli("verify", str(complete), "--allow-stand-in", env={}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_zip_is_byte_for_byte_reproducible_and_carries_the_given_jar(tmp_path, home, stand_in_env):
    first = build(tmp_path, "a.zip", stand_in_env)
    second = build(tmp_path, "b.zip", stand_in_env)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.read(flink_app.JARFILE) == Path(stand_in_env[flink_app.JAR_ENV]).read_bytes()


def test_the_app_starts_from_the_unpacked_zip_and_reports_bad_properties(tmp_path, home, stand_in_env):
    with zipfile.ZipFile(build(tmp_path, "app.zip", stand_in_env)) as archive:
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
