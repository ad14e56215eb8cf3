"""The `localstack` profile: the same engine, event source mappings and handlers, over real AWS APIs.

Streams and the dead-letter queue are LocalStack's (created by terraform/envs/local); the Feature
Store and the model endpoint are the project's own servers speaking the SageMaker APIs
(`local_aws.feature_store serve`, `local_aws.endpoint`), because LocalStack's free edition has neither.
Every process gets plain boto3 clients from clients.factory; where they point is configuration only,
through the service-specific variables botocore reads (AWS_ENDPOINT_URL_<serviceId, upper-case, `_` for
spaces>), so the handlers run unchanged, exactly as on AWS (no AWS_CLIENT_FACTORY).

Processes, each restarted in place after an error (as Lambda and Flink restart theirs): the
engine (`python -m profiles.localstack engine`) reads the transactions stream with real shard
iterators and writes aggregates, late records and its dead letters to streams; one process per
function (`python -m profiles.localstack function ingest|score`) runs the local event source mapping
on the aggregates stream. Their checkpoints are the project's (files), so after LocalStack comes
back they resume after the last record they handled.
"""

from __future__ import annotations

import importlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from clients.factory import client
from features.definition import SERVING_THRESHOLD
from features.feature_groups import group_for
from profiles import localstack_server as localstack
from profiles.processes import Children
from tools.cli import OneLineErrors

FUNCTIONS = ("ingest", "score")
ENGINE_DEAD = "engine-dead-letters"  # envs/local has no destination for malformed transactions
STREAMING_GROUP = group_for("sliding").name
# How long a consumer (the engine, each function's mapping) waits after an empty GetRecords; one
# that got records polls again at once. Every call costs LocalStack's single-threaded Kinesis
# (kinesis-local) CPU whatever it returns, plus LocalStack's gateway, so a longer wait idles
# cheaper (`--poll-s 0.2`, the Flink Kinesis consumer's default interval); but under traffic a long
# pause in one consumer's serial loop leaves the next stage without work, so the default stays
# short (both measured in docs/performance.md).
POLL_S = 0.05
BATCH_GROUP = group_for("daily_snapshot").name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LocalStackProfile:
    """Where everything is, from Terraform's outputs and the two local servers' URLs."""

    streams: Mapping[str, str]  # logical name -> stream name (transactions, aggregates, late, predictions)
    dead_letter_queue_url: str
    feature_store_url: str
    endpoint_url: str
    name_prefix: str = "fraud-local"
    threshold: float = SERVING_THRESHOLD
    localstack_url: str = localstack.ENDPOINT
    region: str = localstack.REGION

    @classmethod
    def from_terraform(
        cls, outputs: Mapping[str, Any], feature_store_url: str, endpoint_url: str, **kwargs: Any
    ) -> LocalStackProfile:
        """From `terraform output -json` of terraform/envs/local ({name: {"value": ...}} or plain values)."""
        value = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}
        streams = dict(value["streams"])
        prefix = streams["transactions"].removesuffix("-transactions")
        return cls(
            streams={**streams, ENGINE_DEAD: f"{prefix}-{ENGINE_DEAD}"},
            dead_letter_queue_url=value["dead_letter_queue_url"],
            feature_store_url=feature_store_url,
            endpoint_url=endpoint_url,
            name_prefix=prefix,
            localstack_url=value.get("endpoint", localstack.ENDPOINT),
            **kwargs,
        )

    def aws_environment(self) -> dict[str, str]:
        """boto3's configuration for every process of the profile."""
        return {
            "AWS_ENDPOINT_URL_KINESIS": self.localstack_url,
            "AWS_ENDPOINT_URL_SQS": self.localstack_url,
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.localstack_url,
            "AWS_ENDPOINT_URL_S3": self.localstack_url,
            "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME": self.feature_store_url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **localstack.CREDENTIALS,
            "AWS_CLIENT_FACTORY": "",  # plain boto3 clients, as in AWS
            "AWS_MAX_ATTEMPTS": "2",  # fail fast into the ESM's retries when LocalStack is away
        }

    def group(self, name: str) -> str:
        """Feature group names carry the deployment prefix, as terraform/modules/feature_groups names them."""
        return f"{self.name_prefix}-{name}"

    def function_environment(self, name: str) -> dict[str, str]:
        """What terraform/modules/functions sets, pointed at this profile's resources."""
        env = {
            **self.aws_environment(),
            "POWERTOOLS_SERVICE_NAME": f"fraud-{name}",
            "POWERTOOLS_METRICS_NAMESPACE": self.name_prefix,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue_url,
            "STREAMING_FEATURE_GROUP": self.group(STREAMING_GROUP),
        }
        if name == "score":
            env |= {
                "BATCH_FEATURE_GROUP": self.group(BATCH_GROUP),
                "ENDPOINT_NAME": f"{self.name_prefix}-endpoint",
                "FRAUD_THRESHOLD": str(self.threshold),
                "PREDICTIONS_STREAM": self.streams["predictions"],
            }
        return env

    def client(self, service: str) -> Any:
        """A boto3 client for this profile, without touching the caller's environment."""
        import boto3

        urls = {
            "sagemaker-featurestore-runtime": self.feature_store_url,
            "sagemaker-runtime": self.endpoint_url,
        }
        return boto3.client(
            service,
            endpoint_url=urls.get(service, self.localstack_url),
            region_name=self.region,
            aws_access_key_id=localstack.CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=localstack.CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "streams": dict(self.streams),
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "feature_store_url": self.feature_store_url,
                "endpoint_url": self.endpoint_url,
                "name_prefix": self.name_prefix,
                "threshold": self.threshold,
                "localstack_url": self.localstack_url,
                "region": self.region,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LocalStackProfile:
        return cls(**json.loads(text))


def ensure_stream(kinesis: Any, name: str) -> None:
    if name not in kinesis.list_streams(Limit=1000)["StreamNames"]:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


# ---------------------------------------------------------------- supervised processes


def supervise(
    make: Callable[[], Any],
    stop: threading.Event,
    log: Callable[[str], None],
    max_backoff_s: float = 2.0,
    poll_s: float = POLL_S,
) -> int:
    """Build and run a runner until `stop`; on an error, rebuild it from its durable checkpoint.

    Returns how many times it restarted. The error is logged on one line, never swallowed silently.
    """
    restarts, backoff = 0, 0.2
    while not stop.is_set():
        try:
            runner = make()
            backoff = 0.2
            runner.run(stop=stop, poll_s=poll_s)
        except Exception as err:
            restarts += 1
            log(f"restart {restarts} after {type(err).__name__}: {str(err)[:200]}")
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff_s)
    return restarts


