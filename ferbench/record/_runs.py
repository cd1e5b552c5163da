"""Run lifecycle and logging.

A run opened by `tracked_run` (or reopened by `reopened_run` to resume it) always ends FINISHED,
FAILED (exception) or KILLED (Ctrl-C or SIGTERM); a run whose process was killed outright is
marked KILLED by the next command that opens the store (`setup`, through ferbench.stale_runs).
Bulk logging goes through `MlflowClient.log_batch` (measured about 5x cheaper than fluent
per-call logging).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ferbench.record._client import client
from ferbench.record._run_tags import source_tags
from ferbench.record.tags import MLFLOW_PARENT_RUN_ID

_MAX_PARAMS, _MAX_TAGS, _MAX_METRICS = 100, 100, 1000  # log_batch limits per call


class Terminated(KeyboardInterrupt):
    """Raised inside a tracked run when the process gets SIGTERM, so the run ends KILLED."""


def _raise_terminated(signum, frame):
    raise Terminated(f"signal {signum}")


@contextmanager
def tracked_run(
    experiment_id: str, run_name: str, tags: dict[str, Any], parent_run_id: str | None = None
) -> Iterator[str]:
    """Create a run, yield its id, and always end it: FINISHED / FAILED / KILLED. MLflow's source
    tags (`source_tags`) are added unless `tags` has them."""
    c = client()
    all_tags = {**source_tags(), **{key: str(value) for key, value in tags.items()}}
    if parent_run_id:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
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
    p = [Param(k, param_text(v)) for k, v in (params or {}).items()]
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


def param_text(value: Any) -> str:
    """A param value as MLflow stores it: text as is, anything else as JSON, at most 6000 characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]
