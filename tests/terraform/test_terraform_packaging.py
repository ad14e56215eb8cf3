"""The Lambda zips Terraform deploys: layout the handlers import from, byte-for-byte reproducible."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from packager.lambdas import FUNCTIONS, PackagingError, build, function_entries, main

pytestmark = pytest.mark.terraform


@pytest.mark.parametrize("name", FUNCTIONS)
def test_zip_layout_matches_the_handler_imports(name: str, tmp_path: Path) -> None:
    (path,) = build((name,), tmp_path, deps=False)
    names = set(zipfile.ZipFile(path).namelist())
    # handler `app.lambda_handler`; shared code under its repository path.
    assert {
        "app.py",
        "functions/__init__.py",
        "functions/common/__init__.py",
        "features/definition.py",
    } <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "requirements.txt"))]


def test_zips_are_reproducible(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in build(FUNCTIONS, tmp_path / "a", deps=False)]
    second = [p.read_bytes() for p in build(FUNCTIONS, tmp_path / "b", deps=False)]
    assert first == second


def test_only_what_exists_is_packaged(tmp_path: Path) -> None:
    """A repository without shared packages or requirements gives a zip of the function's own files."""
    root = tmp_path / "repo"
    (root / "functions" / "probe").mkdir(parents=True)
    (root / "functions" / "probe" / "app.py").write_text(
        "def lambda_handler(event, context):\n    return {}\n"
    )
    entries = function_entries("probe", root, None)
    assert set(entries) == {"app.py"}


def test_missing_function_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="functions/nope/ does not exist"):
        function_entries("nope", tmp_path, None)


def test_cli_reports_errors_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--out-dir", str(tmp_path), "nope"]) == 1
    assert capsys.readouterr().err.strip() == "error: functions/nope/ does not exist"
