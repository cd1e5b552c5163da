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
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ferbench import store
from ferbench.data.dataset import FaceDataset
from ferbench.errors import FerbenchError

CACHE_VERSION = 2  # 2: split-shift warning added to cached data sets


def stat_key(reader: str, source: Path, options: dict) -> str:
    """Hash of reader name, options and (relative path, size, mtime) of every file under `source`."""
    return keyed_tree(reader, source, options)[0]


def keyed_tree(reader: str, source: Path, options: dict) -> tuple[str, str | None]:
    """(`stat_key`, a warning line naming the directory links skipped as loops, or None).

    Links to files are followed. A directory link back into one of its own ancestors (a loop) is
    skipped and counted; one that leads out of the data folder is refused in one line, since the
    readers would read files the key did not cover."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([CACHE_VERSION, reader, options], sort_keys=True, default=str).encode())
    if source.is_file():
        st = source.stat()
        digest.update(f"{source.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return digest.hexdigest(), None
    root = source.resolve()
    top = root.stat()
    lines: list[str] = []
    loops: list[str] = []
    # (folder, its relative name, the (device, inode) of it and its ancestors: a repeat is a loop)
    stack: list[tuple[Path, str, tuple[tuple[int, int], ...]]] = [(source, "", ((top.st_dev, top.st_ino),))]
    while stack:
        folder, rel, ancestors = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            raise FerbenchError(f"{folder}: cannot list the data folder ({exc.strerror or exc})") from None
        for entry in entries:
            name = f"{rel}{entry.name}"
            try:
                if entry.is_dir():
                    st = os.stat(entry.path)  # the target's, for a link
                    if (st.st_dev, st.st_ino) in ancestors:
                        loops.append(name)
                        lines.append(f"{name}\0loop")
                        continue
                    if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(root):
                        raise FerbenchError(
                            f"{entry.path}: a directory link out of the data folder {root} (to "
                            f"{Path(entry.path).resolve()}); move or copy those files into the folder"
                        )
                    stack.append((Path(entry.path), f"{name}/", (*ancestors, (st.st_dev, st.st_ino))))
                elif entry.is_file():
                    st = entry.stat()
                    lines.append(f"{name}\0{st.st_size}\0{st.st_mtime_ns}")
                elif entry.is_symlink():  # dangling, or a link to itself: the readers skip it too
                    loops.append(name)
                    lines.append(f"{name}\0broken")
            except OSError:  # e.g. a link loop the kernel stops at (ELOOP)
                loops.append(name)
                lines.append(f"{name}\0unreadable")
    lines.sort()  # directory order is not guaranteed; the key must not depend on it
    digest.update("\n".join(lines).encode())
    note = None
    if loops:
        note = (
            f"skipped {len(loops)} link(s) that loop or lead nowhere in {source}: "
            + "; ".join(sorted(loops)[:5])
            + (" ..." if len(loops) > 5 else "")
        )
    return digest.hexdigest(), note


def key_inputs(reader: str, source: Path, options: dict) -> dict:
    """What an entry's key hashes, as its sidecar records it (JSON: the source as text)."""
    return {"reader": reader, "source": str(source), "options": options}


def key_for(inputs: dict) -> str:
    """The key `stat_key` gives these inputs today (changed files under the source change it)."""
    return stat_key(inputs["reader"], Path(inputs["source"]), inputs["options"])


def key_and_note(inputs: dict) -> tuple[str, str | None]:
    """`key_for`, and the warning line of `keyed_tree`."""
    return keyed_tree(inputs["reader"], Path(inputs["source"]), inputs["options"])


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
        "class_names": list(dataset.class_names),
        "name": dataset.name,
        "variant": dataset.variant,
        "source": dataset.source,
        "options": dataset.options,
        "warnings": dataset.warnings,
        "fingerprint": dataset.fingerprint,
        "cache_version": CACHE_VERSION,
        "key_inputs": inputs,
    }
    try:
        # entered sidecar first, so it is renamed into place last: an entry without it is not read
        with ExitStack() as files:
            meta_file, arrays_file, images_file = (
                files.enter_context(store.atomic_write(path)) for path in (meta_path, arrays_path, images_path)
            )
            np.save(images_file, np.ascontiguousarray(dataset.images), allow_pickle=False)
            np.savez(arrays_file, allow_pickle=False, **arrays)  # read back with allow_pickle=False
            meta_file.write(json.dumps(meta, default=str).encode())  # as stat_key hashes the options
    except OSError as exc:
        raise FerbenchError(f"cannot write the data set cache {meta_path}: {exc.strerror or exc}") from None
