"""The reader registry and `load_dataset`, the one entry point from names and paths to FaceDatasets.

Each reader is one small module with `read(root, **options) -> FaceDataset` that detects its own
layout; this module checks the path and options, and puts the content-keyed cache in front.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferbench.data import cache
from ferbench.data.dataset import FaceDataset
from ferbench.data.images import duplicate_warning
from ferbench.data.shift import shift_warning
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS_WITH_CONTEMPT, canonical


@dataclass(frozen=True)
class ReaderInfo:
    name: str
    description: str
    needs: str
    module: str
    options: tuple[str, ...]  # the load_dataset options this reader uses (and that key its cache)
    needs_path: bool = True


READERS: dict[str, ReaderInfo] = {
    info.name: info
    for info in (
        ReaderInfo(
            "fer2013",
            "FER-2013, CSV release or folder layout (detected); official train/val/test",
            "--path to fer2013.csv, or to a folder with train/ and test/ class folders "
            "(Training_/PublicTest_/PrivateTest_ prefixes give the three-way split)",
            "ferbench.data.fer2013",
            ("skip_corrupt",),
        ),
        ReaderInfo(
            "jaffe",
            "JAFFE, 213 grey images of 10 subjects",
            "--path to the flat folder of files named like KA.AN1.39.tiff",
            "ferbench.data.jaffe",
            ("skip_corrupt", "image_size"),
        ),
        ReaderInfo(
            "ckplus",
            "CK+, original release or CK+48 (detected); contempt dropped or kept",
            "--path to the folder holding cohn-kanade-images/ and Emotion/, or to CK+48 "
            "(<emotion>/S###_###_########.png)",
            "ferbench.data.ckplus",
            ("contempt", "ck_frames", "ck_first_neutral", "skip_corrupt", "image_size"),
        ),
        ReaderInfo(
            "sfew",
            "SFEW, colour movie frames; official train/val when Train/ and Val/ exist",
            "--path to <Class>/ folders, optionally under Train/ and Val/",
            "ferbench.data.sfew",
            ("skip_corrupt", "image_size"),
        ),
        ReaderInfo(
            "folder",
            "any ImageFolder <root>/<class>/* with an optional class map",
            "--path to <root>/<class>/ folders; --data-option class_map=folder=emotion,... when names "
            "are not emotion names; optional train/ val/ test/ level",
            "ferbench.data.folder",
            ("class_map", "skip_corrupt", "image_size", "colour"),
        ),
        ReaderInfo(
            "synthetic",
            "procedural 48x48 grey faces, generated in memory (never compared with published numbers)",
            "nothing (options n_images, seed, n_subjects, image_size)",
            "ferbench.data.synthetic",
            ("n_images", "seed", "n_subjects", "image_size"),
            needs_path=False,
        ),
    )
}


def parse_class_map(text: str | dict | None) -> dict[str, str] | None:
    """ "happy_face=happy,sad_face=sad" (or a dict) -> {folder name (lower case): canonical class}."""
    if text is None or isinstance(text, dict) and not text:
        return None
    items = (
        text.items()
        if isinstance(text, dict)
        else (part.partition("=")[::2] for part in str(text).split(",") if part.strip())
    )
    out: dict[str, str] = {}
    for folder, emotion in items:
        folder = folder.strip()
        label = canonical(emotion)
        if not folder or label is None:
            raise FerbenchError(
                f"class map entry {folder}={emotion}: expected folder=emotion with emotion "
                f"one of {', '.join(EMOTIONS_WITH_CONTEMPT)}"
            )
        out[folder.lower()] = label
    if not out:
        raise FerbenchError(f"class map {text!r} is empty; expected folder=emotion,...")
    return out


def _check(name: str, given: dict[str, Any]) -> None:
    if given.get("contempt") not in ("drop", "keep"):
        raise FerbenchError(f"contempt must be 'drop' or 'keep', not {given.get('contempt')!r}")
    frames = given.get("ck_frames")
    if not isinstance(frames, int) or frames < 1:
        raise FerbenchError(f"ck_frames must be a whole number >= 1, not {frames!r}")
    size = given.get("image_size")
    if size is not None and (not isinstance(size, int) or not 8 <= size <= 1024):
        raise FerbenchError(f"image_size must be a whole number of pixels in 8..1024, not {size!r}")


def load_dataset(
    name: str,
    path: str | Path | None = None,
    *,
    contempt: str = "drop",
    ck_frames: int = 3,
    ck_first_neutral: bool = False,
    skip_corrupt: bool = False,
    class_map: str | dict | None = None,
    use_cache: bool = True,
    **options: Any,
) -> FaceDataset:
    """Read data set `name` from `path` (detecting its layout), through the cache when allowed."""
    info = READERS.get(name)
    if info is None:
        raise FerbenchError(f"unknown data set {name!r}; known: {', '.join(READERS)}")
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        raise FerbenchError(
            f"data set {name} has no option {', '.join(unknown)}; its options: {', '.join(info.options)}"
        )
    given = dict(
        contempt=contempt,
        ck_frames=ck_frames,
        ck_first_neutral=bool(ck_first_neutral),
        skip_corrupt=bool(skip_corrupt),
        class_map=parse_class_map(class_map),
        **options,
    )
    _check(name, given)
    chosen = {key: given[key] for key in info.options if key in given}
    module = importlib.import_module(info.module)
    if not info.needs_path:
        return module.generate(**chosen)
    if path is None:
        raise FerbenchError(f"data set {name} needs --path: {info.needs}")
    root = Path(path).expanduser()
    if not root.exists():
        raise FerbenchError(f"{root}: path does not exist")
    inputs = cache.key_inputs(name, root.resolve(), chosen)
    key, links = cache.key_and_note(inputs) if use_cache else (None, None)
    if key is not None and (hit := cache.load(key)) is not None:
        return hit
    dataset = module.read(root, **chosen)
    for note in (links, duplicate_warning(dataset.images, dataset.splits), shift_warning(dataset)):
        if note:
            dataset.warnings.append(note)
    if key is not None:
        cache.save(key, dataset, inputs)
    return dataset
