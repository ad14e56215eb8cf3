"""The Lambda zips Terraform deploys: layout the handlers import from, byte-for-byte reproducible."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from packager import offline_plan, terraform_cli
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
        "clients/factory.py",
        "clients/kinesis.py",
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


# --- how terraform is run (packager.terraform_cli, packager.offline_plan) ------------------------


def test_terraform_runs_with_the_users_provider_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's CLI configuration and plugin cache pass through; planning inputs never do."""
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/somewhere/terraformrc")
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", "/somewhere/cache")
    monkeypatch.setenv("TF_VAR_name_prefix", "prod")
    monkeypatch.setenv("AWS_PROFILE", "production")
    env = terraform_cli.offline_env(Path("data"))
    assert env["TF_CLI_CONFIG_FILE"] == "/somewhere/terraformrc"
    assert env["TF_PLUGIN_CACHE_DIR"] == "/somewhere/cache"
    assert "TF_VAR_name_prefix" not in env and "AWS_PROFILE" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "test" and env["TF_DATA_DIR"] == "data"


def test_terraform_errors_fit_one_line() -> None:
    output = """Initializing provider plugins...
╷
│ Error: Failed to query available provider packages
│
│ Could not retrieve the list of available versions for provider hashicorp/aws:
│ could not connect to registry.terraform.io
│
│ To see which modules are currently depending on hashicorp/aws, run:
╵
"""
    assert terraform_cli.failure_reason(output) == (
        "Error: Failed to query available provider packages Could not retrieve the list of "
        "available versions for provider hashicorp/aws: could not connect to registry.terraform.io"
    )


def test_plan_offline_without_terraform_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform on it
    assert offline_plan.main(["--out", str(tmp_path / "plan.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: terraform init:") and err.count("\n") == 1, err
    assert not (tmp_path / "plan.json").exists()


def test_stand_ins_are_reproducible_and_vary_only_with_the_model(tmp_path: Path) -> None:
    one = offline_plan.write_stand_ins(tmp_path / "a", model="one")
    again = offline_plan.write_stand_ins(tmp_path / "b", model="one")
    other = offline_plan.write_stand_ins(tmp_path / "c", model="two")
    assert all(one[k].read_bytes() == again[k].read_bytes() for k in one)
    assert one["model"].read_bytes() != other["model"].read_bytes()
    assert all(one[k].read_bytes() == other[k].read_bytes() for k in one if k != "model")
    with tarfile.open(one["model"]) as archive:
        assert archive.getnames() == ["xgboost-model"]
