"""The pipeline's child processes (engine, functions, servers), shared by the local and localstack profiles.

Each child runs in its own session with its output in `<logs>/<name>.log`, unbuffered so every
EMF line is in the log when its invocation ends (as in CloudWatch Logs); they are stopped by
their own pids: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import ClassVar


class Children:
    """Mixed into the pipelines' dataclasses, which own the `children` field and say where logs go."""

    children: dict[str, subprocess.Popen]
    stop_grace_s: ClassVar[float] = 10.0  # SIGTERM to SIGKILL

    def log_dir(self) -> Path:
        raise NotImplementedError

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        with open(self.log_dir() / f"{name}.log", "ab") as log:
            self.children[name] = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=cwd,
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            )

    def log_tail(self, name: str, lines: int = 3) -> str:
        text = (self.log_dir() / f"{name}.log").read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def check(self) -> None:
        """Raise if a child has exited, with the end of its log."""
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}: {self.log_tail(name)}")

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
