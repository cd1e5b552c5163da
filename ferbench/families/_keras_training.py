"""KerasFamily's epoch loop: one `model.fit` call per epoch, early stopping, and a checkpoint after
every epoch from which an interrupted fit goes on exactly where it stopped.

What makes a resumed fit equal to an uninterrupted one:
- the training rows' order in an epoch is a pure function of (seed, epoch) (`epoch_order`);
- `model.keras` keeps the weights and the optimizer's variables (its step count, moments and
  learning rate, so a schedule over steps goes on too);
- Keras keeps no random state for its random layers (augmentation, dropout) in `model.keras`:
  each layer's SeedGenerator state is saved in state.json and assigned back;
- early stopping's state (best value and epoch, wait count) is in state.json and its best
  weights in best.npz;
- state.json also holds the epochs done, whether training stopped, the history and the fit time.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferbench import checkpoints
from ferbench.errors import FerbenchError

PREDICT_BATCH = 256  # images per inference batch (validation, prediction)

MODEL_FILE, STATE_FILE, BEST_FILE = "model.keras", "state.json", "best.npz"
FORMAT = 1


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The training rows' order in `epoch`: the same in a resumed fit as in an uninterrupted one."""
    return np.random.default_rng([seed, epoch]).permutation(n)


@dataclass
class EarlyStopping:
    """Keras's EarlyStopping(monitor="val_accuracy", mode="max", restore_best_weights=True),
    with its state in the open so that a checkpoint can hold it."""

    patience: int
    best: float | None = None
    best_epoch: int = -1
    wait: int = 0
    weights: list | None = field(default=None, repr=False)

    def update(self, epoch: int, value: float, model) -> bool:
        """Take `epoch`'s validation accuracy; True when training should stop."""
        self.wait += 1
        if self.best is None or value > self.best:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.weights = model.get_weights()
            return False
        return self.wait >= self.patience and epoch > 0


@dataclass
class Progress:
    epochs_done: int = 0
    stopped: bool = False
    history: dict[str, list[float]] = field(default_factory=dict)
    fit_seconds: float = 0.0


def fit_epochs(
    family,
    train,
    val,
    *,
    epochs: int,
    seed: int,
    build,
    callbacks=None,
    verbose=False,
    checkpoint_dir: Path | None = None,
) -> None:
    """Train `family.model_` (made by `build()`, or loaded from the newest checkpoint in
    `checkpoint_dir`) up to `epochs`; sets `model_`, `history_`, and `resumed_fit_s_` (the fit
    time of earlier processes, 0 for a fresh fit)."""
    train_batches = family._pipeline(train, family.params["batch_size"], labels=True)
    val_data = family._batches(val, PREDICT_BATCH, labels=True) if val is not None and len(val) else None
    early = None
    if val_data is not None and family.params.get("early_stopping", True):
        early = EarlyStopping(family.params["patience"])
    latest = checkpoints.latest_epoch(checkpoint_dir)
    if latest is None:
        model, progress = build(), Progress()
    else:
        model, progress = _load(latest, family, seed, epochs, early)
    family.model_ = model
    family.resumed_fit_s_ = progress.fit_seconds
    best_file = None  # (path, best epoch) of the newest best.npz written, to link while unchanged
    # epoch callbacks are called below, once the epoch's checkpoint is written
    per_batch = forwarding_callbacks(callbacks, family.params["batch_size"], len(train), epochs=False)
    for epoch in range(progress.epochs_done, progress.epochs_done if progress.stopped else epochs):
        t0 = time.perf_counter()
        result = model.fit(
            train_batches(epoch_order(seed, epoch, len(train))),
            validation_data=val_data,
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,
            verbose=2 if verbose else 0,
            callbacks=per_batch,
        )
        logs = {k: float(v[-1]) for k, v in result.history.items()}
        for key, value in logs.items():
            progress.history.setdefault(key, []).append(value)
        progress.epochs_done = epoch + 1
        if early is not None and "val_accuracy" in logs:
            progress.stopped = early.update(epoch, logs["val_accuracy"], model)
        progress.fit_seconds += time.perf_counter() - t0
        if checkpoint_dir is not None:
            best_file = _save(Path(checkpoint_dir), family, model, progress, early, seed, epochs, best_file)
        # a callback that returns True ends the fit here (a time budget); the checkpoint above
        # does not know it, so a resumed fit would go on to `epochs`
        if any([function(epoch, logs) is True for function in callbacks or ()]):
            progress.stopped = True
        if progress.stopped:
            break
    if early is not None and early.weights is not None:
        model.set_weights(early.weights)
    family.history_ = progress.history


