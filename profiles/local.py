"""The whole streaming path on one machine (the `local` profile), and `python -m profiles.local demo`.

Wiring, in processes like the cloud's: the streaming engine (`python -m jobs.local_engine`), and one
process per function (`python -m profiles.local function ingest|score`) in which the local
event source mapping delivers the aggregates stream to the unchanged handler with Lambda's
event shapes and rules. Each function process gets its environment as Terraform would set it,
plus AWS_CLIENT_FACTORY=local_aws.clients:client; its stdout (Powertools logs and EMF metrics) goes
to LOGS/<function>.log, as Lambda's goes to CloudWatch Logs.

demo: generate a small history -> aggregate (DuckDB) -> train -> load cc-agg-batch-fg -> start
the pipeline -> stream the seed's attack scenario with background traffic -> live view of the
predictions -> summary (transactions, frauds flagged, the attack caught or not, event-to-prediction
latency p50/p99, throughput, dead letters).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.definition import SERVING_THRESHOLD
from features.feature_groups import group_for
from local_aws.clients import DATA_DIR_ENV, MODEL_ENV
from profiles.processes import Children

STREAMING_GROUP = group_for("sliding").name
BATCH_GROUP = group_for("daily_snapshot").name
TRANSACTIONS, AGGREGATES, LATE, PREDICTIONS, ENGINE_DEAD = (
    "transactions",
    "aggregates",
    "late",
    "predictions",
    "engine-dead-letters",
)
STREAMS = (TRANSACTIONS, AGGREGATES, LATE, PREDICTIONS, ENGINE_DEAD)
DEAD_LETTER_QUEUE = "dead-letters"
FUNCTIONS = ("ingest", "score")
ESM_BATCH_SIZE = 1000  # one endpoint call per batch; BatchGetRecord reads it 100 cards a call
ESM_POLL_S = 0.005  # an idle shard is polled every 5 ms (Lambda polls each shard about once a second)
ESM_SAVE_INTERVAL_S = 0.2  # the mapping's checkpoint file is written at most every 200 ms, and when idle

Log = Callable[[str], None]


@dataclass(frozen=True)
class Layout:
    """Where the local profile keeps everything, under one root."""

    root: Path

    @property
    def history(self) -> Path:
        return self.root / "history.parquet"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def runtime(self) -> Path:
        """The runtime's state (LOCAL_DATA_DIR): streams, queues, feature store, checkpoints, logs."""
        return self.root / "runtime"

    @property
    def logs(self) -> Path:
        return self.runtime / "logs"

    def dead_letter_url(self) -> str:
        return f"local-sqs://{(self.runtime / 'queues').resolve()}/{DEAD_LETTER_QUEUE}"


def function_env(layout: Layout, name: str, threshold: float = SERVING_THRESHOLD) -> dict[str, str]:
    """The function's environment: Terraform's variables (terraform.md) plus the local client factory."""
    env = {
        "AWS_CLIENT_FACTORY": "local_aws.clients:client",
        DATA_DIR_ENV: str(layout.runtime.resolve()),
        MODEL_ENV: str(layout.model.resolve()),
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


# ------------------------------------------------------------------------------ batch side


def generate_history(
    layout: Layout, cards: int, transactions: int, start: datetime, end: datetime, seed: int
) -> Path:
    from simulator.generate import generate, write

    layout.root.mkdir(parents=True, exist_ok=True)
    return write(
        generate(cards=cards, transactions=transactions, start=start, end=end, seed=seed), layout.history
    )


def aggregate(layout: Layout) -> dict:
    from jobs.aggregate import run

    return run("duckdb", str(layout.history), str(layout.features), log=lambda *_: None)


def train(layout: Layout, test_start: str | None = None, extra: Sequence[str] = ()) -> Path:
    argv = [
        sys.executable,
        "-m",
        "jobs.train",
        "--features",
        str(layout.features),
        "--out",
        str(layout.model),
        "--quiet",
        *extra,
    ]
    if test_start:
        argv += ["--test-start", test_start]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return layout.model / "model.tar.gz"


# ------------------------------------------------------------------------------ runtime


def reset_runtime(layout: Layout) -> None:
    """A fresh runtime: empty streams, queue, store and checkpoints (the batch outputs are kept)."""
    shutil.rmtree(layout.runtime, ignore_errors=True)
    layout.logs.mkdir(parents=True)
    from local_aws.queue import LocalSQS

    streams = kinesis(layout)
    for name in STREAMS:
        streams.create_stream(StreamName=name, ShardCount=1)
    LocalSQS(root=str(layout.runtime / "queues")).create_queue(QueueName=DEAD_LETTER_QUEUE)


def kinesis(layout: Layout) -> Any:
    from local_aws.stream import LocalKinesis

    return LocalKinesis(root=str(layout.runtime / "streams"))


def feature_store(layout: Layout) -> Any:
    from local_aws.feature_store import LocalFeatureStore

    return LocalFeatureStore(path=str(layout.runtime / "featurestore.db"))


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
                "--stream-dir",
                str(runtime / "streams"),
                "--state",
                str(runtime / "engine-state.db"),
                *self.engine_args,
            ],
            {},
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
    from local_aws.clients import client
    from local_aws.event_source_mapping import EsmRunner, EventSourceMapping
    from local_aws.gc_tuning import settle_after_init

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


