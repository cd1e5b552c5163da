"""A run's data set as an MLflow dataset input, which fills the UI's Dataset column: its name,
ferbench's content fingerprint as the digest, where it was read from, and its split sizes.

Only metadata is logged (an `mlflow.data.meta_dataset.MetaDataset`): no copy of the images, and
no pandas or numpy dataset class that would hash the pixels again.
"""

from __future__ import annotations

import json
from pathlib import Path

from ferbench.record._client import client
from ferbench.record._run_tags import split_sizes

TRAINING, EVALUATION = "training", "evaluation"  # the input's context (tag mlflow.data.context)


def dataset_source(dataset):
    """Where the data set came from: its folder or file, else a code source naming what made it
    ("synthetic", or "in memory" for images handed over by a program)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json

    if dataset.is_synthetic:
        return CodeDatasetSource({"source": "synthetic"})
    if dataset.source:  # MLflow's local file source, named directly: its resolver warns of two matches
        return get_dataset_source_from_json(json.dumps({"uri": str(Path(dataset.source).absolute())}), "local")
    return CodeDatasetSource({"source": "in memory"})


def dataset_input(dataset, context: str):
    """The mlflow.entities.DatasetInput of `dataset` used in `context` (TRAINING or EVALUATION)."""
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    # MetaDataset implements `profile` as a property; mypy reads the base class's abstract one
    meta = MetaDataset(  # type: ignore[abstract]
        dataset_source(dataset), name=dataset.name, digest=dataset.fingerprint
    ).to_dict()
    profile = {
        "n_images": len(dataset),
        "split_sizes": split_sizes(dataset),
        "image_shape": list(dataset.image_shape),
        "classes": list(dataset.class_names),
    }
    entity = Dataset(
        name=meta["name"],
        digest=meta["digest"],
        source_type=meta["source_type"],
        source=meta["source"],
        profile=json.dumps(profile),
    )
    return DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])


def log_dataset(run_id: str, dataset, context: str = TRAINING) -> None:
    """Log `dataset` as an input of run `run_id`. Logging it again is a no-op: MLflow keeps one
    input per data set (name and digest) and run."""
    client().log_inputs(run_id, datasets=[dataset_input(dataset, context)])
