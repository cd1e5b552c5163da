"""The store's caches entry by entry: feature layers, decoded data sets and leaderboard files, each
judged current (what today's code reads), stale, incomplete or being written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ferbench.data import cache as data_cache
from ferbench.errors import FerbenchError
from ferbench.features import cache as feature_cache
from ferbench.features.extract import batch_size_for
from ferbench.inventory._entry import (
    CURRENT,
    INCOMPLETE,
    STALE,
    TEMP_NAME,
    WRITING,
    CacheEntry,
    temp_entry,
    temp_writer,
    tree_stats,
)
from ferbench.leases import pid_alive

DATASET_SUFFIXES = (".images.npy", ".npz", ".json")


def scan_features(folder: Path):
    for path in folder.iterdir():
        if temp_writer(path.name) is not None:
            yield temp_entry("features", folder, path)
        elif path.is_dir():
            try:
                found = list(_feature_directory(folder, path))
            except FileNotFoundError:  # removed by another `cache clear` while we looked
                continue
            yield from found
        else:
            size, modified = tree_stats(path)
            yield CacheEntry(
                "features",
                path.name,
                INCOMPLETE,
                "stray file",
                size,
                modified,
                (path,),
                "not a feature cache directory",
            )


def _feature_directory(folder: Path, directory: Path):
    files = [path for path in directory.iterdir() if path.is_file()]
    temps = [path for path in files if temp_writer(path.name) is not None]
    kept = [path for path in files if path not in temps]
    for temp in temps:  # listed on their own: an orphan inside a current entry is removable alone
        yield temp_entry("features", folder, temp)
    metas, unreadable = [], []
    for path in sorted(directory.glob("meta-*.json")):
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            unreadable.append(f"{path.name}: {exc}")
            continue
        if isinstance(meta, dict):
            metas.append(meta)
        else:
            unreadable.append(f"{path.name}: not a JSON object")
    layers = sorted(
        path.name[: -len(".npy")] for path in kept if path.name.endswith(".npy") and not path.name.endswith(".gram.npy")
    )
    stats = [tree_stats(path) for path in kept] or [(0, directory.stat().st_mtime)]
    size, modified = sum(item[0] for item in stats), max(item[1] for item in stats)
    description = f"layers {', '.join(layers) or 'none'}"
    if metas:
        first = metas[0]
        description = (
            f"{first.get('backbone')}, weights {first.get('weights')}, {first.get('input_size')} px, "
            f"{first.get('n')} images, {description}"
        )
    if any(pid_alive(temp_writer(temp.name)) for temp in temps):
        status, reason = WRITING, "a running process is writing to it"
    elif not metas:
        status, reason = INCOMPLETE, "; ".join(unreadable) or "no meta file (interrupted extraction)"
    else:
        reasons = [why for why in (_stale_reason(directory.name, meta) for meta in metas) if why]
        status, reason = (STALE, reasons[0]) if reasons else (CURRENT, "")
    yield CacheEntry("features", directory.name, status, description, size, modified, (directory,), reason)


def _stale_reason(directory_name: str, meta: dict) -> str | None:
    """Why today's FeatureSet would not read this entry, or None when it would."""
    try:
        input_size = meta["input_size"]
        today_batch = batch_size_for(input_size)
        key = feature_cache.feature_key(meta["backbone"], meta["weights"], input_size, meta["fingerprint"])
        expected = f"{meta['backbone']}-{key}"  # the directory name FeatureSet gives it today
    except KeyError as exc:
        return f"meta has no {exc}"
    except TypeError as exc:
        return f"meta unusable: {exc}"
    if "batch_size" not in meta:
        return f"no batch size recorded (older ferbench), today {today_batch}"
    if meta["batch_size"] != today_batch:
        return f"batch size {meta['batch_size']}, today {today_batch}"
    if meta.get("preprocess") != feature_cache.PREPROCESS_VERSION:
        return f"preprocessing {meta.get('preprocess')!r}, today {feature_cache.PREPROCESS_VERSION!r}"
    if directory_name != expected:
        return f"key differs from today's {expected}"
    return None


def _dataset_key(name: str) -> str:
    for suffix in DATASET_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def scan_datasets(folder: Path):
    groups: dict[str, list[Path]] = {}
    busy: set[str] = set()  # keys a running process is writing (".<key>.<suffix>.<pid>.tmp")
    for path in folder.iterdir():
        pid = temp_writer(path.name)
        if pid is None:
            groups.setdefault(_dataset_key(path.name), []).append(path)
            continue
        entry = temp_entry("datasets", folder, path)
        if entry.status == WRITING:
            busy.add(_dataset_key(TEMP_NAME.sub("", path.name).lstrip(".")))
        yield entry
    for key, paths in groups.items():
        images, arrays, sidecar = (folder / f"{key}{suffix}" for suffix in DATASET_SUFFIXES)
        # the sidecar first: without it the entry is no longer read (data.cache.load)
        paths = sorted(paths, key=lambda path: path != sidecar)
        size = sum(tree_stats(path)[0] for path in paths)
        modified = max(tree_stats(path)[1] for path in paths)
        status, description, reason = _dataset_status(key in busy, images, arrays, sidecar)
        yield CacheEntry("datasets", key, status, description, size, modified, tuple(paths), reason)


def _dataset_status(busy: bool, images: Path, arrays: Path, sidecar: Path) -> tuple[str, str, str]:
    if busy:
        return WRITING, "data set", "a running process is writing it"
    missing = [path.name for path in (images, arrays, sidecar) if not path.is_file()]
    if missing:
        return INCOMPLETE, "data set", f"missing {', '.join(missing)} (interrupted write)"
    try:
        meta = json.loads(sidecar.read_text())
        count = np.load(images, mmap_mode="r").shape[0]  # the header only
        description = f"{meta['name']} ({meta.get('variant') or 'default'}), {count} images, from {meta.get('source')}"
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return INCOMPLETE, "data set", f"unreadable: {exc}"
    # Sidecars record the cache version and what the key hashed from now on; an older sidecar
    # cannot be judged (the key is a hash) and is kept.
    recorded = meta.get("cache_version")
    if recorded is not None and recorded != data_cache.CACHE_VERSION:
        return STALE, description, f"cache version {recorded}, today {data_cache.CACHE_VERSION}"
    inputs = meta.get("key_inputs")
    if inputs and Path(inputs["source"]).exists():
        try:
            key = data_cache.key_for(inputs)
        except FerbenchError as exc:  # its source can no longer be keyed (listing, links)
            return STALE, description, f"its source cannot be read: {exc}"
        if key != sidecar.name.removesuffix(".json"):
            return STALE, description, "its source's files changed since (added, removed or modified)"
    return CURRENT, description, ""


def scan_leaderboard(folder: Path):
    for path in folder.iterdir():
        if temp_writer(path.name) is not None:
            yield temp_entry("leaderboard", folder, path)
            continue
        size, modified = tree_stats(path)
        if path.is_file() and path.suffix == ".pickle":
            yield CacheEntry(
                "leaderboard", path.name, CURRENT, "finished runs of one tracking URI", size, modified, (path,)
            )
        else:
            yield CacheEntry(
                "leaderboard",
                path.name,
                INCOMPLETE,
                "stray file",
                size,
                modified,
                (path,),
                "not a leaderboard cache file",
            )
