"""The project's argument parser: a bad argument is one `error: ...` line and exit code 2.

argparse's own parser prints its usage before the error; the CLIs here say what was wrong in
one line (`--help` still shows the usage). Imports nothing of the project, so every layer,
the EMR job's bundle included (Python 3.9), may use it.
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class OneLineErrors(argparse.ArgumentParser):
    """argparse.ArgumentParser that reports a usage error as one `error: ...` line (no usage dump).

    Subparsers made by add_subparsers are of the same class, so they report the same way.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n")
