"""Bad inputs and faults against the `ferbench` command line, each in a fresh temporary store.

Every case is one command (in a child process, as a user's shell runs it) with what it must give:
by default exit code 2, exactly one line on stderr, no traceback, no run left RUNNING, and
nothing half-written in the store (no temporary or partial file, the files a case protects
unchanged). Faults: a full disk (a small tmpfs), a corrupt or foreign mlflow.db, a closed tracking
server port, Ctrl-C, SIGTERM and SIGKILL during a run, a link out of a data folder. Training cases
use baseline_cnn with 2 filters for 1 epoch on the synthetic data set.

    python experiments/reliability.py   (mounting the tmpfs of the disk cases needs root; else they skip)
Prints a table (case, exit code, stderr lines, verdict) and the totals, and writes it to
experiments/results/reliability.txt. Takes a few minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import FERBENCH_CLI, RESULTS, write_atomically
from _reliability_cases import CannotPrepareError, Case, cases, env_for, finished_run, small_disk

OUT = RESULTS / "reliability.txt"
TEMPLATE: Path | None = None  # a migrated, empty mlflow.db copied into each store


# --- running and judging -----------------------------------------------------------------------
def digest(path: Path) -> str:
    if path.is_dir():
        return "dir:" + ",".join(sorted(p.name for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def half_written(store: Path) -> list[str]:
    if not store.is_dir():
        return []
    return [
        str(p.relative_to(store))
        for p in store.rglob("*")
        if (".tmp" in p.name or p.name.endswith(".partial") or p.name.startswith(".write-test-"))
    ]


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
    except CannotPrepareError as exc:
        return "skipped", None, None, [str(exc)]
    protected = {name: digest(tmp / name) for name in case.protect}
    args = case.args(tmp) if callable(case.args) else case.args
    start = time.time()
    process = subprocess.Popen(
        [*FERBENCH_CLI, *args], env=env_for(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp
    )
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
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
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
    table += [
        f"{name:<46} {want:>4} {'-' if code is None else code:>4} {'-' if n is None else n:>5}  {verdict}"
        + (f"  ({why})" if why else "")
        for name, want, code, n, verdict, why in rows
    ]
    table.append(
        f"{len(rows)} cases: {counts['clean']} clean, {counts['defect']} defect, {counts['skipped']} skipped "
        f"({time.time() - start:.0f} s)"
    )
    text = "\n".join(table) + "\n"
    print("\n" + text)
    write_atomically(OUT, text)
    return 1 if counts["defect"] else 0


if __name__ == "__main__":
    sys.exit(main())
