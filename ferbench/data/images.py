"""Image files shared by every reader: listing class trees and decoding into one uint8 array.

Decoding fills a preallocated array from a small thread pool (OpenCV and Pillow release the GIL
while they decode), so reading 35,887 JPEGs never builds a list of per-image arrays.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ferbench.errors import FerbenchError
from ferbench.labels import canonical

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".gif"})
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _is(entry: os.DirEntry, kind: str) -> bool:
    """entry.is_file() / is_dir(), following links; a link loop (ELOOP) is neither. Such links are
    counted in the data set's warnings by its cache key's walk (ferbench.data.cache)."""
    try:
        return entry.is_file() if kind == "file" else entry.is_dir()
    except OSError:
        return False


def list_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other non-hidden files) directly inside `folder`, sorted by name."""
    images: list[Path] = []
    others: list[Path] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if _is(entry, "file") and not entry.name.startswith("."):
            (images if is_image(Path(entry.name)) else others).append(Path(entry.path))
    return images, others


def subdirs(folder: Path) -> dict[str, Path]:
    """Non-hidden sub-folders by lower-case name."""
    return {e.name.lower(): Path(e.path) for e in os.scandir(folder) if _is(e, "dir") and not e.name.startswith(".")}


def class_folders(root: Path, class_map: dict[str, str] | None = None) -> dict[str, Path]:
    """Canonical class name -> folder for `root/<class>/`; every sub-folder must map to a class.

    Without a class map, folder names are read through `labels.canonical` (anger, Angry, happy...).
    """
    found: dict[str, Path] = {}
    for name, folder in sorted(subdirs(root).items()):
        label = class_map.get(name) if class_map is not None else canonical(name)
        if label is None:
            hint = "add it to the class map" if class_map is not None else "pass a class map (folder=emotion)"
            raise FerbenchError(f"{folder}: folder name '{folder.name}' is not a known emotion; {hint}")
        if label in found:
            raise FerbenchError(f"{folder}: class '{label}' also comes from {found[label]}")
        found[label] = folder
    return found


def scan_class_tree(root: Path, class_map: dict[str, str] | None = None):
    """Files of `root/<class>/*` -> (paths, class names, warnings). Empty class folders are errors."""
    paths: list[Path] = []
    names: list[str] = []
    warnings: list[str] = []
    for label, folder in class_folders(root, class_map).items():
        files, others = list_images(folder)
        if not files:
            raise FerbenchError(f"{folder}: class folder holds no images")
        if others:
            warnings.append(f"ignored {len(others)} non-image file(s) in {folder}, e.g. {others[0].name}")
        paths += files
        names += [label] * len(files)
    return paths, names, warnings


def label_codes(names: list[str], class_names: tuple[str, ...], source: Path) -> np.ndarray:
    """Canonical class names -> int codes into `class_names`; a class outside it is an error."""
    index = {name: code for code, name in enumerate(class_names)}
    for name in set(names) - set(index):
        raise FerbenchError(f"{source}: class '{name}' is not in this data set's classes ({', '.join(class_names)})")
    return np.array([index[n] for n in names], dtype=np.int64)


def _to_array(image: Image.Image, colour: bool) -> np.ndarray:
    if colour:
        return np.asarray(image.convert("RGB"))
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: keep the top 8 bits rather than clipping at 255.
        wide = np.asarray(image, dtype=np.uint32)
        return (wide >> 8 if wide.max() > 255 else wide).astype(np.uint8)
    # Palette, RGB, RGBA, LA...: Pillow maps them through their palette / luma to 8-bit grey.
    return np.asarray(image.convert("L"))


def probe(path: Path) -> tuple[tuple[int, int], bool]:
    """(size (W, H), is colour) of an image without decoding its pixels."""
    try:
        with Image.open(path) as image:
            colour = image.mode not in GREY_MODES and not (image.mode == "P" and _grey_palette(image))
            return image.size, colour
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise FerbenchError(f"{path}: unreadable or corrupt image ({exc})") from None


