"""What earlier ferbench versions pickled under module paths that have moved since loads as today's
classes: the pyfunc model of every logged model (FamilyModel) and the leaderboard's cache file
(RunRecord)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ferbench import record
from ferbench.leaderboard import RunRecord, cache_path, search_our_runs
from ferbench.leaderboard import _cache as leaderboard_cache
from ferbench.testing import tiny_dataset
from test_leaderboard import fresh_store, migrated_db, our_run  # noqa: F401  (fixtures)


def as_pickled_by_an_earlier_version(obj, today: str, earlier: str) -> bytes:
    """`obj` pickled with its classes named under module `earlier` instead of `today`."""
    data = pickle.dumps(obj, protocol=2)  # protocol 2 names a class in text: "c<module>\n<name>\n"
    renamed = data.replace(f"c{today}\n".encode(), f"c{earlier}\n".encode())
    assert renamed != data, f"{today} is not named in the pickle"
    return renamed


@pytest.mark.parametrize(
    "module, name, today",
    [
        ("ferbench.record", "FamilyModel", lambda: record.FamilyModel),  # before record_models existed
        ("ferbench.record_models", "FamilyModel", lambda: record.FamilyModel),  # before ferbench.record/
        ("ferbench.leaderboard_cache", "RunRecord", lambda: RunRecord),  # before ferbench.leaderboard/
    ],
)
def test_a_class_pickled_under_its_earlier_path_is_todays(module, name, today):
    assert pickle.loads(f"c{module}\n{name}\n.".encode()) is today()


def test_no_other_name_is_made_up_at_the_earlier_paths():
    with pytest.raises(AttributeError):
        record.NoSuchThing  # noqa: B018


def test_a_model_logged_before_the_move_loads_and_predicts_alike(isolated_store, tiny_family):
    data = tiny_dataset()
    family = tiny_family().fit(data.part(), epochs=2)
    record.setup()
    with record.tracked_run(record.experiment_for("tinyset"), "model", {}) as run_id:
        record.log_family_model(run_id, family, data.images[:2], data.class_names)
    [stored] = isolated_store.rglob("python_model.pkl")
    model = pickle.loads(stored.read_bytes())
    stored.write_bytes(as_pickled_by_an_earlier_version(model, "ferbench.record._models", "ferbench.record_models"))
    loaded = record.load_model(run_id)
    assert type(loaded.pyfunc.unwrap_python_model()) is record.FamilyModel
    np.testing.assert_allclose(loaded.predict_proba(data.images), family.predict_proba(data.part()), rtol=1e-6)


def test_a_leaderboard_cache_written_before_the_move_is_read_not_rebuilt():
    run_id = our_run()
    client = record.setup()
    assert [r.run_id for r in search_our_runs(client)] == [run_id]  # writes the cache file
    path = cache_path(client.tracking_uri)
    state = pickle.loads(path.read_bytes())
    earlier = as_pickled_by_an_earlier_version(state, "ferbench.leaderboard._cache", "ferbench.leaderboard_cache")
    path.write_bytes(earlier)
    loaded = leaderboard_cache._load(path, client.tracking_uri)
    assert loaded is not None and [type(r) for r in loaded["runs"].values()] == [RunRecord]
    assert loaded["runs"][run_id] == state["runs"][run_id]
