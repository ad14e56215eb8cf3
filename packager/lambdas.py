"""python -m packager.lambdas: build the Lambda zips; upload deploy artifacts to S3.

`build` writes build/lambda/<name>.zip for each function, byte-for-byte reproducible (Terraform
redeploys only when the hash changes). A zip holds, at its root: the files of functions/<name>/
(so `app.py` and the handler `app.lambda_handler`), the shared packages functions/__init__.py,
functions/common/ and features/ under their repository paths (handlers import them the same way
in the repo and in Lambda), and the third-party packages of functions/<name>/requirements.txt
installed for the Lambda platform from that lock with hashes (boto3 comes with the runtime).

`upload` copies files to S3 with boto3 (used by `make deploy` for model.tar.gz and the Flink zip).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from packager.zips import tree_entries, write_zip

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("ingest", "score")
# Third-party wheels for the Lambda runtime (python3.11, x86_64), whatever machine builds the zip.
PIP_PLATFORM = ("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11")
EXCLUDE = ("__pycache__", ".pyc", "/tests/", "requirements.txt", "requirements.in")


class PackagingError(Exception):
    """A zip cannot be built; the message says why."""


def _entries(root: Path, prefix: str = "") -> dict[str, Path]:
    return {
        name: path
        for name, path in tree_entries(root, prefix).items()
        if not any(x in "/" + name for x in EXCLUDE)
    }


def _dependencies(requirements: Path, target: Path) -> dict[str, Path]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--require-hashes",  # requirements.txt is a lock compiled for PIP_PLATFORM (`make lock`)
        *PIP_PLATFORM,
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise PackagingError(f"cannot install {requirements.relative_to(ROOT)}: {last}")
    # pip's bookkeeping that names the installing machine or tool is not part of the code.
    return {
        n: p
        for n, p in _entries(target).items()
        if not n.endswith(("/INSTALLER", "/RECORD", "/direct_url.json"))
    }


def function_entries(name: str, root: Path = ROOT, deps_dir: Path | None = None) -> dict[str, Path]:
    """Archive name -> file for one function's zip."""
    source = root / "functions" / name
    if not source.is_dir():
        raise PackagingError(f"functions/{name}/ does not exist")
    entries: dict[str, Path] = {}
    requirements = source / "requirements.txt"
    if requirements.is_file() and deps_dir is not None:
        entries.update(_dependencies(requirements, deps_dir))
    for package in ("features", "functions/common"):
        if (root / package).is_dir():
            entries.update(_entries(root / package, f"{package}/"))
    if (root / "functions" / "__init__.py").is_file():
        entries["functions/__init__.py"] = root / "functions" / "__init__.py"
    entries.update(_entries(source))
    return entries


def build(
    names: tuple[str, ...] = FUNCTIONS,
    out_dir: Path = ROOT / "build" / "lambda",
    root: Path = ROOT,
    deps: bool = True,
) -> list[Path]:
    """Write out_dir/<name>.zip for each function; deps=False leaves out third-party packages."""
    written = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"lambda-{name}-") as tmp:
            entries = function_entries(name, root, Path(tmp) if deps else None)
            written.append(write_zip(entries, out_dir / f"{name}.zip"))
    return written


def upload(bucket: str, region: str, files: list[tuple[Path, str]]) -> None:
    import boto3  # only the deploy path needs it

    s3 = boto3.client("s3", region_name=region)
    for path, key in files:
        if not path.is_file():
            raise PackagingError(f"{path} does not exist (build it first)")
        s3.upload_file(str(path), bucket, key)
        print(f"uploaded {path} -> s3://{bucket}/{key}")


def _file_key(text: str) -> tuple[Path, str]:
    path, sep, key = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected PATH=KEY, got {text!r}")
    return Path(path), key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m packager.lambdas", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build build/lambda/<name>.zip for each function")
    b.add_argument(
        "--out-dir", type=Path, default=ROOT / "build" / "lambda", help="output folder (default: %(default)s)"
    )
    b.add_argument("names", nargs="*", default=list(FUNCTIONS), help="functions to package (default: all)")
    u = sub.add_parser("upload", help="upload PATH=KEY files to an S3 bucket")
    u.add_argument("--bucket", required=True, help="destination bucket")
    u.add_argument("--region", required=True, help="bucket region")
    u.add_argument("files", nargs="+", type=_file_key, help="PATH=KEY pairs")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for path in build(tuple(args.names), args.out_dir):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        else:
            upload(args.bucket, args.region, args.files)
    except PackagingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # boto3/botocore failures: one line, no traceback
        if args.command != "upload":
            raise
        print(f"error: upload failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
