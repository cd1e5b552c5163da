"""Trained models in MLflow.

Every family logs one generic pyfunc model, "model", wrapping the family's own `save()` directory,
so Keras and scikit-learn families load back the same way: `load_model(run_id).predict_proba(uint8
images)`, or `mlflow.pyfunc.load_model("runs:/<id>/model")` in any environment made from its
requirements (which name ferbench). Beside it, a family with a model in its library's own MLflow
flavour (`Family.native_model`) logs that too: Keras families their self-contained network as
"keras_model" (mlflow.keras), feature families their PCA + LinearSVC head as "sklearn_head"
(mlflow.sklearn). FERBENCH_NATIVE_MODELS=0 leaves the native copies out.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError, first_line
from ferbench.record._client import client, current_uri, setup

MODEL_NAME = "model"  # the pyfunc model of every family (the name stored runs and commands load)
NATIVE_MODEL_NAMES = {"keras": "keras_model", "sklearn": "sklearn_head"}  # flavour -> logged name
NATIVE_MODELS_ENV = "FERBENCH_NATIVE_MODELS"
# what each logged model imports when it loads, beside mlflow and numpy
_IMPORTS = {
    MODEL_NAME: ("ferbench", "tensorflow", "tensorflow-cpu", "keras", "scikit-learn", "opencv-python-headless"),
    "keras": ("ferbench", "tensorflow", "tensorflow-cpu", "keras"),
    "sklearn": ("scikit-learn", "skops"),  # the head alone; its features need ferbench (see its metadata)
}


def _pyfunc_base():
    import mlflow.pyfunc

    return mlflow.pyfunc.PythonModel


# a base computed at import keeps mlflow out of `import ferbench.record`; mypy cannot follow it
class FamilyModel(_pyfunc_base()):  # type: ignore[misc]
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


def requirements(flavour: str = MODEL_NAME) -> list[str]:
    """Pinned requirements of a logged model: what it imports, at the versions installed here.
    Explicit, so MLflow does not spend seconds inferring them in a subprocess."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("mlflow", *_IMPORTS[flavour], "numpy"):
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            if dist == "ferbench":  # run from a source tree that was never installed
                from ferbench import __version__

                out.append(f"ferbench=={__version__}")
    return out


def native_models_enabled() -> bool:
    """FERBENCH_NATIVE_MODELS: 1 (default) logs the native flavours beside the pyfunc model, 0 not."""
    text = os.environ.get(NATIVE_MODELS_ENV, "1").strip().lower()
    if text not in ("0", "1", "true", "false"):
        raise FerbenchError(f"{NATIVE_MODELS_ENV}={text!r}: expected 1 or 0")
    return text in ("1", "true")


def _tensor_signature(input_dtype, input_shape: tuple[int, ...], output_dtype, output_shape: tuple[int, ...]):
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(input_dtype), (-1, *input_shape))]),
        outputs=Schema([TensorSpec(np.dtype(output_dtype), (-1, *output_shape))]),
    )


def log_family_model(run_id: str, family, sample_images: np.ndarray, class_names=None) -> None:
    """Log the fitted family into run `run_id`: the pyfunc model "model" (uint8 images (-1, H, W[, C])
    -> float32 probabilities (-1, n_classes), the sample as its input example) and, unless
    FERBENCH_NATIVE_MODELS=0, its native flavour (`Family.native_model`), whose input a signature
    describes: no example (Keras: mlflow.keras 3.17 writes one before it creates the model's
    folder, and fails; a feature head's would be two rows of up to 100,352 floats as JSON, twice)."""
    import mlflow

    sample = np.asarray(sample_images[:2], dtype=np.uint8)
    n_classes = len(family.classes_)
    names = list(class_names) if class_names is not None else None
    with _bound(run_id):
        with tempfile.TemporaryDirectory() as tmp:
            family_dir = Path(tmp) / "family"
            family_dir.mkdir()
            family.save(family_dir)
            info = Path(tmp) / "family.json"
            info.write_text(json.dumps({"family": family.name, "class_names": names}))
            _logged(
                run_id,
                mlflow.pyfunc.log_model,
                name=MODEL_NAME,
                python_model=FamilyModel(),
                artifacts={"family_dir": str(family_dir), "family_info": str(info)},
                signature=_tensor_signature(np.uint8, sample.shape[1:], np.float32, (n_classes,)),
                input_example=sample,
                pip_requirements=requirements(),
                metadata={"family": family.name, "class_names": names},
            )
        native = family.native_model() if native_models_enabled() else None
        if native is not None:
            output = (np.float32, (n_classes,)) if native.flavour == "keras" else (np.int64, ())
            _logged(
                run_id,
                getattr(mlflow, native.flavour).log_model,
                native.model,
                name=NATIVE_MODEL_NAMES[native.flavour],
                signature=_tensor_signature(native.input_dtype, native.input_shape, *output),
                pip_requirements=requirements(native.flavour),
                metadata={"family": family.name, "class_names": names, **native.metadata},
            )


@contextmanager
def _bound(run_id: str) -> Iterator[None]:
    """MLflow's fluent logging bound to the existing run without ending it (the fluent stack is
    popped by hand: tracked_run alone decides the final status), and without its chatter."""
    import mlflow

    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.start_run(run_id=run_id)
            try:
                yield
            finally:
                _pop_active_run()
    finally:
        mlflow_logger.setLevel(level)


def _logged(run_id: str, log_model, *args, **kwargs) -> None:
    try:
        log_model(*args, **kwargs)
    except BaseException:
        _discard_unready_models(run_id)
        raise


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
