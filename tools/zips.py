"""Byte-for-byte reproducible zip archives: same inputs, same bytes, same hash for Terraform."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

# Zip timestamps cannot predate 1980; a fixed one keeps archives reproducible.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def write_zip(entries: Mapping[str, Path | bytes], out: Path) -> Path:
    """Write `entries` (archive name -> file path or bytes) sorted by name, fixed times and modes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            source = entries[name]
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    tmp.replace(out)
    return out


def tree_entries(
    root: Path, prefix: str = "", exclude: tuple[str, ...] = ("__pycache__", ".pyc")
) -> dict[str, Path]:
    """Every file under `root`, keyed by its archive name (prefix + relative path)."""
    entries = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part in str(path) for part in exclude):
            entries[prefix + path.relative_to(root).as_posix()] = path
    return entries
