"""SFEW: colour movie frames in `<Class>/` folders, optionally under `Train/` and `Val/`, which then
form the official split (train / val)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferbench.data.dataset import FaceDataset
from ferbench.data.images import decode_many, label_codes, scan_class_tree, subdirs
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS, canonical

SPLITS = {"train": "train", "val": "val"}
NEEDS = "<Class>/ folders (Angry, Disgust, ...), optionally under Train/ and Val/"


def read(root: Path, *, skip_corrupt: bool = False, image_size: int | None = None) -> FaceDataset:
    if not root.is_dir():
        raise FerbenchError(f"{root}: SFEW needs a folder of {NEEDS}")
    folders = subdirs(root)
    split_dirs = {SPLITS[name]: path for name, path in folders.items() if name in SPLITS}
    paths: list[Path] = []
    names: list[str] = []
    splits: list[str] = []
    warnings: list[str] = []
    if split_dirs:
        for name, path in folders.items():
            if name not in SPLITS:
                warnings.append(f"ignored folder {path} (SFEW splits are Train/ and Val/)")
        for split, path in sorted(split_dirs.items()):
            files, classes, notes = scan_class_tree(path)
            paths += files
            names += classes
            splits += [split] * len(files)
            warnings += notes
    elif folders and all(canonical(name) for name in folders):
        paths, names, warnings = scan_class_tree(root)
    else:
        raise FerbenchError(f"{root}: matches no SFEW layout; expected {NEEDS}")
    size = (image_size, image_size) if image_size else None
    images, kept, notes = decode_many(paths, colour=True, size=size, skip_corrupt=skip_corrupt)
    return FaceDataset(
        images=images,
        labels=label_codes(names, EMOTIONS, root)[kept],
        splits=np.array(splits)[kept] if splits else None,
        name="sfew",
        variant="train-val" if splits else "flat",
        source=str(root),
        options={"image_size": image_size} if image_size else {},
        warnings=warnings + notes,
    )
