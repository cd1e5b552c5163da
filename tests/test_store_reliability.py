"""The store under stress: processes starting together on a fresh store, runs killed with -9, a
full disk, a corrupt or foreign mlflow.db, an unknown tracking scheme, a tracking server that does
not answer, library chatter on stderr, Ctrl-C. Every failure is one line and exit code 2."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_subprocess import cli
from ferbench import checkpoints, record
from ferbench.cli import app
from ferbench.testing import tiny_dataset

TINY = "tiny_test_family"


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def _statuses(home: Path) -> list[str]:
    """Statuses of the store's training runs (not their fold runs), read without MLflow."""
    with sqlite3.connect(home / "mlflow.db") as connection:
        return [
            row[0]
            for row in connection.execute(
                "SELECT status FROM runs JOIN tags ON tags.run_uuid = runs.run_uuid "
                "WHERE tags.key = 'ferbench.kind' AND tags.value = 'run'"
            )
        ]


def _one_error_line(stderr: str, *needles: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-3000:]
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- processes starting together -------------------------------------------------------------
STARTER = """
import os, sys, time
sys.path.insert(0, {tests!r})
from ferbench.testing import TinyFamily, tiny_dataset
from ferbench.families import registry
registry._FAMILIES[TinyFamily.name] = TinyFamily
import mlflow.store.tracking.sqlalchemy_store  # the slow imports before the start line
from ferbench import runner
data = tiny_dataset()
open(os.path.join({gate!r}, str(os.getpid())), "w").close()
deadline = time.time() + 120
while len(os.listdir({gate!r})) < {n} and time.time() < deadline:
    time.sleep(0.01)
runner.run(TinyFamily.name, data, protocol="holdout", epochs=1, seed={seed}, quiet=True, log_model=False,
           log_figures=False)
"""


def test_processes_starting_together_on_a_fresh_store_all_record_their_run(tmp_path):
    from cli_subprocess import TESTS

    n = 4
    for attempt in range(3):
        home, gate = tmp_path / f"store-{attempt}", tmp_path / f"gate-{attempt}"
        gate.mkdir()
        env = {**os.environ, "FERBENCH_HOME": str(home)}
        env.pop("MLFLOW_TRACKING_URI", None)
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", STARTER.format(tests=str(TESTS), gate=str(gate), n=n, seed=seed)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for seed in range(n)
        ]
        for process in processes:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
            assert "Traceback" not in err and "INFO" not in err, err[-3000:]
        assert _statuses(home) == ["FINISHED"] * n
        assert not list(home.glob(".mlflow.db.tmp-*"))  # the store was made in one piece


def test_a_creation_that_fails_leaves_no_store_and_the_next_one_succeeds(isolated_store, monkeypatch):
    import mlflow.store.db.utils as db_utils

    (isolated_store / "mlflow.db").unlink()

    def killed(engine):
        raise KeyboardInterrupt  # cut in the middle of the migrations

    with monkeypatch.context() as patch:
        patch.setattr(db_utils, "_initialize_tables", killed)
        with pytest.raises(KeyboardInterrupt):
            record.setup()
    assert sorted(p.name for p in isolated_store.iterdir()) == [".store.lock"]
    assert record.setup().search_experiments() is not None
    assert (isolated_store / "mlflow.db").stat().st_size > 0


def test_a_locked_database_is_retried_then_refused_in_one_line(monkeypatch):
    from ferbench import store_setup

    calls = []

    def locked_twice():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "client"

    def always_locked():
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store_setup.time, "sleep", lambda s: None)
    assert store_setup._retry_locked(locked_twice, "sqlite:///x") == "client" and len(calls) == 3
    with pytest.raises(store_setup.StoreError, match="stays locked by another process"):
        store_setup._retry_locked(always_locked, "sqlite:///x")


# --- runs killed with -9 -----------------------------------------------------------------------
KILLED_IN_FOLD_2 = """
import os, signal
real, calls = TinyFamily.fit, []
def fit(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:  # fold 1 is in the checkpoint
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, *args, **kwargs)
TinyFamily.fit = fit
import ferbench.cli.runs
ferbench.cli.runs.load_data = lambda name, path, options: tiny_dataset()
from ferbench.testing import tiny_dataset
"""


