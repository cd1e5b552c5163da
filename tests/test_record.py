import json
import os
import signal

import mlflow.pyfunc
import numpy as np
import pytest

from ferbench import record, store_setup
from ferbench.errors import FerbenchError
from ferbench.testing import TinyFamily, tiny_dataset


@pytest.fixture
def experiment(isolated_store):
    record.setup()
    return record.experiment_for("tinyset")


def _status(run_id):
    return record.client().get_run(run_id).info.status


def test_default_store_and_experiment_per_dataset(isolated_store, experiment):
    # (the store's database was pre-seeded by isolated_store; setup must use it in place)
    assert (isolated_store / "mlflow.db").is_file()
    exp = record.client().get_experiment(experiment)
    assert exp.name == "ferbench-tinyset"
    assert exp.artifact_location.startswith((isolated_store / "artifacts").as_uri())
    assert record.experiment_for("tinyset") == experiment


def test_experiments_are_tagged_as_model_training_even_when_made_before(experiment):
    client = record.client()
    assert client.get_experiment(experiment).tags["mlflow.experimentKind"] == "custom_model_development"
    older = client.create_experiment("ferbench-older")  # as an earlier ferbench made it: no kind
    assert record.experiment_for("older") == older
    assert client.get_experiment(older).tags["mlflow.experimentKind"] == "custom_model_development"


