"""python -m features render [--check]: write (or check) the artifacts rendered from the definition."""

from __future__ import annotations

import sys

from features.artifacts import RENDERED_DIR, drifted, render_all
from tools.cli import OneLineErrors


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(prog="python -m features", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="render SQL and feature-group JSON into features/rendered/")
    render.add_argument("--check", action="store_true", help="fail if a committed artifact drifted")
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted()
        if stale:
            print(f"stale rendered artifacts (run `make render`): {', '.join(stale)}", file=sys.stderr)
            return 1
        print("rendered artifacts match the definition")
        return 0
    for path in render_all():
        print(path.relative_to(RENDERED_DIR.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