def run_engine(
    profile: LocalStackProfile,
    state: Path,
    idle_flush_s: float | None,
    stop: threading.Event,
    out_of_orderness_ms: int | None = None,
    poll_s: float = POLL_S,
) -> int:
    from jobs.local_engine.runner import EngineRunner, Streams

    kinesis = client("kinesis")
    streams = Streams(
        profile.streams["transactions"],
        profile.streams["aggregates"],
        profile.streams["late"],
        profile.streams[ENGINE_DEAD],
    )

    def make() -> EngineRunner:
        return EngineRunner(
            kinesis,
            state,
            streams,
            idle_flush_s=idle_flush_s,
            out_of_orderness_ms=out_of_orderness_ms,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )

    return supervise(make, stop, lambda m: print(f"engine: {m}", file=sys.stderr, flush=True), poll_s=poll_s)


def run_function(
    profile: LocalStackProfile,
    name: str,
    checkpoint: Path,
    batch_size: int,
    stop: threading.Event,
    poll_s: float = POLL_S,
) -> int:
    from local_aws.event_source_mapping import EsmRunner, EventSourceMapping

    app = importlib.import_module(f"functions.{name}.app")
    kinesis, sqs = client("kinesis"), client("sqs")
    # terraform/modules/functions' mapping, but from the start of the stream and without a batching
    # window (the tests start consumers after creating the streams; latency is measured end to end).
    mapping = EventSourceMapping(
        function_name=name,
        stream_name=profile.streams["aggregates"],
        batch_size=batch_size,
        maximum_batching_window_s=0.0,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=3,
        maximum_record_age_s=3600,
        bisect_batch_on_function_error=True,
        function_response_types=("ReportBatchItemFailures",),
        region=profile.region,
    )

    def make() -> EsmRunner:
        return EsmRunner(
            mapping,
            kinesis,
            handler=app.lambda_handler,
            checkpoint_path=checkpoint,
            on_failure=sqs,
            on_failure_url=profile.dead_letter_queue_url,
            retry_delay_s=0.5,
        )

    return supervise(make, stop, lambda m: print(f"{name}: {m}", file=sys.stderr, flush=True), poll_s=poll_s)


# ---------------------------------------------------------------- the whole profile