def test_sqlite_store_writes_ahead_and_a_locked_store_still_opens(isolated_store, experiment, tmp_path):
    import sqlite3

    with sqlite3.connect(isolated_store / "mlflow.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # another process mid-write: the switch waits briefly, then the store keeps its journal
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:  # a store still in its rollback journal
        connection.execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(other, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store_setup._write_ahead_log(other)
        assert holder.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_unwritable_store_is_a_one_line_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FERBENCH_HOME", str(blocker))
    with pytest.raises(FerbenchError, match="not writable"):
        record.setup()


def test_processes_starting_together_each_probe_the_store_with_their_own_file(tmp_path, monkeypatch):
    import threading

    from ferbench import store

    monkeypatch.setenv("FERBENCH_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".write-test").mkdir(parents=True)  # a shared probe name would collide
    errors = []

    def start():
        try:
            for _ in range(50):
                store.ensure_home()
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == [".write-test"]  # no probe left


def test_run_statuses_finished_failed_killed(experiment):
    with record.tracked_run(experiment, "ok", {"ferbench.kind": "run"}) as ok:
        assert _status(ok) == "RUNNING"
    assert _status(ok) == "FINISHED"
    ids = {}
    with pytest.raises(RuntimeError):
        with record.tracked_run(experiment, "boom", {}) as ids["failed"]:
            raise RuntimeError("mid-training failure")
    assert _status(ids["failed"]) == "FAILED"
    with pytest.raises(KeyboardInterrupt):
        with record.tracked_run(experiment, "ctrl-c", {}) as ids["killed"]:
            raise KeyboardInterrupt
    assert _status(ids["killed"]) == "KILLED"


def test_sigterm_ends_run_killed_and_restores_handler(experiment):
    before = signal.getsignal(signal.SIGTERM)
    ids = {}
    with pytest.raises(KeyboardInterrupt):
        with record.tracked_run(experiment, "term", {}) as ids["run"]:
            os.kill(os.getpid(), signal.SIGTERM)
    assert _status(ids["run"]) == "KILLED"
    assert signal.getsignal(signal.SIGTERM) is before


def test_log_batch_params_metrics_and_curves(experiment):
    with record.tracked_run(experiment, "log", {"a": 1}) as run_id:
        record.log(
            run_id,
            params={"dropout": 0.25, "protocol": "kfold:5"},
            metrics={"test_accuracy": 0.5, "bad": float("nan")},
            curves={"epoch_loss": [3.0, 2.0, 1.0]},
            tags={"ferbench.tuned": "false"},
        )
    run = record.client().get_run(run_id)
    assert run.data.params == {"dropout": "0.25", "protocol": "kfold:5"}
    assert run.data.metrics["test_accuracy"] == 0.5 and "bad" not in run.data.metrics
    assert run.data.tags["a"] == "1"
    history = record.client().get_metric_history(run_id, "epoch_loss")
    assert [(h.step, h.value) for h in sorted(history, key=lambda h: h.step)] == [(0, 3.0), (1, 2.0), (2, 1.0)]


def test_common_tags_follow_conventions():
    tags = record.common_tags(TinyFamily, tiny_dataset(), "holdout:0.2", 3, {"weights": "none"})
    assert tags["source"] == "ferbench" and tags["ferbench.kind"] == "run"
    assert tags["ferbench.family"] == TinyFamily.name
    assert tags["ferbench.fingerprint"] == tiny_dataset().fingerprint
    assert tags["ferbench.protocol"] == "holdout:0.2" and tags["ferbench.seed"] == "3"
    assert tags["ferbench.weights"] == "none" and tags["ferbench.random_weights"] == "true"
    assert tags["ferbench.synthetic"] == "false"
    assert len(tags.get("ferbench.git_commit", "0" * 40)) == 40
    assert record.common_tags(TinyFamily, tiny_dataset(), "loo", 0, {})["ferbench.weights"] == "n/a"
    assert "ferbench.data_path" not in tags  # an in-memory data set has no location


def test_tags_record_where_the_data_came_from(tmp_path):
    """Analyses rebuild a run's data set from these tags; reader options outside the reader's
    own (e.g. a face-crop note) are left out, since the reader would refuse them."""
    from ferbench.data.dataset import FaceDataset

    data = tiny_dataset()
    located = FaceDataset(
        data.images,
        data.labels,
        name="ckplus",
        source=str(tmp_path),
        options={"contempt": "keep", "face_crop": {"found": 3}},
    )
    tags = record.common_tags(TinyFamily, located, "holdout:0.2", 0, {})
    assert tags["ferbench.data_path"] == str(tmp_path.absolute())
    assert json.loads(tags["ferbench.data_options"]) == {"contempt": "keep"}


def test_evaluation_artifacts(experiment):
    y = np.array([0, 1, 2, 3, 4, 5, 6, 0])
    proba = np.eye(7)[[0, 1, 2, 3, 4, 5, 6, 1]]
    with record.tracked_run(experiment, "art", {}) as run_id:
        record.log_evaluation_artifacts(run_id, y, proba, tiny_dataset().class_names)
    names = {a.path for a in record.client().list_artifacts(run_id, "evaluation")}
    assert names == {
        "evaluation/test_confusion_matrix.png",
        "evaluation/test_confusion_matrix.csv",
        "evaluation/test_classification_report.txt",
    }
    csv = record.client().download_artifacts(run_id, "evaluation/test_confusion_matrix.csv")
    lines = open(csv).read().splitlines()
    assert lines[1].startswith("angry,1,1,")


def test_logged_model_loads_back_with_identical_probabilities(experiment, tiny_family):
    data = tiny_dataset()
    family = tiny_family().fit(data.part(), epochs=2)
    expected = family.predict_proba(data.part())
    with record.tracked_run(experiment, "model", {}) as run_id:
        record.log_family_model(run_id, family, data.images[:2], data.class_names)
    assert _status(run_id) == "FINISHED"
    raw = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert raw.metadata.signature.inputs.to_dict()[0]["tensor-spec"]["dtype"] == "uint8"
    np.testing.assert_allclose(raw.predict(data.images), expected, rtol=1e-6)
    loaded = record.load_model(run_id)
    np.testing.assert_allclose(loaded.predict_proba(data.images), expected, rtol=1e-6)
    assert list(loaded.class_names) == list(data.class_names)


def test_raw_images_are_predicted_in_chunks_with_the_same_probabilities(monkeypatch):
    from ferbench.families import base

    data = tiny_dataset()
    family = TinyFamily().fit(data.part(), epochs=1)
    sizes = []
    predict_proba = family.predict_proba
    monkeypatch.setattr(family, "predict_proba", lambda part: sizes.append(len(part)) or predict_proba(part))
    monkeypatch.setattr(base, "PREDICT_CHUNK", 64)
    np.testing.assert_allclose(family.predict_images(data.images), predict_proba(data.part()), rtol=1e-12)
    assert sizes == [64, 64, 12]


def test_load_model_errors(experiment):
    with pytest.raises(FerbenchError, match="not found"):
        record.load_model("0" * 32)
    with record.tracked_run(experiment, "no-model", {}) as run_id:
        pass
    with pytest.raises(FerbenchError, match="no loadable model"):
        record.load_model(run_id)
