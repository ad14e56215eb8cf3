"""Event source mapping rules: batching, retries, bisect, partial batch responses, on-failure records."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from features.codec import parse_transaction
from features.records import RecordError
from local_aws.event_source_mapping import EsmRunner, EventSourceMapping
from local_aws.stream import LocalKinesis

REPORT = ("ReportBatchItemFailures",)


@pytest.fixture
def setup(kinesis, sqs, tmp_path, clock):
    kinesis.create_stream(StreamName="in", ShardCount=1)
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]

    def make(handler, **settings):
        mapping = EventSourceMapping(function_name="fn", stream_name="in", **settings)
        return EsmRunner(
            mapping, kinesis, handler, tmp_path / "esm.json", on_failure=sqs, on_failure_url=url, clock=clock
        )

    def put(values):
        kinesis.put_records(
            StreamName="in", Records=[{"Data": json.dumps(v), "PartitionKey": "p"} for v in values]
        )

    def dead():
        return [json.loads(b) for b in sqs.peek_all(url)]

    return make, put, dead


def values(event):
    return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]


class Recorder:
    """A handler that records each invocation's values and fails as told."""

    def __init__(self, poison=(), mode="raise", reason=True):
        self.calls: list[list] = []
        self.poison, self.mode, self.reason = set(poison), mode, reason

    def __call__(self, event, context):
        assert context.function_name == "fn" and context.get_remaining_time_in_millis() > 0
        got = values(event)
        self.calls.append(got)
        bad = [r for r, v in zip(event["Records"], got, strict=True) if v in self.poison]
        if bad and self.mode == "raise":
            raise ValueError(f"poison {sorted(self.poison & set(got))}")
        failures = [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in bad]
        if self.reason:
            for f in failures:
                f["reason"] = "poison value"
        return {"batchItemFailures": failures}


def test_event_shape_and_batch_size(setup):
    make, put, _ = setup
    put(range(7))
    events = []
    runner = make(lambda e, c: events.append(e), batch_size=3)
    runner.run(idle_exit_s=0.1)
    assert [values(e) for e in events] == [[0, 1, 2], [3, 4, 5], [6]]
    rec = events[0]["Records"][0]
    assert rec["eventSource"] == "aws:kinesis" and rec["eventName"] == "aws:kinesis:record"
    assert rec["eventSourceARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/in"
    assert rec["eventID"] == f"shardId-000000000000:{rec['kinesis']['sequenceNumber']}"
    assert rec["kinesis"]["kinesisSchemaVersion"] == "1.0" and rec["kinesis"]["partitionKey"] == "p"
    assert (
        isinstance(rec["kinesis"]["approximateArrivalTimestamp"], float) and rec["awsRegion"] == "us-east-1"
    )
    assert runner.stats["records_in"] == runner.stats["processed"] == 7


def test_batching_window_waits_for_a_fuller_batch(setup, kinesis):
    make, put, _ = setup
    events = []
    runner = make(lambda e, c: events.append(values(e)), batch_size=10, maximum_batching_window_s=0.3)
    put([1])
    runner.poll_once()
    assert events == []  # waits for more records within the window
    put([2, 3])
    runner.poll_once()
    assert events == []
    runner.run(idle_exit_s=0.5)
    assert events == [[1, 2, 3]]


def test_retries_then_on_failure_destination_with_reason(setup):
    make, put, dead = setup
    put([1, 2, 3])
    handler = Recorder(poison={2})
    runner = make(handler, batch_size=10, maximum_retry_attempts=2)
    runner.run(idle_exit_s=0.1)
    assert handler.calls == [[1, 2, 3]] * 3  # first try + 2 retries
    messages = dead()
    assert [values({"Records": [m["record"]]})[0] for m in messages] == [1, 2, 3]
    m = messages[1]
    assert m["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert m["requestContext"]["approximateInvokeCount"] == 3
    assert m["responseContext"]["functionError"] == "Unhandled"
    assert m["errorMessage"] == "ValueError: poison [2]"
    info = m["KinesisBatchInfo"]
    assert (
        info["startSequenceNumber"] == info["endSequenceNumber"] == m["record"]["kinesis"]["sequenceNumber"]
    )
    assert info["batchSize"] == 1 and info["streamArn"].endswith("stream/in")
    assert runner.stats["records_in"] == 3 == runner.stats["processed"] + runner.stats["dead_lettered"]


def test_bisect_isolates_the_bad_record(setup):
    make, put, dead = setup
    put(range(8))
    handler = Recorder(poison={5})
    runner = make(handler, batch_size=8, maximum_retry_attempts=0, bisect_batch_on_function_error=True)
    runner.run(idle_exit_s=0.1)
    assert [values({"Records": [m["record"]]})[0] for m in dead()] == [5]
    assert handler.calls[:3] == [list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7]]
    assert runner.stats == {**runner.stats, "records_in": 8, "processed": 7, "dead_lettered": 1}
    processed = {v for call in handler.calls if 5 not in call for v in call}
    assert processed == {0, 1, 2, 3, 4, 6, 7}


def test_partial_batch_response_retries_from_the_lowest_failed_record(setup):
    make, put, dead = setup
    put(range(6))
    handler = Recorder(poison={2, 4}, mode="report")
    runner = make(handler, batch_size=6, maximum_retry_attempts=1, function_response_types=REPORT)
    runner.run(idle_exit_s=0.1)
    # first call all; retry from 2; then 2 exhausted: 2 and 4 dead-lettered, 3 and 5 handled
    assert handler.calls == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5]]
    messages = dead()
    assert [values({"Records": [m["record"]]})[0] for m in messages] == [2, 4]
    assert {m["errorMessage"] for m in messages} == {"poison value"}
    assert runner.stats["processed"] == 4 and runner.stats["dead_lettered"] == 2


