"""What the batch job needs from Python 3.10+, written for the EMR Serverless release's Python 3.9.

The job's import closure (packager/emr_job.py) runs on that interpreter; tests/batch/test_emr_python.py
checks it with vermin and, when a python3.9 is at hand, by importing it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

# datetime.UTC (3.11+) is this same object.
UTC = timezone.utc  # noqa: UP017


def zip_strict(*iterables: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """zip(*iterables, strict=True): ValueError when the lengths differ (checked before yielding)."""
    sequences = [list(items) for items in iterables]
    if len({len(items) for items in sequences}) > 1:
        raise ValueError(f"zip_strict: argument lengths differ ({', '.join(str(len(s)) for s in sequences)})")
    return zip(*sequences)  # noqa: B905 - lengths checked above; strict= is 3.10+


def parse_zoned_time(text: str) -> datetime:
    """An ISO 8601 time with its zone ('Z' or an offset) as an aware datetime; ValueError otherwise
    (3.9's fromisoformat reads no 'Z')."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment
