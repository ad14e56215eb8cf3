"""python -m profiles.demo: the whole pipeline on the local profile, with a fraud attack.

generate a small history -> aggregate (DuckDB) -> train -> load cc-agg-batch-fg -> start the local
profile's processes -> stream the seed's attack scenario with background traffic -> live view of the
predictions -> summary (transactions, frauds flagged, the attack caught or not, event-to-prediction
latency p50/p99, throughput, dead letters). `stream_scenario` runs the same scenario against any
target (the localstack profile, a deployed stack: deploy.smoke).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from profiles.local import Processes
from profiles.steps import (
    BATCH_GROUP,
    ENGINE_DEAD,
    FUNCTIONS,
    LATE,
    PREDICTIONS,
    TRANSACTIONS,
    Layout,
    Predictions,
    StreamTail,
    add_history_arguments,
    aggregate,
    dead_letters,
    emf_totals,
    feature_store,
    generate_history,
    kinesis,
    percentile,
    reset_runtime,
    train,
)
from tools.cli import OneLineErrors


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
    parser = OneLineErrors(
        prog="python -m profiles.demo",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_history_arguments(parser, Path("data/demo"), "demo")
    parser.add_argument(
        "--background-rate", type=float, default=50.0, help="background transactions per second"
    )
    parser.add_argument(
        "--idle-flush-s",
        type=float,
        default=1.0,
        help="engine: release buffered rows after this many idle seconds",
    )
    args = parser.parse_args(argv)
    try:
        return run_demo(args)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
