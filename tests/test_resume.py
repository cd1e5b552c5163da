"""Runs that survive being stopped: epoch checkpoints written atomically, `resume` in the same
MLflow run with results equal to an uninterrupted run, leases, the one-line refusals, and left-over
checkpoints in `ferbench cache`. Tiny synthetic data; baseline_cnn with augmentation (random
layers whose state must come back) or the numpy tiny family."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ferbench import checkpoints, leases, record, runner
from ferbench.cli import app
from ferbench.errors import FerbenchError
from ferbench.testing import tiny_dataset

CNN = "baseline_cnn"
CNN_PARAMS = {"filters": 2, "batch_size": 16, "augment": True, "patience": 10}
EPOCHS, SEED = 4, 5
TINY = "tiny_test_family"


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def _runs():
    client = record.setup()  # this test's store
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


def _cut_after(monkeypatch, last_epoch: int) -> None:
    """Ctrl-C from an epoch callback once epoch `last_epoch` (from 0) has ended."""
    from ferbench.families import _keras_training as keras_training

    real = keras_training.fit_epochs

    def cutting(*args, callbacks=None, **kwargs):
        def cut(epoch, logs):
            if epoch == last_epoch:
                raise KeyboardInterrupt

        return real(*args, callbacks=[*(callbacks or []), cut], **kwargs)

    monkeypatch.setattr(keras_training, "fit_epochs", cutting)


def _count_epochs(monkeypatch) -> list[int]:
    from ferbench.families import _keras_training as keras_training

    real, trained = keras_training.fit_epochs, []

    def counting(*args, callbacks=None, **kwargs):
        return real(*args, callbacks=[*(callbacks or []), lambda epoch, logs: trained.append(epoch)], **kwargs)

    monkeypatch.setattr(keras_training, "fit_epochs", counting)
    return trained


def _curve(run_id: str, name: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in record.client().get_metric_history(run_id, name))


def _assert_same_results(resumed_id: str, whole_id: str) -> None:
    from ferbench.predictions import load_predictions

    client = record.client()
    got, want = client.get_run(resumed_id).data.metrics, client.get_run(whole_id).data.metrics
    for name in (
        "test_accuracy",
        "test_macro_f1",
        "val_accuracy",
        "train_accuracy",
        "epochs_run",
        "test_accuracy_ci_low",
        "test_accuracy_ci_high",
    ):
        assert got[name] == want[name], name
    for name in ("epoch_loss", "epoch_val_accuracy"):  # each step once, at the right step
        assert _curve(resumed_id, name) == _curve(whole_id, name)
    a, b = load_predictions(resumed_id), load_predictions(whole_id)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.proba, b.proba)  # exact, not within a tolerance


def test_a_cut_run_resumes_in_the_same_run_and_equals_an_uninterrupted_one(monkeypatch):
    data = tiny_dataset(splits=True)
    whole = runner.run(CNN, data, params=CNN_PARAMS, epochs=EPOCHS, seed=SEED, quiet=True, log_model=False)
    assert not checkpoints.run_dir(whole.run_id).exists()  # a finished run keeps no checkpoint
    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        _cut_after(patch, 1)
        runner.run(CNN, data, params=CNN_PARAMS, epochs=EPOCHS, seed=SEED, quiet=True, log_model=False)
    (cut,) = [r for r in _runs() if r.info.run_id != whole.run_id]
    saved = checkpoints.run_dir(cut.info.run_id)
    assert cut.info.status == "KILLED" and checkpoints.epochs_done(saved / "official") == 2
    assert leases.read(saved).released

    trained = _count_epochs(monkeypatch)
    result = runner.resume(cut.info.run_id, data, family=CNN, quiet=True)
    assert trained == [2, 3]  # only the epochs that were left
    assert result.run_id == cut.info.run_id and len(_runs()) == 2
    run = record.client().get_run(cut.info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[record.TAG_RESUMES] == "1"
    _assert_same_results(cut.info.run_id, whole.run_id)
    assert result.metrics["test_accuracy"] == whole.metrics["test_accuracy"]
    assert not saved.exists()


KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from ferbench.testing import tiny_dataset
from ferbench import checkpoints, runner

real = checkpoints.write_epoch

def dying(directory, epoch, write):
    if epoch < 3:
        return real(directory, epoch, write)
    def half(folder):  # killed in the middle of writing epoch 3's model
        write(folder)
        model = folder / "model.keras"
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return real(directory, epoch, half)

checkpoints.write_epoch = dying
runner.run({family!r}, tiny_dataset(splits=True), params={params!r}, epochs={epochs}, seed={seed},
           quiet=True, log_model=False)
"""


