"""python -m profiles.replay: replay a test period through the local pipeline and check parity.

1. generate a history (or take --history: Parquet, or the seed's CSV layout in any row order),
   aggregate it with the batch job, train on the period before the test period (the model's
   offline evaluation is on the test period);
2. bootstrap cc-agg-batch-fg with the daily snapshots up to the test period's first midnight;
3. replay the test period day by day through the running pipeline (engine -> aggregates stream
   -> ingest and score), loading each day's snapshot at its midnight as the daily batch job
   would, after the previous day's transactions are all scored;
4. write the predictions (predictions.ndjson) and run the consistency job on them
   (jobs.consistency): per transaction, the features the score function served against the batch
   job's training row (1e-9 relative), each mismatch's reason, and the as-served ROC AUC / PR AUC
   against the same model on the batch features.

Writes REPORT.md and consistency.json (the job's) and replay.json under --data; exits 1 when a
target is missed: a served transaction neither equal nor explained, or the as-served PR AUC more
than PR_AUC_TOLERANCE from the offline one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from features.definition import EVENT_TIME_FEATURE, SOURCE, aggregates_of_kind
from features.feature_groups import group_for, record_features
from profiles.local import Processes
from profiles.steps import (
    BATCH_GROUP,
    ENGINE_DEAD,
    LATE,
    PREDICTIONS,
    TRANSACTIONS,
    Layout,
    Predictions,
    StreamTail,
    add_history_arguments,
    aggregate,
    dead_letters,
    feature_store,
    generate_history,
    kinesis,
    reset_runtime,
    train,
    wait_for,
)
from tools.cli import OneLineErrors

PR_AUC_TOLERANCE = 0.005
DEFAULT_TEST_START = "2020-05-15"
DAY_MS = 86_400_000


@dataclass
class Replay:
    sent: int
    seconds: float
    predictions: dict[str, dict[str, Any]]
    late: list[dict[str, Any]]
    engine_dead: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]


def snapshots_table(layout: Layout) -> pa.Table:
    """The batch job's daily snapshots: cc-agg-batch-fg records, one per card per UTC midnight."""
    columns = [f.name for f in record_features(group_for("daily_snapshot"))]
    return ds.dataset(layout.features / "snapshots", format="parquet").to_table(columns=columns)


def replay_days(
    layout: Layout,
    history: pa.Table,
    snapshots: pa.Table,
    start_ms: int,
    end_ms: int,
    log: Any,
    drain_timeout_s: float = 120.0,
) -> Replay:
    """Bootstrap the batch group, then per day: load its snapshot, send its transactions, drain."""
    from simulator.stream import history_transactions, replay_schedule, send

    store = feature_store(layout)
    times = snapshots[EVENT_TIME_FEATURE]
    loaded = store.load_table(BATCH_GROUP, snapshots.filter(pc.less_equal(times, start_ms / 1000)))
    log(f"bootstrapped {BATCH_GROUP} with {loaded:,} snapshot records up to {_iso(start_ms)}")
    stream = kinesis(layout)
    tails = {name: StreamTail(stream, name) for name in (PREDICTIONS, LATE, ENGINE_DEAD)}
    seen, late, dead = Predictions(), [], []
    sent, started = 0, time.time()

    def drained() -> bool:
        seen.add(tails[PREDICTIONS].read(), time.time())
        late.extend(tails[LATE].read())
        dead.extend(tails[ENGINE_DEAD].read())
        return len(seen.by_tid) + len(late) + len(dead) >= sent

    with Processes(layout, engine_args=["--idle-flush-s", "0.3"]) as processes:
        for day in range(start_ms, end_ms, DAY_MS):
            if day > start_ms:  # the daily batch job publishes midnight `day`'s snapshot
                store.load_table(BATCH_GROUP, snapshots.filter(pc.equal(times, day / 1000)))
            txs = history_transactions(history, day, min(day + DAY_MS, end_ms))
            sent += send(replay_schedule(txs, speed=0, start_s=0), stream, TRANSACTIONS).sent
            if not wait_for(drained, drain_timeout_s, poll_s=0.05, check=processes.check):
                raise RuntimeError(
                    f"day {_iso(day)} not drained in {drain_timeout_s:.0f} s: "
                    f"{len(seen.by_tid) + len(late) + len(dead):,} of {sent:,} transactions out"
                )
            log(f"  {_iso(day)[:10]}: {sent:,} transactions replayed, {len(seen.by_tid):,} scored")
    return Replay(sent, time.time() - started, seen.by_tid, late, dead, dead_letters(layout))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------ any history (HISTORY=)

