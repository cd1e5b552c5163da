"""Everything that talks to MLflow for runs: the store, experiments, run lifecycle, logging, tags.

A run opened by `tracked_run` (or reopened by `reopened_run` to resume it) always ends FINISHED,
FAILED (exception) or KILLED (Ctrl-C or SIGTERM); a run whose process was killed outright is
marked KILLED by the next command that opens the store (`setup`, through ferbench.stale_runs).
Bulk logging goes through `MlflowClient.log_batch` (measured about 5x cheaper than fluent
per-call logging). Opening the store (lock, creation, checks, retries): `store_setup`. Trained
models: `record_models`; evaluation files: `record_artifacts`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ferbench.errors import StoreError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Artifact transfer bars would garble our own progress bars and --json output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

_MAX_PARAMS, _MAX_TAGS, _MAX_METRICS = 100, 100, 1000  # log_batch limits per call
_state: dict[str, Any] = {}


# --- store and experiments -------------------------------------------------------------------
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
        if not parent.is_dir() or not os.access(parent, os.W_OK) or (
            db.exists() and not os.access(db, os.W_OK)
        ):
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
        return (Path(uri[len("sqlite:///"):]).parent / "artifacts").absolute().as_uri()
    return None


def experiment_for(dataset_name: str) -> str:
    """Id of the experiment "ferbench-<dataset_name>", created on first use and tagged as model
    training, so MLflow 3's UI opens it on its runs rather than on the GenAI overview."""
    from mlflow.exceptions import MlflowException

    c = client()
    name = f"ferbench-{dataset_name}"
    found = c.get_experiment_by_name(name)
    if found is None:
        try:
            return c.create_experiment(name, artifact_location=_artifact_location(_state["uri"]),
                                       tags={EXPERIMENT_KIND: MODEL_TRAINING})
        except MlflowException:  # created meanwhile by another process
            found = c.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        c.restore_experiment(found.experiment_id)
    if found.tags.get(EXPERIMENT_KIND) != MODEL_TRAINING:  # made by an older ferbench
        c.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND, MODEL_TRAINING)
    return found.experiment_id


# --- run lifecycle ---------------------------------------------------------------------------
class Terminated(KeyboardInterrupt):
    """Raised inside a tracked run when the process gets SIGTERM, so the run ends KILLED."""


def _raise_terminated(signum, frame):
    raise Terminated(f"signal {signum}")


@contextmanager
def tracked_run(
    experiment_id: str, run_name: str, tags: dict[str, Any], parent_run_id: str | None = None
) -> Iterator[str]:
    """Create a run, yield its id, and always end it: FINISHED / FAILED / KILLED."""
    c = client()
    all_tags = {key: str(value) for key, value in tags.items()}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    run_id = c.create_run(experiment_id, run_name=run_name, tags=all_tags).info.run_id
    with _ended(c, run_id):
        yield run_id


@contextmanager
def reopened_run(run_id: str) -> Iterator[str]:
    """Set an existing run RUNNING again (a resumed run), yield its id, and end it as
    `tracked_run` does."""
    c = client()
    c.update_run(run_id, status="RUNNING")
    with _ended(c, run_id):
        yield run_id


@contextmanager
def _ended(c, run_id: str) -> Iterator[None]:
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    status = "FAILED"
    try:
        yield
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        try:
            c.set_terminated(run_id, status=status)
        except Exception:
            # e.g. a full disk: the error that stopped the run is the one to report; the run's
            # lease is released, so the next command closes it (ferbench.stale_runs)
            if status == "FINISHED":
                raise


def log(
    run_id: str,
    *,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, Any] | None = None,
    curves: dict[str, list[float]] | None = None,
    step: int = 0,
) -> None:
    """One log_batch (chunked at MLflow's limits): params, tags, metrics at `step`, and curves
    (metric name -> values, logged as steps 0..n-1)."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    p = [Param(k, _param_text(v)) for k, v in (params or {}).items()]
    t = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    m = [Metric(k, float(v), now, step) for k, v in (metrics or {}).items() if _finite(v)]
    for name, values in (curves or {}).items():
        m.extend(Metric(name, float(v), now, i) for i, v in enumerate(values) if _finite(v))
    c = client()
    while p or t or m:
        c.log_batch(run_id, metrics=m[:_MAX_METRICS], params=p[:_MAX_PARAMS], tags=t[:_MAX_TAGS])
        p, t, m = p[_MAX_PARAMS:], t[_MAX_TAGS:], m[_MAX_METRICS:]


def _finite(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]


# --- tags ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """Commit of the ferbench source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def weights_tag(params: dict[str, Any]) -> str:
    if "weights" not in params:
        return "n/a"
    value = str(params["weights"])
    if value.lower() in ("imagenet", "none"):
        return value.lower()
    return value if value.startswith("file:") else f"file:{Path(value).name}"


