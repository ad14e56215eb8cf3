"""The Python locks (issue 15): every environment installs from a requirements*.txt with hashes, compiled
from the requirements*.in beside it (`make lock`), and `make demo`'s lock holds only what the demo runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = (".venv", "build", "data", ".localstack", "node_modules", ".git")


def tracked(pattern: str) -> list[Path]:
    """Files of the repository matching pattern (virtualenvs, build outputs and data left out)."""
    return sorted(
        p
        for p in ROOT.rglob(pattern)
        if not any(part.startswith(SKIP) for part in p.parts[len(ROOT.parts) :])
    )


SOURCES = tracked("*requirements*.in")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(text: str) -> list[tuple[str, str, list[str]]]:
    """(name, version, hashes) of each requirement; continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        pin = PIN.match(line)
        assert pin, f"not an exact pin: {line[:80]}"
        out.append((_name(pin.group(1)), pin.group(3), re.findall(r"--hash=sha256:([0-9a-f]{64})", line)))
    return out


def lock_of(source: Path) -> Path:
    return source.with_suffix(".txt")


def test_every_environment_has_a_source_and_a_lock():
    locks = set(tracked("*requirements*.txt"))
    assert len(SOURCES) >= 11
    assert locks == {lock_of(s) for s in SOURCES}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_lock_pins_every_package_with_hashes_and_keeps_the_top_level_pins(source):
    locked = requirements(lock_of(source).read_text())
    assert locked and all(hashes for _, _, hashes in locked), "a locked package without --hash"
    versions: dict[str, set[str]] = {}
    for name, version, _ in locked:  # a package may appear twice, under exclusive markers
        versions.setdefault(name, set()).add(version)
    for name, version, _ in requirements(source.read_text()):
        assert version in versions.get(name, set()), f"{name}=={version} of {source.name} not in the lock"


def test_layers_of_the_project_venv_agree_on_shared_packages():
    base = {n: v for n, v, _ in requirements((ROOT / "requirements.txt").read_text())}
    for layer in ("requirements-spark.txt", "requirements-dev.txt"):
        for name, version, _ in requirements((ROOT / layer).read_text()):
            assert base.get(name, version) == version, f"{layer}: {name}=={version}, .venv has {base[name]}"


def test_demo_lock_leaves_out_what_only_other_targets_run():
    demo = {n for n, _, _ in requirements((ROOT / "requirements.txt").read_text())}
    elsewhere = {"pyspark", "apache-flink", "checkov", "localstack-core", "sagemaker-train", "pytest"}
    unused = {"pandas", "tqdm"}  # imported by nothing the demo runs
    assert not demo & (elsewhere | unused)


def test_every_install_requires_hashes():
    makefiles = [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]
    installs = [
        (path.name, line.strip())
        for path in makefiles
        for line in path.read_text().splitlines()
        if "pip install" in line
    ]
    assert installs
    assert [i for i in installs if "--require-hashes" not in i[1]] == []
    # Python code that runs pip install: its argument list names --require-hashes too.
    callers = [p for p in tracked("*.py") if re.search(r'"pip",?\s*"install"|/ "pip"', p.read_text())]
    assert {"localstack_server.py", "wheels.py", "conftest.py"} <= {p.name for p in callers}
    for path in callers:
        assert '"--require-hashes"' in path.read_text(), f"{path.relative_to(ROOT)} installs without hashes"
