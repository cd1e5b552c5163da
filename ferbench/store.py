"""Where ferbench keeps its state: one directory under the working directory by default.

    ferbench-store/
      mlflow.db       MLflow backend (SQLite)
      artifacts/      MLflow artifact root
      optuna.db       Optuna studies (SQLite)
      cache/          data set and feature caches

FERBENCH_HOME moves the whole directory; MLFLOW_TRACKING_URI / --tracking-uri point MLflow at any
server, and --storage points Optuna at any SQLAlchemy URL.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ferbench.errors import StoreError

DEFAULT_DIRNAME = "ferbench-store"
# The one name of a file or directory being written beside its target: ".<name>.tmp-<pid>".
# A killed writer leaves it behind; the pid tells `ferbench cache` whether its writer still runs.
TEMP_NAME = re.compile(r"\.tmp-(\d+)$")


def home() -> Path:
    return Path(os.environ.get("FERBENCH_HOME") or Path.cwd() / DEFAULT_DIRNAME).absolute()


def ensure_home() -> Path:
    """Create the store directory, with a clear error when it cannot be written."""
    root = home()
    try:
        root.mkdir(parents=True, exist_ok=True)
        # a probe of its own: processes starting together (tuning workers, benchmark seeds) each
        # create and remove one; a shared name let one remove another's and fail it
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise StoreError(f"store {root} is not writable: {exc.strerror or exc}") from None
    return root


def cache_dir(kind: str) -> Path:
    path = ensure_home() / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def mlflow_tracking_uri(explicit: str | None = None) -> str:
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{ensure_home() / 'mlflow.db'}"


def mlflow_artifact_root() -> str:
    return (ensure_home() / "artifacts").as_uri()


def optuna_storage_url(explicit: str | None = None) -> str:
    url = explicit or os.environ.get("FERBENCH_OPTUNA_STORAGE")
    if url:
        return url
    return f"sqlite:///{ensure_home() / 'optuna.db'}"


def fsync(path: Path) -> None:
    """Flush a file or a directory entry to disk, so a rename that follows survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(target: Path) -> Path:
    """Where this process writes `target` before renaming it into place (TEMP_NAME)."""
    target = Path(target)
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_write(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file opened for writing ("wb" or "w", UTF-8) under `temp_path(path)`; when the block
    ends normally it is flushed, fsynced and renamed over `path`, else removed. Readers see the
    old content or the new one, never a torn file, even after a crash."""
    path = Path(path)
    temp = temp_path(path)
    try:
        with open(temp, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
