"""`ferbench cache` entries for the checkpoints that unfinished runs left (ferbench.checkpoints).

One entry per run id. Its status:
  writing      its owner still runs (a fresh lease, ferbench.leases): never removed
  resumable    its owner has ended and the run can go on (`ferbench run ... --resume RUN_ID`);
               also when the run's store cannot be read from here: only `clear --all` removes it
  orphaned     nothing will resume it: its run has finished, was deleted, or is not in its
               (SQLite) store any more
  incomplete   no readable run record (a run killed as it started)

A run's status is read straight from its SQLite store with the standard library, once per store:
listing loads neither MLflow nor TensorFlow. Runs tracked on a server are not looked up.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from ferbench import checkpoints, leases
from ferbench.inventory._entry import (
    INCOMPLETE,
    ORPHANED_RUN,
    RESUMABLE,
    WRITING,
    CacheEntry,
    temp_entry,
    temp_writer,
    tree_stats,
)

KIND = "checkpoints"


def scan_checkpoints(folder: Path):
    runs = []
    for path in folder.iterdir():
        if temp_writer(path.name) is not None:  # a removal that was cut short
            yield temp_entry(KIND, folder, path)
        elif path.is_dir():
            runs.append(path)
        else:
            size, modified = tree_stats(path)
            yield CacheEntry(
                KIND, path.name, INCOMPLETE, "stray file", size, modified, (path,), "not a run's checkpoint directory"
            )
    records = {path.name: _run_record(path) for path in runs}
    statuses = _run_statuses(records)
    for path in runs:
        yield _entry(path, records[path.name], statuses)


def _run_record(path: Path) -> dict | None:
    try:
        record = checkpoints.read_run_file(path)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _entry(path: Path, record: dict | None, statuses: dict) -> CacheEntry:
    size, modified = tree_stats(path)
    lease = leases.read(path)
    if record is None:
        description = "checkpoints"
    else:
        folds = checkpoints.RunCheckpoint(path.name, {}).finished_folds()
        epochs = max((checkpoints.epochs_done(fold) for fold in path.iterdir() if fold.is_dir()), default=0)
        description = f"{record.get('family')} on {record.get('dataset')}: {len(folds)} folds finished" + (
            f", newest epoch {epochs}" if epochs else ""
        )
    if lease is not None and not leases.is_stale(lease):
        status, reason = WRITING, f"running ({leases.describe(lease)})"
    elif record is None:
        status, reason = INCOMPLETE, "no readable run record"
    else:
        status, reason = _judge(path.name, record, statuses)
    return CacheEntry(KIND, path.name, status, description, size, modified, (path,), reason)


def _judge(run_id: str, record: dict, statuses: dict) -> tuple[str, str]:
    uri = str(record.get("tracking_uri"))
    known = statuses.get(uri)
    if known is None:
        return RESUMABLE, f"its run is tracked at {uri}, not looked up here"
    if run_id not in known:
        return ORPHANED_RUN, f"its run is not in {uri} any more"
    status, stage = known[run_id]
    if stage == "deleted":
        return ORPHANED_RUN, "its run was deleted"
    if status == "FINISHED":
        return ORPHANED_RUN, "its run has finished"
    return RESUMABLE, (
        f"run {status}: ferbench run {record.get('family')} --dataset {record.get('dataset')} "
        f"--path ... --resume {run_id}"
    )


def _run_statuses(records: dict[str, dict | None]) -> dict[str, dict[str, tuple[str, str]]]:
    """{tracking URI: {run id: (status, lifecycle stage)}} for every readable SQLite store."""
    wanted: dict[str, list[str]] = {}
    for run_id, record in records.items():
        if record is not None:
            wanted.setdefault(str(record.get("tracking_uri")), []).append(run_id)
    found = {}
    for uri, run_ids in wanted.items():
        if not uri.startswith("sqlite:///") or not Path(uri[len("sqlite:///") :]).is_file():
            continue
        try:
            with closing(sqlite3.connect(f"file:{uri[len('sqlite:///') :]}?mode=ro", uri=True, timeout=2)) as db:
                marks = ",".join("?" * len(run_ids))
                rows = db.execute(
                    f"SELECT run_uuid, status, lifecycle_stage FROM runs WHERE run_uuid IN ({marks})", run_ids
                ).fetchall()
        except sqlite3.Error:  # locked, or not an MLflow store: judged as unknown
            continue
        found[uri] = {run_id: (status, stage) for run_id, status, stage in rows}
    return found
