"""A tiny numpy family and tiny data sets for tests (no TensorFlow; a fit takes milliseconds).

`TinyFamily` is softmax regression on 8x8 thumbnails, trained by full-batch gradient descent, a
fixed number of steps per epoch. It honours the whole family contract (per-epoch callbacks with
val_accuracy for pruning, history_, save/load, a FerbenchError before fit) and has a parameter of
each kind tuning meets: a log-scale float, a penalty that may be 0 yet is searched on a log scale,
an integer and a choice. Knobs for tests of failures and timing: `fail_at` raises RuntimeError at
that epoch, `interrupt_at` raises KeyboardInterrupt, `sleep_s` slows every epoch.

It is not registered: a test puts it in the registry for as long as it needs it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.families.base import Family
from ferbench.params import Choice, Float, Int

GRID = 8  # thumbnails are GRID x GRID cells


class TinyFamily(Family):
    name = "tiny_test_family"
    paper = "none"
    title = "softmax regression on 8x8 thumbnails (tests only)"
    input_shape = (48, 48, 1)
    param_specs = {
        "learning_rate": Float(0.5, "gradient step", low=1e-4, high=10.0, log=True),
        "l2": Float(0.0, "L2 penalty on the weights", low=0.0, high=1.0, log=True, search=(1e-6, 0.1)),
        "steps": Int(20, "gradient steps per epoch", low=1, high=200),
        "pooling": Choice("mean", "how a thumbnail cell summarises its pixels", choices=("mean", "max")),
        "fail_at": Int(-1, "raise RuntimeError at this epoch (-1: never)", tune=False, low=-1, high=1000),
        "interrupt_at": Int(-1, "raise KeyboardInterrupt at this epoch (-1: never)", tune=False, low=-1, high=1000),
        "sleep_s": Float(0.0, "seconds slept per epoch", tune=False, low=0.0, high=60.0),
    }
    test_params = {"steps": 5}
    default_epochs = 3
    quick_epochs = 2

    def _features(self, images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32) / 255.0
        n, h, w = x.shape[:3]
        if h % GRID or w % GRID:
            raise FerbenchError(f"family {self.name}: image sides must be multiples of {GRID}, got {h}x{w}")
        cells = x.reshape(n, GRID, h // GRID, GRID, w // GRID, -1)
        pool = np.max if self.params["pooling"] == "max" else np.mean
        x = pool(cells, axis=(2, 4, 5)).reshape(n, GRID * GRID)
        return np.hstack([x - 0.5, np.ones((n, 1), np.float32)])

    def _softmax(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _scores(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        p = self._softmax(x)
        loss = float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-9)))
        return loss, float(np.mean(p.argmax(1) == y))

    def fit(self, train, val=None, *, epochs=None, seed=0, callbacks=None, verbose=False):
        p = self.params
        rng = np.random.default_rng(seed)
        x, y = self._features(train.images), train.labels
        n_classes = train.dataset.n_classes
        self.classes_ = np.arange(n_classes)
        self.w_ = rng.normal(0, 0.01, (x.shape[1], n_classes))
        onehot = np.eye(n_classes)[y]
        x_val = self._features(val.images) if val is not None and len(val) else None
        self.history_ = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        for epoch in range(epochs or self.default_epochs):
            if epoch == p["fail_at"]:
                raise RuntimeError("tiny family failed on purpose")
            if epoch == p["interrupt_at"]:
                raise KeyboardInterrupt
            time.sleep(p["sleep_s"])
            for _ in range(p["steps"]):
                step = p["learning_rate"] * x.T @ (self._softmax(x) - onehot) / len(x)
                if p["l2"]:
                    step += p["learning_rate"] * p["l2"] * self.w_
                self.w_ -= step
            logs = dict(zip(("loss", "accuracy"), self._scores(x, y), strict=True))
            if x_val is not None:
                logs.update(zip(("val_loss", "val_accuracy"), self._scores(x_val, val.labels), strict=True))
            for key, value in logs.items():
                self.history_[key].append(value)
            for callback in callbacks or []:
                callback(epoch, logs)
        self.history_ = {k: v for k, v in self.history_.items() if v}
        return self

    def predict_proba(self, part):
        if not hasattr(self, "w_"):
            raise FerbenchError(f"family {self.name} is not fitted yet")
        return self._softmax(self._features(part.images))

    def save(self, directory: Path) -> None:
        np.save(Path(directory) / "w.npy", self.w_)
        self.save_info(directory)

    @classmethod
    def load(cls, directory: Path) -> TinyFamily:
        family, _ = cls.load_info(directory)
        family.w_ = np.load(Path(directory) / "w.npy")
        return family


def tiny_dataset(n: int = 140, seed: int = 0, splits: bool = False, size: int = 48):
    """Class-dependent bright blocks on noise: learnable in a few epochs; 7 classes, optional
    official split (70/10/20 %)."""
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
