"""Shared pieces for benchmarks: result rows, timing and peak memory of a child process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiles.localstack_server import descendants


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
        return [
            self.suite,
            self.measurement,
            f"{self.value:,.4g} {self.unit}",
            self.target,
            verdict,
            self.baseline,
        ]


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


def measure(argv: Sequence[str], env: dict[str, str] | None = None, whole_tree: bool = False) -> ProcessRun:
    """Wall time and exact peak RSS of one command, measured by a fresh wrapper process.

    `whole_tree`: the command starts processes it does not wait for (PySpark's JVM), which the
    wrapper's rusage cannot see. Every process of the tree is then sampled while it runs and the
    peak is the sum of each process's own peak (VmHWM): an upper bound of the tree's RSS at once.
    """
    with subprocess.Popen(
        [sys.executable, "-c", PEAK_RSS_WRAPPER, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    ) as proc:
        peaks: dict[int, int] = {}
        out: dict[str, str] = {}
        # Drain the pipes in threads so that a chatty command never blocks on a full pipe.
        readers = [
            threading.Thread(target=lambda n=n, f=f: out.__setitem__(n, f.read()))
            for n, f in (("stdout", proc.stdout), ("stderr", proc.stderr))
        ]
        for reader in readers:
            reader.start()
        while whole_tree and proc.poll() is None:
            for pid in descendants(proc.pid)[1:]:  # not the wrapper itself
                peaks[pid] = max(peaks.get(pid, 0), _peak_rss_kb(pid))
            time.sleep(0.1)
        proc.wait()
        for reader in readers:
            reader.join()
    stdout, stderr = out["stdout"], out["stderr"]
    stats = json.loads(stderr.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({stats['rc']}): {stderr.strip()[-2000:]}")
    peak = sum(peaks.values()) / 1024 if whole_tree else stats["peak_rss_mb"]
    return ProcessRun(stats["seconds"], peak, stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def machine() -> str:
    cpus = os.cpu_count()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), ""
            )
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpus} cores ({model}), {mem_gb:.0f} GiB, Python {platform.python_version()}"