def test_a_run_killed_with_sigkill_is_closed_by_the_next_command_and_resumes(tiny_family, isolated_store, monkeypatch):
    killed = cli(
        isolated_store,
        "run",
        TINY,
        "--dataset",
        "synthetic",
        "--protocol",
        "kfold:3",
        "--epochs",
        "2",
        "--json",
        before=KILLED_IN_FOLD_2,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _statuses(isolated_store) == ["RUNNING"]
    (run_dir,) = checkpoints.root().iterdir()
    run_id = run_dir.name
    assert list(checkpoints.RunCheckpoint(run_id, {}).finished_folds()) == ["fold1"]

    listed = cli(isolated_store, "leaderboard")  # any command that opens the store
    assert listed.returncode == 0, listed.stderr
    assert f"run {run_id} marked KILLED: its process is gone" in listed.stderr
    assert _statuses(isolated_store) == ["KILLED"]
    again = cli(isolated_store, "leaderboard")
    assert again.returncode == 0 and "marked KILLED" not in again.stderr  # nothing left to close

    monkeypatch.setattr("ferbench.cli.runs.load_data", lambda name, path, options: tiny_dataset())
    resumed = invoke("run", TINY, "--dataset", "synthetic", "--resume", run_id)
    assert resumed.exit_code == 0, resumed.output
    run = record.client().get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags[record.TAG_RESUMES] == "1"
    assert not checkpoints.run_dir(run_id).exists()


def test_only_running_runs_with_a_stale_lease_are_closed(isolated_store):
    import json
    import socket
    from dataclasses import asdict

    from ferbench import leases
    from test_resume import _fresh_lease

    client = record.setup()
    experiment = record.experiment_for("tinyset")

    def run_with(lease: leases.Lease | None, status: str = "RUNNING") -> str:
        run_id = client.create_run(experiment, tags={"ferbench.kind": "run"}).info.run_id
        checkpoints.RunCheckpoint.create(run_id, {}, tracking_uri=record.current_uri())
        if lease is not None:
            (checkpoints.run_dir(run_id) / leases.LEASE_FILE).write_text(json.dumps(asdict(lease)))
        if status != "RUNNING":
            client.set_terminated(run_id, status)
        return run_id

    now = time.time()
    alive = run_with(None)
    _fresh_lease(alive)  # this process, on this host
    run_with(None)  # no lease: its owner is unknown
    run_with(leases.Lease("another-host", 1, None, now - 30, 0.0))  # heartbeat recent elsewhere
    run_with(leases.Lease(socket.gethostname(), 1, "1", now, 0.0), status="FAILED")  # stale, not RUNNING
    gone = run_with(leases.Lease("another-host", 1, None, now - 10 * leases.TIMEOUT_S, 0.0))
    listed = cli(isolated_store, "leaderboard")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[1] for line in listed.stderr.splitlines() if "marked KILLED" in line] == [gone]
    assert sorted(_statuses(isolated_store)) == ["FAILED", "KILLED", "RUNNING", "RUNNING", "RUNNING"]


def test_closing_stale_runs_reads_leases_first_and_loads_no_tensorflow(isolated_store):
    import json
    from dataclasses import asdict

    from ferbench import leases

    client = record.setup()
    run_id = client.create_run(record.experiment_for("tinyset"), tags={"ferbench.kind": "run"}).info.run_id
    checkpoints.RunCheckpoint.create(run_id, {}, tracking_uri=record.current_uri())
    dead = leases.Lease("another-host", 1, None, time.time() - 10 * leases.TIMEOUT_S, 0.0)
    (checkpoints.run_dir(run_id) / leases.LEASE_FILE).write_text(json.dumps(asdict(dead)))
    probe = (
        "import sys\n"
        "from ferbench import record, stale_runs\n"
        "asked = []\n"
        "real = stale_runs._running\n"
        "stale_runs._running = lambda *a: asked.append(1) or real(*a)\n"
        "record.setup()\n"
        "heavy = sorted({'tensorflow', 'keras'} & set(sys.modules))\n"
        "print(len(asked), heavy)\n"
    )
    env = {**os.environ, "FERBENCH_HOME": str(isolated_store)}
    first = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert first.stdout.strip() == "1 []", first.stderr[-2000:]  # one MLflow query, no TensorFlow
    assert f"run {run_id} marked KILLED" in first.stderr
    again = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip() == "1 []" and "marked KILLED" not in again.stderr
    checkpoints.RunCheckpoint(run_id, {}).remove()
    none = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert none.stdout.strip() == "0 []"  # no stale lease: MLflow is not asked at all


