"""Train and evaluate one family under one protocol, recorded as one MLflow run.

Everything that can be wrong with the request (family, params, protocol and its folds, epochs,
input size, store) is checked in `prepare` before any MLflow run exists, so bad input leaves
nothing behind. Multi-fold protocols train once per fold: k-fold with k <= 20 gets one child run
per fold (ferbench.kind=fold) and per-fold values as steps; every multi-fold run keeps them as a
table (evaluation/folds.csv), which is all that larger k and leave-one-out get: hundreds of
steps of 0/1 per metric chart nothing and cost the store one row each.

A run that is stopped (Ctrl-C, SIGTERM, a crash, SIGKILL, a lost machine) keeps its checkpoint
(ferbench.checkpoints) and `resume` goes on with it in the same MLflow run; a finished run's
checkpoint is removed. Every run's pooled test predictions are logged per image, with a bootstrap
confidence interval of its test accuracy.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ferbench.errors import stopped_run
from ferbench.record.tags import TAG_DEVICE, TAG_FOLD, TAG_KIND, TAG_MODEL_FOLD
from ferbench.run_plan import Plan, RunResult, family_folds, prepare, resolve_protocol

MAX_CHILD_RUNS = 20
__all__ = ["Plan", "RunResult", "execute", "family_folds", "prepare", "resolve_protocol", "resume", "run"]


def run(
    family_name,
    dataset,
    *,
    protocol=None,
    params=None,
    epochs=None,
    seed=0,
    tracking_uri=None,
    quiet=False,
    extra_tags=None,
    log_model=True,
    parent_run_id=None,
    log_figures=True,
    fold_runs=True,
    epoch_hook=None,
) -> RunResult:
    """Validate, then train and evaluate `family_name` on `dataset` under `protocol`.
    log_figures=False / fold_runs=False: no confusion PNG and no child run per fold (a grid's
    cells, which are child runs themselves; their fold values are still logged as steps).
    epoch_hook(family, epoch, logs): called after every epoch (ferbench.fold_training)."""
    start = time.perf_counter()
    plan = prepare(
        family_name, dataset, protocol=protocol, params=params, epochs=epochs, seed=seed, tracking_uri=tracking_uri
    )
    return execute(
        plan,
        quiet=quiet,
        extra_tags=extra_tags,
        log_model=log_model,
        parent_run_id=parent_run_id,
        start=start,
        log_figures=log_figures,
        fold_runs=fold_runs,
        epoch_hook=epoch_hook,
    )


def resume(
    run_id: str,
    dataset,
    *,
    family: str | None = None,
    tracking_uri: str | None = None,
    quiet: bool = False,
    parent_run_id: str | None = None,
    epoch_hook=None,
) -> RunResult:
    """Go on with a stopped run in the same MLflow run (RUNNING again, then FINISHED): folds it
    finished are not retrained, and a fold's fit repeats at most the epoch that was cut. The run's
    family, params, protocol, seed and epochs come from the run itself; `family` and `dataset`
    must be the run's (checked, with every other reason to refuse, by ferbench.resume)."""
    from ferbench.resume import reopen

    start = time.perf_counter()
    plan, options, tags = reopen(run_id, dataset, family=family, tracking_uri=tracking_uri, parent_run_id=parent_run_id)
    return execute(
        plan, quiet=quiet, extra_tags=tags, start=start, resume_run_id=run_id, epoch_hook=epoch_hook, **options
    )


