"""A tiny numpy Family for tests of runs and tracking (no TensorFlow, trains in milliseconds).

Registered only inside the `tiny_family` fixture, so the global registry stays clean.
`fail_at` raises RuntimeError at that epoch, `interrupt_at` raises KeyboardInterrupt.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ferbench.families import registry
from ferbench.families.base import Family
from ferbench.params import Float, Int


class TinyFamily(Family):
    name = "tiny_test_family"
    paper = "none"
    title = "softmax regression on 8x8 thumbnails (tests only)"
    input_shape = (48, 48, 1)
    params = {
        "learning_rate": Float(0.5, low=1e-4, high=10.0),
        "fail_at": Int(-1, tune=False, low=-1, high=1000),
        "interrupt_at": Int(-1, tune=False, low=-1, high=1000),
    }
    default_epochs = 3
    quick_epochs = 2

    @staticmethod
    def _features(images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32) / 255.0
        n, h, w = x.shape[:3]
        x = x.reshape(n, 8, h // 8, 8, w // 8, -1).mean(axis=(2, 4, 5)).reshape(n, 64)
        return np.hstack([x - 0.5, np.ones((n, 1), np.float32)])

    def _softmax(self, x):
        z = x @ self.w_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def fit(self, train, val=None, *, epochs=None, seed=0, callbacks=None, verbose=False):
        rng = np.random.default_rng(seed)
        x, y = self._features(train.images), train.labels
        n_classes = train.dataset.n_classes
        self.classes_ = np.arange(n_classes)
        self.w_ = rng.normal(0, 0.01, (x.shape[1], n_classes))
        onehot = np.eye(n_classes)[y]
        self.history_ = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        for epoch in range(epochs or self.default_epochs):
            if epoch == self.params["fail_at"]:
                raise RuntimeError("tiny family failed on purpose")
            if epoch == self.params["interrupt_at"]:
                raise KeyboardInterrupt
            for _ in range(20):
                p = self._softmax(x)
                self.w_ -= self.params["learning_rate"] * x.T @ (p - onehot) / len(x)
            p = self._softmax(x)
            logs = {"loss": float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-9))),
                    "accuracy": float(np.mean(p.argmax(1) == y))}
            if val is not None:
                pv = self._softmax(self._features(val.images))
                logs["val_loss"] = float(-np.mean(np.log(pv[np.arange(len(val)), val.labels] + 1e-9)))
                logs["val_accuracy"] = float(np.mean(pv.argmax(1) == val.labels))
            for key, value in logs.items():
                self.history_[key].append(value)
            for callback in callbacks or []:
                callback(epoch, logs)
        self.history_ = {k: v for k, v in self.history_.items() if v}
        return self

    def predict_proba(self, part):
        return self._softmax(self._features(part.images))

    def save(self, directory: Path) -> None:
        np.save(Path(directory) / "w.npy", self.w_)
        (Path(directory) / "params.json").write_text(json.dumps(self.params))

    @classmethod
    def load(cls, directory: Path) -> "TinyFamily":
        family = cls(**json.loads((Path(directory) / "params.json").read_text()))
        family.w_ = np.load(Path(directory) / "w.npy")
        family.classes_ = np.arange(family.w_.shape[1])
        return family


@pytest.fixture
def tiny_family():
    registry._FAMILIES[TinyFamily.name] = TinyFamily
    yield TinyFamily
    registry._FAMILIES.pop(TinyFamily.name, None)


def tiny_dataset(n: int = 140, seed: int = 0, splits: bool = False, size: int = 48):
    """Class-dependent blobs: learnable in a few epochs; 7 classes, optional official split."""
    from ferbench.data.dataset import FaceDataset

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    images = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 3)
        images[i, r * 12 : r * 12 + 12, c * 12 : c * 12 + 12] += 150
    split = None
    if splits:
        split = np.where(np.arange(n) % 10 < 7, "train", np.where(np.arange(n) % 10 < 8, "val", "test"))
    return FaceDataset(images, labels, splits=split, name="tinyset", variant="test")
