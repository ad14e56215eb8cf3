"""Shared pieces for benchmarks: result rows, timing and peak memory of a child process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    suite: str
    measurement: str
    value: float
    unit: str
    target: str = ""
    baseline: str = ""  # a comparison measured in the same run
    passed: bool | None = None  # None when there is no target

    def row(self) -> list[str]:
        verdict = {True: "yes", False: "NO", None: ""}[self.passed]
        return [self.suite, self.measurement, f"{self.value:,.4g} {self.unit}", self.target, verdict, self.baseline]


@dataclass(frozen=True)
class Suite:
    name: str
    run: Callable[[], list[Result]]


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_rss_mb: float
    stdout: str


PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys, json, time;"
    "t=time.perf_counter(); r=subprocess.run(sys.argv[1:]);"
    "s=time.perf_counter()-t;"
    "print(json.dumps({'rc': r.returncode, 'seconds': s,"
    " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}), file=sys.stderr)"
)


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> ProcessRun:
    """Wall time and exact peak RSS of one command, measured by a fresh wrapper process."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_WRAPPER, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    stats = json.loads(done.stderr.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({stats['rc']}): {done.stderr.strip()[-2000:]}")
    return ProcessRun(stats["seconds"], stats["peak_rss_mb"], done.stdout)


def machine() -> str:
    cpus = os.cpu_count()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpus} cores ({model}), {mem_gb:.0f} GiB, Python {platform.python_version()}"
