"""The evaluation report a person opens: PNG plots (ROC, PR, score distribution) and index.html."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np

from jobs.training.evaluate import Curve, curve

PLOTS = ("roc.png", "pr.png", "scores.png")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_roc(c: Curve, auc: float | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(np.r_[0.0, c.fpr], np.r_[0.0, c.recall], label=f"model (ROC AUC {auc:.3f})" if auc else "model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC, test set")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_pr(c: Curve, ap: float | None, serving: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.step(
        np.r_[0.0, c.recall],
        np.r_[1.0, c.precision],
        where="post",
        label=f"model (PR AUC {ap:.3f})" if ap else "model",
    )
    base = c.positives / max(c.positives + c.negatives, 1)
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


def _fmt(v: object) -> str:
    return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))


def write_report(out_dir: Path, y: np.ndarray, scores: np.ndarray, metrics: dict, card: dict) -> Path:
    """Write out_dir/{roc,pr,scores}.png and out_dir/index.html; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    c = curve(y, scores)
    serving = metrics["at_serving_threshold"]
    plot_roc(c, metrics["roc_auc"], out_dir / "roc.png")
    plot_pr(c, metrics["pr_auc"], serving, out_dir / "pr.png")
    plot_scores(y, scores, serving["threshold"], out_dir / "scores.png")
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
<a href="roc.png"><img src="roc.png" alt="ROC curve"></a>
<a href="pr.png"><img src="pr.png" alt="precision-recall curve"></a>
<a href="scores.png"><img src="scores.png" alt="score distribution by label"></a>
<h2>Data</h2><p>sha256 {data["sha256"]}</p>
<table><tr><th>split</th><th>rows</th><th>frauds</th><th>first</th><th>last</th></tr>{splits}</table>
<h2>Hyperparameters</h2><p><code>{html.escape(hp)}</code></p>
<p>Trained in {card["training_seconds"]} s with {html.escape(str(card["packages"]))}.</p>
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page)
    return path
