"""Run the comparison on an engine (DuckDB on one machine, Spark at scale) and gather its result.

The inputs are registered as the views jobs.consistency.sql expects; the rendered SQL compares the
features, and the rows of its `scored` view go through XGBoost (jobs.consistency.scores) in Python:
on DuckDB in the process, on Spark in each executor with the model broadcast.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from features.definition import MODEL_INPUT, SOURCE
from jobs.batch import engines
from jobs.batch.compat import UTC, zip_strict
from jobs.consistency import predictions, scores, sql

Log = Callable[[str], None]


class JobError(RuntimeError):
    """Ends the job with one line for the user."""


def is_remote(path: str) -> bool:
    return "://" in path


def feature_paths(features: str, exists: Callable[[str], bool]) -> tuple[str, str | None]:
    """(training rows, daily snapshots or None): `features` is the batch job's output (training/ and
    snapshots/ under it) or its training/ directory alone (no snapshot explanation then)."""
    base = features.rstrip("/")
    if exists(f"{base}/training"):
        snapshots = f"{base}/snapshots"
        return f"{base}/training", snapshots if exists(snapshots) else None
    if not exists(base):
        raise JobError(f"{features}: no such file or directory")
    return base, None


# ------------------------------------------------------------------------------ engines


class DuckDBInputs:
    """Local files: predictions parsed in Python, Parquet read by DuckDB, the model as an Arrow UDF."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def register(self, prediction_path: str, features: str, model: str) -> dict[str, Any]:
        import pyarrow as pa

        con = self.engine.con
        counter = predictions.Counter()
        try:
            rows = predictions.read_local(predictions.local_files(prediction_path), counter)
        except OSError as err:
            raise JobError(f"{prediction_path}: {err.strerror or err}") from err
        types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
        columns = list(zip(*rows)) if rows else [[] for _ in predictions.COLUMNS]  # noqa: B905 - rows of one width
        table = pa.table(
            {
                name: pa.array(values, types[kind])
                for (name, kind), values in zip_strict(predictions.COLUMNS, columns)
            }
        )
        con.register("served_arrow", table)
        con.execute("CREATE OR REPLACE TEMPORARY VIEW served_raw AS SELECT * FROM served_arrow")
        training, snapshots = feature_paths(features, os.path.exists)
        for view, path in (("training_raw", training), ("snapshots_raw", snapshots)):
            if path is None:
                continue
            target = (f"{path}/**/*.parquet" if os.path.isdir(path) else path).replace("'", "''")
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMPORARY VIEW {view} AS SELECT * FROM read_parquet('{target}')"
                )
            except self.engine._duckdb.Error as err:
                raise JobError(f"{path}: cannot read as Parquet: {str(err).splitlines()[0]}") from err
        try:
            with open(model, "rb") as file:
                self.model = scores.booster(file.read())
        except (OSError, ValueError) as err:
            raise JobError(f"{model}: {err}") from err
        return {"training": training, "snapshots": snapshots, "unreadable": counter}

    def scored(self) -> tuple[Any, Any, Any]:
        """(labels, served, offline) of every compared transaction."""
        import numpy as np

        got = self.engine.con.execute(f"SELECT {', '.join(scores.COLUMNS)} FROM scored").fetchnumpy()
        # NULL comes back masked: a missing value (NaN) for the scorer
        columns = [
            np.ma.filled(np.ma.asarray(got[name], dtype=np.float64), np.nan) for name in scores.COLUMNS
        ]
        rows = np.column_stack(columns) if len(columns[0]) else np.empty((0, len(scores.COLUMNS)))
        return scores.score(self.model, rows)

    def fetch_all(self, query: str) -> list[dict[str, Any]]:
        cursor = self.engine.con.execute(query)
        names = [c[0] for c in cursor.description]
        return [dict(zip_strict(names, row)) for row in cursor.fetchall()]

    def write_text(self, path: str, text: str) -> None:
        write_local(path, text)