# Days of history the test period needs before it: a complete 1-week snapshot, then as many days of
# training rows that carry one.
MIN_DAYS_BEFORE = 2 * max(a.window.length_days for a in aggregates_of_kind("daily_snapshot"))


def history_period(path: Path, test_start: str | None, test_days: int) -> tuple[pa.Table, int, int]:
    """A history file (Parquet, or the seed's CSV in any row order) and its test period [start, end) in ms.

    The period ends at the midnight after the last transaction; it starts at `test_start`, else
    `test_days` before that end. ValueError (one line) without labels or without MIN_DAYS_BEFORE
    days of history before the period.
    """
    from simulator.stream import read_history

    try:
        history = read_history(path)
    except ValueError as err:
        if SOURCE.label_column in str(err):
            raise ValueError(
                f"{path}: no {SOURCE.label_column} column; the replay trains and evaluates on labelled transactions"
            ) from None
        raise
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{path}: not a readable history ({str(err).splitlines()[0]})") from None
    if history.num_rows == 0:
        raise ValueError(f"{path}: no transactions")
    unlabelled = history["fraud_label"].null_count
    if unlabelled:
        raise ValueError(f"{path}: {unlabelled:,} transactions without a {SOURCE.label_column}")
    first, last = pc.min(history["event_ms"]).as_py(), pc.max(history["event_ms"]).as_py()
    end_ms = (last // DAY_MS + 1) * DAY_MS
    if test_start:
        start_ms = round(datetime.fromisoformat(test_start).replace(tzinfo=UTC).timestamp() * 1000)
    else:
        start_ms = end_ms - test_days * DAY_MS
    if not start_ms < end_ms:
        raise ValueError(f"{path}: the test period starts {_iso(start_ms)}, after the last transaction")
    days_before = (start_ms - first) / DAY_MS
    if days_before < MIN_DAYS_BEFORE:
        raise ValueError(
            f"{path}: {max(days_before, 0):.1f} days of history before the test period ({_iso(start_ms)}); "
            f"at least {MIN_DAYS_BEFORE} are needed: a longer history or a later --test-start"
        )
    return history, start_ms, end_ms


def batch_and_model(layout: Layout, history_path: Path, start_ms: int) -> None:
    """The batch job over the history file as given (DuckDB reads the CSV layout too), then training."""
    from jobs.aggregate import JobError
    from jobs.aggregate import run as aggregate_file

    try:
        aggregate_file("duckdb", str(history_path), str(layout.features), log=lambda *_: None)
    except JobError as err:
        raise ValueError(str(err)) from None
    train(layout, test_start=_iso(start_ms)[:10])


def consistency_report(
    layout: Layout, replay: Replay, start_ms: int, end_ms: int, log: Any
) -> dict[str, Any]:
    """The served predictions to a file, then the consistency job on them (REPORT.md, consistency.json)."""
    from jobs.consistency.job import run as consistency

    predictions = layout.root / "predictions.ndjson"
    with predictions.open("w") as out:
        for record in replay.predictions.values():
            out.write(json.dumps(record) + "\n")
    reported = json.loads((layout.model / "metrics.json").read_text())
    dispositions: dict[str, int] = {}
    for m in replay.dead_letters:
        kind = m.get("disposition", "on-failure")
        dispositions[kind] = dispositions.get(kind, 0) + 1
    context = {
        "period": [_iso(start_ms), _iso(end_ms)],
        "sent": replay.sent,
        "replay_seconds": round(replay.seconds, 1),
        "scored": len(replay.predictions),
        "late": len(replay.late),
        "engine_dead": len(replay.engine_dead),
        "dead_letters": len(replay.dead_letters),
        "dead_letter_dispositions": dispositions,
        "training_report_roc_auc": _metric(reported, "roc_auc"),
        "training_report_pr_auc": _metric(reported, "pr_auc"),
    }
    notes = [
        f"Replay of the test period {context['period'][0]} to {context['period'][1]}: {replay.sent:,} transactions "
        f"sent through the local pipeline (engine, ingest, score) in {replay.seconds:.1f} s; "
        f"{len(replay.predictions):,} scored, {len(replay.late):,} late, {len(replay.engine_dead):,} engine dead "
        f"letters; dead-letter queue {len(replay.dead_letters):,} ({dispositions}). The training job's own "
        f"test-period evaluation: ROC AUC {context['training_report_roc_auc']:.4f}, "
        f"PR AUC {context['training_report_pr_auc']:.4f}.",
    ]
    result = consistency(
        "duckdb",
        str(predictions),
        str(layout.features),
        str(layout.model / "model.tar.gz"),
        str(layout.root),
        max_unexplained=0.0,
        log=log,
        notes=notes,
    )
    (layout.root / "replay.json").write_text(json.dumps(context, indent=2) + "\n")
    return result | {"replay": context}


def targets(result: dict[str, Any]) -> dict[str, bool]:
    """Every served transaction equal or explained; as-served PR AUC within PR_AUC_TOLERANCE of offline."""
    difference = result["auc"]["pr_auc_difference"]
    return {
        "explained": result["unexplained_share"] == 0,
        "pr_auc": difference is not None and abs(difference) <= PR_AUC_TOLERANCE,
    }


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    layout = Layout(args.data)
    log = console.print
    t0 = time.monotonic()
    if args.history:
        layout.root.mkdir(parents=True, exist_ok=True)
        history, start_ms, end_ms = history_period(args.history, args.test_start, args.test_days)
        if args.days:
            end_ms = min(end_ms, start_ms + args.days * DAY_MS)
        batch_and_model(layout, args.history, start_ms)
    else:
        test_start = datetime.fromisoformat(args.test_start or DEFAULT_TEST_START).replace(tzinfo=UTC)
        end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
        if not test_start < end:
            raise ValueError("--test-start must be before --end")
        replay_end = min(end, test_start + timedelta(days=args.days)) if args.days else end
        start_ms, end_ms = round(test_start.timestamp() * 1000), round(replay_end.timestamp() * 1000)
        generate_history(
            layout, args.cards, args.transactions, datetime(2020, 1, 1, tzinfo=UTC), end, args.seed
        )
        aggregate(layout)
        train(layout, test_start=test_start.strftime("%Y-%m-%d"))
        from simulator.stream import read_history

        history = read_history(layout.history)
    log(f"history, batch features and model ready ({time.monotonic() - t0:.0f} s)")
    reset_runtime(layout)
    snapshots = snapshots_table(layout)
    replay = replay_days(layout, history, snapshots, start_ms, end_ms, log)
    result = consistency_report(layout, replay, start_ms, end_ms, log)
    met = targets(result)
    log((layout.root / "REPORT.md").read_text())
    log(
        f"targets: every served transaction equal or explained {'met' if met['explained'] else 'MISSED'}; "
        f"as-served PR AUC within {PR_AUC_TOLERANCE} of offline {'met' if met['pr_auc'] else 'MISSED'}"
    )
    log(
        f"report: {layout.root / 'REPORT.md'}, {layout.root / 'consistency.json'} ({time.monotonic() - t0:.0f} s)"
    )
    return 0 if all(met.values()) else 1


def _metric(metrics: dict[str, Any], name: str) -> float:
    """A figure of the training job's metrics.json (top level or under `test`); NaN when absent."""
    for scope in (metrics, metrics.get("test", {}), metrics.get("metrics", {})):
        if isinstance(scope, dict) and isinstance(scope.get(name), int | float):
            return float(scope[name])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m profiles.replay",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_history_arguments(parser, Path("data/replay"), "replay")
    parser.add_argument(
        "--history",
        type=Path,
        default=None,
        help="replay this history (Parquet, or the seed's CSV layout) instead of generating one",
    )
    parser.add_argument(
        "--test-start",
        default=None,
        help=f"first day of the test period (UTC midnight; default {DEFAULT_TEST_START}, or with "
        "--history --test-days before its end)",
    )
    parser.add_argument(
        "--test-days", type=int, default=7, help="with --history and no --test-start: days in the test period"
    )
    parser.add_argument("--end", default="2020-06-01", help="end of the history (exclusive)")
    parser.add_argument(
        "--days", type=int, default=0, help="replay only this many days of the test period (0 = all)"
    )
    args = parser.parse_args(argv)
    if args.test_days < 1 or args.days < 0:
        parser.error("--test-days must be at least 1 and --days at least 0")
    try:
        return run(args)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
