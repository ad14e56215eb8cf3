"""python -m jobs.aggregate: the batch aggregation job.

Reads a transaction history (Parquet, or the seed's CSV layout) and, with --live, the transactions
the stream has carried since (unlabeled: features only), computes every feature of the
definition with point-in-time correctness, and writes under DIR, as Parquet:
  training/   every transaction with its features and label (the training table)
  snapshots/  the daily 1-week snapshots per card (cc-agg-batch-fg offline-store rows)
  online/     the latest snapshot per card (cc-agg-batch-fg online-store rows)
  _SUCCESS    a JSON manifest, written last
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from features import batch_sql
from jobs.batch import engines, output, source
from jobs.batch.compat import UTC, parse_zoned_time, zip_strict
from tools.cli import OneLineErrors


class JobError(RuntimeError):
    """Ends the job with one line for the user."""


def input_format(path: str) -> str:
    name = path.rstrip("/").lower()
    if name.endswith(".csv"):
        return "csv"
    # A remote prefix is taken for a Parquet dataset, as Spark's reader takes it.
    if name.endswith(".parquet") or output.is_remote(path) or Path(path).is_dir():
        return "parquet"
    raise JobError(f"{path}: unknown input format (expected .parquet, .csv or a directory of Parquet files)")


def check_input(path: str) -> str:
    if not output.is_remote(path):
        p = Path(path)
        if not p.exists():
            raise JobError(f"{path}: no such file or directory")
        if p.is_file() and p.stat().st_size == 0:
            raise JobError(f"{path}: empty file")
        if p.is_dir() and not any(p.rglob("*.parquet")):
            raise JobError(f"{path}: directory holds no Parquet files")
    return input_format(path)


def run(
    engine: str,
    input_path: str,
    output_dir: str,
    log=print,
    after: Callable[[engines.Engine], None] | None = None,
    live: str | None = None,
    live_until: datetime | None = None,
    **engine_options,
) -> dict:
    """Run the job; returns the manifest. Raises JobError with a one-line message on bad input.

    `after(engine)` runs once the outputs are published, before the engine closes (the daily
    refresh reads `online/` back with it). `live`: the live archive (the transactions the stream
    carried since the history was written, unlabeled), added to the history; see jobs.batch.source.
    `live_until`: only its transactions before this time (the refresh's last UTC midnight: the
    archive already holds some of the day it runs in, whose snapshot is the next run's).
    """
    input_path, output_dir = str(input_path), str(output_dir)
    paths = [input_path, output_dir, *([live] if live else [])]
    if engine == "duckdb" and any(output.is_remote(p) for p in paths):
        raise JobError(
            "the duckdb engine reads and writes local paths only; use --engine spark for object stores"
        )
    fmt = check_input(input_path)
    # Remote, an absent prefix is a deployment's first day; local, an absent path is a mistake.
    if live and not output.is_remote(live) and not Path(live).exists():
        raise JobError(f"{live}: no such file or directory")
    started = time.perf_counter()
    try:
        eng = engines.create(engine, **engine_options)
    except engines.EngineError as err:
        raise JobError(str(err)) from err
    try:
        mapping = source.resolve_columns(eng.register_raw(input_path, fmt), input_path)
        until_ms = None if live_until is None else round(live_until.timestamp() * 1000)
        counts = _register_live(eng, live, until_ms) if live else LiveCounts()
        live_rows = counts.kept
        typed = source.typed_select(eng.dialect, mapping)
        if live_rows:
            typed = f"{typed}\nUNION ALL\n{source.valid_live('live', eng.dialect, until_ms)}"
        eng.create_view("transactions", typed)
        # `tx` (the typed rows, materialized) is built first without the per-tid ranking, the
        # costliest step of the Spark job, and validated: the checks read it instead of scanning
        # the input again, while the later views are built on it. Only when a tid repeats is all
        # of it built again, with the ranking.
        (tx, tx_select), *later = batch_sql.statements(eng.dialect, dedup=False, hints=eng.hints)
        eng.create_view(tx, tx_select, reuse=True)
        summary, _ = _together(
            eng.concurrent,
            partial(
                source.check,
                eng.fetch_one,
                eng.dialect,
                mapping,
                input_path,
                relation=tx,
                hints=eng.hints,
                unlabeled=live_rows,
            ),
            partial(_create_views, eng, later),
        )
        total, dedup = summary.rows, not summary.unique_ids
        if live:
            log(
                f"[{engine}] live: {live_rows:,} transactions read from {live}"
                + (
                    f", {counts.invalid:,} invalid left out (the stream dead-letters them)"
                    if counts.invalid
                    else ""
                )
                + (
                    f", {counts.later:,} from {live_until.isoformat()} on left for the next run"
                    if counts.later
                    else ""
                )
            )
        log(
            f"[{engine}] {total:,} transactions read from {input_path}"
            + (f" and the live archive ({live_rows:,} unlabeled)" if live else "")
            + ("" if dedup else ", no repeated tid")
        )
        if dedup:
            _create_views(eng, batch_sql.statements(eng.dialect, dedup=True, hints=eng.hints))
        with output.staged(output_dir) as staging:
            writes = (
                partial(eng.write_parquet, view, f"{staging.rstrip('/')}/{view}")
                for view in batch_sql.OUTPUT_VIEWS
            )
            rows = dict(zip_strict(batch_sql.OUTPUT_VIEWS, _together(eng.concurrent, *writes)))
            for view, count in rows.items():
                log(f"[{engine}] {view}: {count:,} rows")
            manifest = {
                "engine": engine,
                "input": input_path,
                "input_rows": total,
                "live": {
                    "input": live,
                    "rows": live_rows,
                    "invalid": counts.invalid,
                    "later": counts.later,
                    "until": None if live_until is None else live_until.isoformat(),
                }
                if live
                else None,
                "rows": rows,
                # of the SQL that ran: the rendered statements with the engine's hints
                "sql_sha256": hashlib.sha256(
                    batch_sql.script(eng.dialect, dedup, eng.hints).encode()
                ).hexdigest(),
                "dedup": dedup,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 2),
            }
            output.write_manifest(staging, manifest, eng.write_text)
        if after is not None:
            after(eng)
    except (source.InputError, engines.EngineError) as err:
        raise JobError(str(err)) from err
    finally:
        eng.close()
    return manifest


@dataclass(frozen=True)
class LiveCounts:
    kept: int = 0  # valid and before the cut-off: added to the history
    invalid: int = 0  # what the streaming job dead-letters
    later: int = 0  # valid, at or after the cut-off: the next run's


def _register_live(eng: engines.Engine, path: str, until_ms: int | None) -> LiveCounts:
    """The live archive at `path`, typed as the materialized view `live`, counted."""
    if not eng.register_live(path, [c.name for c in source.LIVE_COLUMNS]):
        return LiveCounts()
    eng.create_view("live", source.live_select(eng.dialect), reuse=True)
    rows, invalid, later = (
        n or 0 for n in eng.fetch_one(source.live_counts_query("live", eng.dialect, until_ms))
    )
    return LiveCounts(rows - invalid - later, invalid, later)


def _create_views(eng: engines.Engine, statements: list[tuple[str, str]]) -> None:
    for name, select in statements:
        eng.create_view(name, select, reuse=name in batch_sql.REUSED_VIEWS)


def _together(concurrent: bool, *calls: Callable[[], Any]) -> list[Any]:
    """The calls' results, in order; run at once when the engine can (all end before an error is raised)."""
    if not concurrent:
        return [call() for call in calls]
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def utc_time(text: str) -> datetime:
    """--live-until's type: an ISO 8601 time with its zone (Z or an offset), as an aware datetime."""
    try:
        return parse_zoned_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time with a zone (e.g. 2026-12-07T00:00:00Z)"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m jobs.aggregate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="duckdb: embedded, one machine (default); spark: PySpark, local[*] or under spark-submit",
    )
    parser.add_argument(
        "--input",
        required=True,
        help="history: .parquet file or directory, or .csv (seed layout); s3:// with spark",
    )
    parser.add_argument(
        "--live",
        help="live archive to add: transaction records as *.json.gz lines (the transactions stream's "
        "Firehose archive), unlabeled; s3:// with spark",
    )
    parser.add_argument(
        "--live-until",
        type=utc_time,
        help="add only live transactions before this time (ISO 8601, e.g. 2026-12-07T00:00:00Z)",
    )
    parser.add_argument("--output", required=True, help="output directory (replaced atomically when local)")
    parser.add_argument("--master", help="Spark master (default local[*] unless run by spark-submit)")
    args = parser.parse_args(argv)
    options = {"master": args.master} if args.engine == "spark" and args.master else {}
    try:
        manifest = run(
            args.engine, args.input, args.output, live=args.live, live_until=args.live_until, **options
        )
    except JobError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"[{args.engine}] done in {manifest['seconds']} s -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
