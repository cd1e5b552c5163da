"""Metrics and reports: the numbers every run, leaderboard and analysis agree on.

All figures are fractions in [0, 1]. Metrics are computed over *all* classes of the label space
(a class absent from a test fold counts with zero recall / F1 instead of silently vanishing).
Their uncertainty too: over seeds (Student t), over test images (percentile bootstrap), and
between two runs on the same images (exact McNemar).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ferbench.errors import FerbenchError


def _check(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise FerbenchError(f"probabilities of shape {proba.shape} do not match {len(y_true)} labels")
    if proba.shape[1] != n_classes:
        raise FerbenchError(f"probabilities have {proba.shape[1]} columns for {n_classes} classes")
    if len(y_true) == 0:
        raise FerbenchError("cannot evaluate on an empty part")
    return y_true, proba


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, class_names, prefix: str = "test_"
) -> dict[str, float]:
    """accuracy, macro_f1 and recall_<class> for every class, each prefixed (e.g. test_accuracy).

    From the confusion matrix, as sklearn's f1_score / recall_score with zero_division=0 define
    them (tested equal); computed directly because a leave-one-out grid evaluates thousands of
    folds and sklearn's input validation cost ~5 ms per call."""
    class_names = list(class_names)
    y_true, proba = _check(y_true, proba, len(class_names))
    hits, _, _, recalls, f1 = class_rates(confusion(y_true, proba.argmax(axis=1), len(class_names)))
    out = {f"{prefix}accuracy": float(hits.sum() / len(y_true)), f"{prefix}macro_f1": float(f1.mean())}
    for name, value in zip(class_names, recalls, strict=True):
        out[f"{prefix}recall_{name}"] = float(value)
    return out


def class_rates(matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per class, from a confusion matrix (rows = true class): hits, support, precision, recall
    and F1, each 0 where undefined (sklearn's zero_division=0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    hits, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    return hits, support, precision, recall, f1


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, normalize: str | None = None) -> np.ndarray:
    """(n_classes, n_classes) matrix, rows = true class. normalize: None | "true" | "pred" | "all"."""
    if normalize not in (None, "true", "pred", "all"):
        raise FerbenchError(f"normalize {normalize!r} is not one of none, true, pred, all")
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise FerbenchError("true and predicted labels differ in length")
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    if normalize is None:
        return matrix
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    totals = matrix.sum(axis=axis, keepdims=axis is not None)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(totals > 0, matrix / np.maximum(totals, 1), 0.0)
    return out.astype(np.float64)


def report_text(y_true: np.ndarray, proba: np.ndarray, class_names, digits: int = 4) -> str:
    """sklearn's classification report over all classes, character for character (tested), from
    the confusion matrix: sklearn's own call cost ~60 ms, once per run of a 60-cell grid."""
    class_names = list(class_names)
    y_true, proba = _check(y_true, proba, len(class_names))
    hits, support, precision, recall, f1 = class_rates(confusion(y_true, proba.argmax(axis=1), len(class_names)))
    width = max(max(len(name) for name in class_names), len("weighted avg"), digits)
    headers = ("precision", "recall", "f1-score", "support")
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
    for name, values in zip(class_names, zip(precision, recall, f1, support.astype(int), strict=True), strict=True):
        text += row.format(name, *values, width=width, digits=digits)
    total = int(support.sum())
    text += "\n" + ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", hits.sum() / total, total, width=width, digits=digits
    )
    text += row.format("macro avg", precision.mean(), recall.mean(), f1.mean(), total, width=width, digits=digits)
    weights = support / total
    text += row.format(
        "weighted avg", precision @ weights, recall @ weights, f1 @ weights, total, width=width, digits=digits
    )
    return text