def test_partial_response_without_reason_and_success_shapes(setup):
    make, put, dead = setup
    put([1, 2])
    handler = Recorder(poison={1}, mode="report", reason=False)
    make(handler, batch_size=5, maximum_retry_attempts=0, function_response_types=REPORT).run(idle_exit_s=0.1)
    assert [m["errorMessage"] for m in dead()] == ["reported in batchItemFailures"]
    # without ReportBatchItemFailures the response is ignored: success
    put([3])
    calls = []
    runner = make(
        lambda e, c: calls.append(values(e)) or {"batchItemFailures": [{"itemIdentifier": "x"}]}, batch_size=5
    )
    runner.run(idle_exit_s=0.1)
    assert calls == [[3]] and runner.stats["dead_lettered"] == 1  # the 1 from before, saved in the checkpoint


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"sequenceNumber": "1"}]},
        {"batchItemFailures": "all"},
    ],
)
def test_invalid_partial_responses_fail_the_whole_batch(setup, response):
    make, put, dead = setup
    put([1, 2])
    runner = make(
        lambda e, c: response, batch_size=5, maximum_retry_attempts=0, function_response_types=REPORT
    )
    runner.run(idle_exit_s=0.1)
    assert len(dead()) == 2 and runner.stats["function_errors"] == 1
    assert all(m["errorMessage"].startswith("invalid partial batch response") for m in dead())


def test_maximum_record_age(setup, clock):
    make, put, dead = setup
    put([1])
    clock.advance(120)
    put([2])
    calls = []
    runner = make(lambda e, c: calls.append(values(e)), batch_size=5, maximum_record_age_s=60)
    runner.run(idle_exit_s=0.1)
    assert calls == [[2]]
    assert [m["requestContext"]["condition"] for m in dead()] == ["RecordAgeExceeded"]


def test_checkpoint_resumes_after_the_last_handled_batch(setup):
    make, put, _ = setup
    put(range(5))
    first = []
    make(lambda e, c: first.append(values(e)), batch_size=2).run(idle_exit_s=0.1)
    put(range(5, 8))
    second = []
    runner = make(lambda e, c: second.append(values(e)), batch_size=10)  # a new process: checkpoint file only
    runner.run(idle_exit_s=0.1)
    assert first == [[0, 1], [2, 3], [4]] and second == [[5, 6, 7]]
    assert runner.stats["records_in"] == 8 == runner.stats["processed"]


def test_a_save_interval_defers_the_checkpoint_file_until_idle(setup, tmp_path):
    make, put, _ = setup
    put(range(4))
    runner = make(lambda e, c: None, batch_size=1)
    runner.save_interval_s = 3600.0
    assert runner.poll_once() == 1  # the first batch is saved (nothing saved yet within the interval)
    assert runner.poll_once() == 1 and runner.poll_once() == 1
    saved = json.loads((tmp_path / "esm.json").read_text())
    assert saved["stats"]["processed"] == 1  # the file lags the handled batches...
    runner.run(idle_exit_s=0.0)  # ...until the mapping goes idle
    saved = json.loads((tmp_path / "esm.json").read_text())
    assert saved["stats"]["processed"] == 4 == saved["stats"]["records_in"]
    assert saved["positions"] == runner.positions