def test_a_process_killed_mid_write_leaves_the_previous_epoch_and_resumes_from_the_cli(monkeypatch, isolated_store):
    import keras

    from ferbench.families import _keras_training as keras_training

    data = tiny_dataset(splits=True)
    script = KILLED_WRITER.format(
        tests=str(Path(__file__).parent), family=CNN, params=CNN_PARAMS, epochs=EPOCHS, seed=SEED
    )
    killed = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    (run,) = _runs()
    run_id = run.info.run_id
    assert run.info.status == "KILLED"  # SIGKILL: nobody ended it, so the next setup closed it
    fold = checkpoints.run_dir(run_id) / "official"
    latest = checkpoints.latest_epoch(fold)
    assert latest.name == "epoch-0002"
    assert [p.name for p in fold.iterdir() if p.name.startswith(".epoch-0003.tmp-")]  # the cut write
    assert keras_training.read_state(latest)["epochs_done"] == 2
    keras.models.load_model(latest / keras_training.MODEL_FILE)  # the previous epoch is loadable
    lease = leases.read(checkpoints.run_dir(run_id))
    assert not lease.released and leases.is_stale(lease)  # its process is gone

    entries = json.loads(invoke("cache", "list", "--kind", "checkpoints", "--json").stdout)["entries"]
    assert [(e["name"], e["status"]) for e in entries] == [(run_id, "resumable")]

    whole = runner.run(CNN, data, params=CNN_PARAMS, epochs=EPOCHS, seed=SEED, quiet=True, log_model=False)
    monkeypatch.setattr("ferbench.cli.runs.load_data", lambda name, path, options: data)
    trained = _count_epochs(monkeypatch)
    result = invoke("run", CNN, "--dataset", "synthetic", "--resume", run_id)
    assert result.exit_code == 0, result.output
    assert f"run {run_id} (resumed)" in result.stdout
    assert trained == [2, 3]  # the epoch whose checkpoint was cut, then the last
    assert record.client().get_run(run_id).info.status == "FINISHED"
    _assert_same_results(run_id, whole.run_id)
    assert not checkpoints.run_dir(run_id).exists()


def test_a_write_that_fails_midway_keeps_the_previous_epoch(tmp_path):
    folder = tmp_path / "fold"
    checkpoints.write_epoch(folder, 1, lambda out: (out / "state.json").write_text('{"epoch": 1}'))

    def failing(out):
        (out / "state.json").write_text('{"epoch": 2')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        checkpoints.write_epoch(folder, 2, failing)
    assert checkpoints.latest_epoch(folder).name == "epoch-0001"
    assert json.loads((folder / "epoch-0001" / "state.json").read_text()) == {"epoch": 1}
    assert [p.name for p in folder.iterdir()] == ["epoch-0001"]  # no temporary left behind
    checkpoints.write_epoch(folder, 2, lambda out: (out / "state.json").write_text('{"epoch": 2}'))
    assert [p.name for p in folder.iterdir()] == ["epoch-0002"]  # the older epoch went


def test_without_early_stopping_nothing_is_selected_on_the_validation_part():
    from ferbench.families.baseline_cnn import BaselineCNN

    data = tiny_dataset(splits=True)
    train, val, test = (data.part(np.flatnonzero(data.splits == s)) for s in ("train", "val", "test"))
    params = {**CNN_PARAMS, "early_stopping": False, "patience": 1}
    reported = BaselineCNN(**params).fit(train, val, epochs=3, seed=SEED)
    blind = BaselineCNN(**params).fit(train, None, epochs=3, seed=SEED)
    assert len(reported.history_["val_accuracy"]) == 3  # curves still reported
    np.testing.assert_array_equal(reported.predict_proba(test), blind.predict_proba(test))
    tags = record.common_tags(BaselineCNN, data, "official", 0, reported.params)
    assert tags["ferbench.selected_on"] == "none"


def test_early_stopping_state_follows_keras():
    from ferbench.families._keras_training import EarlyStopping

    class Model:
        def get_weights(self):
            return [np.zeros(1)]

    early = EarlyStopping(patience=2)
    stops = [early.update(epoch, value, Model()) for epoch, value in enumerate([0.5, 0.6, 0.6, 0.55])]
    assert stops == [False, False, False, True] and (early.best, early.best_epoch, early.wait) == (0.6, 1, 2)


