"""FaceDataset: what every reader yields, and Part: an indexed view that flows to the families."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import numpy as np

from ferbench.labels import EMOTIONS

SPLIT_ORDER = ("train", "val", "test")  # how reports list the official splits
ADHOC = "adhoc"  # the name of images wrapped for one prediction (Family.predict_images)


@dataclass(eq=False)
class FaceDataset:
    """Images and labels in the canonical label space.

    images:     uint8, (N, H, W) for grey or (N, H, W, 3) for colour; never converted to float here.
    labels:     int64 codes into `class_names` (FER-2013 order, optionally + contempt).
    subjects:   subject id per image (str), or None when the data set has none.
    splits:     official split per image ("train", "val", "test"), or None when there is none.
    name:       the reader's name ("fer2013", "jaffe", ..., "synthetic").
    variant:    e.g. "csv", "folder", "ck+48", "original"; recorded with runs.
    options:    reader choices that change the content (e.g. {"contempt": "drop"}), recorded with runs.
    warnings:   human-readable notes found while reading (duplicates, skipped files, ...).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = EMOTIONS
    subjects: np.ndarray | None = None
    splits: np.ndarray | None = None
    name: str = "unnamed"
    variant: str = ""
    source: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8:
            raise TypeError(f"FaceDataset images must be uint8, got {self.images.dtype}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.images) != len(self.labels):
            raise ValueError("images and labels differ in length")
        for extra in ("subjects", "splits"):
            value = getattr(self, extra)
            if value is not None:
                value = np.asarray(value).astype(str)
                if len(value) != len(self.labels):
                    raise ValueError(f"{extra} and labels differ in length")
                setattr(self, extra, value)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_synthetic(self) -> bool:
        return self.name == "synthetic"

    @property
    def is_adhoc(self) -> bool:
        """Images wrapped for one prediction: nothing derived from them is worth caching."""
        return self.name == ADHOC

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of pixels, labels, class names, subjects and splits (16 hex chars)."""
        digest = hashlib.blake2b(digest_size=8)
        digest.update(repr((self.images.shape, tuple(self.class_names))).encode())
        digest.update(np.ascontiguousarray(self.images).data)
        digest.update(self.labels.tobytes())
        for extra in (self.subjects, self.splits):
            digest.update(b"\x00" if extra is None else "\x1f".join(extra.tolist()).encode())
        return digest.hexdigest()

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def part(self, index: np.ndarray | None = None) -> Part:
        return Part(self, np.arange(len(self)) if index is None else np.asarray(index, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class Part:
    """A subset of a data set by index. Families receive Parts, so that a feature family can
    look its rows up in a whole-data-set cache while a CNN family simply reads `.images`."""

    dataset: FaceDataset
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    @property
    def images(self) -> np.ndarray:
        return cast(np.ndarray, self.dataset.images[self.index])  # numpy types fancy indexing as Any

    @property
    def labels(self) -> np.ndarray:
        return cast(np.ndarray, self.dataset.labels[self.index])

    def subset(self, positions: np.ndarray) -> Part:
        """Rows of this part at the given positions (0..len-1)."""
        return Part(self.dataset, self.index[np.asarray(positions, dtype=np.int64)])
