"""Third-party packages installed from a hashed lock for another platform (the Lambda runtime, EMR's
Python), into a folder whose files go into a zip."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.zips import tree_entries

# pip's bookkeeping that names the installing machine or tool is not part of the code.
BOOKKEEPING = ("/INSTALLER", "/RECORD", "/direct_url.json")


class InstallError(Exception):
    """pip could not install the lock; the message is pip's last line."""


def install_locked(requirements: Path, target: Path, platform: Sequence[str]) -> dict[str, Path]:
    """Archive name -> file of every package the lock names, installed for `platform` (pip's
    --platform/--implementation/--python-version arguments) with hashes required."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--require-hashes",
        *platform,
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InstallError((done.stderr.strip().splitlines() or ["pip failed"])[-1])
    return {name: path for name, path in tree_entries(target).items() if not name.endswith(BOOKKEEPING)}
