"""Everything that talks to MLflow for runs.

- `_client`: the store this process points at (`setup`, `client`) and ferbench's experiments;
- `_runs`: run lifecycle (`tracked_run`, `reopened_run`, always ended) and bulk logging (`log`);
- `_run_tags`: the tags of a training run and MLflow's source tags; `tags`: the name of every tag
  ferbench sets or reads; `_inputs`: a run's data set as an MLflow dataset input;
- `_artifacts`: evaluation files and artifact logging; `_models`: trained models (the pyfunc model
  of every family, and native Keras / scikit-learn flavours), imported on first use (it needs
  MLflow, which `import ferbench.record` does not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferbench.record._artifacts import log_evaluation_artifacts, log_files
from ferbench.record._client import client, current_uri, experiment_for, setup
from ferbench.record._inputs import EVALUATION, TRAINING, dataset_input, log_dataset
from ferbench.record._run_tags import (
    common_tags,
    data_location_tags,
    git_commit,
    source_name,
    source_tags,
    split_sizes,
    weights_tag,
)
from ferbench.record._runs import Terminated, log, param_text, reopened_run, tracked_run
from ferbench.record.tags import (
    TAG_CLASSES,
    TAG_FAMILY,
    TAG_FINGERPRINT,
    TAG_N_IMAGES,
    TAG_RESUMES,
    TAG_SPLIT_SIZES,
)

if TYPE_CHECKING:
    from ferbench.record._models import (
        MODEL_NAME,
        NATIVE_MODEL_NAMES,
        NATIVE_MODELS_ENV,
        FamilyModel,
        LoadedModel,
        load_model,
        log_family_model,
        native_models_enabled,
        requirements,
    )

_MODELS = (
    "MODEL_NAME",
    "NATIVE_MODEL_NAMES",
    "NATIVE_MODELS_ENV",
    "FamilyModel",
    "LoadedModel",
    "load_model",
    "log_family_model",
    "native_models_enabled",
    "requirements",
)


def __getattr__(name: str) -> Any:
    # ferbench.record.FamilyModel is also the class models logged by early ferbench versions name
    if name in _MODELS:
        from ferbench.record import _models

        return getattr(_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EVALUATION",
    "MODEL_NAME",
    "NATIVE_MODELS_ENV",
    "NATIVE_MODEL_NAMES",
    "TAG_CLASSES",
    "TAG_FAMILY",
    "TAG_FINGERPRINT",
    "TAG_N_IMAGES",
    "TAG_RESUMES",
    "TAG_SPLIT_SIZES",
    "TRAINING",
    "FamilyModel",
    "LoadedModel",
    "Terminated",
    "client",
    "common_tags",
    "current_uri",
    "data_location_tags",
    "dataset_input",
    "experiment_for",
    "git_commit",
    "load_model",
    "log",
    "log_dataset",
    "log_evaluation_artifacts",
    "log_family_model",
    "log_files",
    "native_models_enabled",
    "param_text",
    "reopened_run",
    "requirements",
    "setup",
    "source_name",
    "source_tags",
    "split_sizes",
    "tracked_run",
    "weights_tag",
]
