"""Run the app on a local Flink mini-cluster for tests and benchmarks, several pipelines per JVM.

    .venv-flink/bin/python jobs/flink/local.py PIPELINES.json

PIPELINES.json: a list of property maps (the app's `FlinkApplicationProperties`, normally with
`connector` = filesystem). Each runs to the end of its bounded input, one after the other, in one
JVM (its start is paid once). Prints one JSON line: {"jvm_start_s": ..., "pipelines_s": [...]}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2]))

from features import flink_sql
from jobs.flink import app


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: local.py PIPELINES.json", file=sys.stderr)
        return 2
    try:
        pipelines = json.loads(Path(argv[0]).read_text())
    except (OSError, json.JSONDecodeError) as err:
        print(f"error: cannot read {argv[0]}: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    # Starting the gateway JVM (and PyFlink's Python side) once, before any job is planned.
    app.table_environment(flink_sql.settings())
    jvm_start = time.perf_counter() - started
    durations = []
    for props in pipelines:
        t0 = time.perf_counter()
        try:
            app.run(props, wait=True)
        except app.ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        durations.append(time.perf_counter() - t0)
    print(json.dumps({"jvm_start_s": jvm_start, "pipelines_s": durations}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
