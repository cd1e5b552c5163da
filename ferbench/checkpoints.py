"""Checkpoints of unfinished runs, so that a stopped run goes on where it stopped.

    <store>/checkpoints/<run_id>/
      run.json            the runner's options, and the run's family, data set and tracking URI
      lease.json          who runs it, and its heartbeat (ferbench.leases)
      folds.jsonl         one line per finished fold: its metrics, test probabilities and curves
      <fold name>/epoch-0003/   the newest complete epoch of an epoch-trained family
                                (what it holds: ferbench.families._keras_training)

An epoch is written into a temporary directory beside its target, flushed to disk, then renamed
into place; older epochs go after that. A kill mid-write leaves the previous epoch valid and a
temporary directory that the next write (or `ferbench cache clear`) removes. A torn last line of
folds.jsonl is ignored. A finished run's directory is removed.

Only the standard library and numpy are used: `ferbench cache list` reads these directories.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferbench import store
from ferbench.errors import FerbenchError

RUN_FILE = "run.json"
FOLDS_FILE = "folds.jsonl"
EPOCH_NAME = re.compile(r"^epoch-(\d{4,})$")
TEMP_NAME = store.TEMP_NAME


def root() -> Path:
    """Where checkpoints live (not created here: listing must not make a store)."""
    return store.home() / "checkpoints"


def run_dir(run_id: str) -> Path:
    if not re.fullmatch(r"[0-9A-Za-z_-]+", run_id or ""):
        raise FerbenchError(f"{run_id!r} is not a run id")
    return root() / run_id


def fold_dir(run_directory: Path, fold_name: str) -> Path:
    """A fold's directory; a name with characters unsafe in paths gets a digest appended."""
    safe = re.sub(r"[^0-9A-Za-z._-]", "_", fold_name).lstrip(".") or "fold"
    if safe != fold_name:
        safe += "-" + hashlib.blake2b(fold_name.encode(), digest_size=4).hexdigest()
    return Path(run_directory) / safe


@dataclass
class FoldRecord:
    metrics: dict[str, float]
    proba: np.ndarray
    curves: dict[str, list[float]]


class RunCheckpoint:
    """One run's checkpoint directory, as the runner reads and writes it."""

    def __init__(self, run_id: str, options: dict[str, Any]):
        self.run_id, self.directory, self.options = run_id, run_dir(run_id), options

    @classmethod
    def create(cls, run_id: str, options: dict[str, Any], **about: str) -> RunCheckpoint:
        """The directory of a run that exists already; `about` as for `prepare`."""
        pending = cls.prepare(options, **about)
        os.replace(pending, run_dir(run_id))
        return cls(run_id, options)

    @staticmethod
    def prepare(options: dict[str, Any], **about: str) -> Path:
        """A new run's directory under a pending name, written before its MLflow run exists, so
        that a run is never RUNNING without a checkpoint and lease (a full disk fails here, before
        the run). `about` (family, dataset, tracking_uri) lets listings judge it."""
        pending = root() / f".pending-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        pending.mkdir(parents=True)
        try:
            _write_text(pending / RUN_FILE, json.dumps({"options": options, **about}))
        except BaseException:
            remove_tree(pending)
            raise
        return pending

    @classmethod
    def open(cls, run_id: str) -> RunCheckpoint:
        """The checkpoint a run left; FerbenchError when there is none."""
        path = run_dir(run_id) / RUN_FILE
        try:
            options = read_run_file(path.parent)["options"]
        except FileNotFoundError:
            raise FerbenchError(
                f"run {run_id} has no checkpoint left in {root()}: it cannot be resumed and must be re-run"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FerbenchError(f"{path}: unreadable checkpoint ({exc}); the run must be re-run") from None
        return cls(run_id, options)

    def fold_dir(self, fold_name: str) -> Path:
        return fold_dir(self.directory, fold_name)

    def record_fold(self, name: str, metrics: dict, proba: np.ndarray, curves: dict | None) -> None:
        line = json.dumps(
            {
                "fold": name,
                "metrics": {k: float(v) for k, v in metrics.items()},
                "proba": np.asarray(proba, dtype=np.float64).tolist(),
                "curves": {k: [float(v) for v in vs] for k, vs in (curves or {}).items()},
            }
        )
        data = (line + "\n").encode()
        fd = os.open(self.directory / FOLDS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                while data:
                    data = data[os.write(fd, data) :]
            except BaseException:
                os.ftruncate(fd, size)  # e.g. a full disk: no torn line to glue the next one to
                raise
        finally:
            os.close(fd)
        remove_tree(self.fold_dir(name))  # its epochs are no longer needed

    def finished_folds(self) -> dict[str, FoldRecord]:
        records: dict[str, FoldRecord] = {}
        try:
            lines = (self.directory / FOLDS_FILE).read_text().split("\n")
        except FileNotFoundError:
            return records
        for line in lines[:-1]:  # the text after the last newline is a torn write, or nothing
            try:
                data = json.loads(line)
                records[data["fold"]] = FoldRecord(
                    data["metrics"], np.asarray(data["proba"], dtype=np.float64), data["curves"]
                )
            except (ValueError, KeyError, TypeError):
                continue
        return records

    def remove(self) -> None:
        remove_tree(self.directory)


def read_run_file(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / RUN_FILE).read_text())


# --- epochs ----------------------------------------------------------------------------------
def _complete_epochs(directory: Path | None) -> list[tuple[int, Path]]:
    """(epoch number, directory) of every complete epoch under `directory`."""
    if directory is None or not Path(directory).is_dir():
        return []
    return [
        (int(m.group(1)), path)
        for path in Path(directory).iterdir()
        if (m := EPOCH_NAME.match(path.name)) and path.is_dir()
    ]


def latest_epoch(directory: Path | None) -> Path | None:
    """The newest complete epoch directory under `directory`, or None."""
    found = _complete_epochs(directory)
    return max(found)[1] if found else None


def epochs_done(directory: Path | None) -> int:
    """How many epochs the newest checkpoint under `directory` holds (0 without one)."""
    found = _complete_epochs(directory)
    return max(found)[0] if found else 0


def write_epoch(directory: Path, epoch: int, write: Callable[[Path], None]) -> Path:
    """Have `write(folder)` fill a temporary folder, then rename it to `epoch-NNNN` under
    `directory` and remove older epochs. Returns the new epoch's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.iterdir():  # left by a killed write of an ended process
        match = TEMP_NAME.search(path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
    final = directory / f"epoch-{epoch:04d}"
    tmp = store.temp_path(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        _fsync_tree(tmp)
        if final.exists():  # the same epoch again: set the old copy aside first
            remove_tree(final)
        os.rename(tmp, final)
        store.fsync(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for path in directory.iterdir():
        match = EPOCH_NAME.match(path.name)
        if match and int(match.group(1)) < epoch:
            remove_tree(path)
    return final


def remove_tree(path: Path) -> None:
    """Rename, then delete: an interrupted removal leaves a temporary name, never a partial
    directory under a name that readers trust."""
    path = Path(path)
    if not path.exists():
        return
    doomed = store.temp_path(path)
    shutil.rmtree(doomed, ignore_errors=True)
    try:
        path.rename(doomed)
    except FileNotFoundError:  # removed meanwhile
        return
    shutil.rmtree(doomed, ignore_errors=True)


def _alive(pid: int) -> bool:
    from ferbench.leases import pid_alive

    return pid_alive(pid)


def _write_text(path: Path, text: str) -> None:
    with store.atomic_write(path, "w") as handle:
        handle.write(text)


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            store.fsync(path)
    store.fsync(folder)
