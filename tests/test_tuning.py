"""Tuning: exact totals across resumes, crash safety after kill -9, leakage-free splits, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ferbench.errors import FerbenchError
from ferbench.params import Float, Int

sys.path.insert(0, str(Path(__file__).parent))
from tuning_helpers import TinySGD, tiny_dataset, tiny_sgd  # noqa: E402, F401

pytestmark = pytest.mark.usefixtures("tiny_sgd")

HELPER = Path(__file__).parent / "tuning_helpers.py"


def _runs(kind: str, parent: str | None = None):
    from ferbench import record

    client = record.setup()
    filt = f"tags.`ferbench.kind` = '{kind}'"
    if parent:
        filt += f" and tags.mlflow.parentRunId = '{parent}'"
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, filter_string=filt, max_results=1000)


def _study(name: str, url: str | None = None):
    import optuna

    from ferbench import store

    return optuna.load_study(study_name=name, storage=url or store.optuna_storage_url())


def test_tune_then_resume_reaches_the_exact_total_and_reuses_the_parent_run():
    from ferbench.tuning import tune

    data = tiny_dataset()
    first = tune("tiny_sgd_test", data, trials=3, study_name="s1", final=False, seed=1)
    assert first.finished and first.counts["COMPLETE"] + first.counts["PRUNED"] == 3
    second = tune("tiny_sgd_test", data, trials=5, study_name="s1", final=True, seed=1)
    study = _study("s1")
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == 5
    assert len(second.ran) == 2 and second.parent_run_id == first.parent_run_id
    # one parent, one nested trial run per trial, none left RUNNING
    trial_runs = _runs("trial", first.parent_run_id)
    assert len(trial_runs) == 5
    assert {r.info.status for r in trial_runs} == {"FINISHED"}
    complete = [r for r in trial_runs if r.data.tags["ferbench.trial_state"] == "COMPLETE"]
    assert complete and all(0 <= r.data.metrics["val_accuracy"] <= 1 for r in complete)
    assert all(r.data.tags["ferbench.tuned"] == "true" for r in trial_runs)
    # intermediate values are metric steps of the trial run
    from ferbench import record

    history = record.client().get_metric_history(complete[0].info.run_id, "intermediate_val_accuracy")
    assert [m.step for m in history] == sorted(
        study.trials[int(complete[0].data.tags["ferbench.trial_number"])].intermediate_values
    )
    # the final test run is separate from the trial values, tagged with the study
    final = second.final
    assert final and 0 <= final["metrics"]["test_accuracy"] <= 1
    run = record.client().get_run(final["run_id"])
    assert run.data.tags["ferbench.tuned"] == "true" and run.data.tags["ferbench.study"] == "s1"
    assert run.data.tags["ferbench.kind"] == "run" and "val_accuracy" not in run.data.tags
    parent = record.client().get_run(first.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["ferbench.kind"] == "study"
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(
        max(t.value for t in study.trials if t.state.name == "COMPLETE")
    )
    assert parent.data.params["storage"].startswith("sqlite:///")
    space = json.loads(parent.data.params["space"])  # readable JSON, not a Python repr
    assert space and all({"kind", "default"} <= set(spec) for spec in space.values())
    assert study.metric_names == ["val_accuracy"]  # optuna-dashboard's label for the objective
    artifacts = {a.path for a in record.client().list_artifacts(first.parent_run_id, "study")}
    for name in ("best_config.json", "best_config.yaml", "optimization_history.html", "optimization_history.png"):
        assert f"study/{name}" in artifacts
    # plotly.js inline: the artifact viewer's sandboxed iframe can fetch nothing beside the file
    assert "study/plotly.min.js" not in artifacts
    page = Path(record.client().download_artifacts(first.parent_run_id, "study/optimization_history.html"))
    html = page.read_text()
    assert "Plotly.newPlot" in html and 'src="plotly.min.js"' not in html and len(html) > 1_000_000
    for run in trial_runs:  # the name says what the status tick cannot: pruned or not
        pruned = " (pruned)" if run.data.tags["ferbench.trial_state"] == "PRUNED" else ""
        assert run.info.run_name == f"trial {run.data.tags['ferbench.trial_number']}{pruned}"


def test_a_pruned_trial_run_is_named_and_tagged_pruned_and_ends_finished():
    from ferbench import record
    from ferbench.tuning import tune

    # rung-screen: the sampler's random start-up trials stop at the first rung, whatever their value
    result = tune("tiny_sgd_test", tiny_dataset(), trials=2, pruner="rung-screen", study_name="cut", final=False)
    assert result.counts["PRUNED"] == 2
    runs = _runs("trial", result.parent_run_id)
    assert sorted(r.info.run_name for r in runs) == ["trial 0 (pruned)", "trial 1 (pruned)"]
    assert {r.data.tags["ferbench.trial_state"] for r in runs} == {"PRUNED"}
    assert {r.info.status for r in runs} == {"FINISHED"}  # a pruner's verdict, not an interruption
    history = record.client().get_metric_history(runs[0].info.run_id, "intermediate_val_accuracy")
    assert [m.step for m in history] == [1]  # the curve up to the cut stays on the run


def test_a_study_name_with_another_dataset_or_family_is_refused():
    from ferbench.tuning import tune

    tune("tiny_sgd_test", tiny_dataset(), trials=1, study_name="mine", final=False)
    with pytest.raises(FerbenchError, match="fingerprint|dataset"):
        tune("tiny_sgd_test", tiny_dataset(seed=5, name="other"), trials=2, study_name="mine", final=False)


def test_study_with_another_direction_is_refused():
    import optuna

    from ferbench import store
    from ferbench.tuning import tune

    optuna.create_study(study_name="min", storage=store.optuna_storage_url(), direction="minimize")
    with pytest.raises(FerbenchError, match="direction minimize"):
        tune("tiny_sgd_test", tiny_dataset(), trials=1, study_name="min", final=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"trials": 0}, "--trials 0"),
        ({"trials": 2, "space": ["alpha=0.5:0.1"]}, "low 0.5 must be below"),
        ({"trials": 2, "space": ["alpha=1e-9:0.1"]}, "outside"),
        ({"trials": 2, "space": ["nope=1:2"]}, "--space 'nope=1:2'"),
        ({"trials": 2, "space": ["loss=hinge"]}, "not one of"),
        ({"trials": 2, "space": ["alpha=1e-3:0.1"], "fixed": {"alpha": "0.01"}}, "also fixed"),
        ({"trials": 2, "fixed": {"alpha": "lots"}}, "not a number"),
        ({"trials": 2, "sampler": "grid"}, "--sampler"),
        ({"trials": 2, "low_fidelity": (1.0, 0.2)}, "image share in (0, 1)"),
        ({"trials": 2, "low_fidelity": (0.25, 0.0)}, "epoch share in (0, 1]"),
        ({"trials": 2, "storage": "postgresql+psycopg://u:sekrit@127.0.0.1:1/x"}, "cannot connect"),
        ({"trials": 2, "storage": "mysql+mysqldb://u:sekrit@127.0.0.1/x"}, "driver missing"),
    ],
)
def test_bad_input_is_one_line_error(kwargs, message):
    from ferbench.tuning import tune

    with pytest.raises(FerbenchError) as info:
        tune("tiny_sgd_test", tiny_dataset(), final=False, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert "sekrit" not in str(info.value)


def test_space_override_narrows_the_range_and_choice_subsets():
    from ferbench.tuning import parse_space

    spec = {"a": Float(0.1, low=0.0, high=1.0), "n": Int(4, low=1, high=64, log=True), **TinySGD.param_specs}
    space = parse_space(spec, ["a=0.2:0.3", "n=2:8", "loss=log_loss"], fixed={"eta0": 0.1})
    assert (space["a"].low, space["a"].high) == (0.2, 0.3)
    assert (space["n"].low, space["n"].high, space["n"].log) == (2, 8, True)
    assert space["loss"].choices == ("log_loss",)
    assert "eta0" not in space and "sleep_s" not in space


def test_a_penalty_valid_at_zero_is_searched_on_a_log_scale():
    import optuna

    from ferbench.tuning import parse_space

    l2 = Float(1e-4, low=0.0, high=0.1, log=True, search=(1e-6, 0.1))
    assert l2.validate("l2", 0.0) == 0.0  # no penalty stays a valid setting
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    draws = [l2.suggest(study.ask(), "l2") for _ in range(200)]
    assert 1e-6 <= min(draws) and max(draws) <= 0.1
    assert sum(d < 1e-3 for d in draws) > 100  # 3 of 5 decades; a linear 0..0.1 puts 1% there
    narrowed = parse_space({"l2": l2}, ["l2=1e-5:1e-2"], fixed={})["l2"]
    assert (*(narrowed.search or (narrowed.low, narrowed.high)), narrowed.log) == (1e-5, 1e-2, True)


def test_objective_never_sees_the_test_part():
    from ferbench.protocols import parse_protocol
    from ferbench.tuning import make_splits

    data = tiny_dataset(splits=False)
    for text in ("holdout:0.3", "kfold:4"):
        proto = parse_protocol(text)
        splits = make_splits(data, proto, seed=0)
        test = set(splits.final_protocol.folds(data, seed=0)[0].test.tolist())
        assert len(splits.final_protocol.folds(data, seed=0)) == 1
        for train, val in splits.pairs:
            assert not test & set(train.tolist()) and not test & set(val.tolist())
            assert not set(train.tolist()) & set(val.tolist())
    assert len(splits.pairs) == 3 and splits.final_protocol.name == "kfold:4#fold0"


def test_every_trial_fits_its_first_rung_on_the_same_rows(monkeypatch):
    import numpy as np
    import optuna

    from ferbench.protocols import parse_protocol
    from ferbench.tuning import Objective, make_splits, parse_space

    data = tiny_dataset(splits=False)
    fitted = []
    original = TinySGD.fit

    def recording(self, train, val=None, **kwargs):
        fitted.append(np.array(train.index))
        return original(self, train, val, **kwargs)

    monkeypatch.setattr(TinySGD, "fit", recording)
    splits = make_splits(data, parse_protocol("holdout:0.3"), seed=0)
    objective = Objective(
        TinySGD, data, splits, {}, parse_space(TinySGD.params_spec(), [], {}), epochs=3, seed=0, total=10
    )
    optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner()).optimize(objective, n_trials=3)
    full = len(splits.pairs[0][0])
    first_rungs = [rows for rows in fitted if len(rows) < full]
    assert len(first_rungs) == 3 and len(fitted) == 6
    assert all(np.array_equal(first_rungs[0], rows) for rows in first_rungs)


def test_multi_fold_protocol_tests_only_the_tuned_fold():
    from ferbench import record
    from ferbench.tuning import tune

    result = tune(
        "tiny_sgd_test",
        tiny_dataset(splits=False),
        trials=2,
        protocol="kfold:4",
        pruner="none",
        epochs=2,
        study_name="cv",
    )
    run = record.client().get_run(result.final["run_id"])
    assert run.data.tags["ferbench.protocol"] == "kfold:4#fold0"
    assert 0 <= run.data.metrics["test_accuracy"] <= 1


def _wait_for(predicate, timeout=120.0, step=0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request):
    """None (the default SQLite beside the store), then the PostgreSQL server .ci/run starts."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.mark.slow
