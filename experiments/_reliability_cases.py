"""The corpus of experiments/reliability.py: each case's command, what it prepares in its temporary
folder (data, a damaged store, a small or read-only disk) and the fault it meets while it runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from _common import FERBENCH_CLI

CNN = ["baseline_cnn", "--dataset", "synthetic", "--epochs", "1", "--set", "filters=2"]


@dataclass
class Case:
    name: str
    args: list[str] | Callable[[Path], list[str]]
    prepare: Callable[[Path], None] | None = None  # gets the case's temp folder
    code: int = 2
    first: str = "error: "  # how the one stderr line starts
    progress: str | None = None  # a progress line allowed before it
    fault: Callable | None = None  # (process, store) -> None, while the command runs
    fresh: bool = False  # no template database: the command creates the store
    protect: list[str] = field(default_factory=list)  # files (under the temp folder) never changed


class CannotPrepareError(Exception):
    """A case's preparation is impossible here (a tmpfs needs root): the case is skipped."""


def env_for(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "FERBENCH_OPTUNA_STORAGE")}
    return {**env, "FERBENCH_HOME": str(tmp / "store"), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


# --- preparations ----------------------------------------------------------------------------
def faces(root: Path, size: int = 48, per_class: int = 4) -> Path:
    for c, name in enumerate(("happy", "sad")):
        (root / "faces" / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(np.full((size, size), 40 * c + i, np.uint8)).save(root / "faces" / name / f"{i}.png")
    return root / "faces"


def corrupt_image(tmp: Path) -> None:
    (faces(tmp) / "sad" / "9.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))


def empty_class(tmp: Path) -> None:
    (faces(tmp) / "angry").mkdir()


def unknown_class(tmp: Path) -> None:
    (faces(tmp) / "bored").mkdir()


def link_out(tmp: Path) -> None:
    (tmp / "outside").mkdir()
    (faces(tmp) / "sad" / "more").symlink_to(tmp / "outside")


def random_db(tmp: Path) -> None:
    (tmp / "store" / "mlflow.db").write_bytes(os.urandom(8192))


def foreign_db(tmp: Path) -> None:
    (tmp / "store" / "mlflow.db").unlink()
    with sqlite3.connect(tmp / "store" / "mlflow.db") as connection:
        connection.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY)")


def truncated_db(tmp: Path) -> None:
    db = tmp / "store" / "mlflow.db"
    db.write_bytes(db.read_bytes()[:40960])


def db_is_a_folder(tmp: Path) -> None:
    (tmp / "store" / "mlflow.db").unlink()
    (tmp / "store" / "mlflow.db").mkdir()


def home_is_a_file(tmp: Path) -> None:
    shutil.rmtree(tmp / "store")
    (tmp / "store").write_text("not a folder")


def bad_csv(tmp: Path) -> None:
    (tmp / "fer2013.csv").write_text("emotion,pixels,Usage\n3,1 2 3,Training\nnot,a,row\n")


def mount(tmp: Path, options: str) -> None:
    """A tmpfs over the store (root only), the template database copied in first."""
    keep = tmp / "store.kept"
    shutil.copytree(tmp / "store", keep)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(tmp / "store")], capture_output=True)
    if done.returncode:
        raise CannotPrepareError(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    for path in keep.iterdir():
        shutil.copy2(path, tmp / "store" / path.name)


def small_disk(tmp: Path) -> None:
    mount(tmp, "size=3m")
    free = shutil.disk_usage(tmp / "store").free
    (tmp / "store" / ".filler").write_bytes(b"\0" * max(0, free - 128 * 1024))


def read_only(tmp: Path) -> None:
    mount(tmp, "size=3m")
    subprocess.run(["mount", "-o", "remount,ro", str(tmp / "store")], check=True)


def finished_run(tmp: Path) -> None:
    """A finished run in the store, its id in tmp/run_id."""
    done = subprocess.run([*FERBENCH_CLI, "run", *CNN, "--json"], env=env_for(tmp), capture_output=True, text=True)
    (tmp / "run_id").write_text(json.loads(done.stdout)["run_id"])


# --- faults while a command runs ---------------------------------------------------------------
def when_training(store: Path, process, deadline_s: float = 180) -> bool:
    """Wait until the run holds its lease (training has begun)."""
    end = time.time() + deadline_s
    while time.time() < end and process.poll() is None:
        if list(store.glob("checkpoints/*/lease.json")):
            time.sleep(1.0)
            return True
        time.sleep(0.2)
    return False


def signal_fault(signum: int):
    def fault(process, store):
        if when_training(store, process):
            process.send_signal(signum)

    return fault


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def killed_then_next(tmp: Path) -> None:
    """A run killed with SIGKILL mid-training; the case's command is the next one."""
    process = subprocess.Popen(
        [*FERBENCH_CLI, "run", *CNN, "--json"], env=env_for(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if when_training(tmp / "store", process):
        process.kill()
    process.wait()


# --- the corpus ------------------------------------------------------------------------------
def cases() -> list[Case]:
    port = closed_port()
    return [
        Case("run: unknown family", ["run", "no_such_family", "--dataset", "synthetic"]),
        Case("run: unknown data set", ["run", "baseline_cnn", "--dataset", "nope"]),
        Case("run: data set needs --path", ["run", "baseline_cnn", "--dataset", "jaffe"]),
        Case("run: --path does not exist", ["run", "baseline_cnn", "--dataset", "folder", "--path", "/nonexistent/x"]),
        Case("run: --epochs 0", ["run", *CNN[:3], "--epochs", "0"]),
        Case("run: --epochs -3", ["run", *CNN[:3], "--epochs", "-3"]),
        Case("run: --seed -1", ["run", *CNN, "--seed", "-1"]),
        Case("run: --set unknown key", ["run", *CNN, "--set", "nothing=1"]),
        Case("run: --set value not a number", ["run", *CNN[:5], "--set", "filters=abc"]),
        Case("run: --set value out of range", ["run", *CNN[:5], "--set", "filters=0"]),
        Case("run: --set without =", ["run", *CNN[:5], "--set", "filters"]),
        Case("run: --protocol kfold:1", ["run", *CNN, "--protocol", "kfold:1"]),
        Case("run: --protocol unknown", ["run", *CNN, "--protocol", "sometimes"]),
        Case(
            "run: --protocol loso without subjects",
            lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path", str(t / "faces"), "--protocol", "loso"],
            faces,
        ),
        Case("run: --weights on a family without", ["run", *CNN, "--weights", "none"]),
        Case("run: --resume unknown run id", ["run", *CNN[:3], "--resume", "0123456789abcdef0123456789abcdef"]),
        Case("run: --resume with --epochs", ["run", *CNN[:3], "--epochs", "2", "--resume", "abc"]),
        Case(
            "run: --resume a finished run",
            lambda t: ["run", *CNN[:3], "--resume", (t / "run_id").read_text()],
            finished_run,
        ),
        Case("run: --seed with --seeds", ["run", *CNN, "--seed", "1", "--seeds", "1,2"]),
        Case("run: --seeds repeated", ["run", *CNN, "--seeds", "1,1"]),
        Case(
            "run: corrupt image",
            lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path", str(t / "faces")],
            corrupt_image,
        ),
        Case(
            "run: empty class folder",
            lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path", str(t / "faces")],
            empty_class,
        ),
        Case(
            "run: folder not an emotion",
            lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path", str(t / "faces")],
            unknown_class,
        ),
        Case(
            "run: data link out of the folder",
            lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path", str(t / "faces")],
            link_out,
        ),
        Case(
            "run: fer2013 csv malformed",
            lambda t: ["run", "baseline_cnn", "--dataset", "fer2013", "--path", str(t / "fer2013.csv")],
            bad_csv,
        ),
        Case("run: --tracking-uri foo://bar", ["run", *CNN, "--tracking-uri", "foo://bar"]),
        Case("run: --tracking-uri file store", ["run", *CNN, "--tracking-uri", "file:///tmp/mlruns"]),
        Case(
            "leaderboard: closed server port",
            ["leaderboard", "--tracking-uri", f"http://127.0.0.1:{port}"],
            progress="waiting for the MLflow tracking server",
        ),
        Case("run: mlflow.db random bytes", ["run", *CNN], random_db, protect=["store/mlflow.db"]),
        Case("leaderboard: mlflow.db random bytes", ["leaderboard"], random_db, protect=["store/mlflow.db"]),
        Case("leaderboard: mlflow.db foreign SQLite", ["leaderboard"], foreign_db, protect=["store/mlflow.db"]),
        Case("leaderboard: mlflow.db truncated", ["leaderboard"], truncated_db, protect=["store/mlflow.db"]),
        Case("leaderboard: mlflow.db is a folder", ["leaderboard"], db_is_a_folder),
        Case("leaderboard: FERBENCH_HOME is a file", ["leaderboard"], home_is_a_file, protect=["store"]),
        Case("run: store on a read-only disk", ["run", *CNN], read_only),
        Case("run: disk full (tmpfs)", ["run", *CNN, "--json"], small_disk),
        Case("leaderboard: --format unknown", ["leaderboard", "--format", "pdf"]),
        Case("leaderboard: --out is a folder", lambda t: ["leaderboard", "--out", str(t)]),
        Case("leaderboard: --family unknown", ["leaderboard", "--family", "nope"]),
        Case("leaderboard: --protocol unknown", ["leaderboard", "--protocol", "sometimes"]),
        Case("compare: unknown run ids", ["compare", "0" * 32, "1" * 32]),
        Case("analyze occlusion: unknown run (fresh store)", ["analyze", "occlusion", "UNKNOWN_ID"], fresh=True),
        Case("analyze confusion: unknown run", ["analyze", "confusion", "UNKNOWN_ID"]),
        Case("tune: --trials 0", ["tune", "baseline_cnn", "--dataset", "synthetic", "--trials", "0"]),
        Case("tune: --storage unknown dialect", ["tune", *CNN[:3], "--trials", "1", "--storage", "nosuch://x"]),
        Case("tune: --pruner unknown", ["tune", *CNN[:3], "--trials", "1", "--pruner", "sometimes"]),
        Case("tune: --space low above high", ["tune", *CNN[:3], "--trials", "1", "--space", "learning_rate=0.1:0.01"]),
        Case("studies show: unknown study", ["studies", "show", "ghost"]),
        Case("datasets describe: unknown", ["datasets", "describe", "nope"]),
        Case("cache clear: neither --stale nor --all", ["cache", "clear", "--yes"]),
        Case("bench: --budget unknown", ["bench", "--budget", "forever"]),
        Case(
            "run: Ctrl-C while training",
            ["run", *CNN, "--json"],
            code=130,
            first="interrupted: run ",
            fault=signal_fault(signal.SIGINT),
        ),
        Case(
            "run: SIGTERM while training",
            ["run", *CNN, "--json"],
            code=143,
            first="terminated: run ",
            fault=signal_fault(signal.SIGTERM),
        ),
        Case("leaderboard after a run killed -9", ["leaderboard"], killed_then_next, code=0, first="run "),
    ]
