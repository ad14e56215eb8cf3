"""Publish the job's outputs so that a reader never sees partial results as complete.

Local directories: everything is written to a staging directory beside DIR, then swapped in
with renames; `_SUCCESS` (a JSON manifest) is written last. Object stores (s3://) cannot rename:
outputs are written in place and `_SUCCESS` last, which readers check.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

MANIFEST = "_SUCCESS"


def is_remote(path: str) -> bool:
    return "://" in path


@contextmanager
def staged(output: str) -> Iterator[str]:
    """Yield a directory to write into; on success it becomes `output`, on failure it vanishes."""
    if is_remote(output):
        yield output
        return
    final = Path(output)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield str(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)


def write_manifest(directory: str, manifest: dict, write_remote: Callable[[str, str], None]) -> None:
    """Write `_SUCCESS`; remote directories go through the engine's own file system client."""
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if is_remote(directory):
        write_remote(f"{directory.rstrip('/')}/{MANIFEST}", text)
    else:
        (Path(directory) / MANIFEST).write_text(text)


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a completed output; raises FileNotFoundError if the output is incomplete."""
    return json.loads((Path(directory) / MANIFEST).read_text())
