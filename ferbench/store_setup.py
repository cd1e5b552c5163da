"""Opening the MLflow store, once per process, so that no command fails on the way in.

- Only tracking URI schemes MLflow can serve here are accepted; anything else is one line.
- A local SQLite store is made under a file lock in its directory, in a temporary file renamed
  into place: processes starting together on a fresh store never race on MLflow's schema
  migrations, and a creation that is killed leaves no half-made store behind.
- A `mlflow.db` that is not an MLflow SQLite store is refused with how to recover; it is only
  ever read, never written.
- What SQLite's own locking can still refuse ("database is locked") is retried with a bounded
  backoff.
- A tracking server that does not answer fails within seconds (MLflow's HTTP retry and timeout
  bounds, unless the user set them), with a progress line while it waits.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeVar

from ferbench.errors import StoreError, damaged_store, disk_full, first_line
from ferbench.store import fsync, temp_path

SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")
LOCK_FILE = ".store.lock"
LOCK_WAIT_S = 120.0
# MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) wait about 250 s on a closed port
HTTP_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
WAITING_AFTER_S = 2.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
T = TypeVar("T")


def quiet_libraries() -> None:
    """No INFO chatter from MLflow or its migrations (alembic) on stderr, and no traceback that
    MLflow logs for a database error it then raises (the command reports that in one line)."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    db_logger = logging.getLogger("mlflow.store.db.utils")
    if _RaisedAnyway not in {type(f) for f in db_logger.filters}:
        db_logger.addFilter(_RaisedAnyway())


class _RaisedAnyway(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SQLAlchemy database error")


def check_scheme(uri: str) -> str:
    """The URI's scheme, or a StoreError listing the accepted ones."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme.split("+", 1)[0] not in SCHEMES:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise StoreError(
            f"tracking URI {uri!r} has {shown}; accepted: sqlite:///PATH, http://, https://, "
            "postgresql://, mysql://, mssql://, databricks"
        )
    return scheme


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def open_client(uri: str):
    """An MlflowClient on `uri` that has answered one query; StoreError when it cannot be used."""
    quiet_libraries()
    scheme = check_scheme(uri)
    db = sqlite_path(uri)
    if db is not None:
        with store_lock(db.parent):
            if _is_new(db):
                _create_sqlite(db)
            else:
                check_sqlite_file(db)
            client = _retry_locked(lambda: _answering_client(uri), uri)
            _write_ahead_log(db)
        return client
    if not scheme.startswith(("http", "databricks")):  # a database server
        return _retry_locked(lambda: _answering_client(uri), uri)
    for name, value in HTTP_BOUNDS.items():
        os.environ.setdefault(name, value)
    with _waiting_line(uri):
        return _retry_locked(lambda: _answering_client(uri), uri)


def _answering_client(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    client.search_experiments(max_results=1)
    return client


# --- SQLite ----------------------------------------------------------------------------------
@contextmanager
def store_lock(directory: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """An exclusive lock on the store directory (released by the kernel if the holder dies)."""
    import fcntl

    try:
        handle = open(Path(directory) / LOCK_FILE, "a")
    except OSError as exc:
        raise StoreError(f"store {directory} cannot be locked: {exc.strerror or exc}") from None
    with handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"store {directory} stays locked by another ferbench process (waited {wait_s:.0f} s)"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_new(db: Path) -> bool:
    """Nothing there yet: no file, or an empty one with no write-ahead log beside it."""
    if not db.exists():
        return True
    wal = db.with_name(db.name + "-wal")
    return db.is_file() and db.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size)


def _not_mlflow(db: Path, why: str) -> StoreError:
    return StoreError(
        f"{db} is not a valid MLflow store ({why}); move it aside (mv {db} {db}.bad) "
        "or point FERBENCH_HOME (or --tracking-uri) elsewhere"
    )


def check_sqlite_file(db: Path) -> None:
    """Refuse a file that is not an MLflow SQLite store, reading it only."""
    if db.is_dir():
        raise _not_mlflow(db, "a directory")
    try:
        with open(db, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"MLflow store {db} cannot be read: {exc.strerror or exc}") from None
    if head != _SQLITE_MAGIC:
        raise _not_mlflow(db, "not an SQLite database")
    try:
        with closing(sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=10)) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.OperationalError:
        return  # locked, or a read-only open refused: MLflow's own open decides
    except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
        raise _not_mlflow(db, first_line(exc)) from None
    if tables and "experiments" not in tables:
        raise _not_mlflow(db, "an SQLite database without MLflow's tables")


def _create_sqlite(db: Path) -> None:
    """MLflow's schema in a temporary file, renamed into place (the caller holds the lock)."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables
    from sqlalchemy.pool import NullPool

    for left in db.parent.glob(f".{db.name}.tmp-*"):  # killed creations: only the lock holder creates
        left.unlink(missing_ok=True)
    tmp = temp_path(db)  # SQLAlchemy writes it, so not store.atomic_write: the same name and steps
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp}", poolclass=NullPool)
    try:
        _initialize_tables(engine)
        engine.dispose()
        _write_ahead_log(tmp)  # persists in the file; no -wal is left once its connection closes
        fsync(tmp)
        os.replace(tmp, db)
        fsync(db.parent)
    except BaseException as exc:
        engine.dispose()
        for path in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
            path.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, StoreError) and not disk_full(exc):
            raise StoreError(f"MLflow store {db} cannot be created: {first_line(exc)}") from None
        raise


