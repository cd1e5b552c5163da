"""The split-shift diagnostic: training images of another kind than the held-out ones are caught."""

import numpy as np
from scipy.ndimage import gaussian_filter

from ferbench.data.dataset import FaceDataset
from ferbench.data.shift import shift_warning, split_statistics


def faces(n=240, blur_train=0.0, blur_other=0.0, seed=0):
    """Smooth random textures, so blur has something to remove; half train, half val/test."""
    rng = np.random.default_rng(seed)
    base = np.stack([gaussian_filter(rng.normal(128, 60, (32, 32)), 0.7) for _ in range(n)])
    splits = np.array(["train"] * (n // 2) + ["val"] * (n // 4) + ["test"] * (n - n // 2 - n // 4))
    out = base.copy()
    for name, sigma in (("train", blur_train), ("val", blur_other), ("test", blur_other)):
        if sigma:
            rows = splits == name
            out[rows] = np.stack([gaussian_filter(img, sigma, mode="mirror") for img in base[rows]])
    images = np.clip(out, 0, 255).astype(np.uint8)
    return FaceDataset(images, rng.integers(0, 7, n), splits=splits, name="textures")


def test_alike_splits_give_no_warning():
    data = faces()
    stats = split_statistics(data)
    assert list(stats) == ["train", "val", "test"]
    assert abs(stats["train"]["sharpness"] - stats["test"]["sharpness"]) < 0.1 * stats["test"]["sharpness"]
    assert shift_warning(data) is None


def test_blurred_training_images_are_caught():
    data = faces(blur_train=2.0)
    note = shift_warning(data)
    assert note is not None and "the training images are the blurrier ones" in note
    stats = split_statistics(data)
    assert stats["train"]["sharpness"] * 1.5 < stats["val"]["sharpness"]


def test_blurred_held_out_images_are_caught():
    note = shift_warning(faces(blur_other=2.0))
    assert note is not None and "the val and test images are the blurrier ones" in note


def test_no_splits_no_statistics():
    data = faces()
    assert split_statistics(FaceDataset(data.images, data.labels, name="x")) == {}
