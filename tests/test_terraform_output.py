"""Reading a deployed stack's outputs (tools.terraform_output), as the simulator's --root, the batch
launcher and the deploy flow do: the value, or one line saying what is wrong."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from simulator.stream import deployed_target
from tools.terraform_output import OutputError, output


def fake_terraform(tmp_path: Path, stdout: str, exit_code: int = 0, stderr: str = "") -> Path:
    """A `terraform` that records its arguments and answers `output` with the given text."""
    script = tmp_path / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path / "argv"}\n'
        f"printf '%s' '{stdout}'\n"
        f"printf '%s' '{stderr}' >&2\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_the_output_is_the_decoded_json_of_terraform_output(tmp_path):
    binary = fake_terraform(tmp_path, json.dumps({"transactions_stream": "fraud-transactions"}))
    assert output("envs/aws", "deployment", str(binary)) == {"transactions_stream": "fraud-transactions"}
    assert (tmp_path / "argv").read_text().split() == [
        "-chdir=envs/aws",
        "output",
        "-no-color",
        "-json",
        "deployment",
    ]


@pytest.mark.parametrize(
    "stdout,code,stderr,message",
    [
        ("", 1, "Error: Output not found\n", "terraform output deployment in root: Error: Output not found"),
        (
            "null",
            0,
            "",
            "terraform output deployment in root: no value (was the root applied with `make deploy`?)",
        ),
    ],
)
def test_a_missing_output_is_one_line(tmp_path, stdout, code, stderr, message):
    binary = fake_terraform(tmp_path, stdout, code, stderr)
    with pytest.raises(OutputError) as err:
        output("root", "deployment", str(binary))
    assert str(err.value) == message


def test_no_terraform_says_where_to_get_it(tmp_path):
    with pytest.raises(OutputError, match=r"not found: install Terraform >= 1\.9"):
        output("root", "deployment", str(tmp_path / "no-terraform"))


def test_the_simulator_takes_the_stream_and_region_of_a_deployed_root(tmp_path, monkeypatch):
    binary = fake_terraform(
        tmp_path, json.dumps({"transactions_stream": "fraud-transactions", "region": "eu-west-1"})
    )
    monkeypatch.setenv("PATH", f"{binary.parent}:/usr/bin:/bin")
    assert deployed_target(Path("envs/aws")) == ("fraud-transactions", "eu-west-1")
    fake_terraform(tmp_path, json.dumps({"region": "eu-west-1"}))
    with pytest.raises(ValueError, match="lacks transactions_stream or region"):
        deployed_target(Path("envs/aws"))
