"""The MLflow client of this process: the store it points at, and ferbench's experiments.

The first `setup` per store closes runs whose process died (ferbench.stale_runs). Opening the
store (lock, creation, checks, retries) is `ferbench.store_setup`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ferbench.errors import StoreError
from ferbench.record.tags import MLFLOW_EXPERIMENT_KIND, MODEL_TRAINING

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Artifact transfer bars would garble our own progress bars and --json output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

_state: dict[str, Any] = {}


def setup(tracking_uri: str | None = None):
    """Point MLflow at the store (explicit > MLFLOW_TRACKING_URI > ./ferbench-store) and check it
    answers; returns an MlflowClient. Raises FerbenchError when the store cannot be used. The
    first call per store in a process also closes runs whose owner is gone (ferbench.stale_runs)."""
    from ferbench import store, store_setup

    uri = store.mlflow_tracking_uri(tracking_uri)
    store_setup.quiet_libraries()
    store_setup.check_scheme(uri)
    db = store_setup.sqlite_path(uri)
    if db is not None:
        parent = db.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
            raise StoreError(f"MLflow store {db} is not writable")
    if _state.get("uri") == uri:
        return _state["client"]
    import mlflow

    from ferbench.stale_runs import close_stale

    client = store_setup.open_client(uri)
    mlflow.set_tracking_uri(uri)
    _state.update(uri=uri, client=client)
    close_stale(client, uri)
    return client


def client():
    return _state["client"] if "client" in _state else setup()


def current_uri() -> str:
    """The tracking URI that `setup` chose."""
    if "uri" not in _state:
        setup()
    return _state["uri"]


def _artifact_location(uri: str) -> str | None:
    """Local stores keep artifacts beside the database; servers choose their own."""
    from ferbench import store

    if uri == store.mlflow_tracking_uri(None) and not os.environ.get("MLFLOW_TRACKING_URI"):
        return store.mlflow_artifact_root()
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).parent / "artifacts").absolute().as_uri()
    return None


def experiment_for(dataset_name: str) -> str:
    """Id of the experiment "ferbench-<dataset_name>", created on first use and tagged as model
    training (`mlflow.experimentKind`). MLflow 3.17's UI does not read that tag yet: it opens
    experiments on the GenAI overview unless the browser chose "Model training" once, which is
    why `ferbench ui` prints a link that does."""
    from mlflow.exceptions import MlflowException

    c = client()
    name = f"ferbench-{dataset_name}"
    found = c.get_experiment_by_name(name)
    if found is None:
        try:
            return c.create_experiment(
                name, artifact_location=_artifact_location(_state["uri"]), tags={MLFLOW_EXPERIMENT_KIND: MODEL_TRAINING}
            )
        except MlflowException:  # created meanwhile by another process
            found = c.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        c.restore_experiment(found.experiment_id)
    if found.tags.get(MLFLOW_EXPERIMENT_KIND) != MODEL_TRAINING:  # made by an older ferbench
        c.set_experiment_tag(found.experiment_id, MLFLOW_EXPERIMENT_KIND, MODEL_TRAINING)
    return found.experiment_id
