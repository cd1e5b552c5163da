"""experiments/time_to_accuracy.py on a tiny FER-2013 folder: per-epoch lines, the selection
rule, the budget stop and the MLflow run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture
def tta_module(monkeypatch):
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    import time_to_accuracy

    return time_to_accuracy


def test_selection_reads_publictest_only_and_keeps_the_first_of_equals(tta_module):
    records = [
        {"epoch": 1, "public_acc": 0.50, "private_acc": 0.40, "wall_min": 1.0},
        {"epoch": 2, "public_acc": 0.55, "private_acc": 0.45, "wall_min": 2.0},
        {"epoch": 3, "public_acc": 0.55, "private_acc": 0.70, "wall_min": 3.0},  # tie: not chosen
        {"epoch": 4, "public_acc": 0.52, "private_acc": 0.90, "wall_min": 4.0},  # best private, worse public
    ]
    assert tta_module.selected(records) == (2, 0.45)
    for i in range(len(records)):
        records[i]["selected_private_acc"] = tta_module.selected(records[: i + 1])[1]
        records[i]["train_img_per_s"] = 100.0
    figures = tta_module.summary(records, budget_min=3.5)
    assert figures["minutes_to_0.60"] is None  # 0.70 and 0.90 were never the selected epoch's
    assert figures["epochs_within_budget"] == 3
    assert figures["best_selected_private_acc"] == 0.45
    records[1]["selected_private_acc"] = 0.61
    assert tta_module.summary(records, budget_min=3.5)["minutes_to_0.60"] == 2.0


def test_script_writes_epoch_lines_stops_at_the_budget_and_logs_a_run(fer_folder, tmp_path, isolated_store):
    out = tmp_path / "tta.jsonl"
    command = [sys.executable, str(EXPERIMENTS / "time_to_accuracy.py"), "fast_vgg", "--path", str(fer_folder)]
    params = ["--param", "width=4", "--param", "stages=2", "--param", "convs=1", "--param", "batch_size=8"]
    env = {**os.environ, "FERBENCH_HOME": str(isolated_store)}
    done = subprocess.run(
        [*command, *params, "--epochs", "3", "--budget-min", "0.0001", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    epochs, summary = lines[:-1], lines[-1]["summary"]
    assert [e["epoch"] for e in epochs] == [1]  # 3 epochs asked, the budget ended the fit after one
    assert 0.0 <= epochs[0]["private_acc"] <= 1.0 and epochs[0]["selected_epoch"] == 1
    assert summary["epochs_within_budget"] == 0 and summary["minutes_to_0.60"] is None
    assert summary["forward_mflops"] > 0 and summary["train_gflops_per_s"] > 0

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{isolated_store / 'mlflow.db'}")
    run = mlflow.get_run(summary["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["ferbench.time_budget_min"] == "0.0001"
    assert run.data.metrics["epochs_within_budget"] == 0.0
    assert run.data.params["epochs"] == "3"

    bad = subprocess.run([*command, "--budget-min", "0"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "--budget-min" in bad.stderr.splitlines()[-1]
    malformed = subprocess.run([*command, "--param", "width"], capture_output=True, text=True, env=env, timeout=120)
    assert malformed.returncode == 2 and "--param 'width': expected key=value" in malformed.stderr.splitlines()[-1]
