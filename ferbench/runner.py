"""Train and evaluate one family under one protocol, recorded as one MLflow run.

Everything that can be wrong with the request (family, params, protocol and its folds, epochs,
input size, store) is checked in `prepare` before any MLflow run exists, so bad input leaves
nothing behind. Multi-fold protocols train once per fold: k-fold with k <= 20 gets one child run
per fold (ferbench.kind=fold) and per-fold values as steps; every multi-fold run keeps them as a
table (evaluation/folds.csv), which is all that larger k and leave-one-out get: hundreds of
steps of 0/1 per metric chart nothing and cost the store one row each.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ferbench.errors import FerbenchError

MAX_CHILD_RUNS = 20
# Names of family history_ keys -> MLflow per-epoch curve names.
CURVES = {"loss": "epoch_loss", "accuracy": "epoch_accuracy",
          "val_loss": "epoch_val_loss", "val_accuracy": "epoch_val_accuracy"}


@dataclass
class RunResult:
    run_id: str
    family: str
    dataset: str
    protocol: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fold_metrics: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    logging_time_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        keys = ("run_id", "family", "dataset", "protocol", "params", "metrics")
        return {key: asdict(self)[key] for key in keys}


@dataclass
class Plan:
    family_cls: type
    dataset: Any
    protocol: Any
    folds: list
    params: dict[str, Any]
    epochs: int | None
    seed: int
    experiment_id: str


def check_input(family_cls, params: dict[str, Any], dataset) -> None:
    """Can the data serve the family's input? A family may define `check_input(image_shape,
    params)` itself; the default needs a matching size unless the family resizes, and matching
    channels unless it converts grey to RGB."""
    own = getattr(family_cls, "check_input", None)
    if callable(own):
        own(dataset.image_shape, params)
        return
    height, width, channels = family_cls.input_shape
    shape = dataset.image_shape
    have_c = 1 if len(shape) == 2 else shape[2]
    steps = set(family_cls.preprocessing)
    if tuple(shape[:2]) != (height, width) and "resize" not in steps:
        raise FerbenchError(
            f"family {family_cls.name} needs {height}x{width} images; data set {dataset.name!r} "
            f"has {shape[0]}x{shape[1]} and the family does not resize"
        )
    if have_c != channels and not (have_c == 1 and channels == 3 and "grey_to_rgb" in steps):
        raise FerbenchError(
            f"family {family_cls.name} needs {channels}-channel images; data set "
            f"{dataset.name!r} has {have_c}"
        )


def resolve_protocol(family_cls, dataset, protocol: str | None, seed: int):
    """(Protocol, folds). Without an explicit text: the family's paper protocol when it applies
    to this data set, else the data set's default."""
    from ferbench.protocols import default_protocol, parse_protocol

    if protocol is not None:
        parsed = parse_protocol(protocol)
        return parsed, family_folds(family_cls, parsed, dataset, seed)
    if family_cls.default_protocol:
        parsed = parse_protocol(family_cls.default_protocol)
        try:
            return parsed, family_folds(family_cls, parsed, dataset, seed)
        except FerbenchError:
            pass  # the paper's protocol does not fit this data set: use the data set's own
    parsed = parse_protocol(default_protocol(dataset))
    return parsed, family_folds(family_cls, parsed, dataset, seed)


def family_folds(family_cls, protocol, dataset, seed: int):
    """A protocol's folds as this family trains on them: a validation part is carved from each
    fold's training rows only for families that use one (family_cls.validation_fraction)."""
    return protocol.folds(dataset, seed=seed, val_fraction=family_cls.validation_fraction)


def prepare(family_name, dataset, *, protocol=None, params=None, epochs=None, seed=0,
            tracking_uri=None, check_available=True) -> Plan:
    """Check the whole request and open the store; no MLflow run is created here.
    check_available=False skips `unavailable_reason()` (which judges the family's *defaults*)
    for callers whose params make it runnable, e.g. bench with a family's `bench_params`."""
    from ferbench import record
    from ferbench.families import registry

    family_cls = registry.get(family_name)
    # unavailable_reason() judges the defaults (e.g. ImageNet weights missing); a caller that
    # chooses the weights itself (--weights none / a file) is judged by the family's own checks.
    if params and "weights" in params:
        check_available = False
    reason = family_cls.unavailable_reason() if check_available else None
    if reason:
        raise FerbenchError(f"family {family_name} cannot run here: {reason}")
    resolved = family_cls(**(params or {})).params
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise FerbenchError(f"--epochs {epochs!r}: must be an integer >= 1")
    if family_cls.default_epochs is None:
        epochs = None  # the family does not train by epochs
    elif epochs is None:
        epochs = family_cls.default_epochs
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise FerbenchError(f"--seed {seed!r}: must be an integer >= 0")
    check_input(family_cls, resolved, dataset)
    parsed, folds = resolve_protocol(family_cls, dataset, protocol, seed)
    for fold in folds:
        if len(fold.train) == 0 or len(fold.test) == 0:
            raise FerbenchError(f"protocol {parsed.name}: fold {fold.name} has an empty part")
    record.setup(tracking_uri)
    experiment_id = record.experiment_for(dataset.name)
    return Plan(family_cls, dataset, parsed, folds, resolved, epochs, int(seed), experiment_id)


def run(family_name, dataset, *, protocol=None, params=None, epochs=None, seed=0,
        tracking_uri=None, quiet=False, extra_tags=None, log_model=True,
        parent_run_id=None, log_figures=True, fold_runs=True) -> RunResult:
    """Validate, then train and evaluate `family_name` on `dataset` under `protocol`.
    log_figures=False / fold_runs=False: no confusion PNG and no child run per fold (a grid's
    cells, which are child runs themselves; their fold values are still logged as steps)."""
    start = time.perf_counter()
    plan = prepare(family_name, dataset, protocol=protocol, params=params, epochs=epochs,
                   seed=seed, tracking_uri=tracking_uri)
    return execute(plan, quiet=quiet, extra_tags=extra_tags, log_model=log_model,
                   parent_run_id=parent_run_id, start=start, log_figures=log_figures, fold_runs=fold_runs)


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


def execute(plan: Plan, *, quiet=False, extra_tags=None, log_model=True, parent_run_id=None,
            start=None, log_figures=True, fold_runs=True) -> RunResult:
    from ferbench import record, record_models
    from ferbench.evaluate import aggregate, classification_metrics
    from ferbench.progress import progress

    start = time.perf_counter() if start is None else start
    timed = _Timer()
    dataset, family_cls = plan.dataset, plan.family_cls
    tags = record.common_tags(family_cls, dataset, plan.protocol, plan.seed, plan.params)
    tags.update({k: str(v) for k, v in (extra_tags or {}).items()})
    run_params = {**plan.params, "protocol": plan.protocol.name, "seed": plan.seed,
                  "epochs": plan.epochs if plan.epochs is not None else "n/a"}
    multi = len(plan.folds) > 1
    children = fold_runs and multi and plan.protocol.kind != "loo" and len(plan.folds) <= MAX_CHILD_RUNS
    name = f"{family_cls.name}-{plan.protocol.name}-s{plan.seed}"
    with record.tracked_run(plan.experiment_id, name, tags, parent_run_id) as run_id, \
            progress(quiet) as bars:
        timed(record.log, run_id, params=run_params)
        fold_metrics, pooled_true, pooled_proba = [], [], []
        folds_task = bars.add(f"{family_cls.name}: folds", len(plan.folds)) if multi else None
        for number, (fold, trained) in enumerate(zip(plan.folds, _trained_folds(plan, bars))):
            family, metrics, proba, curves = trained
            fold_metrics.append(metrics)
            pooled_true.append(dataset.labels[fold.test])
            pooled_proba.append(proba)
            if children:
                child_tags = {**tags, "ferbench.kind": "fold", "ferbench.fold": fold.name}
                with record.tracked_run(plan.experiment_id, f"{name}-{fold.name}", child_tags,
                                        run_id) as child_id:
                    timed(record.log, child_id, params=run_params, metrics=metrics, curves=curves)
            elif not multi:
                single_curves = curves  # logged with the summary, in the run's last call
            if log_model and number == 0:
                timed(record_models.log_family_model, run_id, family, dataset.images[fold.test[:2]],
                      dataset.class_names)
                if multi:
                    timed(record.log, run_id, tags={"ferbench.model_fold": fold.name})
            bars.advance(folds_task)
        bars.done(folds_task)
        summary = aggregate(fold_metrics) if multi else dict(fold_metrics[0])
        per_fold = list(fold_metrics[0])
        pooled_true, pooled_proba = np.concatenate(pooled_true), np.concatenate(pooled_proba)
        if plan.protocol.kind == "loo":
            # one test image per fold: class-wise figures only exist over the pooled predictions
            pooled = classification_metrics(pooled_true, pooled_proba, dataset.class_names)
            class_wise = set(pooled) - {"test_accuracy"}
            per_fold = [k for k in per_fold if k not in class_wise]
            summary = {k: v for k, v in summary.items() if k.removesuffix("_std") not in class_wise}
            summary.update(pooled)
        fold_values = {f"fold_{k}": [m.get(k, np.nan) for m in fold_metrics] for k in per_fold} if multi else None
        timed(record.log_evaluation_artifacts, run_id, pooled_true, pooled_proba, dataset.class_names,
              figure=log_figures, folds=([f.name for f in plan.folds], fold_values) if multi else None)
        # one last call for every figure: the run's metrics, its per-fold steps (or its single
        # fold's curves) and its wall time, which then covers all but this call
        curves = (fold_values if len(plan.folds) <= MAX_CHILD_RUNS else None) if multi else single_curves
        summary["wall_time_s"] = time.perf_counter() - start
        timed(record.log, run_id, metrics={**summary, "logging_time_s": timed.total}, curves=curves)
    # the returned times include that last call
    return RunResult(run_id, family_cls.name, dataset.name, plan.protocol.name, dict(plan.params),
                     summary, fold_metrics, time.perf_counter() - start, timed.total)


def _trained_folds(plan: Plan, bars):
    """Each fold's (family, metrics, test proba, curves), in fold order: side by side in threads
    for families that allow it (a feature family's LOO folds), else one after the other, so a
    Keras run logs each fold as soon as it is trained."""
    from ferbench.threads import thread_map

    def train(fold):
        return _train_fold(plan, fold, bars)

    if plan.family_cls.thread_safe_folds and len(plan.folds) > 1:
        # the first fold alone: what every fold shares (features, Gram) is made once, with all
        # BLAS threads, and a bad request fails before any thread starts
        first = train(plan.folds[0])
        return itertools.chain([first], thread_map(train, plan.folds[1:], ignore=plan.family_cls.expected_warnings()))
    return map(train, plan.folds)


def _train_fold(plan: Plan, fold, bars):
    """Fit one family on the fold's training part; metrics on test (+ val, train)."""
    from ferbench.evaluate import classification_metrics

    dataset, family_cls = plan.dataset, plan.family_cls
    train = dataset.part(fold.train)
    val = dataset.part(fold.val) if len(fold.val) else None
    family = family_cls(**plan.params)
    label = f"{family_cls.name} {fold.name}" if len(plan.folds) > 1 else family_cls.name
    task = bars.add(f"{label}: train", plan.epochs, images_per_step=len(train))

    def on_epoch(epoch: int, logs: dict[str, float]) -> None:
        shown = " ".join(f"{k}={v:.3f}" for k, v in logs.items() if k in CURVES)
        bars.advance(task, note=f"{label}: epoch {epoch + 1} {shown}")

    t0 = time.perf_counter()
    family.fit(train, val, epochs=plan.epochs, seed=plan.seed, callbacks=[on_epoch], verbose=False)
    fit_time = time.perf_counter() - t0
    bars.done(task)
    history = getattr(family, "history_", None) or {}
    curves = {CURVES[k]: list(v) for k, v in history.items() if k in CURVES}
    n_epochs = len(history.get("loss", [])) or (plan.epochs or 1)
    metrics = {"fit_time_s": fit_time, "train_images_per_s": len(train) * n_epochs / fit_time}
    if n_epochs and history.get("loss"):
        metrics["epochs_run"] = float(n_epochs)
    metrics.update(getattr(family, "metrics_", None) or {})  # family-specific, e.g. Ravi's A_JK
    proba = family.predict_proba(dataset.part(fold.test))
    metrics.update(classification_metrics(dataset.labels[fold.test], proba, dataset.class_names))
    if val is not None:
        val_proba = family.predict_proba(val)
        metrics.update(classification_metrics(val.labels, val_proba, dataset.class_names, "val_"))
    # Training accuracy: the last epoch's running figure when the family reports one (a second
    # pass over a large training part would cost minutes); else one prediction pass.
    if history.get("accuracy"):
        metrics["train_accuracy"] = float(history["accuracy"][-1])
    else:
        metrics["train_accuracy"] = float(np.mean(family.predict(train) == train.labels))
    return family, metrics, proba, curves
