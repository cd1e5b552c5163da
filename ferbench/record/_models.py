"""Trained models in MLflow: one generic pyfunc model wraps the family's own `save()` directory,
so Keras and scikit-learn families load back the same way:
`load_model(run_id).predict_proba(uint8_images)`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError, first_line
from ferbench.record._client import client, current_uri, setup

MODEL_NAME = "model"


def _pyfunc_base():
    import mlflow.pyfunc

    return mlflow.pyfunc.PythonModel


class FamilyModel(_pyfunc_base()):
    """Generic pyfunc model: raw uint8 images in, class probabilities out, for any family.

    The artifacts are the family's own `save()` directory and a small JSON naming the family;
    loading goes back through the registry, so Keras and non-Keras families reload alike.
    """

    # numpy tensors need no type-hint validation (the signature checks dtype and shape); this
    # also stops MLflow's "add type hints" warning, which it forces to show despite filters.
    _skip_type_hint_validation = True

    def load_context(self, context):
        from ferbench.families import registry

        info = json.loads(Path(context.artifacts["family_info"]).read_text())
        self.family = registry.get(info["family"]).load(Path(context.artifacts["family_dir"]))
        self.class_names = info.get("class_names")

    def predict(self, context, model_input, params=None):
        if isinstance(model_input, dict):  # named-tensor input from some MLflow clients
            model_input = next(iter(model_input.values()))
        images = np.asarray(model_input)
        if images.dtype != np.uint8:
            images = images.astype(np.uint8)
        return np.asarray(self.family.predict_images(images), dtype=np.float32)


def _requirements() -> list[str]:
    # Explicit, so MLflow does not spend seconds inferring them in a subprocess.
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("mlflow", "tensorflow", "tensorflow-cpu", "keras", "scikit-learn", "numpy", "opencv-python-headless"):
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return out


def log_family_model(run_id: str, family, sample_images: np.ndarray, class_names=None) -> None:
    """Log the fitted family into run `run_id` as an MLflow pyfunc model named "model", with a
    signature uint8 images (-1, H, W[, C]) -> float32 probabilities (-1, n_classes)."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    sample = np.asarray(sample_images[:2])
    n_classes = int(np.asarray(family.predict_images(sample)).shape[1])
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, *sample.shape[1:]))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, n_classes))]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        family_dir = Path(tmp) / "family"
        family_dir.mkdir()
        family.save(family_dir)
        info = Path(tmp) / "family.json"
        names = list(class_names) if class_names is not None else None
        info.write_text(json.dumps({"family": family.name, "class_names": names}))
        mlflow_logger = logging.getLogger("mlflow")
        level = mlflow_logger.level
        mlflow_logger.setLevel(logging.ERROR)  # no "input example missing" chatter
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Bind the existing run without ending it: the fluent stack is popped by hand,
                # tracked_run alone decides the final status.
                mlflow.start_run(run_id=run_id)
                try:
                    mlflow.pyfunc.log_model(
                        name=MODEL_NAME,
                        python_model=FamilyModel(),
                        artifacts={"family_dir": str(family_dir), "family_info": str(info)},
                        signature=signature,
                        pip_requirements=_requirements(),
                    )
                except BaseException:
                    _discard_unready_models(run_id)
                    raise
                finally:
                    _pop_active_run()
        finally:
            mlflow_logger.setLevel(level)


def _discard_unready_models(run_id: str) -> None:
    """A model whose logging failed (a full disk mid-copy) goes, files and record: no half-written
    model stays in the store. Best effort: the store may refuse the clean-up too."""
    import shutil

    from mlflow.utils.file_utils import local_file_uri_to_path

    c = client()
    try:
        experiment = c.get_run(run_id).info.experiment_id
        models = c.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'")
        for model in models:
            if str(model.status).upper().endswith("READY"):
                continue
            if model.artifact_location.startswith("file:"):
                shutil.rmtree(Path(local_file_uri_to_path(model.artifact_location)).parent, ignore_errors=True)
            c.delete_logged_model(model.model_id)
    except Exception:
        pass


def _pop_active_run() -> None:
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack:
        stack.pop()


class LoadedModel:
    """A logged model reloaded from MLflow: `predict_proba(uint8 images) -> (N, n_classes)`."""

    def __init__(self, run_id: str, pyfunc_model):
        self.run_id = run_id
        self.pyfunc = pyfunc_model
        inner = pyfunc_model.unwrap_python_model()
        self.family = inner.family
        self.class_names = inner.class_names

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.pyfunc.predict(np.asarray(images, dtype=np.uint8)))


def load_model(run_id: str, tracking_uri: str | None = None) -> LoadedModel:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    c = setup(tracking_uri)
    try:
        c.get_run(run_id)
    except MlflowException:
        raise FerbenchError(f"run {run_id!r} not found in {current_uri()}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the type-hint nag, again on load
            model = mlflow.pyfunc.load_model(f"runs:/{run_id}/{MODEL_NAME}")
    except (MlflowException, OSError) as exc:
        raise FerbenchError(f"run {run_id} has no loadable model: {first_line(exc)}") from None
    return LoadedModel(run_id, model)
