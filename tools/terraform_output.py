"""One output of an applied Terraform root, read through the Terraform CLI (`terraform output -json`).

Below every layer, so that whatever reads a deployed stack (the simulator's --root, the batch
launcher's --from-terraform, the deploy flow) reads it the same way and says the same one line when
the root was never applied.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

INSTALL = "https://developer.hashicorp.com/terraform/install"


def not_found(binary: str) -> str:
    """What to say when the terraform binary is missing."""
    return f"{binary} not found: install Terraform >= 1.9 ({INSTALL})"


class OutputError(RuntimeError):
    """The output cannot be read; the message is one line for the user."""


def output(
    root: Path | str, name: str, binary: str = "terraform", env: Mapping[str, str] | None = None
) -> object:
    """The output `name` of the root's state, decoded from JSON."""
    command = [binary, f"-chdir={root}", "output", "-no-color", "-json", name]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
        )
    except FileNotFoundError:
        raise OutputError(not_found(binary)) from None
    if done.returncode != 0 or done.stdout.strip() in ("", "null"):
        last = (done.stderr.strip().splitlines() or ["no value (was the root applied with `make deploy`?)"])[
            -1
        ]
        raise OutputError(f"terraform output {name} in {root}: {last}")
    return json.loads(done.stdout)
