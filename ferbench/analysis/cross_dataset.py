"""Cross-data set evaluation: train a family on one data set, score it on others.

Every data set speaks the canonical label space (ferbench.labels), so a target image keeps its
canonical class and is scored against the model's output for that class. Rules:
- a target class that the model has no output for (contempt kept in the target, absent from the
  model; a folder class with an unknown name) cannot map: FerbenchError, nothing is logged;
- a model class with no image in the target is left out of the macro recall's denominator, and
  listed under `absent` (accuracy is over the target's images, so it needs no such rule);
- the target part is its official "test" split when it has one (e.g. FER-2013 PrivateTest), else
  every image (the model never saw any of them);
- target images are resized / converted to the training data's shape before the model sees them;
- the diagonal is the in-domain test accuracy of the training run itself (the mean over folds
  for a multi-fold protocol, whose logged model, used off the diagonal, is the first fold's).
The matrix (rows = train, columns = eval) is logged as a run with ferbench.kind=analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.labels import canonical
from ferbench.record.tags import (
    TAG_ANALYSIS,
    TAG_ANALYSIS_RUN,
    TAG_FAMILY,
    TAG_KIND,
    TAG_SEED,
    TAG_SOURCE,
    TAG_SYNTHETIC,
    TAG_VERSION,
)

EXPERIMENT = "cross-dataset"  # -> MLflow experiment "ferbench-cross-dataset"


@dataclass(frozen=True)
class DataSpec:
    name: str
    path: str | None = None

    @classmethod
    def parse(cls, text: str, option: str) -> DataSpec:
        from ferbench.data.readers import READERS

        name, _, path = text.partition(":")
        name = name.strip().lower()
        if name not in READERS:
            raise FerbenchError(f"{option} {text!r}: unknown data set {name!r}; known: {', '.join(READERS)}")
        return cls(name, path.strip() or None)

    def load(self):
        from ferbench.data.readers import load_dataset

        return load_dataset(self.name, self.path)


def label_map(model_classes, target, model_from: str) -> np.ndarray:
    """Model output index for each target class code; FerbenchError when one cannot map."""
    model_index = {name: i for i, name in enumerate(model_classes)}
    out = []
    for name in target.class_names:
        known = canonical(str(name))
        if known is None:
            raise FerbenchError(
                f"data set {target.name}: class {name!r} is not in the canonical "
                "label space (angry, disgust, fear, happy, sad, surprise, neutral, contempt)"
            )
        if known not in model_index:
            raise FerbenchError(
                f"data set {target.name}: class {known!r} has no output in the model "
                f"trained on {model_from} (classes: {', '.join(model_classes)})"
            )
        out.append(model_index[known])
    return np.asarray(out, dtype=np.int64)


def conform(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Target images in the training data's shape (size and grey/colour), because the logged
    model takes images shaped like its training data (its own preprocessing resizes from there)."""
    import cv2

    if tuple(images.shape[1:]) == tuple(shape):
        return images
    height, width = shape[:2]
    out = []
    for image in images:
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        if len(shape) == 2 and image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        elif len(shape) == 3 and image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        out.append(image)
    return np.stack(out).astype(np.uint8)


def eval_part(dataset):
    if dataset.splits is not None and np.any(dataset.splits == "test"):
        return dataset.part(np.flatnonzero(dataset.splits == "test")), "test split"
    return dataset.part(), "all images"


def cross_scores(y_true: np.ndarray, proba: np.ndarray, model_classes) -> dict:
    """Accuracy over all target images; recall per model class; macro recall over the classes
    the target has (absent ones listed, not averaged as zeros)."""
    y_pred = proba.argmax(axis=1)
    support = np.bincount(y_true, minlength=len(model_classes))
    hits = np.bincount(y_true[y_pred == y_true], minlength=len(model_classes))
    present = support > 0
    recall = np.where(present, hits / np.maximum(support, 1), np.nan)
    return {
        "accuracy": float(np.mean(y_pred == y_true)),
        "macro_recall": float(np.nanmean(recall)) if present.any() else float("nan"),
        "n_images": int(len(y_true)),
        "absent": [c for c, p in zip(model_classes, present, strict=True) if not p],
        "recall": {c: float(r) for c, r in zip(model_classes, recall, strict=True) if not np.isnan(r)},
    }