EXPERIMENT_KIND = "mlflow.experimentKind"      # MLflow 3 UI: which landing page an experiment gets
MODEL_TRAINING = "custom_model_development"
TAG_FAMILY = "ferbench.family"
TAG_FINGERPRINT = "ferbench.fingerprint"
TAG_N_IMAGES = "ferbench.n_images"
TAG_SPLIT_SIZES = "ferbench.split_sizes"  # JSON {"train": n, "val": n, "test": n}, or {"all": n}
TAG_CLASSES = "ferbench.classes"          # class names, comma-joined
TAG_RESUMES = "ferbench.resumes"          # how often the run was resumed


def common_tags(family_cls, dataset, protocol, seed: int, params: dict[str, Any]) -> dict[str, str]:
    """The brief's tag conventions for a ferbench run of `family_cls` on `dataset`."""
    from ferbench import __version__

    tags = {
        "source": "ferbench",
        "ferbench.kind": "run",
        TAG_FAMILY: family_cls.name,
        "ferbench.paper": family_cls.paper,
        "ferbench.dataset": dataset.name,
        "ferbench.dataset_variant": dataset.variant,
        TAG_FINGERPRINT: dataset.fingerprint,
        TAG_N_IMAGES: str(len(dataset)),
        TAG_SPLIT_SIZES: json.dumps(split_sizes(dataset)),
        TAG_CLASSES: ",".join(dataset.class_names),
        "ferbench.protocol": getattr(protocol, "name", protocol),
        "ferbench.seed": str(seed),
        "ferbench.version": __version__,
        "ferbench.weights": weights_tag(params),
        "ferbench.random_weights": str(bool(family_cls.uses_random_weights(params))).lower(),
        "ferbench.synthetic": str(bool(dataset.is_synthetic)).lower(),
        "ferbench.tuned": "false",
        # without early stopping nothing is chosen on the validation rows
        "ferbench.selected_on": "none" if params.get("early_stopping") is False else "val",
    }
    if "contempt" in dataset.options:
        tags["ferbench.contempt"] = str(dataset.options["contempt"])
    tags.update(data_location_tags(dataset))
    commit = git_commit()
    if commit:
        tags["ferbench.git_commit"] = commit
    return tags


def split_sizes(dataset) -> dict[str, int]:
    """Images per official split (train, val, test first), or {"all": n} without splits."""
    from ferbench.data.dataset import SPLIT_ORDER

    if dataset.splits is None:
        return {"all": len(dataset)}
    names, counts = np.unique(dataset.splits, return_counts=True)
    found = dict(zip(names.tolist(), counts.tolist()))
    ordered = [name for name in SPLIT_ORDER if name in found] + sorted(set(found) - set(SPLIT_ORDER))
    return {name: found[name] for name in ordered}


def data_location_tags(dataset) -> dict[str, str]:
    """Where the data set was read from and with which reader options, so analyses can rebuild
    it (its fingerprint tag then proves it is the same content)."""
    from ferbench.data.readers import READERS

    tags = {}
    if dataset.source and Path(dataset.source).exists():
        tags["ferbench.data_path"] = str(Path(dataset.source).absolute())
    reader = READERS.get(dataset.name)
    options = {k: v for k, v in dataset.options.items() if reader and k in reader.options}
    if options:
        tags["ferbench.data_options"] = json.dumps(options, sort_keys=True)
    return tags


def __getattr__(name: str):
    # Models logged before record_models existed pickled their class as ferbench.record.FamilyModel.
    if name == "FamilyModel":
        from ferbench.record_models import FamilyModel

        return FamilyModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
