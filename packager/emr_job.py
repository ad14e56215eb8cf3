"""python -m packager.emr_job: build the daily refresh's and the consistency run's code for EMR Serverless.

build/emr/batch-job.zip, the refresh's --py-files bundle, and build/emr/consistency-job.zip, the
consistency run's (jobs/consistency/emr_entry.py; skipped, saying so, while that entry point does
not exist):

A bundle holds exactly the project modules its entry point (jobs/batch/emr_entry.py) imports,
followed through every `import` and `from ... import` of the project's packages (module level or
inside functions), with their packages' __init__.py: nothing else, so that the files checked
against the EMR release's Python (tests/batch/test_emr_python.py) are the files that run there.
Byte-for-byte reproducible (tools.zips): Terraform uploads it under a content-addressed key.

build/emr/batch-deps.zip, the third-party packages of jobs/batch/emr-requirements.txt (boto3) for
the release's Python 3.9, pure-Python wheels only, passed with spark.archives (needs PyPI);
build/emr/consistency-deps.zip, the consistency run's jobs/consistency/emr-requirements.txt (boto3,
numpy, scipy, XGBoost, scikit-learn): CPython 3.9 binary wheels for x86_64 Linux, the architecture of
the consistency run's application (xgboost-cpu has no aarch64 wheel).
"""

from __future__ import annotations

import ast
import sys
import tempfile
from pathlib import Path

from packager.wheels import InstallError, install_locked
from tools.cli import OneLineErrors
from tools.zips import write_zip

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINT = Path("jobs/batch/emr_entry.py")
PACKAGES = ("features", "jobs", "tools")
OUT = ROOT / "build" / "emr" / "batch-job.zip"
# The daily consistency run (module batch_refresh's consistency_check): its own bundle, the same deps.
CONSISTENCY_ENTRY_POINT = Path("jobs/consistency/emr_entry.py")
CONSISTENCY_OUT = ROOT / "build" / "emr" / "consistency-job.zip"
REQUIREMENTS = ROOT / "jobs" / "batch" / "emr-requirements.txt"
DEPS_OUT = ROOT / "build" / "emr" / "batch-deps.zip"
CONSISTENCY_REQUIREMENTS = ROOT / "jobs" / "consistency" / "emr-requirements.txt"
CONSISTENCY_DEPS_OUT = ROOT / "build" / "emr" / "consistency-deps.zip"
# The EMR release's Python (emr-7.x: Amazon Linux 2023's python3), whatever machine builds the archive.
EMR_PYTHON = "3.9"
# Pure-Python wheels for EMR's interpreter, each pinned package alone (the lock lists them all).
EMR_PLATFORM = ("--no-deps", "--implementation", "py", "--platform", "any", "--python-version", EMR_PYTHON)
# CPython binary wheels (numpy, scipy, XGBoost) for the consistency run's X86_64 workers. pip takes the
# tags as given: glibc 2.28 (Amazon Linux 2023 has 2.34) and the older manylinux2014 (glibc 2.17).
EMR_BINARY_PLATFORM = (
    "--no-deps",
    "--implementation",
    "cp",
    *(arg for tag in ("manylinux_2_28_x86_64", "manylinux2014_x86_64") for arg in ("--platform", tag)),
    "--python-version",
    EMR_PYTHON,
)


