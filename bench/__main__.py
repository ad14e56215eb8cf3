"""python -m bench [suite ...]: run the benchmark suites, print a table, write BENCHMARKS.md."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

import bench
from bench.core import Result, Suite, machine
from tools.cli import OneLineErrors

HEADERS = ["suite", "measurement", "value", "target", "met", "baseline (same run)"]


def discover() -> dict[str, Suite]:
    suites = {}
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name in {"core", "__main__"}:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        suite = getattr(module, "SUITE", None)
        if isinstance(suite, Suite):
            suites[suite.name] = suite
    return suites


def kept_rows(path: Path, rerun: set[str]) -> list[str]:
    """Table rows of an earlier BENCHMARKS.md whose suite was not run again."""
    if not path.exists():
        return []
    rows = [
        line
        for line in path.read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| suite |")
    ]
    return [row for row in rows if row.split("|")[1].strip() not in rerun]


def markdown(results: list[Result], started: datetime, seconds: float, load: float, kept: list[str]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (python -m bench); do not edit by hand.",
        "",
        f"- Machine: {machine()}",
        f"- Run: {started:%Y-%m-%d %H:%M} UTC, {seconds:.0f} s, load average at start {load:.1f}"
        + (" (rows of suites not run this time are kept from the previous run)" if kept else ""),
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += sorted(
        kept + ["| " + " | ".join(r.row()) + " |" for r in results], key=lambda row: row.split("|")[1]
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    suites = discover()
    parser = OneLineErrors(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suites", nargs="*", help=f"suites to run (default: all of {', '.join(sorted(suites))})"
    )
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="markdown file to write")
    parser.add_argument("--update", action="store_true", help="keep the rows of suites not run this time")
    args = parser.parse_args(argv)
    unknown = set(args.suites) - set(suites)
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    chosen = args.suites or sorted(suites)
    console = Console()
    started, t0, load = datetime.now(UTC), time.perf_counter(), os.getloadavg()[0]
    kept = kept_rows(args.out, set(chosen)) if args.update else []
    results: list[Result] = []
    for name in chosen:
        console.print(f"[bold]bench:[/bold] {name} ...")
        # Flush what earlier suites wrote (the batch suite leaves gigabytes of dirty pages): the
        # kernel's writeback of it otherwise stalls the local streams' fsyncs in the next suite.
        os.sync()
        results += suites[name].run()
    table = Table(*HEADERS, title=f"Benchmarks on {machine()}")
    for r in results:
        table.add_row(*r.row())
    console.print(table)
    args.out.write_text(markdown(results, started, time.perf_counter() - t0, load, kept))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
