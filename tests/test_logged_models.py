"""The models a run logs: the pyfunc model "model" of every family, and the native flavours beside
it (Keras families: "keras_model"; feature families: "sklearn_head")."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import version

import mlflow
import numpy as np
import pytest

from ferbench import record, runner
from ferbench.data.dataset import ADHOC, FaceDataset
from ferbench.data.synthetic import generate
from ferbench.errors import FerbenchError
from ferbench.families import registry
from ferbench.testing import tiny_dataset


@pytest.fixture
def experiment(isolated_store):
    record.setup()
    return record.experiment_for("synthetic")


def fitted(name: str, **params):
    """The family fitted with its test params (and `params`) on 60 synthetic images, and 12 more."""
    data = generate(72, seed=0)
    cls = registry.get(name)
    family = cls(**{**cls.test_params, **params})
    family.fit(data.part(np.arange(60)), data.part(np.arange(60, 66)), epochs=1)
    return family, data.images[60:]


def logged(experiment, family, images) -> str:
    with record.tracked_run(experiment, "models", {}) as run_id:
        record.log_family_model(run_id, family, images[:2], generate(7).class_names)
    return run_id


def logged_names(run_id: str) -> set[str]:
    experiment = record.client().get_run(run_id).info.experiment_id
    found = record.client().search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'")
    return {model.name for model in found}


def test_keras_model_loads_with_the_keras_flavour_and_takes_raw_uint8_images(experiment):
    family, images = fitted("baseline_cnn")
    run_id = logged(experiment, family, images)
    assert logged_names(run_id) == {"model", "keras_model"}
    uri = f"runs:/{run_id}/keras_model"
    model = mlflow.keras.load_model(uri)
    # the preprocessing layers are inside: raw uint8 pixels in, the family's probabilities out
    np.testing.assert_allclose(
        model.predict(images[..., None], verbose=0), family.predict_images(images), rtol=1e-5, atol=1e-7
    )
    assert not getattr(model, "optimizer", None)  # an inference copy: no optimizer state
    info = mlflow.models.get_model_info(uri)
    spec = info.signature.inputs.to_dict()[0]["tensor-spec"]
    assert (spec["dtype"], tuple(spec["shape"])) == ("uint8", (-1, 48, 48, 1))
    assert info.metadata["family"] == "baseline_cnn" and len(info.metadata["class_names"]) == 7


@pytest.mark.parametrize("name, params", [("cnn_features_pca_svm", {}), ("vgg19_pca_svm", {"whiten": False})])
def test_sklearn_head_and_its_described_backbone_predict_as_the_family(experiment, name, params):
    from ferbench.features.cache import feature_set

    family, images = fitted(name, **params)
    run_id = logged(experiment, family, images)
    assert logged_names(run_id) == {"model", "sklearn_head"}
    uri = f"runs:/{run_id}/sklearn_head"
    head = mlflow.sklearn.load_model(uri)
    assert [step for step, _ in head.steps] == ["pca", "scale", "svm"]
    backbone = mlflow.models.get_model_info(uri).metadata["backbone"]
    # the features rebuilt from the logged description alone
    adhoc = FaceDataset(images, np.zeros(len(images), dtype=np.int64), name=ADHOC)
    features = feature_set(adhoc, backbone["name"], backbone["weights"], backbone["input_size"]).features(
        backbone["layer"]
    )
    proba = family._decision_to_proba(head.decision_function(np.asarray(features, dtype=np.float32)))
    np.testing.assert_allclose(proba, family.predict_images(images), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(head.predict(features), family.predict_images(images).argmax(axis=1))


def test_native_copies_are_a_setting_checked_before_a_run_exists(experiment, monkeypatch, tiny_family):
    family, images = fitted("baseline_cnn")
    monkeypatch.setenv(record.NATIVE_MODELS_ENV, "0")
    assert logged_names(logged(experiment, family, images)) == {"model"}
    monkeypatch.setenv(record.NATIVE_MODELS_ENV, "maybe")
    with pytest.raises(FerbenchError, match="FERBENCH_NATIVE_MODELS='maybe': expected 1 or 0"):
        runner.run(tiny_family.name, tiny_dataset(), protocol="holdout", epochs=1, quiet=True)
    assert record.client().get_experiment_by_name("ferbench-tinyset") is None  # no run, not even its experiment


def test_a_family_without_a_native_flavour_logs_the_pyfunc_model_only(experiment, tiny_family):
    data = tiny_dataset()
    family = tiny_family().fit(data.part(), epochs=1)
    assert logged_names(logged(experiment, family, data.images)) == {"model"}


@pytest.mark.slow
def test_pyfunc_model_names_ferbench_and_predicts_in_a_separate_process(experiment, tmp_path):
    """The pyfunc model's requirements pin ferbench at the installed version, and a separate Python
    process that knows only the model's URI loads it and predicts the family's probabilities (and
    loads the Keras flavour once ferbench's layers are imported). The environment already installed
    here stands in for a fresh one made from the requirements."""
    family, images = fitted("baseline_cnn")
    run_id = logged(experiment, family, images)
    uri = f"runs:/{run_id}/model"
    wanted = f"ferbench=={version('ferbench')}"
    assert wanted in open(mlflow.pyfunc.get_model_dependencies(uri)).read().splitlines()
    example = mlflow.pyfunc.load_model(uri).input_example
    assert example.dtype == np.uint8 and example.shape == (2, 48, 48)
    np.save(tmp_path / "images.npy", images)
    script = textwrap.dedent(f"""
        import json, sys
        import mlflow, numpy as np
        mlflow.set_tracking_uri({record.current_uri()!r})
        images = np.load({str(tmp_path / "images.npy")!r})
        proba = mlflow.pyfunc.load_model({uri!r}).predict(images)
        import ferbench.layers, ferbench.preprocess
        keras_proba = mlflow.keras.load_model("runs:/{run_id}/keras_model").predict(images[..., None], verbose=0)
        print(json.dumps({{"pyfunc": proba.tolist(), "keras": keras_proba.tolist()}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    expected = family.predict_images(images)
    np.testing.assert_allclose(out["pyfunc"], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["keras"], expected, rtol=1e-5, atol=1e-7)
