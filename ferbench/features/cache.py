"""The on-disk feature cache: ferbench.store.cache_dir("features")/<key>/<layer>.npy (+ .gram.npy).

The key hashes the backbone, the weights identity (file name and size, or the random-init seed),
the input size, the batch size (an image's float bits depend on it), the preprocessing version
and the data set fingerprint. Files are written under a temporary name and renamed, so a crash never leaves a
half-written entry. A cache hit never builds the backbone: re-runs, other PCA sizes, other C
values, folds and tuning trials cost only reads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

import ferbench.features.extract as _extract  # by full name: the package's __init__ imports this module
from ferbench import store
from ferbench.features.gram_pca import GramPCA
from ferbench.weights import backbone, check_input_size, resolve

PREPROCESS_VERSION = "v1:grey-rgb,cv2-resize,keras-preprocess_input"
GRAM_BLOCK_BYTES = 64 * 2**20  # bytes per streamed column block
KEPT_SETS = 8  # FeatureSets (with their Gram matrices and PCAs) this process keeps for reuse
_FLOAT16_TABLES: dict[np.dtype, np.ndarray] = {}
_SETS_LOCK = threading.Lock()


def feature_key(backbone_name: str, weights_id: str, input_size: int, fingerprint: str) -> str:
    """The cache key under today's rules (also how `ferbench cache` tells a stale entry)."""
    key = json.dumps(
        [backbone_name, weights_id, input_size, _extract.batch_size_for(input_size), PREPROCESS_VERSION, fingerprint]
    )
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


class FeatureSet:
    """All cached layers of one backbone over one data set, and their Gram matrices and PCAs.
    An ad-hoc data set's layers (`FaceDataset.is_adhoc`: images of one prediction) stay in
    memory: nothing of them is written to the cache."""

    def __init__(self, dataset, backbone_name: str, weights: str, input_size: int | None = None):
        self.dataset = dataset
        self.spec = backbone(backbone_name)
        self.weights = str(weights)
        self.input_size = check_input_size(self.spec, input_size or self.spec.default_size)
        _, self.weights_id = resolve(self.spec.name, self.weights)
        if self.weights.lower() == "imagenet" and self.spec.name != "mini_xception":
            # the top and notop files carry the same convolution weights: one cache for both
            self.weights_id = "imagenet:keras"
        self.batch_size = _extract.batch_size_for(self.input_size)
        self.key = feature_key(self.spec.name, self.weights_id, self.input_size, dataset.fingerprint)
        self.cached = not dataset.is_adhoc
        self.directory = store.cache_dir("features") / f"{self.spec.name}-{self.key}" if self.cached else None
        self._in_memory: dict[str, np.ndarray] = {}
        self._grams: dict[str, np.ndarray] = {}
        self._pcas: dict[str, GramPCA] = {}
        self._lock = threading.Lock()  # folds fitted side by side ask at once: each Gram and PCA once

    def _folder(self) -> Path:
        if self.directory is None:
            raise RuntimeError("an ad-hoc data set's features are kept in memory, not in the cache")
        return self.directory

    def path(self, layer: str) -> Path:
        return self._folder() / f"{layer}.npy"

    def ensure(self, layers: list[str]) -> None:
        """Extract, in one backbone pass, every requested layer not yet cached."""
        if not self.cached:
            missing = [layer for layer in dict.fromkeys(layers) if layer not in self._in_memory]
            if missing:
                self._in_memory.update(
                    _extract.extract_in_memory(
                        self._backbone(missing)[1],
                        self.spec,
                        missing,
                        self.dataset.images,
                        self.input_size,
                        self.batch_size,
                    )
                )
            return
        missing = [layer for layer in dict.fromkeys(layers) if not self.path(layer).is_file()]
        if not missing:
            return
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        # held until the meta file exists: `ferbench cache` lists an entry holding a live
        # process's temporary file as being written, never as incomplete (removable)
        marker = store.temp_path(folder / "extracting")
        marker.touch()
        try:
            top, model = self._backbone(missing)
            widths = _extract.extract(
                model,
                self.spec,
                missing,
                self.dataset.images,
                self.input_size,
                {layer: self.path(layer) for layer in missing},
                self.batch_size,
            )
            meta = {
                "backbone": self.spec.name,
                "weights": self.weights_id,
                "top": top,
                "input_size": self.input_size,
                "batch_size": self.batch_size,
                "preprocess": PREPROCESS_VERSION,
                "fingerprint": self.dataset.fingerprint,
                "n": len(self.dataset),
                "widths": widths,
            }
            with store.atomic_write(folder / f"meta-{'-'.join(missing)[:80]}.json", "w") as handle:
                handle.write(json.dumps(meta))
        finally:
            marker.unlink(missing_ok=True)

    def _backbone(self, layers: list[str]):
        """(whether the top layers are needed, the backbone network built for `layers`)."""
        from ferbench.weights import build

        top = any(layer.split("@")[0] in self.spec.top_layers for layer in layers)
        return top, build(self.spec.name, self.weights, self.input_size, include_top=top)

    def features(self, layer: str) -> np.ndarray:
        """(n, d) float16, memory-mapped read-only (an ad-hoc set's: in memory)."""
        self.ensure([layer])
        if not self.cached:
            return self._in_memory[layer]
        return np.load(self.path(layer), mmap_mode="r")

    def blocks(self, layer: str, rows: np.ndarray | None = None, dtype=np.float32):
        """`column_blocks` of one layer (an ad-hoc set's: one block)."""
        self.ensure([layer])
        if self.cached:
            yield from column_blocks(self.path(layer), rows, dtype)
        else:
            features = self._in_memory[layer]
            yield 0, _widened(features if rows is None else features[rows], dtype)

    def width(self, layer: str) -> int:
        return int(self.features(layer).shape[1])

    def gram(self, layer: str) -> np.ndarray:
        """X X^T over all rows (float64, n x n), computed once per layer and cached on disk."""
        with self._lock:
            if layer not in self._grams:
                target = self._folder() / f"{layer}.gram.npy"
                if target.is_file():
                    self._grams[layer] = np.load(target)
                else:
                    self.ensure([layer])
                    self._grams[layer] = streamed_gram(self.path(layer))
                    with store.atomic_write(target) as handle:
                        np.save(handle, self._grams[layer])
            return self._grams[layer]

    def gram_pca(self, layer: str) -> GramPCA:
        """The PCA of any fold of this layer, shared by every fold, PCA size and trial."""
        gram = self.gram(layer)  # outside the lock: it may be computed now (once, under it)
        with self._lock:
            if layer not in self._pcas:
                self._pcas[layer] = GramPCA(gram)
            return self._pcas[layer]


