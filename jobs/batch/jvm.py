"""JVM options for the Spark driver in local mode (one short-lived JVM on a small machine).

Measured on the full-scale job (2 cores): most of the JVM's CPU that is not query work goes to
loading Spark's ~20,000 classes from 250 jars and to the C2 JIT compiling lukewarm framework code
(planner, SQL parser, closure cleaner) at full optimization. Two remedies, local mode only (a
cluster's driver and executors are long-lived and configured by the cluster):

- Class data sharing: the first local run dumps the classes it loaded to an archive
  (-XX:ArchiveClassesAtExit); later runs map it (-XX:SharedArchiveFile) instead of reading,
  parsing and verifying the classes again. The archive is keyed by the JVM and the Spark jars,
  so an upgrade makes a new one; a stale or half-written archive is refused by the JVM itself,
  which then starts as usual (-Xshare:auto).
- Higher C2 thresholds and shallower inlining: only code that stays hot (the per-row loops)
  gets C2, and each C2 compilation costs less.
- The throughput collector with the whole heap committed from the start: on 2 cores G1's
  concurrent threads and write barriers cost ~10 s of CPU more than ParallelGC's pauses, and a
  heap grown step by step pays for full collections on the way.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

# C2 only for code that stays hot (tier-4 thresholds at 3x the defaults) and with shallower
# inlining: the short job spent more CPU compiling than the compiled code saved (docs/performance.md).
JIT_OPTIONS = (
    "-XX:Tier4InvocationThreshold=15000",
    "-XX:Tier4MinInvocationThreshold=2000",
    "-XX:Tier4CompileThreshold=45000",
    "-XX:FreqInlineSize=100",
    "-XX:MaxInlineLevel=9",
)
# Metaspace's first high-water mark above what Spark's classes (and Janino's per query) need: each
# crossing of the mark costs a young and a full collection (docs/performance.md).
GC_OPTIONS = ("-XX:+UseParallelGC", "-XX:MetaspaceSize=512m")
# A JVM that does not know an -XX option ignores it instead of failing to start; CDS messages
# (e.g. "archive refused, starting without it") stay off the job's one-line output.
QUIET_OPTIONS = ("-XX:+IgnoreUnrecognizedVMOptions", "-Xlog:cds*=off", "-Xlog:class+path=off")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cc-agg-batch"


def archive_path(spark_home: str, java: str, directory: Path) -> Path:
    """One archive per (JVM binary, Spark jars): the JVM refuses an archive made by another."""
    jars = Path(spark_home) / "jars"
    listing = sorted(f"{p.name}:{p.stat().st_size}" for p in jars.glob("*.jar")) if jars.is_dir() else []
    java_real = Path(java).resolve()
    key = "\n".join([str(java_real), str(java_real.stat().st_mtime_ns), *listing])
    return directory / f"spark-cds-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def spark_home() -> str:
    """Where spark-submit takes its jars from: SPARK_HOME, else the pyspark package itself."""
    if os.environ.get("SPARK_HOME"):
        return os.environ["SPARK_HOME"]
    import pyspark

    return str(Path(pyspark.__file__).parent)


def java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def local_driver_options(spark_home: str, heap: str, directory: Path | None = None) -> str:
    """spark.driver.extraJavaOptions: CDS archive (use or create), JIT and GC settings.

    `heap` is spark.driver.memory (Spark sets -Xmx from it and refuses -Xmx here); -Xms matches it.
    """
    options = [*QUIET_OPTIONS, *JIT_OPTIONS, *GC_OPTIONS]
    # Spark reads "4g", "4gb" or "4096" (MiB); the JVM only "4g": anything else commits no heap.
    size = re.fullmatch(r"(\d+)([kmgt])b?", heap.strip().lower())
    if size:
        options.append(f"-Xms{size[1]}{size[2]}")
    java = java_binary()
    directory = directory or cache_dir()
    try:
        if java is None:
            raise OSError("no java")
        directory.mkdir(parents=True, exist_ok=True)
        archive = archive_path(spark_home, java, directory)
    except OSError:
        return " ".join(options)  # no place for an archive: start without one
    if archive.exists() and archive.stat().st_size > 0:
        options.append(f"-XX:SharedArchiveFile={archive}")
    else:
        options.append(f"-XX:ArchiveClassesAtExit={archive}")
    return " ".join(options)
