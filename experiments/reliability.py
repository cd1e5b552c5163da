"""Bad inputs and faults against the `ferbench` command line, each in a fresh temporary store.

Every case is one command (in a child process, as a user's shell runs it) with what it must give:
by default exit code 2, exactly one line on stderr, no traceback, no run left RUNNING, and
nothing half-written in the store (no temporary or partial file, the files a case protects
unchanged). Faults: a full disk (a small tmpfs), a corrupt or foreign mlflow.db, a closed tracking
server port, Ctrl-C, SIGTERM and SIGKILL during a run, link loops in a data folder. Training cases
use baseline_cnn with 2 filters for 1 epoch on the synthetic data set.

    python experiments/reliability.py
Prints a table (case, exit code, stderr lines, verdict) and the totals, and writes it to
experiments/results/reliability.txt. Takes a few minutes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent / "results" / "reliability.txt"
CLI = [sys.executable, "-c", "from ferbench.cli import main; main()"]
CNN = ["baseline_cnn", "--dataset", "synthetic", "--epochs", "1", "--set", "filters=2"]
TEMPLATE: Path | None = None  # a migrated, empty mlflow.db copied into each store


@dataclass
class Case:
    name: str
    args: list[str] | Callable[[Path], list[str]]
    prepare: Callable[[Path], None] | None = None  # gets the case's temp folder
    code: int = 2
    first: str = "error: "          # how the one stderr line starts
    progress: str | None = None     # a progress line allowed before it
    fault: Callable | None = None   # (process, store) -> None, while the command runs
    fresh: bool = False             # no template database: the command creates the store
    protect: list[str] = field(default_factory=list)  # files (under the temp folder) never changed


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
        raise Skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    for item in keep.iterdir():
        shutil.copy2(item, tmp / "store" / item.name)
    if "ro" in options.split(","):
        subprocess.run(["mount", "-o", "remount,ro", str(tmp / "store")], check=True)


def small_disk(tmp: Path) -> None:
    mount(tmp, "size=3m")
    free = shutil.disk_usage(tmp / "store").free
    (tmp / "store" / ".filler").write_bytes(b"\0" * max(0, free - 128 * 1024))


def read_only(tmp: Path) -> None:
    mount(tmp, "size=3m")
    subprocess.run(["mount", "-o", "remount,ro", str(tmp / "store")], check=True)


def finished_run(tmp: Path) -> None:
    """A finished run in the store, its id in tmp/run_id."""
    done = subprocess.run([*CLI, "run", *CNN, "--json"], env=env_for(tmp), capture_output=True, text=True)
    import json

    (tmp / "run_id").write_text(json.loads(done.stdout)["run_id"])


class Skip(Exception):
    pass


# --- faults while a command runs ---------------------------------------------------------------
def when_training(store: Path, process, deadline_s: float = 180) -> bool:
    """Wait until the run holds its lease (training has begun)."""
    end = time.time() + deadline_s
    while time.time() < end and process.poll() is None:
        if list((store / "checkpoints").glob("*/lease.json")) if (store / "checkpoints").exists() else []:
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
    process = subprocess.Popen([*CLI, "run", *CNN, "--json"], env=env_for(tmp), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
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
        Case("run: --protocol loso without subjects", lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path",
                                                                  str(t / "faces"), "--protocol", "loso"], faces),
        Case("run: --weights on a family without", ["run", *CNN, "--weights", "none"]),
        Case("run: --resume unknown run id", ["run", *CNN[:3], "--resume", "0123456789abcdef0123456789abcdef"]),
        Case("run: --resume with --epochs", ["run", *CNN[:3], "--epochs", "2", "--resume", "abc"]),
        Case("run: --resume a finished run", lambda t: ["run", *CNN[:3], "--resume", (t / "run_id").read_text()],
             finished_run),
        Case("run: --seed with --seeds", ["run", *CNN, "--seed", "1", "--seeds", "1,2"]),
        Case("run: --seeds repeated", ["run", *CNN, "--seeds", "1,1"]),
        Case("run: corrupt image", lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path", str(t / "faces")],
             corrupt_image),
        Case("run: empty class folder", lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path",
                                                    str(t / "faces")], empty_class),
        Case("run: folder not an emotion", lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path",
                                                       str(t / "faces")], unknown_class),
        Case("run: data link out of the folder", lambda t: ["run", "baseline_cnn", "--dataset", "folder", "--path",
                                                             str(t / "faces")], link_out),
        Case("run: fer2013 csv malformed", lambda t: ["run", "baseline_cnn", "--dataset", "fer2013", "--path",
                                                       str(t / "fer2013.csv")], bad_csv),
        Case("run: --tracking-uri foo://bar", ["run", *CNN, "--tracking-uri", "foo://bar"]),
        Case("run: --tracking-uri file store", ["run", *CNN, "--tracking-uri", "file:///tmp/mlruns"]),
        Case("leaderboard: closed server port", ["leaderboard", "--tracking-uri", f"http://127.0.0.1:{port}"],
             progress="waiting for the MLflow tracking server"),
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
        Case("run: Ctrl-C while training", ["run", *CNN, "--json"], code=130, first="interrupted: run ",
             fault=signal_fault(signal.SIGINT)),
        Case("run: SIGTERM while training", ["run", *CNN, "--json"], code=143, first="terminated: run ",
             fault=signal_fault(signal.SIGTERM)),
        Case("leaderboard after a run killed -9", ["leaderboard"], killed_then_next, code=0, first="run "),
    ]


# --- running and judging -----------------------------------------------------------------------
def env_for(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "FERBENCH_OPTUNA_STORAGE")}
    return {**env, "FERBENCH_HOME": str(tmp / "store"), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def digest(path: Path) -> str:
    if path.is_dir():
        return "dir:" + ",".join(sorted(p.name for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def half_written(store: Path) -> list[str]:
    if not store.is_dir():
        return []
    return [str(p.relative_to(store)) for p in store.rglob("*")
            if (".tmp" in p.name or p.name.endswith(".partial") or p.name.startswith(".write-test-"))]


def running_runs(store: Path) -> int:
    db = store / "mlflow.db"
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0]
    except sqlite3.DatabaseError:
        return 0  # not a store: nothing recorded in it


def run_case(case: Case, tmp: Path) -> tuple[str, int | None, int | None, list[str]]:
    (tmp / "store").mkdir()
    if not case.fresh:
        shutil.copy(TEMPLATE, tmp / "store" / "mlflow.db")
    try:
        if case.prepare:
            case.prepare(tmp)
    except Skip as exc:
        return "skipped", None, None, [str(exc)]
    protected = {name: digest(tmp / name) for name in case.protect}
    args = case.args(tmp) if callable(case.args) else case.args
    start = time.time()
    process = subprocess.Popen([*CLI, *args], env=env_for(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=tmp)
    if case.fault:
        case.fault(process, tmp / "store")
    out, err = process.communicate(timeout=600)
    took = time.time() - start
    lines = [line for line in err.splitlines() if line.strip()]
    if case.progress:
        lines = [line for line in lines if not line.startswith(case.progress)]
    problems = []
    if process.returncode != case.code:
        problems.append(f"exit {process.returncode}, not {case.code}")
    if "Traceback" in err or "Traceback" in out:
        problems.append("traceback")
    if len(lines) != 1 or not lines[0].startswith(case.first):
        problems.append(f"{len(lines)} stderr lines: {' | '.join(lines)[-300:]}")
    if running_runs(tmp / "store"):
        problems.append("a run left RUNNING")
    if half_written(tmp / "store"):
        problems.append(f"half-written: {', '.join(half_written(tmp / 'store'))[:200]}")
    for name, before in protected.items():
        if digest(tmp / name) != before:
            problems.append(f"{name} changed")
    if took > 60 and not case.fault and case.prepare not in (small_disk, finished_run):
        problems.append(f"took {took:.0f} s")
    return ("defect" if problems else "clean"), process.returncode, len(lines), problems


def unmount(tmp: Path) -> None:
    store = tmp / "store"
    if store.is_dir() and os.path.ismount(store):
        subprocess.run(["umount", "-l", str(store)], capture_output=True)


def main() -> int:
    global TEMPLATE
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    work = Path(tempfile.mkdtemp(prefix="ferbench-reliability-"))
    TEMPLATE = work / "template" / "mlflow.db"
    TEMPLATE.parent.mkdir()
    SqlAlchemyStore(f"sqlite:///{TEMPLATE}", (TEMPLATE.parent / "artifacts").as_uri())
    rows, start = [], time.time()
    try:
        for number, case in enumerate(cases()):
            tmp = work / f"case-{number:02d}"
            tmp.mkdir()
            try:
                verdict, code, n_lines, problems = run_case(case, tmp)
            finally:
                unmount(tmp)
            rows.append((case.name, case.code, code, n_lines, verdict, "; ".join(problems)))
            print(f"{case.name:<46} {verdict}{'  ' + rows[-1][-1] if problems else ''}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {v: sum(r[4] == v for r in rows) for v in ("clean", "defect", "skipped")}
    table = [f"{'case':<46} {'want':>4} {'exit':>4} {'lines':>5}  verdict"]
    table += [f"{name:<46} {want:>4} {'-' if code is None else code:>4} {'-' if n is None else n:>5}  {verdict}"
              + (f"  ({why})" if why else "") for name, want, code, n, verdict, why in rows]
    table.append(f"{len(rows)} cases: {counts['clean']} clean, {counts['defect']} defect, {counts['skipped']} skipped "
                 f"({time.time() - start:.0f} s)")
    text = "\n".join(table) + "\n"
    print("\n" + text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    return 1 if counts["defect"] else 0


if __name__ == "__main__":
    sys.exit(main())
