"""The consistency job's EMR Serverless entry point: the job, then MatchRate to CloudWatch.

The CloudWatch client is boto3's with a Stubber (the request checked against the service model);
the job runs with the embedded engine on local files (tests/consistency/test_spark.py runs Spark).
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from jobs.consistency import emr_entry
from tests.consistency.fixtures import build


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return build(tmp_path_factory.mktemp("emr-consistency"))


def stubbed(expected_rate: float | None = None):
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    datum = {"MetricName": "MatchRate", "Value": expected_rate, "Unit": "None"}
    stub.add_response("put_metric_data", {}, {"Namespace": "fraud/consistency", "MetricData": [datum]})
    return client, stub


def run(case, out, client, max_unexplained):
    return emr_entry.consistency(
        str(case.predictions),
        str(case.features),
        str(case.model),
        str(out),
        "fraud/consistency",
        client,
        max_unexplained=max_unexplained,
        engine="duckdb",
        log=lambda *_: None,
    )


def test_publishes_the_match_rate_and_passes_within_the_threshold(case, tmp_path):
    # the rate is known only after the run: a first run tells it, a second is checked with the stub
    probe, probe_stub = stubbed()
    probe_stub.deactivate()
    probe.put_metric_data = lambda **kw: None
    run(case, tmp_path / "probe", probe, 0.5)
    rate = json.loads((tmp_path / "probe" / "consistency.json").read_text())["match_rate"]
    assert 0.99 < rate < 1
    client, stub = stubbed(rate)
    with stub:
        assert run(case, tmp_path / "out", client, 0.5) == 0
        stub.assert_no_pending_responses()
    assert (tmp_path / "out" / "REPORT.md").is_file()


def test_publishes_then_fails_above_the_threshold(case, tmp_path):
    calls = []

    class Recorder:
        def put_metric_data(self, **kwargs):
            calls.append(kwargs)

    assert run(case, tmp_path / "out", Recorder(), 0.0) == 1
    assert len(calls) == 1 and calls[0]["Namespace"] == "fraud/consistency"
    (datum,) = calls[0]["MetricData"]
    assert datum["MetricName"] == "MatchRate" and datum["Unit"] == "None" and "Dimensions" not in datum


@pytest.mark.parametrize(
    "flag,value",
    [("--predictions", "predictions/"), ("--features", "features/"), ("--out", "out"), ("--model", "m")],
)
def test_every_location_must_be_s3(flag, value, capsys):
    args = {
        "--predictions": "s3://b/predictions/dt=2026-01-01/",
        "--features": "s3://b/features",
        "--model": "s3://b/model.tar.gz",
        "--out": "s3://b/consistency/dt=2026-01-01",
    }
    args[flag] = value
    argv = [x for kv in args.items() for x in kv] + ["--metric-namespace", "fraud"]
    with pytest.raises(SystemExit) as exit_:
        emr_entry.main(argv)
    assert exit_.value.code == 2
    assert f"{flag} must be an s3:// URI" in capsys.readouterr().err


def test_the_scheduled_time_picks_the_day_before_and_files_the_report_under_it(monkeypatch):
    """The schedule passes <aws.scheduler.scheduled-time>
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html)."""
    seen = {}

    def fake(predictions, features, model, out, namespace, client, **_):
        seen.update(predictions=predictions, out=out)
        return 0

    monkeypatch.setattr(emr_entry, "consistency", fake)
    monkeypatch.setattr(emr_entry, "cloudwatch_client", lambda region: None)
    argv = [
        *("--predictions", "s3://b/predictions/", "--features", "s3://b/features/"),
        *("--model", "s3://b/model.tar.gz", "--out", "s3://b/consistency", "--metric-namespace", "fraud"),
    ]
    assert emr_entry.main([*argv, "--scheduled-time", "2026-01-01T02:30:00Z"]) == 0
    assert seen == {
        "predictions": "s3://b/predictions/dt=2025-12-31/",
        "out": "s3://b/consistency/dt=2025-12-31/",
    }
    assert emr_entry.main(argv) == 0 and seen["predictions"] == "s3://b/predictions/"
    assert emr_entry.served_day("2026-03-01T00:10:00+01:00") == "2026-02-27"


@pytest.mark.parametrize("value", ["yesterday", "2026-01-01T02:30:00"])
def test_a_bad_scheduled_time_is_a_one_line_error(value, capsys):
    argv = [
        *("--predictions", "s3://b/p/", "--features", "s3://b/f/", "--model", "s3://b/m.tar.gz"),
        *("--out", "s3://b/c/", "--metric-namespace", "fraud", "--scheduled-time", value),
    ]
    with pytest.raises(SystemExit) as exit_:
        emr_entry.main(argv)
    assert exit_.value.code == 2 and "--scheduled-time must be an ISO 8601 time" in capsys.readouterr().err
