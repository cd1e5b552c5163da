"""MLflow side of a study: one parent run (kind=study), one nested run per trial (kind=trial).

The parent run's id lives in the study's user attributes, so a resumed study (or another worker)
logs under the same parent. Trial runs end FINISHED / FAILED / KILLED through
`record.tracked_run`; a run left RUNNING by a worker killed with -9 is closed as KILLED once its
Optuna trial is no longer RUNNING (heartbeat expired), see `close_orphans`.

A pruned trial's run ends FINISHED, named "trial N (pruned)" and tagged ferbench.trial_state=PRUNED:
the pruner's verdict is a normal end of the trial (its curve up to the cut is valid data), while
KILLED means interrupted and resumable everywhere else in ferbench (record, stale_runs, runs).

Why not optuna-integration's MLflowCallback: it runs after the trial has ended (Optuna calls
callbacks once the trial is stored, and never for an interrupted one), so the trial's training
cannot log into its run; its `track_in_mlflow` decorator opens the run earlier, but through the
fluent active-run stack, without our tags, before a surplus trial is refused, and it ends the run
FAILED on any exception (a prune, Ctrl-C or SIGTERM alike) where `tracked_run` tells them apart.

Plots are HTML files with plotly.js inline (4.8 MB each, measured): the MLflow artifact viewer
shows an HTML artifact from a blob URL in a sandboxed iframe, which reaches neither a plotly.min.js
beside it nor, offline, a CDN (`mlflow.log_figure`'s default for plotly figures).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ferbench import record
from ferbench.record.tags import (
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_RUN_NAME,
    TAG_FINAL_RUN_ID,
    TAG_KIND,
    TAG_OPTUNA_TRIAL_ID,
    TAG_RESUMED_PREFIX,
    TAG_RETRY_OF,
    TAG_STUDY,
    TAG_TRIAL_NUMBER,
    TAG_TRIAL_STATE,
    TAG_TUNED,
)
from ferbench.tuning._storage import PARAMS_ATTR, PARENT_ATTR, RUN_ID_ATTR, state_counts


def _readable(spec) -> dict:
    """A parameter spec as plain JSON: its kind and its fields (default, range, scale, choices)."""
    from dataclasses import asdict

    return {"kind": type(spec).__name__.lower(), **asdict(spec)}


class StudyTracker:
    def __init__(
        self,
        *,
        tracking_uri,
        family_cls,
        dataset,
        protocol_name: str,
        study_name: str,
        storage_shown: str,
        sampler: str,
        pruner: str,
        seed: int,
        space: dict,
        fixed: dict,
        epochs,
        total: int,
    ):
        self.client = record.setup(tracking_uri)
        self.experiment_id = record.experiment_for(dataset.name)
        self.family_cls, self.dataset = family_cls, dataset
        self.protocol_name, self.study_name = protocol_name, study_name
        self.seed, self.fixed, self.epochs = seed, fixed, epochs
        self.base_tags = record.common_tags(family_cls, dataset, protocol_name, seed, fixed)
        self.base_tags.update({TAG_TUNED: "true", TAG_STUDY: study_name})
        self.info = {
            "study": study_name,
            "sampler": sampler,
            "pruner": pruner,
            "storage": storage_shown,
            "trials_requested": total,
            "epochs": epochs,
            "seed": seed,
            "protocol": protocol_name,
            "space": {k: _readable(v) for k, v in space.items()},
            "fixed": fixed,
        }
        self.parent_id: str | None = None

    # --- parent ----------------------------------------------------------------------------
    def attach(self, study) -> str:
        """Reuse the study's parent run (reopened as RUNNING), or create it."""
        from mlflow.exceptions import MlflowException

        run_id = study.user_attrs.get(PARENT_ATTR)
        if run_id:
            try:
                self.client.get_run(run_id)
            except MlflowException:  # another tracking store: start a new parent there
                run_id = None
        logged: dict = {}
        if run_id:
            self.client.update_run(run_id, status="RUNNING")
            logged = self.client.get_run(run_id).data.params
        else:
            tags = {**self.base_tags, TAG_KIND: "study"}
            run = self.client.create_run(self.experiment_id, run_name=f"study {self.study_name}", tags=tags)
            run_id = run.info.run_id
            study.set_user_attr(PARENT_ATTR, run_id)
        # MLflow params are write-once: a resume with other settings records them as tags
        settings = {k: v for k, v in self.info.items() if k != "trials_requested"}
        changed = {
            f"{TAG_RESUMED_PREFIX}{k}": json.dumps(v, default=str)
            for k, v in settings.items()
            if k in logged and logged[k] != _as_param(v)
        }
        record.log(
            run_id,
            params={k: v for k, v in settings.items() if k not in logged},
            tags=changed,
            metrics={"trials_requested": self.info["trials_requested"]},
        )
        self.parent_id = run_id
        return run_id

    def end(self, status: str) -> None:
        if self.parent_id:
            self.client.set_terminated(self.parent_id, status=status)

    # --- trials ----------------------------------------------------------------------------
    def trial_run(self, trial, params: dict):
        trial.set_user_attr(PARAMS_ATTR, params)
        tags = {
            **self.base_tags,
            TAG_KIND: "trial",
            TAG_TRIAL_NUMBER: trial.number,
            TAG_OPTUNA_TRIAL_ID: trial._trial_id,
        }
        retry_of = trial.study._storage.get_trial(trial._trial_id).system_attrs.get("failed_trial")
        if retry_of is not None:
            tags[TAG_RETRY_OF] = retry_of
        return record.tracked_run(self.experiment_id, trial_run_name(trial.number), tags, parent_run_id=self.parent_id)

    def log_trial(self, run_id, trial, value, state: dict, pruned: bool) -> None:
        if run_id is None:
            return
        trial.set_user_attr(RUN_ID_ATTR, run_id)
        metrics = {"compute": state["compute"]}
        if value is not None:
            metrics["val_accuracy"] = value
        outcome = "PRUNED" if pruned else ("COMPLETE" if value is not None else "FAIL")
        steps = state["intermediate"]
        tags = {TAG_TRIAL_STATE: outcome}
        if pruned:
            tags[MLFLOW_RUN_NAME] = trial_run_name(trial.number, pruned=True)
        record.log(
            run_id,
            params={**trial.params, "epochs": self.epochs, "seed": self.seed, "protocol": self.protocol_name},
            metrics=metrics,
            tags=tags,
        )
        if steps:  # intermediate values as metric steps (step = Optuna step)
            import time

            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            self.client.log_batch(
                run_id, metrics=[Metric("intermediate_val_accuracy", v, now, s) for s, v in sorted(steps.items())]
            )

    def close_orphans(self, trials) -> int:
        """Mark KILLED the trial runs still RUNNING whose Optuna trial is no longer running."""
        if not self.parent_id:
            return 0
        running = {t.number for t in trials if t.state.name == "RUNNING"}
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.{MLFLOW_PARENT_RUN_ID} = '{self.parent_id}' and attributes.status = 'RUNNING'",
            max_results=500,
        )
        closed = 0
        for run in found:
            number = run.data.tags.get(TAG_TRIAL_NUMBER)
            if number is not None and int(number) not in running:
                self.client.set_tag(run.info.run_id, TAG_TRIAL_STATE, "FAIL")
                self.client.set_terminated(run.info.run_id, status="KILLED")
                closed += 1
        return closed

    # --- end of study ----------------------------------------------------------------------
    def summarize(self, study, best_config: dict | None, final: dict | None) -> None:
        if self.parent_id is None:
            raise RuntimeError("summarize() before attach(): the study has no parent run")
        counts = state_counts(study.get_trials(deepcopy=False))
        metrics: dict[str, float] = {f"n_{state.lower()}": n for state, n in counts.items()}
        tags = {}
        if best_config:
            metrics["best_val_accuracy"] = best_config["val_accuracy"]
            metrics["best_trial"] = best_config["trial"]
        if final:
            metrics.update({f"tuned_{k}": v for k, v in final["metrics"].items() if k.startswith("test_")})
            tags[TAG_FINAL_RUN_ID] = final["run_id"]
        record.log(self.parent_id, metrics=metrics, tags=tags)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            if best_config:
                write_best_config(best_config, out)
            notes = save_plots(study, out)
            if notes:
                (out / "plots_skipped.txt").write_text("\n".join(notes) + "\n")
            record.log_files(self.parent_id, out, artifact_path="study")


