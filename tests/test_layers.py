"""Imports only go down the project's layers (docs/architecture.md): the functions, the simulator and the
engine get their clients from clients.factory, never by importing the stand-ins or the profiles.

Every import statement of every module is walked, those inside functions too (a lazy import is still
an arrow), and each one that names a higher layer's package fails the test with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top; a package may import its own layer's and the lower layers' packages.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("tools", "features"),  # tools/: small helpers every CLI may use
    ("clients",),
    ("local_aws",),
    ("functions", "simulator", "jobs"),
    ("profiles",),
    ("bench", "deploy", "packager"),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
# The stand-ins are chosen by configuration (clients.factory): the layer above them never names them.
BLIND_TO_STAND_INS = ("functions", "simulator", "jobs")
# Upward imports known and owned elsewhere: (importing file, imported package) -> why it stays for now.
KNOWN: dict[tuple[str, str], str] = {}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def upward(package: str, root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted((root / package).rglob("*.py")):
        name = path.relative_to(root).as_posix()
        for line, module in imports(path):
            target = module.split(".")[0]
            up = RANK.get(target, -1) > RANK[package]
            hidden = target == "local_aws" and package in BLIND_TO_STAND_INS
            if (up or hidden) and (name, target) not in KNOWN:
                out.append(f"{name}:{line} imports {module}")
    return out


@pytest.mark.parametrize("package", [p for layer in LAYERS for p in layer if (ROOT / p).is_dir()])
def test_no_import_goes_up(package: str) -> None:
    assert upward(package) == []


def test_every_package_has_a_layer() -> None:
    """A new top-level package is placed in LAYERS (and docs/architecture.md) before it is imported."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(RANK)


def test_an_upward_import_is_found_even_inside_a_function(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "probe.py").write_text(
        "import features.definition\nfrom clients.factory import client\n\n\n"
        "def f():\n    from profiles.local import Processes\n    import local_aws.stream\n"
    )
    assert upward("functions", tmp_path) == [
        "functions/probe.py:6 imports profiles.local",
        "functions/probe.py:7 imports local_aws.stream",
    ]
