"""Any ImageFolder: `<root>/<class>/*`, optionally under train/ val/ test/, with a user class map
("happy_face=happy,...") when folder names are not emotion names. Grey unless the images are
colour (or `colour` says otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ferbench.data.dataset import FaceDataset
from ferbench.data.images import decode_many, label_codes, probe, scan_class_tree, subdirs
from ferbench.errors import FerbenchError
from ferbench.labels import CONTEMPT, EMOTIONS, EMOTIONS_WITH_CONTEMPT

SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}


def read(
    root: Path,
    *,
    class_map: dict[str, str] | None = None,
    skip_corrupt: bool = False,
    image_size: int | None = None,
    colour: bool | None = None,
) -> FaceDataset:
    if not root.is_dir():
        raise FerbenchError(f"{root}: the folder reader needs a directory of <class>/ folders")
    folders = subdirs(root)
    if not folders:
        raise FerbenchError(f"{root}: matches no image-folder layout; expected <root>/<class>/ folders")
    paths: list[Path] = []
    names: list[str] = []
    splits: list[str] = []
    warnings: list[str] = []
    if set(folders) <= set(SPLITS):
        for name, path in sorted(folders.items()):
            files, classes, notes = scan_class_tree(path, class_map)
            paths, names, warnings = paths + files, names + classes, warnings + notes
            splits += [SPLITS[name]] * len(files)
    else:
        paths, names, warnings = scan_class_tree(root, class_map)
    if colour is None:
        colour = probe(paths[0])[1]
    size = (image_size, image_size) if image_size else None
    images, kept, notes = decode_many(paths, colour=colour, size=size, skip_corrupt=skip_corrupt)
    class_names = EMOTIONS_WITH_CONTEMPT if CONTEMPT in names else EMOTIONS
    options: dict[str, Any] = {"class_map": class_map} if class_map else {}
    if image_size:
        options["image_size"] = image_size
    return FaceDataset(
        images=images,
        labels=label_codes(names, class_names, root)[kept],
        class_names=class_names,
        splits=np.array(splits)[kept] if splits else None,
        name="folder",
        variant="rgb" if colour else "grey",
        source=str(root),
        options=options,
        warnings=warnings + notes,
    )