def test_a_multi_fold_run_does_not_retrain_finished_folds(tiny_family, monkeypatch):
    data = tiny_dataset()
    whole = runner.run(TINY, data, protocol="kfold:3", epochs=2, seed=1, quiet=True, log_model=False)
    real_fit, fits = tiny_family.fit, []

    def fit(self, *args, **kwargs):
        fits.append(1)
        if len(fits) == 3:  # Ctrl-C during the third fold
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(tiny_family, "fit", fit)
    with pytest.raises(KeyboardInterrupt):
        runner.run(TINY, data, protocol="kfold:3", epochs=2, seed=1, quiet=True, log_model=False)
    (cut,) = [r for r in _runs() if r.data.tags["ferbench.kind"] == "run" and r.info.run_id != whole.run_id]
    assert cut.info.status == "KILLED"
    fits.clear()
    result = runner.resume(cut.info.run_id, data, quiet=True)
    assert fits == [1]  # only the fold that was cut
    assert [m["test_accuracy"] for m in result.fold_metrics] == [m["test_accuracy"] for m in whole.fold_metrics]
    children = [r for r in _runs() if r.data.tags.get("mlflow.parentRunId") == cut.info.run_id]
    assert sorted(r.data.tags["ferbench.fold"] for r in children) == ["fold1", "fold2", "fold3"]
    assert all(r.info.status == "FINISHED" for r in children)
    assert [s for s, _ in _curve(cut.info.run_id, "fold_test_accuracy")] == [0, 1, 2]
    assert record.client().get_run(cut.info.run_id).info.status == "FINISHED"


def test_every_run_records_its_data_sizes_predictions_and_an_interval(tiny_family):
    from ferbench.evaluate import bootstrap_ci
    from ferbench.predictions import load_predictions

    data = tiny_dataset(splits=True)
    result = runner.run(TINY, data, epochs=1, quiet=True, log_model=False)
    tags = record.client().get_run(result.run_id).data.tags
    assert tags[record.TAG_N_IMAGES] == "140"
    assert json.loads(tags[record.TAG_SPLIT_SIZES]) == {"train": 98, "val": 14, "test": 28}
    assert tags[record.TAG_CLASSES].split(",") == list(data.class_names)
    stored = load_predictions(result.run_id)
    np.testing.assert_array_equal(stored.rows, np.flatnonzero(data.splits == "test"))
    low, high = result.metrics["test_accuracy_ci_low"], result.metrics["test_accuracy_ci_high"]
    assert low <= result.metrics["test_accuracy"] <= high
    assert (low, high) == bootstrap_ci(stored.y_true, stored.y_pred, seed=0)  # the run's seed
    plain = tiny_dataset()
    assert json.loads(record.common_tags(tiny_family, plain, "holdout", 0, {})[record.TAG_SPLIT_SIZES]) == {"all": 140}


# --- refusals: one line, exit 2, nothing changed -------------------------------------------------
def _stopped_tiny_run() -> str:
    from ferbench.data.readers import load_dataset

    with pytest.raises(KeyboardInterrupt):
        runner.run(
            TINY,
            load_dataset("synthetic"),
            protocol="holdout",
            params={"interrupt_at": 1},
            epochs=2,
            quiet=True,
            log_model=False,
        )
    (run,) = _runs()
    return run.info.run_id


def _fresh_lease(run_id: str) -> None:
    """A lease as a live owner on this host holds it: this very process, heartbeat now."""
    from dataclasses import asdict

    pid = os.getpid()
    lease = leases.Lease(socket.gethostname(), pid, leases._process_start(pid), time.time(), 0.0)
    (checkpoints.run_dir(run_id) / leases.LEASE_FILE).write_text(json.dumps(asdict(lease)))


def _everything(home: Path):
    runs = sorted(
        (
            r.info.run_id,
            r.info.status,
            r.info.lifecycle_stage,
            sorted(r.data.tags.items()),
            sorted(r.data.metrics.items()),
        )
        for r in _runs()
    )
    files = sorted(
        (str(p.relative_to(home)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in (home / "checkpoints").rglob("*")
        if p.is_file()
    )
    return runs, files


def _folder_data(tmp_path) -> str:
    for c, name in enumerate(("happy", "sad")):
        (tmp_path / "faces" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((48, 48), 40 * c + i, np.uint8)).save(tmp_path / "faces" / name / f"{i}.png")
    return str(tmp_path / "faces")


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown", "unknown run id"),
        ("finished", "has finished"),
        ("family", f"trained family {TINY}, not {CNN}"),
        ("data", "is not the one run"),
        ("running", "is still running (host"),
        ("no checkpoint", "no checkpoint left"),
        ("settings", "drop --epochs, --seed"),
    ],
)
def test_resume_refusals(tiny_family, isolated_store, tmp_path, case, message):
    run_id = _stopped_tiny_run()
    args = ["run", TINY, "--dataset", "synthetic", "--resume", run_id]
    if case == "unknown":
        args[-1] = "0123456789abcdef0123456789abcdef"
    elif case == "finished":
        record.client().set_terminated(run_id, "FINISHED")
    elif case == "family":
        args[1] = CNN
    elif case == "data":
        args[3] = "folder"
        args += ["--path", _folder_data(tmp_path)]
    elif case == "running":  # its owner (this process) still holds a fresh lease
        record.client().update_run(run_id, status="RUNNING")
        _fresh_lease(run_id)
    elif case == "no checkpoint":
        checkpoints.RunCheckpoint(run_id, {}).remove()
    elif case == "settings":
        args += ["--epochs", "3", "--seed", "0"]
    before = _everything(isolated_store)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert _everything(isolated_store) == before


