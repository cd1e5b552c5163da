import numpy as np
import pytest

from ferbench import record, runner
from ferbench.errors import FerbenchError
from ferbench.record.tags import TAG_DEVICE
from ferbench.testing import tiny_dataset

pytestmark = pytest.mark.usefixtures("tiny_family")
FAMILY = "tiny_test_family"


def _runs(experiment="ferbench-tinyset"):
    client = record.client()
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id])


def test_single_run_logs_params_tags_metrics_curves_and_model():
    data = tiny_dataset()
    result = runner.run(FAMILY, data, protocol="holdout", params={"learning_rate": "0.3"}, epochs=2, seed=1, quiet=True)
    run = record.client().get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["learning_rate"] == "0.3" and run.data.params["epochs"] == "2"
    assert run.data.params["protocol"] == "holdout:0.2" and run.data.params["seed"] == "1"
    assert run.data.tags["ferbench.family"] == FAMILY
    assert run.data.tags["ferbench.fingerprint"] == data.fingerprint
    assert run.data.tags[TAG_DEVICE] == "CPU"  # this machine has no GPU
    for name in (
        "test_accuracy",
        "test_macro_f1",
        "test_recall_neutral",
        "val_accuracy",
        "train_accuracy",
        "wall_time_s",
    ):
        assert name in run.data.metrics
    assert result.metrics["test_accuracy"] == run.data.metrics["test_accuracy"]
    curve = record.client().get_metric_history(result.run_id, "epoch_val_accuracy")
    assert sorted(m.step for m in curve) == [0, 1]
    assert result.to_json().keys() == {"run_id", "family", "dataset", "protocol", "params", "metrics"}
    # the logged model reproduces the test-part metric
    from ferbench.predictions import load_predictions

    test_rows = load_predictions(result.run_id).rows
    proba = record.load_model(result.run_id).predict_proba(data.images[test_rows])
    assert proba.shape == (len(test_rows), 7)
    accuracy = float(np.mean(proba.argmax(axis=1) == data.labels[test_rows]))
    assert accuracy == pytest.approx(result.metrics["test_accuracy"])


def test_the_device_is_the_first_gpu_tensorflow_sees(monkeypatch):
    import sys
    from types import SimpleNamespace

    gpus = []
    config = SimpleNamespace(
        list_physical_devices=lambda kind: gpus if kind == "GPU" else [],
        experimental=SimpleNamespace(get_device_details=lambda d: {"device_name": d.model}),
    )
    monkeypatch.setitem(sys.modules, "tensorflow", SimpleNamespace(config=config))
    assert runner.training_device() == "CPU"
    gpus.extend(
        [
            SimpleNamespace(name="/physical_device:GPU:0", model="NVIDIA A100"),
            SimpleNamespace(name="/physical_device:GPU:1", model="NVIDIA T4"),
        ]
    )
    assert runner.training_device() == "NVIDIA A100"
    monkeypatch.delitem(sys.modules, "tensorflow")
    assert runner.training_device() == "CPU"  # never loaded: nothing trained on a GPU


@pytest.mark.parametrize(
    "images, message",
    [
        (
            lambda data: data.images[:, :32, :32],
            "needs 48x48 images; the data set has 32x32 and the family does not resize",
        ),
        (lambda data: np.repeat(data.images[..., None], 3, axis=3), "needs 1-channel images; the data set has 3"),
    ],
)
def test_data_the_family_cannot_take_is_refused_before_any_run(images, message):
    from dataclasses import replace

    data = tiny_dataset()
    with pytest.raises(FerbenchError, match=message):
        runner.run(FAMILY, replace(data, images=np.ascontiguousarray(images(data))), quiet=True)
    record.setup()  # this test's store: the refusal came before the runner opened it
    assert _runs() == []


def _folds_table(run_id: str) -> list[dict]:
    import csv

    import mlflow

    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="evaluation/folds.csv")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_kfold_makes_child_runs_and_mean_std():
    result = runner.run(FAMILY, tiny_dataset(), protocol="kfold:3", epochs=1, quiet=True)
    assert len(result.fold_metrics) == 3
    accs = [m["test_accuracy"] for m in result.fold_metrics]
    assert result.metrics["test_accuracy"] == pytest.approx(np.mean(accs))
    assert result.metrics["test_accuracy_std"] == pytest.approx(np.std(accs))
    runs = _runs()
    children = [r for r in runs if r.data.tags.get("ferbench.kind") == "fold"]
    assert len(children) == 3
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {result.run_id}
    steps = record.client().get_metric_history(result.run_id, "fold_test_accuracy")
    assert sorted(m.step for m in steps) == [0, 1, 2]
    table = _folds_table(result.run_id)
    assert [float(row["fold_test_accuracy"]) for row in table] == [m.value for m in sorted(steps, key=lambda m: m.step)]
    assert all(r.info.status == "FINISHED" for r in runs)


