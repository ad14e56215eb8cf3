"""python -m packager.flink_app: build build/flink-app.zip for Managed Service for Apache Flink.

The zip holds, at its root, what the service runs (property group
`kinesis.analytics.flink.run.options`: python = jobs/flink/app.py, jarfile = the connector jar):
  jobs/__init__.py, jobs/flink/__init__.py, jobs/flink/app.py   the PyFlink app
  features/**.py                                               the definition and the SQL renderer
  lib/flink-sql-connector-kinesis.jar                          the Kinesis table connector
  MANIFEST.json                                                what is inside and what is missing
The app needs no third-party Python package beyond PyFlink, which the runtime provides.

The connector jar is resolved by its Maven coordinates: $FLINK_CONNECTOR_JAR (a file), else the
local Maven repository (~/.m2, e.g. after `mvn dependency:get`), else a download from Maven
Central, checked against its published SHA-1 and cached under build/maven/. When none works the
zip is built without it, one line says so, and MANIFEST.json records it: the app then cannot
read or write Kinesis on the service, everything else builds and tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from packager.zips import tree_entries, write_zip

ROOT = Path(__file__).resolve().parent.parent
GROUP, ARTIFACT, VERSION = "org.apache.flink", "flink-sql-connector-kinesis", "5.0.0-1.20"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
PYTHON_MAIN = "jobs/flink/app.py"
JARFILE = "lib/flink-sql-connector-kinesis.jar"
JAR_ENV = "FLINK_CONNECTOR_JAR"
APP_FILES = ("jobs/__init__.py", "jobs/flink/__init__.py", PYTHON_MAIN)


@dataclass(frozen=True)
class Jar:
    path: Path | None
    note: str  # where it came from, or why it is missing


def maven_path() -> str:
    name = f"{ARTIFACT}-{VERSION}.jar"
    return f"{GROUP.replace('.', '/')}/{ARTIFACT}/{VERSION}/{name}"


def resolve_jar(
    cache: Path, environ: dict[str, str], repository: str = MAVEN_CENTRAL, timeout: float = 20
) -> Jar:
    """The connector jar from $FLINK_CONNECTOR_JAR, ~/.m2, the build cache or Maven Central."""
    if environ.get(JAR_ENV):
        path = Path(environ[JAR_ENV])
        return Jar(path, f"${JAR_ENV}") if path.is_file() else Jar(None, f"${JAR_ENV}={path} is not a file")
    for candidate, origin in (
        (Path.home() / ".m2" / "repository" / maven_path(), "local Maven repository"),
        (cache / maven_path(), "build cache"),
    ):
        if candidate.is_file():
            return Jar(candidate, origin)
    url = f"{repository}/{maven_path()}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
        with urllib.request.urlopen(url + ".sha1", timeout=timeout) as response:
            expected = response.read().decode().split()[0].strip()
    except (OSError, ValueError) as err:  # URLError, timeouts and HTTP errors are OSErrors
        return Jar(None, f"download of {url} failed: {getattr(err, 'reason', err)}")
    if hashlib.sha1(data).hexdigest() != expected:
        return Jar(None, f"download of {url} does not match its published SHA-1")
    target = cache / maven_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return Jar(target, url)


def manifest(jar: Jar) -> bytes:
    coordinates = f"{GROUP}:{ARTIFACT}:{VERSION}"
    body = {
        "runtime": "FLINK-1_20",
        "kinesis.analytics.flink.run.options": {"python": PYTHON_MAIN, "jarfile": JARFILE},
        "connector_jar": {
            "coordinates": coordinates,
            "included": jar.path is not None,
            "sha256": hashlib.sha256(jar.path.read_bytes()).hexdigest() if jar.path else None,
            # Only "missing" notes go in: a path would make the zip differ between machines.
            "note": None if jar.path else jar.note,
        },
        "python_dependencies": "none beyond PyFlink (provided by the runtime)",
    }
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def entries(jar: Jar) -> dict[str, Path | bytes]:
    files: dict[str, Path | bytes] = {name: ROOT / name for name in APP_FILES}
    files.update(
        {
            name: path
            for name, path in tree_entries(ROOT / "features", "features/").items()
            if name.endswith(".py")
        }
    )
    if jar.path:
        files[JARFILE] = jar.path
    files["MANIFEST.json"] = manifest(jar)
    return files


def build(
    out: Path, environ: dict[str, str] | None = None, repository: str = MAVEN_CENTRAL
) -> tuple[Path, Jar]:
    jar = resolve_jar(ROOT / "build" / "maven", dict(os.environ if environ is None else environ), repository)
    return write_zip(entries(jar), out), jar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m packager.flink_app",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "flink-app.zip", help="zip to write")
    args = parser.parse_args(argv)
    try:
        out, jar = build(args.out)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if jar.path is None:
        print(
            f"flink-app: Kinesis connector jar not included ({jar.note}); built the zip without it, see MANIFEST.json"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