def heatmap(matrix: np.ndarray, rows, cols, title: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.3 * len(cols) + 2.5, 1.0 * len(rows) + 1.8))
    ax.imshow(np.nan_to_num(matrix, nan=0.0), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            text = "-" if np.isnan(matrix[i, j]) else f"{matrix[i, j]:.3f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if matrix[i, j] < 0.6 else "black")
    ax.set(xlabel="evaluated on", ylabel="trained on", title=title)
    fig.tight_layout()
    return fig


def cross_dataset(
    family: str,
    train: list[DataSpec],
    evaluate: list[DataSpec],
    *,
    params: dict | None = None,
    epochs: int | None = None,
    seed: int = 0,
    protocol: str | None = None,
    tracking_uri: str | None = None,
    out=None,
    quiet: bool = True,
) -> dict:
    """Train `family` on every `train` data set (ferbench.runner.run, model logged), score each
    logged model on every `evaluate` data set, and log the matrix as a kind=analysis run."""
    from ferbench import __version__, record, runner
    from ferbench.analysis._files import Workspace, save_figure, write_csv
    from ferbench.analysis._run import predict_in_batches
    from ferbench.families import registry

    registry.get(family)
    if not train or not evaluate:
        raise FerbenchError("cross-dataset needs at least one --train and one --eval data set")
    loaded = {}
    for spec in dict.fromkeys(train + evaluate):
        loaded[spec] = spec.load()
    # Check every label mapping before spending any training time.
    for source in dict.fromkeys(train):
        for target in evaluate:
            if target != source:
                label_map(loaded[source].class_names, loaded[target], source.name)

    record.setup(tracking_uri)
    cols = [s.name for s in dict.fromkeys(evaluate)]
    rows = [s.name for s in dict.fromkeys(train)]
    matrix = np.full((len(rows), len(cols)), np.nan)
    cells: list[dict[str, Any]] = []
    tags = {
        TAG_SOURCE: "ferbench",
        TAG_KIND: "analysis",
        TAG_ANALYSIS: "cross-dataset",
        TAG_FAMILY: family,
        TAG_SEED: str(seed),
        TAG_VERSION: __version__,
        TAG_SYNTHETIC: str(any(d.is_synthetic for d in loaded.values())).lower(),
    }
    experiment = record.experiment_for(EXPERIMENT)
    with record.tracked_run(experiment, f"{family} cross-dataset", tags) as analysis_id:
        record.log(
            analysis_id,
            params={
                "family": family,
                "train": ",".join(rows),
                "eval": ",".join(cols),
                "epochs": epochs,
                "seed": seed,
                "protocol": protocol or "default",
                **(params or {}),
            },
        )
        for i, source in enumerate(dict.fromkeys(train)):
            data = loaded[source]
            result = runner.run(
                family,
                data,
                protocol=protocol,
                params=params,
                epochs=epochs,
                seed=seed,
                tracking_uri=tracking_uri,
                quiet=quiet,
                extra_tags={TAG_ANALYSIS_RUN: analysis_id},
            )
            model = record.load_model(result.run_id, tracking_uri)
            for j, target in enumerate(dict.fromkeys(evaluate)):
                if target == source:
                    score = {
                        "accuracy": float(result.metrics["test_accuracy"]),
                        "macro_recall": float("nan"),
                        "n_images": 0,
                        "absent": [],
                        "where": "in-domain test",
                    }
                else:
                    part, where = eval_part(loaded[target])
                    codes = label_map(data.class_names, loaded[target], source.name)[part.labels]
                    images = conform(part.images, data.image_shape)
                    score = cross_scores(codes, predict_in_batches(model, images), list(data.class_names))
                    score["where"] = where
                matrix[i, j] = score["accuracy"]
                cells.append({"train": source.name, "eval": target.name, "run_id": result.run_id, **score})
        metrics = {f"cross_{c['train']}_to_{c['eval']}_accuracy": float(c["accuracy"]) for c in cells}
        record.log(
            analysis_id, metrics=metrics, params={f"train_run_{s}": c["run_id"] for c in cells for s in [c["train"]]}
        )
        with Workspace("cross_dataset", out) as ws:
            write_csv(
                ws.file("matrix.csv"), ["train\\eval", *cols], ([r, *map(float, matrix[k])] for k, r in enumerate(rows))
            )
            write_csv(
                ws.file("cells.csv"),
                ["train", "eval", "part", "accuracy", "macro_recall", "n_images", "absent_classes", "run_id"],
                (
                    [
                        c["train"],
                        c["eval"],
                        c["where"],
                        c["accuracy"],
                        c["macro_recall"],
                        c["n_images"],
                        " ".join(c["absent"]),
                        c["run_id"],
                    ]
                    for c in cells
                ),
            )
            save_figure(
                heatmap(matrix, rows, cols, f"{family}: accuracy, rows train / columns eval"), ws.file("matrix.png")
            )
            ws.publish(analysis_id, tracking_uri)
    return {"run_id": analysis_id, "rows": rows, "cols": cols, "matrix": matrix, "cells": cells}
