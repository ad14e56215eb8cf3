"""The evaluation report a person opens: PNG plots (ROC, PR, score distribution, calibration, feature
importance) and index.html."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
import xgboost as xgb
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

PLOTS = {
    "roc.png": "ROC curve",
    "pr.png": "precision-recall curve",
    "scores.png": "score distribution by label",
    "calibration.png": "calibration (reliability) curve",
    "importance.png": "feature importance (gain)",
}
CALIBRATION_BINS = 10


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_roc(y: np.ndarray, scores: np.ndarray, auc: float | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    fpr, tpr, _ = skm.roc_curve(y, scores)
    ax.plot(fpr, tpr, label=f"model (ROC AUC {auc:.3f})" if auc else "model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC, test set")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_pr(y: np.ndarray, scores: np.ndarray, ap: float | None, serving: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    precision, recall, _ = skm.precision_recall_curve(y, scores)
    ax.step(recall, precision, where="post", label=f"model (PR AUC {ap:.3f})" if ap else "model")
    base = float(np.mean(y)) if len(y) else 0.0
    ax.axhline(base, linestyle="--", color="grey", label=f"fraud rate {base:.4f}")
    ax.plot(
        [serving["recall"]],
        [serving["precision"]],
        "o",
        color="red",
        label=f"serving threshold {serving['threshold']}",
    )
    ax.set(
        xlabel="recall", ylabel="precision", title="Precision-recall, test set", xlim=(0, 1), ylim=(0, 1.02)
    )
    ax.legend(loc="lower left")
    return _save(fig, path)


def plot_scores(y: np.ndarray, scores: np.ndarray, threshold: float, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 51)
    labels = np.asarray(y).astype(bool)
    ax.hist(scores[~labels], bins=bins, alpha=0.6, label=f"legitimate ({(~labels).sum():,})", log=True)
    ax.hist(scores[labels], bins=bins, alpha=0.6, label=f"fraud ({labels.sum():,})", log=True)
    ax.axvline(threshold, color="red", linestyle="--", label=f"serving threshold {threshold}")
    ax.set(
        xlabel="predicted probability", ylabel="transactions (log scale)", title="Scores by label, test set"
    )
    ax.legend()
    return _save(fig, path)


def plot_calibration(y: np.ndarray, scores: np.ndarray, path: Path) -> Path:
    """Observed fraud rate against the mean predicted probability, in equal-width score bins."""
    observed, predicted = calibration_curve(y, scores, n_bins=CALIBRATION_BINS)
    # rows per bin, binned as calibration_curve bins them: a point on few rows says little
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=CALIBRATION_BINS)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(predicted, observed, "o-", label=f"model (Brier score {skm.brier_score_loss(y, scores):.5f})")
    for x, o, n in zip(predicted, observed, counts[counts > 0], strict=True):
        ax.annotate(f"{n:,}", (x, o), textcoords="offset points", xytext=(6, 3), fontsize=7)
    ax.set(
        xlabel="mean predicted probability (equal-width bins)",
        ylabel="observed fraud rate",
        title="Calibration, test set (rows per bin)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    return _save(fig, path)


def importance(booster: xgb.Booster, features: tuple[str, ...]) -> dict[str, float]:
    """Average gain of each feature's splits (0 for a feature no tree splits on), highest first."""
    gain = booster.get_score(importance_type="gain")
    return dict(sorted(((f, float(gain.get(f, 0.0))) for f in features), key=lambda fg: -fg[1]))


def plot_importance(gains: dict[str, float], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(gains) + 1.2))
    ax.barh(list(gains)[::-1], list(gains.values())[::-1])
    ax.set(xlabel="average gain per split", title="Feature importance (gain)")
    return _save(fig, path)


def _fmt(v: object) -> str:
    return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))


def write_report(
    out_dir: Path, y: np.ndarray, scores: np.ndarray, metrics: dict, card: dict, booster: xgb.Booster
) -> Path:
    """Write out_dir/index.html and the PLOTS beside it; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    serving = metrics["at_serving_threshold"]
    plot_roc(y, scores, metrics["roc_auc"], out_dir / "roc.png")
    plot_pr(y, scores, metrics["pr_auc"], serving, out_dir / "pr.png")
    plot_scores(y, scores, serving["threshold"], out_dir / "scores.png")
    plot_calibration(y, scores, out_dir / "calibration.png")
    gains = importance(booster, tuple(card["features"]))
    plot_importance(gains, out_dir / "importance.png")
    cm = serving["confusion_matrix"]
    target = metrics["at_target_precision"]
    rows = [
        ("ROC AUC", metrics["roc_auc"]),
        ("PR AUC (average precision)", metrics["pr_auc"]),
        (f"precision at {serving['threshold']}", serving["precision"]),
        (f"recall at {serving['threshold']}", serving["recall"]),
        (f"F1 at {serving['threshold']}", serving["f1"]),
        (f"threshold for precision {target['target_precision']}", target["threshold"]),
        ("recall at that threshold", target["recall"]),
        ("test rows / frauds", f"{metrics['rows']:,} / {metrics['positives']:,}"),
    ]
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    gain_table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{v:,.1f}</td></tr>" for k, v in gains.items())
    images = "\n".join(f'<a href="{n}"><img src="{n}" alt="{a}"></a>' for n, a in PLOTS.items())
    data = card["data"]
    splits = "\n".join(
        f"<tr><th>{name}</th><td>{s['rows']:,}</td><td>{s['frauds']:,}</td><td>{s['first']}</td><td>{s['last']}</td></tr>"
        for name, s in data["splits"].items()
    )
    hp = ", ".join(f"{k}={v}" for k, v in card["hyperparameters"].items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fraud model report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 10px;text-align:left}}
img{{max-width:32%;border:1px solid #ddd}}</style></head><body>
<h1>Fraud model: test-period evaluation</h1>
<p>Features, in model order: <code>{html.escape(", ".join(card["features"]))}</code></p>
<h2>Metrics (test set)</h2><table>{table}</table>
<h2>Confusion matrix at the serving threshold {serving["threshold"]}</h2>
<table><tr><th></th><th>flagged</th><th>passed</th></tr>
<tr><th>fraud</th><td>{cm["tp"]:,}</td><td>{cm["fn"]:,}</td></tr>
<tr><th>legitimate</th><td>{cm["fp"]:,}</td><td>{cm["tn"]:,}</td></tr></table>
<h2>Plots</h2>
{images}
<h2>Feature importance (average gain per split, from the booster)</h2><table>{gain_table}</table>
<h2>Data</h2><p>sha256 {data["sha256"]}</p>
<table><tr><th>split</th><th>rows</th><th>frauds</th><th>first</th><th>last</th></tr>{splits}</table>
<h2>Hyperparameters</h2><p><code>{html.escape(hp)}</code></p>
<p>Trained in {card["training_seconds"]} s with {html.escape(str(card["packages"]))}.</p>
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page)
    return path
