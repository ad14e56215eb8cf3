"""The training job: read the training table, split, train, evaluate, write artifact and report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from features.definition import MODEL_INPUT, SERVING_THRESHOLD
from jobs.training import artifact, evaluate, report, splits, trainer

REPORT_DIR = "report"
DEFAULT_DATES = splits.SplitDates()
DEFAULT_HYPERPARAMETERS = trainer.Hyperparameters()


@dataclass(frozen=True)
class Outputs:
    tarball: Path
    model_card: Path
    metrics: Path
    report: Path
    metrics_content: dict
    training_seconds: float


def _noop(*_: object) -> None:
    return None


def run(
    features_dir: Path,
    out_dir: Path,
    dates: splits.SplitDates = DEFAULT_DATES,
    hp: trainer.Hyperparameters = DEFAULT_HYPERPARAMETERS,
    target_precision: float = evaluate.DEFAULT_TARGET_PRECISION,
    nthread: int | None = None,
    on_step: Callable[[str], None] = _noop,
    on_round: Callable[[int, dict[str, float]], None] | None = None,
) -> Outputs:
    """Raises splits.DataError (bad or missing input) or ValueError (bad parameters)."""
    nthread = nthread or os.cpu_count() or 1
    files = splits.training_files(features_dir)
    on_step(f"reading the training table ({len(files)} files)")
    table = splits.read_table(files)
    on_step(f"splitting {table.num_rows:,} rows")
    parts = splits.split(table, dates)
    del table
    for part in parts.parts():
        if part.rows == 0:
            raise splits.DataError(
                f"the {part.name} split is empty: check --train-start {dates.train_start} and "
                f"--test-start {dates.test_start} against the data's dates"
            )
    on_step(f"training on {parts.train.rows:,} rows ({hp.num_round} rounds, {nthread} threads)")
    started, cpu_started = time.perf_counter(), time.process_time()
    trained = trainer.train(
        parts.train.x,
        parts.train.y,
        parts.validation.x,
        parts.validation.y,
        MODEL_INPUT,
        hp,
        nthread,
        on_round,
    )
    training_seconds = time.perf_counter() - started
    # CPU seconds of all threads: wall time on an idle machine is about this / cores.
    training_cpu_seconds = time.process_time() - cpu_started
    on_step(f"evaluating on {parts.test.rows:,} test rows")
    scores = trainer.predict(trained.booster, parts.test.x)
    test_metrics = evaluate.metrics(parts.test.y, scores, SERVING_THRESHOLD, target_precision)
    validation_metrics = evaluate.metrics(
        parts.validation.y,
        trainer.predict(trained.booster, parts.validation.x),
        SERVING_THRESHOLD,
        target_precision,
    )
    content = {"split": "test", **test_metrics, "validation": validation_metrics}
    on_step("writing model.tar.gz, model card, metrics and report")
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = artifact.write_tarball(trained.booster, out_dir)
    data = {
        "source": str(Path(features_dir) / "training"),
        "files": len(files),
        "sha256": splits.files_sha256(files),
        "dates": {k: str(v) for k, v in asdict(dates).items()},
        "splits": {p.name: p.summary() for p in parts.parts()},
    }
    card = artifact.model_card(
        features=MODEL_INPUT,
        hyperparameters={**hp.as_strings(), "nthread": str(nthread)},
        data=data,
        metrics={"test": test_metrics, "validation": validation_metrics},
        tarball=tarball,
        training_seconds=training_seconds,
        training_cpu_seconds=training_cpu_seconds,
        threshold=SERVING_THRESHOLD,
    )
    metrics_path = artifact.write_json(out_dir / artifact.METRICS, content)
    card_path = artifact.write_json(out_dir / artifact.MODEL_CARD, card)
    report_path = report.write_report(
        out_dir / REPORT_DIR, parts.test.y, scores, test_metrics, card, trained.booster
    )
    return Outputs(tarball, card_path, metrics_path, report_path, content, training_seconds)
