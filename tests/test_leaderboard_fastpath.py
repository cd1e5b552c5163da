"""The leaderboard's SQL fast path reads the same runs, in the same order, as MlflowClient.search_runs."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from ferbench import leaderboard, record
from ferbench.leaderboard import RUN_FILTER, experiment_ids
from test_leaderboard import our_run


def odd_run(dataset="fer2013", status="FINISHED", kind="run", source="ferbench", metrics=None):
    """A run our_run cannot make: another status, kind or source, or a NaN metric."""
    client = record.setup()
    tags = {
        "source": source,
        "ferbench.kind": kind,
        "ferbench.family": "deeper_cnn",
        "ferbench.dataset": dataset,
        "ferbench.protocol": "official",
    }
    run_id = client.create_run(record.experiment_for(dataset), tags=tags).info.run_id
    now = int(time.time() * 1000)
    metrics = metrics or {"test_accuracy": 0.3}
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
        params=[Param("lr", "0.01")],
        tags=[RunTag("mlflow.note.content", "kept out")],
    )
    if status != "RUNNING":
        client.set_terminated(run_id, status=status)
    return run_id


@pytest.fixture
def mixed_store():
    """Runs the leaderboard must read, and runs its filter must leave out."""
    shown = [
        our_run(test=0.4),
        our_run(test=0.5, seed=1, std=0.02),
        our_run(dataset="jaffe", protocol="kfold:10", extra={"test_macro_f1": 0.3}),
        odd_run(metrics={"test_accuracy": math.nan, "val_accuracy": 0.2}),
    ]
    hidden = [
        odd_run(status="FAILED"),
        odd_run(status="RUNNING"),
        odd_run(kind="fold"),
        odd_run(kind="trial"),
        odd_run(source="published"),
    ]
    deleted = our_run(test=0.7)
    record.setup().delete_run(deleted)
    elsewhere = record.setup().create_experiment("not-ferbench")  # not among experiment_ids
    record.setup().create_run(elsewhere, tags={"source": "ferbench", "ferbench.kind": "run"})
    return shown, hidden, deleted


def comparable(records):
    """Records with NaN spelt out (NaN != NaN would make equal records differ)."""
    return [
        (
            r.run_id,
            r.experiment_id,
            r.end_time,
            r.tags,
            r.params,
            {k: "nan" if math.isnan(v) else v for k, v in r.metrics.items()},
        )
        for r in records
    ]


def test_the_fast_path_applies_to_mlflows_sql_store():
    """Fails if an MLflow upgrade moved the helpers the fast path uses (it would fall back silently)."""
    assert leaderboard.sql_store(record.setup()) is not None


def test_other_stores_and_overriding_subclasses_use_search_runs():
    class OwnSearch(SqlAlchemyStore):
        def _search_runs(self, *args, **kwargs):
            raise NotImplementedError

    for store in (object(), OwnSearch.__new__(OwnSearch)):
        client = SimpleNamespace(_tracking_client=SimpleNamespace(store=store))
        assert leaderboard.sql_store(client) is None


def test_fast_path_reads_what_search_runs_reads(mixed_store, monkeypatch):
    shown, hidden, deleted = mixed_store
    client = record.setup()
    ids = experiment_ids(client)
    slow = leaderboard.search(client, ids, RUN_FILTER, fast=False)
    assert sorted(r.run_id for r in slow) == sorted(shown)

    def no_search_runs(*args, **kwargs):
        raise AssertionError("the fast path called search_runs")

    monkeypatch.setattr(client, "search_runs", no_search_runs)
    fast = leaderboard.search(client, ids, RUN_FILTER)
    assert comparable(fast) == comparable(slow)  # same runs, same order, same values
    nan_run = next(r for r in fast if r.run_id == shown[3])
    assert math.isnan(nan_run.metrics["test_accuracy"]) and "mlflow.note.content" not in nan_run.tags
    assert fast[0].tags["ferbench.kind"] == "run" and fast[0].params and fast[0].metrics

    monkeypatch.undo()
    since = min(r.end_time for r in slow)
    catch_up = f"{RUN_FILTER} AND attributes.end_time >= {since} AND attributes.run_id NOT IN ('{shown[0]}')"
    for query, view in ((catch_up, None), (RUN_FILTER, ViewType.DELETED_ONLY)):
        expected = leaderboard.search(client, ids, query, view, fast=False)
        assert comparable(leaderboard.search(client, ids, query, view)) == comparable(expected)
    gone = leaderboard.search(client, ids, RUN_FILTER, ViewType.DELETED_ONLY)
    assert [r.run_id for r in gone] == [deleted]
    assert len(leaderboard.search(client, ids, catch_up)) == len(shown) - 1