def forwarding_callbacks(callbacks, batch_size: int, n_rows: int, *, epochs: bool) -> list:
    """The one Keras callback that serves ferbench's epoch callbacks (base.EpochCallback) inside
    `model.fit`: it calls each one's optional `on_batch(images)` after every training batch
    (progress bars) and, with `epochs`, the callback itself after every epoch with float logs.
    Keras calls its batch hooks and reads the step's logs every step anyway, so this adds one
    Python call per batch. No callback needed: an empty list."""
    callbacks = list(callbacks or ())
    hooks = [f.on_batch for f in callbacks if hasattr(f, "on_batch")]
    if not hooks and not (epochs and callbacks):
        return []
    import keras

    class Forward(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            images = min(batch_size, n_rows - batch * batch_size)
            for hook in hooks:
                hook(images)

        def on_epoch_end(self, epoch, logs=None):
            for function in callbacks if epochs else ():
                function(epoch, {k: float(v) for k, v in (logs or {}).items()})

    return [Forward()]


def _seed_states(model) -> list:
    """The state variables of the model's SeedGenerators, in a fixed order (their names are not
    stable across processes: they carry a global counter)."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def _state(family, model, progress: Progress, early: EarlyStopping | None, seed: int, epochs: int) -> dict:
    return {
        "format": FORMAT,
        "family": family.name,
        "params": _plain(family.params),
        "seed": seed,
        "epochs": epochs,
        "epochs_done": progress.epochs_done,
        "stopped": progress.stopped,
        "history": progress.history,
        "fit_seconds": progress.fit_seconds,
        "early_stopping": None
        if early is None
        else {"patience": early.patience, "best": early.best, "best_epoch": early.best_epoch, "wait": early.wait},
        "seed_generators": [np.asarray(v.numpy()).tolist() for v in _seed_states(model)],
    }


def _save(directory: Path, family, model, progress, early, seed, epochs, best_file):
    """Write this epoch's checkpoint; returns where its best weights are, for the next epoch."""
    state = _state(family, model, progress, early, seed, epochs)
    best_epoch = None if early is None or early.weights is None else early.best_epoch

    def write(folder: Path) -> None:
        model.save(folder / MODEL_FILE)
        if best_epoch is not None and not _linked(best_file, best_epoch, folder / BEST_FILE):
            np.savez(folder / BEST_FILE, *early.weights)
        (folder / STATE_FILE).write_text(json.dumps(state))

    final = checkpoints.write_epoch(directory, progress.epochs_done, write)
    return None if best_epoch is None else (final / BEST_FILE, best_epoch)


def _linked(best_file, best_epoch: int, target: Path) -> bool:
    """Hard-link the last epoch's best weights when they are still the best (no second copy)."""
    if best_file is None or best_file[1] != best_epoch:
        return False
    try:
        os.link(best_file[0], target)
    except OSError:  # gone, or a file system without hard links
        return False
    return True


def read_state(epoch_dir: Path) -> dict:
    try:
        return json.loads((Path(epoch_dir) / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise FerbenchError(f"checkpoint {epoch_dir} cannot be read ({exc})") from None


def _load(epoch_dir: Path, family, seed: int, epochs: int, early: EarlyStopping | None):
    import keras

    import ferbench.layers
    import ferbench.preprocess  # noqa: F401 - both register their custom layers for deserialisation

    state = read_state(epoch_dir)
    wanted = {"format": FORMAT, "family": family.name, "params": _plain(family.params), "seed": seed, "epochs": epochs}
    differs = [key for key, value in wanted.items() if state.get(key) != value]
    if differs:
        raise FerbenchError(
            f"checkpoint {epoch_dir} was written with another {', '.join(differs)}; it cannot continue this fit"
        )
    model = keras.models.load_model(epoch_dir / MODEL_FILE)
    seeds = _seed_states(model)
    if len(seeds) != len(state["seed_generators"]):
        raise FerbenchError(
            f"checkpoint {epoch_dir}: {len(state['seed_generators'])} random states for {len(seeds)} random layers"
        )
    for variable, value in zip(seeds, state["seed_generators"], strict=True):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    saved_early = state.get("early_stopping")
    if early is not None and saved_early is not None:
        early.best, early.best_epoch, early.wait = saved_early["best"], saved_early["best_epoch"], saved_early["wait"]
        if (epoch_dir / BEST_FILE).exists():
            with np.load(epoch_dir / BEST_FILE) as saved:
                early.weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    progress = Progress(state["epochs_done"], state["stopped"], state["history"], state["fit_seconds"])
    return model, progress


def _plain(value):
    """`value` as JSON gives it back, so that saved and current params compare equal."""
    return json.loads(json.dumps(value, default=str))
