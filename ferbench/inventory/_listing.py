"""Listing the store's caches and its stopped runs' checkpoints, and removing entries without
breaking a reader."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ferbench import checkpoints, store
from ferbench.errors import FerbenchError
from ferbench.inventory._caches import scan_datasets, scan_features, scan_leaderboard
from ferbench.inventory._checkpoints import scan_checkpoints
from ferbench.inventory._entry import STALE_STATUSES, STATUSES, WRITING, CacheEntry, temp_writer, tree_stats

KINDS = ("features", "datasets", "leaderboard", "checkpoints")


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
    root = cache_root()
    scanners = {
        "features": scan_features,
        "datasets": scan_datasets,
        "leaderboard": scan_leaderboard,
        "checkpoints": scan_checkpoints,
    }
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
                rows.append(
                    {"kind": kind, "status": status, "entries": len(group), "bytes": sum(e.size for e in group)}
                )
    return rows


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
