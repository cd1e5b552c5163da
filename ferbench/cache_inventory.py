"""What ferbench keeps under `store.home()/cache` (and its run checkpoints), and removing it
without breaking a reader.

Kinds (see ferbench.store.cache_dir):
  features/<backbone>-<key>/   cached layers of one backbone over one data set (ferbench.features.cache)
  datasets/<key>.{images.npy,npz,json}   decoded data sets (ferbench.data.cache)
  leaderboard/<digest>.pickle  finished runs per tracking URI (ferbench.leaderboard_cache)
  checkpoints/<run id>/        (beside cache/) what an unfinished run left (ferbench.checkpoint_inventory)

Statuses:
  current        what today's code reads
  stale          written under other rules (key, batch size, preprocessing, cache version): never read again
  incomplete     no meta / sidecar, or an unreadable one: an interrupted write
  orphaned temp  a temporary file (or a directory being removed) whose process has ended
  writing        a temporary file whose process is alive, or an entry holding one: never removed
  resumable      checkpoints of a stopped run that can still be resumed: only `clear --all` removes them
  orphaned       checkpoints nothing will resume (the run finished, was deleted or is gone)

Only numpy-level modules are imported here: listing never loads TensorFlow or MLflow.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ferbench import store
from ferbench.data import cache as data_cache
from ferbench.errors import FerbenchError
from ferbench.features import cache as feature_cache
from ferbench.features.extract import batch_size_for
from ferbench.leases import pid_alive

KINDS = ("features", "datasets", "leaderboard", "checkpoints")
CURRENT, STALE, INCOMPLETE, ORPHANED, WRITING = "current", "stale", "incomplete", "orphaned temp", "writing"
RESUMABLE, ORPHANED_RUN = "resumable", "orphaned"
STATUSES = (CURRENT, STALE, INCOMPLETE, ORPHANED, WRITING, RESUMABLE, ORPHANED_RUN)
STALE_STATUSES = (STALE, INCOMPLETE, ORPHANED, ORPHANED_RUN)  # what `clear --stale` removes
TEMP_NAME = store.TEMP_NAME  # what writers (and removals in progress) name their temporary files
DATASET_SUFFIXES = (".images.npy", ".npz", ".json")


@dataclass
class CacheEntry:
    kind: str
    name: str            # relative to the kind's folder
    status: str
    description: str
    size: int            # bytes of its files
    modified: float      # newest modification time (epoch seconds)
    paths: tuple[Path, ...] = field(repr=False)  # removed in this order
    reason: str = ""     # why it is stale, incomplete or kept

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "status": self.status, "description": self.description,
                "bytes": self.size, "modified": datetime.fromtimestamp(self.modified).isoformat(timespec="seconds"),
                "reason": self.reason}


def cache_root() -> Path:
    """The store's cache folder, without creating anything (listing must not make a store)."""
    home = store.home()
    if not home.is_dir():
        raise FerbenchError(f"nothing cached: the store {home} does not exist (set FERBENCH_HOME to use another)")
    return home / "cache"


def check_kinds(kind: str | None) -> tuple[str, ...]:
    if kind is None:
        return KINDS
    if kind not in KINDS:
        raise FerbenchError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    return (kind,)


def inventory(kinds: tuple[str, ...] = KINDS) -> list[CacheEntry]:
    """Every entry of the given kinds, in a stable order (kind, then name)."""
    from ferbench import checkpoint_inventory, checkpoints

    root = cache_root()
    scanners = {"features": _features, "datasets": _datasets, "leaderboard": _leaderboard,
                "checkpoints": checkpoint_inventory.scan}
    entries: list[CacheEntry] = []
    for kind in kinds:
        folder = checkpoints.root() if kind == "checkpoints" else root / kind
        if folder.is_dir():
            entries += sorted(scanners[kind](folder), key=lambda entry: entry.name)
    return entries


def select(entries: list[CacheEntry], everything: bool) -> list[CacheEntry]:
    """What `clear --all` (everything=True) or `clear --stale` removes; entries being written never."""
    if everything:
        return [entry for entry in entries if entry.status != WRITING]
    return [entry for entry in entries if entry.status in STALE_STATUSES]


