"""The consistency job's EMR entry point runs on the EMR Serverless release's Python (3.9).

Why 3.9, with its sources: tests/batch/test_emr_python.py. The files are the entry point's import
closure, followed as packager.emr_job follows the batch job's.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from packager import emr_job

ENTRY_POINT = Path("jobs/consistency/emr_entry.py")
REPO = Path(__file__).resolve().parents[2]


def test_the_closure_is_complete_and_holds_the_job():
    files, missing = emr_job.closure(entry=ENTRY_POINT)
    assert missing == []
    names = {p.as_posix() for p in files}
    assert {
        "jobs/consistency/job.py",
        "jobs/consistency/sql.py",
        "jobs/consistency/scores.py",
        "jobs/consistency/predictions.py",
        "features/batch_sql.py",
    } <= names
    # the codec (msgspec) stays out of what EMR runs
    assert "features/records.py" not in names


def test_vermin_minimum_version_of_the_closure_is_at_most_the_emr_python():
    if importlib.util.find_spec("vermin") is None:
        pytest.skip("prerequisite missing: vermin (requirements-dev.txt)")
    files = [REPO / p for p in emr_job.closure(entry=ENTRY_POINT)[0]]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--no-tips",
            "--no-parse-comments",
            "--violations",
            "--target=3.9-",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Analyzing {len(files)} files" in done.stdout


def test_the_closure_imports_on_the_emr_python_without_the_local_libraries(tmp_path):
    from packager.zips import write_zip
    from tests.batch.test_emr_python import EMR_PYTHON, NOT_ON_EMR, _pyenv_env

    env = _pyenv_env(EMR_PYTHON)
    python = shutil.which(f"python{EMR_PYTHON[0]}.{EMR_PYTHON[1]}")
    if python is None or subprocess.run([python, "-V"], env=env, capture_output=True, check=False).returncode:
        pytest.skip(f"prerequisite missing: a python{EMR_PYTHON[0]}.{EMR_PYTHON[1]} interpreter on PATH")
    files = emr_job.closure(entry=ENTRY_POINT)[0]
    bundle = write_zip({p.as_posix(): REPO / p for p in files}, tmp_path / "consistency-job.zip")
    script = (
        "import importlib, sys\n"
        f"assert sys.version_info[:2] == {EMR_PYTHON!r}, sys.version\n"
        f"for name in {NOT_ON_EMR!r}:\n"
        "    sys.modules[name] = None  # an import of it fails, as on EMR\n"
        "from jobs.consistency import emr_entry, sql, scores, predictions\n"
        "from features.batch_sql import SPARK\n"
        "assert 'FROM reasons WHERE in_batch' in sql.script(SPARK)\n"
        "assert predictions.epoch_ms('2020-05-15T10:00:00.250Z') == 1589536800250\n"
        # What the job imports inside its functions, once the shipped dependencies are on the path
        # (stand-ins here: this interpreter has none of them).
        "import types\n"
        "for name in ('numpy', 'xgboost', 'sklearn', 'sklearn.metrics'):\n"
        "    sys.modules[name] = types.ModuleType(name)\n"
        "sys.modules['sklearn'].metrics = sys.modules['sklearn.metrics']\n"
        "from jobs.training import artifact, evaluate\n"
        "assert artifact.MODEL_MEMBER == 'xgboost-model'\n"
        "print('imported', len(sys.modules))\n"
    )
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
