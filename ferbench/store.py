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
import tempfile
from pathlib import Path

from ferbench.errors import StoreError

DEFAULT_DIRNAME = "ferbench-store"


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