def feature_set(dataset, backbone_name: str, weights: str, input_size: int | None) -> FeatureSet:
    """One FeatureSet per (data set, backbone, weights, input size) in this process, for the
    KEPT_SETS last used; an ad-hoc data set's is never kept."""
    spec = backbone(backbone_name)
    size = input_size or spec.default_size
    if dataset.is_adhoc:
        return FeatureSet(dataset, spec.name, weights, size)
    with _SETS_LOCK:
        return _kept_set(dataset, str(store.home()), spec.name, str(weights), size)


@lru_cache(maxsize=KEPT_SETS)
def _kept_set(dataset, home: str, backbone_name: str, weights: str, size: int) -> FeatureSet:
    # `home` in the key: a set belongs to one store's cache
    return FeatureSet(dataset, backbone_name, weights, size)


def column_blocks(path: Path, rows: np.ndarray | None = None, dtype=np.float32):
    """Yield (start, float32 block of columns) of a cached (n, d) file, re-mapping per block so the
    resident pages are released between blocks (peak RSS stays one block, not the whole file)."""
    head = np.load(path, mmap_mode="r")
    n, d = head.shape
    del head
    count = n if rows is None else len(rows)
    step = max(1, GRAM_BLOCK_BYTES // (np.dtype(dtype).itemsize * max(count, 1)))
    for start in range(0, d, step):
        mapped = np.load(path, mmap_mode="r")
        block = mapped[:, start : start + step] if rows is None else mapped[rows, start : start + step]
        block = _widened(block, dtype) if block.dtype == np.float16 else np.asarray(block, dtype=dtype)
        del mapped
        yield start, block


def _widened(block: np.ndarray, dtype) -> np.ndarray:
    """float16 -> dtype through a table of all 65,536 float16 values: the same numbers as
    numpy's cast, which converts one value at a time (measured 1.7x slower on this CPU; it was
    most of the Gram's time, more than the float64 products)."""
    dtype = np.dtype(dtype)
    if dtype not in _FLOAT16_TABLES:
        _FLOAT16_TABLES[dtype] = np.arange(2**16, dtype=np.uint16).view(np.float16).astype(dtype)
    return np.take(_FLOAT16_TABLES[dtype], np.ascontiguousarray(block).view(np.uint16))


def streamed_gram(path: Path) -> np.ndarray:
    # float64 products of float16 values: every route (Gram, explicit components) agrees to ~1e-12
    n = np.load(path, mmap_mode="r").shape[0]
    gram = np.zeros((n, n))
    for _, block in column_blocks(path, dtype=np.float64):
        gram += block @ block.T
    return gram
