"""FirstRungPruner: successive halving at the objective's cheap first rung only."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import optuna
import pytest

from ferbench.tuning import FirstRungPruner

sys.path.insert(0, str(Path(__file__).parent))
from tuning_helpers import tiny_dataset, tiny_sgd  # noqa: E402, F401


def _study(rung_values, state=optuna.trial.TrialState.PRUNED, direction="maximize", pruner=None):
    study = optuna.create_study(direction=direction, pruner=pruner or FirstRungPruner())
    for value in rung_values:
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                value=None if state == optuna.trial.TrialState.PRUNED else value,
                intermediate_values={1: value},
            )
        )
    return study


def _pruned_at(study, step, value) -> bool:
    trial = study.ask()
    trial.report(value, step)
    return trial.should_prune()


def test_rung_value_below_the_top_half_of_every_report_is_pruned_pruned_trials_included():
    study = _study([0.30, 0.28, 0.26, 0.10, 0.12])
    # six reports with this one: top 3 go on
    assert not _pruned_at(study, 1, 0.27)
    study = _study([0.30, 0.28, 0.26, 0.10, 0.12])
    assert _pruned_at(study, 1, 0.20)
    # the median pruner sees no completed trial here and would let it through
    median = _study([0.30, 0.28, 0.26, 0.10, 0.12], pruner=optuna.pruners.MedianPruner(n_startup_trials=0))
    assert not _pruned_at(median, 1, 0.20)


def test_first_reports_go_on_only_as_the_best_so_far():
    assert not _pruned_at(_study([]), 1, 0.05)
    assert _pruned_at(_study([0.30]), 1, 0.29)
    assert not _pruned_at(_study([0.30]), 1, 0.30)


def test_screened_trials_stop_at_the_rung_whatever_their_value():
    screening = FirstRungPruner(screened=3)
    assert _pruned_at(_study([], pruner=screening), 1, 0.9)
    assert _pruned_at(_study([0.1, 0.2], pruner=screening), 1, 0.9)
    assert not _pruned_at(_study([0.1, 0.2, 0.3], pruner=screening), 1, 0.9)  # the usual rule from here
    assert _pruned_at(_study([0.1, 0.2, 0.3], pruner=screening), 1, 0.15)


def test_steps_after_the_rung_are_never_pruned():
    study = _study([0.30, 0.31, 0.32, 0.33])
    trial = study.ask()
    trial.report(0.33, 1)
    assert not trial.should_prune()
    for step in range(2, 6):
        trial.report(0.0, step)
        assert not trial.should_prune()


def test_minimised_objectives_keep_the_lowest_values():
    study = _study([1.0, 2.0, 3.0, 4.0], direction="minimize")
    assert not _pruned_at(study, 1, 1.5)
    study = _study([1.0, 2.0, 3.0, 4.0], direction="minimize")
    assert _pruned_at(study, 1, 3.5)


def test_nan_at_the_rung_is_pruned_and_ignored_as_a_rival():
    assert _pruned_at(_study([0.2]), 1, math.nan)
    assert not _pruned_at(_study([math.nan, math.nan]), 1, 0.1)


def test_make_pruner_can_cut_at_a_later_epoch_instead_of_the_cheap_rung():
    from ferbench.tuning import make_pruner

    study = optuna.create_study(direction="maximize", pruner=make_pruner("rung-screen", 13, rung_step=3))
    for value in (0.30, 0.28, 0.26, 0.24, 0.22):  # the five screened start-up trials
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, intermediate_values={3: value}))
    trial = study.ask()
    trial.report(0.01, 1)  # the cheap rung is no cut any more
    assert not trial.should_prune()
    trial.report(0.27, 3)
    assert not trial.should_prune()  # top 3 of 6 at step 3
    assert _pruned_at(study, 3, 0.25)


@pytest.mark.usefixtures("tiny_sgd")
def test_tune_with_the_rung_pruner_prunes_only_at_the_first_rung():
    from ferbench import store
    from ferbench.tuning import tune

    tune(
        "tiny_sgd_test",
        tiny_dataset(n_per_class=40),
        trials=8,
        pruner="rung",
        sampler="random",
        epochs=3,
        study_name="rung",
        final=False,
    )
    trials = optuna.load_study(study_name="rung", storage=store.optuna_storage_url()).trials
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert len([t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]) == 8
    assert pruned and all(t.last_step == 1 for t in pruned)
    assert all(t.last_step == 4 for t in trials if t.state.name == "COMPLETE")