class SparkInputs:
    """Any Hadoop file system (s3:// on EMR): predictions parsed on the executors, the model as a UDF."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.spark = engine.spark

    def _exists(self, uri: str) -> bool:
        sc = self.spark.sparkContext
        path = sc._jvm.org.apache.hadoop.fs.Path(uri)
        return bool(path.getFileSystem(sc._jsc.hadoopConfiguration()).exists(path))

    def register(self, prediction_path: str, features: str, model: str) -> dict[str, Any]:
        from pyspark.errors import PySparkException
        from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType, StructField, StructType

        sc = self.spark.sparkContext
        # Firehose partitions by day (dt=YYYY-MM-DD/): a prefix of several days is read whole.
        sc._jsc.hadoopConfiguration().set("mapreduce.input.fileinputformat.input.dir.recursive", "true")
        kinds = {"string": StringType(), "int64": LongType(), "float64": DoubleType(), "bool": BooleanType()}
        schema = StructType([StructField(n, kinds[k], True) for n, k in predictions.COLUMNS])
        unreadable = sc.accumulator(0)

        def parse(item: tuple) -> list:
            counter = predictions.Counter()
            rows = list(predictions.rows_of(bytes(item[1]), counter))
            unreadable.add(counter.bad)
            return rows

        if not self._exists(prediction_path):
            raise JobError(f"{prediction_path}: no such file or directory")
        files = sc.binaryFiles(prediction_path).filter(lambda kv: not _hidden(kv[0]))
        self.spark.createDataFrame(files.flatMap(parse), schema).createOrReplaceTempView("served_raw")
        training, snapshots = feature_paths(features, self._exists)
        try:
            self.spark.read.parquet(training).createOrReplaceTempView("training_raw")
            if snapshots is not None:
                self.spark.read.parquet(snapshots).createOrReplaceTempView("snapshots_raw")
        except PySparkException as err:
            raise JobError(f"{training}: cannot read as Parquet: {str(err).splitlines()[0]}") from err
        try:
            tarball = bytes(sc.binaryFiles(model).first()[1])
            scores.booster(tarball)  # a bad model fails here, once, not in every executor
        except (PySparkException, ValueError) as err:
            raise JobError(f"{model}: {str(err).splitlines()[0]}") from err
        self.tarball = sc.broadcast(tarball)
        return {"training": training, "snapshots": snapshots, "unreadable": unreadable}

    def scored(self) -> tuple[Any, Any, Any]:
        """(labels, served, offline) of every compared transaction: each executor scores its rows,
        the driver gathers the three columns (20 bytes a transaction) a partition at a time, so no
        single result meets spark.driver.maxResultSize (1 GB by default: 50 M transactions)."""
        import numpy as np

        rows = self.spark.sql(f"SELECT {', '.join(scores.COLUMNS)} FROM scored").rdd
        scored = rows.mapPartitions(functools.partial(scores.score_partition, self.tarball))
        blocks = list(scored.toLocalIterator())
        if not blocks:
            return scores.score(None, [])
        return tuple(np.concatenate(parts) for parts in zip_strict(*blocks))  # type: ignore[return-value]

    def fetch_all(self, query: str) -> list[dict[str, Any]]:
        return [row.asDict() for row in self.spark.sql(query).collect()]

    def write_text(self, path: str, text: str) -> None:
        if is_remote(path):
            self.engine.write_text(path, text)
        else:
            write_local(path, text)


def write_local(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as file:
        file.write(text)


def _hidden(uri: str) -> bool:
    return uri.rstrip("/").rsplit("/", 1)[-1].startswith((".", "_"))


def create(engine_name: str, **options: Any) -> Any:
    try:
        engine = engines.create(engine_name, **options)
    except engines.EngineError as err:
        raise JobError(str(err)) from err
    return DuckDBInputs(engine) if engine_name == "duckdb" else SparkInputs(engine)


# ------------------------------------------------------------------------------ the job


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def compare(inputs: Any, prediction_path: str, features: str, model: str, log: Log = print) -> dict[str, Any]:
    """Register the inputs, run the statements, gather the result (see report.py for its keys)."""
    started = time.perf_counter()
    registered = inputs.register(prediction_path, features, model)
    engine = inputs.engine
    for name, select in sql.statements(engine.dialect, with_snapshots=registered["snapshots"] is not None):
        engine.create_view(name, select, reuse=name in sql.REUSED_VIEWS)
    summary = inputs.fetch_all(sql.summary_query())[0]
    unreadable = registered["unreadable"]
    bad = unreadable.bad if isinstance(unreadable, predictions.Counter) else unreadable.value
    served = int(summary["served"] or 0)
    if not served:
        raise JobError(
            f"{prediction_path}: no prediction records" + (f" ({bad:,} unreadable lines)" if bad else "")
        )
    reasons = {r: int(summary[f"r_{r}"] or 0) for r in sql.REASONS}
    compared = int(summary["compared"] or 0)
    unexplained = sum(reasons[r] for r in sql.UNEXPLAINED_REASONS)
    lo, hi = engine.fetch_one("SELECT lo, hi FROM bounds")
    result = {
        "engine": engine.dialect.name,
        "inputs": {
            "predictions": prediction_path,
            "training": registered["training"],
            "snapshots": registered["snapshots"],
            "model": model,
        },
        "relative_tolerance": sql.RELATIVE_TOLERANCE,
        "period": [_iso(lo), _iso(hi)],
        "served": served,
        "duplicate_records": int(summary["duplicates"] or 0),
        "unreadable_lines": int(bad),
        "compared": compared,
        "match_rate": reasons[sql.MATCH] / served,
        "explained_rate": (served - unexplained) / served,
        "unexplained_share": unexplained / served,
        "reasons": reasons,
        "features": {
            f: {
                "mismatched": int(summary[f"m_{f}"] or 0),
                "match_rate": (1 - int(summary[f"m_{f}"] or 0) / compared) if compared else None,
            }
            for f in MODEL_INPUT
        },
        "unserved_in_period": int(engine.fetch_one(sql.unserved_query())[0] or 0),
        "auc": scores.aucs(*inputs.scored()),
        "samples": [_sample(r) for r in inputs.fetch_all(sql.sample_query())],
    }
    result["seconds"] = round(time.perf_counter() - started, 2)
    log(
        f"[consistency] {served:,} served, {reasons[sql.MATCH]:,} equal, "
        f"{unexplained:,} unexplained ({result['seconds']:.1f} s, {engine.dialect.name})"
    )
    return result


def _sample(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tid": row[SOURCE.id_column],
        "cc_num": row[SOURCE.entity],
        "trans_ts": _iso(row["event_ms"]),
        "reason": row["reason"],
        "diffs": {
            f: {"served": _json_number(row[f"s_{f}"]), "batch": _json_number(row[f"b_{f}"])}
            for f in MODEL_INPUT
            if row[f"m_{f}"]
        },
    }


def _json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: those are written as text ('nan', 'inf')."""
    return value if value is None or math.isfinite(value) else str(value)


def run(
    engine_name: str,
    prediction_path: str,
    features: str,
    model: str,
    out: str,
    max_unexplained: float,
    log: Log = print,
    notes: list | None = None,
    after: Callable[[dict], None] | None = None,
    **engine_options: Any,
) -> dict[str, Any]:
    """The job: compare, write OUT/consistency.json and OUT/REPORT.md; returns the result.

    `notes`: Markdown lines the caller puts at the top of the report (the replay's context).
    `after(result)` runs once the report is written, before the engine closes.
    """
    from jobs.consistency import report

    if engine_name == "duckdb" and any(is_remote(p) for p in (prediction_path, features, model, out)):
        raise JobError(
            "the duckdb engine reads and writes local paths only; use --engine spark for object stores"
        )
    inputs = create(engine_name, **engine_options)
    try:
        result = compare(inputs, prediction_path, features, model, log)
        result["max_unexplained"] = max_unexplained
        result["passed"] = result["unexplained_share"] <= max_unexplained
        base = out.rstrip("/")
        inputs.write_text(f"{base}/consistency.json", report.to_json(result))
        inputs.write_text(f"{base}/REPORT.md", report.markdown(result, notes or []))
        if after is not None:
            after(result)
        return result
    finally:
        inputs.engine.close()
