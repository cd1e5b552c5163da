"""What ferbench keeps under `store.home()/cache` (and its run checkpoints), and removing it
without breaking a reader.

Kinds (see ferbench.store.cache_dir):
  features/<backbone>-<key>/   cached layers of one backbone over one data set (ferbench.features.cache)
  datasets/<key>.{images.npy,npz,json}   decoded data sets (ferbench.data.cache)
  leaderboard/<digest>.pickle  finished runs per tracking URI (ferbench.leaderboard)
  checkpoints/<run id>/        (beside cache/) what an unfinished run left (`_checkpoints`)

Statuses:
  current        what today's code reads
  stale          written under other rules (key, batch size, preprocessing, cache version): never read again
  incomplete     no meta / sidecar, or an unreadable one: an interrupted write
  orphaned temp  a temporary file (or a directory being removed) whose process has ended
  writing        a temporary file whose process is alive, or an entry holding one: never removed
  resumable      checkpoints of a stopped run that can still be resumed: only `clear --all` removes them
  orphaned       checkpoints nothing will resume (the run finished, was deleted or is gone)

Entries and statuses: `_entry`; the caches' scanners: `_caches`; checkpoints: `_checkpoints`;
listing and removal: `_listing`. Only numpy-level modules are imported here: listing never loads
TensorFlow or MLflow.
"""

from __future__ import annotations

from ferbench.inventory._caches import scan_datasets, scan_features, scan_leaderboard
from ferbench.inventory._checkpoints import scan_checkpoints
from ferbench.inventory._entry import (
    CURRENT,
    INCOMPLETE,
    ORPHANED,
    ORPHANED_RUN,
    RESUMABLE,
    STALE,
    STALE_STATUSES,
    STATUSES,
    TEMP_NAME,
    WRITING,
    CacheEntry,
    human_size,
    temp_entry,
    temp_writer,
    tree_stats,
)
from ferbench.inventory._listing import (
    KINDS,
    cache_root,
    check_kinds,
    inventory,
    remove,
    select,
    still_selected,
    totals,
)

__all__ = [
    "CURRENT",
    "INCOMPLETE",
    "KINDS",
    "ORPHANED",
    "ORPHANED_RUN",
    "RESUMABLE",
    "STALE",
    "STALE_STATUSES",
    "STATUSES",
    "TEMP_NAME",
    "WRITING",
    "CacheEntry",
    "cache_root",
    "check_kinds",
    "human_size",
    "inventory",
    "remove",
    "scan_checkpoints",
    "scan_datasets",
    "scan_features",
    "scan_leaderboard",
    "select",
    "still_selected",
    "temp_entry",
    "temp_writer",
    "totals",
    "tree_stats",
]
