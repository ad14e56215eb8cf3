"""Each function's zip (packager.lambdas layout) imports on its own: the handlers need only the zip's
packages (functions.common, clients, features) and the runtime's (boto3, Powertools from the zip's requirements)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from packager.lambdas import build


@pytest.mark.parametrize("name", ["ingest", "score"])
def test_the_zip_alone_provides_the_handler(name: str, tmp_path: Path) -> None:
    (archive,) = build((name,), out_dir=tmp_path, deps=False)  # third-party packages come from this venv
    probe = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); import app; "
        "assert app.__file__.startswith(sys.path[0]); "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('local_aws', 'profiles', 'simulator', 'jobs', 'tests')]; "
        "print(app.lambda_handler.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "POWERTOOLS_METRICS_NAMESPACE": "t"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lambda_handler"
