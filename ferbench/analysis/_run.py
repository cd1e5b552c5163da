"""A logged run made ready for analysis: find it, rebuild the data set and the test part it was
scored on (and check the fingerprint), and load its logged model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ferbench.data.dataset import FaceDataset, Part
from ferbench.errors import FerbenchError, first_line
from ferbench.record.tags import (
    TAG_CONTEMPT,
    TAG_DATA_OPTIONS,
    TAG_DATA_PATH,
    TAG_DATASET,
    TAG_FINGERPRINT,
    TAG_FOLD,
    TAG_MODEL_FOLD,
    TAG_PROTOCOL,
    TAG_SEED,
)


@dataclass
class RunTarget:
    """A logged run made ready for analysis: its model and the test part it was scored on."""

    run_id: str
    tags: dict[str, str]
    params: dict[str, str]
    dataset: FaceDataset
    test: Part
    val: Part | None  # the fold's validation part (FER-2013 official: PublicTest)
    fold: str
    model: Any  # has predict_proba(uint8 images) -> (N, n_classes)
    tracking_uri: str

    @property
    def protocol(self) -> str:
        return self.tags.get(TAG_PROTOCOL) or self.params.get("protocol", "")

    def predict(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        return predict_in_batches(self.model, images, batch_size)


def client(tracking_uri: str | None = None):
    """(MlflowClient, tracking URI), through record.setup like every command's store."""
    from ferbench import record

    opened = record.setup(tracking_uri)
    return opened, record.current_uri()


def get_run(run_id: str, tracking_uri: str | None = None):
    from mlflow.exceptions import MlflowException

    mlflow_client, uri = client(tracking_uri)
    try:
        return mlflow_client.get_run(run_id), uri
    except MlflowException:
        raise FerbenchError(f"unknown run id {run_id!r} in the MLflow store {uri}") from None


def load_run_model(run_id: str, tracking_uri: str):
    from ferbench import record

    record.setup(tracking_uri)
    try:
        return record.load_model(run_id)
    except FerbenchError:
        raise
    except Exception as exc:  # MLflow raises several types when a run holds no model
        raise FerbenchError(
            f"run {run_id} has no loadable logged model ({type(exc).__name__}: {first_line(exc)})"
        ) from None


def dataset_for_run(tags: dict, params: dict, dataset: str | None = None, path: str | None = None) -> FaceDataset:
    """Rebuild the run's data set from its tags (ferbench.dataset, ferbench.data_path,
    ferbench.data_options as JSON), or from --dataset/--path overrides."""
    import json

    from ferbench.data.readers import READERS, load_dataset

    name = dataset or tags.get(TAG_DATASET)
    if not name:
        raise FerbenchError("the run has no ferbench.dataset tag; pass --dataset and --path")
    same = name == tags.get(TAG_DATASET)
    data_path = path or (tags.get(TAG_DATA_PATH) if same else None) or None
    options: dict = {}
    if same and tags.get(TAG_DATA_OPTIONS):
        try:
            options = dict(json.loads(tags[TAG_DATA_OPTIONS]))
        except (ValueError, TypeError):
            raise FerbenchError(f"tag ferbench.data_options {tags[TAG_DATA_OPTIONS]!r} is not a JSON object") from None
    elif same and tags.get(TAG_CONTEMPT):
        options["contempt"] = tags[TAG_CONTEMPT]
    info = READERS.get(name)
    if data_path is None and info is not None and info.needs_path:
        raise FerbenchError(f"the run does not record where its {name} data is (tag ferbench.data_path); pass --path")
    return load_dataset(name, data_path, **options)


def fold_for_run(dataset: FaceDataset, tags: dict, params: dict):
    """The fold whose model the run logged: the one named by ferbench.model_fold (multi-fold
    parent) or ferbench.fold, else the only fold; several unnamed folds are refused."""
    from ferbench.protocols import default_protocol, parse_protocol

    protocol = parse_protocol(tags.get(TAG_PROTOCOL) or params.get("protocol") or default_protocol(dataset))
    seed = int(tags.get(TAG_SEED) or params.get("seed") or 0)
    folds = protocol.folds(dataset, seed=seed)
    # A multi-fold parent logs the model of one fold and names it; a fold run names its own fold.
    wanted = tags.get(TAG_MODEL_FOLD) or tags.get(TAG_FOLD)
    if wanted is not None:
        chosen = [f for f in folds if str(f.name) == wanted]
        if not chosen:
            raise FerbenchError(f"fold {wanted!r} of the run is not produced by protocol {protocol.name}")
        fold = chosen[0]
    elif len(folds) == 1:
        fold = folds[0]
    else:
        raise FerbenchError(
            f"protocol {protocol.name} has {len(folds)} folds and the run does not "
            "name the fold of its model (tag ferbench.model_fold)"
        )
    return fold


def open_run(
    run_id: str, *, tracking_uri: str | None = None, dataset: str | None = None, path: str | None = None
) -> RunTarget:
    run, uri = get_run(run_id, tracking_uri)
    tags, params = dict(run.data.tags), dict(run.data.params)
    model = load_run_model(run_id, uri)
    data = dataset_for_run(tags, params, dataset, path)
    expected = tags.get(TAG_FINGERPRINT)
    if expected and expected != data.fingerprint:
        raise FerbenchError(
            f"data set {data.name} ({path or tags.get(TAG_DATA_PATH, 'default path')}) "
            f"has fingerprint {data.fingerprint}, run {run_id} was trained on {expected}; "
            "pass --dataset/--path for the run's data"
        )
    fold = fold_for_run(data, tags, params)
    val = data.part(fold.val) if len(fold.val) else None
    return RunTarget(run_id, tags, params, data, data.part(fold.test), val, str(fold.name), model, uri)


def predict_in_batches(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    parts = [np.asarray(model.predict_proba(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 0))