def test_loo_keeps_fold_values_as_a_table_without_steps_or_child_runs():
    result = runner.run(FAMILY, tiny_dataset(n=21), protocol="loo", epochs=1, quiet=True, log_model=False)
    assert len(result.fold_metrics) == 21
    assert len(_runs()) == 1
    assert record.client().get_metric_history(result.run_id, "fold_test_accuracy") == []
    table = _folds_table(result.run_id)
    assert len(table) == 21 and len({row["fold"] for row in table}) == 21
    assert [float(row["fold_test_accuracy"]) for row in table] == [m["test_accuracy"] for m in result.fold_metrics]
    # one image per fold: macro-F1 and recalls come from the pooled predictions, not fold means
    logged = record.client().get_run(result.run_id).data.metrics
    assert "fold_test_macro_f1" not in logged and "test_macro_f1_std" not in logged
    pred = np.array([int(m["test_accuracy"] == 1.0) for m in result.fold_metrics])  # 1 = right
    assert result.metrics["test_accuracy"] == pytest.approx(pred.mean())
    data = tiny_dataset(n=21)
    counts = np.bincount(data.labels, minlength=data.n_classes)
    pooled_hits = sum(result.metrics[f"test_recall_{c}"] * n for c, n in zip(data.class_names, counts, strict=True))
    assert pooled_hits == pytest.approx(pred.sum())  # recalls of the pooled predictions
    assert logged["test_macro_f1"] == pytest.approx(result.metrics["test_macro_f1"])


def test_official_protocol_on_split_data():
    data = tiny_dataset(splits=True)
    result = runner.run(FAMILY, data, epochs=1, quiet=True, log_model=False)
    assert result.protocol == "official"
    assert result.metrics["test_accuracy"] > 0.5


def test_failure_mid_training_ends_failed():
    with pytest.raises(RuntimeError, match="on purpose"):
        runner.run(FAMILY, tiny_dataset(), protocol="holdout", params={"fail_at": 1}, quiet=True)
    (run,) = _runs()
    assert run.info.status == "FAILED"


def test_interrupt_ends_killed_also_for_fold_children():
    with pytest.raises(KeyboardInterrupt):
        runner.run(FAMILY, tiny_dataset(), protocol="kfold:2", params={"interrupt_at": 0}, quiet=True)
    runs = _runs()
    assert runs and all(r.info.status == "KILLED" for r in runs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"family_name": "no_such_family"}, "unknown family"),
        ({"params": {"nope": 1}}, "no parameter nope"),
        ({"params": {"learning_rate": "fast"}}, "not a number"),
        ({"params": {"learning_rate": 99}}, "outside"),
        ({"protocol": "kfold:1"}, "at least 2"),
        ({"protocol": "bogus"}, "unknown protocol"),
        ({"protocol": "loso"}, "subject"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_input_leaves_no_run(kwargs, message):
    args = {"family_name": FAMILY, **kwargs}
    with pytest.raises(FerbenchError, match=message):
        runner.run(args.pop("family_name"), tiny_dataset(), quiet=True, **args)
    record.setup()
    assert _runs() == []


def test_input_size_the_data_cannot_serve():
    with pytest.raises(FerbenchError, match="48x48"):
        runner.run(FAMILY, tiny_dataset(size=32), quiet=True)
    record.setup()
    assert _runs() == []


class _NeedsWeights:
    """Mixin for a tiny family whose default weights are 'missing' on this machine."""

    @classmethod
    def unavailable_reason(cls):
        return "weights file missing (test)"


@pytest.fixture
def weighted_family(tiny_family):
    from ferbench.families import registry
    from ferbench.params import Choice

    cls = type(
        "WeightedTiny",
        (_NeedsWeights, tiny_family),
        {
            "name": "weighted_tiny",
            "param_specs": {**tiny_family.param_specs, "weights": Choice("imagenet", choices=("imagenet", "none"))},
        },
    )
    registry._FAMILIES[cls.name] = cls
    yield cls
    registry._FAMILIES.pop(cls.name, None)


def test_unavailable_family_needs_explicit_weights(weighted_family):
    with pytest.raises(FerbenchError, match="cannot run here: weights file missing"):
        runner.run("weighted_tiny", tiny_dataset(), quiet=True)
    record.setup()
    assert _runs() == []
    result = runner.run(
        "weighted_tiny", tiny_dataset(), params={"weights": "none"}, epochs=1, quiet=True, log_model=False
    )
    run = record.client().get_run(result.run_id)
    assert run.data.tags["ferbench.weights"] == "none"
    assert run.data.tags["ferbench.random_weights"] == "true"
