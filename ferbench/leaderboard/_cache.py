"""Our finished runs as the leaderboard needs them, kept between calls and caught up incrementally.

Reading runs through MlflowClient.search_runs costs about 0.35 ms of CPU per run, 2.8 s for the
7,869 matching runs of a 10,000-run SQLite store (profiled: SQLAlchemy building an ORM object per
run, tag, param and metric, 45%; expiring them all at the session's commit, 25%; converting them
to MLflow entities, 15%; the SQL itself, under 10%). So on MLflow's own SQL store
(SqlAlchemyStore) `search` takes a fast path: the same filter string, translated into the same
WHERE clause by MLflow's own code (SearchUtils.parse_search_filter and the store's
_get_sqlalchemy_filter_clauses, in the store's own session), but selecting plain columns of
MLflow's runs, tags, params and latest_metrics tables instead of ORM entities: 0.7 s for the
same 7,869 runs, and the same records (tests/test_leaderboard_fastpath.py). Any other store (an
MLflow server over HTTP, a file store), or an MLflow whose helpers moved, reads through
search_runs. The fast path relies on MLflow internals: if it breaks, the test above fails.

Finished runs do not change, so the leaderboard keeps what it read in a local file per tracking
URI, and each call asks MLflow only for:
  - runs that finished since the newest one it holds (`attributes.end_time >= mark - SKEW_MS`
    and not among those it holds, with the same filter as a full read otherwise);
  - runs now deleted (`ViewType.DELETED_ONLY`), which are dropped;
  - the active experiments, so runs of a deleted experiment are dropped.
The same file keeps the leaderboard's paired tests by run-id pair (`paired_results`), for the
same reason. Edits to a finished run's tags, params or metrics after the fact, artifacts added
to it later, and runs restored from the trash, are not seen: `--refresh` (or deleting the
file) rebuilds it with one full read.
The file is replaced atomically, so concurrent readers always see a whole cache.
"""

from __future__ import annotations

import gc
import hashlib
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferbench.record.tags import TAG_PREFIX, TAG_SOURCE

CACHE_VERSION = 1
SKEW_MS = 10 * 60 * 1000  # clocks of other machines logging to the same server may lag ours
PAGE = 50_000  # MLflow's largest search page
ID_CHUNK = 500  # run ids per IN (...) in the fast path, as MLflow's own (old SQLite: 999 variables)
KEPT_TAG_PREFIXES = (TAG_PREFIX, TAG_SOURCE)
PAIRED = "paired_v1"  # the state's key for paired results; a new format takes a new key
_read: dict[str, dict] = {}  # tracking URI -> the state this process last read or wrote


@dataclass
class RunRecord:
    """The part of an MLflow run the leaderboard reads."""

    run_id: str
    experiment_id: str
    end_time: int
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]

    @classmethod
    def of(cls, run) -> RunRecord:
        tags = {k: v for k, v in run.data.tags.items() if k.startswith(KEPT_TAG_PREFIXES)}
        return cls(
            run.info.run_id,
            run.info.experiment_id,
            run.info.end_time or 0,
            tags,
            dict(run.data.params),
            dict(run.data.metrics),
        )


def search(client, experiment_ids: list[str], query: str, view_type=None, *, fast: bool = True) -> list[RunRecord]:
    """Every run matching `query` in the experiments, as RunRecords: through the SQL fast path when
    the store allows it (and `fast`), else through all pages of MlflowClient.search_runs."""
    from mlflow.entities import ViewType

    view_type = view_type or ViewType.ACTIVE_ONLY
    store = sql_store(client) if fast else None
    if store is not None:
        return _read_sql(store, experiment_ids, query, view_type)
    return [RunRecord.of(run) for run in search_runs(client, experiment_ids, query, view_type)]


