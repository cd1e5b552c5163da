"""Optuna studies for ferbench: search space, leakage-free objective, pruning, resumable loop.

- Space: every parameter a family declares with `tune=True` (ferbench.params), minus `--set`
  fixed ones, with `--space key=low:high` (or `key=a,b` for choices) narrowing a range.
- Objective (`_objective`): validation accuracy, never the test part. Single-split protocols
  (official, holdout) use the fold's val part. Multi-fold protocols (small data sets) tune on the
  training part of outer fold 0 only (train + val), scored by inner k-fold CV; the final test
  figure then comes from that same fold's test part, so nothing the search looked at is tested on.
- Cost: a low-fidelity rung first (a fraction of the training images and of the epochs, step 1),
  then the full fit reporting val accuracy every epoch (steps 2..E+1); median or Hyperband pruning
  stops poor trials at any step, the rung pruner (`_pruners`) at the first rung only.
  `compute` (trial-epochs x images) is kept per trial.
- Resumption (`_study`): trials are added until COMPLETE + PRUNED reaches the requested total;
  racing workers never overshoot (a trial that finds `total` live trials ahead of it ends FAIL,
  tagged surplus, before any work). Storage and crash safety: `_storage`; MLflow runs: `_mlflow`.

`FirstRungPruner` is imported on first use: it needs Optuna, which `import ferbench.tuning` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferbench.tuning._mlflow import StudyTracker, best_config, save_plots, write_best_config
from ferbench.tuning._objective import (
    INNER_FOLDS,
    LOW_FIDELITY,
    LOW_FIDELITY_STEP,
    WORKER_ID,
    Objective,
    Splits,
    SurplusTrialError,
    is_valid_low_fidelity,
    make_splits,
)
from ferbench.tuning._space import TPE_STARTUP_TRIALS, make_pruner, make_sampler, parse_space
from ferbench.tuning._storage import (
    ATTR_PREFIX,
    DONE_STATES,
    FINAL_ATTR,
    IDENTITY,
    OBJECTIVE_NAME,
    PARAMS_ATTR,
    PARENT_ATTR,
    RUN_ID_ATTR,
    SURPLUS_ATTR,
    TARGET_ATTR,
    WORKER_ATTR,
    check_identity,
    counts_text,
    create_or_load,
    mask_url,
    open_storage,
    read_identity,
    state_counts,
    summaries,
    trial_rows,
)
from ferbench.tuning._study import LoopResult, TuneResult, run_until, tune

if TYPE_CHECKING:
    from ferbench.tuning._pruners import FirstRungPruner


def __getattr__(name: str) -> Any:
    if name == "FirstRungPruner":
        from ferbench.tuning._pruners import FirstRungPruner

        return FirstRungPruner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ATTR_PREFIX",
    "DONE_STATES",
    "FINAL_ATTR",
    "FirstRungPruner",
    "IDENTITY",
    "INNER_FOLDS",
    "LOW_FIDELITY",
    "LOW_FIDELITY_STEP",
    "LoopResult",
    "OBJECTIVE_NAME",
    "Objective",
    "PARAMS_ATTR",
    "PARENT_ATTR",
    "RUN_ID_ATTR",
    "SURPLUS_ATTR",
    "Splits",
    "StudyTracker",
    "SurplusTrialError",
    "TARGET_ATTR",
    "TPE_STARTUP_TRIALS",
    "TuneResult",
    "WORKER_ATTR",
    "WORKER_ID",
    "best_config",
    "check_identity",
    "counts_text",
    "create_or_load",
    "is_valid_low_fidelity",
    "make_pruner",
    "make_sampler",
    "make_splits",
    "mask_url",
    "open_storage",
    "parse_space",
    "read_identity",
    "run_until",
    "save_plots",
    "state_counts",
    "summaries",
    "trial_rows",
    "tune",
    "write_best_config",
]
