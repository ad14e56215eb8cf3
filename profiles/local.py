"""The `local` profile's processes: the whole streaming path on one machine.

Wiring, in processes like the cloud's: the streaming engine (`python -m jobs.local_engine`), and one
process per function (`python -m profiles.local function ingest|score`) in which the local
event source mapping delivers the aggregates stream to the unchanged handler with Lambda's
event shapes and rules. Every process gets its clients from clients.factory, configured as
AWS_CLIENT_FACTORY=local_aws.clients:client with LOCAL_DATA_DIR (the runtime folder); each function
process also gets its environment as Terraform would set it. A function's stdout (Powertools logs
and EMF metrics) goes to LOGS/<function>.log, as Lambda's goes to CloudWatch Logs.
`python -m profiles.demo` runs a scenario through them.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.factory import (
    CLIENT_FACTORY_ENV,
    LOCAL_CLIENT_FACTORY,
    LOCAL_DATA_DIR_ENV,
    LOCAL_MODEL_ENV,
    client,
)
from features.definition import SERVING_THRESHOLD
from profiles.processes import Children
from profiles.steps import (
    AGGREGATES,
    BATCH_GROUP,
    FUNCTIONS,
    PREDICTIONS,
    STREAMING_GROUP,
    Layout,
    wait_for,
)
from tools.cli import OneLineErrors

ESM_BATCH_SIZE = 1000  # one endpoint call per batch; BatchGetRecord reads it 100 cards a call
ESM_POLL_S = 0.005  # an idle shard is polled every 5 ms (Lambda polls each shard about once a second)
ESM_SAVE_INTERVAL_S = 0.2  # the mapping's checkpoint file is written at most every 200 ms, and when idle


def client_env(layout: Layout) -> dict[str, str]:
    """The local profile's client configuration (clients.factory), for every process."""
    return {
        CLIENT_FACTORY_ENV: LOCAL_CLIENT_FACTORY,
        LOCAL_DATA_DIR_ENV: str(layout.runtime.resolve()),
        LOCAL_MODEL_ENV: str(layout.model.resolve()),
    }


def function_env(layout: Layout, name: str, threshold: float = SERVING_THRESHOLD) -> dict[str, str]:
    """The function's environment: Terraform's variables (terraform.md) plus the local client factory."""
    env = {
        **client_env(layout),
        "POWERTOOLS_SERVICE_NAME": f"fraud-{name}",
        "POWERTOOLS_METRICS_NAMESPACE": "fraud-local",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "DEAD_LETTER_QUEUE_URL": layout.dead_letter_url(),
        "STREAMING_FEATURE_GROUP": STREAMING_GROUP,
    }
    if name == "score":
        env |= {
            "BATCH_FEATURE_GROUP": BATCH_GROUP,
            "ENDPOINT_NAME": "fraud-local",
            "FRAUD_THRESHOLD": str(threshold),
            "PREDICTIONS_STREAM": PREDICTIONS,
        }
    return env


@dataclass
class Processes(Children):
    """The engine and the function processes."""

    layout: Layout
    engine_args: list[str] = field(default_factory=list)
    threshold: float = SERVING_THRESHOLD
    children: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log_dir(self) -> Path:
        return self.layout.logs

    def start(self) -> Processes:
        runtime = self.layout.runtime
        self._spawn(
            "engine",
            [
                sys.executable,
                "-m",
                "jobs.local_engine",
                "--state",
                str(runtime / "engine-state.db"),
                *self.engine_args,
            ],
            client_env(self.layout),
        )
        for name in FUNCTIONS:
            self._spawn(
                name,
                [sys.executable, "-m", "profiles.local", "function", name, "--data", str(self.layout.root)],
                function_env(self.layout, name, self.threshold),
            )
        ready = [ready_marker(self.layout, name) for name in FUNCTIONS] + [runtime / "engine-state.db"]
        if not wait_for(lambda: all(p.exists() for p in ready), timeout_s=120, check=self.check):
            self.stop()
            raise RuntimeError("the pipeline processes did not start within 120 s")
        return self

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        ready_marker(self.layout, name).unlink(missing_ok=True)
        super()._spawn(name, argv, env, cwd)

    def __enter__(self) -> Processes:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ready_marker(layout: Layout, name: str) -> Path:
    return layout.runtime / f"{name}.ready"


def serve_function(name: str, layout: Layout, batch_size: int = ESM_BATCH_SIZE) -> int:
    """A function process: the local ESM polls the aggregates stream and invokes the handler.

    The handler's clients and model are built before the first poll (Lambda's init phase), then
    the process says it is ready, so a demo does not time cold starts as stream latency.
    """
    from jobs.local_engine.gc_tuning import settle_after_init
    from local_aws.event_source_mapping import EsmRunner, EventSourceMapping

    app = importlib.import_module(f"functions.{name}.app")
    mapping = EventSourceMapping(
        function_name=name,
        stream_name=AGGREGATES,
        batch_size=batch_size,
        maximum_batching_window_s=0.0,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=3,
        bisect_batch_on_function_error=True,
        function_response_types=("ReportBatchItemFailures",),
    )
    store = client("sagemaker-featurestore-runtime")

    def invoke(event: dict[str, Any], context: Any) -> Any:
        # One feature-store commit per invocation instead of one per PutRecord; a function error
        # rolls its writes back and the mapping redelivers the batch (writes are idempotent anyway).
        with store.batched():
            return app.lambda_handler(event, context)

    runner = EsmRunner(
        mapping,
        client("kinesis"),
        handler=invoke,
        checkpoint_path=str(layout.runtime / f"esm-{name}.json"),
        on_failure=client("sqs"),
        on_failure_url=layout.dead_letter_url(),
        save_interval_s=ESM_SAVE_INTERVAL_S,
    )
    app.service()
    settle_after_init()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready_marker(layout, name).touch()
    runner.run(stop=stop, poll_s=ESM_POLL_S)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m profiles.local",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fn = sub.add_parser("function", help="(internal) run one function behind the local event source mapping")
    fn.add_argument("name", choices=FUNCTIONS)
    fn.add_argument("--data", type=Path, required=True)
    fn.add_argument("--batch-size", type=int, default=ESM_BATCH_SIZE)
    args = parser.parse_args(argv)
    try:
        return serve_function(args.name, Layout(args.data), args.batch_size)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
