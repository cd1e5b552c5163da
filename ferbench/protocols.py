"""Evaluation protocols: how a data set is cut into train / val / test index sets.

Texts (`parse_protocol`):
  official             the data set's own split. With a "test" split: train -> train, "val" -> val
                       (carved from train when there is no "val"), test -> test. With train/val
                       only (SFEW): the official "val" becomes the *test* part, and a validation
                       part is carved from "train", so model selection never sees the test part.
  holdout[:f]          one stratified split, fraction f (default 0.2) for test.
  kfold[:k]            stratified k-fold (default 10).
  loo                  leave one image out (the papers' jack-knife); at most LOO_MAX_IMAGES images.
  subject-kfold[:k]    stratified k-fold over subjects (default 5): no subject in two parts.
  loso                 leave one subject out.

Every fold also carries a validation part carved from its training part only: stratified by
class, and grouped by subject for the subject protocols. All randomness comes from the seed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ferbench.errors import FerbenchError

# Each LOO fold holds a full training index array; beyond this, memory grows quadratically.
LOO_MAX_IMAGES = 5000
DEFAULTS = {"holdout": 0.2, "kfold": 10, "subject-kfold": 5}
NO_ARGUMENT = ("official", "loo", "loso")
KNOWN = ("official", "holdout[:fraction]", "kfold[:k]", "loo", "subject-kfold[:k]", "loso")


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/val/test cut, as int64 index arrays into the data set (val may be empty)."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class Protocol:
    kind: str
    value: float | int | None = None

    @property
    def name(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"

    @property
    def uses_subjects(self) -> bool:
        return self.kind in ("subject-kfold", "loso")

    def __str__(self) -> str:
        return self.name

    def folds(self, dataset, seed: int = 0, val_fraction: float = 0.1) -> list[Fold]:
        """The folds of this protocol on `dataset`, deterministic for `seed`."""
        if not 0.0 <= val_fraction < 1.0:
            raise FerbenchError(f"validation fraction {val_fraction} must be in [0, 1)")
        labels = np.asarray(dataset.labels, dtype=np.int64)
        if len(labels) == 0:
            raise FerbenchError(f"protocol {self.name}: data set {dataset.name!r} has no images")
        groups = None
        if self.uses_subjects:
            if dataset.subjects is None:
                raise FerbenchError(
                    f"protocol {self.name} needs subject ids, but data set {dataset.name!r} has "
                    "none; use holdout or kfold instead"
                )
            groups = np.asarray(dataset.subjects)
        cuts = _CUTTERS[self.kind](self, dataset, labels, groups, seed)
        folds = []
        for number, (name, train, val, test) in enumerate(cuts):
            if val is None:
                rng = np.random.default_rng([seed, number])
                train, val = carve_validation(labels, train, val_fraction, rng, groups)
            folds.append(Fold(name, _ix(train), _ix(val), _ix(test)))
        return folds


@dataclass(frozen=True)
class OuterFold:
    """One fold of a multi-fold protocol, duck-typed as a Protocol: a tuned configuration's
    final test on the fold whose training part the study tuned on ("kfold:5#fold0")."""

    base: Protocol
    index: int = 0

    @property
    def name(self) -> str:
        return f"{self.base.name}#fold{self.index}"

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def uses_subjects(self) -> bool:
        return self.base.uses_subjects

    def folds(self, dataset, seed: int = 0, val_fraction: float = 0.1) -> list[Fold]:
        return [self.base.folds(dataset, seed=seed, val_fraction=val_fraction)[self.index]]


def parse_protocol(text: str) -> Protocol:
    """Parse a protocol text such as "kfold:5" or "holdout:0.3" (see the module doc)."""
    raw = str(text).strip().lower()
    kind, _, arg = raw.partition(":")
    kind = kind.strip()
    arg = arg.strip()
    if kind in NO_ARGUMENT:
        if arg:
            raise FerbenchError(f"protocol {text!r}: {kind} takes no argument")
        return Protocol(kind)
    if kind == "holdout":
        fraction = DEFAULTS["holdout"] if not arg else _number(text, arg, float)
        if not 0.0 < fraction < 1.0:
            raise FerbenchError(f"protocol {text!r}: test fraction must be in (0, 1), got {arg}")
        return Protocol(kind, fraction)
    if kind in ("kfold", "subject-kfold"):
        k = DEFAULTS[kind] if not arg else _number(text, arg, int)
        if k < 2:
            raise FerbenchError(f"protocol {text!r}: k must be at least 2, got {k}")
        return Protocol(kind, k)
    raise FerbenchError(f"unknown protocol {text!r}; known: {', '.join(KNOWN)}")


def default_protocol(dataset) -> str:
    """ "official" when the data set's own split has a part to test on, else "holdout"."""
    splits = getattr(dataset, "splits", None)
    if splits is not None:
        present = set(np.unique(splits).tolist())
        if "train" in present and present & {"test", "val"}:
            return "official"
    return "holdout"


def carve_validation(labels, train, fraction, rng, groups=None):
    """Split the training indices into (train, val); stratified, and grouped when `groups`."""
    train = _ix(train)
    if fraction <= 0 or len(train) < 2:
        return train, _ix([])
    if groups is None:
        val_mask = stratified_mask(labels[train], fraction, rng)
    else:
        val_mask = _grouped_mask(labels[train], groups[train], fraction, rng)
    return train[~val_mask], train[val_mask]