def test_bad_transactions_each_reach_the_destination_and_accounting_holds(setup):
    """Not JSON, missing fields, wrong types, negative or non-finite amounts, dup: none crashes a batch."""
    make, put, dead = setup

    good = {"tid": "t1", "cc_num": 1, "amount": 2.5, "trans_ts": "2020-01-01T00:00:00.000Z"}
    bad = [
        {"tid": "t2"},
        {**good, "tid": "t3", "amount": "12"},
        {**good, "tid": "t4", "amount": -1},
        {**good, "tid": "t5", "cc_num": "x"},
        {**good, "tid": "t6", "trans_ts": "yesterday"},
    ]
    put([good, *bad, good])
    kinesis_payloads = [json.dumps(v) for v in [good, *bad, good]]
    assert len(kinesis_payloads) == 7

    def handler(event, context):
        failures = []
        for r in event["Records"]:
            try:
                parse_transaction(base64.b64decode(r["kinesis"]["data"]))
            except RecordError as err:
                failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"], "reason": str(err)})
        return {"batchItemFailures": failures}

    runner = make(
        handler,
        batch_size=100,
        maximum_retry_attempts=0,
        bisect_batch_on_function_error=True,
        function_response_types=REPORT,
    )
    runner.run(idle_exit_s=0.1)
    reasons = [m["errorMessage"] for m in dead()]
    assert len(reasons) == 5 and reasons[0].startswith("missing field")
    assert any("amount must be a number" in r for r in reasons) and any("non-negative" in r for r in reasons)
    assert runner.stats["records_in"] == 7 == runner.stats["processed"] + runner.stats["dead_lettered"]


def test_sigkill_mid_stream_then_restart_delivers_everything_and_counts_once(tmp_path):
    """At least once, as on AWS: at most the batch in flight is redelivered; the accounting counts it once."""
    root_dir = Path(__file__).resolve().parents[2]
    streams, db = tmp_path / "streams", tmp_path / "seen.db"
    kinesis = LocalKinesis(streams)
    kinesis.create_stream(StreamName="in")
    for start in range(0, 5000, 500):
        kinesis.put_records(
            StreamName="in",
            Records=[{"Data": str(i), "PartitionKey": "k"} for i in range(start, start + 500)],
        )
    worker = [sys.executable, str(root_dir / "tests" / "runtime" / "esm_worker.py"), str(streams), str(db)]
    env = {**os.environ, "PYTHONPATH": str(root_dir)}

    def delivered() -> int:
        try:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT COUNT(*) FROM seen").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    child = subprocess.Popen([*worker, "60"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while delivered() < 1500:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert delivered() < 5000
    done = subprocess.run([*worker, "0.3"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT COUNT(*), SUM(deliveries > 1), MAX(deliveries) FROM seen").fetchone()
    assert rows[0] == 5000  # nothing lost
    assert (rows[1] or 0) <= 50 and (rows[2] or 1) <= 2  # only the batch in flight came twice
    assert stats["records_in"] == 5000 == stats["processed"] + stats["dead_lettered"]  # counted once


def test_each_record_carries_its_own_arrival_time_and_the_sample_events_keys(setup, clock):
    """The event is built per batch with the arrival converted once per PutRecords call: records
    of later calls must still carry their own time. Keys as in the sample event (tests/events)."""
    make, put, _ = setup
    put([0, 1])
    clock.advance(2.5)
    put([2])
    clock.advance(0.25)
    put([3, 4])
    events = []
    make(lambda e, c: events.append(e), batch_size=10).run(idle_exit_s=0.1)
    (event,) = events
    stamps = [r["kinesis"]["approximateArrivalTimestamp"] for r in event["Records"]]
    t0 = clock.now - 2.75
    assert stamps == [round(t0, 3)] * 2 + [round(t0 + 2.5, 3)] + [round(t0 + 2.75, 3)] * 2
    sample = json.loads((Path(__file__).parents[1] / "events" / "kinesis_aggregates.json").read_text())[
        "Records"
    ][0]
    for record in event["Records"]:
        assert set(record) == set(sample) and set(record["kinesis"]) == set(sample["kinesis"])
