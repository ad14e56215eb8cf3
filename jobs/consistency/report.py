"""consistency.json and REPORT.md from the job's result."""

from __future__ import annotations

import json
from typing import Any

from jobs.consistency import sql

EXPLANATIONS = {
    sql.MATCH: "every model input equal to the batch job's (relative tolerance {tol})",
    sql.PEERS: "the card has another transaction at the same event time (arrival order decides what the stream counted)",
    sql.LATE: "a transaction of the card within the sliding window before it was counted by the batch job but never served (late, dead-lettered or not streamed)",
    sql.SNAPSHOT: "served with an older daily snapshot (the refresh had not landed) or with a snapshot caveat (unknown card, snapshot newer than the event)",
    sql.NOT_IN_BATCH: "the batch job has no row with this tid (its history lacks the served transaction)",
    sql.UNEXPLAINED: "none of the above",
}


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=False, default=str) + "\n"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.3f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def markdown(result: dict[str, Any], notes: list) -> str:
    r = result
    a = r["auc"]
    lines = ["# Served vs batch features: consistency report", ""]
    if notes:
        lines += [*notes, ""]
    lines += [
        f"Predictions {r['inputs']['predictions']} against the batch job's rows {r['inputs']['training']} "
        f"(engine {r['engine']}); served period {r['period'][0]} to {r['period'][1]}.",
        "",
        "| | |",
        "|---|---|",
        f"| served transactions (distinct tids) | {r['served']:,} |",
        f"| match rate (all model inputs equal) | {_pct(r['match_rate'])} |",
        f"| matching or explained | {_pct(r['explained_rate'])} |",
        f"| unexplained share (threshold {r['max_unexplained']:g}) | {_pct(r['unexplained_share'])} "
        f"({'passed' if r['passed'] else 'FAILED'}) |",
        f"| batch rows of the period never served | {r['unserved_in_period']:,} |",
        f"| duplicate prediction records / unreadable lines | {r['duplicate_records']:,} / {r['unreadable_lines']:,} |",
        "",
        "## By reason",
        "",
        "| reason | transactions | meaning |",
        "|---|---|---|",
    ]
    for reason in sql.REASONS:
        meaning = EXPLANATIONS[reason].format(tol=r["relative_tolerance"])
        lines.append(f"| {reason} | {r['reasons'][reason]:,} | {meaning} |")
    lines += ["", "## Per feature", "", "| feature | mismatched | match rate |", "|---|---|---|"]
    for name, f in r["features"].items():
        lines.append(f"| {name} | {f['mismatched']:,} | {_pct(f['match_rate'])} |")
    diff = a["pr_auc_difference"]
    lines += [
        "",
        "## As served vs the same model on the batch features",
        "",
        f"{a['transactions']:,} transactions with a batch row, {a['labelled']:,} of them labelled, "
        f"{a['positives']:,} as fraud. A live transaction has no label until one arrives: the AUCs "
        "cover the labelled ones.",
        "",
        "| metric | as served | batch features | difference |",
        "|---|---|---|---|",
        f"| ROC AUC | {_num(a['served_roc_auc'])} | {_num(a['offline_roc_auc'])} | "
        f"{_diff(a['served_roc_auc'], a['offline_roc_auc'])} |",
        f"| PR AUC | {_num(a['served_pr_auc'])} | {_num(a['offline_pr_auc'])} | "
        f"{'n/a' if diff is None else f'{diff:+.4f}'} |",
        "",
    ]
    if r["samples"]:
        lines += [
            f"## Mismatches (first {len(r['samples'])}, unexplained first)",
            "",
            "| tid | cc_num | trans_ts | reason | feature: served vs batch |",
            "|---|---|---|---|---|",
        ]
        for m in r["samples"]:
            diffs = "; ".join(f"{n}: {d['served']!r} vs {d['batch']!r}" for n, d in m["diffs"].items())
            lines.append(f"| {m['tid']} | {m['cc_num']} | {m['trans_ts']} | {m['reason']} | {diffs or '-'} |")
        lines.append("")
    return "\n".join(lines)


def _diff(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None else f"{a - b:+.4f}"
