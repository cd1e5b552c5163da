"""CK+ in its original release or as CK+48 (detected).

Original: `cohn-kanade-images/S###/###/S###_###_########.png` with labels in
`Emotion/S###/###/*_emotion.txt` (one float code). Only labelled sequences count: the last N frames
(default 3) take the label, and optionally the first frame is taken as neutral.
CK+48: `<emotion>/S###_###_########.png`. Subjects are the S### prefix in both.
Contempt is dropped by default or kept as an eighth class; the choice lands in `dataset.options`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ferbench.data.dataset import FaceDataset
from ferbench.data.images import decode_many, label_codes, list_images, scan_class_tree, subdirs
from ferbench.errors import FerbenchError
from ferbench.labels import CONTEMPT, EMOTIONS, EMOTIONS_WITH_CONTEMPT, canonical

EMOTION_CODES = ("neutral", "angry", CONTEMPT, "disgust", "fear", "happy", "sad", "surprise")
SUBJECT = re.compile(r"^(S\d{3})_\d{3}_\d+")
NEEDS = "cohn-kanade-images/ and Emotion/ (original release) or <emotion>/S###_###_########.png (CK+48)"


def detect(root: Path) -> str | None:
    if not root.is_dir():
        return None
    folders = subdirs(root)
    if "cohn-kanade-images" in folders and "emotion" in folders:
        return "original"
    if folders and all(canonical(name) for name in folders):
        return "ck+48"
    return None


def read(
    root: Path,
    *,
    contempt: str = "drop",
    ck_frames: int = 3,
    ck_first_neutral: bool = False,
    skip_corrupt: bool = False,
    image_size: int | None = None,
) -> FaceDataset:
    variant = detect(root)
    if variant is None:
        raise FerbenchError(f"{root}: matches no CK+ layout; expected {NEEDS}")
    options: dict[str, Any] = {"contempt": contempt}
    if variant == "original":
        paths, names, warnings = _original(root, ck_frames, ck_first_neutral)
        options.update(ck_frames=ck_frames, ck_first_neutral=ck_first_neutral)
    else:
        paths, names, warnings = scan_class_tree(root)
    if image_size:
        options["image_size"] = image_size
    if contempt == "drop":
        keep = [i for i, name in enumerate(names) if name != CONTEMPT]
        if len(keep) < len(names):
            warnings.append(f"dropped {len(names) - len(keep)} contempt image(s) (contempt=drop)")
        paths, names = [paths[i] for i in keep], [names[i] for i in keep]
    if not paths:
        raise FerbenchError(f"{root}: no labelled CK+ images left to read")
    subjects = []
    for path in paths:
        match = SUBJECT.match(path.name)
        if match is None:
            raise FerbenchError(f"{path}: CK+ file name must look like S###_###_########.png")
        subjects.append(match[1])
    size = (image_size, image_size) if image_size else None
    images, kept, notes = decode_many(paths, colour=False, size=size, skip_corrupt=skip_corrupt)
    class_names = EMOTIONS_WITH_CONTEMPT if contempt == "keep" else EMOTIONS
    return FaceDataset(
        images=images,
        labels=label_codes(names, class_names, root)[kept],
        class_names=class_names,
        subjects=np.array(subjects)[kept],
        name="ckplus",
        variant=variant,
        source=str(root),
        options=options,
        warnings=warnings + notes,
    )


def _emotion(path: Path) -> str:
    text = path.read_text(errors="replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise FerbenchError(f"{path}: emotion file should hold one number, found {text[:30]!r}") from None
    if value != int(value) or not 0 <= value < len(EMOTION_CODES):
        raise FerbenchError(f"{path}: unknown emotion code {text!r} (expected 0..7)")
    return EMOTION_CODES[int(value)]


def _original(root: Path, frames: int, first_neutral: bool):
    folders = subdirs(root)
    image_root, label_root = folders["cohn-kanade-images"], folders["emotion"]
    paths: list[Path] = []
    names: list[str] = []
    warnings: list[str] = []
    labelled = 0
    for subject_dir in sorted(subdirs(label_root).values()):
        for sequence_dir in sorted(subdirs(subject_dir).values()):
            label_files = sorted(sequence_dir.glob("*_emotion.txt"))
            if not label_files:
                continue
            if len(label_files) > 1:
                raise FerbenchError(f"{sequence_dir}: {len(label_files)} emotion files for one sequence")
            emotion = _emotion(label_files[0])
            frames_dir = image_root / subject_dir.name / sequence_dir.name
            if not frames_dir.is_dir():
                raise FerbenchError(f"{frames_dir}: labelled by {label_files[0].name} but the image folder is missing")
            files, _ = list_images(frames_dir)
            if not files:
                raise FerbenchError(f"{frames_dir}: sequence folder holds no images")
            labelled += 1
            chosen = files[-frames:]
            paths += chosen
            names += [emotion] * len(chosen)
            if first_neutral and files[0] not in chosen:
                paths.append(files[0])
                names.append("neutral")
    if not labelled:
        raise FerbenchError(f"{label_root}: no *_emotion.txt files found")
    return paths, names, warnings
