"""python -m simulator <subcommand>: thin CLI over the simulator's modules.

A subcommand is a module in this package exposing `add_parser(subparsers)` (returns its
parser) and `run(args) -> int`; adding one is a name in SUBCOMMANDS. A ValueError raised by
a subcommand is a bad argument: one `error: ...` line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tools.cli import OneLineErrors

SUBCOMMANDS = ("generate", "stream")


def parser() -> argparse.ArgumentParser:
    top = OneLineErrors(prog="python -m simulator", description=__doc__.splitlines()[0])
    subparsers = top.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"simulator.{name}")
        module.add_parser(subparsers).set_defaults(run=module.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as err:  # a bad argument (2), or the system refused (1)
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
