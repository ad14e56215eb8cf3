"""python -m profiles.replay: replay a test period through the local pipeline and check parity.

1. generate a history, aggregate it with the batch job, train on the period before the test
   period (the model's offline evaluation is on the test period);
2. bootstrap cc-agg-batch-fg with the daily snapshots up to the test period's first midnight;
3. replay the test period day by day through the running pipeline (engine -> aggregates stream
   -> ingest and score), loading each day's snapshot at its midnight as the daily batch job
   would, after the previous day's transactions are all scored;
4. compare, per transaction, the features the score function served with the batch job's
   training row (1e-9 relative), reporting same-timestamp peers apart (same card, same event
   time), and the as-served ROC AUC / PR AUC with the offline evaluation's.

Writes REPORT.md and REPORT.json under --data; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from features.definition import EVENT_TIME_FEATURE, MODEL_INPUT, SOURCE
from features.feature_groups import group_for, record_features
from profiles.local import (
    BATCH_GROUP,
    ENGINE_DEAD,
    LATE,
    PREDICTIONS,
    TRANSACTIONS,
    Layout,
    Predictions,
    Processes,
    StreamTail,
    aggregate,
    dead_letters,
    feature_store,
    generate_history,
    kinesis,
    reset_runtime,
    train,
    wait_for,
)

RELATIVE_TOLERANCE = 1e-9
PR_AUC_TOLERANCE = 0.005
DAY_MS = 86_400_000


def same(a: float, b: float, rel: float = RELATIVE_TOLERANCE) -> bool:
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def aucs(labels: Sequence[int], scores: Sequence[float]) -> tuple[float, float]:
    """(ROC AUC, PR AUC) exactly as the training job's offline evaluation computes them."""
    from jobs.training.evaluate import pr_auc, roc_auc

    y, s = np.asarray(labels), np.asarray(scores)
    roc, pr = roc_auc(y, s), pr_auc(y, s)
    return (float("nan") if roc is None else roc), (float("nan") if pr is None else pr)


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


def parity(
    training: pa.Table, history: pa.Table, replay: Replay, start_ms: int, end_ms: int
) -> dict[str, Any]:
    """Served features vs the batch job's, per transaction of the test period."""
    event_ms = pc.cast(training[SOURCE.event_time].cast(pa.timestamp("ms", tz="UTC")), pa.int64())
    in_period = pc.and_(pc.greater_equal(event_ms, start_ms), pc.less(event_ms, end_ms))
    batch = training.filter(in_period).to_pylist()
    # same-timestamp peers: another transaction of the card at the same event time, anywhere in the history
    keys = pa.table(
        {
            "k": pc.binary_join_element_wise(
                pc.cast(history["cc_num"], pa.string()), pc.cast(history["event_ms"], pa.string()), "|"
            )
        }
    )
    counts = keys.group_by("k").aggregate([("k", "count")])
    peers = set(counts.filter(pc.greater(counts["k_count"], 1))["k"].to_pylist())
    matched, mismatches, missing = 0, [], []
    peers_matched, peers_mismatched = 0, []
    labels, scores, offline_rows = [], [], []
    for row in batch:
        served = replay.predictions.get(row[SOURCE.id_column])
        if served is None:
            missing.append(row[SOURCE.id_column])
            continue
        labels.append(row[SOURCE.label_column])
        scores.append(served["probability"])
        offline_rows.append([row[n] for n in MODEL_INPUT])
        diffs = {
            n: {"served": served["features"][n], "batch": row[n]}
            for n in MODEL_INPUT
            if not same(served["features"][n], row[n])
        }
        entry = {
            "tid": row[SOURCE.id_column],
            "cc_num": row[SOURCE.entity],
            "trans_ts": str(row[SOURCE.event_time]),
            "diffs": diffs,
        }
        if f"{row[SOURCE.entity]}|{round(row[SOURCE.event_time].timestamp() * 1000)}" in peers:
            if diffs:
                peers_mismatched.append(entry)
            else:
                peers_matched += 1
        elif diffs:
            mismatches.append(entry)
        else:
            matched += 1
    return {
        "transactions": len(batch),
        "compared": len(batch) - len(missing),
        "matched": matched,
        "mismatches": mismatches,
        "missing": missing,
        "same_timestamp_peers": {"matched": peers_matched, "mismatched": peers_mismatched},
        "labels": labels,
        "scores": scores,
        "offline_rows": offline_rows,
    }


