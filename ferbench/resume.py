"""Whether a stopped run may go on, and its plan rebuilt from what the run recorded.

Every reason to refuse is one FerbenchError line, raised before anything is changed: an unknown
run, a finished one, another family or data set than the run's, a run whose owner still runs
(ferbench.leases), and a run with no checkpoint left.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ferbench.errors import FerbenchError
from ferbench.record.tags import (
    MLFLOW_PARENT_RUN_ID,
    TAG_FAMILY,
    TAG_FINGERPRINT,
    TAG_FOLD,
    TAG_KIND,
    TAG_PREFIX,
    TAG_RESUMES,
    TAG_SOURCE,
)


def reopen(
    run_id: str,
    dataset,
    *,
    family: str | None = None,
    tracking_uri: str | None = None,
    parent_run_id: str | None = None,
) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """Check that run `run_id` can go on with `dataset`, and rebuild its plan. Returns (plan, the
    runner's options the run started with, the run's own tags for its fold runs)."""
    from mlflow.exceptions import MlflowException

    from ferbench import checkpoints, leases, record

    client = record.setup(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise FerbenchError(f"unknown run id {run_id!r} in {record.current_uri()}") from None
    tags, status = run.data.tags, run.info.status
    if tags.get(TAG_KIND) != "run" or TAG_FAMILY not in tags:
        raise FerbenchError(f"run {run_id} is not a ferbench training run")
    if run.info.lifecycle_stage == "deleted":
        raise FerbenchError(f"run {run_id} was deleted; restore it in MLflow to resume it")
    if status == "FINISHED":
        raise FerbenchError(f"run {run_id} has finished: there is nothing to resume")
    if family is not None and tags[TAG_FAMILY] != family:
        raise FerbenchError(f"run {run_id} trained family {tags[TAG_FAMILY]}, not {family}")
    if tags.get(TAG_FINGERPRINT) != dataset.fingerprint:
        raise FerbenchError(
            f"data set {dataset.name!r} (fingerprint {dataset.fingerprint}) is not the one run "
            f"{run_id} trained on (fingerprint {tags.get(TAG_FINGERPRINT)})"
        )
    if parent_run_id and tags.get(MLFLOW_PARENT_RUN_ID) != parent_run_id:
        raise FerbenchError(f"run {run_id} is not nested under run {parent_run_id}")
    lease = leases.read(checkpoints.run_dir(run_id))
    if status == "RUNNING" and lease is not None and not leases.is_stale(lease):
        raise FerbenchError(f"run {run_id} is still running ({leases.describe(lease)})")
    saved = checkpoints.RunCheckpoint.open(run_id)
    plan = _plan(run, dataset, tracking_uri)
    # nothing changed so far; from here on the run is taken over
    _drop_unfinished_fold_runs(client, run, saved.finished_folds())
    record.log(run_id, tags={TAG_RESUMES: int(tags.get(TAG_RESUMES, 0)) + 1})
    own = {k: v for k, v in tags.items() if k.startswith(TAG_PREFIX) or k == TAG_SOURCE}
    return plan, saved.options, own


def _plan(run, dataset, tracking_uri):
    """The run's plan from its params: the family's own, protocol, seed and epochs."""
    from ferbench.families import registry
    from ferbench.run_plan import prepare

    params = run.data.params
    family_cls = registry.get(run.data.tags[TAG_FAMILY])
    own = {k: v for k, v in params.items() if k in family_cls.params_spec()}
    try:
        protocol, seed = params["protocol"], int(params["seed"])
        epochs = None if params.get("epochs", "n/a") == "n/a" else int(params["epochs"])
    except (KeyError, ValueError) as exc:
        raise FerbenchError(f"run {run.info.run_id} does not record its protocol, seed and epochs ({exc})") from None
    # a tuned run's final test may cover one fold of a protocol ("kfold:5#fold0")
    base, _, fold = protocol.partition("#fold")
    plan = prepare(
        family_cls.name,
        dataset,
        protocol=base,
        params=own,
        epochs=epochs,
        seed=seed,
        tracking_uri=tracking_uri,
        check_available=False,
    )
    if fold:
        from ferbench.protocols import OuterFold

        plan = replace(plan, protocol=OuterFold(plan.protocol, int(fold)), folds=[plan.folds[int(fold)]])
    return replace(plan, experiment_id=run.info.experiment_id)


def _drop_unfinished_fold_runs(client, run, finished) -> None:
    """Fold runs of folds that did not finish (cut while logging, or left RUNNING by a kill) go:
    those folds are trained and logged again."""
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.{MLFLOW_PARENT_RUN_ID} = '{run.info.run_id}'"
    )
    for child in children:
        if child.data.tags.get(TAG_KIND) == "fold" and child.data.tags.get(TAG_FOLD) not in finished:
            client.delete_run(child.info.run_id)
