"""FER-2013 in either release: the `fer2013.csv` file or the `{train,test}/<class>/*.jpg` folders.

CSV: columns emotion, pixels, Usage; 2,304 space-separated pixels per row; Usage Training /
PublicTest / PrivateTest -> splits train / val / test. Folders: the file-name prefixes Training_,
PublicTest_ and PrivateTest_ carry the original Usage; without them the folder gives train / test.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from ferbench.data.dataset import FaceDataset
from ferbench.data.images import decode_many, label_codes, scan_class_tree, subdirs
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS

SIDE = 48
USAGE = {"training": "train", "publictest": "val", "privatetest": "test"}
PREFIXES = {"Training_": "train", "PublicTest_": "val", "PrivateTest_": "test"}
NEEDS = "fer2013.csv (emotion,pixels,Usage) or a folder with train/ and test/ class folders"


def detect(root: Path) -> tuple[str, Path] | None:
    """("csv", file) or ("folder", root) when `root` holds a FER-2013 release, else None."""
    if root.is_file():
        return ("csv", root) if root.suffix.lower() == ".csv" else None
    csv_file = root / "fer2013.csv"
    if csv_file.is_file():
        return "csv", csv_file
    folders = subdirs(root)
    if "train" in folders and "test" in folders:
        return "folder", root
    return None


def read(root: Path, *, skip_corrupt: bool = False) -> FaceDataset:
    found = detect(root)
    if found is None:
        raise FerbenchError(f"{root}: matches no FER-2013 layout; expected {NEEDS}")
    variant, where = found
    if variant == "csv":
        return read_csv(where)
    return read_folder(where, skip_corrupt=skip_corrupt)


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            count += chunk.count(b"\n")
    return count + 1


def _parse_pixels(text: str) -> np.ndarray | None:
    """Space-separated integers, or None when one is not a number (fast C parser, strict)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy only warns when it stops at unparsable text
        try:
            pixels = np.fromstring(text, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    return pixels


def read_csv(path: Path) -> FaceDataset:
    capacity = _count_lines(path)
    images = np.empty((capacity, SIDE, SIDE), dtype=np.uint8)
    labels = np.empty(capacity, dtype=np.int64)
    splits = np.empty(capacity, dtype="<U5")
    n = 0
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = [h.strip().lower() for h in next(rows, [])]
            if sorted(header) != ["emotion", "pixels", "usage"]:
                raise FerbenchError(
                    f"{path}: expected columns emotion,pixels,Usage, found {','.join(header) or 'none'}"
                )
            col = {name: header.index(name) for name in header}
            for line, row in enumerate(rows, start=2):
                if not row:
                    continue
                where = f"{path}:{line}"
                if len(row) != 3:
                    raise FerbenchError(f"{where}: expected 3 fields, found {len(row)}")
                code = row[col["emotion"]].strip()
                if code not in {str(i) for i in range(len(EMOTIONS))}:
                    raise FerbenchError(f"{where}: unknown emotion code {code!r} (expected 0..6)")
                usage = USAGE.get(row[col["usage"]].strip().lower())
                if usage is None:
                    raise FerbenchError(
                        f"{where}: unknown Usage {row[col['usage']]!r} (Training, PublicTest, PrivateTest)"
                    )
                text = row[col["pixels"]]
                pixels = _parse_pixels(text)
                count = len(text.split()) if pixels is None else pixels.size  # split only on errors
                if count != SIDE * SIDE:
                    raise FerbenchError(f"{where}: pixel string has {count} values, expected {SIDE * SIDE}")
                if pixels is None:
                    raise FerbenchError(f"{where}: pixel string holds a value that is not a whole number")
                if pixels.min() < 0 or pixels.max() > 255:
                    raise FerbenchError(f"{where}: pixel values must lie in 0..255")
                images[n] = pixels.reshape(SIDE, SIDE)
                labels[n], splits[n] = int(code), usage
                n += 1
    except UnicodeDecodeError:
        raise FerbenchError(f"{path}: not a text CSV file") from None
    except csv.Error as exc:
        raise FerbenchError(f"{path}: malformed CSV ({exc})") from None
    if n == 0:
        raise FerbenchError(f"{path}: CSV holds no rows")
    # Slices are views: the preallocated array is not copied.
    return FaceDataset(
        images=images[:n], labels=labels[:n], splits=splits[:n], name="fer2013", variant="csv", source=str(path)
    )


def read_folder(root: Path, *, skip_corrupt: bool = False) -> FaceDataset:
    paths: list[Path] = []
    names: list[str] = []
    folder_split: list[str] = []
    warnings: list[str] = []
    for split_name, folder in sorted(subdirs(root).items()):
        if split_name not in ("train", "test"):
            warnings.append(f"ignored folder {folder} (FER-2013 has train/ and test/)")
            continue
        files, classes, notes = scan_class_tree(folder)
        paths += files
        names += classes
        folder_split += [split_name] * len(files)
        warnings += notes
    splits = []
    unprefixed = 0
    for path, fallback in zip(paths, folder_split, strict=True):
        usage = next((s for p, s in PREFIXES.items() if path.name.startswith(p)), None)
        unprefixed += usage is None
        splits.append(usage or fallback)
    if 0 < unprefixed < len(paths):
        warnings.append(
            f"{unprefixed} of {len(paths)} files lack a Training_/PublicTest_/PrivateTest_ prefix; "
            "their folder gave their split"
        )
    images, kept, notes = decode_many(paths, colour=False, size=(SIDE, SIDE), skip_corrupt=skip_corrupt)
    labels = label_codes(names, EMOTIONS, root)[kept]
    return FaceDataset(
        images=images,
        labels=labels,
        splits=np.array(splits)[kept],
        name="fer2013",
        variant="folder" if not unprefixed else "folder-no-prefix",
        source=str(root),
        warnings=warnings + notes,
    )