def write_report(layout: Layout, result: dict[str, Any]) -> Path:
    r = result
    lines = [
        "# Replay parity report",
        "",
        f"Test period {r['period'][0]} to {r['period'][1]}: {r['sent']:,} transactions replayed in "
        f"{r['replay_seconds']:.1f} s through the local pipeline (engine, ingest, score).",
        "",
        "## Served features vs the batch job's (1e-9 relative)",
        "",
        "| | count |",
        "|---|---|",
        f"| transactions in the test period | {r['transactions']:,} |",
        f"| scored and compared | {r['compared']:,} |",
        f"| equal | {r['matched']:,} |",
        f"| mismatched (other than same-timestamp peers) | {len(r['mismatches']):,} |",
        f"| same-timestamp peers: equal / mismatched | {r['same_timestamp_peers']['matched']:,} / "
        f"{len(r['same_timestamp_peers']['mismatched']):,} |",
        f"| not scored (late / engine dead letters / missing) | {r['late']:,} / {r['engine_dead']:,} / "
        f"{len(r['missing']):,} |",
        "",
    ]
    if r["mismatches"]:
        lines += [
            "### Mismatches (first 50)",
            "",
            "| tid | cc_num | trans_ts | feature: served vs batch |",
            "|---|---|---|---|",
        ]
        for m in r["mismatches"][:50]:
            diffs = "; ".join(f"{n}: {d['served']!r} vs {d['batch']!r}" for n, d in m["diffs"].items())
            lines.append(f"| {m['tid']} | {m['cc_num']} | {m['trans_ts']} | {diffs} |")
        lines.append("")
    a = r["auc"]
    lines += [
        "## As served vs offline evaluation",
        "",
        "| metric | as served | offline | difference |",
        "|---|---|---|---|",
        f"| ROC AUC | {a['served_roc_auc']:.4f} | {a['offline_roc_auc']:.4f} | {a['served_roc_auc'] - a['offline_roc_auc']:+.4f} |",
        f"| PR AUC | {a['served_pr_auc']:.4f} | {a['offline_pr_auc']:.4f} | {a['served_pr_auc'] - a['offline_pr_auc']:+.4f} |",
        "",
        "Offline = the same model scoring the batch job's features of the same transactions. The training job's "
        f"own test-period evaluation reported ROC AUC {a['training_report_roc_auc']:.4f}, "
        f"PR AUC {a['training_report_pr_auc']:.4f}.",
        "",
        "## Targets",
        "",
        f"- parity (every compared transaction but same-timestamp peers equal): {'met' if r['parity_met'] else 'MISSED'}",
        f"- as-served PR AUC within {PR_AUC_TOLERANCE} of offline: {'met' if r['pr_auc_met'] else 'MISSED'}",
        "",
        f"Dead-letter queue: {r['dead_letters']:,} message(s) ({r['dead_letter_dispositions']}).",
        "",
    ]
    path = layout.root / "REPORT.md"
    path.write_text("\n".join(lines))
    hidden = ("labels", "scores", "offline_rows")
    (layout.root / "REPORT.json").write_text(
        json.dumps({k: v for k, v in r.items() if k not in hidden}, indent=2, default=str) + "\n"
    )
    return path


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    layout = Layout(args.data)
    log = console.print
    test_start = datetime.fromisoformat(args.test_start).replace(tzinfo=UTC)
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
    if not test_start < end:
        raise ValueError("--test-start must be before --end")
    replay_end = min(end, test_start + timedelta(days=args.days)) if args.days else end
    start_ms, end_ms = round(test_start.timestamp() * 1000), round(replay_end.timestamp() * 1000)

    t0 = time.monotonic()
    generate_history(layout, args.cards, args.transactions, datetime(2020, 1, 1, tzinfo=UTC), end, args.seed)
    aggregate(layout)
    train(layout, test_start=args.test_start)
    log(f"history, batch features and model ready ({time.monotonic() - t0:.0f} s)")
    reset_runtime(layout)
    from simulator.stream import read_history

    history = read_history(layout.history)
    snapshots = snapshots_table(layout)
    replay = replay_days(layout, history, snapshots, start_ms, end_ms, log)
    training = ds.dataset(layout.features / "training", format="parquet").to_table()
    result = parity(training, history, replay, start_ms, end_ms)
    # Offline figure on the same transactions: the model scoring the batch job's features in process.
    from local_aws.endpoint import Model

    offline_scores = Model.load(str(layout.model)).predict(
        np.asarray(result["offline_rows"], dtype=np.float64)
    )
    reported = json.loads((layout.model / "metrics.json").read_text())
    served_roc, served_pr = aucs(result["labels"], result["scores"])
    offline_roc, offline_pr = aucs(result["labels"], offline_scores)
    dispositions: dict[str, int] = {}
    for m in replay.dead_letters:
        dispositions[m.get("disposition", "on-failure")] = (
            dispositions.get(m.get("disposition", "on-failure"), 0) + 1
        )
    result |= {
        "period": [_iso(start_ms), _iso(end_ms)],
        "sent": replay.sent,
        "replay_seconds": replay.seconds,
        "late": len(replay.late),
        "engine_dead": len(replay.engine_dead),
        "dead_letters": len(replay.dead_letters),
        "dead_letter_dispositions": dispositions,
        "auc": {
            "served_roc_auc": served_roc,
            "served_pr_auc": served_pr,
            "offline_roc_auc": offline_roc,
            "offline_pr_auc": offline_pr,
            "training_report_roc_auc": _metric(reported, "roc_auc"),
            "training_report_pr_auc": _metric(reported, "pr_auc"),
        },
        "parity_met": not result["mismatches"] and not result["missing"],
        "pr_auc_met": abs(served_pr - offline_pr) <= PR_AUC_TOLERANCE,
    }
    path = write_report(layout, result)
    log(path.read_text())
    log(f"report: {path} ({time.monotonic() - t0:.0f} s)")
    return 0 if result["parity_met"] and result["pr_auc_met"] else 1


def _metric(metrics: dict[str, Any], name: str) -> float:
    """A figure of the training job's metrics.json (top level or under `test`); NaN when absent."""
    for scope in (metrics, metrics.get("test", {}), metrics.get("metrics", {})):
        if isinstance(scope, dict) and isinstance(scope.get(name), int | float):
            return float(scope[name])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m profiles.replay",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data", type=Path, default=Path("data/replay"), help="folder for everything the replay writes"
    )
    parser.add_argument("--cards", type=int, default=1000, help="cards in the generated history")
    parser.add_argument(
        "--transactions", type=int, default=200_000, help="transactions in the generated history"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument(
        "--test-start", default="2020-05-15", help="first day of the test period (UTC midnight)"
    )
    parser.add_argument("--end", default="2020-06-01", help="end of the history (exclusive)")
    parser.add_argument(
        "--days", type=int, default=0, help="replay only this many days of the test period (0 = all)"
    )
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (RuntimeError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
