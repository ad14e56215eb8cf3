"""packager.emr_job's second bundle: the daily consistency run's (build/emr/consistency-job.zip),
the import closure of jobs/consistency/emr_entry.py, which module batch_refresh schedules."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from packager import emr_job
from packager.wheels import BOOKKEEPING


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


# --- the consistency run's dependency archive (build/emr/consistency-deps.zip) -------------------

ELF_X86_64 = 0x3E  # e_machine of an x86-64 ELF object (System V ABI); aarch64 is 0xB7


def _stub_install(installed: dict[str, bytes], calls: list):
    """install_locked's stand-in: records its arguments, writes `installed` under the target."""

    def install(requirements: Path, target: Path, platform):
        calls.append((requirements, tuple(platform)))
        for name, data in installed.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(data)
        return {name: target / name for name in installed}

    return install


def test_the_consistency_deps_are_the_consistency_lock_as_x86_64_cpython_39_wheels():
    """One platform list, the one tests/consistency/test_emr_python.py installs and scores with."""
    platform = emr_job.EMR_BINARY_PLATFORM
    assert emr_job.CONSISTENCY_REQUIREMENTS.relative_to(emr_job.ROOT).as_posix() == (
        "jobs/consistency/emr-requirements.txt"
    )
    assert platform[platform.index("--implementation") + 1] == "cp"
    assert platform[platform.index("--python-version") + 1] == emr_job.EMR_PYTHON == "3.9"
    tags = [platform[i + 1] for i, arg in enumerate(platform) if arg == "--platform"]
    assert tags == ["manylinux_2_28_x86_64", "manylinux2014_x86_64"]
    assert "--no-deps" in platform  # the lock pins every package itself (with hashes)
    from tests.consistency import test_emr_python

    assert test_emr_python.EMR_BINARY_PLATFORM is platform


def test_make_package_emr_builds_the_consistency_deps_reproducibly(tmp_path, monkeypatch, capsys):
    calls: list = []
    monkeypatch.setattr(
        emr_job,
        "install_locked",
        _stub_install(
            {
                "xgboost/lib/libxgboost.so": b"\x7fELF",
                "numpy/__init__.py": b"",
                "bin/f2py": b"#!/machine/specific/python\n",
            },
            calls,
        ),
    )
    paths = {
        "--out": tmp_path / "b.zip",
        "--consistency-out": tmp_path / "c.zip",
        "--deps-out": tmp_path / "bd.zip",
        "--consistency-deps-out": tmp_path / "cd.zip",
    }
    argv = [arg for flag, path in paths.items() for arg in (flag, str(path))]
    assert emr_job.main(argv) == 0
    first = paths["--consistency-deps-out"].read_bytes()
    assert emr_job.main(argv) == 0
    assert paths["--consistency-deps-out"].read_bytes() == first
    assert calls[:2] == [
        (emr_job.REQUIREMENTS, emr_job.EMR_PLATFORM),
        (emr_job.CONSISTENCY_REQUIREMENTS, emr_job.EMR_BINARY_PLATFORM),
    ]
    assert set(zipfile.ZipFile(paths["--consistency-deps-out"]).namelist()) == {
        "xgboost/lib/libxgboost.so",
        "numpy/__init__.py",
    }
    assert "cd.zip" in capsys.readouterr().out
    # --no-deps: no PyPI, no archive
    (tmp_path / "cd.zip").unlink()
    assert emr_job.main([*argv, "--no-deps"]) == 0
    assert not (tmp_path / "cd.zip").exists() and len(calls) == 4


def _build_consistency_deps(out: Path) -> Path:
    try:
        return emr_job.build_dependencies(out, emr_job.CONSISTENCY_REQUIREMENTS, emr_job.EMR_BINARY_PLATFORM)
    except emr_job.PackagingError as err:
        if "No matching distribution" in str(err) or "Could not find a version" in str(err):
            raise  # a pin without a CPython 3.9 x86_64 wheel is the project's own error
        pytest.skip(f"prerequisite missing: PyPI access to build the dependency archive ({err})")


def test_the_consistency_deps_hold_xgboost_numpy_scipy_sklearn_boto3_for_x86_64(tmp_path):
    """What emr_entry.py imports once ./deps is on sys.path, as x86-64 shared objects for CPython 3.9
    (needs PyPI; the scoring with them on a python3.9: tests/consistency/test_emr_python.py)."""
    archive = zipfile.ZipFile(_build_consistency_deps(tmp_path / "consistency-deps.zip"))
    names = set(archive.namelist())
    for package in ("numpy", "scipy", "sklearn", "xgboost", "joblib", "threadpoolctl", "boto3", "botocore"):
        assert any(n.startswith(f"{package}/") or n == f"{package}.py" for n in names), package
    assert "xgboost/lib/libxgboost.so" in names
    assert "sklearn/__init__.py" in names and "numpy/__init__.py" in names
    extensions = [n for n in names if n.endswith(".so") and "cpython-" in n]
    assert extensions and all("cpython-39-x86_64-linux-gnu" in n for n in extensions)
    for name in ("xgboost/lib/libxgboost.so", *extensions[:20]):
        header = archive.read(name)[:20]
        assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == ELF_X86_64, name
    assert not any(n.startswith("bin/") or n.endswith(BOOKKEEPING) for n in names)
