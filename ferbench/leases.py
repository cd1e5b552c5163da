"""Who runs a run: a lease file beside its checkpoints, with host, process and a heartbeat.

A run's owner writes `lease.json` when it starts or resumes the run, renews the heartbeat after
every epoch and fold and from a background thread every HEARTBEAT_S seconds (an epoch can take a
quarter of an hour), and marks the lease released when it leaves the run. A lease is stale, so the
run may be resumed elsewhere, when it was released, when its process is gone on this host, or when
its heartbeat is older than TIMEOUT_S on another host.

Only the standard library and ferbench.store are used: `ferbench cache list` reads leases without
loading MLflow.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ferbench import store

LEASE_FILE = "lease.json"
HEARTBEAT_S = float(os.environ.get("FERBENCH_LEASE_HEARTBEAT_S", 60))
TIMEOUT_S = float(os.environ.get("FERBENCH_LEASE_TIMEOUT_S", 600))


@dataclass
class Lease:
    host: str
    pid: int
    process_start: str | None  # /proc start time: tells a reused pid from its first owner
    heartbeat: float  # epoch seconds
    wall_s: float  # the run's wall time over all its processes, at the heartbeat
    released: bool = False


def read(directory: Path) -> Lease | None:
    """The lease in `directory`, or None when there is none or it cannot be read."""
    try:
        data = json.loads((Path(directory) / LEASE_FILE).read_text())
        return Lease(**data)
    except (OSError, ValueError, TypeError):
        return None


def is_stale(lease: Lease, now: float | None = None, timeout: float | None = None) -> bool:
    """True when nobody holds the lease any more (see the module doc)."""
    if lease.released:
        return True
    if lease.host == socket.gethostname():
        return not _process_alive(lease.pid, lease.process_start)
    now = time.time() if now is None else now
    return now - lease.heartbeat > (TIMEOUT_S if timeout is None else timeout)


def describe(lease: Lease) -> str:
    age = max(0.0, time.time() - lease.heartbeat)
    return f"host {lease.host}, pid {lease.pid}, heartbeat {age:.0f} s ago"


def pid_alive(pid: int | None) -> bool:
    """Whether process `pid` exists; no pid (None) is no process."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _process_start(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _process_alive(pid: int, started: str | None) -> bool:
    if not pid_alive(pid):
        return False
    return started is None or _process_start(pid) in (None, started)


class Holder:
    """This process's lease on one run: written at once, renewed until `release`."""

    def __init__(self, directory: Path, wall_before: float = 0.0):
        self.path = Path(directory) / LEASE_FILE
        self.wall_before = wall_before
        self._start = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.renew()
        self._thread = threading.Thread(target=self._beat, name="ferbench-lease", daemon=True)
        self._thread.start()

    def renew(self, released: bool = False) -> None:
        pid = os.getpid()
        lease = Lease(
            socket.gethostname(),
            pid,
            _process_start(pid),
            time.time(),
            self.wall_before + time.perf_counter() - self._start,
            released,
        )
        with self._lock, store.atomic_write(self.path, "w") as handle:  # never a torn lease file
            handle.write(json.dumps(asdict(lease)))

    def move(self, directory: Path, to: Path) -> None:
        """Rename the lease's directory (a pending run's, once the run has its id) without a
        heartbeat writing into the old name meanwhile."""
        with self._lock:
            os.replace(directory, to)
            self.path = Path(to) / LEASE_FILE

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.renew(released=True)
        except OSError:  # the directory went with a finished run, or the disk is full: then the
            pass  # lease goes stale with this process all the same

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.renew()
            except OSError:  # the store went away; the owner finds out on its next write
                return
