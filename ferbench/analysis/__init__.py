"""Analyses of logged runs: confusion and per-class recall (`confusion`), occlusion after Nishime
(`occlusion`), cross-data set (`cross_dataset`).

Their shared plumbing: `_run` finds a run, rebuilds the data set and test part it was scored on
(checking the fingerprint) and loads its logged model; `_files` writes files atomically and logs
them as artifacts under `analysis/` of that run.
"""

from __future__ import annotations

from ferbench.analysis._files import ARTIFACT_DIR, Workspace, save_figure, use_agg, write_csv
from ferbench.analysis._run import (
    RunTarget,
    client,
    dataset_for_run,
    fold_for_run,
    get_run,
    load_run_model,
    open_run,
    predict_in_batches,
)

__all__ = [
    "ARTIFACT_DIR",
    "RunTarget",
    "Workspace",
    "client",
    "dataset_for_run",
    "fold_for_run",
    "get_run",
    "load_run_model",
    "open_run",
    "predict_in_batches",
    "save_figure",
    "use_agg",
    "write_csv",
]
