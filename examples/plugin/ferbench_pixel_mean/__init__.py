"""A ferbench plugin with one family: mean grey level over a grid of cells, then multinomial
logistic regression. It trains in milliseconds on CPU and needs no weights; it is the shape of a
plugin, not a competitive model.

ferbench finds it through the entry point in pyproject.toml; nothing in ferbench names it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.families import Family
from ferbench.params import Float, Int


class PixelMeanLogReg(Family):
    name = "pixel_mean_logreg"
    paper = "none"
    title = "cell-mean grey levels + logistic regression (example plugin)"
    input_shape = (48, 48, 1)
    param_specs = {
        "grid": Int(6, "cells per image side; a feature is one cell's mean grey level", low=1, high=48),
        "C": Float(1.0, "inverse L2 strength of the logistic regression", low=1e-4, high=1e4, log=True),
        "max_iter": Int(500, "L-BFGS iterations", tune=False, low=10, high=100_000),
    }
    test_params = {"grid": 4}
    validation_fraction = 0.0  # nothing to early-stop: every training row is used
    baselines_file = "baselines.yaml"  # next to this module: declares that no paper reports it

    def _features(self, images: np.ndarray) -> np.ndarray:
        grey = images.astype(np.float32) / 255.0
        if grey.ndim == 4:
            grey = grey.mean(axis=3)
        grid = self.params["grid"]
        if min(grey.shape[1:3]) < grid:
            raise FerbenchError(
                f"family {self.name}: images of {grey.shape[1]}x{grey.shape[2]} pixels are smaller than grid={grid}"
            )
        rows = np.array_split(np.arange(grey.shape[1]), grid)
        cols = np.array_split(np.arange(grey.shape[2]), grid)
        return np.stack([grey[:, r][:, :, c].mean(axis=(1, 2)) for r in rows for c in cols], axis=1)

    def fit(self, train, val=None, *, epochs=None, seed=0, callbacks=None, verbose=False):
        from sklearn.linear_model import LogisticRegression

        x = self._features(train.images)
        # standardised on the training part only, like every statistic a family fits
        self.mean_, self.scale_ = x.mean(axis=0), x.std(axis=0) + 1e-6
        model = LogisticRegression(C=self.params["C"], max_iter=self.params["max_iter"], random_state=seed)
        model.fit((x - self.mean_) / self.scale_, train.labels)
        self.coef_, self.intercept_, self.seen_ = model.coef_, model.intercept_, model.classes_
        self.classes_ = np.arange(train.dataset.n_classes)
        return self

    def predict_proba(self, part) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise FerbenchError(f"family {self.name} is not fitted yet")
        x = (self._features(part.images) - self.mean_) / self.scale_
        scores = x @ self.coef_.T + self.intercept_
        if len(self.seen_) == 2:  # sklearn keeps one column for two classes
            scores = np.hstack([-scores, scores]) / 2
        full = np.full((len(x), len(self.classes_)), -np.inf)  # classes absent from training: 0
        full[:, self.seen_] = scores
        full = np.exp(full - full.max(axis=1, keepdims=True))
        return full / full.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        np.savez(
            Path(directory) / "model.npz",
            mean=self.mean_,
            scale=self.scale_,
            coef=self.coef_,
            intercept=self.intercept_,
            seen=self.seen_,
        )
        self.save_info(directory)  # the name, params and classes, which load_info reads back

    @classmethod
    def load(cls, directory: Path) -> PixelMeanLogReg:
        family, _ = cls.load_info(directory)
        with np.load(Path(directory) / "model.npz") as saved:
            family.mean_, family.scale_ = saved["mean"], saved["scale"]
            family.coef_, family.intercept_, family.seen_ = saved["coef"], saved["intercept"], saved["seen"]
        return family
