"""The `smoke` step: the seed's scenario through a deployed stack, summarized as `make demo` does.

1. a history ending now, aggregated (DuckDB), uploaded to the data bucket (history/), and its
   snapshots loaded into the batch feature group (deploy.load);
2. the seed's scenario (three ordinary cards, then a 10-transaction attack on a fourth, with
   background traffic) sent to the deployed transactions stream;
3. the predictions and late streams read from the moment before sending, the dead-letter queue
   read, and the demo's summary printed (profiles.demo: stream_scenario and print_summary).
It fails (exit 1) when the attack is not caught or a sent transaction has no prediction within
`timeout_s` after the last one was sent (the stated bound).

On a root without a cloud endpoint (envs/local), the stand-ins run as the localstack profile runs
them (profiles.localstack.Pipeline): the streaming engine, the two functions behind the local event
source mapping, the Feature Store and the model endpoint, all over LocalStack's Kinesis and SQS.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deploy.load import (
    HistorySpec,
    aws_client,
    current_history,
    load,
    runtime_client,
    snapshot_rows,
    upload_history,
    uses_stand_ins,
)
from deploy.terraform import FlowError

Log = Callable[[str], None]


@dataclass(frozen=True)
class SmokeOptions:
    work: Path
    model: Path  # served by the stand-in endpoint (envs/local only)
    feature_store_db: Path | None = (
        None  # the stand-in Feature Store's file (default: under work); the load step's
    )
    history: HistorySpec = field(default_factory=HistorySpec)
    background_rate: float = 20.0
    seed: int = 7
    timeout_s: float = 120.0
    workers: int = 8


def read_queue(sqs: Any, url: str, visibility_s: int = 30) -> list[dict[str, Any]]:
    """The dead-letter queue's messages, received once (hidden for `visibility_s`, then back)."""
    seen: dict[str, dict[str, Any]] = {}
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility_s).get(
            "Messages", []
        )
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            return list(seen.values())
        for m in fresh:
            try:
                seen[m["MessageId"]] = json.loads(m["Body"])
            except json.JSONDecodeError:
                seen[m["MessageId"]] = {"body": m["Body"]}


def profile_outputs(deployment: Mapping[str, str], localstack_url: str) -> dict[str, Any]:
    """What profiles.localstack.Pipeline reads, from the deployment output only."""
    return {
        "streams": {
            "transactions": deployment["transactions_stream"],
            "aggregates": deployment["aggregates_stream"],
            "late": deployment["late_stream"],
            "predictions": deployment["predictions_stream"],
        },
        "dead_letter_queue_url": deployment["dead_letter_queue_url"],
        "endpoint": localstack_url,
    }


@contextlib.contextmanager
def stand_ins(deployment: Mapping[str, str], options: SmokeOptions) -> Iterator[Any]:
    """The localstack profile's processes over the deployed LocalStack resources; their own stream removed after."""
    import os

    from profiles import localstack_server as localstack
    from profiles.localstack import ENGINE_DEAD, Pipeline

    url = os.environ.get("AWS_ENDPOINT_URL", localstack.ENDPOINT)
    pipeline = Pipeline(
        options.work / "profile",
        profile_outputs(deployment, url),
        model=options.model,
        feature_store_db=options.feature_store_db or options.work / "featurestore.db",
    )
    try:
        with pipeline:
            yield pipeline
    finally:
        if pipeline.profile is not None:  # the engine's dead-letter stream is the stand-in's, not Terraform's
            kinesis = pipeline.profile.client("kinesis")
            name = pipeline.profile.streams[ENGINE_DEAD]
            with contextlib.suppress(Exception):
                kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def latency_against_budget(
    summary: Mapping[str, Any], rate: float, stand_ins: bool
) -> tuple[str, dict[str, float]]:
    """The measured event-to-prediction p50/p99 beside bench.capacity's budget for the aws profile
    at the smoke's background rate: a line to log and the budget's figures for the summary file."""
    from bench.capacity import budget_p99

    b50, b99 = budget_p99(rate)
    measured = (
        f"measured p50 {summary['latency_ms_p50']:,.0f} ms / p99 {summary['latency_ms_p99']:,.0f} ms "
        f"over {summary['predictions']:,} prediction(s)"
        if summary["predictions"]
        else "no prediction to measure"
    )
    where = "; these stand-ins poll differently, so only the aws profile is held to it" if stand_ins else ""
    line = (
        f"event-to-prediction {measured}; budget on the aws profile at {rate:g} tx/s "
        f"(python -m bench.capacity --tps {rate:g} --latency): p50 ~{b50:,.0f} ms / p99 <= {b99:,.0f} ms{where}"
    )
    return line, {"budget_ms_p50": b50, "budget_ms_p99": b99}


