"""A cache entry and its status, and the temporary files that writers leave behind."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ferbench import store
from ferbench.leases import pid_alive

CURRENT, STALE, INCOMPLETE, ORPHANED, WRITING = "current", "stale", "incomplete", "orphaned temp", "writing"
RESUMABLE, ORPHANED_RUN = "resumable", "orphaned"
STATUSES = (CURRENT, STALE, INCOMPLETE, ORPHANED, WRITING, RESUMABLE, ORPHANED_RUN)
STALE_STATUSES = (STALE, INCOMPLETE, ORPHANED, ORPHANED_RUN)  # what `clear --stale` removes
TEMP_NAME = store.TEMP_NAME  # what writers (and removals in progress) name their temporary files


@dataclass
class CacheEntry:
    kind: str
    name: str  # relative to the kind's folder
    status: str
    description: str
    size: int  # bytes of its files
    modified: float  # newest modification time (epoch seconds)
    paths: tuple[Path, ...] = field(repr=False)  # removed in this order
    reason: str = ""  # why it is stale, incomplete or kept

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "description": self.description,
            "bytes": self.size,
            "modified": datetime.fromtimestamp(self.modified).isoformat(timespec="seconds"),
            "reason": self.reason,
        }


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
    return None if match is None else int(match.group(1))


def temp_entry(kind: str, folder: Path, path: Path) -> CacheEntry:
    pid = temp_writer(path.name)
    size, modified = tree_stats(path)
    if pid_alive(pid):
        status, description = WRITING, f"temporary file of running process {pid}"
    else:
        status, description = ORPHANED, f"temporary file left by ended process {pid}"
    return CacheEntry(kind, str(path.relative_to(folder)), status, description, size, modified, (path,))


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
