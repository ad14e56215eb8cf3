"""python -m packager.lambdas build: the Lambda zips.

`build` writes build/lambda/<name>.zip for each function, byte-for-byte reproducible (Terraform
redeploys only when the hash changes). A zip holds, at its root: the files of functions/<name>/
(so `app.py` and the handler `app.lambda_handler`), the shared packages functions/__init__.py,
functions/common/, clients/ and features/ under their repository paths (handlers import them the
same way in the repo and in Lambda), and the third-party packages of functions/<name>/requirements.txt
installed for the Lambda platform from that lock with hashes (boto3 comes with the runtime).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from packager.wheels import InstallError, install_locked
from tools.cli import OneLineErrors
from tools.zips import tree_entries, write_zip

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("ingest", "score")
# Third-party wheels for the Lambda runtime (python3.11, x86_64), whatever machine builds the zip.
PIP_PLATFORM = ("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11")
# What the handlers import beside their own files.
SHARED_PACKAGES = ("features", "clients", "functions/common")
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
    try:
        installed = install_locked(requirements, target, PIP_PLATFORM)  # a lock compiled for it (`make lock`)
    except InstallError as err:
        raise PackagingError(f"cannot install {requirements.relative_to(ROOT)}: {err}") from None
    return {n: p for n, p in installed.items() if not any(x in "/" + n for x in EXCLUDE)}


def function_entries(name: str, root: Path = ROOT, deps_dir: Path | None = None) -> dict[str, Path]:
    """Archive name -> file for one function's zip."""
    source = root / "functions" / name
    if not source.is_dir():
        raise PackagingError(f"functions/{name}/ does not exist")
    entries: dict[str, Path] = {}
    requirements = source / "requirements.txt"
    if requirements.is_file() and deps_dir is not None:
        entries.update(_dependencies(requirements, deps_dir))
    for package in SHARED_PACKAGES:
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


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(prog="python -m packager.lambdas", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build build/lambda/<name>.zip for each function")
    b.add_argument(
        "--out-dir", type=Path, default=ROOT / "build" / "lambda", help="output folder (default: %(default)s)"
    )
    b.add_argument("names", nargs="*", default=list(FUNCTIONS), help="functions to package (default: all)")
    args = parser.parse_args(argv)
    try:
        for path in build(tuple(args.names), args.out_dir):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    except PackagingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
