"""The contract every model family meets (scikit-learn style).

- `__init__` only stores (checked) parameters; learned state ends in `_`; `fit` returns self.
- Families receive `Part`s (a data set plus row indices), never file paths, and fit every
  statistic (normalisation, whitening, PCA) on the training part only.
- Metadata are class attributes, so `ferbench models` and the registry need no TensorFlow.
- Every hook a command calls is declared here with its default, as is every learned attribute a
  command reads; a family overrides only what differs.
- One contract test (tests/test_family_contract.py) runs over every registered family using
  its `test_params`; a new family needs no new test code.
"""

from __future__ import annotations

import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from ferbench.data.dataset import Part
from ferbench.errors import FerbenchError
from ferbench.params import Param, resolve

# Called after every epoch with (epoch index from 0, logs such as loss/accuracy/val_loss/val_accuracy).
# Tuning's pruning raises optuna.TrialPruned from one; progress bars and MLflow curves use them too.
# A callback may also carry `on_batch(images)`, which Keras families call after every training batch.
# called after every epoch with (epoch, logs); returning True ends the fit after that epoch
EpochCallback = Callable[[int, dict[str, float]], bool | None]
Array = npt.NDArray[Any]
INFO_FILE = "family.json"  # what `save_info` writes: the family's name, params and classes
PREDICT_CHUNK = 256  # images per predict_proba call of predict_images: bounds its memory
_NONE: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class NativeModel:
    """A fitted family's model in its own library's MLflow flavour, beside the generic pyfunc model.

    flavour:     the MLflow module that logs and loads it: "keras" or "sklearn";
    model:       what that module's `log_model` takes;
    input_dtype, input_shape: what one batch of its input is (the shape without the batch axis);
    metadata:    JSON values a user needs beside the model (what its input is, where features come from).
    """

    flavour: str
    model: Any
    input_dtype: np.dtype
    input_shape: tuple[int, ...]
    metadata: dict[str, Any] = field(default_factory=dict)


