"""The objective of a ferbench study: which images it scores on, and how one trial is scored.

- Single-split protocols (official, holdout) score on the fold's val part. Multi-fold protocols
  (small data sets) tune on the training part (train + val) of outer fold 0 only, scored by
  inner k-fold CV; the final test then uses that fold's test part (`protocols.OuterFold`), so
  nothing the search looked at is ever tested on.
- Multi-fidelity: a first rung fits a stratified fraction of the training images for a fraction
  of the epochs (step 1); then the full fit reports val accuracy every epoch (steps 2..E+1), and the
  pruner may stop the trial at any step. Steps start at 1 because Hyperband's first rung is at
  step min_resource=1: the cheap rung is where it should cut first. `compute` = trial-epochs x training images.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.params import resolve
from ferbench.tuning._storage import SURPLUS_ATTR, WORKER_ATTR

LOW_FIDELITY = (0.25, 1 / 3)  # (fraction of training images, fraction of epochs) of the first rung
LOW_FIDELITY_STEP = 1  # the first rung's step; full-fit epochs report at the steps after it
INNER_FOLDS = 3
WORKER_ID = uuid.uuid4().hex[:12]


def is_valid_low_fidelity(low_fidelity) -> bool:
    """(0, 0) for no first rung, else an image share in (0, 1) and an epoch share in (0, 1]. The
    objective fits a first rung only on a subset, so an image share of 1 would mean no rung at all."""
    images, epochs = low_fidelity
    return (images, epochs) == (0, 0) or (0 < images < 1 and 0 < epochs <= 1)


class SurplusTrialError(Exception):
    """This trial would exceed the requested total (another worker got there first)."""


@dataclass
class Splits:
    """(train, val) index pairs the objective scores on, and the outer protocol for the test."""

    pairs: list[tuple[np.ndarray, np.ndarray]]
    final_protocol: Any
    description: str


def make_splits(dataset, protocol, seed: int) -> Splits:
    from ferbench.data.dataset import FaceDataset
    from ferbench.protocols import OuterFold, Protocol

    folds = protocol.folds(dataset, seed=seed)
    if len(folds) == 1:
        fold = folds[0]
        if len(fold.val) == 0:
            raise FerbenchError(f"protocol {protocol.name}: training part too small to carve a validation part")
        return Splits([(fold.train, fold.val)], protocol, f"val part of {protocol.name}")
    pool = np.concatenate([folds[0].train, folds[0].val])
    k = min(INNER_FOLDS, int(np.bincount(dataset.labels[pool]).max()))
    inner = Protocol("subject-kfold" if protocol.uses_subjects else "kfold", max(k, 2))
    # labels and subjects only: inner folds need no pixels
    stub = FaceDataset(
        np.zeros((len(pool), 1, 1), np.uint8),
        dataset.labels[pool],
        dataset.class_names,
        subjects=None if dataset.subjects is None else dataset.subjects[pool],
        name=dataset.name,
    )
    pairs = [
        (pool[np.concatenate([f.train, f.val])], pool[f.test]) for f in inner.folds(stub, seed=seed, val_fraction=0.0)
    ]
    return Splits(pairs, OuterFold(protocol, 0), f"inner {inner.name} CV on the training part of fold 0")


class Objective:
    """Validation accuracy of one configuration; reports per epoch for pruning."""

    def __init__(
        self,
        family_cls,
        dataset,
        splits: Splits,
        fixed: dict,
        space: dict,
        *,
        epochs: int | None,
        seed: int,
        total: int,
        tracker=None,
        low_fidelity=LOW_FIDELITY,
    ):
        self.family_cls, self.dataset, self.splits = family_cls, dataset, splits
        self.fixed, self.space, self.epochs, self.seed = fixed, space, epochs, seed
        self.total, self.tracker, self.low_fidelity = total, tracker, low_fidelity

    def __call__(self, trial) -> float:
        import optuna

        ahead = [
            t
            for t in trial.study.get_trials(deepcopy=False)
            if t.number < trial.number and t.state.name in ("COMPLETE", "PRUNED", "RUNNING", "WAITING")
        ]
        if len(ahead) >= self.total:
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrialError(f"trial {trial.number}: {self.total} trials already done or running")
        trial.set_user_attr(WORKER_ATTR, WORKER_ID)
        values = {name: spec.suggest(trial, name) for name, spec in self.space.items()}
        params = resolve(self.family_cls.params_spec(), {**self.fixed, **values}, f"family {self.family_cls.name}")
        state: dict[str, Any] = {"compute": 0, "intermediate": {}}
        run = self.tracker.trial_run(trial, params) if self.tracker else _null_run()
        pruned = None
        with run as run_id:
            try:
                value = self._evaluate(trial, params, state)
            except optuna.TrialPruned as exc:
                pruned, value = exc, None
            finally:
                trial.set_user_attr("compute", int(state["compute"]))
                if self.tracker:
                    self.tracker.log_trial(run_id, trial, value, state, pruned is not None)
        if pruned is not None:
            raise pruned
        assert value is not None  # a trial either scores or is pruned
        return value

    def _evaluate(self, trial, params: dict, state: dict) -> float:
        fraction, epoch_fraction = self.low_fidelity
        train, val = self.splits.pairs[0]
        if 0 < fraction < 1 and len(train) >= 4 * self.dataset.n_classes:
            small = self.low_fidelity_rows(train)
            low_epochs = None if self.epochs is None else max(1, int(round(self.epochs * epoch_fraction)))
            acc = self._fit_score(params, small, val, low_epochs, state, None)
            self._report(trial, state, acc, LOW_FIDELITY_STEP)
        scores = []
        for i, (train, val) in enumerate(self.splits.pairs):
            # per-epoch reports (steps 2..E+1) from the first split only: one comparable curve
            report = (
                (lambda acc, epoch: self._report(trial, state, acc, LOW_FIDELITY_STEP + 1 + epoch)) if i == 0 else None
            )
            scores.append(self._fit_score(params, train, val, self.epochs, state, report))
            if i == 0 and len(self.splits.pairs) > 1:
                self._report(trial, state, scores[0], LOW_FIDELITY_STEP + 1 + (self.epochs or 1))
        return float(np.mean(scores))

    def low_fidelity_rows(self, train: np.ndarray) -> np.ndarray:
        """The first rung's stratified share of the training rows. The same rows for every trial
        (drawn from the study's seed alone), so rung values differ by configuration, not by which
        images each trial happened to draw: the pruner compares them across trials."""
        from ferbench.protocols import stratified_mask

        rng = np.random.default_rng(self.seed)
        return train[stratified_mask(self.dataset.labels[train], self.low_fidelity[0], rng)]

    def _report(self, trial, state, acc: float, step: int) -> None:
        import optuna

        trial.report(float(acc), step)
        state["intermediate"][step] = float(acc)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (val accuracy {acc:.4f})")

    def _fit_score(self, params, train, val, epochs, state, report) -> float:
        data = self.dataset
        callbacks = []

        def count(epoch, logs):
            state["compute"] += len(train)
            acc = logs.get("val_accuracy")
            if report is not None and acc is not None:
                report(float(acc), epoch)

        callbacks.append(count)
        model = self.family_cls(**params)
        model.fit(data.part(train), data.part(val), epochs=epochs, seed=self.seed, callbacks=callbacks)
        if epochs is None:  # families without epochs: one pass over the images
            state["compute"] += len(train)
        return float(np.mean(model.predict(data.part(val)) == data.labels[val]))


class _null_run:  # noqa: N801 - used like a context manager function
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
