"""Image statistics per split, and a warning when training images differ in kind from the rest.

A model trained on one kind of image and tested on another measures the shift, not the model:
a re-encoded, resized or blurred copy of one split is a common defect of redistributed data sets.
Two cheap statistics catch it, on a sample of each split:
  contrast   the median per-image standard deviation of the pixels;
  sharpness  the median mean |horizontal difference| of the per-image standardised image, so
             it does not depend on brightness or contrast.
The remedy is a clean copy of the data, not a correction inside the models.
"""

from __future__ import annotations

import numpy as np

from ferbench.data.dataset import SPLIT_ORDER

SAMPLE = 500  # images per split: the medians settle well before this
SHARPNESS_RATIO = 1.5  # a split this many times sharper than train is a different kind of image
BLANK_STD = 2.0  # near-blank images have no sharpness to speak of


def _grey(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    return images.mean(axis=-1) if images.ndim == 4 else images


def image_statistics(images: np.ndarray) -> dict[str, float]:
    """Median contrast and sharpness of grey or colour images (N, H, W[, C])."""
    grey = _grey(images)
    std = grey.reshape(len(grey), -1).std(axis=1)
    keep = std > BLANK_STD
    if not keep.any():
        return {"contrast": float(np.median(std)) if len(std) else 0.0, "sharpness": 0.0}
    z = (grey[keep] - grey[keep].mean(axis=(1, 2), keepdims=True)) / std[keep][:, None, None]
    sharpness = np.abs(np.diff(z, axis=2)).mean(axis=(1, 2))
    return {"contrast": round(float(np.median(std)), 2), "sharpness": round(float(np.median(sharpness)), 4)}


def _sample(images: np.ndarray, rows: np.ndarray, size: int, rng) -> np.ndarray:
    if len(rows) > size:
        rows = np.sort(rng.choice(rows, size, replace=False))
    return images[rows]


def split_statistics(dataset, sample: int = SAMPLE, seed: int = 0) -> dict[str, dict[str, float]]:
    """{split: {contrast, sharpness, n_sampled}} on at most `sample` images per split."""
    if dataset.splits is None:
        return {}
    rng = np.random.default_rng(seed)
    out = {}
    ranked = lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s)  # noqa: E731
    for split in sorted(set(dataset.splits.tolist()), key=ranked):
        images = _sample(dataset.images, np.flatnonzero(dataset.splits == split), sample, rng)
        out[split] = {**image_statistics(images), "n_sampled": len(images)}
    return out


def shift_warning(dataset, stats: dict | None = None, sample: int = SAMPLE, seed: int = 0) -> str | None:
    """One warning line when another split is much sharper or blurrier than train, else None."""
    stats = split_statistics(dataset, sample, seed) if stats is None else stats
    train = stats.get("train")
    if not train or not train["sharpness"]:
        return None
    others = {k: v for k, v in stats.items() if k != "train" and v["sharpness"]}
    shifted = {
        k: v
        for k, v in others.items()
        if max(v["sharpness"], train["sharpness"]) / min(v["sharpness"], train["sharpness"]) > SHARPNESS_RATIO
    }
    if not shifted:
        return None
    names = " and ".join(shifted)
    figures = ", ".join(f"{k} {v['sharpness']}" for k, v in shifted.items())
    contrasts = ", ".join(f"{k} {v['contrast']}" for k, v in shifted.items())
    head = (
        f"training images differ in sharpness from {names} images (train {train['sharpness']} vs {figures}; "
        f"contrast train {train['contrast']} vs {contrasts})"
    )
    blurrier = "training" if train["sharpness"] < min(v["sharpness"] for v in shifted.values()) else names
    return (
        head + f": the {blurrier} images are the blurrier ones; "
        "scores across these splits measure the shift, not the model"
    )