def stratified_mask(labels: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Boolean mask choosing floor or ceil of `fraction * n_c` rows of every class c.

    Largest-remainder allocation makes the total round(fraction * n) while every class stays
    within one sample of its share; a class never loses all its rows to the chosen side.
    """
    n = len(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = fraction * counts
    take = np.floor(exact).astype(np.int64)
    remainder = int(round(fraction * n)) - int(take.sum())
    if remainder > 0:
        # ties broken at random so no class is systematically favoured
        order = np.lexsort((rng.random(len(classes)), -(exact - take)))
        take[order[:remainder]] += 1
    take = np.minimum(take, np.maximum(counts - 1, 0))
    perm = rng.permutation(n)
    order = perm[np.argsort(inverse[perm], kind="stable")]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n) - np.repeat(starts, counts)
    mask = np.zeros(n, dtype=bool)
    mask[order[rank < np.repeat(take, counts)]] = True
    return mask


def _grouped_mask(labels, groups, fraction, rng) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return np.zeros(len(labels), dtype=bool)
    n_splits = int(min(max(2, round(1.0 / fraction)), n_groups))
    splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=int(rng.integers(2**31)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small classes: sklearn warns, the split is still valid
        _, val = next(splitter.split(np.zeros(len(labels)), labels, groups))
    mask = np.zeros(len(labels), dtype=bool)
    mask[val] = True
    return mask


# --- cutters: yield (name, train, val or None to carve, test) ------------------------------
def _official(protocol, dataset, labels, groups, seed):
    if dataset.splits is None:
        raise FerbenchError(
            f"protocol official: data set {dataset.name!r} has no official split; "
            "use holdout, kfold or a subject protocol"
        )
    splits = np.asarray(dataset.splits)
    train = np.flatnonzero(splits == "train")
    test_name = "test" if np.any(splits == "test") else "val"
    test = np.flatnonzero(splits == test_name)
    if len(train) == 0 or len(test) == 0:
        raise FerbenchError(
            f"protocol official: data set {dataset.name!r} needs a 'train' split and a 'test' or "
            f"'val' split, found {sorted(set(splits.tolist()))}"
        )
    val = np.flatnonzero(splits == "val") if test_name == "test" else None
    if val is not None and len(val) == 0:
        val = None
    return [("official", train, val, test)]


def _holdout(protocol, dataset, labels, groups, seed):
    test_mask = stratified_mask(labels, float(protocol.value), np.random.default_rng(seed))
    return [("holdout", np.flatnonzero(~test_mask), None, np.flatnonzero(test_mask))]


def _kfold(protocol, dataset, labels, groups, seed):
    from sklearn.model_selection import StratifiedKFold

    k = int(protocol.value)
    smallest = int(np.bincount(labels)[np.unique(labels)].min())
    if k > smallest:
        raise FerbenchError(
            f"protocol {protocol.name}: k={k} exceeds the smallest class count ({smallest}) "
            f"of data set {dataset.name!r}"
        )
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [
        (f"fold{i + 1}", train, None, test)
        for i, (train, test) in enumerate(splitter.split(np.zeros(len(labels)), labels))
    ]


def _loo(protocol, dataset, labels, groups, seed):
    n = len(labels)
    if n < 2:
        raise FerbenchError(f"protocol loo: data set {dataset.name!r} needs at least 2 images")
    if n > LOO_MAX_IMAGES:
        raise FerbenchError(
            f"protocol loo: data set {dataset.name!r} has {n} images, more than the "
            f"{LOO_MAX_IMAGES} leave-one-out allows; use kfold"
        )
    everything = np.arange(n)
    return [(f"loo{i}", np.delete(everything, i), None, everything[i : i + 1]) for i in range(n)]


def _subject_kfold(protocol, dataset, labels, groups, seed):
    from sklearn.model_selection import StratifiedGroupKFold

    k = int(protocol.value)
    n_subjects = len(np.unique(groups))
    if k > n_subjects:
        raise FerbenchError(
            f"protocol {protocol.name}: k={k} exceeds the {n_subjects} subjects of data set {dataset.name!r}"
        )
    splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cuts = list(splitter.split(np.zeros(len(labels)), labels, groups))
    return [(f"fold{i + 1}", train, None, test) for i, (train, test) in enumerate(cuts)]


def _loso(protocol, dataset, labels, groups, seed):
    subjects = np.unique(groups)
    if len(subjects) < 2:
        raise FerbenchError(f"protocol loso: data set {dataset.name!r} needs at least 2 subjects")
    return [(f"subject-{s}", np.flatnonzero(groups != s), None, np.flatnonzero(groups == s)) for s in subjects]


_CUTTERS = {
    "official": _official,
    "holdout": _holdout,
    "kfold": _kfold,
    "loo": _loo,
    "subject-kfold": _subject_kfold,
    "loso": _loso,
}


def _number(text, arg, kind):
    try:
        value = float(arg)
        if kind is int:
            if value != int(value):
                raise ValueError
            value = int(value)
        return value
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise FerbenchError(f"protocol {text!r}: {arg!r} is not {what}") from None


def _ix(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)