def trial_run_name(number: int, pruned: bool = False) -> str:
    return f"trial {number}" + (" (pruned)" if pruned else "")


def _as_param(value) -> str:
    """How record.log writes a param value (text as is, anything else as JSON), for comparison."""
    return (value if isinstance(value, str) else json.dumps(value, default=str))[:6000]


def write_best_config(config: dict, out: Path) -> None:
    import yaml

    (out / "best_config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    (out / "best_config.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False))


def save_plots(study, out: Path) -> list[str]:
    """Optimisation history, parameter importances, parallel coordinates: self-contained HTML
    (plotly) and PNG (matplotlib; kaleido needs Chrome). Returns why any plot was skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization as vis
    import optuna.visualization.matplotlib as vis_mpl

    notes: list[str] = []
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    for name in ("optimization_history", "param_importances", "parallel_coordinate"):
        if name != "optimization_history" and len(complete) < 2:
            notes.append(f"{name}: needs at least 2 complete trials")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(vis, f"plot_{name}")(study).write_html(str(out / f"{name}.html"), include_plotlyjs=True)
                axes = getattr(vis_mpl, f"plot_{name}")(study)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
                figure.savefig(out / f"{name}.png", dpi=90, bbox_inches="tight")
                plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # e.g. importances of a constant study
            notes.append(f"{name}: {exc}")
    return notes


def best_config(study, family_name: str, dataset, protocol_name: str, epochs, seed: int) -> dict[str, Any] | None:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return None
    best = max(complete, key=lambda t: t.value)
    return {
        "family": family_name,
        "dataset": dataset.name,
        "fingerprint": dataset.fingerprint,
        "protocol": protocol_name,
        "study": study.study_name,
        "trial": best.number,
        "val_accuracy": best.value,
        "params": best.user_attrs.get(PARAMS_ATTR, best.params),
        "epochs": epochs,
        "seed": seed,
    }
