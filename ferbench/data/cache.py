"""Content-keyed cache of decoded data sets, so re-reading unchanged data takes well under a second.

The key is a hash of the reader, its options and a stat walk of the source (relative path, size
and modification time of every file): cheap to compute, and any added, removed or touched file
changes it. Entries are uncompressed .npy/.npz files in `store.cache_dir("datasets")` plus a small
JSON sidecar, written to temporary names and renamed into place so a killed read leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ferbench import store
from ferbench.data.dataset import FaceDataset
from ferbench.errors import FerbenchError

CACHE_VERSION = 2  # 2: split-shift warning added to cached data sets


def stat_key(reader: str, source: Path, options: dict) -> str:
    """Hash of reader name, options and (relative path, size, mtime) of every file under `source`."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([CACHE_VERSION, reader, options], sort_keys=True, default=str).encode())
    if source.is_file():
        st = source.stat()
        digest.update(f"{source.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()
    lines: list[str] = []
    stack = [(source, "")]
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append((Path(entry.path), f"{rel}{entry.name}/"))
                elif entry.is_file():
                    st = entry.stat()
                    lines.append(f"{rel}{entry.name}\0{st.st_size}\0{st.st_mtime_ns}")
    lines.sort()  # directory order is not guaranteed; the key must not depend on it
    digest.update("\n".join(lines).encode())
    return digest.hexdigest()


def key_inputs(reader: str, source: Path, options: dict) -> dict:
    """What an entry's key hashes, as its sidecar records it (JSON: the source as text)."""
    return {"reader": reader, "source": str(source), "options": options}


def key_for(inputs: dict) -> str:
    """The key `stat_key` gives these inputs today (changed files under the source change it)."""
    return stat_key(inputs["reader"], Path(inputs["source"]), inputs["options"])


def _paths(key: str) -> tuple[Path, Path, Path]:
    # Images in a plain .npy (read straight into the array, faster than out of a zip), the small
    # arrays in an .npz, metadata last: the .json exists only once the entry is complete.
    folder = store.cache_dir("datasets")
    return folder / f"{key}.images.npy", folder / f"{key}.npz", folder / f"{key}.json"


def load(key: str) -> FaceDataset | None:
    """The cached data set for `key`, or None when absent or unreadable (then it is simply re-read)."""
    images_path, arrays_path, meta_path = _paths(key)
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        images = np.load(images_path, allow_pickle=False)
        with np.load(arrays_path, allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, KeyError):
        return None
    dataset = FaceDataset(
        images=images,
        labels=data["labels"],
        class_names=tuple(meta["class_names"]),
        subjects=data.get("subjects"),
        splits=data.get("splits"),
        name=meta["name"],
        variant=meta["variant"],
        source=meta["source"],
        options=meta["options"],
        warnings=meta["warnings"],
    )
    # The fingerprint hashes every pixel; it was computed once when the entry was written.
    dataset.__dict__["fingerprint"] = meta["fingerprint"]
    return dataset


def save(key: str, dataset: FaceDataset, inputs: dict | None = None) -> None:
    """Write the entry atomically: temporary files first, then rename (metadata last).
    `inputs` (`key_inputs`: what the key hashed) go into the sidecar,
    so `ferbench cache` can tell an entry whose source has changed since."""
    images_path, arrays_path, meta_path = _paths(key)
    arrays = {"labels": dataset.labels}
    for extra in ("subjects", "splits"):
        if getattr(dataset, extra) is not None:
            arrays[extra] = getattr(dataset, extra)
    meta = {
        "class_names": list(dataset.class_names), "name": dataset.name, "variant": dataset.variant,
        "source": dataset.source, "options": dataset.options, "warnings": dataset.warnings,
        "fingerprint": dataset.fingerprint, "cache_version": CACHE_VERSION, "key_inputs": inputs,
    }
    finals = (images_path, arrays_path, meta_path)
    temps = [path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in finals]
    try:
        with open(temps[0], "wb") as handle:
            np.save(handle, np.ascontiguousarray(dataset.images), allow_pickle=False)
        with open(temps[1], "wb") as handle:
            np.savez(handle, **arrays)
        temps[2].write_text(json.dumps(meta, default=str))  # as stat_key hashes the options
        for tmp, final in zip(temps, finals):
            os.replace(tmp, final)
    except OSError as exc:
        raise FerbenchError(f"cannot write the data set cache {meta_path}: {exc.strerror or exc}") from None
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
