"""The inner cuts a feature family can also score on its training part (Ravi's A_JK column with
leave-one-out, and his 10-fold column with stratified k-fold), and the LinearSVC decision rule
they and the family share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ferbench.data.dataset import Part
from ferbench.errors import FerbenchError


def linear_decision(svc, z: np.ndarray) -> np.ndarray:
    """LinearSVC.decision_function without sklearn's input validation, which costs more than the
    product itself on a LOO fold's one row (a grid makes thousands of these calls)."""
    scores = z @ svc.coef_.T + svc.intercept_
    return scores.ravel() if scores.shape[1] == 1 else scores


def linear_predict(svc, z: np.ndarray) -> np.ndarray:
    """LinearSVC.predict, by the same rule: the sign for two classes, else the largest score."""
    scores = linear_decision(svc, z)
    return svc.classes_[(scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)]


class InnerCrossValidation(ABC):
    """Mixin of FeatureFamily: PCA + SVM refit on inner cuts of the training part (params `ajk`
    and `cv_folds`), using the family's `_fit_svc`, `_scores_train` and `_scale`."""

    name: ClassVar[str]
    params: dict[str, Any]

    @property
    @abstractmethod
    def layer(self) -> str: ...

    @abstractmethod
    def _fit_svc(self, z: np.ndarray, y: np.ndarray, seed: int) -> Any: ...

    @abstractmethod
    def _scores_train(self, fold: Any, k: int) -> np.ndarray: ...

    @abstractmethod
    def _scale(self, fold: Any, k: int) -> Any: ...

    def max_components(self, train_labels: np.ndarray, seed: int = 0) -> int:
        """Largest n_components a fit on these training labels allows: centred PCA on m rows has
        m - 1 components, and the A_JK and inner-CV refits fit on fewer rows than the part."""
        labels = np.asarray(train_labels)
        limit = len(labels) - 1
        if self.params["ajk"]:
            limit = min(limit, len(labels) - 2)
        if self.params["cv_folds"]:
            splits = self._cv_splitter(labels, seed).split(np.zeros(len(labels)), labels)
            limit = min(limit, min(len(rest) for rest, _ in splits) - 1)
        return limit

    def _inner_splitters(self, train_labels, seed: int) -> dict:
        """metric name -> splitter of the inner cuts a fit also scores (A_JK, Ravi's 10-fold)."""
        from sklearn.model_selection import LeaveOneOut

        splitters = {}
        if self.params["ajk"]:
            splitters["train_ajk_accuracy"] = LeaveOneOut()
        if self.params["cv_folds"]:
            splitters["train_cv_accuracy"] = self._cv_splitter(train_labels, seed)
        return splitters

    def _cv_splitter(self, y, seed: int):
        """The inner stratified k-fold of Ravi's 10-fold column (cv_folds)."""
        from sklearn.model_selection import StratifiedKFold

        return StratifiedKFold(self._cv_folds(y), shuffle=True, random_state=seed)

    def _cv_folds(self, y) -> int:
        folds, smallest = self.params["cv_folds"], int(np.bincount(y)[np.bincount(y) > 0].min())
        if folds < 2 or folds > smallest:
            raise FerbenchError(
                f"family {self.name}: cv_folds={folds} needs 2 <= k <= {smallest} "
                "(the smallest class of the training part)"
            )
        return folds

    def _inner_accuracy(self, pca, fs, train: Part, k, seed, splitter) -> float:
        """Accuracy of PCA + SVM refit on each inner cut of the training part, predicting the
        held-out rows: A_JK with LeaveOneOut, Ravi's 10-fold column with StratifiedKFold."""
        from ferbench.threads import thread_map

        gram = fs.gram(self.layer)
        labels = train.dataset.labels

        def hits(cut) -> int:
            rest, held = train.index[cut[0]], train.index[cut[1]]
            fold = pca.fold(rest, k)
            svc = self._fit_svc(self._scores_train(fold, k), labels[rest], seed)
            z = fold.scores(gram, held, k, self.params["whiten"])
            scale = self._scale(fold, k)
            return int(np.sum(linear_predict(svc, z if scale is None else z / scale) == labels[held]))

        # side by side in threads, unless this fit already runs in one (a LOO fold of the runner)
        return sum(thread_map(hits, splitter.split(np.zeros(len(train)), train.labels))) / len(train)