class Family(ABC):
    # --- metadata -----------------------------------------------------------------------------
    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""  # paper key in ferbench/baselines/published.yaml
    title: ClassVar[str] = ""  # one line for `ferbench models`
    input_shape: ClassVar[tuple[int, int, int]] = (48, 48, 1)  # what the network sees (H, W, C)
    preprocessing: ClassVar[tuple[str, ...]] = ()  # named steps of ferbench.preprocess, in order
    # the hyperparameters: name -> spec of ferbench.params; an instance's values are `params`
    param_specs: ClassVar[dict[str, Param]] = {}
    test_params: ClassVar[dict[str, Any]] = {}  # tiny, offline settings for the contract test
    default_epochs: ClassVar[int | None] = None  # None: the family does not train by epochs
    quick_epochs: ClassVar[int | None] = None  # epochs under `bench --budget quick`
    # params under `bench --budget quick` (shown below the bench table and recorded with the run)
    quick_params: ClassVar[dict[str, Any]] = {}
    # params under which `bench` runs the family when its defaults cannot run here (see
    # `unavailable_reason`): one dict, or candidates in order of preference; the first whose
    # weights load here offline is taken
    bench_params: ClassVar[dict[str, Any] | tuple[dict[str, Any], ...]] = ()
    # the pretrained backbone (a ferbench.weights.BACKBONES name) whose weights the defaults load
    backbone_name: ClassVar[str | None] = None
    # a plugin's own baselines YAML (relative to the family's module), in published.yaml's schema
    baselines_file: ClassVar[str | None] = None
    default_protocol: ClassVar[str | None] = None  # the paper's protocol, e.g. "kfold:5"
    validation_fraction: ClassVar[float] = 0.1  # carved from each fold's training rows (early stopping)
    # True: fits of different folds may run side by side in threads (ferbench.threads); only for
    # families whose fit is GIL-releasing numpy / LIBLINEAR work, never a TensorFlow graph
    thread_safe_folds: ClassVar[bool] = False
    # True: a pretrained peer evaluated as it is; `fit` learns nothing, so a run only evaluates on its data
    evaluated_as_is: ClassVar[bool] = False
    # True: fit(checkpoint_dir=...) writes a checkpoint every epoch and resumes from one
    epoch_checkpoints: ClassVar[bool] = False
    notes: ClassVar[str] = ""  # assumptions and caveats, shown by `ferbench models`

    # --- learned state commands read (set by fit and load; the defaults mean "none") ----------
    params: dict[str, Any]  # this instance's checked values of `param_specs`
    classes_: Array  # class codes 0..n_classes-1 of the training data set
    metrics_: Mapping[str, float] = _NONE  # family-specific metrics of the last fit, e.g. A_JK
    history_: Mapping[str, list[float]] = _NONE  # per-epoch logs of the last fit (name -> values)
    # fit seconds that earlier processes spent on a fit this one resumed from a checkpoint
    resumed_fit_s_: float = 0.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("params")
        if isinstance(legacy, dict):  # written when the specs were the class attribute `params`
            warnings.warn(
                f"{cls.__qualname__}.params: name a family's parameter specs `param_specs`",
                DeprecationWarning,
                stacklevel=2,
            )
            cls.param_specs = legacy
            delattr(cls, "params")

    def __init__(self, **params: Any) -> None:
        self.params = resolve(self.params_spec(), params, f"family {self.name}")

    @classmethod
    def params_spec(cls) -> dict[str, Param]:
        """A copy of `param_specs`."""
        return dict(cls.param_specs)

    # --- hooks commands call before any training ------------------------------------------------
    @classmethod
    def check_input(cls, image_shape: tuple[int, ...], params: Mapping[str, Any]) -> None:
        """FerbenchError unless images of `image_shape` ((H, W) grey or (H, W, C)) can serve this
        family with `params`; `run` calls it before any MLflow run exists. The default: the size
        must be `input_shape`'s unless the family resizes, the channels too unless it turns grey
        images into RGB."""
        height, width, channels = cls.input_shape
        have = 1 if len(image_shape) == 2 else image_shape[2]
        steps = set(cls.preprocessing)
        if tuple(image_shape[:2]) != (height, width) and "resize" not in steps:
            raise FerbenchError(
                f"family {cls.name} needs {height}x{width} images; the data set has "
                f"{image_shape[0]}x{image_shape[1]} and the family does not resize"
            )
        if have != channels and not (have == 1 and channels == 3 and "grey_to_rgb" in steps):
            raise FerbenchError(f"family {cls.name} needs {channels}-channel images; the data set has {have}")

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
    def uses_random_weights(cls, params: Mapping[str, Any]) -> bool:
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
        for epoch-trained families, `history_` (metric name -> list per epoch); `metrics_` for
        what else a fit measures.

        checkpoint_dir: where a family with `epoch_checkpoints` writes a checkpoint after every
        epoch; when it already holds one, the fit resumes from it and repeats no finished epoch
        (then `resumed_fit_s_` holds the fit time of the earlier processes). Families that do
        not train by epochs ignore it; the runner passes it only to families with
        `epoch_checkpoints`."""

    @abstractmethod
    def predict_proba(self, part: Part) -> Array:
        """(len(part), n_classes) float array whose rows sum to 1."""

    def check_fitted(self) -> None:
        """FerbenchError unless `fit` has run (every fit sets `classes_`)."""
        if not hasattr(self, "classes_"):
            raise FerbenchError(f"family {self.name} is not fitted yet")

    def predict(self, part: Part) -> Array:
        return np.asarray(np.argmax(self.predict_proba(part), axis=1))

    def predict_images(self, images: Array) -> Array:
        """Probabilities for raw uint8 images shaped like the training data (analyses, logged
        models), in chunks; their features are cached nowhere."""
        from ferbench.data.dataset import ADHOC, FaceDataset

        chunks = [images[start : start + PREDICT_CHUNK] for start in range(0, len(images), PREDICT_CHUNK)]
        return np.concatenate(
            [
                self.predict_proba(FaceDataset(chunk, np.zeros(len(chunk), dtype=np.int64), name=ADHOC).part())
                for chunk in chunks or [images]
            ]
        )

    def native_model(self) -> NativeModel | None:
        """The fitted model in its library's own MLflow flavour; None when the pyfunc model (raw
        images in, through `load` and `predict_images`) is the only form."""
        return None

    # --- persistence (MLflow logs a pyfunc model that wraps these) ----------------------------
    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything `load` needs into an existing, empty directory (`save_info` writes
        the name, params and classes)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> Family:
        """Rebuild a fitted family from `save`'s directory (`load_info` reads what `save_info`
        wrote)."""

    def save_info(self, directory: Path, **extra: Any) -> None:
        """Write INFO_FILE into `directory` atomically: the family's name, params, classes and
        `extra` (JSON values)."""
        from ferbench import store

        info = {"family": self.name, "params": self.params, "classes": np.asarray(self.classes_).tolist(), **extra}
        with store.atomic_write(Path(directory) / INFO_FILE, "w") as handle:
            handle.write(json.dumps(info, indent=1))

    @classmethod
    def load_info(cls, directory: Path) -> tuple[Self, dict[str, Any]]:
        """(a family with the saved params and `classes_`, everything INFO_FILE holds). Also
        reads the layouts earlier versions wrote: `n_classes` instead of `classes`, no `family`."""
        path = Path(directory) / INFO_FILE
        try:
            info = json.loads(path.read_text())
            params, classes = info["params"], info["classes"] if "classes" in info else range(info["n_classes"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FerbenchError(f"{path}: cannot read saved family ({type(exc).__name__}: {exc})") from None
        if info.get("family", cls.name) != cls.name:
            raise FerbenchError(f"{directory} holds family {info['family']!r}, not {cls.name!r}")
        family = cls(**params)
        family.classes_ = np.asarray(classes, dtype=np.int64)
        return family, info