def _grey_palette(image: Image.Image) -> bool:
    rgb = np.asarray(image.getpalette("RGB") or [], dtype=np.int16).reshape(-1, 3)
    return bool(len(rgb)) and bool((rgb == rgb[:, :1]).all())


def decode_many(
    paths: list[Path],
    *,
    colour: bool = False,
    size: tuple[int, int] | None = None,
    skip_corrupt: bool = False,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode `paths` into one preallocated uint8 array.

    `size` (W, H) defaults to the first readable image's size; images of other sizes are resized to
    it and counted in the warnings. Returns (images, kept mask, warnings). A corrupt file stops the
    read with a FerbenchError naming it unless `skip_corrupt`, which drops and reports it.
    """
    if not paths:
        raise FerbenchError("no image files to read")
    warnings: list[str] = []
    skipped: list[str] = []
    start = 0
    while size is None:
        try:
            size, _ = probe(paths[start])
        except FerbenchError as exc:
            if not skip_corrupt or start == len(paths) - 1:
                raise
            skipped.append(f"{paths[start]} ({exc})")
            start += 1
    width, height = size
    out = np.empty((len(paths), height, width, 3) if colour else (len(paths), height, width), np.uint8)
    kept = np.ones(len(paths), dtype=bool)
    kept[:start] = False
    resized = np.zeros(len(paths), dtype=bool)

    import cv2  # here, not at module level: the cached path never decodes

    flag = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE

    def work(i: int) -> str | None:
        try:
            data = paths[i].read_bytes()
            # Fast path: OpenCV decodes small JPEGs ~4x faster than Pillow. Only for complete JPEGs
            # (end-of-image marker present): libjpeg would fill a truncated file with grey silently.
            if data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9":
                array = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
                if array is not None and array.shape[:2] == (height, width):
                    out[i] = array[..., ::-1] if colour else array  # OpenCV gives BGR
                    return None
            with Image.open(io.BytesIO(data)) as image:
                if image.size != size:
                    resized[i] = True
                    image.draft("RGB" if colour else "L", size)
                    out[i] = _to_array(image.resize(size, Image.Resampling.BILINEAR), colour)
                else:
                    out[i] = _to_array(image, colour)
            return None
        except FileNotFoundError:
            return "image file is missing"
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            return f"unreadable or corrupt image ({exc})"

    workers = workers or min(4, (os.cpu_count() or 1) + 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, problem in zip(range(start, len(paths)), pool.map(work, range(start, len(paths))), strict=True):
            if problem is None:
                continue
            if not skip_corrupt:
                pool.shutdown(cancel_futures=True)
                raise FerbenchError(
                    f"{paths[i]}: {problem} (--data-option skip_corrupt=true drops such files and reports them)"
                )
            kept[i] = False
            skipped.append(f"{paths[i]} ({problem})")
    if skipped:
        warnings.append(
            f"skipped {len(skipped)} corrupt image(s): "
            + "; ".join(skipped[:20])
            + (" ..." if len(skipped) > 20 else "")
        )
    if resized[kept].any():
        warnings.append(f"resized {int(resized[kept].sum())} image(s) of another size to {width}x{height}")
    if not kept.any():
        raise FerbenchError(f"every image was corrupt, e.g. {skipped[0]}")
    if not kept.all():
        out = out[kept]
    return out, kept, warnings


def duplicate_warning(images: np.ndarray, splits: np.ndarray | None) -> str | None:
    """One warning line on exact-duplicate images (and how many sit across splits), or None."""
    seen: dict[bytes, int] = {}
    dup, across = 0, 0
    for i in range(len(images)):
        key = hashlib.blake2b(images[i].tobytes(), digest_size=16).digest()
        first = seen.setdefault(key, i)
        if first != i:
            dup += 1
            across += splits is not None and splits[first] != splits[i]
    if not dup:
        return None
    tail = f", {across} of them in a different split than their first copy" if splits is not None else ""
    return f"{dup} image(s) are exact duplicates of an earlier image{tail}"
