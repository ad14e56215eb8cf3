"""Every thin CLI reports a bad argument as one `error: ...` line and exit code 2 (tools.cli)."""

from __future__ import annotations

import importlib

import pytest

from tools.cli import OneLineErrors

CLIS = (
    "simulator.__main__",
    "jobs.train",
    "jobs.aggregate",
    "jobs.batch.emr_entry",
    "local_aws.endpoint",
    "deploy.__main__",
    "bench.__main__",
    "packager.emr_job",
    "packager.flink_app",
    "packager.offline_plan",
)


def test_a_bad_argument_is_one_line_and_exit_2_also_in_a_subcommand(capsys):
    parser = OneLineErrors(prog="demo")
    parser.add_subparsers(dest="command", required=True).add_parser("run").add_argument("--n", type=int)
    for argv in (["--what"], ["run", "--n", "x"], []):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, argv


@pytest.mark.parametrize("module", CLIS)
def test_each_cli_reports_an_unknown_option_in_one_line(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(["--no-such-option"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
