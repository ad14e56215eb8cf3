"""The AUC comparison: the served model scored on the batch features by XGBoost itself, and the ROC AUC
and PR AUC of the served and the offline scores by jobs.training.evaluate (scikit-learn).

numpy, XGBoost and scikit-learn are imported inside the functions: on EMR Serverless they come from
the job's dependency archive (./deps on the driver and in every executor's working directory), which
is on sys.path only once jobs.batch.emr_entry.use_shipped_dependencies has put it there.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from typing import Any

from features.definition import MODEL_INPUT

# The columns of the `scored` view the scorer reads, in order: label, served score, then the model's
# inputs as the batch job computed them.
COLUMNS = ("label", "served_probability", *(f"b_{name}" for name in MODEL_INPUT))


def booster(tarball: bytes) -> Any:
    """The XGBoost booster inside model.tar.gz's bytes; ValueError when it is not one."""
    import xgboost as xgb

    from jobs.training.artifact import MODEL_MEMBER

    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            member = tar.extractfile(MODEL_MEMBER)
            model = xgb.Booster(model_file=bytearray(member.read() if member else b""))
    except KeyError as err:
        raise ValueError(f"model.tar.gz has no member named {MODEL_MEMBER}") from err
    except (tarfile.TarError, OSError, EOFError, xgb.core.XGBoostError) as err:
        raise ValueError(f"not a model.tar.gz holding an XGBoost model ({str(err).splitlines()[0]})") from err
    if model.num_features() != len(MODEL_INPUT):
        raise ValueError(
            f"the model takes {model.num_features()} features, the definition {len(MODEL_INPUT)}"
        )
    return model


def score(model: Any, rows: Any) -> Any:
    """(labels float64, NaN where unknown; served float64; offline float32: XGBoost's own) of `scored`
    rows (COLUMNS order). A live transaction has no label until it arrives (the batch job's NULL).

    The features go in as float32, as the endpoint's CSV parser hands them to the booster; a value
    that is not finite (NaN, an infinite ratio, NULL) is missing, as the served record's null is.
    """
    import numpy as np

    matrix = np.array(rows, dtype=np.float64).reshape(-1, len(COLUMNS))
    features = matrix[:, 2:].astype(np.float32)
    features[~np.isfinite(features)] = np.nan
    offline = model.inplace_predict(features, validate_features=False) if len(features) else features[:, 0]
    return matrix[:, 0], matrix[:, 1], np.asarray(offline, dtype=np.float32)


def score_partition(tarball: Any, rows: Iterable[Any]) -> Iterator[tuple]:
    """Spark executors (mapPartitions): one (labels, served, offline) block per partition.

    `tarball` is the broadcast model.tar.gz. Plain rows rather than mapInPandas: the PySpark
    worker imports pandas and pyarrow before any of the job's code runs, so those would have to be
    on the executors' Python path by configuration; numpy and XGBoost are imported here, after the
    shipped dependencies are put on it.
    """
    from jobs.batch.emr_entry import use_shipped_dependencies

    use_shipped_dependencies()
    rows = list(rows)
    if rows:
        yield score(booster(tarball.value), rows)


def aucs(labels: Any, served: Any, offline: Any) -> dict[str, Any]:
    """ROC AUC and PR AUC of both scores against the labels, over the labelled transactions (None
    where undefined: no label yet, or a single class)."""
    import numpy as np

    from jobs.training.evaluate import pr_auc, roc_auc

    labels = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(labels)
    y = labels[known].astype(np.int8)
    result: dict[str, Any] = {
        "transactions": len(labels),
        "labelled": int(known.sum()),
        "positives": int(y.sum()),
    }
    for side, scores in (("served", served), ("offline", offline)):
        labelled_scores = np.asarray(scores)[known]
        result[f"{side}_roc_auc"] = roc_auc(y, labelled_scores) if len(y) else None
        result[f"{side}_pr_auc"] = pr_auc(y, labelled_scores) if len(y) else None
    served_pr, offline_pr = result["served_pr_auc"], result["offline_pr_auc"]
    result["pr_auc_difference"] = None if served_pr is None or offline_pr is None else served_pr - offline_pr
    return result
