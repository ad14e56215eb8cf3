"""python -m packager.flink_app: build (or verify) build/flink-app.zip for Managed Service for Apache Flink.

The zip holds, at its root, what the service runs (property group
`kinesis.analytics.flink.run.options`: python = jobs/flink/app.py, jarfile = the connector jar):
  jobs/__init__.py, jobs/flink/__init__.py, jobs/flink/app.py   the PyFlink app
  features/**.py                                               the definition and the SQL renderer
  lib/flink-sql-connector-kinesis.jar                          the Kinesis table connector
  MANIFEST.json                                                what is inside, and how the jar was checked
The app needs no third-party Python package beyond PyFlink, which the runtime provides.

Complete or nothing: without the connector jar the app cannot read or write Kinesis on the
service, so no zip is written without it. The jar is resolved by its Maven coordinates:
$FLINK_CONNECTOR_JAR (a file), else the local Maven repository (~/.m2, e.g. after
`mvn dependency:get`), else the build cache, else a download from Maven Central. Whatever the
source, the jar is checked before it goes in:
  - against its published SHA-1: PUBLISHED_SHA1 below when pinned, else the `.sha1` Maven Central
    publishes (fetched with a download, or the `<jar>.sha1` beside a local jar), else
    $FLINK_CONNECTOR_SHA1 (the published value, copied by hand);
  - or, for tests and rehearsals only, against $FLINK_CONNECTOR_SHA256: an explicit stand-in. The
    check still runs (a wrong jar is refused) but MANIFEST.json records the jar as a stand-in and
    `verify` (what deploy runs) refuses such a zip unless told --allow-stand-in.
and it must hold the Kinesis table factory (a jar that is not the connector is refused).

    python -m packager.flink_app                      # build build/flink-app.zip
    python -m packager.flink_app verify build/flink-app.zip   # deploy's check of an existing zip
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tools.cli import OneLineErrors
from tools.zips import tree_entries, write_zip

ROOT = Path(__file__).resolve().parent.parent
GROUP, ARTIFACT, VERSION = "org.apache.flink", "flink-sql-connector-kinesis", "5.0.0-1.20"
COORDINATES = f"{GROUP}:{ARTIFACT}:{VERSION}"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
# The SHA-1 Maven Central publishes for the jar (<jar URL>.sha1). Not pinned yet: this code was
# written without access to Maven Central, and a guessed value would be worse than none. Until it
# is set, the published .sha1 itself (downloaded, or beside a local jar) or $FLINK_CONNECTOR_SHA1
# is the reference; once set, it is the only one.
PUBLISHED_SHA1: str | None = None
PYTHON_MAIN = "jobs/flink/app.py"
JARFILE = "lib/flink-sql-connector-kinesis.jar"
JAR_ENV = "FLINK_CONNECTOR_JAR"
SHA1_ENV = "FLINK_CONNECTOR_SHA1"
STAND_IN_ENV = "FLINK_CONNECTOR_SHA256"
APP_FILES = ("jobs/__init__.py", "jobs/flink/__init__.py", PYTHON_MAIN)
# What makes the jar the Kinesis SQL connector: Flink finds table factories through this service file.
FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.Factory"
KINESIS_FACTORY = "org.apache.flink.connector.kinesis.table.KinesisDynamicTableFactory"
HOW_TO_PROVIDE = (
    f"provide it with {JAR_ENV}=<path to {ARTIFACT}-{VERSION}.jar> (and {SHA1_ENV}=<its published SHA-1>), "
    f"or `mvn dependency:get -Dartifact={COORDINATES}` into ~/.m2, or network access to {MAVEN_CENTRAL}"
)


class JarError(Exception):
    """The connector jar cannot be had or fails its check; the message is one line."""


class IncompleteZip(Exception):
    """An application zip deploy must not use; the message is one line."""


@dataclass(frozen=True)
class Jar:
    path: Path
    origin: str  # where it came from
    checked_against: str  # which reference its checksum matched
    stand_in: bool = False


def maven_path() -> str:
    name = f"{ARTIFACT}-{VERSION}.jar"
    return f"{GROUP.replace('.', '/')}/{ARTIFACT}/{VERSION}/{name}"


def _digest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def _sidecar_sha1(path: Path) -> str | None:
    sidecar = path.with_name(path.name + ".sha1")
    return sidecar.read_text().split()[0].strip().lower() if sidecar.is_file() else None


def check_factory(data: bytes, name: str) -> None:
    """Refuse a jar that does not register the Kinesis table factory (not the SQL connector)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as jar:
            services = jar.read(FACTORY_SERVICE).decode()
    except (zipfile.BadZipFile, KeyError) as err:
        raise JarError(f"{name} is not the Kinesis SQL connector: no {FACTORY_SERVICE} ({err})") from err
    if KINESIS_FACTORY not in services.split():
        raise JarError(f"{name} is not the Kinesis SQL connector: {FACTORY_SERVICE} lacks {KINESIS_FACTORY}")


