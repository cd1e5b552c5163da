"""The leaderboard's incremental run cache: only new runs are fetched; deletions are seen."""

from __future__ import annotations

import pytest

from ferbench import record
from ferbench.leaderboard import _cache as leaderboard_cache  # patched where finished_runs looks it up
from ferbench.leaderboard import search_our_runs
from test_leaderboard import fresh_store, migrated_db, our_run  # noqa: F401  (fixtures)


@pytest.fixture
def fetched(monkeypatch):
    """The runs each MLflow search returned, call by call."""
    calls = []
    real = leaderboard_cache.search

    def counting(client, ids, query, view_type=None):
        runs = real(client, ids, query, view_type)
        calls.append((query, view_type, len(runs)))
        return runs

    monkeypatch.setattr(leaderboard_cache, "search", counting)
    return calls


def ids(runs):
    return sorted(r.run_id for r in runs)


def test_second_read_fetches_only_new_runs(fetched):
    first = [our_run(test=0.4), our_run(test=0.5, family="deeper_cnn")]
    client = record.setup()
    assert ids(search_our_runs(client)) == sorted(first)
    assert fetched[-1][2] == 2
    newer = our_run(test=0.6)
    runs = search_our_runs(client)
    assert ids(runs) == sorted(first + [newer])
    active = [c for c in fetched[1:] if c[1] is None]
    assert len(active) == 1 and active[0][2] == 1 and "NOT IN" in active[0][0]  # only the new run came back
    assert ids(search_our_runs(client, family="deeper_cnn")) == [first[1]]


def test_deleted_runs_and_experiments_leave_the_cache():
    client = record.setup()
    keep, gone = our_run(), our_run()
    other = our_run(dataset="jaffe", protocol="kfold:10")
    assert len(search_our_runs(client)) == 3
    client.delete_run(gone)
    assert ids(search_our_runs(client)) == sorted([keep, other])
    client.delete_experiment(client.get_experiment_by_name("ferbench-jaffe").experiment_id)
    assert ids(search_our_runs(client)) == [keep]


def test_refresh_and_an_unreadable_cache_give_a_full_read(fetched):
    client = record.setup()
    run = our_run()
    search_our_runs(client)
    path = leaderboard_cache.cache_path(client.tracking_uri)
    assert path.exists()
    path.write_bytes(b"not a pickle")
    assert ids(search_our_runs(client)) == [run]
    assert "end_time" not in fetched[-1][0]  # a full read, not a catch-up
    assert ids(search_our_runs(client, refresh=True)) == [run]
    assert "end_time" not in fetched[-1][0]
    assert not list(path.parent.glob("*.tmp"))
