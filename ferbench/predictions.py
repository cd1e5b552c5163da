"""Per-image test predictions of a run, kept as one small artifact so two runs can be compared
image by image (paired tests) long after their models are gone.

`evaluation/predictions.npz` holds, in the run's pooled test order: `rows` (each image's row in
the data set), `y_true`, `y_pred` (argmax of the full-precision probabilities), `proba` (float16:
about 14 bytes an image for 7 classes) and `fingerprint` (the data set's content fingerprint,
which says whether two runs' rows name the same images).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError, first_line

ARTIFACT = "evaluation/predictions.npz"
_FOLDER, _FILE = ARTIFACT.rsplit("/", 1)
_ARRAYS = ("rows", "y_true", "y_pred", "proba", "fingerprint")


@dataclass(frozen=True, eq=False)
class Predictions:
    rows: np.ndarray  # int64
    y_true: np.ndarray  # int16
    y_pred: np.ndarray  # int16
    proba: np.ndarray  # float16, (n, n_classes)
    fingerprint: str


def _check_rows(rows: np.ndarray, what: str) -> None:
    if len(np.unique(rows)) != len(rows):
        raise FerbenchError(f"{what} lists some data set rows more than once")


def log_predictions(run_id: str, rows, y_true, proba, *, fingerprint: str) -> None:
    """Store a run's per-image test predictions as its `evaluation/predictions.npz`."""
    rows = np.asarray(rows, dtype=np.int64).ravel()
    y_true = np.asarray(y_true).ravel()
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or not len(rows) == len(y_true) == len(proba):
        raise FerbenchError(
            f"predictions: {len(rows)} rows, {len(y_true)} labels and probabilities of shape {proba.shape} do not match"
        )
    if len(rows) == 0:
        raise FerbenchError("predictions: no test images")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise FerbenchError("predictions: the data set fingerprint is missing")
    _check_rows(rows, "predictions")
    arrays = {
        "rows": rows,
        "y_true": y_true.astype(np.int16),
        # argmax before the float16 cast, which could turn a narrow lead into a tie
        "y_pred": proba.argmax(axis=1).astype(np.int16),
        "proba": proba.astype(np.float16),
        "fingerprint": np.array(fingerprint),
    }
    from ferbench.record import log_files

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _FILE
        np.savez_compressed(path, **arrays)
        log_files(run_id, path, artifact_path=_FOLDER)


def load_predictions(run_id: str) -> Predictions:
    """A run's per-image test predictions, from the store `record.setup` chose."""
    from mlflow.exceptions import MlflowException

    from ferbench import record

    client = record.client()
    try:
        client.get_run(run_id)
    except MlflowException:
        raise FerbenchError(f"unknown run id {run_id!r} in the MLflow store {record.current_uri()}") from None
    try:
        listed = {item.path for item in client.list_artifacts(run_id, _FOLDER)}
    except (MlflowException, OSError) as exc:
        raise FerbenchError(f"run {run_id}: its artifacts cannot be read: {first_line(exc)}") from None
    if ARTIFACT not in listed:
        raise FerbenchError(
            f"run {run_id} has no per-image predictions (it was recorded before ferbench stored "
            f"them, or by a family that logs none); re-run it"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, ARTIFACT, dst_path=tmp)
            with np.load(local, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in _ARRAYS}
        except (MlflowException, OSError, ValueError, KeyError) as exc:
            raise FerbenchError(f"run {run_id}: {ARTIFACT} cannot be read: {first_line(exc)}") from None
    return Predictions(
        arrays["rows"], arrays["y_true"], arrays["y_pred"], arrays["proba"], str(arrays["fingerprint"][()])
    )


def align(a: Predictions, b: Predictions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y_true, pred_a, pred_b) over the test images both runs scored, paired by data set row
    (in row order). The runs must have tested the same images of the same data."""
    if a.fingerprint != b.fingerprint:
        raise FerbenchError(f"different data: fingerprints {a.fingerprint} and {b.fingerprint}")
    _check_rows(a.rows, "run A's predictions")
    _check_rows(b.rows, "run B's predictions")
    order_a, order_b = np.argsort(a.rows, kind="stable"), np.argsort(b.rows, kind="stable")
    if len(a.rows) != len(b.rows) or not np.array_equal(a.rows[order_a], b.rows[order_b]):
        shared = len(np.intersect1d(a.rows, b.rows, assume_unique=True))
        raise FerbenchError(
            f"different test images: run A has {len(a.rows)}, run B has "
            f"{len(b.rows)}, {shared} shared (different protocols or split seeds)"
        )
    y_true = a.y_true[order_a]
    if not np.array_equal(y_true, b.y_true[order_b]):
        raise FerbenchError("the runs label the same data set rows differently")
    return y_true, a.y_pred[order_a], b.y_pred[order_b]
