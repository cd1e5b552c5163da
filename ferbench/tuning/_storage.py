"""Optuna storage and study bookkeeping for `ferbench tune`: connect, create once, check, count.

- Any SQLAlchemy URL works; errors (no driver, no connection, bad URL) become one-line
  FerbenchErrors with the password masked.
- Heartbeats plus `RetryHeartbeatStaleTrialCallback`: a trial whose worker died (kill -9) turns
  FAIL once its heartbeat is older than the grace period and is queued again as WAITING.
- Two workers on a fresh PostgreSQL database race on `CREATE TYPE` while creating the tables
  (measured: 4 of 4 tries): creation is retried, and the study is created by exactly one
  worker (the one whose INSERT wins); the others wait for its ferbench attributes.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from typing import Any

from ferbench.errors import FerbenchError, first_line

OBJECTIVE_NAME = "val_accuracy"  # what every trial returns: accuracy on the validation part
IDENTITY = ("family", "dataset", "fingerprint", "protocol", "direction")
DONE_STATES = ("COMPLETE", "PRUNED")
# Optuna user attributes ferbench keeps. On the study: its identity (ATTR_PREFIX + IDENTITY), and
ATTR_PREFIX = "ferbench."
TARGET_ATTR = ATTR_PREFIX + "trials_target"  # the finished trials the last --trials asked for
PARENT_ATTR = ATTR_PREFIX + "mlflow_parent_run_id"  # the study's parent MLflow run
FINAL_ATTR = ATTR_PREFIX + "final"  # the best trial's final run: trial, run id, metrics
# on each trial:
WORKER_ATTR = ATTR_PREFIX + "worker"  # the worker process that ran it
SURPLUS_ATTR = ATTR_PREFIX + "surplus"  # ended before any work: the requested total was reached
PARAMS_ATTR = ATTR_PREFIX + "params"  # every param of the trial, fixed ones included
RUN_ID_ATTR = ATTR_PREFIX + "mlflow_run_id"  # the trial's MLflow run


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs, MLflow and error messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable URL: show only the scheme
        return url.split("://", 1)[0] + "://***"


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {"pool_pre_ping": True}


def open_storage(url: str, heartbeat_interval: int | None = None, grace_period: int | None = None):
    """An RDBStorage with heartbeat and retry of stale trials; FerbenchError when unusable."""
    import optuna
    import sqlalchemy.exc as sa_exc
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    heartbeat_interval = heartbeat_interval or int(os.environ.get("FERBENCH_HEARTBEAT_S", 10))
    grace_period = grace_period or int(os.environ.get("FERBENCH_GRACE_S", 3 * heartbeat_interval))
    shown = mask_url(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        parent = os.path.dirname(os.path.abspath(url[len("sqlite:///") :]))
        if not os.path.isdir(parent):
            raise FerbenchError(f"--storage {shown}: directory {parent} does not exist")
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # experimental heartbeat warnings
                return RDBStorage(
                    url,
                    engine_kwargs=_engine_kwargs(url),
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
        except (sa_exc.IntegrityError, sa_exc.ProgrammingError) as exc:
            # concurrent table/type creation by another worker: wait, then the tables exist
            if attempt == 5:
                raise FerbenchError(f"--storage {shown}: cannot create tables: {first_line(exc)}") from None
            time.sleep(0.5 + random.random())
        except ImportError as exc:
            cause = exc.__cause__ or exc
            raise FerbenchError(f"--storage {shown}: database driver missing: {first_line(cause)}") from None
        except sa_exc.ArgumentError as exc:
            raise FerbenchError(f"--storage {shown}: not a usable SQLAlchemy URL: {first_line(exc)}") from None
        except sa_exc.OperationalError as exc:
            raise FerbenchError(f"--storage {shown}: cannot connect: {first_line(exc.orig or exc)}") from None
        except (sa_exc.SQLAlchemyError, optuna.exceptions.StorageInternalError, RuntimeError) as exc:
            raise FerbenchError(f"--storage {shown}: cannot be used: {first_line(exc)}") from None


def read_identity(study) -> dict[str, str]:
    attrs = study.user_attrs
    return {key: str(attrs[ATTR_PREFIX + key]) for key in IDENTITY if ATTR_PREFIX + key in attrs}


def create_or_load(storage, name: str, identity: dict[str, str], sampler, pruner, wait_s: float = 60):
    """(study, created): create the study once (racing workers: one INSERT wins), else load it
    and check that it belongs to the same family, data set, protocol and direction."""
    import optuna

    created = False
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=optuna.study.StudyDirection[identity["direction"].upper()],
            sampler=sampler,
            pruner=pruner,
        )
        for key, value in identity.items():
            study.set_user_attr(ATTR_PREFIX + key, value)
        with warnings.catch_warnings():  # experimental in Optuna 5; optuna-dashboard shows the name
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([OBJECTIVE_NAME])
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        deadline = time.time() + wait_s
        # the creator sets the identity right after its INSERT; give it a moment
        while not read_identity(study) and study.get_trials(deepcopy=False) == [] and time.time() < deadline:
            time.sleep(0.5)
    check_identity(study, name, identity)
    return study, created


def check_identity(study, name: str, identity: dict[str, str]) -> None:
    direction = study.direction.name.lower()
    if direction != identity["direction"]:
        raise FerbenchError(f"study {name!r} exists with direction {direction}, not {identity['direction']}")
    found = read_identity(study)
    if not found:
        raise FerbenchError(f"study {name!r} exists but was not created by ferbench tune; choose another --study")
    for key in IDENTITY:
        if key in found and found[key] != identity[key]:
            raise FerbenchError(
                f"study {name!r} exists with {key} {found[key]!r}, not {identity[key]!r}; choose another --study"
            )


def state_counts(trials) -> dict[str, int]:
    counts = {state: 0 for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")}
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def counts_text(counts: dict[str, int], target: int | None = None) -> str:
    """ "5 complete, 2 pruned, 1 failed" (running and waiting when there are any), then the
    target of finished trials: a total of trials is never mistaken for complete ones."""
    text = f"{counts.get('COMPLETE', 0)} complete, {counts.get('PRUNED', 0)} pruned, {counts.get('FAIL', 0)} failed"
    for state in ("RUNNING", "WAITING"):
        if counts.get(state):
            text += f", {counts[state]} {state.lower()}"
    if target is not None:
        done = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
        text += f"; {done} of {target} finished trials (complete + pruned) wanted"
    return text


def summaries(storage) -> list[dict[str, Any]]:
    """One row per study: name, family, data set, trial counts per state, best value."""
    import optuna

    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=True):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        best = summary.best_trial
        rows.append(
            {
                "study": summary.study_name,
                "family": summary.user_attrs.get(ATTR_PREFIX + "family", ""),
                "dataset": summary.user_attrs.get(ATTR_PREFIX + "dataset", ""),
                "protocol": summary.user_attrs.get(ATTR_PREFIX + "protocol", ""),
                "direction": summary.direction.name.lower(),
                "trials": len(trials),
                **{state.lower(): n for state, n in state_counts(trials).items()},
                "target": summary.user_attrs.get(TARGET_ATTR),
                "best_value": None if best is None else best.value,
                "best_trial": None if best is None else best.number,
            }
        )
    return rows


def trial_rows(storage, name: str) -> list[dict[str, Any]]:
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise FerbenchError(f"no study named {name!r} in this storage") from None
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "last_step": max(t.intermediate_values) if t.intermediate_values else None,
                "retry_of": t.system_attrs.get("failed_trial"),
                "duration_s": t.duration.total_seconds() if t.duration else None,
            }
        )
    return rows