# --- a full disk -------------------------------------------------------------------------------
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _artifact_files(home: Path) -> list[Path]:
    return sorted(p for p in (home / "artifacts").rglob("*") if p.is_file()) if (home / "artifacts").exists() else []


def test_a_full_disk_while_logging_evaluation_files_is_one_line_and_leaves_no_partial_file(
    tiny_family, isolated_store, monkeypatch
):
    import mlflow.store.artifact.local_artifact_repo as local_repo

    real, copies = local_repo.shutil.copyfileobj, []

    def filling(source, target, length=0):  # the second evaluation file half written, then full
        copies.append(1)
        if len(copies) == 2:
            target.write(source.read(10))
            _no_space()
        return real(source, target, length)

    monkeypatch.setattr("ferbench.cli.runs.load_data", lambda name, path, options: tiny_dataset())
    monkeypatch.setattr(local_repo.shutil, "copyfileobj", filling)
    result = invoke("run", TINY, "--dataset", "synthetic", "--epochs", "1", "--json")
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.stderr, "no space left on device", str(isolated_store))
    run = record.client().search_runs([record.experiment_for("tinyset")])[0]
    assert run.info.status == "FAILED" and f"--resume {run.info.run_id}" in line
    evaluation = [p for p in _artifact_files(isolated_store) if "evaluation" in p.parts]
    assert evaluation == []  # neither the torn file nor the one written before it


def test_a_full_disk_while_logging_the_model_leaves_no_model_behind(tiny_family, isolated_store, monkeypatch):
    import mlflow.store.artifact.local_artifact_repo as local_repo

    def torn_copy(source, target):
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / "MLmodel").write_text("artifact_path: mo")  # half a file
        _no_space()

    monkeypatch.setattr("ferbench.cli.runs.load_data", lambda name, path, options: tiny_dataset())
    monkeypatch.setattr(local_repo, "shutil_copytree_without_file_permissions", torn_copy)
    result = invoke("run", TINY, "--dataset", "synthetic", "--epochs", "1", "--json")
    assert result.exit_code == 2, result.output
    _one_error_line(result.stderr, "no space left on device")
    assert _artifact_files(isolated_store) == []
    experiment = record.experiment_for("tinyset")
    assert list(record.client().search_logged_models([experiment])) == []
    assert [r.info.status for r in record.client().search_runs([experiment])] == ["FAILED"]


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (root only; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_tmpfs_gives_one_line_and_the_next_command_leaves_no_run_running(small_disk, migrated_mlflow_db):
    home = small_disk / "store"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(0, free - 96 * 1024))  # about 96 KB left
    result = cli(home, "run", TINY, "--dataset", "synthetic", "--epochs", "1", "--json")
    assert result.returncode == 2, result.stderr[-3000:]
    _one_error_line(result.stderr, "no space left on device", str(home))
    filler.unlink()
    after = cli(home, "leaderboard")
    assert after.returncode == 0, after.stderr
    assert "RUNNING" not in _statuses(home)
    leftovers = [p for p in home.rglob("*") if ".tmp" in p.name and p.name != ".store.lock"]
    assert leftovers == []


