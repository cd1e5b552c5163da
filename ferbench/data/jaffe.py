"""JAFFE: one flat folder of files named like `KA.AN1.39.tiff`.

Fields: subject (KA), expression code (AN DI FE HA NE SA SU) with its repetition number, serial.
Some files are palette images; every image is read as 8-bit grey.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ferbench.data.dataset import FaceDataset
from ferbench.data.images import decode_many, label_codes, list_images
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS

NAME = re.compile(
    r"^(?P<subject>[A-Za-z]{2,3})\.(?P<code>AN|DI|FE|HA|NE|SA|SU)(?P<rep>\d+)\.(?P<serial>\d+)\.tiff?$", re.IGNORECASE
)
CODES = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}


def read(root: Path, *, skip_corrupt: bool = False, image_size: int | None = None) -> FaceDataset:
    if not root.is_dir():
        raise FerbenchError(f"{root}: JAFFE needs a folder of files named like KA.AN1.39.tiff")
    files, others = list_images(root)
    others += [f for f in files if f.suffix.lower() not in (".tif", ".tiff")]
    files = [f for f in files if f.suffix.lower() in (".tif", ".tiff")]
    if not files:
        raise FerbenchError(f"{root}: matches no JAFFE layout; expected .tiff files named like KA.AN1.39.tiff")
    subjects, names = [], []
    for path in files:
        match = NAME.match(path.name)
        if match is None:
            raise FerbenchError(
                f"{path}: JAFFE file name does not parse; expected SUBJECT.CODE<n>.<serial>.tiff "
                "with CODE one of AN, DI, FE, HA, NE, SA, SU"
            )
        subjects.append(match["subject"].upper())
        names.append(CODES[match["code"].upper()])
    warnings = [f"ignored {len(others)} non-TIFF file(s), e.g. {others[0].name}"] if others else []
    size = (image_size, image_size) if image_size else None
    images, kept, notes = decode_many(files, colour=False, size=size, skip_corrupt=skip_corrupt)
    return FaceDataset(
        images=images,
        labels=label_codes(names, EMOTIONS, root)[kept],
        subjects=np.array(subjects)[kept],
        name="jaffe",
        variant="tiff",
        source=str(root),
        options={"image_size": image_size} if image_size else {},
        warnings=warnings + notes,
    )
