"""Prediction records (features.records' wire format, one JSON object a line) as flat rows.

A record: tid, cc_num, amount, trans_ts, features {name: value for every model input},
probability, fraud, threshold, caveats [codes], event_to_prediction_ms. Files may be gzip
(Firehose's GZIP objects carry no extension: the content decides, by its magic number).
Plain standard library: the same code parses on the EMR driver and executors (Python 3.9).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from features.definition import MODEL_INPUT, SOURCE
from jobs.batch.compat import UTC

GZIP_MAGIC = b"\x1f\x8b"
# Column names and SQL types of a flat row, in order (the view served_raw).
COLUMNS = (
    (SOURCE.id_column, "string"),
    (SOURCE.entity, "int64"),
    ("event_ms", "int64"),
    ("probability", "float64"),
    ("snapshot_caveat", "bool"),
    *((f"s_{name}", "float64") for name in MODEL_INPUT),
)


def epoch_ms(text: str) -> int:
    """ISO-8601 UTC ('2020-05-15T10:00:00.000Z') -> epoch milliseconds (3.9's fromisoformat takes no Z)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def flat_row(record: dict[str, Any]) -> tuple:
    """One record as a row of COLUMNS; KeyError, TypeError or ValueError when it is not a prediction."""
    features = record["features"]
    return (
        str(record[SOURCE.id_column]),
        int(record[SOURCE.entity]),
        epoch_ms(record["trans_ts"]),
        float(record["probability"]),
        # Every caveat the score function sets is about the batch snapshot it served (an unknown
        # card, or a snapshot newer than the transaction).
        bool(record.get("caveats")),
        *(_number(features.get(name)) for name in MODEL_INPUT),
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class Counter:
    """Lines that are not prediction records: counted, skipped, the first few remembered."""

    def __init__(self) -> None:
        self.bad = 0
        self.examples: list[str] = []

    def skip(self, line: bytes, err: Exception) -> None:
        self.bad += 1
        if len(self.examples) < 3:
            self.examples.append(f"{type(err).__name__}: {err} in {line[:120]!r}")


def rows_of(content: bytes, counter: Counter | None = None) -> Iterator[tuple]:
    """The flat rows of one file's bytes (gzip or not); blank lines ignored, bad lines skipped.

    A line may hold several records back to back (Firehose concatenates the stream's records as they
    are, with no delimiter unless one is appended): each is decoded in turn.
    """
    if content[:2] == GZIP_MAGIC:
        content = gzip.decompress(content)
    decoder = json.JSONDecoder()
    for raw in content.splitlines():
        line = raw.decode("utf-8", errors="replace")
        position = _skip_blanks(line, 0)
        while position < len(line):
            try:
                record, position = decoder.raw_decode(line, position)
                yield flat_row(record)
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                if counter is not None:
                    counter.skip(raw, err)
                break
            position = _skip_blanks(line, position)


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def local_files(path: str) -> list[str]:
    """A file, or every file under a directory (hidden files and _SUCCESS-style markers left out)."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += [os.path.join(folder, f) for f in sorted(files) if not f.startswith((".", "_"))]
    return found


def read_local(paths: Iterable[str], counter: Counter | None = None) -> list[tuple]:
    rows: list[tuple] = []
    for path in paths:
        with open(path, "rb") as file:
            rows.extend(rows_of(file.read(), counter))
    return rows