# ------------------------------------------------------------------------------ reading outputs


class StreamTail:
    """Reads a stream from the beginning (or from now: start="LATEST"), incrementally, across its shards."""

    def __init__(self, kinesis: Any, stream: str, start: str = "TRIM_HORIZON") -> None:
        self.kinesis, self.stream = kinesis, stream
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
        self.iterators = {
            s["ShardId"]: kinesis.get_shard_iterator(
                StreamName=stream, ShardId=s["ShardId"], ShardIteratorType=start
            )["ShardIterator"]
            for s in shards
        }

    def read(self) -> list[dict[str, Any]]:
        out = []
        for sid, it in list(self.iterators.items()):
            while True:
                response = self.kinesis.get_records(ShardIterator=it, Limit=10_000)
                it = response["NextShardIterator"]
                out += [json.loads(r["Data"]) for r in response["Records"]]
                if not response["Records"]:
                    break
            self.iterators[sid] = it
        return out


@dataclass
class Predictions:
    """Predictions seen so far, idempotent by tid (a redelivered batch re-emits the same tids)."""

    by_tid: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0

    def add(self, records: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        fresh = []
        for p in records:
            if p["tid"] in self.by_tid:
                self.duplicates += 1
                continue
            self.by_tid[p["tid"]] = p
            self.first_seen[p["tid"]] = now
            fresh.append(p)
        return fresh


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def emf_totals(log_path: Path) -> dict[str, float]:
    """Sum of every EMF metric a function printed to its log."""
    totals: dict[str, float] = {}
    if not log_path.exists():
        return totals
    for line in log_path.read_text(errors="replace").splitlines():
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except json.JSONDecodeError:
            continue
        for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = blob.get(metric["Name"], 0)
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                sum(value) if isinstance(value, list) else value
            )
    return totals


def dead_letters(layout: Layout) -> list[dict[str, Any]]:
    from local_aws.queue import LocalSQS

    return [
        json.loads(b)
        for b in LocalSQS(root=str(layout.runtime / "queues")).peek_all(layout.dead_letter_url())
    ]


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    poll_s: float = 0.1,
    check: Callable[[], None] | None = None,
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check:
            check()
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


# ------------------------------------------------------------------------------ demo


@dataclass
class DemoResult:
    sent: int
    send_seconds: float
    predictions: dict[str, dict[str, Any]]
    attack_tids: list[str]
    late: int
    engine_dead: int
    dead_letters: list[dict[str, Any]]
    metrics: dict[str, dict[str, float]]
    wall_seconds: float
    sent_tids: list[str] = field(default_factory=list)

    @property
    def unscored(self) -> list[str]:
        """Sent transactions with no prediction (late or dead-lettered ones included)."""
        return [t for t in self.sent_tids if t not in self.predictions]

    @property
    def attack_flagged(self) -> int:
        return sum(1 for t in self.attack_tids if self.predictions.get(t, {}).get("fraud"))

    @property
    def latencies(self) -> list[float]:
        return [p["event_to_prediction_ms"] for p in self.predictions.values()]

    def summary(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "transactions_sent": self.sent,
            "predictions": len(self.predictions),
            "late": self.late,
            "engine_dead_letters": self.engine_dead,
            "frauds_flagged": sum(1 for p in self.predictions.values() if p["fraud"]),
            "attack_transactions": len(self.attack_tids),
            "attack_flagged": self.attack_flagged,
            "attack_caught": self.attack_flagged > 0,
            "latency_ms_p50": percentile(lat, 50),
            "latency_ms_p99": percentile(lat, 99),
            "throughput_tx_per_s": len(self.predictions) / self.wall_seconds if self.wall_seconds else 0.0,
            "dead_letters": len(self.dead_letters),
            "metrics": self.metrics,
        }


def live_table(recent: list[dict[str, Any]], stats: dict[str, Any], attack: set[str]) -> Any:
    from rich.table import Table

    table = Table(
        title=(
            f"predictions: {stats['predictions']:,} of {stats['sent']:,} sent   "
            f"frauds flagged: {stats['frauds']:,}   attack flagged: {stats['attack']}/{len(attack)}"
        ),
        expand=False,
    )
    for column in ("time", "card", "amount", "10m", "1w", "p(fraud)", "verdict", "ms"):
        table.add_column(column, justify="left" if column in ("time", "verdict") else "right")
    for p in recent[-15:]:
        f = p["features"]
        verdict = "[bold red]FRAUD[/]" if p["fraud"] else "ok"
        if p["tid"] in attack:
            verdict += " (attack)"
        table.add_row(
            p["trans_ts"][11:23],
            f"…{str(p['cc_num'])[-4:]}",
            f"{p['amount']:,.2f}",
            str(f["num_trans_last_10m"]),
            str(f["num_trans_last_1w"]),
            f"{p['probability']:.3f}",
            verdict,
            f"{p['event_to_prediction_ms']:,.0f}",
        )
    return table


@dataclass(frozen=True)
class ScenarioTarget:
    """Where a scenario runs: the profile's Kinesis client, its stream names and how to read what came out.

    The local profile's, the localstack profile's and a deployed stack's (deploy.smoke) differ only here.
    """

    kinesis: Any
    transactions: str
    predictions: str
    late: str
    engine_dead: str | None = None  # the local engines' dead-letter stream (the Flink app has none)
    dead_letters: Callable[[], list[dict[str, Any]]] = list
    metrics: Callable[[], dict[str, dict[str, float]]] = dict
    check: Callable[[], None] | None = None
    start: str = "TRIM_HORIZON"  # LATEST on a stream that already holds other runs' records
    linger_s: float | None = None  # the sender's batching window (None: simulator.stream's default)


def run_scenario(
    layout: Layout,
    background_rate: float,
    seed: int,
    console: Any,
    drain_timeout_s: float = 60.0,
    processes: Processes | None = None,
    already_sent: int = 0,
) -> DemoResult:
    """Stream the attack scenario through the local profile's running processes (see stream_scenario)."""
    target = ScenarioTarget(
        kinesis(layout),
        TRANSACTIONS,
        PREDICTIONS,
        LATE,
        ENGINE_DEAD,
        dead_letters=lambda: dead_letters(layout),
        metrics=lambda: {name: emf_totals(layout.logs / f"{name}.log") for name in FUNCTIONS},
        check=processes.check if processes else None,
    )
    return stream_scenario(
        target, layout.history, background_rate, seed, console, drain_timeout_s, already_sent
    )


def stream_scenario(
    target: ScenarioTarget,
    history: Path,
    background_rate: float,
    seed: int,
    console: Any,
    drain_timeout_s: float = 60.0,
    already_sent: int = 0,
) -> DemoResult:
    """Stream the seed's attack scenario (cards from `history`), showing predictions live.

    Waits until every transaction came out (predicted, late or dead-lettered) or `drain_timeout_s`
    after the last one was sent. `already_sent`: transactions put on the stream before, to wait for too.
    """
    import numpy as np
    from rich.live import Live

    from simulator.stream import TxFactory, attack_scenario, known_cards, read_history, send

    stream = target.kinesis
    factory = TxFactory(known_cards(read_history(history)), np.random.default_rng(seed))
    tails = [
        StreamTail(stream, name, target.start)
        for name in (target.predictions, target.late, target.engine_dead)
        if name
    ]
    tail, late_tail, dead_tail = tails[0], tails[1], (tails[2] if len(tails) > 2 else None)
    schedule = attack_scenario(factory, time.time() + 0.5, background_rate)
    attack = [tx.tid for _, tx in schedule if tx.fraud]
    report_box: dict[str, Any] = {}
    linger = {} if target.linger_s is None else {"linger_s": target.linger_s}

    def produce() -> None:
        try:
            report_box["report"] = send(schedule, stream, target.transactions, **linger)
        except Exception as err:  # surfaced by the main thread
            report_box["error"] = err

    seen, recent, late, dead = Predictions(), [], 0, 0
    started = time.time()
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    attack_set = set(attack)

    def stats() -> dict[str, Any]:
        return {
            "predictions": len(seen.by_tid),
            "sent": report_box["report"].sent if "report" in report_box else len(schedule),
            "frauds": sum(1 for p in seen.by_tid.values() if p["fraud"]),
            "attack": sum(1 for t in attack if seen.by_tid.get(t, {}).get("fraud")),
        }

    with Live(live_table(recent, stats(), attack_set), console=console, refresh_per_second=8) as live:
        deadline = None
        while True:
            if target.check:
                target.check()
            now = time.time()
            recent += seen.add(tail.read(), now)
            late += len(late_tail.read())
            dead += len(dead_tail.read()) if dead_tail else 0
            live.update(live_table(recent, stats(), attack_set))
            if "error" in report_box:
                raise report_box["error"]
            if "report" in report_box:
                deadline = deadline or now + drain_timeout_s
                if (
                    len(seen.by_tid) + late + dead >= report_box["report"].sent + already_sent
                    or now > deadline
                ):
                    break
            time.sleep(0.1)
    report = report_box["report"]
    wall = max(seen.first_seen.values(), default=started) - started
    return DemoResult(
        report.sent,
        report.seconds,
        seen.by_tid,
        attack,
        late,
        dead,
        target.dead_letters(),
        target.metrics(),
        wall,
        sent_tids=[tx.tid for _, tx in schedule[: report.sent]],
    )