def search_runs(client, experiment_ids: list[str], query: str, view_type) -> list:
    """All pages of one filtered MlflowClient.search_runs (MLflow Run entities)."""
    runs, token = [], None
    gc_was_on = gc.isenabled()
    gc.disable()  # MLflow builds an ORM object per tag/param/metric; GC passes cost ~40% more
    try:
        while True:
            page = client.search_runs(
                experiment_ids, filter_string=query, max_results=PAGE, page_token=token, run_view_type=view_type
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs
    finally:
        if gc_was_on:
            gc.enable()


def sql_store(client):
    """The client's MLflow SqlAlchemyStore when the fast path applies to it, else None: not for
    other stores, nor for a subclass that searches its own way, nor if MLflow's helpers moved."""
    try:
        from mlflow.store.tracking import sqlalchemy_store as mlflow_sql
    except ImportError:  # MLflow installed without its SQL store dependencies
        return None
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    base = mlflow_sql.SqlAlchemyStore
    if (
        not isinstance(store, base)
        or type(store)._search_runs is not base._search_runs
        or not all(hasattr(mlflow_sql, name) for name in _MLFLOW_HELPERS)
        or not hasattr(store, "_filter_experiment_ids")
    ):
        return None
    return store


_MLFLOW_HELPERS = (
    "_get_sqlalchemy_filter_clauses",
    "_parse_experiment_ids",
    "SearchUtils",
    "SqlRun",
    "SqlTag",
    "SqlParam",
    "SqlLatestMetric",
    "LifecycleStage",
)


def _read_sql(store, experiment_ids: list[str], query: str, view_type) -> list[RunRecord]:
    """What SqlAlchemyStore._search_runs returns for `query` (its joins, WHERE clause and order),
    read as plain columns: the matching runs, then the tags, params and latest metrics of those
    run ids, in chunks, as MLflow's own selectin loading does."""
    from mlflow.store.tracking import sqlalchemy_store as m
    from sqlalchemy import Select, select

    run = m.SqlRun
    with store.ManagedSessionMaker() as session:
        attribute_filters, joins, dataset_filters = m._get_sqlalchemy_filter_clauses(
            m.SearchUtils.parse_search_filter(query), session, store._get_dialect()
        )
        # start_time is selected because SELECT DISTINCT ... ORDER BY needs it on PostgreSQL
        stmt: Select[Any, Any, Any, Any] = select(run.run_uuid, run.experiment_id, run.end_time, run.start_time)
        for join in joins:
            stmt = stmt.join(join)
        for dataset in dataset_filters:
            stmt = stmt.join(dataset, run.run_uuid == dataset.c.destination_id)
        ids = store._filter_experiment_ids(session, m._parse_experiment_ids(list(experiment_ids)))
        stmt = (
            stmt.distinct()
            .where(
                run.experiment_id.in_(ids),
                run.lifecycle_stage.in_(m.LifecycleStage.view_type_to_stages(view_type)),
                *attribute_filters,
            )
            .order_by(run.start_time.desc(), run.run_uuid)
        )  # MLflow's default order
        conn = session.connection()
        records = {
            run_id: RunRecord(run_id, str(experiment_id), end_time or 0, {}, {}, {})
            for run_id, experiment_id, end_time, _ in conn.execute(stmt)
        }
        matched = list(records)
        tag, param, metric = m.SqlTag, m.SqlParam, m.SqlLatestMetric
        for at in range(0, len(matched), ID_CHUNK):
            chunk = matched[at : at + ID_CHUNK]
            for run_id, key, value in conn.execute(
                select(tag.run_uuid, tag.key, tag.value).where(tag.run_uuid.in_(chunk))
            ):
                if key.startswith(KEPT_TAG_PREFIXES):
                    records[run_id].tags[key] = value
            for run_id, key, value in conn.execute(
                select(param.run_uuid, param.key, param.value).where(param.run_uuid.in_(chunk))
            ):
                records[run_id].params[key] = value
            for run_id, key, value, is_nan in conn.execute(
                select(metric.run_uuid, metric.key, metric.value, metric.is_nan).where(metric.run_uuid.in_(chunk))
            ):
                records[run_id].metrics[key] = math.nan if is_nan else value  # as SqlLatestMetric does
    return list(records.values())


def cache_path(tracking_uri: str) -> Path:
    from ferbench import store

    digest = hashlib.blake2b(tracking_uri.encode(), digest_size=8).hexdigest()
    return store.cache_dir("leaderboard") / f"{digest}.pickle"


def _load(path: Path, tracking_uri: str) -> dict | None:
    try:
        with open(path, "rb") as handle:
            state = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return None  # absent or unreadable: a full read replaces it
    if not isinstance(state, dict) or state.get("version") != CACHE_VERSION or state.get("uri") != tracking_uri:
        return None
    return state


def _save(path: Path, state: dict) -> None:
    from ferbench import store

    with store.atomic_write(path) as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)