def _wait_http(url: str, seconds: float, process: subprocess.Popen) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[2]} exited with {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


@dataclass
class Pipeline(Children):
    """The profile's processes (servers, engine, functions)."""

    root: Path
    outputs: Mapping[str, Any]  # terraform output -json of envs/local
    model: Path
    feature_store_db: Path
    idle_flush_s: float = 1.0
    batch_size: int = 500
    threshold: float = SERVING_THRESHOLD
    out_of_orderness_ms: int | None = None  # None: the definition's (features.definition.STREAM)
    poll_s: float = POLL_S  # the consumers' wait after an empty GetRecords
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    profile: LocalStackProfile | None = None
    stop_grace_s: ClassVar[float] = 15.0  # a consumer may be mid-call to LocalStack when asked to stop

    def start(self) -> Pipeline:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        fs_port, endpoint_port = free_port(), free_port()
        self._python(
            "feature-store",
            [
                "-m",
                "local_aws.feature_store",
                "serve",
                "--db",
                str(self.feature_store_db),
                "--port",
                str(fs_port),
                "--name-prefix",
                f"{self._prefix()}-",
            ],
            {},
        )
        self._python(
            "endpoint",
            ["-m", "local_aws.endpoint", "--model", str(self.model), "--port", str(endpoint_port)],
            {},
        )
        self.profile = LocalStackProfile.from_terraform(
            self.outputs,
            f"http://127.0.0.1:{fs_port}",
            f"http://127.0.0.1:{endpoint_port}",
            threshold=self.threshold,
        )
        _wait_http(f"http://127.0.0.1:{fs_port}/", 30, self.children["feature-store"])
        _wait_http(f"http://127.0.0.1:{endpoint_port}/ping", 60, self.children["endpoint"])
        ensure_stream(self.profile.client("kinesis"), self.profile.streams[ENGINE_DEAD])
        profile_file = self.root / "profile.json"
        profile_file.write_text(self.profile.to_json())
        self._python(
            "engine",
            [
                "-m",
                "profiles.localstack",
                "engine",
                "--profile",
                str(profile_file),
                "--state",
                str(self.root / "engine-state.db"),
                "--idle-flush-s",
                str(self.idle_flush_s),
                "--poll-s",
                str(self.poll_s),
                *(
                    ["--out-of-orderness-ms", str(self.out_of_orderness_ms)]
                    if self.out_of_orderness_ms is not None
                    else []
                ),
            ],
            self.profile.aws_environment(),
        )
        for name in FUNCTIONS:
            self._python(
                name,
                [
                    "-m",
                    "profiles.localstack",
                    "function",
                    name,
                    "--profile",
                    str(profile_file),
                    "--checkpoint",
                    str(self.root / f"esm-{name}.json"),
                    "--batch-size",
                    str(self.batch_size),
                    "--poll-s",
                    str(self.poll_s),
                ],
                self.profile.function_environment(name),
            )
        return self

    def _prefix(self) -> str:
        streams = self.outputs["streams"]
        return (streams.get("value", streams))["transactions"].removesuffix("-transactions")

    def log_dir(self) -> Path:
        return self.root / "logs"

    def _python(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self._spawn(name, [sys.executable, *argv], env, cwd=localstack.PROJECT)

    def __enter__(self) -> Pipeline:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- CLI (the profile's processes)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m profiles.localstack", description="The localstack profile's processes."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    engine = sub.add_parser("engine", help="the streaming engine over LocalStack's Kinesis")
    engine.add_argument(
        "--profile", type=Path, required=True, help="profile JSON (written by Pipeline.start)"
    )
    engine.add_argument("--state", type=Path, required=True, help="engine state database")
    engine.add_argument(
        "--idle-flush-s", type=float, default=None, help="release buffered rows after idle seconds"
    )
    engine.add_argument(
        "--out-of-orderness-ms",
        type=int,
        default=None,
        help="allowed out-of-orderness (default: the definition's)",
    )
    function = sub.add_parser("function", help="one function behind the local event source mapping")
    function.add_argument("name", choices=FUNCTIONS)
    function.add_argument(
        "--profile", type=Path, required=True, help="profile JSON (written by Pipeline.start)"
    )
    function.add_argument(
        "--checkpoint", type=Path, required=True, help="event source mapping checkpoint file"
    )
    function.add_argument("--batch-size", type=int, default=500, help="records per invocation")
    for command in (engine, function):
        command.add_argument(
            "--poll-s", type=float, default=POLL_S, help=f"wait after an empty GetRecords (default {POLL_S})"
        )
    args = parser.parse_args(argv)
    if not args.poll_s > 0:
        parser.error(f"--poll-s must be positive, not {args.poll_s}")
    try:
        profile = LocalStackProfile.from_json(args.profile.read_text())
    except (OSError, ValueError, TypeError) as err:
        print(f"error: cannot read the profile {args.profile}: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.command == "engine":
        restarts = run_engine(
            profile, args.state, args.idle_flush_s, stop, args.out_of_orderness_ms, args.poll_s
        )
    else:
        restarts = run_function(profile, args.name, args.checkpoint, args.batch_size, stop, args.poll_s)
    print(json.dumps({"restarts": restarts}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