def aggregate(fold_metrics: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over folds plus `<name>_std` (population std; 0 for one fold).

    A metric missing from some folds is averaged over the folds that have it.
    """
    if not fold_metrics:
        return {}
    names: list[str] = []
    for metrics in fold_metrics:
        names.extend(name for name in metrics if name not in names)
    out: dict[str, float] = {}
    for name in names:
        values = np.array([m[name] for m in fold_metrics if name in m], dtype=np.float64)
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std())
    return out


# --- uncertainty: over seeds, over test images, and between two runs ----------------------------
def _check_confidence(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise FerbenchError(f"confidence {confidence!r} must lie strictly between 0 and 1")
    return float(confidence)


def mean_ci(values, confidence: float = 0.95, bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """Mean over seeds with its Student-t interval: mean, std (sample, ddof=1), ci_low, ci_high, n.

    One value has no spread: std and the bounds are NaN then (not an error). `bounds` clips the
    interval to the metric's range: an accuracy near 1 would otherwise reach past it."""

    confidence = _check_confidence(confidence)
    values = np.asarray(values, dtype=np.float64).ravel()
    if len(values) == 0:
        raise FerbenchError("cannot summarise an empty list of values")
    if not np.isfinite(values).all():
        raise FerbenchError("cannot summarise values that are not all finite numbers")
    n, mean = len(values), float(values.mean())
    if n == 1:
        return {"mean": mean, "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 1}
    std = float(values.std(ddof=1))
    low, high = t_interval(mean, std, n, confidence, bounds)
    return {"mean": mean, "std": std, "ci_low": low, "ci_high": high, "n": n}


def t_interval(
    mean: float, std: float, n: int, confidence: float = 0.95, bounds: tuple[float, float] | None = None
) -> tuple[float, float]:
    """Student-t interval of a mean from its sample std over n >= 2 values, clipped to `bounds`."""
    from scipy import stats

    if std == 0.0:  # scipy returns NaN bounds for a zero scale; identical seeds pin the mean
        low = high = mean
    else:
        low, high = stats.t.interval(confidence, df=n - 1, loc=mean, scale=std / np.sqrt(n))
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return float(low), float(high)


def _hits(y_true, *predictions) -> list[np.ndarray]:
    """Per-image correctness of each prediction vector against y_true, after checking lengths."""
    y_true = np.asarray(y_true).ravel()
    if len(y_true) == 0:
        raise FerbenchError("cannot evaluate on an empty part")
    out = []
    for pred in predictions:
        pred = np.asarray(pred).ravel()
        if pred.shape != y_true.shape:
            raise FerbenchError(f"{len(pred)} predictions do not match {len(y_true)} labels")
        out.append(pred == y_true)
    return out


def bootstrap_ci(
    y_true, y_pred, *, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of accuracy over test images; the same seed gives the same
    interval. Resamples are drawn in batches of 250 so memory stays near 250 x n booleans."""
    from scipy import stats

    confidence = _check_confidence(confidence)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise FerbenchError(f"n_resamples {n_resamples!r} must be an integer >= 1")
    (hits,) = _hits(y_true, y_pred)
    if len(hits) == 1:  # every resample is that one image (scipy refuses a single observation)
        return float(hits[0]), float(hits[0])
    result = stats.bootstrap(
        (hits,),
        np.mean,
        n_resamples=int(n_resamples),
        method="percentile",
        confidence_level=confidence,
        vectorized=True,
        batch=250,
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


VERDICTS = ("better", "worse", "within noise")


def format_p(p_value: float) -> str:
    """'p = 0.41', 'p = 0.003', 'p < 0.001'."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


@dataclass(frozen=True)
class PairedResult:
    """Run A against run B on the same test images; the verdict is from A's side."""

    verdict: str
    p_value: float
    n: int
    a_only: int  # images A got right and B got wrong
    b_only: int
    accuracy_a: float
    accuracy_b: float

    def describe(self) -> str:
        return f"{self.verdict} ({format_p(self.p_value)})"


def paired_test(y_true, pred_a, pred_b, *, alpha: float = 0.05) -> PairedResult:
    """Exact McNemar test: a two-sided binomial test on the images exactly one run got right.
    Without such images the runs cannot be told apart (p = 1)."""
    from scipy import stats

    if not 0.0 < float(alpha) < 1.0:
        raise FerbenchError(f"alpha {alpha!r} must lie strictly between 0 and 1")
    hits_a, hits_b = _hits(y_true, pred_a, pred_b)
    a_only, b_only = int(np.sum(hits_a & ~hits_b)), int(np.sum(hits_b & ~hits_a))
    discordant = a_only + b_only
    p_value = float(stats.binomtest(a_only, discordant, 0.5).pvalue) if discordant else 1.0
    if p_value >= alpha:
        verdict = "within noise"
    else:
        verdict = "better" if a_only > b_only else "worse"
    return PairedResult(verdict, p_value, len(hits_a), a_only, b_only, float(hits_a.mean()), float(hits_b.mean()))