def still_selected(chosen: list[CacheEntry], everything: bool) -> list[CacheEntry]:
    """`chosen` as a fresh scan sees it: what changed since (a writer started, a file went) is dropped."""
    kinds = tuple(kind for kind in KINDS if any(entry.kind == kind for entry in chosen))
    now = {(e.kind, e.name, e.status): e for e in select(inventory(kinds), everything)}
    return [now[key] for key in ((e.kind, e.name, e.status) for e in chosen) if key in now]


def remove(entry: CacheEntry) -> int:
    """Delete the entry's files; the bytes freed. A directory is first renamed to a temporary name,
    so an interrupted removal leaves an orphaned temp, never a partial entry that looks current."""
    return sum(_remove_path(path) for path in entry.paths)


def totals(entries: list[CacheEntry]) -> list[dict]:
    """Count and bytes per (kind, status), kinds and statuses in their fixed order."""
    rows = []
    for kind in KINDS:
        for status in STATUSES:
            group = [e for e in entries if e.kind == kind and e.status == status]
            if group:
                rows.append({"kind": kind, "status": status, "entries": len(group),
                             "bytes": sum(e.size for e in group)})
    return rows


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def temp_writer(name: str) -> int | None:
    """The pid in a temporary file name, or None when `name` is not a temporary name."""
    match = TEMP_NAME.search(name)
    return None if match is None else int(match.group(1) or match.group(2))


def temp_entry(kind: str, folder: Path, path: Path) -> CacheEntry:
    pid = temp_writer(path.name)
    size, modified = tree_stats(path)
    if pid_alive(pid):
        status, description = WRITING, f"temporary file of running process {pid}"
    else:
        status, description = ORPHANED, f"temporary file left by ended process {pid}"
    return CacheEntry(kind, str(path.relative_to(folder)), status, description, size, modified, (path,))


def _features(folder: Path):
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
            yield CacheEntry("features", path.name, INCOMPLETE, "stray file", size, modified, (path,),
                             "not a feature cache directory")


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
    layers = sorted(path.name[:-len(".npy")] for path in kept
                    if path.name.endswith(".npy") and not path.name.endswith(".gram.npy"))
    stats = [tree_stats(path) for path in kept] or [(0, directory.stat().st_mtime)]
    size, modified = sum(item[0] for item in stats), max(item[1] for item in stats)
    description = f"layers {', '.join(layers) or 'none'}"
    if metas:
        first = metas[0]
        description = (f"{first.get('backbone')}, weights {first.get('weights')}, {first.get('input_size')} px, "
                       f"{first.get('n')} images, {description}")
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
            return name[:-len(suffix)]
    return name


def _datasets(folder: Path):
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


def _leaderboard(folder: Path):
    for path in folder.iterdir():
        if temp_writer(path.name) is not None:
            yield temp_entry("leaderboard", folder, path)
            continue
        size, modified = tree_stats(path)
        if path.is_file() and path.suffix == ".pickle":
            yield CacheEntry("leaderboard", path.name, CURRENT, "finished runs of one tracking URI",
                             size, modified, (path,))
        else:
            yield CacheEntry("leaderboard", path.name, INCOMPLETE, "stray file", size, modified, (path,),
                             "not a leaderboard cache file")


def tree_stats(path: Path) -> tuple[int, float]:
    """(bytes, newest mtime) of a file, or of a directory and everything under it."""
    paths = [path]
    if path.is_dir():
        paths += [Path(root) / name for root, _, names in os.walk(path) for name in names]
    size, modified = 0, 0.0
    for item in paths:
        try:
            info = item.stat()
        except FileNotFoundError:  # renamed or removed by a writer while we looked: nothing there
            continue
        size += 0 if stat.S_ISDIR(info.st_mode) else info.st_size
        modified = max(modified, info.st_mtime)
    return size, modified


def _remove_path(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        doomed = path
        if temp_writer(path.name) is None:
            doomed = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            path.rename(doomed)
        size = tree_stats(doomed)[0]
        shutil.rmtree(doomed)
        return size
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:  # removed with its directory, or by another process: nothing to free
        return 0
    return size
