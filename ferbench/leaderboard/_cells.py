"""Cell texts of the leaderboard, shared by every format (terminal table, markdown, csv, HTML)."""

from __future__ import annotations

import math
import re

from ferbench.comparability import CAVEATS, COMPARABLE, NOT_COMPARABLE
from ferbench.leaderboard._compare import Row

MARKS = {COMPARABLE: ("✓", "green"), CAVEATS: ("~", "yellow"), NOT_COMPARABLE: ("✗", "red")}
VERDICTS = {COMPARABLE: "comparable", CAVEATS: "comparable with caveats", NOT_COMPARABLE: "not comparable"}
LEGEND = (
    "✓ comparable · ~ with caveats (Δ shown) · ✗ not comparable (no Δ). ours: mean ± 95% CI "
    "(t over seeds, or one run's bootstrap; (low–high) if uneven), ± sd: std over folds."
)


def fmt(value: float | None, std: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{100 * value:.2f}"
    return f"{text} ± {100 * std:.2f}" if std is not None else text


def metric_label(metric: str) -> str:
    """'test_accuracy' -> 'test', 'train_cv_accuracy' -> 'train cv'."""
    return metric.removesuffix("_accuracy").replace("_", " ")


def ours_text(row: Row) -> str:
    if row.ours is None:
        return ""
    value = f"{100 * row.ours:.2f}"
    if row.ours_ci is not None:
        above, below = (f"{100 * abs(bound - row.ours):.2f}" for bound in row.ours_ci[::-1])
        if above == below:  # t intervals, and bootstrap ones symmetric at this precision
            return f"{value} ± {above}"
        return f"{value} ({100 * row.ours_ci[0]:.1f}–{100 * row.ours_ci[1]:.1f})"
    return f"{value} ± {100 * row.ours_std:.2f} sd" if row.ours_std is not None else value


def delta_text(row: Row) -> str:
    return "" if row.delta is None else f"{100 * row.delta:+.2f}"


def all_reasons(row: Row) -> list[str]:
    reasons = list(row.reasons)
    if row.subject_independent is not None:  # beside the reason, so the gap is read at once
        reasons.append(f"ours by subject ({row.subject_independent_protocol}): {fmt(row.subject_independent)}")
    return reasons


def short_reason(reason: str) -> str:
    """Its head: 'protocol differs (kfold:10 vs official)' -> 'protocol differs'."""
    head = re.sub(r"\s*\([^)]*\)", "", reason).split(", ")[0]
    return " ".join(head.split())


def short_why(row: Row) -> str:
    """The delta, or the first reason there is none, and how many reasons more (--wide)."""
    if row.reference_only:
        return "reference, not ours"
    reasons = all_reasons(row)
    first = short_reason(reasons[0]) if reasons else ""
    if len(reasons) > 1:
        first += f" +{len(reasons) - 1} more"
    if row.delta is None:
        return first
    return f"{delta_text(row)} {first}" if first else delta_text(row)
