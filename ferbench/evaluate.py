"""Metrics and reports: the numbers every run, leaderboard and analysis agree on.

All figures are fractions in [0, 1]. Metrics are computed over *all* classes of the label space
(a class absent from a test fold counts with zero recall / F1 instead of silently vanishing).
"""

from __future__ import annotations

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
    for name, value in zip(class_names, recalls):
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


def confusion(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, normalize: str | None = None
) -> np.ndarray:
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
    for name, values in zip(class_names, zip(precision, recall, f1, support.astype(int))):
        text += row.format(name, *values, width=width, digits=digits)
    total = int(support.sum())
    text += "\n" + ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", hits.sum() / total, total, width=width, digits=digits)
    text += row.format("macro avg", precision.mean(), recall.mean(), f1.mean(), total, width=width, digits=digits)
    weights = support / total
    text += row.format("weighted avg", precision @ weights, recall @ weights, f1 @ weights, total,
                       width=width, digits=digits)
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
