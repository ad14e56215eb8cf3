"""The daily refresh's code runs on the EMR Serverless release's Python.

emr-7.x releases run on Amazon Linux 2023 and ship Python 3.9 and 3.11
(https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-release-app-versions-7.x.html,
https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-7140-release.html); PySpark runs the
system `python3`, which on AL2023 is Python 3.9 for the life of the distribution
(https://docs.aws.amazon.com/linux/al2023/ug/python.html). The job sets no PYSPARK_PYTHON, so
every module packed into build/emr/batch-job.zip (packager/emr_job.py) must run on 3.9.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from packager import emr_job

EMR_PYTHON = (3, 9)
REPO = Path(__file__).resolve().parents[2]
PACKED = [REPO / p for p in emr_job.closure()[0]]
# Libraries the EMR image is not known to hold: the job must not import them on its Spark path.
NOT_ON_EMR = ("duckdb", "pandas", "pyarrow", "polars", "numpy")


def test_vermin_minimum_version_of_the_packed_files_is_at_most_the_emr_python():
    if importlib.util.find_spec("vermin") is None:
        pytest.skip("prerequisite missing: vermin (requirements-dev.txt)")
    target = ".".join(map(str, EMR_PYTHON))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--no-tips",
            "--no-parse-comments",
            "--violations",
            f"--target={target}-",
            *map(str, PACKED),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Analyzing {len(PACKED)} files" in done.stdout


def _pyenv_env(version: tuple[int, int]) -> dict[str, str]:
    from glob import glob

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # A pyenv shim runs the interpreter only when its version is selected; pick the newest patch.
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    installed = sorted(glob(f"{root}/versions/{version[0]}.{version[1]}.*"))
    if installed and "PYENV_VERSION" not in os.environ:
        env["PYENV_VERSION"] = Path(installed[-1]).name
    return env


def test_the_packed_modules_import_on_the_emr_python(tmp_path):
    env = _pyenv_env(EMR_PYTHON)
    python = shutil.which(f"python{EMR_PYTHON[0]}.{EMR_PYTHON[1]}")
    if python is None or subprocess.run([python, "-V"], env=env, capture_output=True, check=False).returncode:
        pytest.skip(f"prerequisite missing: a python{EMR_PYTHON[0]}.{EMR_PYTHON[1]} interpreter on PATH")
    bundle = emr_job.build(tmp_path / "batch-job.zip", allow_missing=True)
    modules = [
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in PACKED
        if p.suffix == ".py"
    ]
    script = (
        "import importlib, sys\n"
        f"assert sys.version_info[:2] == {EMR_PYTHON!r}, sys.version\n"
        f"for name in {NOT_ON_EMR!r}:\n"
        "    sys.modules[name] = None  # an import of it fails, as on EMR\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from jobs.batch.compat import UTC, zip_strict\n"
        "assert list(zip_strict('ab', 'cd')) == [('a', 'c'), ('b', 'd')]\n"
        "from jobs.aggregate import main\n"
        "print('imported', len(sys.modules))\n"
    )
    # The bundle as spark-submit --py-files puts it on sys.path: the zip itself, nothing else.
    done = subprocess.run(
        [python, "-I", "-c", f"import sys; sys.path.insert(0, {str(bundle)!r})\n{script}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("imported")


def test_the_shipped_boto3_runs_on_the_emr_python(tmp_path):
    """boto3 1.43+ needs Python 3.10: the archive pins the last 3.9 releases (emr-requirements.txt)
    and the entry point's Feature Store client is built from it on 3.9."""
    env = _pyenv_env(EMR_PYTHON)
    python = shutil.which(f"python{EMR_PYTHON[0]}.{EMR_PYTHON[1]}")
    if python is None or subprocess.run([python, "-V"], env=env, capture_output=True, check=False).returncode:
        pytest.skip(f"prerequisite missing: a python{EMR_PYTHON[0]}.{EMR_PYTHON[1]} interpreter on PATH")
    try:
        archive = emr_job.build_dependencies(tmp_path / "batch-deps.zip")
    except emr_job.PackagingError as err:
        if "No matching distribution" in str(err) or "Could not find a version" in str(err):
            raise  # a pin that does not exist for Python 3.9 is the project's own error
        pytest.skip(f"prerequisite missing: PyPI access to build the dependency archive ({err})")
    bundle = emr_job.build(tmp_path / "batch-job.zip", allow_missing=True)
    work = tmp_path / "driver"
    (work / "deps").mkdir(parents=True)
    import zipfile

    zipfile.ZipFile(archive).extractall(work / "deps")  # what spark.archives=...#deps does
    script = (
        "import sys, warnings\n"
        f"sys.path.insert(0, {str(bundle)!r})\n"
        "warnings.simplefilter('ignore')\n"
        "from jobs.batch import emr_entry\n"
        "client = emr_entry.feature_store_client('us-east-1')\n"
        "import boto3\n"
        "assert boto3.__file__.startswith(sys.path[0]), boto3.__file__\n"
        "assert 'PutRecord' in client.meta.service_model.operation_names\n"
        "print(boto3.__version__)\n"
    )
    done = subprocess.run(
        [python, "-I", "-c", script],
        cwd=work,
        env={
            **env,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == next(
        line.split("==")[1].split()[0]
        for line in emr_job.REQUIREMENTS.read_text().splitlines()
        if line.startswith("boto3==")
    )