def _write_ahead_log(db: Path) -> None:
    """Put a SQLite store in WAL mode (it persists in the file). A commit then costs one fsync
    instead of three or so, and the MLflow UI can read while runs write. If another process
    holds the store in a way that stops the switch, the store keeps its rollback journal:
    slower, equally correct."""
    try:
        with closing(sqlite3.connect(db, timeout=1.0)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        logging.getLogger(__name__).debug("MLflow store %s keeps its rollback journal: %s", db, exc)


# --- retries and waiting ---------------------------------------------------------------------
def is_locked(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_locked(open_: Callable[[], T], uri: str, tries: int = 8) -> T:
    """`open_()`, again after a growing pause while SQLite says the database is locked (10 to
    15 s in all); any other failure is one StoreError line."""
    for attempt in range(tries):
        try:
            return open_()
        except StoreError:
            raise
        except Exception as exc:  # any backend failure is a bad store, reported in one line
            if is_locked(exc) and attempt < tries - 1:
                time.sleep(min(0.1 * 2**attempt, 4.0) * (0.5 + random.random()))
                continue
            if disk_full(exc):
                raise
            raise StoreError(_failure(uri, exc)) from None
    raise AssertionError("unreachable")


def _failure(uri: str, exc: BaseException) -> str:
    text = first_line(exc)
    db = sqlite_path(uri)
    if db is not None and damaged_store(exc):
        return str(_not_mlflow(db, text))
    if is_locked(exc):
        return f"MLflow store {uri} stays locked by another process (database is locked); try again"
    if uri.startswith(("http://", "https://")):
        for cause in ("Connection refused", "Name or service not known", "timed out", "Max retries exceeded"):
            if cause in str(exc):
                return (
                    f"MLflow tracking server {uri} does not answer ({cause.lower()}); start it, "
                    "or choose another --tracking-uri / MLFLOW_TRACKING_URI"
                )
    return f"MLflow store {uri} cannot be used: {text}"


@contextmanager
def _waiting_line(uri: str) -> Iterator[None]:
    """One line on stderr if the server has not answered after a moment."""
    retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "?")
    timer = threading.Timer(
        WAITING_AFTER_S,
        lambda: print(
            f"waiting for the MLflow tracking server {uri} ({retries} retries) ...", file=sys.stderr, flush=True
        ),
    )
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