# --- a corrupt or foreign mlflow.db --------------------------------------------------------------
def _foreign_sqlite(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)")


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda p: p.write_bytes(os.urandom(6000)), "not an SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\0" + os.urandom(8000)), "not a valid MLflow store"),
        (_foreign_sqlite, "without MLflow's tables"),
        (lambda p: (p.unlink(), p.mkdir()), "a directory"),
    ],
)
@pytest.mark.parametrize("command", [["leaderboard"], ["run", TINY, "--dataset", "synthetic", "--epochs", "1"]])
def test_a_corrupt_or_foreign_store_is_one_line_and_never_written(tiny_family, isolated_store, make, why, command):
    db = isolated_store / "mlflow.db"
    make(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest() if db.is_file() else None
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    _one_error_line(result.stderr, str(db), "is not a valid MLflow store", why, "move it aside", "FERBENCH_HOME")
    if before is not None:
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before


# --- tracking URIs -----------------------------------------------------------------------------
@pytest.mark.parametrize("uri", ["foo://bar", "mlruns", "file:///tmp/mlruns"])
def test_an_unsupported_tracking_scheme_is_one_line_listing_the_accepted_ones(uri):
    result = invoke("leaderboard", "--tracking-uri", uri)
    assert result.exit_code == 2, result.output
    _one_error_line(result.stderr, repr(uri), "accepted: sqlite:///PATH, http://, https://, postgresql://")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_tracking_server_on_a_closed_port_is_one_error_line(isolated_store):
    uri = f"http://127.0.0.1:{_closed_port()}"
    result = cli(isolated_store, "leaderboard", "--tracking-uri", uri, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: MLflow tracking server {uri} does not answer (connection refused)")
    assert lines[:-1] in ([], [f"waiting for the MLflow tracking server {uri} (3 retries) ..."])


@pytest.fixture
def http_backoffs(isolated_store, monkeypatch) -> list[float]:
    """The pauses urllib3 takes between retries, recorded instead of slept; the HTTP settings the
    command sets in this process are undone afterwards."""
    from urllib3.util.retry import Retry

    from ferbench.store_setup import HTTP_BOUNDS

    for name in HTTP_BOUNDS:
        monkeypatch.setenv(name, "")  # remembers the value to restore ...
        monkeypatch.delenv(name)  # ... and starts the test without one
    backoffs: list[float] = []
    monkeypatch.setattr(Retry, "_sleep_backoff", lambda retry: backoffs.append(retry.get_backoff_time()))
    return backoffs


def test_a_tracking_server_on_a_closed_port_gives_up_after_seconds(http_backoffs):
    # Counted, not timed: a refused connection fails at once, so the wait is the backoff between
    # retries. MLflow's own settings (7 retries, factor 2) would back off for about 250 s.
    result = invoke("leaderboard", "--tracking-uri", f"http://127.0.0.1:{_closed_port()}")
    assert result.exit_code == 2 and "does not answer (connection refused)" in result.output
    assert len(http_backoffs) == 3 and sum(http_backoffs) < 10, http_backoffs


def test_the_user_s_own_http_settings_are_kept(http_backoffs, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    result = invoke("leaderboard", "--tracking-uri", f"http://127.0.0.1:{_closed_port()}")
    assert result.exit_code == 2 and "does not answer (connection refused)" in result.output
    assert http_backoffs == []  # no retries
    assert "waiting for" not in result.output  # and so nothing to wait for


# --- noise -------------------------------------------------------------------------------------
def test_a_fresh_store_prints_no_library_info_lines(tmp_path):
    home = tmp_path / "fresh"  # no database yet: it is created by this command
    result = cli(home, "analyze", "occlusion", "UNKNOWN_ID")
    assert result.returncode == 2
    _one_error_line(result.stderr, "unknown run id 'UNKNOWN_ID'")


def test_tensorflow_import_lines_are_filtered_and_other_output_kept(tmp_path):
    code = (
        "from ferbench import tf_quiet; tf_quiet.install()\n"
        "import os, sys\n"
        "sys.modules.pop('tensorflow', None)\n"
        "import tensorflow\n"
        "os.write(2, b'after\\n')\n"
    )
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'I0000 00:00:1796428538.293465   32358 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'a real warning\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "a real warning\nafter\n"


# --- Ctrl-C ------------------------------------------------------------------------------------
def test_ctrl_c_names_the_killed_run_and_how_to_resume_it(tiny_family, monkeypatch):
    monkeypatch.setattr("ferbench.cli.runs.load_data", lambda name, path, options: tiny_dataset())
    result = invoke("run", TINY, "--dataset", "synthetic", "--epochs", "2", "--set", "interrupt_at=1", "--json")
    assert result.exit_code == 130, result.output
    run = record.client().search_runs([record.experiment_for("tinyset")])[0]
    run_id = run.info.run_id
    assert run.info.status == "KILLED"
    assert result.stderr.strip().splitlines() == [
        f"interrupted: run {run_id} marked KILLED (resume with ferbench run {TINY} --dataset synthetic "
        f"--resume {run_id})"
    ]


# --- atomic writes --------------------------------------------------------------------------------
def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path):
    from ferbench import inventory, store

    target = tmp_path / "folder" / "entry.json"
    target.parent.mkdir()
    target.write_text("old")
    with store.atomic_write(target, "w") as handle:
        assert Path(handle.name) == store.temp_path(target) and target.read_text() == "old"
        handle.write("new")
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), store.atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "new" and [p.name for p in target.parent.iterdir()] == ["entry.json"]
    # the writers' one temporary name is what the cache listing and checkpoints recognise
    name = store.temp_path(target).name
    assert name == f".entry.json.tmp-{os.getpid()}"
    assert inventory.temp_writer(name) == os.getpid()
    assert checkpoints.TEMP_NAME.search(name).group(1) == str(os.getpid())
