"""The study loop of `ferbench tune`: trials added until the requested total is reached, then one
retraining of the best configuration."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.params import resolve
from ferbench.record.tags import TAG_PROTOCOL, TAG_SELECTED_ON, TAG_STUDY, TAG_TUNED
from ferbench.tuning._objective import (
    LOW_FIDELITY,
    WORKER_ID,
    Objective,
    Splits,
    SurplusTrialError,
    is_valid_low_fidelity,
    make_splits,
)
from ferbench.tuning._space import make_pruner, make_sampler, parse_space
from ferbench.tuning._storage import (
    FINAL_ATTR,
    PARENT_ATTR,
    TARGET_ATTR,
    WORKER_ATTR,
    create_or_load,
    mask_url,
    open_storage,
    state_counts,
)


@dataclass
class LoopResult:
    ran: list[int] = field(default_factory=list)
    finished: bool = False


def run_until(
    study,
    objective: Objective,
    total: int,
    *,
    sampler: str,
    seed: int,
    timeout: float | None = None,
    poll_s: float | None = None,
    on_trial=None,
    tracker=None,
) -> LoopResult:
    """Add trials until COMPLETE + PRUNED reaches `total` (or the timeout passes)."""
    from optuna.storages import fail_stale_trials

    poll_s = poll_s or max(1.0, (study._storage.get_heartbeat_interval() or 10) / 2)
    start, out = time.time(), LoopResult()
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fail_stale_trials is "experimental"
            fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        if tracker:
            tracker.close_orphans(trials)
        states = [t.state.name for t in trials]
        done = sum(s in ("COMPLETE", "PRUNED") for s in states)
        live = sum(s in ("RUNNING", "WAITING") for s in states)
        if done >= total:
            out.finished = True
            return out
        if timeout is not None and time.time() - start >= timeout:
            return out
        if done + live >= total and "WAITING" not in states:
            time.sleep(poll_s)  # the rest is running elsewhere (or in a dead worker, until stale)
            continue
        # distinct suggestions per worker, reproducible for one worker
        extra = [os.getpid()] if "RUNNING" in states else []
        study.sampler = make_sampler(
            sampler, int(np.random.SeedSequence([seed, len(trials), *extra]).generate_state(1)[0])
        )

        def record(study, frozen):
            if frozen.user_attrs.get(WORKER_ATTR) == WORKER_ID:
                out.ran.append(frozen.number)
                if on_trial:
                    on_trial(frozen)

        study.optimize(objective, n_trials=1, catch=(SurplusTrialError,), callbacks=[record], gc_after_trial=True)


@dataclass
class TuneResult:
    study: str
    storage: str
    total: int
    counts: dict
    ran: list[int]
    finished: bool
    best: dict | None
    final: dict | None
    parent_run_id: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def tune(
    family_name: str,
    dataset,
    *,
    trials: int,
    protocol: str | None = None,
    timeout: float | None = None,
    study_name: str | None = None,
    storage: str | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    seed: int = 0,
    fixed: dict | None = None,
    space: list[str] | None = None,
    epochs: int | None = None,
    tracking_uri: str | None = None,
    final: bool = True,
    low_fidelity=LOW_FIDELITY,
    echo=None,
) -> TuneResult:
    """Create or resume a study and run it to `trials` finished trials; then (once) retrain the
    best configuration and test it through `ferbench.runner.run`."""
    import optuna

    from ferbench import store
    from ferbench.families import registry
    from ferbench.protocols import default_protocol, parse_protocol
    from ferbench.tuning._mlflow import StudyTracker, best_config

    echo = echo or (lambda text: None)
    if trials <= 0:
        raise FerbenchError(f"--trials {trials}: must be a positive number of trials")
    if timeout is not None and timeout <= 0:
        raise FerbenchError(f"--timeout {timeout}: must be positive seconds")
    if epochs is not None and epochs <= 0:
        raise FerbenchError(f"--epochs {epochs}: must be positive")
    if not is_valid_low_fidelity(low_fidelity):
        raise FerbenchError(
            f"low_fidelity {tuple(low_fidelity)}: expected an image share in (0, 1) and an "
            "epoch share in (0, 1], or (0, 0) for no first rung"
        )
    family_cls = registry.get(family_name)
    reason = family_cls.unavailable_reason()
    if reason:
        raise FerbenchError(f"family {family_name} cannot run here: {reason}")
    spec = family_cls.params_spec()
    resolved = resolve(spec, dict(fixed or {}), f"family {family_name}")
    fixed_values = {k: resolved[k] for k in (fixed or {})}
    search_space = parse_space(spec, space, fixed_values)
    proto = parse_protocol(protocol or family_cls.default_protocol or default_protocol(dataset))
    epochs = epochs or family_cls.default_epochs
    splits = make_splits(dataset, proto, seed)
    n_steps = 3 + (epochs or 1)  # low-fidelity step 1, epochs 2..E+1, inner-CV mean E+2
    url = store.optuna_storage_url(storage)
    shown = mask_url(url)
    name = study_name or f"{family_name}-{dataset.name}-{proto.name}".replace(":", "")
    identity = {
        "family": family_name,
        "dataset": dataset.name,
        "fingerprint": dataset.fingerprint,
        "protocol": proto.name,
        "direction": "maximize",
    }
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rdb = open_storage(url)
    study, created = create_or_load(rdb, name, identity, make_sampler(sampler, seed), make_pruner(pruner, n_steps))
    tracker = StudyTracker(
        tracking_uri=tracking_uri,
        family_cls=family_cls,
        dataset=dataset,
        protocol_name=proto.name,
        study_name=name,
        storage_shown=shown,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        space=search_space,
        fixed=fixed_values,
        epochs=epochs,
        total=trials,
    )
    deadline = time.time() + 60
    while not created and not study.user_attrs.get(PARENT_ATTR) and time.time() < deadline:
        time.sleep(0.5)  # the creating worker opens the parent run right after the study
    tracker.attach(study)
    study.set_user_attr(TARGET_ATTR, trials)  # what --trials asked for last: finished trials
    echo(
        f"study {name} on {shown}: {'created' if created else 'resumed'}, target {trials} finished trials "
        f"(complete + pruned); objective: {splits.description}"
    )
    objective = Objective(
        family_cls,
        dataset,
        splits,
        fixed_values,
        search_space,
        epochs=epochs,
        seed=seed,
        total=trials,
        tracker=tracker,
        low_fidelity=low_fidelity,
    )

    def progress(t):
        value = "" if t.value is None else f" {'last ' if t.state.name == 'PRUNED' else ''}val_accuracy={t.value:.4f}"
        echo(f"trial {t.number}: {t.state.name}{value} compute {t.user_attrs.get('compute', 0)} training images")

    try:
        loop = run_until(
            study, objective, trials, sampler=sampler, seed=seed, timeout=timeout, on_trial=progress, tracker=tracker
        )
    except KeyboardInterrupt:
        tracker.close_orphans(study.get_trials(deepcopy=False))
        tracker.end("KILLED")
        raise
    except BaseException:
        tracker.end("FAILED")
        raise
    all_trials = study.get_trials(deepcopy=False)
    best = best_config(study, family_name, dataset, proto.name, epochs, seed)
    final_info = None
    if loop.finished and best and final and _should_finalize(study, all_trials, loop, best):
        final_info = _final_run(family_name, dataset, splits, best, epochs, seed, tracking_uri, tracker, echo)
        study.set_user_attr(FINAL_ATTR, {"trial": best["trial"], **final_info})
    tracker.summarize(study, best, final_info)
    tracker.end("FINISHED")
    return TuneResult(
        name,
        shown,
        trials,
        state_counts(all_trials),
        loop.ran,
        loop.finished,
        best,
        final_info or study.user_attrs.get(FINAL_ATTR),
        tracker.parent_id,
    )


def _should_finalize(study, trials, loop: LoopResult, best: dict) -> bool:
    """Exactly one worker retrains: the one that finished the last trial (or, when this call ran
    none, whoever finds the stored final run out of date)."""
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED") and t.datetime_complete]
    if loop.ran and done:
        return max(done, key=lambda t: t.datetime_complete).user_attrs.get(WORKER_ATTR) == WORKER_ID
    previous = study.user_attrs.get(FINAL_ATTR) or {}
    return previous.get("trial") != best["trial"]


def _final_run(family_name, dataset, splits: Splits, best: dict, epochs, seed, tracking_uri, tracker, echo) -> dict:
    """Retrain the best configuration on the training part and test once, as a normal run
    (tagged tuned=true and with the study), nested under the study's parent run."""
    from dataclasses import replace

    from ferbench.runner import execute, family_folds, prepare

    outer = splits.final_protocol
    echo(f"retraining trial {best['trial']} on the training part, testing once on {outer.name}")
    base = getattr(outer, "base", outer)
    plan = prepare(
        family_name,
        dataset,
        protocol=base.name,
        params=best["params"],
        epochs=epochs,
        seed=seed,
        tracking_uri=tracking_uri,
    )
    if outer is not base:  # multi-fold protocol: only the fold whose training part was tuned on
        plan = replace(plan, protocol=outer, folds=family_folds(plan.family_cls, outer, dataset, seed))
    tags = {TAG_TUNED: "true", TAG_STUDY: best["study"], TAG_SELECTED_ON: "val", TAG_PROTOCOL: outer.name}
    result = execute(plan, quiet=True, extra_tags=tags, parent_run_id=tracker.parent_id)
    return {"run_id": result.run_id, "metrics": {k: float(v) for k, v in result.metrics.items()}}