def finished_runs(client, experiment_ids: list[str], query: str, *, refresh: bool = False) -> list[RunRecord]:
    """Every run matching `query` in the experiments, from the cache plus what MLflow has new."""
    uri = client.tracking_uri
    path = cache_path(uri)
    state = None if refresh else _load(path, uri)
    changed = state is None
    if state is None or state["query"] != query:
        state = {"version": CACHE_VERSION, "uri": uri, "query": query, "mark": 0, "runs": {}}
        new = search(client, experiment_ids, query)
        changed = True
    else:
        since = max(0, state["mark"] - SKEW_MS)
        held = [r.run_id for r in state["runs"].values() if r.end_time >= since]  # ids are hex: no quoting
        known = f" AND attributes.run_id NOT IN ({', '.join(repr(i) for i in held)})" if held else ""
        new = search(client, experiment_ids, f"{query} AND attributes.end_time >= {since}{known}")
        if state["runs"]:
            from mlflow.entities import ViewType

            for gone in search(client, experiment_ids, query, ViewType.DELETED_ONLY):
                changed |= state["runs"].pop(gone.run_id, None) is not None
    for record in new:
        state["runs"][record.run_id] = record
        state["mark"] = max(state["mark"], record.end_time)
    if new or changed:
        _save(path, state)
    _read[uri] = state
    active = set(experiment_ids)
    return [r for r in state["runs"].values() if r.experiment_id in active]


def paired_results(client, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    """(verdict, p, note) of run A against run B for each run-id pair (A's side: better, worse,
    within noise; or a note instead), read from the cache file when computed before. A pair
    whose artifacts cannot be read (other than missing) is left out, and not kept."""
    from ferbench.errors import FerbenchError
    from ferbench.predictions import load_predictions

    loaded: dict[str, object] = {}

    def load(run_id: str):  # a run's artifact is read once, however many pairs it is in
        if run_id not in loaded:
            try:
                loaded[run_id] = load_predictions(run_id)
            except FerbenchError as exc:
                loaded[run_id] = exc
        value = loaded[run_id]
        if isinstance(value, Exception):
            raise value
        return value

    uri = client.tracking_uri
    state = _read.get(uri) or _load(cache_path(uri), uri)
    known = state.setdefault(PAIRED, {}) if state is not None else {}
    out, new = {}, False
    for pair in dict.fromkeys(pairs):
        if pair not in known:
            try:
                known[pair] = _paired(*pair, load)
                new = True
            except FerbenchError:
                continue
        out[pair] = known[pair]
    if new and state is not None:
        _save(cache_path(uri), state)
    return out


def _paired(run_a: str, run_b: str, load) -> tuple[str | None, float | None, str]:
    from ferbench.comparability import NO_PREDICTIONS
    from ferbench.errors import FerbenchError
    from ferbench.evaluate import paired_test
    from ferbench.predictions import align

    predictions = []
    for run_id in (run_a, run_b):
        try:
            predictions.append(load(run_id))
        except FerbenchError as exc:
            if NO_PREDICTIONS not in str(exc):
                raise  # unreadable, not missing: not worth keeping
            return None, None, NO_PREDICTIONS if run_id == run_a else f"best: {NO_PREDICTIONS}"
    try:
        y_true, pred_a, pred_b = align(*predictions)
    except FerbenchError:
        return None, None, "not the same test images"
    result = paired_test(y_true, pred_a, pred_b)
    return result.verdict, result.p_value, ""