def print_summary(console: Any, result: DemoResult) -> None:
    from rich.table import Table

    s = result.summary()
    table = Table(title="summary", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    caught = "[bold green]yes[/]" if s["attack_caught"] else "[bold red]NO[/]"
    rows = [
        ("transactions sent", f"{s['transactions_sent']:,}"),
        ("predictions", f"{s['predictions']:,}"),
        ("late / engine dead letters", f"{s['late']:,} / {s['engine_dead_letters']:,}"),
        ("frauds flagged", f"{s['frauds_flagged']:,}"),
        (
            "attack caught",
            f"{caught} ({s['attack_flagged']}/{s['attack_transactions']} attack transactions flagged)",
        ),
        ("event-to-prediction p50 / p99", f"{s['latency_ms_p50']:,.0f} ms / {s['latency_ms_p99']:,.0f} ms"),
        ("throughput", f"{s['throughput_tx_per_s']:,.0f} transactions/s (offered by the scenario)"),
        ("dead-letter queue", f"{s['dead_letters']:,} message(s)"),
    ]
    for name, totals in s["metrics"].items():
        rows.append(
            (f"{name} metrics (EMF)", ", ".join(f"{k} {v:,.0f}" for k, v in sorted(totals.items())) or "none")
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        "[dim]Latency includes the engine's allowed out-of-orderness "
        "(features.definition.STREAM, the streaming path's latency floor).[/]"
    )


def run_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    layout = Layout(args.data)
    t0 = time.monotonic()

    def step(message: str, fn: Callable[[], Any]) -> Any:
        started = time.monotonic()
        with console.status(message):
            out = fn()
        console.print(f"[green]✓[/] {message} ({time.monotonic() - started:.1f} s)")
        return out

    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)
    step(
        f"generate a history of {args.transactions:,} transactions on {args.cards:,} cards",
        lambda: generate_history(layout, args.cards, args.transactions, start, end, args.seed),
    )
    step("aggregate it with the batch job (DuckDB)", lambda: aggregate(layout))
    step("train the model (XGBoost)", lambda: train(layout))
    step(
        "start a fresh local runtime (streams, dead-letter queue, feature store)",
        lambda: reset_runtime(layout),
    )
    loaded = step(
        f"load {BATCH_GROUP} with the latest daily snapshots",
        lambda: feature_store(layout).load_parquet(BATCH_GROUP, layout.features / "online"),
    )
    console.print(f"  {loaded:,} card records online")
    with Processes(layout, engine_args=["--idle-flush-s", str(args.idle_flush_s)]) as processes:
        console.print(
            "[green]✓[/] engine, ingest and score running; streaming the attack scenario "
            f"(3 ordinary cards, then 10 quick transactions on a fourth; {args.background_rate:g}/s background)"
        )
        result = run_scenario(layout, args.background_rate, args.seed, console, processes=processes)
    print_summary(console, result)
    (layout.root / "demo-summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
    console.print(
        f"total {time.monotonic() - t0:.0f} s; summary in {layout.root / 'demo-summary.json'}, "
        f"function logs in {layout.logs}"
    )
    return 0 if result.summary()["attack_caught"] else 1


# ------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m profiles.local",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on the local profile with a fraud attack",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--data", type=Path, default=Path("data/demo"), help="folder for everything the demo writes"
    )
    demo.add_argument("--cards", type=int, default=1000, help="cards in the generated history")
    demo.add_argument(
        "--transactions", type=int, default=200_000, help="transactions in the generated history"
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed")
    demo.add_argument(
        "--background-rate", type=float, default=50.0, help="background transactions per second"
    )
    demo.add_argument(
        "--idle-flush-s",
        type=float,
        default=1.0,
        help="engine: release buffered rows after this many idle seconds",
    )
    fn = sub.add_parser("function", help="(internal) run one function behind the local event source mapping")
    fn.add_argument("name", choices=FUNCTIONS)
    fn.add_argument("--data", type=Path, required=True)
    fn.add_argument("--batch-size", type=int, default=ESM_BATCH_SIZE)
    args = parser.parse_args(argv)
    try:
        if args.command == "function":
            return serve_function(args.name, Layout(args.data), args.batch_size)
        return run_demo(args)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
