"""PCA of any fold's training rows from the n x n Gram matrix G = X X^T of the whole data set.

With n << d (213 images, 802,816 features) the centred training Gram K = H G_TT H (H the
centring matrix of the m training rows) has the same non-zero spectrum as the covariance, so
    train scores  = U sqrt(L),     test scores = K_ST U / sqrt(L),
where K = U L U^T and K_ST is the test-train block of G centred with the *training* means.
That is exactly sklearn's PCA fitted on the training rows (up to each component's sign), and it
costs one m x m eigendecomposition per fold instead of a pass over the d-wide features. Signs
follow one rule: the largest-magnitude training score of each component is positive.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
from scipy.linalg import eigh

from ferbench.errors import FerbenchError
from ferbench.threads import one_blas_thread

MAX_COMPONENTS = 512  # eigenpairs kept per fold (the largest n_components a family offers)
MEMO_BYTES = 1 << 30  # decomposed folds kept across all Gram matrices (a grid revisits each fold per PCA size)
_MEMO: OrderedDict[tuple[int, bytes], FoldPCA] = OrderedDict()  # least recently used first
_MEMO_SIZE = [0]
_MEMO_LOCK = threading.Lock()  # folds are fitted side by side in threads (ferbench.threads)
_IDS = itertools.count()


class GramPCA:
    def __init__(self, gram: np.ndarray):
        self.gram = np.asarray(gram, dtype=np.float64)
        self._id = next(_IDS)

    def fold(self, train_index: np.ndarray, n_components: int) -> FoldPCA:
        """The PCA of these training rows (memoised: the grid asks again for each PCA size)."""
        train_index = np.asarray(train_index, dtype=np.int64)
        found = self._known(train_index, n_components)
        if found is not None:
            found.check(n_components)
            return found
        return self._remember(train_index, FoldPCA(self.gram, train_index, n_components))

    def _known(self, train_index: np.ndarray, n_components: int) -> FoldPCA | None:
        key = (self._id, train_index.tobytes())
        with _MEMO_LOCK:
            found = _MEMO.get(key)
            if found is None or found.available < min(n_components, found.limit):
                return None
            _MEMO.move_to_end(key)
            return found

    def _remember(self, train_index: np.ndarray, fold: FoldPCA) -> FoldPCA:
        key = (self._id, train_index.tobytes())
        with _MEMO_LOCK:
            old = _MEMO.pop(key, None)
            _MEMO_SIZE[0] += fold.nbytes - (old.nbytes if old is not None else 0)
            _MEMO[key] = fold
            while _MEMO_SIZE[0] > MEMO_BYTES and len(_MEMO) > 1:
                _, evicted = _MEMO.popitem(last=False)
                _MEMO_SIZE[0] -= evicted.nbytes
        return fold


class FoldPCA:
    def __init__(self, gram: np.ndarray, train_index: np.ndarray, n_components: int):
        self.train_index = train_index
        m = len(train_index)
        # centred data has rank <= m - 1: the m-th component is pure rounding noise
        self.limit = max(m - 1, 0)
        self.check(n_components)
        g_tt = gram[np.ix_(train_index, train_index)]
        self._col_mean = g_tt.mean(axis=0)  # mean_i x_i . x_j over training i
        self._all_mean = float(self._col_mean.mean())
        centred = g_tt - self._col_mean[:, None] - self._col_mean[None, :] + self._all_mean
        keep = min(self.limit, max(n_components, min(MAX_COMPONENTS, self.limit)))
        with one_blas_thread():
            if keep >= m // 2:  # most of the spectrum: divide and conquer is 3-5x faster than a subset
                values, vectors = np.linalg.eigh(centred)  # LAPACK syevd, and it releases the GIL
                values, vectors = values[m - keep :], vectors[:, m - keep :]
            else:
                values, vectors = eigh(centred, subset_by_index=[m - keep, m - 1])
        values, vectors = values[::-1], vectors[:, ::-1]
        floor = max(values[0], 0.0) * 1e-12
        if values[min(n_components, len(values)) - 1] <= floor:
            raise FerbenchError(
                f"n_components {n_components}: the training part ({m} rows) spans only "
                f"{int((values > floor).sum())} non-degenerate directions"
            )
        values = np.maximum(values, floor if floor > 0 else np.finfo(float).tiny)
        scores = vectors * np.sqrt(values)
        signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(scores.shape[1])])
        signs[signs == 0] = 1.0
        self.values = values
        self.vectors = vectors * signs
        self.available = len(values)
        self.n_train = m
        self.nbytes = self.vectors.nbytes + self.values.nbytes + self._col_mean.nbytes + train_index.nbytes

    def check(self, n_components: int) -> None:
        if n_components < 1 or n_components > self.limit:
            raise FerbenchError(
                f"n_components {n_components} is larger than the training part allows: "
                f"{len(self.train_index)} training rows give at most {self.limit} components"
            )

    def _scale(self, k: int, whiten: bool) -> np.ndarray:
        # sklearn whitening divides by sqrt(explained_variance_) = sqrt(L / (m - 1))
        if whiten:
            return np.sqrt(max(self.n_train - 1, 1) / self.values[:k])
        return np.ones(k)

    def train_scores(self, k: int, whiten: bool = False) -> np.ndarray:
        self.check(k)
        return self.vectors[:, :k] * np.sqrt(self.values[:k]) * self._scale(k, whiten)

    def scores(self, gram: np.ndarray, index: np.ndarray, k: int, whiten: bool = False) -> np.ndarray:
        """Projection of other rows of the same data set (their Gram rows against the training rows)."""
        self.check(k)
        g_st = gram[np.ix_(np.asarray(index, dtype=np.int64), self.train_index)]
        centred = g_st - g_st.mean(axis=1, keepdims=True) - self._col_mean[None, :] + self._all_mean
        return centred @ self.vectors[:, :k] / np.sqrt(self.values[:k]) * self._scale(k, whiten)

    def components(self, train_blocks: Iterable[tuple[int, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Explicit (mean (d,), components (k, d)) in feature space from the training rows' float64
        column blocks (`FeatureSet.blocks(layer, train_index, np.float64)`, in column order);
        needed only to project images outside the cached data set (saved models)."""
        self.check(k)
        weights = self.vectors[:, :k] / np.sqrt(self.values[:k])
        means, parts = [], []
        for _, block in train_blocks:
            mean = block.mean(axis=0)
            means.append(mean)
            parts.append(((block - mean).T @ weights).T)
        return np.concatenate(means), np.concatenate(parts, axis=1)
