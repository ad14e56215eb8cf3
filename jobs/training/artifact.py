"""model.tar.gz as SageMaker's built-in XGBoost container (1.7-1) loads it, and the model card.

Written here, read by serving (local_aws.endpoint.load_booster).

The container's server loads EVERY file of the extracted model directory as a booster (pickle
first, then Booster.load_model), so the tarball holds exactly one member, `xgboost-model`; the
model card and metrics live beside the tarball, never in it.

Format: the XGBoost JSON document. XGBoost 1.x sniffs the content of an extension-less file and
reads JSON from it; the document written by xgboost 2.1 loads in 1.7 with identical predictions
(tests/test_training.py checks it against a real xgboost 1.7.6). XGBoost 3.x documents load in
1.7 too but predict differently (its base_score encoding changed), hence the 2.1 pin.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import tarfile
from datetime import datetime
from importlib import metadata
from pathlib import Path

import xgboost as xgb

from jobs.batch.compat import UTC  # the consistency job reads MODEL_MEMBER on EMR's Python 3.9
from jobs.training.hyperparameters import SAGEMAKER_XGBOOST_VERSION

MODEL_MEMBER = "xgboost-model"
TARBALL = "model.tar.gz"
MODEL_CARD = "model_card.json"
METRICS = "metrics.json"
MODEL_FORMAT = "xgboost-json"
PACKAGES = ("xgboost-cpu", "numpy", "pyarrow", "scipy")


def model_bytes(booster: xgb.Booster) -> bytes:
    return bytes(booster.save_raw(raw_format="json"))


def write_tarball(booster: xgb.Booster, out_dir: Path) -> Path:
    """Deterministic model.tar.gz (fixed mtimes and owners): same booster, same bytes."""
    payload = model_bytes(booster)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TARBALL
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo(MODEL_MEMBER)
        info.size, info.mode, info.mtime = len(payload), 0o644, 0
        tar.addfile(info, io.BytesIO(payload))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    versions["xgboost"] = xgb.__version__
    return versions


def model_card(
    *,
    features: tuple[str, ...],
    hyperparameters: dict,
    data: dict,
    metrics: dict,
    tarball: Path,
    training_seconds: float,
    training_cpu_seconds: float,
    threshold: float,
) -> dict:
    return {
        "name": "card-fraud-xgboost",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "task": "binary classification: probability that a card transaction is fraudulent",
        "features": list(features),
        "input": "text/csv rows, no header, columns in `features` order",
        "serving_threshold": threshold,
        "artifact": {
            "file": tarball.name,
            "member": MODEL_MEMBER,
            "format": MODEL_FORMAT,
            "sha256": sha256(tarball),
            "sagemaker_xgboost_container": SAGEMAKER_XGBOOST_VERSION,
        },
        "hyperparameters": hyperparameters,
        "data": data,
        "metrics": metrics,
        "training_seconds": round(training_seconds, 3),
        "training_cpu_seconds": round(training_cpu_seconds, 3),
        "packages": package_versions(),
    }


def write_json(path: Path, content: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")
    return path
