"""Finding, reusing and making the runs of a reproduction.

A run's identity is family + params + epochs + data fingerprint + protocol + seed. A finished run
with that identity is reused whoever started it, so a reproduction never trains twice; one that
was cut off (killed, failed, or RUNNING with a stale lease) resumes from its checkpoint. A param
that a run does not record was added to the family after the run, and counts as its default:
new params are introduced with the default that keeps the old behaviour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ferbench.errors import FerbenchError
from ferbench.record.tags import (
    MLFLOW_PARENT_RUN_ID,
    TAG_CLASSES,
    TAG_FAMILY,
    TAG_FINGERPRINT,
    TAG_KIND,
    TAG_N_IMAGES,
    TAG_PROTOCOL,
    TAG_REPRODUCTION,
    TAG_REPRODUCTION_ROW,
    TAG_SEED,
    TAG_SOURCE,
    TAG_SPLIT_SIZES,
)

RUN_KEYS = {"protocol", "seed", "epochs"}  # run params that are not family params


@dataclass
class SeedRun:
    """The run that stands for one row and seed, and how it was obtained."""

    seed: int
    run_id: str
    how: str  # "reused" | "resumed" | "new"
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    filled: dict[str, str] = field(default_factory=dict)  # data facts the run did not record


def family_params(row) -> dict[str, Any]:
    from ferbench.families import registry

    return registry.get(row.family)(**row.params).params


def params_match(logged: dict[str, str], row) -> bool:
    """Does a run's logged params describe this row's configuration?"""
    from ferbench.families import registry
    from ferbench.record import param_text

    specs = registry.get(row.family).params_spec()
    if set(logged) - RUN_KEYS - set(specs):
        return False  # the run has params the family no longer declares: another configuration
    for name, value in family_params(row).items():
        if name in logged:
            if logged[name] != param_text(value):
                return False
        elif value != specs[name].default:
            return False
    return row.epochs is None or logged.get("epochs") == str(row.epochs)


def identity_filter(row, fingerprint: str, seed: int) -> str:
    from ferbench.protocols import parse_protocol

    wanted = {
        TAG_SOURCE: "ferbench",
        TAG_KIND: "run",
        TAG_FAMILY: row.family,
        TAG_FINGERPRINT: fingerprint,
        TAG_PROTOCOL: parse_protocol(row.protocol).name,
        TAG_SEED: str(seed),
    }
    return " AND ".join(f"tags.`{k}` = '{v}'" for k, v in wanted.items())


def candidates(experiment_id: str, row, fingerprint: str, seed: int) -> list:
    """Runs of this row's identity for one seed, newest first (MLflow Run objects)."""
    from ferbench import record

    runs = record.client().search_runs(
        [experiment_id],
        identity_filter(row, fingerprint, seed),
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    return [run for run in runs if params_match(dict(run.data.params), row)]


def finished(row, seed: int, dataset, experiment_id: str) -> SeedRun | None:
    """The newest finished run of this row and seed, with the data facts it lacks filled in
    (in memory: see `data_facts`), or None."""
    for run in candidates(experiment_id, row, dataset.fingerprint, seed):
        if run.info.status == "FINISHED":
            found = _seed_run(seed, run, "reused")
            found.filled = data_facts(run, dataset)
            found.tags.update(found.filled)
            return found
    return None


def obtain(row, seed: int, dataset, experiment_id: str, parent_run_id: str, *, quiet: bool) -> SeedRun:
    """The row's run for `seed`: reused when finished, resumed when cut off, else trained."""
    from ferbench import record, runner

    done = finished(row, seed, dataset, experiment_id)
    if done is not None:
        tags = dict(done.filled)
        if MLFLOW_PARENT_RUN_ID not in done.tags:  # a stand-alone run joins the reproduction
            tags.update(
                {MLFLOW_PARENT_RUN_ID: parent_run_id, TAG_REPRODUCTION: row.paper, TAG_REPRODUCTION_ROW: row.id}
            )
        if tags:
            record.log(done.run_id, tags=tags)
        return done
    for run in candidates(experiment_id, row, dataset.fingerprint, seed):
        if run.info.status != "FINISHED" and _resumable(run):
            result = runner.resume(run.info.run_id, dataset, family=row.family, quiet=quiet)
            return _seed_run(seed, record.client().get_run(result.run_id), "resumed")
    tags = {TAG_REPRODUCTION: row.paper, TAG_REPRODUCTION_ROW: row.id}
    result = runner.run(
        row.family,
        dataset,
        protocol=row.protocol,
        params=row.params,
        epochs=row.epochs,
        seed=seed,
        quiet=quiet,
        extra_tags=tags,
        parent_run_id=parent_run_id,
    )
    return _seed_run(seed, record.client().get_run(result.run_id), "new")


def data_facts(run, dataset) -> dict[str, str]:
    """Size and label-space tags a run recorded before ferbench wrote them. The run's content
    fingerprint equals the data set's (the search asked for it), so the facts are the data set's."""
    from ferbench import record

    facts = {
        TAG_N_IMAGES: str(len(dataset)),
        TAG_SPLIT_SIZES: json.dumps(record.split_sizes(dataset)),
        TAG_CLASSES: ",".join(dataset.class_names),
    }
    return {k: v for k, v in facts.items() if k not in run.data.tags}


def _resumable(run) -> bool:
    """A stopped run that left a checkpoint; a run whose owner still runs is refused outright,
    so two processes never train the same row and seed."""
    from ferbench import checkpoints, leases

    directory = checkpoints.run_dir(run.info.run_id)
    if not directory.is_dir():
        return False
    lease = leases.read(directory)
    if run.info.status == "RUNNING" and lease is not None and not leases.is_stale(lease):
        raise FerbenchError(f"run {run.info.run_id} of this row is still running ({leases.describe(lease)})")
    return True


def _seed_run(seed: int, run, how: str) -> SeedRun:
    return SeedRun(seed, run.info.run_id, how, dict(run.data.metrics), dict(run.data.params), dict(run.data.tags))


def parent_run(experiment_id: str, key: str, fingerprint: str) -> str:
    """The reproduction's parent run: the one an earlier call made for the same papers and data,
    reopened, or a new one."""
    from ferbench import record

    c = record.client()
    query = (
        f"tags.`{TAG_KIND}` = 'reproduction' AND tags.`{TAG_REPRODUCTION}` = '{key}' "
        f"AND tags.`{TAG_FINGERPRINT}` = '{fingerprint}'"
    )
    found = c.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1)
    if found:
        c.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    tags = {TAG_SOURCE: "ferbench", TAG_KIND: "reproduction", TAG_REPRODUCTION: key, TAG_FINGERPRINT: fingerprint}
    return c.create_run(experiment_id, run_name=f"reproduce-{key}", tags=tags).info.run_id


def check_dataset(rows, dataset_name: str | None) -> str:
    """The data set the chosen rows run on: the one given, or the rows' only one."""
    names = sorted({row.dataset for row in rows})
    if dataset_name is None:
        if len(names) > 1:
            raise FerbenchError(f"the chosen rows use data sets {', '.join(names)}: choose one with --dataset")
        return names[0]
    if dataset_name not in names:
        raise FerbenchError(f"--dataset {dataset_name}: the chosen rows use {', '.join(names)}, not {dataset_name}")
    return dataset_name