def smoke(deployment: Mapping[str, str], options: SmokeOptions, console: Any, log: Log) -> int:
    from profiles.demo import ScenarioTarget, print_summary, stream_scenario
    from profiles.steps import FUNCTIONS, emf_totals
    from simulator.stream import LINGER_KINESIS_S

    region = deployment["region"]
    if not options.model.is_file() and uses_stand_ins(deployment):
        raise FlowError(f"{options.model} not found: run the package step first")
    layout = current_history(options.work / "history", options.history, datetime.now(UTC), log)
    s3, sqs = aws_client("s3", region), aws_client("sqs", region)
    log(f"history uploaded to {upload_history(s3, deployment['data_bucket'], layout.history)}")
    with contextlib.ExitStack() as stack:
        if uses_stand_ins(deployment):
            pipeline = stack.enter_context(stand_ins(deployment, options))
            features = pipeline.profile.client("sagemaker-featurestore-runtime")
            kinesis = pipeline.profile.client("kinesis")
            engine_dead = pipeline.profile.streams["engine-dead-letters"]
            logs = pipeline.log_dir()
            check: Callable[[], None] | None = pipeline.check

            def metrics() -> dict[str, dict[str, float]]:
                return {name: emf_totals(logs / f"{name}.log") for name in FUNCTIONS}

            log(
                "stand-ins running: engine, ingest and score behind the event source mapping, feature store, endpoint"
            )
        else:
            features, kinesis = runtime_client(region), aws_client("kinesis", region)
            engine_dead, check = None, None

            def metrics() -> dict[str, dict[str, float]]:
                return {}  # on AWS the functions' EMF metrics are in CloudWatch (the dashboard)

        load(
            snapshot_rows(str(layout.features / "online"), s3),
            deployment["batch_feature_group"],
            features,
            options.workers,
            log,
        )
        target = ScenarioTarget(
            kinesis,
            deployment["transactions_stream"],
            deployment["predictions_stream"],
            deployment["late_stream"],
            engine_dead,
            dead_letters=lambda: read_queue(sqs, deployment["dead_letter_queue_url"]),
            metrics=metrics,
            check=check,
            start="LATEST",  # the stream may hold earlier runs' predictions
            linger_s=LINGER_KINESIS_S,
        )
        log(
            f"streaming the scenario into {deployment['transactions_stream']} "
            f"(3 ordinary cards, then 10 quick transactions on a fourth; {options.background_rate:g}/s background)"
        )
        result = stream_scenario(
            target, layout.history, options.background_rate, options.seed, console, options.timeout_s
        )
    print_summary(console, result)
    summary = {**result.summary(), "unscored": result.unscored}
    line, figures = latency_against_budget(summary, options.background_rate, uses_stand_ins(deployment))
    log(line)
    summary |= figures
    (options.work / "smoke-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    failures = []
    if not summary["attack_caught"]:
        failures.append("the attack was not caught")
    if result.unscored:
        failures.append(
            f"{len(result.unscored)} of {result.sent} sent transaction(s) had no prediction within "
            f"{options.timeout_s:g} s of the last send"
        )
    if failures:
        log("smoke FAILED: " + "; ".join(failures))
        return 1
    log(f"smoke passed: every transaction predicted within {options.timeout_s:g} s, the attack caught")
    return 0
