"""The daily refresh's code runs on the EMR Serverless release's Python (tests/emr_python.py says
which and why): every module packed into build/emr/batch-job.zip (packager/emr_job.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from packager import emr_job
from tests import emr_python

REPO = Path(__file__).resolve().parents[2]
PACKED = [REPO / p for p in emr_job.closure()[0]]


def test_vermin_minimum_version_of_the_packed_files_is_at_most_the_emr_python():
    emr_python.assert_vermin_allows(PACKED)


def test_the_packed_modules_import_on_the_emr_python(tmp_path):
    emr_python.interpreter()  # skips first when there is none
    bundle = emr_job.build(tmp_path / "batch-job.zip", allow_missing=True)
    modules = [
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in PACKED
        if p.suffix == ".py"
    ]
    script = (
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from jobs.batch.compat import UTC, zip_strict\n"
        "assert list(zip_strict('ab', 'cd')) == [('a', 'c'), ('b', 'd')]\n"
        "from jobs.aggregate import main\n"
        "print('imported', len(sys.modules))\n"
    )
    assert emr_python.run(emr_python.on_bundle(bundle, script), tmp_path).startswith("imported")


def test_the_shipped_boto3_runs_on_the_emr_python(tmp_path):
    """boto3 1.43+ needs Python 3.10: the archive pins the last 3.9 releases (emr-requirements.txt)
    and the entry point's Feature Store client is built from it on 3.9."""
    emr_python.interpreter()
    try:
        archive = emr_job.build_dependencies(tmp_path / "batch-deps.zip")
    except emr_job.PackagingError as err:
        if "No matching distribution" in str(err) or "Could not find a version" in str(err):
            raise  # a pin that does not exist for Python 3.9 is the project's own error
        pytest.skip(f"prerequisite missing: PyPI access to build the dependency archive ({err})")
    bundle = emr_job.build(tmp_path / "batch-job.zip", allow_missing=True)
    work = tmp_path / "driver"
    (work / "deps").mkdir(parents=True)
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
    credentials = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    assert emr_python.run(script, work, credentials).strip() == next(
        line.split("==")[1].split()[0]
        for line in emr_job.REQUIREMENTS.read_text().splitlines()
        if line.startswith("boto3==")
    )