# --- leases --------------------------------------------------------------------------------------
def test_a_lease_is_stale_when_released_its_process_is_gone_or_its_heartbeat_old():
    here, now = socket.gethostname(), time.time()
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not leases.is_stale(leases.Lease(here, os.getpid(), leases._process_start(os.getpid()), now, 0.0))
    assert leases.is_stale(leases.Lease(here, os.getpid(), None, now, 0.0, released=True))
    assert leases.is_stale(leases.Lease(here, dead.pid, None, now, 0.0))
    assert leases.is_stale(leases.Lease(here, os.getpid(), "1", now, 0.0))  # the pid was reused
    other = "some-other-host"
    assert not leases.is_stale(leases.Lease(other, 1, None, now - 60, 0.0), now=now, timeout=600)
    assert leases.is_stale(leases.Lease(other, 1, None, now - 601, 0.0), now=now, timeout=600)


def test_the_lease_heartbeat_is_renewed_in_the_background(tmp_path, monkeypatch):
    monkeypatch.setattr(leases, "HEARTBEAT_S", 0.05)
    holder = leases.Holder(tmp_path, wall_before=100.0)
    first = leases.read(tmp_path).heartbeat
    time.sleep(0.3)
    assert leases.read(tmp_path).heartbeat > first
    holder.release()
    lease = leases.read(tmp_path)
    assert lease.released and lease.pid == os.getpid() and lease.wall_s >= 100.0


# --- left-over checkpoints in `ferbench cache` ---------------------------------------------------
def _checkpoint_entries() -> dict[str, dict]:
    result = invoke("cache", "list", "--kind", "checkpoints", "--json")
    assert result.exit_code == 0, result.output
    return {e["name"]: e for e in json.loads(result.stdout)["entries"]}


def test_cache_lists_left_over_checkpoints_and_clears_them_by_status(tiny_family, isolated_store):
    from ferbench.data.readers import load_dataset

    resumable = _stopped_tiny_run()
    finished = runner.run(TINY, tiny_dataset(), epochs=1, quiet=True, log_model=False).run_id
    assert not checkpoints.run_dir(finished).exists()
    with pytest.raises(KeyboardInterrupt):
        runner.run(TINY, tiny_dataset(), params={"interrupt_at": 0}, epochs=1, quiet=True, log_model=False)
    orphaned = next(r.info.run_id for r in _runs() if r.info.status == "KILLED" and r.info.run_id != resumable)
    record.client().set_terminated(orphaned, "FINISHED")  # e.g. killed after MLflow ended it
    entries = _checkpoint_entries()
    assert {name: e["status"] for name, e in entries.items()} == {resumable: "resumable", orphaned: "orphaned"}
    assert entries[orphaned]["reason"] == "its run has finished" and entries[resumable]["bytes"] > 0
    assert f"--resume {resumable}" in entries[resumable]["reason"]
    text = invoke("cache", "list", "--kind", "checkpoints").stdout
    assert resumable in text and "resumable" in text

    assert invoke("cache", "clear", "--stale", "--yes").exit_code == 0
    assert set(_checkpoint_entries()) == {resumable}  # a resumable run's checkpoint stays
    _fresh_lease(resumable)  # resumed meanwhile by a live process
    assert _checkpoint_entries()[resumable]["status"] == "writing"
    assert invoke("cache", "clear", "--all", "--yes").exit_code == 0
    assert set(_checkpoint_entries()) == {resumable}  # never removed while its owner runs
    leases.Holder(checkpoints.run_dir(resumable)).release()  # that owner has left
    assert invoke("cache", "clear", "--all", "--yes").exit_code == 0
    assert _checkpoint_entries() == {} and not checkpoints.run_dir(resumable).exists()
    with pytest.raises(FerbenchError, match="no checkpoint left"):
        runner.resume(resumable, load_dataset("synthetic"))
