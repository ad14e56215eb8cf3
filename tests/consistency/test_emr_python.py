"""The consistency job's EMR entry point runs on the EMR Serverless release's Python (3.9).

Why 3.9, with its sources: tests/emr_python.py. The files are the entry point's import closure,
followed as packager.emr_job follows the batch job's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from packager import emr_job
from tests import emr_python

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
    emr_python.assert_vermin_allows(REPO / p for p in emr_job.closure(entry=ENTRY_POINT)[0])


def test_the_closure_imports_on_the_emr_python_without_the_local_libraries(tmp_path):
    from tools.zips import write_zip

    emr_python.interpreter()  # skips first when there is none
    files = emr_job.closure(entry=ENTRY_POINT)[0]
    bundle = write_zip({p.as_posix(): REPO / p for p in files}, tmp_path / "consistency-job.zip")
    script = (
        "from jobs.consistency import emr_entry, sql, scores, predictions\n"
        "from features.batch_sql import SPARK\n"
        "assert 'FROM reasons WHERE in_batch' in sql.script(SPARK)\n"
        "assert predictions.epoch_ms('2020-05-15T10:00:00.250Z') == 1589536800250\n"
        "assert emr_entry.served_day('2026-01-01T02:30:00Z') == '2025-12-31'\n"
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
    assert emr_python.run(emr_python.on_bundle(bundle, script), tmp_path).startswith("imported")


# The lock's wheels as the job's dependency archive (build/emr/consistency-deps.zip) holds them.
REQUIREMENTS = emr_job.CONSISTENCY_REQUIREMENTS
EMR_BINARY_PLATFORM = emr_job.EMR_BINARY_PLATFORM


def test_the_shipped_packages_score_and_measure_on_the_emr_python(tmp_path):
    """The locked XGBoost, numpy and scikit-learn, installed for Python 3.9 as the job's archive holds
    them, score a booster written by the training job and give the AUCs the local venv gives."""
    import json
    import platform

    import numpy as np
    import xgboost as xgb

    from features.definition import MODEL_INPUT
    from jobs.consistency import scores
    from jobs.training.artifact import write_tarball
    from packager.wheels import InstallError, install_locked
    from tools.zips import write_zip

    emr_python.interpreter()
    if platform.machine() != "x86_64":
        pytest.skip("prerequisite missing: an x86_64 machine (the locked wheels are x86_64)")
    work = tmp_path / "driver"
    try:
        install_locked(REQUIREMENTS, work / "deps", EMR_BINARY_PLATFORM)
    except InstallError as err:
        if "No matching distribution" in str(err) or "Could not find a version" in str(err):
            raise  # a pin without a Python 3.9 wheel is the project's own error
        pytest.skip(f"prerequisite missing: PyPI access to install the lock ({err})")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, len(MODEL_INPUT)))
    y = (x[:, 0] + rng.normal(size=400) > 1).astype(int)
    model = write_tarball(
        xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), 8), tmp_path
    )
    x[::9, 1] = np.inf  # not finite: missing, as served
    rows = np.column_stack([y, rng.uniform(size=400), x]).tolist()
    (tmp_path / "rows.json").write_text(json.dumps(rows).replace("Infinity", '"inf"'))
    expected = scores.aucs(*scores.score(scores.booster(model.read_bytes()), rows))
    bundle = write_zip(
        {p.as_posix(): REPO / p for p in emr_job.closure(entry=ENTRY_POINT)[0]}, tmp_path / "b.zip"
    )
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(bundle)!r})\n"
        "from jobs.batch.emr_entry import use_shipped_dependencies\n"
        "use_shipped_dependencies()\n"
        "from jobs.consistency import scores\n"
        f"rows = [[float(v) for v in r] for r in json.load(open({str(tmp_path / 'rows.json')!r}))]\n"
        f"model = scores.booster(open({str(model)!r}, 'rb').read())\n"
        "import xgboost, sklearn\n"
        "assert xgboost.__file__.startswith(sys.path[0]) and sklearn.__file__.startswith(sys.path[0])\n"
        "print(json.dumps(scores.aucs(*scores.score(model, rows))))\n"
    )
    got = json.loads(emr_python.run(script, work).strip().splitlines()[-1])
    assert got == pytest.approx(expected, abs=1e-12)