def test_kill_9_mid_trial_then_resume_reaches_exact_total(isolated_store, storage_url):
    from ferbench import record, store
    from ferbench.tuning import open_storage, tune

    record.setup()  # MLflow tables exist before the worker starts
    open_storage(storage_url or store.optuna_storage_url())  # and Optuna's, so polling never races it
    env = {**os.environ, "FERBENCH_HEARTBEAT_S": "1", "FERBENCH_GRACE_S": "2", "PYTHONWARNINGS": "ignore"}
    name = f"crash-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database outlives one test
    args = {
        "trials": 4,
        "study_name": name,
        "storage": storage_url,
        "final": False,
        "pruner": "none",
        "fixed": {"sleep_s": 0.6},
    }
    worker = subprocess.Popen(
        [sys.executable, str(HELPER), json.dumps(args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # kill while trial 1 is running (trial 0 complete)
        def trial_one_running():
            try:
                trials = _study(name, storage_url).trials
            except KeyError:
                return False
            return len(trials) >= 2 and trials[1].state.name == "RUNNING" and trials[1].intermediate_values

        _wait_for(trial_one_running)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert _study(name, storage_url).trials[1].state.name == "RUNNING"  # nobody failed it yet
    os.environ["FERBENCH_HEARTBEAT_S"], os.environ["FERBENCH_GRACE_S"] = "1", "2"
    try:
        result = tune("tiny_sgd_test", tiny_dataset(), **{**args, "fixed": {"sleep_s": 0.0}})
    finally:
        del os.environ["FERBENCH_HEARTBEAT_S"], os.environ["FERBENCH_GRACE_S"]
    trials = _study(name, storage_url).trials
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 4 and result.finished
    assert trials[1].state.name == "FAIL"
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == trials[1].params
    runs = _runs("trial")
    assert "RUNNING" not in {r.info.status for r in runs}
    killed = [r for r in runs if r.info.status == "KILLED"]
    assert [r.data.tags["ferbench.trial_number"] for r in killed] == ["1"]
