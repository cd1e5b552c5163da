"""The contract every model family meets (scikit-learn style).

- `__init__` only stores (checked) parameters; learned state ends in `_`; `fit` returns self.
- Families receive `Part`s (a data set plus row indices), never file paths, and fit every
  statistic (normalisation, whitening, PCA) on the training part only.
- Metadata are class attributes, so `ferbench models` and the registry need no TensorFlow.
- One contract test (tests/test_family_contract.py) runs over every registered family using
  its `test_params`; a new family needs no new test code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from ferbench.data.dataset import Part
from ferbench.params import Param, resolve

# Called after every epoch with (epoch index from 0, logs such as loss/accuracy/val_loss/val_accuracy).
# Tuning's pruning raises optuna.TrialPruned from one; progress bars and MLflow curves use them too.
EpochCallback = Callable[[int, dict[str, float]], None]


class Family(ABC):
    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""            # paper key in ferbench/baselines/published.yaml
    title: ClassVar[str] = ""            # one line for `ferbench models`
    input_shape: ClassVar[tuple[int, int, int]] = (48, 48, 1)  # what the network sees (H, W, C)
    preprocessing: ClassVar[tuple[str, ...]] = ()  # named steps of ferbench.preprocess, in order
    params: ClassVar[dict[str, Param]] = {}
    test_params: ClassVar[dict[str, Any]] = {}     # tiny, offline settings for the contract test
    default_epochs: ClassVar[int | None] = None    # None: the family does not train by epochs
    quick_epochs: ClassVar[int | None] = None      # epochs under `bench --budget quick`
    # params under `bench --budget quick` (shown below the bench table and recorded with the run)
    quick_params: ClassVar[dict[str, Any]] = {}
    default_protocol: ClassVar[str | None] = None  # the paper's protocol, e.g. "kfold:5"
    validation_fraction: ClassVar[float] = 0.1     # carved from each fold's training rows (early stopping)
    # True: fits of different folds may run side by side in threads (ferbench.threads); only for
    # families whose fit is GIL-releasing numpy / LIBLINEAR work, never a TensorFlow graph
    thread_safe_folds: ClassVar[bool] = False
    # True: fit(checkpoint_dir=...) writes a checkpoint every epoch and resumes from one
    epoch_checkpoints: ClassVar[bool] = False
    notes: ClassVar[str] = ""            # assumptions and caveats, shown by `ferbench models`

    def __init__(self, **params: Any):
        self.params = resolve(self.params_spec(), params, f"family {self.name}")

    @classmethod
    def params_spec(cls) -> dict[str, Param]:
        return dict(cls.params)

    @classmethod
    def expected_warnings(cls) -> tuple[type[Warning], ...]:
        """Warning categories the family's fits raise by design and report otherwise (as a
        metric), silenced while its folds fit side by side (ferbench.threads.thread_map)."""
        return ()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this family cannot run on this machine with its defaults (None: it can)."""
        return None

    @classmethod
    def uses_random_weights(cls, params: dict[str, Any]) -> bool:
        """True when a pretrained family runs on a randomly initialised backbone (`--weights none`)."""
        return str(params.get("weights", "")).lower() == "none"

    # --- learning ---------------------------------------------------------------------------
    @abstractmethod
    def fit(
        self,
        train: Part,
        val: Part | None = None,
        *,
        epochs: int | None = None,
        seed: int = 0,
        callbacks: list[EpochCallback] | None = None,
        verbose: bool = False,
        checkpoint_dir: Path | None = None,
    ) -> Family:
        """Learn from `train`; `val` only for early stopping and reporting. Sets `classes_` and,
        for epoch-trained families, `history_` (metric name -> list per epoch).

        checkpoint_dir: where a family with `epoch_checkpoints` writes a checkpoint after every
        epoch; when it already holds one, the fit resumes from it and repeats no finished epoch.
        Families that do not train by epochs ignore it; the runner passes it only to families
        with `epoch_checkpoints`."""

    @abstractmethod
    def predict_proba(self, part: Part) -> np.ndarray:
        """(len(part), n_classes) float array whose rows sum to 1."""

    def check_fitted(self) -> None:
        """FerbenchError unless `fit` has run (every fit sets `classes_`)."""
        if not hasattr(self, "classes_"):
            from ferbench.errors import FerbenchError

            raise FerbenchError(f"family {self.name} is not fitted yet")

    def predict(self, part: Part) -> np.ndarray:
        return np.argmax(self.predict_proba(part), axis=1)

    def predict_images(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for raw uint8 images shaped like the training data (used by analyses)."""
        from ferbench.data.dataset import FaceDataset

        dataset = FaceDataset(images, np.zeros(len(images), dtype=np.int64), name="adhoc")
        return self.predict_proba(dataset.part())

    # --- persistence (MLflow logs a pyfunc model that wraps these) ----------------------------
    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything `load` needs into an existing, empty directory."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> Family:
        """Rebuild a fitted family from `save`'s directory."""