class _Timer:
    """Sums the time spent talking to MLflow, to check the logging share of a run."""

    def __init__(self):
        self.total = 0.0

    def __call__(self, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.total += time.perf_counter() - t0


def execute(
    plan: Plan,
    *,
    quiet=False,
    extra_tags=None,
    log_model=True,
    parent_run_id=None,
    start=None,
    log_figures=True,
    fold_runs=True,
    resume_run_id=None,
    epoch_hook=None,
) -> RunResult:
    """Train and evaluate `plan` as one MLflow run. Until the run finishes it keeps a checkpoint
    (ferbench.checkpoints): its lease, every finished fold and, for families with epoch
    checkpoints, each unfinished fold's newest epoch. resume_run_id: go on with that run from its
    checkpoint instead of creating one (`resume` checks first that it may)."""
    from ferbench import checkpoints, leases, record
    from ferbench.progress import progress

    start = time.perf_counter() if start is None else start
    timed = _Timer()
    family_cls = plan.family_cls
    tags = record.common_tags(family_cls, plan.dataset, plan.protocol, plan.seed, plan.params)
    tags.update({k: str(v) for k, v in (extra_tags or {}).items()})
    name = f"{family_cls.name}-{plan.protocol.name}-s{plan.seed}"
    options = {"log_model": log_model, "log_figures": log_figures, "fold_runs": fold_runs}
    opened = (
        record.tracked_run(plan.experiment_id, name, tags, parent_run_id)
        if resume_run_id is None
        else record.reopened_run(resume_run_id)
    )
    lease, run_id, pending = None, resume_run_id, None
    try:
        if resume_run_id is None:
            pending = checkpoints.RunCheckpoint.prepare(
                options, family=family_cls.name, dataset=plan.dataset.name, tracking_uri=record.current_uri()
            )
            lease = leases.Holder(pending, 0.0)
        else:
            # a fresh lease before the run is RUNNING again: other commands close a RUNNING run
            # whose lease is stale (ferbench.stale_runs), as the old lease is
            saved = checkpoints.RunCheckpoint.open(resume_run_id)
            wall_before = getattr(leases.read(saved.directory), "wall_s", 0.0)
            lease = leases.Holder(saved.directory, wall_before)
        with opened as run_id, progress(quiet) as bars:
            if pending is not None:  # a new run: its checkpoint moves to the run's id
                lease.move(pending, checkpoints.run_dir(run_id))
                pending, saved, wall_before = None, checkpoints.RunCheckpoint(run_id, options), 0.0
                timed(record.log, run_id, params=_run_params(plan))
            # also on resume: a run made by an earlier version gets its input (MLflow keeps one)
            timed(
                record.log_dataset,
                run_id,
                plan.dataset,
                record.EVALUATION if family_cls.evaluated_as_is else record.TRAINING,
            )
            summary, fold_metrics, curves = _run_folds(
                plan, run_id, name, tags, options, saved, lease, bars, timed, epoch_hook
            )
            # one last call for every figure: the run's metrics and its wall time (over every
            # process that worked on it), which then covers all but this call
            summary["wall_time_s"] = time.perf_counter() - start + wall_before
            timed(
                record.log,
                run_id,
                metrics={**summary, "logging_time_s": timed.total},
                curves=curves,
                tags={TAG_DEVICE: training_device()},
            )
    except BaseException as exc:
        stopped_run(exc, run_id)
        raise
    finally:
        if lease is not None:  # after MLflow ended the run: a RUNNING run's lease is never released
            lease.release()
        if pending is not None:  # no run was created: nothing may be left behind
            checkpoints.remove_tree(pending)
    saved.remove()
    # the returned times include that last call
    return RunResult(
        run_id,
        family_cls.name,
        plan.dataset.name,
        plan.protocol.name,
        dict(plan.params),
        summary,
        fold_metrics,
        time.perf_counter() - start + wall_before,
        timed.total,
    )


def training_device() -> str:
    """What this process trained on: TensorFlow's first GPU when it sees one (Keras places its
    work there), else "CPU". Asked once training is done, so a process that never loaded
    TensorFlow (a numpy family, cached features) does not load it for this: it used the CPU."""
    if "tensorflow" not in sys.modules:
        return "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    return str(tf.config.experimental.get_device_details(gpus[0]).get("device_name") or gpus[0].name)


def _run_params(plan: Plan) -> dict[str, Any]:
    return {
        **plan.params,
        "protocol": plan.protocol.name,
        "seed": plan.seed,
        "epochs": plan.epochs if plan.epochs is not None else "n/a",
    }


def _run_folds(plan: Plan, run_id, name, tags, options, saved, lease, bars, timed, epoch_hook=None):
    """Train the folds not finished yet (a resumed run has the others in its checkpoint), log
    each as it ends, then evaluate the pooled test predictions. Returns (summary, per-fold
    metrics, curves for the run's last log call: per-fold steps, or a single fold's epochs)."""
    from ferbench import record
    from ferbench.evaluate import aggregate, bootstrap_ci, classification_metrics
    from ferbench.fold_training import trained_folds
    from ferbench.predictions import log_predictions
    from ferbench.record import log_evaluation_artifacts

    dataset, folds = plan.dataset, plan.folds
    multi = len(folds) > 1
    children = options["fold_runs"] and multi and plan.protocol.kind != "loo" and len(folds) <= MAX_CHILD_RUNS
    done = saved.finished_folds()
    trained = trained_folds(plan, [fold for fold in folds if fold.name not in done], bars, saved, lease, epoch_hook)
    fold_metrics, fold_probas, curves = [], [], None
    folds_task = bars.add(f"{plan.family_cls.name}: folds", len(folds)) if multi else None
    for number, fold in enumerate(folds):
        if fold.name in done:  # finished and logged by an earlier process
            metrics, proba, curves = done[fold.name].metrics, done[fold.name].proba, done[fold.name].curves
        else:
            family, metrics, proba, curves = next(trained)
            if children:
                child_tags = {**tags, TAG_KIND: "fold", TAG_FOLD: fold.name}
                with record.tracked_run(plan.experiment_id, f"{name}-{fold.name}", child_tags, run_id) as child_id:
                    timed(record.log, child_id, params=_run_params(plan), metrics=metrics, curves=curves)
            if options["log_model"] and number == 0:
                timed(record.log_family_model, run_id, family, dataset.images[fold.test[:2]], dataset.class_names)
                if multi:
                    timed(record.log, run_id, tags={TAG_MODEL_FOLD: fold.name})
            saved.record_fold(fold.name, metrics, proba, curves)
            lease.renew()
        fold_metrics.append(metrics)
        fold_probas.append(proba)
        bars.advance(folds_task)
    bars.done(folds_task)
    summary = aggregate(fold_metrics) if multi else dict(fold_metrics[0])
    per_fold = list(fold_metrics[0])
    rows = np.concatenate([fold.test for fold in folds])  # data set rows in pooled order
    pooled_true, pooled_proba = dataset.labels[rows], np.concatenate(fold_probas)
    if plan.protocol.kind == "loo":
        # one test image per fold: class-wise figures only exist over the pooled predictions
        pooled = classification_metrics(pooled_true, pooled_proba, dataset.class_names)
        class_wise = set(pooled) - {"test_accuracy"}
        per_fold = [k for k in per_fold if k not in class_wise]
        summary = {k: v for k, v in summary.items() if k.removesuffix("_std") not in class_wise}
        summary.update(pooled)
    fold_values = {f"fold_{k}": [m.get(k, np.nan) for m in fold_metrics] for k in per_fold} if multi else None
    timed(
        log_evaluation_artifacts,
        run_id,
        pooled_true,
        pooled_proba,
        dataset.class_names,
        figure=options["log_figures"],
        folds=([f.name for f in folds], fold_values) if multi else None,
    )
    timed(log_predictions, run_id, rows, pooled_true, pooled_proba, fingerprint=dataset.fingerprint)
    low, high = bootstrap_ci(pooled_true, pooled_proba.argmax(axis=1), seed=plan.seed)
    summary.update(test_accuracy_ci_low=low, test_accuracy_ci_high=high)
    if multi:
        curves = fold_values if len(folds) <= MAX_CHILD_RUNS else None
    return summary, fold_metrics, curves
