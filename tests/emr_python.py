"""The EMR Serverless release's Python, for the tests of the code EMR runs (the daily refresh and the
consistency run).

emr-7.x releases run on Amazon Linux 2023 and ship Python 3.9 and 3.11
(https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-release-app-versions-7.x.html,
https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-7140-release.html); PySpark runs the
system `python3`, which on AL2023 is Python 3.9 for the life of the distribution
(https://docs.aws.amazon.com/linux/al2023/ug/python.html). The jobs set no PYSPARK_PYTHON, so
everything they pack must run on 3.9.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from glob import glob
from pathlib import Path

import pytest

EMR_PYTHON = (3, 9)
# Libraries the EMR image is not known to hold: the jobs must not import them on their Spark path.
NOT_ON_EMR = ("duckdb", "pandas", "pyarrow", "polars", "numpy")


def assert_vermin_allows(files: Iterable[Path]) -> None:
    """vermin finds nothing in `files` that needs a Python newer than EMR_PYTHON."""
    if importlib.util.find_spec("vermin") is None:
        pytest.skip("prerequisite missing: vermin (requirements-dev.txt)")
    files = [str(f) for f in files]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--no-tips",
            "--no-parse-comments",
            "--violations",
            f"--target={'.'.join(map(str, EMR_PYTHON))}-",
            *files,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Analyzing {len(files)} files" in done.stdout


def interpreter() -> tuple[str, dict[str, str]]:
    """(a python3.9 on PATH, the environment that runs it); the test is skipped without one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # A pyenv shim runs the interpreter only when its version is selected; pick the newest patch.
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    installed = sorted(glob(f"{root}/versions/{EMR_PYTHON[0]}.{EMR_PYTHON[1]}.*"))
    if installed and "PYENV_VERSION" not in os.environ:
        env["PYENV_VERSION"] = Path(installed[-1]).name
    name = f"python{EMR_PYTHON[0]}.{EMR_PYTHON[1]}"
    python = shutil.which(name)
    if python is None or subprocess.run([python, "-V"], env=env, capture_output=True, check=False).returncode:
        pytest.skip(f"prerequisite missing: a {name} interpreter on PATH")
    return python, env


def run(script: str, cwd: Path, extra_env: dict[str, str] | None = None) -> str:
    """`script` on the EMR Python, isolated (-I: no site or user packages); returns its stdout."""
    python, env = interpreter()
    done = subprocess.run(
        [python, "-I", "-c", script],
        cwd=cwd,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def on_bundle(bundle: Path, script: str, *, block: Iterable[str] = NOT_ON_EMR) -> str:
    """`script` with only `bundle` on sys.path (as spark-submit --py-files puts it) and the `block`ed
    libraries failing to import, as on EMR."""
    return (
        "import sys\n"
        f"sys.path.insert(0, {str(bundle)!r})\n"
        f"assert sys.version_info[:2] == {EMR_PYTHON!r}, sys.version\n"
        f"for name in {tuple(block)!r}:\n"
        "    sys.modules[name] = None  # an import of it fails, as on EMR\n"
        f"{script}"
    )
