"""The two batch engines behind one small interface: DuckDB (one machine) and PySpark (distributed).

Both run the same rendered statements (features.batch_sql); an engine only knows how to read
the raw input, create views, run a query and write a view as Parquet, and how it executes them
best: its session settings and the physical hints the renderer places in the SQL (Spark's below).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from features.batch_sql import DIALECTS, NO_HINTS, Dialect, Hints
from features.definition import SOURCE
from jobs.batch.compat import zip_strict

# The live archive (module stream_archive: Firehose's GZIP objects named *.json.gz under dt=YYYY-MM-DD/,
# one transaction record a line) is read with every field as text: the job converts and validates them
# as it does a CSV's cells. A line that is not JSON becomes a row of NULLs, counted as invalid.
LIVE_SUFFIX = ".json.gz"


class EngineError(RuntimeError):
    """The engine cannot run here (e.g. Java missing); one line for the user."""


class Engine(Protocol):
    dialect: Dialect
    hints: Hints
    # Whether independent statements may run at once (from separate threads).
    concurrent: bool

    def register_raw(self, path: str, fmt: str) -> list[str]: ...
    def register_live(self, path: str, columns: list[str]) -> bool: ...
    def create_view(self, name: str, select: str, reuse: bool = False) -> None: ...
    def fetch_one(self, sql: str) -> tuple: ...
    def write_parquet(self, view: str, directory: str) -> int: ...
    def write_text(self, uri: str, text: str) -> None: ...
    def read_rows(self, directory: str) -> Iterator[dict[str, Any]]: ...
    def close(self) -> None: ...


class DuckDBEngine:
    dialect = DIALECTS["duckdb"]
    hints = NO_HINTS  # DuckDB plans these statements well without
    # One query at a time per connection; each already uses every core.
    concurrent = False

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        import duckdb

        self._duckdb = duckdb
        self.con = duckdb.connect()
        # Event time is UTC everywhere; naive CSV times are read as UTC.
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")
        # DuckDB 2.0 pushes TRY_CAST into the CSV reader as a hard cast, which then fails on a bad
        # cell instead of yielding NULL (duckdb/duckdb#23818); the job counts those NULLs to report
        # bad rows. Only the CSV reader implements type pushdown: Parquet reads are unaffected.
        self.con.execute("SET disabled_optimizers = 'type_pushdown'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")

    def register_raw(self, path: str, fmt: str) -> list[str]:
        source = path.replace("'", "''")
        if fmt == "csv":
            # Read every column as text: conversion errors are reported by the validation query.
            reader = f"read_csv('{source}', header = true, all_varchar = true)"
        else:
            target = f"{source}/**/*.parquet" if Path(path).is_dir() else source
            reader = f"read_parquet('{target}')"
        try:
            self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW raw_input AS SELECT * FROM {reader}")
            return [row[0] for row in self.con.execute("DESCRIBE raw_input").fetchall()]
        except self._duckdb.Error as err:
            raise EngineError(f"{path}: cannot read as {fmt}: {_first_line(err)}") from err

    def register_live(self, path: str, columns: list[str]) -> bool:
        """View `raw_live` of `columns` over the live archive at `path` (a file or a directory); False
        when it holds no records file yet (the first day of a deployment)."""
        if Path(path).is_dir():
            if not any(Path(path).rglob(f"*{LIVE_SUFFIX}")):
                return False
            target = f"{path.rstrip('/')}/**/*{LIVE_SUFFIX}"
        elif Path(path).is_file():
            target = path
        else:
            return False
        source = target.replace("'", "''")
        as_text = ", ".join(f"{name}: 'VARCHAR'" for name in columns)
        reader = (
            f"read_json('{source}', format = 'newline_delimited', ignore_errors = true, "
            f"columns = {{{as_text}}})"
        )
        try:
            self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW raw_live AS SELECT * FROM {reader}")
        except self._duckdb.Error as err:
            raise EngineError(f"{path}: cannot read the live archive: {_first_line(err)}") from err
        return True

    def create_view(self, name: str, select: str, reuse: bool = False) -> None:
        kind = "TABLE" if reuse else "VIEW"
        self.con.execute(f"CREATE OR REPLACE TEMPORARY {kind} {name} AS {select}")

    def fetch_one(self, sql: str) -> tuple:
        try:
            return self.con.execute(sql).fetchone()
        except self._duckdb.Error as err:
            raise EngineError(_first_line(err)) from err

    def write_parquet(self, view: str, directory: str) -> int:
        Path(directory).mkdir(parents=True, exist_ok=True)
        target = f"{directory}/part-0.parquet".replace("'", "''")
        self.con.execute(f"COPY (SELECT * FROM {view}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
        return self.con.execute(f"SELECT COUNT(*) FROM read_parquet('{target}')").fetchone()[0]

    def write_text(self, uri: str, text: str) -> None:
        raise EngineError(f"{uri}: the duckdb engine writes local directories only; use --engine spark")

    def read_rows(self, directory: str) -> Iterator[dict[str, Any]]:
        """The rows of a Parquet directory this engine wrote, one dict per row, a batch at a time."""
        target = f"{directory}/*.parquet".replace("'", "''")
        cursor = self.con.execute(f"SELECT * FROM read_parquet('{target}')")
        names = [column[0] for column in cursor.description]
        while batch := cursor.fetchmany(10_000):
            yield from (dict(zip_strict(names, row)) for row in batch)

    def close(self) -> None:
        self.con.close()


def _layout_key() -> str:
    """One BIGINT ordering rows by (card bucket, event time): a sort hint, never a result.

    2^23 card buckets times 2^40 ms (34 years) fits a BIGINT without overflow; cards sharing a
    bucket or a wrap of the time part only leave the following (card, time) sort more to do.
    """
    return f"PMOD({SOURCE.entity}, {1 << 23}) * {1 << 40} + PMOD(event_ms, {1 << 40})"


SPARK_HINTS = Hints(
    # Shuffled by the key itself, the GROUP BY runs as one hash aggregate per partition: Spark's
    # default two-level plan builds a partial map of every distinct key only to shuffle it whole.
    cluster="DISTRIBUTE BY {key}",
    # `tx` cached hash-partitioned by card (the windows, the daily aggregate and both (card, day)
    # joins then need no shuffle) and sorted by one long key: a single-key sort is a radix sort, and
    # the windows' own sort on (card, time) then runs over already ordered rows, where sorting on
    # (card, time) directly would compare mostly equal card prefixes.
    layout=f"DISTRIBUTE BY {SOURCE.entity} SORT BY {_layout_key()}",
    # The training columns are never NULL (validated source columns, features defined for every row),
    # the label aside (NULL on a live row, so it is left out of this), but Spark infers nullable ones
    # from the casts, AVG and division. Declared non-null they become REQUIRED Parquet columns,
    # written without definition levels, which makes the job's largest write cheaper. The zeros are
    # never used.
    not_null="COALESCE({expr}, {zero})",
)


class SparkEngine:
    dialect = DIALECTS["spark"]
    hints = SPARK_HINTS
    # The driver plans, compiles and schedules a query on one thread: a second query's tasks keep
    # the cores busy meanwhile (the session is thread-safe; PySpark pins a JVM thread per thread).
    concurrent = True

    def __init__(self, master: str | None = None, shuffle_partitions: int | None = None) -> None:
        if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
            raise EngineError(
                "--engine spark needs Java 17 (install openjdk-17-jre-headless or set JAVA_HOME)"
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError as err:  # PySpark is a layer of .venv of its own (requirements-spark.txt)
            raise EngineError("--engine spark needs PySpark: run `make spark-venv`") from err

        builder = (
            SparkSession.builder.appName("cc-agg-batch")
            .config("spark.sql.session.timeZone", "UTC")
            # Non-ANSI casts yield NULL on bad values, which the validation query reports (3.3 and 4.x).
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            # The dedup keeps one row per tid: Spark 3.5+'s partial window-group limit would sort every
            # row before the shuffle to drop nothing (tids are nearly unique). Unknown to 3.3: ignored.
            .config("spark.sql.optimizer.windowGroupLimitThreshold", "-1")
            # `tx` is cached hash-partitioned by card (SPARK_HINTS.layout): let the (card, day) joins
            # use that partitioning instead of reshuffling on both keys, and keep the cached plan's
            # partitioning stable so that later plans can rely on it (both settings exist since 3.3).
            .config("spark.sql.requireAllClusterKeysForCoPartition", "false")
            .config("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "false")
        )
        # Under spark-submit (EMR Serverless, SageMaker Processing) the cluster sets the master;
        # run from plain Python it is local mode, bound to loopback, no UI, few shuffle partitions.
        if master or "PYSPARK_GATEWAY_PORT" not in os.environ:
            from jobs.batch import jvm

            heap = local_driver_memory()
            # Python workers run this interpreter (its packages: XGBoost for the consistency job's
            # scoring), not whatever `python3` is first on PATH; PySpark reads it when the context starts.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = (
                builder.master(master or "local[*]")
                .config("spark.driver.extraJavaOptions", jvm.local_driver_options(jvm.spark_home(), heap))
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.driver.memory", heap)
                .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 4))
                # One machine has memory to spare and CPU to save: cache columns and shuffle files
                # uncompressed (the shuffle never leaves the machine, so compressing it only costs CPU).
                .config("spark.sql.inMemoryColumnarStorage.compressed", "false")
                .config("spark.shuffle.compress", "false")
                # The training table's as-of join probes the cached daily snapshots (far fewer rows
                # than transactions) from a hash table instead of sorting every wide transaction row
                # by (card, day). In local mode the "broadcast" never leaves the process.
                .config("spark.sql.autoBroadcastJoinThreshold", "256m")
                # Aggregations keep their groups in the code-generated fast hash map up to 2^22 of
                # them per task (default 2^16, then a slower generic map), so that the uniqueness
                # proof's group-by over every transaction id stays in the fast one.
                .config("spark.sql.codegen.aggregate.fastHashMap.capacityBit", "22")
            )
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        self._cached: list[str] = []

    def register_raw(self, path: str, fmt: str) -> list[str]:
        from pyspark.errors import PySparkException

        try:
            reader = self.spark.read
            frame = reader.option("header", True).csv(path) if fmt == "csv" else reader.parquet(path)
        except PySparkException as err:
            raise EngineError(f"{path}: cannot read as {fmt}: {_first_line(err)}") from err
        frame.createOrReplaceTempView("raw_input")
        return frame.columns

    def register_live(self, path: str, columns: list[str]) -> bool:
        """View `raw_live` of `columns` over the live archive at `path` (s3:// too; Hadoop picks GZIP by
        the name); False when nothing is there yet (the first day of a deployment: S3 has no empty prefix)."""
        from pyspark.errors import AnalysisException

        schema = ", ".join(f"{name} STRING" for name in columns)
        try:
            frame = self.spark.read.schema(schema).json(path)
        except AnalysisException as err:
            if "PATH_NOT_FOUND" in str(err) or "Path does not exist" in str(err):
                return False
            raise EngineError(f"{path}: cannot read the live archive: {_first_line(err)}") from err
        frame.createOrReplaceTempView("raw_live")
        return True

    def create_view(self, name: str, select: str, reuse: bool = False) -> None:
        if name in self._cached:  # replaced: free the old cache first
            self.spark.catalog.uncacheTable(name)
            self._cached.remove(name)
        frame = self.spark.sql(select)
        if reuse:
            # Materialized now, so that the plans of later views see its partitioning and order.
            frame = frame.cache()
            frame.count()
            self._cached.append(name)
        frame.createOrReplaceTempView(name)

    def fetch_one(self, sql: str) -> tuple:
        from pyspark.errors import PySparkException

        try:
            return tuple(self.spark.sql(sql).first())
        except PySparkException as err:
            raise EngineError(_first_line(err)) from err

    def write_parquet(self, view: str, directory: str) -> int:
        frame = self.spark.table(view)
        # No dictionary pages: the outputs are mostly unique ids, times and doubles, where Parquet
        # would build a dictionary per column chunk only to fall back to plain encoding.
        frame.write.mode("overwrite").option("parquet.enable.dictionary", "false").parquet(directory)
        if "://" in directory:
            return self.spark.read.parquet(directory).count()
        # Local output: the written files' footers hold the row counts; no Spark job needed.
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(part).metadata.num_rows for part in Path(directory).glob("part-*.parquet"))

    def write_text(self, uri: str, text: str) -> None:
        """Through Hadoop's file system API, so s3:// works wherever the cluster can write."""
        jvm = self.spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(uri)
        stream = path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).create(path, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()

    def read_rows(self, directory: str) -> Iterator[dict[str, Any]]:
        """The rows of a Parquet directory (s3:// too), streamed to the driver a partition at a time.

        Plain Rows through Spark's own socket: no pandas or pyarrow on the driver.
        """
        for row in self.spark.read.parquet(directory).toLocalIterator():
            yield row.asDict()

    def close(self) -> None:
        self.spark.stop()


def local_driver_memory() -> str:
    """The local-mode driver's heap (spark.driver.memory): SPARK_DRIVER_MEMORY, else 4g."""
    return os.environ.get("SPARK_DRIVER_MEMORY", "4g")


def create(engine: str, **options) -> Engine:
    if engine == "duckdb":
        return DuckDBEngine(**options)
    if engine == "spark":
        return SparkEngine(**options)
    raise EngineError(f"unknown engine {engine!r} (choose duckdb or spark)")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
