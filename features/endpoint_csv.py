"""The model endpoint's text/csv contract, derived from the definition: a request is one row per
transaction, no header, the features.definition.MODEL_INPUT values in order (exact floats: repr);
the answer is one probability per line. The score function writes requests and reads answers; the
local endpoint (server and in-process client) reads requests and writes answers: one parser each.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping, Sequence

from features.codec import ModelInput
from features.definition import MODEL_INPUT

_MODEL_VALUES = operator.itemgetter(*MODEL_INPUT)  # the model's features, in MODEL_INPUT order


def format_row(features: Mapping[str, float]) -> tuple[str, ModelInput]:
    """One transaction's model input (`features` by name, MODEL_INPUT picked in order) for both its uses:
    the endpoint's text/csv line (no header, exact floats: repr) and the prediction's "features"
    record. Use csv_body to join the lines."""
    values = _MODEL_VALUES(features)
    return ",".join(map(repr, values)), ModelInput(*values)


def csv_body(lines: Sequence[str]) -> str:
    """text/csv for the endpoint: one line per row (format_row's), no header."""
    return "\n".join(lines)


def parse_rows(body: bytes | str, features: Sequence[str] = MODEL_INPUT) -> list[list[float]]:
    """The endpoint's text/csv request -> rows of floats, one per line, a column per feature (the server's
    and the in-process client's parser); ValueError naming the first bad row or cell."""
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8 text") from None
    if not text.strip():
        raise ValueError("empty body: send text/csv rows, one transaction per line")
    rows = []
    for i, line in enumerate(text.rstrip("\r\n").split("\n"), 1):
        cells = line.rstrip("\r").split(",")
        if len(cells) != len(features):
            raise ValueError(
                f"row {i} has {len(cells)} columns, expected {len(features)}: {', '.join(features)}"
            )
        try:
            row = list(map(float, cells))
        except ValueError:
            row = []
        if not row or not all(map(math.isfinite, row)):
            raise ValueError(f"row {i}, {_bad_cell(features, cells)}")
        rows.append(row)
    return rows


def _bad_cell(features: Sequence[str], cells: Sequence[str]) -> str:
    for column, (name, cell) in enumerate(zip(features, cells, strict=True), 1):
        try:
            finite = math.isfinite(float(cell))
        except ValueError:
            return f"column {column} ({name}): {cell.strip()!r} is not a number"
        if not finite:
            return f"column {column} ({name}): {cell.strip()!r} is not finite"
    raise AssertionError("every cell is a finite number")


def format_probabilities(probabilities: Iterable[float]) -> bytes:
    """The endpoint's text/csv answer: one probability per line (repr: exact)."""
    return "".join(f"{p!r}\n" for p in map(float, probabilities)).encode()


_SEPARATORS = re.compile(r"[,\s]+")


def parse_probabilities(body: bytes | str, expected: int) -> list[float]:
    """The endpoint's text/csv answer -> one probability per row, separated by newlines or commas."""
    text = body.decode() if isinstance(body, bytes) else body
    values = [float(v) for v in _SEPARATORS.split(text.strip()) if v]
    if len(values) != expected:
        raise ValueError(f"endpoint returned {len(values)} scores for {expected} rows")
    return values
