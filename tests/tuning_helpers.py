"""A tiny epoch-trained family and a tiny data set for the tuning tests (no TensorFlow, fast).

`TinySGD` is a linear classifier trained by `SGDClassifier.partial_fit`, one call per epoch, so it
honours the per-epoch callback contract (val_accuracy in the logs) that pruning relies on.
`sleep_s` slows every epoch so a test can kill a worker mid-trial.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from ferbench.data.dataset import FaceDataset
from ferbench.families import registry
from ferbench.families.base import Family
from ferbench.params import Choice, Float


class TinySGD(Family):
    name = "tiny_sgd_test"
    title = "linear SGD on raw pixels (tests only)"
    input_shape = (8, 8, 1)
    param_specs = {
        "alpha": Float(1e-3, "L2 strength", True, low=1e-6, high=1.0, log=True),
        "eta0": Float(0.01, "learning rate", True, low=1e-4, high=1.0, log=True),
        "loss": Choice("log_loss", "loss", True, choices=("log_loss", "modified_huber")),
        "sleep_s": Float(0.0, "seconds slept per epoch (tests)", False, low=0.0, high=60.0),
    }
    test_params = {"alpha": 1e-3}
    default_epochs = 4

    def fit(self, train, val=None, *, epochs=None, seed=0, callbacks=None, verbose=False):
        from sklearn.linear_model import SGDClassifier

        p = self.params
        self.model_ = SGDClassifier(
            loss=p["loss"], alpha=p["alpha"], eta0=p["eta0"], learning_rate="constant", random_state=seed
        )
        x, y = _x(train.images), train.labels
        self.classes_ = np.arange(train.dataset.n_classes)
        self.history_ = {"val_accuracy": []}
        for epoch in range(epochs or self.default_epochs):
            time.sleep(p["sleep_s"])
            self.model_.partial_fit(x, y, classes=self.classes_)
            logs = {"accuracy": float(np.mean(self.model_.predict(x) == y))}
            if val is not None and len(val):
                logs["val_accuracy"] = float(np.mean(self.model_.predict(_x(val.images)) == val.labels))
                self.history_["val_accuracy"].append(logs["val_accuracy"])
            for callback in callbacks or []:
                callback(epoch, logs)
        return self

    def predict_proba(self, part):
        scores = self.model_.decision_function(_x(part.images))
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        (directory / "model.pkl").write_bytes(pickle.dumps((self.params, self.model_, self.classes_)))

    @classmethod
    def load(cls, directory: Path):
        params, model, classes = pickle.loads((directory / "model.pkl").read_bytes())
        out = cls(**params)
        out.model_, out.classes_ = model, classes
        return out


def _x(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def tiny_dataset(n_per_class: int = 30, seed: int = 0, name: str = "tinyset", splits: bool = True) -> FaceDataset:
    """8x8 grey images whose class sets which pixels are bright, plus noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), n_per_class)
    base = rng.random((7, 8, 8)) > 0.5
    images = (base[labels] * 60 + rng.integers(0, 195, (len(labels), 8, 8))).astype(np.uint8)
    split = None
    if splits:
        split = np.array(["train", "train", "train", "val", "test"] * (len(labels) // 5 + 1))[: len(labels)]
        split = split[rng.permutation(len(labels))]
    return FaceDataset(images, labels, splits=split, name=name, subjects=None)


@pytest.fixture
def tiny_sgd():
    """TinySGD in the registry for one test only, so it never leaks into the contract tests."""
    registry.register(TinySGD)
    yield TinySGD
    registry._FAMILIES.pop(TinySGD.name, None)


def worker_main(argv: list[str]) -> None:
    """`python tests/tuning_helpers.py '{"trials": 4, ...}'`: one tuning worker in its own process."""
    import json

    from ferbench.tuning import tune

    registry.register(TinySGD)  # a worker process is its own test: the family must be known
    args = json.loads(argv[0])
    dataset = tiny_dataset(**args.pop("data", {}))
    result = tune("tiny_sgd_test", dataset, echo=lambda text: print(text, flush=True), **args)
    print("RESULT " + json.dumps(result.as_dict(), default=str), flush=True)


if __name__ == "__main__":
    import sys
    import warnings

    warnings.simplefilter("ignore")
    worker_main(sys.argv[1:])