def check_jar(path: Path, origin: str, environ: dict[str, str], published: str | None = None) -> Jar:
    """The jar at `path` if its checksum matches a reference (see the module docstring), else JarError."""
    data = path.read_bytes()
    stand_in = environ.get(STAND_IN_ENV, "").strip().lower()
    if stand_in:
        if _digest(data, "sha256") != stand_in:
            raise JarError(f"{path} ({origin}) does not match ${STAND_IN_ENV}")
        check_factory(data, str(path))
        return Jar(path, origin, f"${STAND_IN_ENV} (a stand-in, not the published jar)", stand_in=True)
    references = (
        (PUBLISHED_SHA1, "the SHA-1 pinned in packager/flink_app.py"),
        (published, "the SHA-1 published beside the download"),
        (_sidecar_sha1(path), f"the published SHA-1 in {path.name}.sha1"),
        (environ.get(SHA1_ENV, "").strip().lower() or None, f"${SHA1_ENV}"),
    )
    expected, reference = next(((v, r) for v, r in references if v), (None, None))
    if expected is None:
        raise JarError(
            f"{path} ({origin}) has no published SHA-1 to check against: put {path.name}.sha1 beside it "
            f"or set {SHA1_ENV}"
        )
    if _digest(data, "sha1") != expected:
        raise JarError(f"{path} ({origin}) does not match {reference}")
    check_factory(data, str(path))
    return Jar(path, origin, "published SHA-1" if PUBLISHED_SHA1 is None else "pinned published SHA-1")


def resolve_jar(
    cache: Path, environ: dict[str, str], repository: str = MAVEN_CENTRAL, timeout: float = 20
) -> Jar:
    """The checked connector jar from $FLINK_CONNECTOR_JAR, ~/.m2, the build cache or Maven Central."""
    if environ.get(JAR_ENV):
        path = Path(environ[JAR_ENV])
        if not path.is_file():
            raise JarError(f"${JAR_ENV}={path} is not a file")
        return check_jar(path, f"${JAR_ENV}", environ)
    for candidate, origin in (
        (Path.home() / ".m2" / "repository" / maven_path(), "local Maven repository"),
        (cache / maven_path(), "build cache"),
    ):
        if candidate.is_file():
            return check_jar(candidate, origin, environ)
    url = f"{repository}/{maven_path()}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
        with urllib.request.urlopen(url + ".sha1", timeout=timeout) as response:
            published = response.read().decode().split()[0].strip().lower()
    except (OSError, ValueError) as err:  # URLError, timeouts and HTTP errors are OSErrors
        raise JarError(f"download of {url} failed: {getattr(err, 'reason', err)}") from err
    target = cache / maven_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    jar = check_jar(tmp, url, environ, published)  # refused jars never reach the cache
    tmp.replace(target)
    target.with_name(target.name + ".sha1").write_text(published + "\n")
    return Jar(target, jar.origin, jar.checked_against, jar.stand_in)


def manifest(jar: Jar) -> bytes:
    body = {
        "runtime": "FLINK-1_20",
        "kinesis.analytics.flink.run.options": {"python": PYTHON_MAIN, "jarfile": JARFILE},
        "connector_jar": {
            "coordinates": COORDINATES,
            "included": True,
            "sha256": _digest(jar.path.read_bytes(), "sha256"),
            # Where it came from is left out: a path would make the zip differ between machines.
            "checked_against": jar.checked_against,
            "stand_in": jar.stand_in,
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
    files[JARFILE] = jar.path
    files["MANIFEST.json"] = manifest(jar)
    return files


def build(
    out: Path, environ: dict[str, str] | None = None, repository: str = MAVEN_CENTRAL
) -> tuple[Path, Jar]:
    """Write the zip, or raise JarError when the connector jar cannot be had. A zip left at `out`
    by an earlier build is removed first: after a failed build there is no zip to deploy."""
    out.unlink(missing_ok=True)
    jar = resolve_jar(ROOT / "build" / "maven", dict(os.environ if environ is None else environ), repository)
    return write_zip(entries(jar), out), jar


def verify(zip_path: Path, allow_stand_in: bool = False) -> dict:
    """The MANIFEST of a complete application zip, or IncompleteZip: what deploy checks before uploading."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = set(archive.namelist())
            body = json.loads(archive.read("MANIFEST.json"))
            missing = [n for n in (*APP_FILES, JARFILE) if n not in names]
            if missing:
                raise IncompleteZip(
                    f"{zip_path} lacks {', '.join(missing)}: rebuild it with `make package-flink`"
                )
            jar = archive.read(JARFILE)
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise IncompleteZip(f"{zip_path} is not an application zip with a MANIFEST.json: {err}") from err
    recorded = body.get("connector_jar") or {}
    if recorded.get("coordinates") != COORDINATES or recorded.get("sha256") != _digest(jar, "sha256"):
        raise IncompleteZip(f"{zip_path}: {JARFILE} is not the {COORDINATES} jar its MANIFEST.json records")
    try:
        check_factory(jar, f"{zip_path}:{JARFILE}")
    except JarError as err:
        raise IncompleteZip(str(err)) from err
    if recorded.get("stand_in") is not False and not allow_stand_in:
        raise IncompleteZip(
            f"{zip_path} carries a stand-in connector jar (checked against ${STAND_IN_ENV}), not the published "
            f"one: rebuild it without {STAND_IN_ENV}"
        )
    return body


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m packager.flink_app",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    check = commands.add_parser("verify", help="check an existing zip is complete (what deploy runs)")
    check.add_argument("zip", type=Path)
    check.add_argument("--allow-stand-in", action="store_true", help="accept a stand-in jar (rehearsals)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "flink-app.zip", help="zip to write")
    parser.add_argument("--repository", default=MAVEN_CENTRAL, help="Maven repository to download from")
    args = parser.parse_args(argv)
    try:
        if args.command == "verify":
            body = verify(args.zip, args.allow_stand_in)
            print(f"{args.zip}: complete ({body['connector_jar']['checked_against']})")
            return 0
        out, jar = build(args.out, repository=args.repository)
    except JarError as err:
        print(
            f"error: flink-app: Kinesis connector jar {COORDINATES}: {err}; {HOW_TO_PROVIDE}", file=sys.stderr
        )
        return 1
    except IncompleteZip as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out} (connector jar checked against {jar.checked_against})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