class PackagingError(Exception):
    """The bundle cannot be built; the message says why."""


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(tree: ast.AST) -> set[str]:
    """Dotted names a module imports, with `from M import n` also as M.n (n may be a submodule)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def closure(root: Path = ROOT, entry: Path = ENTRY_POINT) -> tuple[list[Path], list[str]]:
    """(project files the entry point needs, relative to root; project modules imported but missing)."""
    files: set[Path] = set()
    missing: set[str] = set()
    pending = [root / entry]
    while pending:
        path = pending.pop()
        if path in files:
            continue
        files.add(path)
        for name in _imported(ast.parse(path.read_text(), filename=str(path))):
            parts = name.split(".")
            if parts[0] not in PACKAGES:
                continue
            # The module and every package on the way to it: each __init__.py runs on import.
            found = [
                f for f in (_module_file(root, ".".join(parts[:d])) for d in range(1, len(parts) + 1)) if f
            ]
            pending.extend(found)
            if _module_file(root, name) is None and not _is_attribute(root, parts):
                missing.add(name)
    # Report a missing module once, not also each name imported from it.
    missing = {m for m in missing if not any(m.startswith(f"{other}.") for other in missing)}
    return sorted(p.relative_to(root) for p in files), sorted(missing)


def _is_attribute(root: Path, parts: list[str]) -> bool:
    """`from M import n`: true when n is a name module M defines or imports (not a submodule)."""
    parent = _module_file(root, ".".join(parts[:-1])) if len(parts) > 1 else None
    if parent is None:
        return False
    tree = ast.parse(parent.read_text())
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return parts[-1] in defined


def build(out: Path = OUT, root: Path = ROOT, allow_missing: bool = False, entry: Path = ENTRY_POINT) -> Path:
    """Write the bundle of `entry`; refuses when a project module the job imports does not exist."""
    if not (root / entry).is_file():
        raise PackagingError(f"{entry} not found")
    files, missing = closure(root, entry)
    if missing and not allow_missing:
        raise PackagingError(f"{entry} imports missing module(s): {', '.join(missing)}")
    return write_zip({p.as_posix(): root / p for p in files}, out)


def build_dependencies(
    out: Path = DEPS_OUT, requirements: Path = REQUIREMENTS, platform: tuple[str, ...] = EMR_PLATFORM
) -> Path:
    """Write a dependency archive: the pinned wheels installed for EMR_PYTHON on `platform`, without
    scripts or the files that name the installing machine (RECORD, INSTALLER, direct_url.json)."""
    with tempfile.TemporaryDirectory(prefix="emr-deps-") as tmp:
        try:
            installed = install_locked(requirements, Path(tmp), platform)
        except InstallError as err:
            raise PackagingError(
                f"cannot install {requirements.name} for Python {EMR_PYTHON}: {err}"
            ) from None
        return write_zip({n: p for n, p in installed.items() if not n.startswith("bin/")}, out)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(prog="python -m packager.emr_job", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="bundle path (default: %(default)s)")
    parser.add_argument(
        "--consistency-out",
        type=Path,
        default=CONSISTENCY_OUT,
        help="consistency run's bundle (default: %(default)s)",
    )
    parser.add_argument("--list", action="store_true", help="print the files the bundle holds and exit")
    parser.add_argument(
        "--deps-out", type=Path, default=DEPS_OUT, help="dependency archive (default: %(default)s)"
    )
    parser.add_argument(
        "--consistency-deps-out",
        type=Path,
        default=CONSISTENCY_DEPS_OUT,
        help="consistency run's dependency archive (default: %(default)s)",
    )
    parser.add_argument(
        "--no-deps", action="store_true", help="build the bundles only (no PyPI access needed)"
    )
    args = parser.parse_args(argv)
    if args.list:
        files, missing = closure()
        print("\n".join(p.as_posix() for p in files))
        for name in missing:
            print(f"missing: {name}", file=sys.stderr)
        return 1 if missing else 0
    try:
        paths = [build(args.out)]
        if (ROOT / CONSISTENCY_ENTRY_POINT).is_file():
            paths.append(build(args.consistency_out, entry=CONSISTENCY_ENTRY_POINT))
        else:
            print(
                f"skipped {args.consistency_out.name}: {CONSISTENCY_ENTRY_POINT} not found", file=sys.stderr
            )
        if not args.no_deps:
            paths.append(build_dependencies(args.deps_out))
            paths.append(
                build_dependencies(args.consistency_deps_out, CONSISTENCY_REQUIREMENTS, EMR_BINARY_PLATFORM)
            )
    except PackagingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
