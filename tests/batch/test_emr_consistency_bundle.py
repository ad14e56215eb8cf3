"""packager.emr_job's second bundle: the daily consistency run's (build/emr/consistency-job.zip),
the import closure of jobs/consistency/emr_entry.py, which module batch_refresh schedules."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from packager import emr_job


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_consistency_bundle_is_its_entry_points_closure(tmp_path):
    root = _tree(
        tmp_path,
        {
            "jobs/__init__.py": "",
            "jobs/consistency/__init__.py": "",
            "jobs/consistency/emr_entry.py": "from jobs.consistency.compare import run\n",
            "jobs/consistency/compare.py": "from features.records import parse_ts\n\n\ndef run():\n    return parse_ts\n",
            "jobs/batch/emr_entry.py": "import jobs.aggregate\n",
            "features/__init__.py": "",
            "features/records.py": "def parse_ts(value):\n    return value\n",
        },
    )
    bundle = emr_job.build(tmp_path / "c.zip", root=root, entry=emr_job.CONSISTENCY_ENTRY_POINT)
    assert set(zipfile.ZipFile(bundle).namelist()) == {
        "jobs/__init__.py",
        "jobs/consistency/__init__.py",
        "jobs/consistency/emr_entry.py",
        "jobs/consistency/compare.py",
        "features/__init__.py",
        "features/records.py",
    }


def test_a_missing_entry_point_is_an_error_not_an_empty_bundle(tmp_path):
    with pytest.raises(emr_job.PackagingError, match=r"jobs/consistency/emr_entry.py not found"):
        emr_job.build(tmp_path / "c.zip", root=tmp_path, entry=emr_job.CONSISTENCY_ENTRY_POINT)


def test_the_cli_builds_the_refresh_bundle_and_says_when_the_consistency_entry_is_missing(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(emr_job, "CONSISTENCY_ENTRY_POINT", Path("jobs/consistency/absent_entry.py"))
    out, consistency = tmp_path / "b.zip", tmp_path / "c.zip"
    assert emr_job.main(["--no-deps", "--out", str(out), "--consistency-out", str(consistency)]) == 0
    assert out.is_file() and not consistency.exists()
    assert "skipped c.zip: jobs/consistency/absent_entry.py not found" in capsys.readouterr().err
